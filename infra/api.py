"""The search API: API Gateway REST in front of SearchTrips, which only reads TripSearchTable."""

from __future__ import annotations

from aws_cdk import Aws, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.lambda_function import LOG_RETENTION, FunctionFactory
from infra.nag import acknowledge
from infra.search_tables import SearchTableAccess
from infra.settings import LAMBDA_MB_PER_VCPU, StackSettings
from services.trip.config import ALLOWED_ORIGINS_VARIABLE

STAGE_NAME = "prod"
# A page is 64 concurrent Query calls (one a write shard) signed, parsed and merged under Python's GIL: about 67 ms of
# CPU at one vCPU (`make bench`, "A search page"), so the function gets one vCPU, 1,769 MB (AWS Lambda Developer
# Guide, "Memory and computing power"). At 256 MB (0.14 vCPU) a page took about 0.46 s of CPU, for the same GB-s.
SEARCH_MEMORY_MB = LAMBDA_MB_PER_VCPU


class SearchApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: FunctionFactory,
        search_tables: SearchTableAccess,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.function(
            self,
            "SearchTrips",
            handler="services.trip.handlers.search_trips.lambda_handler",
            description="Searches TripSearchTable: GET /trips/search and GET /trips/{trip_id}",
            service="trip-search",
            environment={
                **search_tables.environment,
                **(
                    {ALLOWED_ORIGINS_VARIABLE: ",".join(settings.api_allowed_origins)}
                    if settings.api_allowed_origins
                    else {}
                ),
            },
            memory_mb=SEARCH_MEMORY_MB,
        )
        search_tables.grant_read(self.function)

        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.api = apigw.RestApi(
            self,
            "TripSearchApi",
            description="Trip search over the TripSearchTable projection",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Stage logging needs the account-wide API Gateway -> CloudWatch Logs role; this sets it, and keeps it
            # on delete (the CDK default) because other APIs of the account may log through it.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                # Steady requests/s and burst for the whole stage, from the capacity model (docs/capacity.md,
                # context apiThrottlingRateLimit / apiThrottlingBurstLimit).
                throttling_rate_limit=settings.api_rate_limit,
                throttling_burst_limit=settings.api_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        # The stack's own output ApiUrl names the stage (without the trailing slash the hands-on's 7.3 would double);
        # the RestApi's automatic "Endpoint" output would be a second spelling of it.
        self.api.node.try_remove_child("Endpoint")
        self._acknowledge_public_read_api()
        # The test-invoke permissions would only serve the console's "Test" button.
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)
        trips = self.api.root.add_resource("trips")
        # API Gateway enforces the declared parameters; the handler validates the query parameters' values and
        # answers 400 naming the bad one. Body validation has nothing to check on these GETs (no models).
        validator = self.api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        search = trips.add_resource("search")
        search.add_method("GET", integration, request_validator=validator)
        trip = trips.add_resource("{trip_id}")
        trip.add_method(
            "GET",
            integration,
            request_parameters={"method.request.path.trip_id": True},
            request_validator=validator,
        )
        if settings.api_allowed_origins:
            # A browser's preflight goes to SearchTrips too, which answers it for the allowed origins (Powertools'
            # CORSConfig), as the local runtime serves it: one answer, from one place, on AWS and on `make up`.
            for resource in (search, trip):
                resource.add_method("OPTIONS", integration)

    def _acknowledge_public_read_api(self) -> None:
        public = (
            "A public, read-only search over the projection's public fields, as the hands-on's 7.3 calls it with "
            "curl and no credentials; bounded by stage throttling. Add an authorizer before exposing real data"
        )
        acknowledge(self.api, "AwsSolutions-APIG4", public)
        acknowledge(self.api, "AwsSolutions-COG4", public)
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "A WAFv2 web ACL is an account-level choice (rules, cost) the operator attaches; stage throttling "
            "bounds request rates meanwhile",
        )
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-wide logging role; AWS maintains this managed policy for exactly that role",
        )

    @property
    def url(self) -> str:
        """The stage URL without a trailing slash, so `$ApiUrl/trips/search` (the hands-on's 7.3) is well formed."""
        return Fn.join(
            "",
            [
                "https://",
                self.api.rest_api_id,
                ".execute-api.",
                Aws.REGION,
                ".",
                Aws.URL_SUFFIX,
                # The literal, not a Ref to the stage: the output stays right where the stage resource is
                # skipped (moto's CloudFormation for the local runtime).
                f"/{STAGE_NAME}",
            ],
        )
