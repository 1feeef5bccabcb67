"""How every Lambda function of the product is packaged and run: one place for runtime, code, layer and logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import function_layer
from infra.function_layer import PROJECT_DIR
from infra.nag import acknowledge

SRC_DIR = PROJECT_DIR / "src"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache"]

# The functions deploy on python3.13; the dev venv, the CDK app and the in-process tests run on the machine's
# python3 (3.11 on ours). What makes that harmless: the local runtime runs every function on the runtime's own
# interpreter (local_runtime/functions/interpreters.py finds python3.13) with only its code package and this layer,
# so every runtime test, `make demo` and `make soak` exercise the functions as deployed; and
# tests/infra/test_function_dependencies.py imports every handler of the template that way.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
METRICS_NAMESPACE = "TripSaga"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Memory (MB) of the functions that wait on one or two AWS calls a request (saga steps, search, execution end): at
# 256 MB, about 0.14 of a vCPU (1,769 MB = one vCPU). The consumers size theirs from the capacity model
# (infra.settings.CONSUMER_MEMORY_MB).
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT = Duration.seconds(30)


class FunctionFactory:
    """Builds the product's functions: one code asset (src/) and one dependencies layer shared by all of them.

    The layer is the pin's (requirements/functions.txt), built for RUNTIME and ARCHITECTURE only (`make layer`);
    raises function_layer.LayerNotBuilt when `.build/layer/` is missing or holds other versions."""

    def __init__(self, scope: Construct) -> None:
        self._code = lambda_.Code.from_asset(str(SRC_DIR), exclude=ASSET_EXCLUDES)
        self._layer = lambda_.LayerVersion(
            scope,
            "FunctionsLayer",
            # its bytecode too: compiled for the runtime by `make layer`, as Lambda reads it from the read-only /opt
            code=lambda_.Code.from_asset(str(function_layer.checked_layer_dir())),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="The functions' dependencies, pinned in requirements/functions.txt",
        )

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        service: str,
        environment: dict[str, str],
        memory_mb: int = DEFAULT_MEMORY_MB,
        reserved_concurrency: int | None = None,
        timeout: Duration = DEFAULT_TIMEOUT,
    ) -> lambda_.Function:
        """A function running `handler` from src/ with the layer, X-Ray and its own log group with a retention;
        `memory_mb` sets its CPU share too, `reserved_concurrency` what no other function can take from it (and its
        ceiling; None: it shares the account's unreserved pool), `timeout` how long an invocation may run."""
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An own role instead of the managed AWSLambdaBasicExecutionRole: it may write to this log group only.
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id}",
        )
        log_group.grant_write(role)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level scope: X-Ray tracing (xray:PutTraceSegments, "
            "xray:PutTelemetryRecords) and, for the DynamoDB Streams consumer, dynamodb:ListStreams",
        )
        function = lambda_.Function(
            scope,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=self._code,
            layers=[self._layer],
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name}, the runtime the functions' layer is built for (`make layer`); "
            "runtime and layer move together",
        )
        return function
