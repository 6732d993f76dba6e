"""AWS servers: the app container on an autoscaled EC2 group behind an Application Load Balancer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.alb import Https, public_load_balancer
from mbops.components.aws.app import app_statements, ecr_image, pull_statements
from mbops.components.aws.cloud_init import app_host, base64_text
from mbops.components.aws.containers import placement
from mbops.components.aws.iam import allow, service_role, ssm_agent_statement
from mbops.components.aws.logs import logs_output, stack_log_groups
from mbops.components.base import MbopsComponent
from mbops.components.preview import PLACEHOLDER, readable_in_preview
from mbops.components.spec import AppSpec, ServersSpec
from mbops.components.wiring import AppWiring, BuildContext, Built
from mbops.errors import ConfigError

INSTANCE_TYPES = {"small": "t3.small", "medium": "t3.medium", "large": "m6i.large"}
# vCPUs and memory (MiB) of those types: the app container's --cpus and --memory must fit.
INSTANCE_SIZES = {"t3.small": (2, 2048), "t3.medium": (2, 4096), "m6i.large": (2, 8192)}
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_IMAGE = f"resolve:ssm:{AMI_PARAMETER}"  # dev: the current AMI at each launch
ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023
CPU_TARGET = 60.0


@dataclass(kw_only=True)
class ServersArgs:
    spec: ServersSpec = field(default_factory=ServersSpec)
    app: AppSpec = field(default_factory=AppSpec)
    wiring: AppWiring = field(default_factory=AppWiring)
    image: pulumi.Input[str]  # what the app runs: the registry's pushed digest, or app.image
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    lb_security_group_id: pulumi.Input[str]
    app_security_group_id: pulumi.Input[str]
    https: Https = field(default_factory=Https)
    access_logs: bool = False
    lb_deletion_protection: bool = False  # prod, unless release_data (the destroy that follows needs it off)
    pin_os_image: bool = False  # prod: the AMI is resolved once and kept (see Servers)
    refresh_alarms: Sequence[str] = ()  # alarm names that roll an instance refresh back (monitoring's)
    region: str = "us-east-1"
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class Servers(MbopsComponent):
    """An auto scaling group of Amazon Linux 2023 instances, each running the app image with Docker.

    Instances live in the private subnets with no SSH: operators use SSM Session Manager (the role has one
    inline policy: the SSM agent's own calls — not the managed AmazonSSMManagedInstanceCore, whose
    ssm:GetParameter on every parameter the app would inherit — and the app's own bucket, table, secrets and
    log group). The launch template requires IMDSv2 (hop limit 1) and an encrypted gp3 root volume. cloud-init
    installs Docker and a systemd unit that fetches the app's secrets from Secrets Manager with the instance
    role at every start, so user data holds ARNs, never secret values; the container logs to CloudWatch.
    The group keeps ``min_replicas..max_replicas`` instances, tracks 60% CPU, and rolls instances when the
    launch template changes; ``pulumi up`` waits until ``min_replicas`` instances pass the load balancer's health
    check, so a broken image fails the update. It replaces an instance the load balancer has found unhealthy,
    which takes ``alb.HEAL_AFTER_S`` of health path failures (a database failover replaces none), launching the
    replacement first and terminating the old one once the new one is healthy (``instance_maintenance_policy``);
    systemd restarts a container that exits. The launch template waits for the secrets' values and the role's
    policies (no instance boots before either exists), nor before the app's database role (created by the
    database component's bootstrap function, which alone reads the admin URL: nothing on the instances can).

    OS image: ``os_image`` when set; else in dev the current Amazon Linux 2023 AMI at each launch
    (``resolve:ssm:``), and with ``pin_os_image`` (prod) the AMI id read once from the same SSM parameter and
    kept in the state (``ignore_changes``): a new AMI reaches prod only by setting ``os_image``.

    Children: ``role``, ``role_policy``, ``instance_profile``, ``log_group``, ``launch_template``,
    ``auto_scaling_group``, ``scaling_policy`` and the load balancer's (``load_balancer``, ``target_group``,
    ``http_listener``, ``https_listener``).
    """

    kind = "servers"

    def __init__(self, name: str, args: ServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec, app, wiring, tags = args.spec, args.app, args.wiring, self.tags
        bad = sorted(k for k, v in app.env.items() if "\n" in v)
        if bad:
            raise ConfigError(f"app.env: {', '.join(bad)}: values with line breaks cannot be passed to a container")
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            **self.args("log_group", retention_in_days=args.log_retention_days, tags=tags),
            opts=self.opts(),
        )
        statements = [
            *app_statements(wiring),
            allow(
                "AppLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                self.log_group.arn.apply(lambda a: f"{a}:*"),
            ),
            *pull_statements(wiring, args.image),
            ssm_agent_statement(),
        ]
        ready: list[pulumi.Resource] = [*wiring.depends_on]
        self.role = service_role(
            self,
            f"{name}-role",
            "role",
            service="ec2.amazonaws.com",
            description=f"{name}: app instances",
            statements=statements,
            ready=ready,
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-profile",
            **self.args("instance_profile", role=self.role.name, tags=tags),
            opts=self.opts(),
        )

        instance_type = INSTANCE_TYPES[spec.size]
        vcpus, memory = INSTANCE_SIZES[instance_type]
        if app.cpu > vcpus or app.memory_mb > memory:
            raise ConfigError(
                f"app.cpu {app.cpu:g} / app.memory_mb {app.memory_mb}: the app container runs on {instance_type} "
                f"({vcpus} vCPU, {memory} MiB); lower them or raise components.servers.size"
            )
        env = {"PORT": str(app.port), "AWS_REGION": args.region, **wiring.env}  # the SDKs on the VM need a region
        user_data = pulumi.Output.all(
            pulumi.Output.from_input(readable_in_preview(dict(env))),
            pulumi.Output.from_input(readable_in_preview(dict(wiring.secrets))),
            *readable_in_preview([self.log_group.name, args.image]),
        ).apply(
            lambda a: base64_text(
                app_host(image=a[3], region=args.region, log_group=a[2], env=a[0], secrets=a[1],
                         cpus=app.cpu, memory_mb=app.memory_mb, **ecr_login(a[3]))
            )
        )  # fmt: skip
        image_id: pulumi.Input[str] = spec.os_image or DEFAULT_IMAGE
        ignore: list[str] = []
        if args.pin_os_image and not spec.os_image:
            ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=self))
            image_id, ignore = ami.value, ["image_id"]
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            **self.args(
                "launch_template",
                description=pulumi.Output.concat(name, ": ", args.image),
                image_id=image_id,
                instance_type=instance_type,
                vpc_security_group_ids=[args.app_security_group_id],
                iam_instance_profile={"arn": profile.arn},
                user_data=user_data,
                update_default_version=True,
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                    "instance_metadata_tags": "disabled",
                },
                block_device_mappings=[
                    {
                        "device_name": ROOT_DEVICE,
                        "ebs": {
                            "volume_size": spec.disk_gb,
                            "volume_type": "gp3",
                            "encrypted": "true",  # a string: the provider's tri-state (true/false/unset)
                            "delete_on_termination": "true",
                        },
                    }
                ],
                monitoring={"enabled": True},
                tag_specifications=[
                    {"resource_type": kind, "tags": {**tags, "Name": f"{name}-app"}} for kind in ("instance", "volume")
                ],
                tags=tags,
            ),
            opts=self.opts(depends_on=ready, ignore_changes=ignore),
        )

        self.load_balancer = public_load_balancer(
            self,
            name,
            vpc_id=args.vpc_id,
            subnet_ids=args.public_subnet_ids,
            security_group_id=args.lb_security_group_id,
            port=app.port,
            health_path=app.health_path,
            target_type="instance",
            https=args.https,
            certificate_hint="set the stack's domain (with the edge component) or components.servers.https_certificate",
            region=args.region,
            access_logs=args.access_logs,
            deletion_protection=args.lb_deletion_protection,
        )
        self.auto_scaling_group = aws.autoscaling.Group(
            f"{name}-asg",
            **self.args(
                "auto_scaling_group",
                min_size=app.min_replicas,
                max_size=app.max_replicas,
                vpc_zone_identifiers=list(args.private_subnet_ids),
                launch_template={
                    "id": self.launch_template.id,
                    "version": self.launch_template.latest_version.apply(str),
                },
                target_group_arns=[self.load_balancer.target_group.arn],
                health_check_type="ELB",  # the target group's verdict: HEAL_AFTER_S of failures
                health_check_grace_period=300,
                # Replacing an unhealthy instance launches first and terminates once the new one is healthy.
                instance_maintenance_policy={"min_healthy_percentage": 100, "max_healthy_percentage": 200},
                # `pulumi up` waits until min_replicas instances are healthy in the target group.
                wait_for_elb_capacity=app.min_replicas,
                wait_for_capacity_timeout="15m",
                default_instance_warmup=120,
                instance_refresh=self._refresh(image_id, args.refresh_alarms),
                enabled_metrics=["GroupDesiredCapacity", "GroupInServiceInstances", "GroupTotalInstances"],
                tags=[{"key": k, "value": v, "propagate_at_launch": False} for k, v in sorted(tags.items())],
            ),
            # The target group serves only once a listener forwards to it (the HTTPS one waits for the
            # certificate): before that its targets stay `unused` and the capacity wait would time out.
            opts=self.opts(depends_on=self.load_balancer.listeners),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu",
            **self.args(
                "scaling_policy",
                autoscaling_group_name=self.auto_scaling_group.name,
                policy_type="TargetTrackingScaling",
                estimated_instance_warmup=120,
                target_tracking_configuration={
                    "target_value": CPU_TARGET,
                    "predefined_metric_specification": {"predefined_metric_type": "ASGAverageCPUUtilization"},
                },
            ),
            opts=self.opts(),
        )
        self.endpoint = self.load_balancer.url
        self.finish({"endpoint": self.endpoint, "auto_scaling_group": self.auto_scaling_group.name})

    @staticmethod
    def _refresh(image_id: pulumi.Input[str], alarms: Sequence[str]) -> aws.autoscaling.GroupInstanceRefreshArgs:
        """Rolling replacement when the launch template changes: a new instance is launched and healthy before an
        old one goes (100..200%), each warms up 2 minutes, and a refresh whose instances fail their health
        checks (or trips ``alarms``) rolls back to the previous template. Rollback needs an AMI id: not with the
        ``resolve:ssm:`` alias dev launches from."""
        rollback = not (isinstance(image_id, str) and image_id.startswith("resolve:ssm:"))
        return aws.autoscaling.GroupInstanceRefreshArgs(
            strategy="Rolling",
            preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                min_healthy_percentage=100, max_healthy_percentage=200, instance_warmup="120",
                auto_rollback=rollback, skip_matching=False,
                alarm_specification=aws.autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs(
                    alarms=list(alarms)) if alarms and rollback else None,
            ),
        )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """The app on an auto scaling group behind an ALB; its endpoint is the stack's ``endpoint`` output."""
    assert ctx.wiring is not None
    servers = Servers(
        ctx.name,
        ServersArgs(spec=ctx.spec, app=ctx.stack.app, wiring=ctx.wiring, image=ctx.stack.image(ctx.wiring),
                    region=ctx.stack.region, log_retention_days=90 if ctx.stack.prod else 30,
                    pin_os_image=ctx.stack.prod, tags=ctx.stack.tags, refresh_alarms=refresh_alarms(ctx),
                    **placement(ctx, ctx.spec.https_certificate)),
    )  # fmt: skip
    logs = logs_output(ctx.stack.region, stack_log_groups(ctx.built, {"app": servers.log_group.name}))
    return Built(component=servers, outputs={"endpoint": servers.endpoint, "logs": logs})


def ecr_login(image: str) -> dict[str, str | None]:
    """The ECR registry (and its region) a VM logs in to before pulling ``image``; none for other registries
    (a preview whose image is not built yet shows the placeholder)."""
    if image == PLACEHOLDER:
        return {"ecr_registry": PLACEHOLDER, "ecr_region": None}
    match = ecr_image(image)
    return {"ecr_registry": match["registry"], "ecr_region": match["region"]} if match else {}


def refresh_alarms(ctx: BuildContext) -> list[str]:
    """The monitoring component's unhealthy-targets alarm, by name (it is built after the app, so the group
    names it rather than depending on it); none without monitoring."""
    if not ctx.stack.has("monitoring"):
        return []
    from mbops.components.aws.monitoring import UNHEALTHY_TARGETS, alarm_name

    return [alarm_name(ctx.stack.physical_name, UNHEALTHY_TARGETS)]
