"""The local runtime as one object: start the emulator, deploy the app, run what moto does not, stop."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from local_runtime.api_gateway.proxy import USER_REQUEST_ROUTE, RestApiServer
from local_runtime.api_gateway.stages import create_stages, local_api_url
from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.emulator.deployer import DeployedStack, deploy, synthesize
from local_runtime.emulator.ignored_properties import apply_ignored_properties
from local_runtime.emulator.server import Emulator
from local_runtime.emulator.wsgi import STATUS_PATH, FrontRoutes, json_response
from local_runtime.faults.injection import FaultPlan, FaultRates
from local_runtime.functions.lambda_runtime import FunctionSpec, Invocation, LambdaRuntime, Package
from local_runtime.scheduled_rules import Scheduler, scheduled_rules
from local_runtime.streams.event_source_mappings import EventSourceMappings, PollIntervals
from local_runtime.streams.kinesis_destination import DeliveryFaults, KinesisForwarder, StreamingDestination

log = logging.getLogger(__name__)

SEARCH_TABLE_OUTPUT = "SearchTableName"  # the table --fault-throttle throttles


@dataclass(frozen=True)
class RuntimeOptions:
    project_dir: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 4566
    region: str = "us-east-1"
    poll: PollIntervals = field(default_factory=PollIntervals)
    faults: DeliveryFaults = field(default_factory=DeliveryFaults)
    seed: int | None = None  # for the duplicate and reorder choices, and the injected faults
    injected: FaultRates = field(default_factory=FaultRates)  # throttles, crashes, timeouts (faults/injection.py)
    context: dict[str, str] = field(default_factory=dict)  # CDK context over cdk.json's (`--context key=value`)
    schedule_minute_s: float = 60.0  # how long a scheduled rule's minute lasts (`--schedule-minute-seconds`)


class LocalRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.stacks: list[DeployedStack] = []
        self._lambda_runtime: LambdaRuntime | None = None
        self._api_server: RestApiServer | None = None
        self._mappings: EventSourceMappings | None = None
        self._forwarders: list[KinesisForwarder] = []
        self._scheduler: Scheduler | None = None
        self._faults = FaultPlan(options.injected, options.seed)
        front = FrontRoutes([(STATUS_PATH, self._serve_status), (USER_REQUEST_ROUTE, self._serve_api)])
        self._emulator = Emulator(
            options.host, options.port, self._run_function, lambda emulator: front.wrap(self._faults.wrap(emulator))
        )

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self._emulator.endpoint_url, self.options.region)

    def start(self) -> None:
        self._emulator.start()
        endpoint = self.endpoint
        self._lambda_runtime = LambdaRuntime(
            self.options.state_dir,
            self.options.project_dir,
            endpoint.url,
            self.options.region,
            watch=self._faults.watch,
        )
        self._api_server = RestApiServer(endpoint)
        for artifact in synthesize(self.options.project_dir, self.options.state_dir / "cdk.out", self.options.context):
            stack = deploy(artifact, endpoint)
            apply_ignored_properties(stack, endpoint)
            self.stacks.append(self._with_local_api_urls(stack, endpoint))
        self._faults.watch_tables(
            stack.outputs[SEARCH_TABLE_OUTPUT] for stack in self.stacks if SEARCH_TABLE_OUTPUT in stack.outputs
        )
        rng = random.Random(self.options.seed)
        forwarder_poll_s = self.options.poll.dynamodb_s
        for stack in self.stacks:
            for destination in streaming_destinations(stack, endpoint):
                self._emulator.add_kinesis_streaming_destination(destination)
                forwarder = KinesisForwarder(destination, endpoint, self.options.faults, forwarder_poll_s, rng)
                self._forwarders.append(forwarder)
                forwarder.start()
        self._mappings = EventSourceMappings(endpoint, self.options.poll)
        self._mappings.start()
        rules = [rule for stack in self.stacks for rule in scheduled_rules(stack)]
        self._scheduler = Scheduler(rules, endpoint, self.options.schedule_minute_s)
        self._scheduler.start()
        log.info("local runtime ready on %s", endpoint.url)

    def stop_scheduled_rules(self) -> None:
        """No scheduled rule fires from now on (the soak, once the drift audit's part is done)."""
        if self._scheduler is not None:
            self._scheduler.stop()

    def stop(self) -> None:
        self.stop_scheduled_rules()
        if self._mappings is not None:
            self._mappings.stop()
        for forwarder in self._forwarders:
            forwarder.stop()
        if self._lambda_runtime is not None:
            self._lambda_runtime.close()
        self._emulator.stop()

    def status(self) -> dict[str, Any]:
        return {
            "endpoint": self._emulator.endpoint_url,
            "ready": self._mappings is not None,
            "stacks": [{"StackName": stack.name, "Outputs": stack.outputs} for stack in self.stacks],
            "eventSourceMappings": self._mappings.status() if self._mappings else [],
            "kinesisDestinations": [forwarder.status() for forwarder in self._forwarders],
            "scheduledRules": self._scheduler.status() if self._scheduler else [],
            "faults": self._faults.status(),
        }

    def _with_local_api_urls(self, stack: DeployedStack, endpoint: Endpoint) -> DeployedStack:
        stages = create_stages(stack, endpoint)
        outputs = dict(stack.outputs)
        for key, value in stack.outputs.items():
            local_url = local_api_url(value, stages, endpoint.url)
            if local_url is not None:
                self._emulator.override_stack_output(endpoint.region, stack.name, key, local_url)
                outputs[key] = local_url
        return DeployedStack(stack.name, stack.template, stack.physical_ids, outputs)

    def _run_function(self, function: FunctionSpec, package: Package, payload: bytes) -> Invocation:
        assert self._lambda_runtime is not None, "invoked before the runtime started"
        return self._lambda_runtime.invoke(function, package, payload)

    def _serve_status(self, request: Request, route: re.Match[str]) -> Response:
        return json_response(self.status())

    def _serve_api(self, request: Request, route: re.Match[str]) -> Response:
        if self._api_server is None:
            return json_response({"message": "the local runtime is still starting"}, status=503)
        return self._api_server(request, route)


def streaming_destinations(stack: DeployedStack, endpoint: Endpoint) -> list[StreamingDestination]:
    """The tables of the stack that have a Kinesis streaming destination (``KinesisStreamSpecification``)."""
    dynamodb, kinesis = endpoint.client("dynamodb"), endpoint.client("kinesis")
    destinations = []
    for logical_id, resource in stack.template["Resources"].items():
        specification = (
            resource["Properties"].get("KinesisStreamSpecification")
            if resource["Type"] == "AWS::DynamoDB::Table"
            else None
        )
        if not specification or logical_id not in stack.physical_ids:
            continue
        stream_arn = specification["StreamArn"]
        if isinstance(stream_arn, dict):  # {"Fn::GetAtt": [stream logical id, "Arn"]}
            stream_name = stack.physical_ids[stream_arn["Fn::GetAtt"][0]]
            stream_arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"][
                "StreamARN"
            ]
        table = dynamodb.describe_table(TableName=stack.physical_ids[logical_id])["Table"]
        destinations.append(
            StreamingDestination(
                table_name=table["TableName"],
                table_stream_arn=table["LatestStreamArn"],
                kinesis_stream_arn=stream_arn,
                precision=specification.get("ApproximateCreationDateTimePrecision", "MILLISECOND"),
            )
        )
    return destinations
