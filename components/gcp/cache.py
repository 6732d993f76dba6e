"""GCP cache: Memorystore for Redis on a private IP, AUTH and in-transit encryption on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, SecretRef, built, gcp_name, stack_args
from mbops.components.gcp.network import Network
from mbops.components.spec import CacheSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError

MEMORY_GB = {"small": 1, "medium": 5, "large": 16}
# Memorystore's weekly maintenance window: Saturday 04:00 UTC, a day before Cloud SQL's (database.py), so the
# cache and the database are never in maintenance together.
MAINTENANCE_DAY, MAINTENANCE_HOUR = "SATURDAY", 4
# Memorystore's Redis versions; a requested minor that Memorystore skipped maps to the next one it has.
REDIS_VERSIONS = {
    "7.2": "REDIS_7_2",
    "7.1": "REDIS_7_2",
    "7": "REDIS_7_2",
    "7.0": "REDIS_7_0",
    "6": "REDIS_6_X",
    "6.0": "REDIS_6_X",
    "6.2": "REDIS_6_X",
    "5": "REDIS_5_0",
    "5.0": "REDIS_5_0",
}


@dataclass(kw_only=True)
class CacheArgs(GcpArgs):
    spec: CacheSpec = field(default_factory=CacheSpec)
    network: Network
    deletion_protection: bool = False


def redis_version(version: str) -> str:
    """Memorystore's ``REDIS_x_y`` for a spec version; a ConfigError lists what GCP offers."""
    try:
        return REDIS_VERSIONS[version]
    except KeyError:
        raise ConfigError(
            f"components.cache.engine_version: Memorystore for Redis has no {version}; "
            f"allowed: {', '.join(sorted(REDIS_VERSIONS))}"
        ) from None


class Cache(GcpComponent):
    """Memorystore for Redis: BASIC, or STANDARD_HA (replica in the network's second zone, primary in its first,
    automatic failover) with ``ha``; reachable only through private service access in the stack's VPC (no
    public endpoint), AUTH required, TLS (``SERVER_AUTHENTICATION``, port 6378). The app gets ``REDIS_URL``
    (``rediss://:<auth>@host:6378/0``) only from Secret Manager (``url``) and the instance's CA certificate as
    ``ca_certificate`` (public). Memorystore for Redis has no IAM authentication (only its Cluster and Valkey
    offerings do): the AUTH string, kept only in Secret Manager, is the credential. Maintenance on Saturdays
    04:00 UTC (Cloud SQL's is on Sundays). Deletion protection in prod, off when the stack releases its data.
    The instance keeps the zones it was created in (``ignore_changes``): moving it would replace it, and a
    failover swaps the primary's and the replica's zones anyway.

    Children: ``instance``, ``url_secret``, ``url_secret_version``.
    """

    kind = "cache"
    apis = ("redis.googleapis.com", "secretmanager.googleapis.com")

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        instance_args = self.args(
            "instance",
            project=self.project,
            region=self.region,
            name=gcp_name(args.stack, "redis", limit=40),
            display_name=f"mbops {args.stack} cache",
            tier="STANDARD_HA" if spec.ha else "BASIC",
            memory_size_gb=MEMORY_GB[spec.size],
            redis_version=redis_version(spec.engine_version),
            authorized_network=args.network.network_id,
            location_id=args.network.zone_names.apply(lambda z: z[0]),
            **({"alternative_location_id": args.network.zone_names.apply(lambda z: z[1])} if spec.ha else {}),
            connect_mode="PRIVATE_SERVICE_ACCESS",
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            redis_configs={"maxmemory-policy": "allkeys-lru"},
            maintenance_policy={
                "weekly_maintenance_windows": [
                    {"day": MAINTENANCE_DAY, "start_time": {"hours": MAINTENANCE_HOUR, "minutes": 0}}
                ]
            },
            deletion_protection=args.deletion_protection and not self.release_data,
            labels=self.labels,
        )
        self.instance = gcp.redis.Instance(
            f"{name}-redis", **instance_args,
            opts=self.opts(depends_on=[args.network.psa_connection],
                           ignore_changes=["locationId", "alternativeLocationId"]),
        )  # fmt: skip
        self.instance_id = f"projects/{self.project}/locations/{self.region}/instances/{instance_args['name']}"
        url = pulumi.Output.format(
            "rediss://:{0}@{1}:{2}/0", self.instance.auth_string, self.instance.host, self.instance.port
        )
        self.url: SecretRef = self.secret("url_secret", "REDIS_URL", args.stack, pulumi.Output.secret(url))
        self.host = self.instance.host
        self.ca_certificate = self.instance.server_ca_certs.apply(
            lambda certs: certs[0].cert if certs else ""
        )
        self.finish(
            {"host": self.instance.host, "port": self.instance.port, "url_secret": self.url.secret_id}
        )


def build(ctx: BuildContext) -> Built:
    """Memorystore in the stack's VPC: ``REDIS_URL`` from Secret Manager, ``REDIS_CA_CERT`` as plain env."""
    cache = Cache(
        ctx.name,
        CacheArgs(spec=ctx.spec, network=ctx.component("network"),
                  deletion_protection=ctx.stack.prod, **stack_args(ctx.stack)),
    )  # fmt: skip
    return built(
        cache, env={"REDIS_CA_CERT": cache.ca_certificate}, secrets={"REDIS_URL": cache.url},
        outputs={"redis_host": cache.host},
    )  # fmt: skip
