"""AWS database: RDS for PostgreSQL in the private subnets (or, ``self_hosted``, PostgreSQL on EC2).

Either way the app reaches it only from the app security group, over TLS, and gets ``DATABASE_URL`` from a
Secrets Manager secret (``database_url_secret_arn``) whose value is a Pulumi secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mbops.components.aws.cloud_init import postgres_host
from mbops.components.aws.db_role import AppRole, app_role, bootstrap_security_group
from mbops.components.aws.iam import allow, service_role, ssm_agent_statement
from mbops.components.aws.kept import warn_not_adoptable
from mbops.components.aws.naming import physical
from mbops.components.aws.network import data_tier_security_group
from mbops.components.aws.secrets import new_secret, recovery_days, secret_prefix, set_secret_value
from mbops.components.base import MbopsComponent
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built

INSTANCE_CLASSES = {"small": "db.t4g.micro", "medium": "db.t4g.medium", "large": "db.r6g.large"}
VM_TYPES = {"small": "t3.small", "medium": "t3.medium", "large": "r6i.large"}
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
PORT = 5432
USERNAME = "app"  # the app's role: owns the app database, nothing else
ADMIN_USERNAME = "dbadmin"  # RDS master user: only the role bootstrap (db_role) logs in with it
LOG_EXPORTS = ("postgresql", "upgrade")
BACKUP_TAG = "mbops-backup"


@dataclass(kw_only=True)
class DatabaseArgs:
    spec: DatabaseSpec = field(default_factory=DatabaseSpec)
    vpc_id: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str] = "10.0.0.0/8"
    subnet_ids: Sequence[pulumi.Input[str]]
    availability_zone: pulumi.Input[str] | None = None  # of subnet_ids[0]: where a self-hosted VM and its disk live
    app_security_group_id: pulumi.Input[str]
    secret_prefix: str
    identifier: str | None = None  # what AWS sees (RDS instance, its log groups, the backup tag); None: the name
    secret_recovery_days: int = 7
    region: str = "us-east-1"
    log_retention_days: int = 30
    prod: bool = False
    release_data: bool = False  # deletion protection off, nothing retained: `destroy --delete-data` follows
    tags: Mapping[str, str] = field(default_factory=dict)


def database_url(
    password: pulumi.Input[str], host: pulumi.Input[str], database: str, user: str = USERNAME
) -> pulumi.Output[str]:
    """``postgresql://<user>:<password>@<host>:5432/<database>?sslmode=require`` as a Pulumi secret."""
    return pulumi.Output.secret(
        pulumi.Output.all(password, host).apply(
            lambda a: f"postgresql://{user}:{quote(a[0], safe='')}@{a[1]}:{PORT}/{database}?sslmode=require"
        )
    )


def final_snapshot_name(owner: MbopsComponent, name: str, identifier: str) -> pulumi.Output[str]:
    """``<identifier>-final-<random>``: a fixed name would exist already when a re-created stack is deleted
    again (child ``final_snapshot_suffix``, also used by the cache)."""
    suffix = random.RandomString(
        f"{name}-final-snapshot-suffix",
        **owner.args("final_snapshot_suffix", length=8, special=False, upper=False),
        opts=owner.opts(),
    )
    return pulumi.Output.concat(identifier, "-final-", suffix.result)


class Database(MbopsComponent):
    """PostgreSQL for the app.

    Managed (default): RDS with gp3 storage that grows to ``max_storage_gb``, encrypted, private, TLS forced
    by its parameter group, IAM auth, Performance Insights, logs exported to CloudWatch (retention set),
    backups for ``backup_retention_days``; ``ha`` is Multi-AZ; in prod it leaves a final snapshot. The master
    user ``dbadmin`` has a ``RandomPassword`` (a Pulumi secret) kept in the ``DATABASE_ADMIN_URL`` secret,
    which only the role bootstrap reads: a Lambda function in the VPC that ``pulumi up`` invokes once the
    instance and both URLs exist (``db_role``), creating the app role ``app`` that owns the app database; the
    app gets ``DATABASE_URL`` as ``app`` and waits for that invocation (``ready``). In prod the final snapshot
    is named ``<name>-final-<random>``, so a stack created again can be destroyed again.
    Children: ``subnet_group``, ``security_group``, ``parameter_group``, ``password``, ``app_password``,
    ``log_group``, ``final_snapshot_suffix`` (prod), ``instance``, ``url_secret``, ``url_secret_version``,
    ``admin_url_secret``, ``admin_url_secret_version`` and the bootstrap's (``role_function_security_group``,
    ``role_function_role``, ``role_function_role_policy``, ``role_function_log_group``, ``role_function``,
    ``role_invocation``).

    Data guard: unless ``release_data``, the instance is protected in Pulumi, retained on delete and (with
    ``deletion_protection``) deletion-protected in AWS; ``release_data`` lifts all three for the
    ``destroy --delete-data`` that follows (prod still takes its final snapshot). A ``destroy`` stops at the
    instance, so it stays in the stack. ``adopt: [database.instance]`` cannot take it back: Pulumi imports a
    resource only when the program's inputs match it, and RDS never returns the master password. An instance
    that left the stack (``pulumi state delete``, ``destroy --exclude-protected``) is taken back before the next
    ``up`` with ``pulumi import aws:rds/instance:Instance <component name>-postgres <identifier> --protect
    --parent 'database=<the Database component's URN>'``; that ``up`` then sets the master password to the
    stack's (the admin URL's).

    Self-hosted (``self_hosted``): an EC2 instance (IMDSv2, encrypted root, SSM access, no SSH) in a private
    subnet with an encrypted gp3 data volume for the data directory, snapshotted daily by Data Lifecycle
    Manager for ``backup_retention_days``. cloud-init installs PostgreSQL, enables TLS and reads the password
    from the URL secret with the instance role: it is never in user data. The data volume is protected and
    retained like the RDS instance; EC2 generates its id, so ``adopt:`` cannot take it back either (``pulumi
    import aws:ebs/volume:Volume <component name>-data <vol-id>``; it carries the tag ``mbops-backup``).
    Children: ``security_group``, ``password``, ``role``, ``role_policy``, ``instance_profile``, ``instance``,
    ``data_volume``, ``volume_attachment``, ``backup_role``, ``backup_policy``, ``url_secret``,
    ``url_secret_version``.
    """

    kind = "database"

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        managed = not args.spec.self_hosted
        if managed:
            warn_not_adoptable(self, "instance", "RDS never returns the master password, so a Pulumi import of the "
                               "instance would stop on it", f"import a kept instance with `pulumi import "
                               f"aws:rds/instance:Instance {name}-postgres <identifier>` (see the database "
                               f"component's data guard)")
        else:
            warn_not_adoptable(self, "data_volume", "EC2 generates the volume's id", f"import a kept volume with "
                               f"`pulumi import aws:ebs/volume:Volume {name}-data <vol-id>`")
        role_fn_sg = (
            bootstrap_security_group(self, name, vpc_id=args.vpc_id, vpc_cidr=args.vpc_cidr, port=PORT)
            if managed
            else None
        )
        self.security_group = data_tier_security_group(
            self, name, vpc_id=args.vpc_id, port=PORT, app_security_group_id=args.app_security_group_id,
            service="PostgreSQL", egress=self._egress(args),
            also=[(role_fn_sg.id, "role bootstrap function to PostgreSQL")] if role_fn_sg is not None else (),
        )  # fmt: skip
        self.password = random.RandomPassword(
            f"{name}-password", **self.args("password", length=40, special=False), opts=self.opts()
        )
        self.app_password = (
            self.password  # self-hosted: the VM creates the app role with this password; there is no admin URL
            if args.spec.self_hosted
            else random.RandomPassword(
                f"{name}-app-password", **self.args("app_password", length=40, special=False), opts=self.opts()
            )
        )
        self.database_name = args.spec.database_name
        # The secret exists first (a self-hosted VM reads its password from it); its value needs the host.
        self.url_secret = new_secret(
            self,
            f"{name}-url",
            "url_secret",
            secret_name="DATABASE_URL",
            prefix=args.secret_prefix,
            recovery_days=args.secret_recovery_days,
            description="DATABASE_URL of the stack's PostgreSQL (TLS)",
        )
        self.host = self._self_hosted(name, args) if args.spec.self_hosted else self._managed(name, args)
        # The app starts only once the values exist (they need the host): ``versions``.
        self.versions = [
            set_secret_value(
                self, f"{name}-url", "url_secret_version", self.url_secret,
                database_url(self.app_password.result, self.host, self.database_name),
            )
        ]  # fmt: skip
        self.app_role: AppRole | None = None
        if role_fn_sg is None:
            for child in ("app_password", "admin_url_secret", "admin_url_secret_version", "role_function_role",
                          "role_function_role_policy", "role_function_log_group", "role_function",
                          "role_invocation", "role_function_security_group"):  # fmt: skip
                self.args(child)
        else:
            admin = new_secret(
                self, f"{name}-admin-url", "admin_url_secret", secret_name="DATABASE_ADMIN_URL",
                prefix=args.secret_prefix, recovery_days=args.secret_recovery_days,
                description="PostgreSQL master user URL: for the app role bootstrap only, never for the app",
            )  # fmt: skip
            self.versions.append(
                set_secret_value(
                    self, f"{name}-admin-url", "admin_url_secret_version", admin,
                    database_url(self.password.result, self.host, self.database_name, ADMIN_USERNAME),
                )
            )  # fmt: skip
            self.app_role = app_role(
                self, name, security_group=role_fn_sg, subnet_ids=args.subnet_ids, admin_secret=admin,
                app_secret=self.url_secret, after=self.versions, instance=self.instance,
                log_retention_days=args.log_retention_days,
            )  # fmt: skip
        # What the app waits for: the URL values and, on RDS, its role.
        self.ready: list[pulumi.Resource] = [*self.versions, *([self.app_role.invocation] if self.app_role else [])]
        self.database_url_secret_arn = self.url_secret.arn
        self.finish(
            {
                "host": self.host,
                "database_name": self.database_name,
                "database_url_secret_arn": self.database_url_secret_arn,
            }
        )

    @staticmethod
    def _egress(args: DatabaseArgs) -> list[dict[str, Any]]:
        if not args.spec.self_hosted:
            return []  # RDS needs no outbound rule
        return [
            {
                "protocol": "tcp",
                "from_port": 443,
                "to_port": 443,
                "cidr_blocks": ["0.0.0.0/0"],
                "description": "HTTPS: package repositories, SSM, Secrets Manager",
            }
        ]

    def _managed(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        spec, tags = args.spec, self.tags
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            **self.args(
                "subnet_group",
                subnet_ids=list(args.subnet_ids),
                description=f"{name}: private subnets",
                tags=tags,
            ),
            opts=self.opts(),
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            **self.args(
                "parameter_group",
                family=f"postgres{spec.engine_version}",
                description=f"{name}: TLS only, slow statements logged",
                parameters=[
                    {"name": "rds.force_ssl", "value": "1"},
                    {"name": "log_min_duration_statement", "value": "1000"},
                ],
                tags=tags,
            ),
            opts=self.opts(),
        )
        identifier = args.identifier or name
        # RDS would create its log groups without a retention: create them first, with one.
        self.log_groups = {"database": f"/aws/rds/instance/{identifier}/postgresql"}  # the `logs` output
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs",
                **self.args(
                    "log_group",
                    name=f"/aws/rds/instance/{identifier}/{log}",
                    retention_in_days=args.log_retention_days,
                    tags=tags,
                ),
                opts=self.opts(),
            )
            for log in LOG_EXPORTS
        ]
        final = final_snapshot_name(self, name, identifier) if args.prod else None
        if not args.prod:
            self.args("final_snapshot_suffix")
        instance_args = self.args(
            "instance",
            identifier=identifier,
            engine="postgres",
            engine_version=spec.engine_version,
            instance_class=INSTANCE_CLASSES[spec.size],
            allocated_storage=spec.storage_gb,
            max_allocated_storage=max(spec.max_storage_gb, spec.storage_gb),
            storage_type="gp3",
            storage_encrypted=True,
            db_name=spec.database_name,
            username=ADMIN_USERNAME,
            password=self.password.result,
            port=PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameter_group.name,
            publicly_accessible=False,
            multi_az=spec.ha,
            deletion_protection=spec.deletion_protection and not args.release_data,
            backup_retention_period=spec.backup_retention_days,
            backup_window="03:00-03:30",
            maintenance_window="sun:04:00-sun:04:30",
            copy_tags_to_snapshot=True,
            skip_final_snapshot=not args.prod,
            final_snapshot_identifier=final,
            delete_automated_backups=not args.prod,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            iam_database_authentication_enabled=True,
            performance_insights_enabled=True,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=not args.prod,
            tags=tags,
        )
        self.instance_class: str = instance_args["instance_class"]
        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            **instance_args,
            opts=self.opts(
                depends_on=log_groups, protect=not args.release_data, retain_on_delete=not args.release_data
            ),
        )
        return self.instance.address

    def _self_hosted(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        spec, tags = args.spec, self.tags
        role = service_role(
            self,
            f"{name}-vm-role",
            "role",
            service="ec2.amazonaws.com",
            description=f"{name}: PostgreSQL VM (SSM access, reads its own password)",
            statements=[allow("ReadDatabaseUrl", ["secretsmanager:GetSecretValue"], self.url_secret.arn),
                        ssm_agent_statement()],
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-vm-profile", **self.args("instance_profile", role=role.name, tags=tags), opts=self.opts()
        )
        volume = aws.ebs.Volume(
            f"{name}-data",
            **self.args(
                "data_volume",
                availability_zone=args.availability_zone,
                size=spec.storage_gb,
                type="gp3",
                encrypted=True,
                final_snapshot=args.prod,
                tags={**tags, "Name": f"{name}-data", BACKUP_TAG: args.identifier or name},
            ),
            opts=self.opts(protect=not args.release_data, retain_on_delete=not args.release_data),
        )
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=self))
        user_data = pulumi.Output.all(volume.id, self.url_secret.arn, args.vpc_cidr).apply(
            lambda a: postgres_host(
                volume_id=a[0],
                secret_arn=a[1],
                allowed_cidr=a[2],
                region=args.region,
                version=spec.engine_version,
                database=spec.database_name,
            )
        )
        self.instance = aws.ec2.Instance(
            f"{name}-vm",
            **self.args(
                "instance",
                ami=ami.value,
                instance_type=VM_TYPES[spec.size],
                subnet_id=args.subnet_ids[0],
                availability_zone=args.availability_zone,
                vpc_security_group_ids=[self.security_group.id],
                iam_instance_profile=profile.name,
                associate_public_ip_address=False,
                user_data=user_data,
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                },
                root_block_device={
                    "volume_type": "gp3",
                    "volume_size": 20,
                    "encrypted": True,
                    "delete_on_termination": True,
                },
                disable_api_termination=args.prod and not args.release_data,
                tags={**tags, "Name": f"{name}-postgres"},
                volume_tags=tags,
            ),
            opts=self.opts(ignore_changes=["ami"]),
        )
        aws.ec2.VolumeAttachment(
            f"{name}-data-attachment",
            **self.args(
                "volume_attachment",
                device_name="/dev/sdf",
                volume_id=volume.id,
                instance_id=self.instance.id,
                stop_instance_before_detaching=True,
            ),
            opts=self.opts(),
        )
        self._snapshots(name, args)
        return self.instance.private_ip

    def _snapshots(self, name: str, args: DatabaseArgs) -> None:
        """Daily EBS snapshots of the data volume, kept ``backup_retention_days`` (Data Lifecycle Manager)."""
        role = service_role(
            self,
            f"{name}-backup-role",
            "backup_role",
            service="dlm.amazonaws.com",
            description=f"{name}: snapshots of the PostgreSQL data volume",
            managed=["service-role/AWSDataLifecycleManagerServiceRole"],
        )
        aws.dlm.LifecyclePolicy(
            f"{name}-backups",
            **self.args(
                "backup_policy",
                description=f"{name}: daily data volume snapshots",
                execution_role_arn=role.arn,
                state="ENABLED",
                policy_details={
                    "resource_types": ["VOLUME"],
                    "target_tags": {BACKUP_TAG: args.identifier or name},  # this stack's volume only
                    "schedules": [
                        {
                            "name": "daily",
                            "copy_tags": True,
                            "create_rule": {"interval": 24, "interval_unit": "HOURS", "times": "03:00"},
                            "retain_rule": {"count": args.spec.backup_retention_days},
                        }
                    ],
                },
                tags=self.tags,
            ),
            opts=self.opts(),
        )


def build(ctx: BuildContext) -> Built:
    """PostgreSQL in the private subnets; the app gets ``DATABASE_URL`` from Secrets Manager."""
    net = ctx.component("network")
    database = Database(
        ctx.name,
        DatabaseArgs(
            spec=ctx.spec, vpc_id=net.vpc_id, vpc_cidr=net.vpc.cidr_block, subnet_ids=net.private_subnet_ids,
            availability_zone=net.private_subnets[0].availability_zone,
            app_security_group_id=net.app_security_group.id, secret_prefix=secret_prefix(ctx.stack.physical_name),
            identifier=physical(ctx), secret_recovery_days=recovery_days(ctx.stack), region=ctx.stack.region,
            log_retention_days=90 if ctx.stack.prod else 30, prod=ctx.stack.prod,
            release_data=ctx.stack.release_data, tags=ctx.stack.tags,
        ),
    )  # fmt: skip
    return Built(
        component=database, secrets={"DATABASE_URL": database.database_url_secret_arn},
        depends_on=list(database.ready),
        outputs={"database_host": database.host, "database_name": database.database_name},
    )  # fmt: skip
