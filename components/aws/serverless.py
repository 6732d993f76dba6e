"""AWS serverless: the app image on Lambda, scaling to zero, behind an API Gateway HTTP API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mbops.components.aws.app import app_statements, ecr_image
from mbops.components.aws.iam import allow, service_role
from mbops.components.aws.logs import logs_output, stack_log_groups
from mbops.components.aws.secrets import secret_prefix, stored_secret
from mbops.components.base import MbopsComponent
from mbops.components.spec import AppSpec, ServerlessSpec
from mbops.components.wiring import AppWiring, BuildContext, Built
from mbops.errors import ConfigError

API_TIMEOUT_S = 30  # the most an HTTP API waits for an integration
ORIGIN_HEADER = "x-origin-verify"  # CloudFront sends it; the API admits only requests that carry its value
# The API's Lambda authorizer: compares the header with what CloudFront sends (constant time).
AUTHORIZER_CODE = f"""import hmac
import os

import boto3

EXPECTED = boto3.client("secretsmanager").get_secret_value(
    SecretId=os.environ["ORIGIN_VERIFY_SECRET_ARN"]
)["SecretString"].encode()


def handler(event, _context):
    got = (event.get("headers") or {{}}).get("{ORIGIN_HEADER}", "").encode()
    return {{"isAuthorized": hmac.compare_digest(got, EXPECTED)}}
"""
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
    image: pulumi.Input[str]  # what the app runs: the registry's pushed digest (ECR), or app.image
    behind_cdn: bool = False  # the edge fronts the API with CloudFront + WAF: only CloudFront may call it
    secret_prefix: str = "mbops/stack/"  # where the origin secret is stored (the stack's secrets prefix)
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
            raise ConfigError(f"app.env: {key} is set by mbops on Lambda (the ARN of secret {name}); rename it")
        env[key] = arn
    return env


class Serverless(MbopsComponent):
    """A Lambda function from the app's container image, with an API Gateway HTTP API as its HTTPS endpoint.

    The image must be in Amazon ECR (Lambda pulls from nowhere else: the stack's registry builds and pushes
    it, by digest) and contain the AWS Lambda Web Adapter extension (``/opt/extensions/lambda-adapter``; the
    registry passes ``LAMBDA_ADAPTER_IMAGE`` to the build), which turns Lambda invocations into HTTP requests
    to the app on ``$PORT`` and waits for ``AWS_LWA_READINESS_CHECK_PATH`` (the app's health path). A
    prebuilt ``app.image`` outside ECR: plans warn, a deployment refuses it. Lambda has no secret injection,
    so the app gets ``<NAME>_SECRET_ARN`` for each secret and reads it at cold start with the function role,
    which may read only those secrets and use only the app's bucket, table and push resources. The function
    waits for the secrets' values and its role's policy.

    Endpoint: an HTTP API (not a function URL) — it throttles, writes JSON access logs, while the function
    stays private (only this API may invoke it). ``behind_cdn`` (the stack has an edge): an HTTP API cannot
    take a WAF, so CloudFront with the WAF fronts it, sending a random ``x-origin-verify`` header
    (``origin_secret``) that a Lambda authorizer checks (results cached 5 minutes per value): requests that
    go around CloudFront to the API's own URL get 401/403. No provisioned concurrency: it scales to zero.
    Reserved concurrency is opt-in (``overrides.function.reserved_concurrent_executions``): reserving needs
    an account concurrency quota of at least the reservation + 100 (new accounts have 10), so
    ``max_replicas`` does not cap Lambda.

    Children: ``role``, ``role_policy``, ``log_group``, ``function``, ``api``, ``integration``, ``route``,
    ``access_log_group``, ``stage``, ``permission`` and, ``behind_cdn``, ``origin_secret`` (kept in the
    Secrets Manager secret ``origin_verify_secret``, which the authorizer reads at cold start),
    ``authorizer_role``, ``authorizer_log_group``, ``authorizer_function``, ``authorizer``,
    ``authorizer_permission``.
    """

    kind = "serverless"

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec, app, wiring, tags = args.spec, args.app, args.wiring, self.tags
        self._secret_prefix = args.secret_prefix
        if not 128 <= app.memory_mb <= 10240:
            raise ConfigError(f"app.memory_mb: Lambda takes 128..10240 MiB; got {app.memory_mb}")
        if isinstance(args.image, str) and ecr_image(args.image) is None:
            problem = (
                f"app.image: Lambda runs images from Amazon ECR only; push {args.image} to an ECR repository "
                f"and set app.image to <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>, or "
                f"give app.build and keep the registry component"
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

        ready: list[pulumi.Resource] = [*wiring.depends_on]
        self.role = service_role(
            self,
            f"{name}-role",
            "role",
            service="lambda.amazonaws.com",
            description=f"{name}: the app function",
            managed=["service-role/AWSLambdaBasicExecutionRole"],
            statements=app_statements(wiring),
            ready=ready,
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
                image_uri=args.image,
                role=self.role.arn,
                architectures=["x86_64"],
                memory_size=app.memory_mb,
                timeout=spec.timeout_s,
                description=f"{name}: the app image",
                environment={"variables": lambda_environment(app, wiring)},
                logging_config={
                    "log_format": "JSON",
                    "log_group": self.log_group.name,
                    "application_log_level": "INFO",
                    "system_log_level": "WARN",
                },
                tags=tags,
            ),
            opts=self.opts(depends_on=ready),
        )
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            **self.args("api", protocol_type="HTTP", description=f"{name}: HTTPS endpoint of the app", tags=tags),
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
        self.origin_secret: pulumi.Output[str] | None = None
        authorization: dict[str, object] = {}
        if args.behind_cdn:
            authorizer = self._origin_authorizer(name, spec)
            authorization = {"authorization_type": "CUSTOM", "authorizer_id": authorizer.id}
        else:
            for child in (
                "origin_secret",
                "origin_verify_secret",
                "origin_verify_secret_version",
                "authorizer_role",
                "authorizer_role_policy",
                "authorizer_log_group",
                "authorizer_function",
                "authorizer",
                "authorizer_permission",
            ):
                self.args(child)
        aws.apigatewayv2.Route(
            f"{name}-route",
            **self.args(
                "route",
                api_id=self.api.id,
                route_key="$default",
                target=pulumi.Output.concat("integrations/", integration.id),
                **authorization,
            ),
            opts=self.opts(),
        )
        self.access_log_group = aws.cloudwatch.LogGroup(
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
                access_log_settings={"destination_arn": self.access_log_group.arn, "format": ACCESS_LOG_FORMAT},
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

    def _origin_authorizer(self, name: str, spec: ServerlessSpec) -> aws.apigatewayv2.Authorizer:
        """A Lambda authorizer admitting only requests with the origin secret CloudFront sends."""
        secret = random.RandomPassword(
            f"{name}-origin-secret", **self.args("origin_secret", length=48, special=False), opts=self.opts()
        )
        self.origin_secret = pulumi.Output.secret(secret.result)
        stored, version = stored_secret(
            self, f"{name}-origin-verify", "origin_verify_secret", secret_name="ORIGIN_VERIFY",
            prefix=self._secret_prefix, value=self.origin_secret, recovery_days=7,
            description="the header value CloudFront sends to the API (its authorizer compares)",
        )  # fmt: skip
        ready: list[pulumi.Resource] = [version]
        role = service_role(
            self, f"{name}-authorizer-role", "authorizer_role", service="lambda.amazonaws.com",
            description=f"{name}: checks the CloudFront origin header", ready=ready,
            managed=["service-role/AWSLambdaBasicExecutionRole"],
            statements=[allow("ReadOriginSecret", ["secretsmanager:GetSecretValue"], stored.arn)],
        )  # fmt: skip
        logs = aws.cloudwatch.LogGroup(
            f"{name}-authorizer-logs",
            **self.args("authorizer_log_group", retention_in_days=spec.log_retention_days, tags=self.tags),
            opts=self.opts(),
        )
        function = aws.lambda_.Function(
            f"{name}-authorizer",
            **self.args(
                "authorizer_function",
                runtime="python3.12",
                handler="index.handler",
                code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(AUTHORIZER_CODE)}),
                role=role.arn,
                architectures=["arm64"],
                memory_size=128,
                timeout=3,
                description=f"{name}: admits requests that came through CloudFront",
                environment=aws.lambda_.FunctionEnvironmentArgs(variables={"ORIGIN_VERIFY_SECRET_ARN": stored.arn}),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
                tags=self.tags,
            ),
            opts=self.opts(depends_on=ready),
        )
        authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-origin-authorizer",
            **self.args(
                "authorizer",
                api_id=self.api.id,
                name="cloudfront-origin",
                authorizer_type="REQUEST",
                authorizer_uri=function.invoke_arn,
                authorizer_payload_format_version="2.0",
                enable_simple_responses=True,
                identity_sources=[f"$request.header.{ORIGIN_HEADER}"],
                authorizer_result_ttl_in_seconds=300,
            ),
            opts=self.opts(),
        )
        aws.lambda_.Permission(
            f"{name}-authorizer-invoke",
            **self.args(
                "authorizer_permission",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/authorizers/", authorizer.id),
            ),
            opts=self.opts(),
        )
        return authorizer


def build(ctx: BuildContext) -> Built:
    """The app as a Lambda function behind an HTTP API; its endpoint is the stack's ``endpoint`` output."""
    assert ctx.wiring is not None
    serverless = Serverless(
        ctx.name,
        ServerlessArgs(spec=ctx.spec, app=ctx.stack.app, wiring=ctx.wiring, image=ctx.stack.image(ctx.wiring),
                       behind_cdn=ctx.stack.has("edge"), secret_prefix=secret_prefix(ctx.stack.physical_name),
                       tags=ctx.stack.tags),
    )  # fmt: skip
    logs = logs_output(ctx.stack.region, stack_log_groups(
        ctx.built, {"app": serverless.log_group.name, "api": serverless.access_log_group.name}))
    return Built(component=serverless, outputs={"endpoint": serverless.endpoint, "logs": logs})
