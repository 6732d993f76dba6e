"""A Cloud Run v2 service for the app, shared by the containers (managed) and serverless (saas) components.

The service runs as the app's own service account, gets the wiring's plain env (``app.env`` included),
every secret through ``value_source.secret_key_ref`` (a pinned Secret Manager version), and runs the image
the stack's registry pushed (by digest) or a prebuilt ``app.image``. Probes: a revision starts once the health
path answers (startup probe, up to 2 minutes); an instance is restarted only after its health path has failed for
``HEAL_AFTER_S`` (liveness probe): the health path reads the database, and a Cloud SQL failover must not restart
every instance at once.

Who may call it: a mobile backend is a public API that authenticates its users itself (Identity Platform /
app tokens), so the invoker IAM check is off (``invoker_iam_disabled``) rather than granting ``allUsers``,
which the common organization policy ``iam.allowedPolicyMemberDomains`` refuses. Overriding the ``invoker``
child (e.g. ``invoker.member: group:ops@example.com``) turns the check back on and grants that member only.
Where it is reached: its own ``https://*.run.app`` URL (Google-managed TLS) without an edge; with one (prod),
only through the external HTTPS load balancer (``INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER``) and its
``run.app`` URL is turned off (``default_uri_disabled``: internal ingress would still let the project's VPCs
call it past Cloud Armor), so Cloud Armor sees every request.

Logs: the service's logs go to a log bucket of the stack's (the spec's retention) and are excluded from the
project's ``_Default`` bucket, so they are stored (and billed) once. The bucket's id ends in a random suffix:
a deleted log bucket keeps its id for 7 days, so a fixed id would fail the ``up`` after a ``destroy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from mbops.components.gcp.app import AppIdentity
from mbops.components.gcp.common import HEAL_AFTER_S, GcpComponent, gcp_name
from mbops.components.gcp.logs import LogQuery
from mbops.components.spec import AppSpec
from mbops.components.wiring import AppWiring
from mbops.errors import ConfigError

# Cloud Run's CPU sizes and the most memory (MiB) each allows; 4 CPU need >= 2 GiB, 6-8 CPU >= 4 GiB.
CPU_MAX_MEMORY = {1: 4096, 2: 8192, 4: 16384, 6: 24576, 8: 32768}
CPU_MIN_MEMORY = {1: 128, 2: 128, 4: 2048, 6: 4096, 8: 4096}
LIVENESS_PERIOD_S = 60  # the liveness probe's period: HEAL_AFTER_S // 60 failures restart an instance
# Registries Cloud Run can pull from.
_NATIVE_REGISTRY = re.compile(
    r"^(([a-z0-9-]+\.)?gcr\.io|[a-z0-9-]+-docker\.pkg\.dev|docker\.io|index\.docker\.io)$"
)


@dataclass
class RunService:
    """The service, its name (known when planned: alert filters use it), the invoker binding, if any, and where
    its logs are."""

    service: gcp.cloudrunv2.Service
    name: str
    invoker: gcp.cloudrunv2.ServiceIamMember | None
    logs: LogQuery


@dataclass(kw_only=True)
class RunSettings:
    """How one Cloud Run service differs between the managed and saas profiles."""

    min_instances: int
    max_instances: int
    timeout_s: int = 300
    log_retention_days: int = 30
    deletion_protection: bool = False
    network: pulumi.Input[str] | None = None  # Direct VPC egress (PRIVATE_RANGES_ONLY) when set
    subnetwork: pulumi.Input[str] | None = None
    network_tags: tuple[str, ...] = ()
    behind_load_balancer: bool = False  # the stack's edge fronts it: ingress only from the load balancer


def cloud_run_limits(cpu: float, memory_mb: int) -> dict[str, str]:
    """Cloud Run CPU/memory limits for the app's request: the smallest allowed CPU that fits both.

    Fractional CPU would force one request per instance on Cloud Run, so the floor is 1 vCPU; memory is
    raised to the minimum a CPU size requires.
    """
    if cpu > 8 or memory_mb > CPU_MAX_MEMORY[8]:
        raise ConfigError(
            f"app: Cloud Run allows at most 8 vCPU and 32768 MiB (got cpu {cpu}, memory_mb {memory_mb})"
        )
    size = next(c for c in CPU_MAX_MEMORY if c >= cpu and CPU_MAX_MEMORY[c] >= memory_mb)
    return {"cpu": str(size), "memory": f"{max(memory_mb, CPU_MIN_MEMORY[size])}Mi"}


def split_image(image: str) -> tuple[str, str]:
    """(registry host, path[:tag|@digest]) of an image reference; Docker Hub when no host is named."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", image


def check_pullable(image: pulumi.Input[str]) -> None:
    """A ConfigError when a prebuilt image lives in a registry Cloud Run cannot pull from."""
    if not isinstance(image, str):
        return  # the stack's registry pushed it: Artifact Registry
    host, _ = split_image(image)
    if not _NATIVE_REGISTRY.match(host):
        raise ConfigError(
            f"app.image: Cloud Run pulls only from Artifact Registry (<region>-docker.pkg.dev), Container Registry "
            f"(gcr.io) and Docker Hub, not {host}; build it with app.build (pushed to the stack's Artifact "
            f"Registry) or copy {image} to one of those"
        )


def cloud_run_service(
    c: GcpComponent, stack: str, app: AppSpec, image: pulumi.Input[str], wiring: AppWiring, identity: AppIdentity,
    settings: RunSettings,
) -> RunService:
    """The app's Cloud Run v2 service running ``image``, its log bucket, sink and ``_Default`` exclusion, and the
    ``invoker`` binding when the invoker check is overridden back on.

    Children: ``log_bucket_suffix``, ``log_bucket``, ``log_sink``, ``log_exclusion``, ``service``, ``invoker``
    (only when overridden). ``PORT`` is set by Cloud Run from the container port.
    """
    name = c.resource_name
    envs: list[dict[str, object]] = [{"name": k, "value": v} for k, v in sorted(wiring.env.items())]
    envs += [
        {
            "name": env_name,
            "value_source": {"secret_key_ref": {"secret": ref.secret_id, "version": ref.version.version}},
        }
        for env_name, ref in sorted(wiring.secrets.items())
    ]
    probe = {"http_get": {"path": app.health_path, "port": app.port}}
    vpc = (
        {
            "vpc_access": {
                "egress": "PRIVATE_RANGES_ONLY",
                "network_interfaces": [
                    {
                        "network": settings.network,
                        "subnetwork": settings.subnetwork,
                        "tags": list(settings.network_tags),
                    }
                ],
            }
        }
        if settings.network is not None
        else {}
    )
    check_pullable(image)
    invoker_override: dict[str, Any] | None = c.spec.overrides.get("invoker")
    service_args = c.args(
        "service",
        project=c.project,
        location=c.region,
        name=gcp_name(stack, "app", limit=49),
        ingress="INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" if settings.behind_load_balancer else "INGRESS_TRAFFIC_ALL",
        default_uri_disabled=settings.behind_load_balancer,
        invoker_iam_disabled=invoker_override is None,
        deletion_protection=settings.deletion_protection,
        labels=c.labels,
        description=f"mbops {stack}: the app",
        template={
            "service_account": identity.email,
            "labels": c.labels,
            "timeout": f"{settings.timeout_s}s",
            "max_instance_request_concurrency": 80,
            "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
            "scaling": {
                "min_instance_count": settings.min_instances,
                "max_instance_count": settings.max_instances,
            },
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "ports": {"container_port": app.port, "name": "http1"},
                    "envs": envs,
                    "resources": {
                        "limits": cloud_run_limits(app.cpu, app.memory_mb),
                        "cpu_idle": True,
                        "startup_cpu_boost": True,
                    },
                    "startup_probe": {
                        **probe,
                        "initial_delay_seconds": 0,
                        "period_seconds": 5,
                        "timeout_seconds": 3,
                        "failure_threshold": 24,
                    },
                    "liveness_probe": {  # restarts an instance only after HEAL_AFTER_S of failures
                        **probe,
                        "period_seconds": LIVENESS_PERIOD_S,
                        "timeout_seconds": 10,
                        "failure_threshold": HEAL_AFTER_S // LIVENESS_PERIOD_S,
                    },
                }
            ],
            **vpc,
        },
    )
    log_filter = f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service_args["name"]}"'
    bucket_id, logs = _log_bucket(c, stack, log_filter, settings.log_retention_days)
    service = gcp.cloudrunv2.Service(
        f"{name}-service",
        **service_args,
        opts=c.opts(depends_on=[identity.propagated, *wiring.depends_on, *logs]),
    )
    invoker = None
    if invoker_override is not None:
        if not invoker_override.get("member"):
            raise ConfigError(f"components.{c.kind}.overrides.invoker: set member (e.g. group:ops@example.com)")
        invoker = gcp.cloudrunv2.ServiceIamMember(
            f"{name}-invoker",
            **c.args("invoker", project=c.project, location=c.region, name=service.name, role="roles/run.invoker"),
            opts=c.opts(),
        )
    return RunService(service=service, name=service_args["name"], invoker=invoker,
                      logs=LogQuery(filter=log_filter, bucket=bucket_id))  # fmt: skip


def _log_bucket(
    c: GcpComponent, stack: str, log_filter: str, retention_days: int
) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
    """A log bucket keeping the service's logs (``log_filter``) ``retention_days``, the sink routing them there,
    and their exclusion from the project's ``_Default`` bucket (which would store them again for 30 days);
    returns the bucket's id and the three resources."""
    suffix = random.RandomString(
        f"{c.resource_name}-logs-suffix",
        **c.args("log_bucket_suffix", length=4, special=False, upper=False), opts=c.opts(),
    )  # fmt: skip
    bucket_id = pulumi.Output.concat(gcp_name(stack, "app-logs", limit=95), "-", suffix.result)
    bucket = gcp.logging.ProjectBucketConfig(
        f"{c.resource_name}-logs",
        **c.args(
            "log_bucket",
            project=c.project,
            location=c.region,
            bucket_id=bucket_id,
            retention_days=retention_days,
            description=f"mbops {stack}: app logs",
        ),
        opts=c.opts(),
    )
    sink = gcp.logging.ProjectSink(
        f"{c.resource_name}-log-sink",
        **c.args(
            "log_sink",
            project=c.project,
            unique_writer_identity=True,
            destination=pulumi.Output.concat(
                "logging.googleapis.com/projects/", c.project, "/locations/", c.region, "/buckets/", bucket.bucket_id
            ),
            filter=log_filter,
        ),
        opts=c.opts(depends_on=[bucket]),
    )
    exclusion = gcp.logging.ProjectExclusion(
        f"{c.resource_name}-log-exclusion",
        **c.args("log_exclusion", project=c.project, name=gcp_name(stack, "app-logs", limit=100), filter=log_filter,
                 description=f"mbops {stack}: the app's logs are kept in its own log bucket, not again in _Default"),
        opts=c.opts(depends_on=[sink]),
    )  # fmt: skip
    return bucket_id, [bucket, sink, exclusion]
