"""AWS containers: the app on ECS Fargate in the private subnets, behind an ALB, autoscaled on CPU."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mbops.components.aws.alb import Https, public_load_balancer
from mbops.components.aws.app import app_statements, pull_statements
from mbops.components.aws.certs import Domain
from mbops.components.aws.iam import allow, service_role
from mbops.components.aws.logs import logs_output, stack_log_groups
from mbops.components.aws.naming import physical
from mbops.components.base import MbopsComponent
from mbops.components.preview import readable_in_preview
from mbops.components.spec import AppSpec, ContainersSpec
from mbops.components.wiring import AppWiring, BuildContext, Built
from mbops.errors import ConfigError

CONTAINER = "app"
CPU_TARGET = 60.0
# Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def fargate_size(cpu: float, memory_mb: int) -> tuple[int, int]:
    """Fargate CPU units and memory for ``app.cpu`` and ``app.memory_mb``, or a ConfigError."""
    units = round(cpu * 1024)
    if units not in FARGATE_MEMORY:
        allowed = ", ".join(f"{u / 1024:g}" for u in FARGATE_MEMORY)
        raise ConfigError(f"app.cpu: Fargate runs {allowed} vCPU; got {cpu:g}")
    if memory_mb not in FARGATE_MEMORY[units]:
        mem = FARGATE_MEMORY[units]
        raise ConfigError(
            f"app.memory_mb: with app.cpu {cpu:g}, Fargate allows {mem.start}..{mem.stop - 1} MiB "
            f"in steps of {mem.step}; got {memory_mb}"
        )
    return units, memory_mb


@dataclass(kw_only=True)
class ContainersArgs:
    spec: ContainersSpec = field(default_factory=ContainersSpec)
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
    region: str = "us-east-1"
    family: str | None = None  # the task definition family's; None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


class Containers(MbopsComponent):
    """ECS Fargate service for the app image.

    Tasks run in the private subnets without public IPs, in the app security group, with a read-only root
    filesystem (``/tmp`` is a writable task volume) and logs in a CloudWatch group with the spec's retention.
    Plain settings are ``environment``; ``DATABASE_URL``, ``REDIS_URL`` and the app secrets are ``secrets``
    (``valueFrom`` a Secrets Manager ARN), injected by ECS with the execution role, which may only pull the
    app image from its repository, write to the log group and read those ARNs (no AWS managed policy). The
    task definition waits for the secrets' values, the roles' policies and the app's database role (created
    by the database component's bootstrap function), so no task starts before any of them exists.
    The task role may use only the app's bucket, table and secrets. An ALB in the public subnets forwards to
    the tasks: HTTPS on the stack's domain or ``https_certificate`` (HTTP redirected), else HTTP. The service
    rolls back failed deployments and ``pulumi up`` waits for a steady state, so a deployment whose tasks
    fail fails the update; it scales ``min_replicas..max_replicas`` on 60% CPU.

    Task health: the load balancer's target health alone (the container has no ``healthCheck`` of its own, which
    would be a second, faster way to replace tasks). A task is replaced only after its health path has failed for
    ``alb.HEAL_AFTER_S`` (a database failover must not replace every task), and ECS starts the replacement
    (``deployment_maximum_percent``) before it stops the unhealthy task; a task whose container exits is replaced
    at once.

    Children: ``cluster``, ``log_group``, ``execution_role``, ``execution_role_policy``, ``task_role``,
    ``task_role_policy``, ``task_definition``, ``service``, ``scaling_target``, ``scaling_policy`` and the
    load balancer's (``load_balancer``, ``target_group``, ``http_listener``, ``https_listener``).
    """

    kind = "containers"

    def __init__(self, name: str, args: ContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec, app, wiring, tags = args.spec, args.app, args.wiring, self.tags
        cpu, memory = fargate_size(app.cpu, app.memory_mb)

        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            **self.args("cluster", settings=[{"name": "containerInsights", "value": "enabled"}], tags=tags),
            opts=self.opts(),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            **self.args("log_group", retention_in_days=spec.log_retention_days, tags=tags),
            opts=self.opts(),
        )
        injected = list(wiring.secrets.values())
        ready: list[pulumi.Resource] = [*wiring.depends_on]
        self.execution_role = service_role(
            self,
            f"{name}-execution-role",
            "execution_role",
            service="ecs-tasks.amazonaws.com",
            description=f"{name}: ECS pulls the image, writes logs, injects the app's secrets",
            statements=[
                *pull_statements(wiring, args.image),
                allow("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                      self.log_group.arn.apply(lambda a: f"{a}:*")),
                *([allow("InjectSecrets", ["secretsmanager:GetSecretValue"], injected)] if injected else []),
            ],
            ready=ready,
        )  # fmt: skip
        self.task_role = service_role(
            self,
            f"{name}-task-role",
            "task_role",
            service="ecs-tasks.amazonaws.com",
            description=f"{name}: what the app itself may use",
            statements=app_statements(wiring),
            ready=ready,
        )
        container = pulumi.Output.json_dumps(
            readable_in_preview([self._container(app, wiring, args.image, args.region)])
        )
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            **self.args(
                "task_definition",
                family=args.family or name,
                requires_compatibilities=["FARGATE"],
                network_mode="awsvpc",
                cpu=str(cpu),
                memory=str(memory),
                execution_role_arn=self.execution_role.arn,
                task_role_arn=self.task_role.arn,
                container_definitions=container,
                runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
                volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="tmp")],
                tags=tags,
            ),
            # Secret values (not only the secrets) and role permissions exist before a task can start.
            opts=self.opts(depends_on=ready),
        )
        self.load_balancer = public_load_balancer(
            self,
            name,
            vpc_id=args.vpc_id,
            subnet_ids=args.public_subnet_ids,
            security_group_id=args.lb_security_group_id,
            port=app.port,
            health_path=app.health_path,
            target_type="ip",
            https=args.https,
            certificate_hint="set the stack's domain (with the edge component) or components.containers."
            "https_certificate",
            region=args.region,
            access_logs=args.access_logs,
            deletion_protection=args.lb_deletion_protection,
        )
        self.service = aws.ecs.Service(
            f"{name}-service",
            **self.args(
                "service",
                cluster=self.cluster.arn,
                task_definition=self.task_definition.arn,
                launch_type="FARGATE",
                platform_version="LATEST",
                desired_count=app.min_replicas,
                network_configuration={
                    "subnets": list(args.private_subnet_ids),
                    "security_groups": [args.app_security_group_id],
                    "assign_public_ip": False,
                },
                load_balancers=[
                    {
                        "target_group_arn": self.load_balancer.target_group.arn,
                        "container_name": CONTAINER,
                        "container_port": app.port,
                    }
                ],
                health_check_grace_period_seconds=60,
                deployment_circuit_breaker={"enable": True, "rollback": True},
                deployment_minimum_healthy_percent=100,
                deployment_maximum_percent=200,
                enable_ecs_managed_tags=True,
                propagate_tags="SERVICE",
                enable_execute_command=False,
                # `pulumi up` fails when the tasks do (the circuit breaker rolls the deployment back).
                wait_for_steady_state=True,
                tags=tags,
            ),
            # The autoscaler owns the task count after the first deployment.
            opts=self.opts(depends_on=self.load_balancer.listeners, ignore_changes=["desired_count"]),
        )
        resource_id = pulumi.Output.concat("service/", self.cluster.name, "/", self.service.name)
        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            **self.args(
                "scaling_target",
                service_namespace="ecs",
                scalable_dimension="ecs:service:DesiredCount",
                resource_id=resource_id,
                min_capacity=app.min_replicas,
                max_capacity=app.max_replicas,
                tags=tags,
            ),
            opts=self.opts(),
        )
        aws.appautoscaling.Policy(
            f"{name}-cpu",
            **self.args(
                "scaling_policy",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": CPU_TARGET,
                    "scale_in_cooldown": 120,
                    "scale_out_cooldown": 60,
                    "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                },
            ),
            opts=self.opts(),
        )
        self.endpoint = self.load_balancer.url
        self.finish({"endpoint": self.endpoint, "cluster": self.cluster.name, "service": self.service.name})

    def _logs(self, region: str, prefix: str) -> dict[str, Any]:
        return {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": self.log_group.name,
                "awslogs-region": region,
                "awslogs-stream-prefix": prefix,
            },
        }

    def _container(self, app: AppSpec, wiring: AppWiring, image: pulumi.Input[str], region: str) -> dict[str, Any]:
        env = {"PORT": str(app.port), **wiring.env}
        return {
            "name": CONTAINER,
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": app.port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
            "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(wiring.secrets.items())],
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 30,
            "logConfiguration": self._logs(region, CONTAINER),
        }


def build(ctx: BuildContext) -> Built:
    """The app on ECS Fargate behind an ALB; its endpoint is the stack's ``endpoint`` output."""
    assert ctx.wiring is not None
    containers = Containers(
        ctx.name,
        ContainersArgs(spec=ctx.spec, app=ctx.stack.app, wiring=ctx.wiring, image=ctx.stack.image(ctx.wiring),
                       tags=ctx.stack.tags, region=ctx.stack.region, family=physical(ctx),
                       **placement(ctx, ctx.spec.https_certificate)),
    )  # fmt: skip
    logs = logs_output(ctx.stack.region, stack_log_groups(ctx.built, {"app": containers.log_group.name}))
    return Built(component=containers, outputs={"endpoint": containers.endpoint, "logs": logs})


def placement(ctx: BuildContext, certificate_arn: str | None) -> dict[str, Any]:
    """Where the app and its load balancer go in the stack's network; how the load balancer serves HTTPS (the
    stack's domain when the stack has an edge); whether it logs (with monitoring)."""
    net = ctx.component("network")
    edge = ctx.stack.specs.get("edge")
    domain = None
    if edge is not None and ctx.stack.domain:
        zone = ctx.stack.dns_zone.name if ctx.stack.dns_zone is not None else None
        domain = Domain(name=ctx.stack.domain, zone=zone)
    return {
        "vpc_id": net.vpc_id, "public_subnet_ids": net.public_subnet_ids,
        "private_subnet_ids": net.private_subnet_ids, "lb_security_group_id": net.lb_security_group.id,
        "app_security_group_id": net.app_security_group.id,
        "https": Https(domain=domain, certificate_arn=None if domain else certificate_arn,
                       min_tls=edge.min_tls if edge is not None else "1.2"),
        "access_logs": ctx.stack.has("monitoring"),
        "lb_deletion_protection": ctx.stack.prod and not ctx.stack.release_data,
    }  # fmt: skip
