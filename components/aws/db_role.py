"""The app's own PostgreSQL role on RDS, created once per change by a Lambda function in the VPC.

The RDS master user (``dbadmin``) is an admin the app never uses: its URL is read only by this function, whose
role may read exactly the two URL secrets (admin and app) and write its own log group. The function
(``db_role_handler.py`` with the pure-Python driver pg8000 packaged beside it, python3.12 on arm64) runs in the
private subnets with a security group of its own that the database admits; ``pulumi up`` invokes it
(``aws.lambda_.Invocation``) after the instance and both URL values exist, and again whenever the app's
password, the instance or the code changes. The invocation fails the update when the function fails, and the
app waits for it: no task or instance starts before its role exists. Nothing on the app's hosts can read the
admin URL.

Packaging: the handler and the driver's installed files (pg8000, scramp, asn1crypto, python-dateutil, six, with
their ``.dist-info``) are read from the Python environment mbops runs in, file by file (no bytecode), so the
archive and its hash
(``source_code_hash``: a changed driver or handler updates the function and re-runs it) are the same on every
machine with the same versions installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from mbops.components.aws.iam import allow, service_role
from mbops.components.aws.network import ENI_RELEASE_WAIT
from mbops.errors import ConfigError

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

HANDLER = Path(__file__).with_name("db_role_handler.py")
# The driver and what it imports (boto3 is in the Lambda runtime); import name -> PyPI distribution.
DRIVER_PACKAGES = {"pg8000": "pg8000", "scramp": "scramp", "asn1crypto": "asn1crypto", "dateutil": "python-dateutil",
                   "six": "six"}  # fmt: skip
RUNTIME = "python3.12"
TIMEOUT_S = 60
# What a function in a VPC needs for its network interfaces (AWSLambdaVPCAccessExecutionRole, without its logs
# statement on every group): EC2 does not scope these to resources.
VPC_ACCESS = [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
]  # fmt: skip


def _distribution_files(distribution: str) -> list[tuple[str, Path]]:
    """``(archive path, file)`` for the installed files of a distribution: its modules and its ``.dist-info``
    (scramp reads its own version from it), without bytecode or anything outside site-packages."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"the AWS database role bootstrap packages the PostgreSQL driver pg8000 and its dependencies, and "
            f"{distribution} is not installed where mbops runs: pip install 'pg8000>=1.31,<2' (it brings them all)"
        ) from None
    out = []
    for file in dist.files or []:
        name = file.as_posix()
        if name.startswith("..") or "__pycache__" in file.parts or file.suffix in (".pyc", ".pyo"):
            continue
        out.append((name, Path(str(file.locate()))))
    return sorted(out)


@dataclass(frozen=True)
class FunctionCode:
    archive: pulumi.AssetArchive
    sha256: str  # base64 of the SHA-256 over every file's path and content


def function_code() -> FunctionCode:
    """The function's archive: ``index.py`` (the handler) and the driver packages."""
    files = [("index.py", HANDLER)]
    for distribution in DRIVER_PACKAGES.values():
        files += _distribution_files(distribution)
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return FunctionCode(
        pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in files}),
        base64.b64encode(digest.digest()).decode(),
    )


@dataclass
class AppRole:
    security_group: aws.ec2.SecurityGroup
    function: aws.lambda_.Function
    invocation: aws.lambda_.Invocation


def bootstrap_security_group(
    owner: MbopsComponent, name: str, *, vpc_id: pulumi.Input[str], vpc_cidr: pulumi.Input[str], port: int
) -> aws.ec2.SecurityGroup:
    """The function's own group (child ``role_function_security_group``): PostgreSQL in the VPC and HTTPS out
    (Secrets Manager), nothing in. The database's group admits it."""
    return aws.ec2.SecurityGroup(
        f"{name}-role-fn-sg",
        **owner.args(
            "role_function_security_group",
            vpc_id=vpc_id,
            description="Database role bootstrap function: PostgreSQL in the VPC, HTTPS out",
            ingress=[],
            egress=[
                {"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": [vpc_cidr],
                 "description": "to PostgreSQL"},
                {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"],
                 "description": "Secrets Manager"},
            ],
            tags={**owner.tags, "Name": f"{name}-role-fn"},
        ),
        # Lambda releases a VPC function's network interfaces up to 45 minutes after the function is gone; the
        # group (and the subnets: ``network``) can be deleted only then.
        opts=owner.opts(custom_timeouts=pulumi.CustomTimeouts(delete=ENI_RELEASE_WAIT)),
    )  # fmt: skip


def app_role(
    owner: MbopsComponent, name: str, *, security_group: aws.ec2.SecurityGroup, subnet_ids: Sequence[pulumi.Input[str]],
    admin_secret: aws.secretsmanager.Secret, app_secret: aws.secretsmanager.Secret,
    after: Sequence[aws.secretsmanager.SecretVersion], instance: aws.rds.Instance, log_retention_days: int,
) -> AppRole:  # fmt: skip
    """The function that creates the app's role and its invocation (see the module).

    Children of ``owner``: ``role_function_role``, ``role_function_role_policy``, ``role_function_log_group``,
    ``role_function``, ``role_invocation`` (and ``role_function_security_group``, made first).
    """
    logs = aws.cloudwatch.LogGroup(
        f"{name}-role-fn-logs",
        **owner.args("role_function_log_group", retention_in_days=log_retention_days, tags=owner.tags),
        opts=owner.opts(),
    )
    ready: list[pulumi.Resource] = []
    role = service_role(
        owner, f"{name}-role-fn-role", "role_function_role", service="lambda.amazonaws.com",
        description=f"{name}: creates the app's database role (reads the admin URL)", ready=ready,
        statements=[
            allow("ReadDatabaseUrls", ["secretsmanager:GetSecretValue"], [admin_secret.arn, app_secret.arn]),
            allow("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], logs.arn.apply(lambda a: f"{a}:*")),
            allow("VpcNetworkInterfaces", VPC_ACCESS, "*"),
        ],
    )  # fmt: skip
    code = function_code()
    function = aws.lambda_.Function(
        f"{name}-role-fn",
        **owner.args(
            "role_function",
            runtime=RUNTIME,
            handler="index.handler",
            code=code.archive,
            source_code_hash=code.sha256,
            role=role.arn,
            architectures=["arm64"],
            memory_size=256,
            timeout=TIMEOUT_S,
            description=f"{name}: creates the app's PostgreSQL role (run by each deployment that changes it)",
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={"ADMIN_URL_SECRET_ARN": admin_secret.arn, "APP_URL_SECRET_ARN": app_secret.arn}
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=list(subnet_ids),
                                                         security_group_ids=[security_group.id]),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
            tags=owner.tags,
        ),
        opts=owner.opts(depends_on=ready),
    )  # fmt: skip
    versions = [v.version_id for v in after]
    invocation = aws.lambda_.Invocation(
        f"{name}-role-invocation",
        **owner.args(
            "role_invocation",
            function_name=function.name,
            input=json.dumps({"action": "ensure-app-role"}),
            # A new password (secret version), a new instance or new code: run it again.
            triggers={"instance": instance.resource_id, "code": code.sha256,
                      **{f"secret_version_{i}": v for i, v in enumerate(versions)}},
        ),
        opts=owner.opts(depends_on=[instance, *after]),
    )  # fmt: skip
    return AppRole(security_group, function, invocation)
