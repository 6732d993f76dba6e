"""AWS serverless: the app image on Lambda, scaling to zero, behind an API Gateway HTTP API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.app import app_statements, ecr_image
from mbops.components.aws.iam import service_role
from mbops.components.base import MbopsComponent
from mbops.components.spec import AppSpec, ServerlessSpec
from mbops.components.wiring import AppWiring, BuildContext, Built
from mbops.errors import ConfigError

API_TIMEOUT_S = 30  # the most an HTTP API waits for an integration
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "time": "$context.requestTime",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "bytes": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@dataclass(kw_only=True)
class ServerlessArgs:
    spec: ServerlessSpec = field(default_factory=ServerlessSpec)
    app: AppSpec = field(default_factory=AppSpec)
    wiring: AppWiring = field(default_factory=AppWiring)
    tags: Mapping[str, str] = field(default_factory=dict)


def lambda_environment(app: AppSpec, wiring: AppWiring) -> dict[str, pulumi.Input[str]]:
    """The function's environment: plain settings, Lambda Web Adapter settings, and ``<NAME>_SECRET_ARN``."""
    env: dict[str, pulumi.Input[str]] = {
        "PORT": str(app.port),
        "AWS_LWA_PORT": str(app.port),
        "AWS_LWA_READINESS_CHECK_PATH": app.health_path,
        **wiring.env,
    }
    for name, arn in wiring.secrets.items():
        key = f"{name}_SECRET_ARN"
        if key in env:
            raise ConfigError(
                f"app.env: {key} is set by mbops on Lambda (the ARN of secret {name}); rename it"
            )
        env[key] = arn
    return env


class Serverless(MbopsComponent):
    """A Lambda function from the app's container image, with an API Gateway HTTP API as its HTTPS endpoint.

    The image must be in Amazon ECR (Lambda pulls from nowhere else) and contain the AWS Lambda Web Adapter
    extension (``/opt/extensions/lambda-adapter``), which turns Lambda invocations into HTTP requests to the
    app on ``$PORT`` and waits for ``AWS_LWA_READINESS_CHECK_PATH`` (the app's health path). Plans keep any
    image URI and warn; a deployment refuses a non-ECR one. Lambda has no secret injection, so the app gets
    ``<NAME>_SECRET_ARN`` for each secret and reads it at cold start with the function role, which may read
    only those secrets and use only the app's bucket, table and push resources.

    Endpoint: an HTTP API (not a function URL) — it throttles, writes JSON access logs and takes a custom
    domain later, while the function stays private (only this API may invoke it). No provisioned
    concurrency: it scales to zero; reserved concurrency caps it at ``max_replicas`` (set
    ``overrides.function.reserved_concurrent_executions: -1`` on accounts too small to reserve any).

    Children: ``role``, ``role_policy``, ``log_group``, ``function``, ``api``, ``integration``, ``route``,
    ``access_log_group``, ``stage``, ``permission``.
    """

    kind = "serverless"

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec, app, wiring, tags = args.spec, args.app, args.wiring, self.tags
        if not 128 <= app.memory_mb <= 10240:
            raise ConfigError(f"app.memory_mb: Lambda takes 128..10240 MiB; got {app.memory_mb}")
        if ecr_image(app.image) is None:
            problem = (
                f"app.image: Lambda runs images from Amazon ECR only; push {app.image} to an ECR repository "
                f"and set app.image to <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>"
            )
            if not pulumi.runtime.is_dry_run():
                raise ConfigError(problem)
            pulumi.log.warn(f"{problem} (the plan keeps the given URI)", resource=self)
        if spec.timeout_s > API_TIMEOUT_S:
            pulumi.log.warn(
                f"serverless.timeout_s {spec.timeout_s}s: HTTP requests still end after "
                f"{API_TIMEOUT_S}s, the API Gateway integration limit",
                resource=self,
            )

        self.role = service_role(
            self,
            f"{name}-role",
            "role",
            service="lambda.amazonaws.com",
            description=f"{name}: the app function",
            managed=["service-role/AWSLambdaBasicExecutionRole"],
            statements=app_statements(wiring),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            **self.args("log_group", retention_in_days=spec.log_retention_days, tags=tags),
            opts=self.opts(),
        )
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            **self.args(
                "function",
                package_type="Image",
                image_uri=app.image,
                role=self.role.arn,
                architectures=["x86_64"],
                memory_size=app.memory_mb,
                timeout=spec.timeout_s,
                description=f"{name}: {app.image}",
                reserved_concurrent_executions=app.max_replicas,
                environment={"variables": lambda_environment(app, wiring)},
                logging_config={
                    "log_format": "JSON",
                    "log_group": self.log_group.name,
                    "application_log_level": "INFO",
                    "system_log_level": "WARN",
                },
                tags=tags,
            ),
            opts=self.opts(),
        )
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            **self.args(
                "api", protocol_type="HTTP", description=f"{name}: HTTPS endpoint of the app", tags=tags
            ),
            opts=self.opts(),
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            **self.args(
                "integration",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_uri=self.function.arn,
                integration_method="POST",
                payload_format_version="2.0",
                timeout_milliseconds=min(spec.timeout_s, API_TIMEOUT_S) * 1000,
            ),
            opts=self.opts(),
        )
        aws.apigatewayv2.Route(
            f"{name}-route",
            **self.args(
                "route",
                api_id=self.api.id,
                route_key="$default",
                target=pulumi.Output.concat("integrations/", integration.id),
            ),
            opts=self.opts(),
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            **self.args("access_log_group", retention_in_days=spec.log_retention_days, tags=tags),
            opts=self.opts(),
        )
        aws.apigatewayv2.Stage(
            f"{name}-stage",
            **self.args(
                "stage",
                api_id=self.api.id,
                name="$default",
                auto_deploy=True,
                access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
                default_route_settings={
                    "throttling_burst_limit": 500,
                    "throttling_rate_limit": 1000,
                    "detailed_metrics_enabled": True,
                },
                tags=tags,
            ),
            opts=self.opts(),
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            **self.args(
                "permission",
                action="lambda:InvokeFunction",
                function=self.function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/*"),
            ),
            opts=self.opts(),
        )
        self.endpoint = self.api.api_endpoint
        self.finish({"endpoint": self.endpoint, "function": self.function.name})


def build(ctx: BuildContext) -> Built:
    """The app as a Lambda function behind an HTTP API; its endpoint is the stack's ``endpoint`` output."""
    serverless = Serverless(
        ctx.name, ServerlessArgs(spec=ctx.spec, app=ctx.stack.app, wiring=ctx.wiring, tags=ctx.stack.tags)
    )
    return Built(component=serverless, outputs={"endpoint": serverless.endpoint})
