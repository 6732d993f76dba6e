"""AWS cache: an ElastiCache Redis replication group in the private subnets, encrypted, with an auth token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mbops.components.aws.database import final_snapshot_name
from mbops.components.aws.network import data_tier_security_group
from mbops.components.aws.secrets import recovery_days, secret_prefix, stored_secret
from mbops.components.base import MbopsComponent
from mbops.components.spec import CacheSpec
from mbops.components.wiring import BuildContext, Built

NODE_TYPES = {"small": "cache.t4g.micro", "medium": "cache.t4g.medium", "large": "cache.r6g.large"}
PORT = 6379


@dataclass(kw_only=True)
class CacheArgs:
    spec: CacheSpec = field(default_factory=CacheSpec)
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    app_security_group_id: pulumi.Input[str]
    secret_prefix: str
    secret_recovery_days: int = 7
    prod: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class Cache(MbopsComponent):
    """Redis on ElastiCache: TLS in transit, encrypted at rest, AUTH token, reachable from the app tier only.

    With ``ha`` the group has a primary and a replica in different zones with automatic failover; in prod
    daily snapshots are kept for 7 days and deleting the group leaves a final one (``<name>-final-<random>``: a
    stack created again can be deleted again). The app gets ``REDIS_URL`` (``rediss://:<token>@<host>:6379/0``)
    from the Secrets Manager secret ``redis_url_secret_arn``, never as a plain value.

    Children: ``subnet_group``, ``security_group``, ``auth_token``, ``final_snapshot_suffix`` (prod),
    ``replication_group``, ``url_secret``, ``url_secret_version``.
    """

    kind = "cache"

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        tags = self.tags
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            **self.args(
                "subnet_group",
                subnet_ids=list(args.subnet_ids),
                description=f"{name}: private subnets",
                tags=tags,
            ),
            opts=self.opts(),
        )
        self.security_group = data_tier_security_group(
            self, name, vpc_id=args.vpc_id, port=PORT, app_security_group_id=args.app_security_group_id,
            service="Redis",
        )  # fmt: skip
        token = random.RandomPassword(
            f"{name}-auth-token", **self.args("auth_token", length=64, special=False), opts=self.opts()
        )
        snapshot_days = 7 if args.prod else 0
        final = final_snapshot_name(self, name, name) if args.prod else None
        if not args.prod:
            self.args("final_snapshot_suffix")
        self.replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            **self.args(
                "replication_group",
                description=f"{name} (mbops)",
                engine="redis",
                engine_version=spec.engine_version,
                node_type=NODE_TYPES[spec.size],
                port=PORT,
                num_cache_clusters=2 if spec.ha else 1,
                automatic_failover_enabled=spec.ha,
                multi_az_enabled=spec.ha,
                subnet_group_name=subnet_group.name,
                security_group_ids=[self.security_group.id],
                at_rest_encryption_enabled=True,
                transit_encryption_enabled=True,
                auth_token=token.result,
                auto_minor_version_upgrade=True,
                snapshot_retention_limit=snapshot_days,
                snapshot_window="03:00-04:00" if snapshot_days else None,
                maintenance_window="sun:05:00-sun:06:00",
                final_snapshot_identifier=final,
                tags=tags,
            ),
            opts=self.opts(),
        )
        self.host = self.replication_group.primary_endpoint_address
        url = pulumi.Output.format("rediss://:{0}@{1}:{2}/0", token.result, self.host, PORT)
        self.url_secret, self.url_secret_version = stored_secret(
            self,
            f"{name}-url",
            "url_secret",
            secret_name="REDIS_URL",
            prefix=args.secret_prefix,
            value=url,
            recovery_days=args.secret_recovery_days,
            description="REDIS_URL of the stack's Redis (TLS, AUTH token)",
        )
        self.redis_url_secret_arn = self.url_secret.arn
        self.finish({"host": self.host, "redis_url_secret_arn": self.redis_url_secret_arn})


def build(ctx: BuildContext) -> Built:
    """Redis in the private subnets; the app gets ``REDIS_URL`` from Secrets Manager."""
    net = ctx.component("network")
    cache = Cache(
        ctx.name,
        CacheArgs(
            spec=ctx.spec, vpc_id=net.vpc_id, subnet_ids=net.private_subnet_ids,
            app_security_group_id=net.app_security_group.id, secret_prefix=secret_prefix(ctx.stack.physical_name),
            secret_recovery_days=recovery_days(ctx.stack), prod=ctx.stack.prod, tags=ctx.stack.tags,
        ),
    )  # fmt: skip
    return Built(
        component=cache, secrets={"REDIS_URL": cache.redis_url_secret_arn}, depends_on=[cache.url_secret_version],
        outputs={"redis_host": cache.host},
    )  # fmt: skip
