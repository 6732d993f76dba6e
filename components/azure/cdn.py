"""Azure CDN (saas profile): Front Door Standard in front of the private blob container."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import cdn

from mbops.components.azure.common import AzureComponent, AzureContext
from mbops.components.spec import CdnSpec
from mbops.components.wiring import BuildContext, Built

STORAGE_API_VERSION = "2024-11-04"  # Entra-authorised blob requests must name a service version


def cache_duration(seconds: int) -> str:
    """Front Door's ``d.hh:mm:ss`` duration."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02}:{minutes:02}:{secs:02}"


@dataclass(kw_only=True)
class CdnArgs:
    ctx: AzureContext
    blob_host: str
    container: str
    storage_account_id: pulumi.Input[str]
    spec: CdnSpec = field(default_factory=CdnSpec)


class Cdn(AzureComponent):
    """Front Door Standard profile, endpoint, origin group and route to the storage account's container.

    Origin access: the container stays private (no anonymous access, no keys); Front Door authenticates to
    Blob Storage with its system-assigned managed identity (origin authentication, a preview feature of
    Front Door), which gets "Storage Blob Data Reader" on the account, and a rule adds the ``x-ms-version``
    header that Entra-authorised blob reads need. What Front Door Standard cannot do is reach the account
    privately: Private Link origins need Premium, so the account keeps its public endpoint (requests
    without an Entra token are refused). HTTP redirects to HTTPS, the origin is called over HTTPS only, and
    the azurefd.net endpoint accepts TLS 1.2+ only. Objects without Cache-Control are cached for
    ``default_ttl_s``. ``price_class`` has no Front Door counterpart (every edge, pay per use).
    Children: ``profile``, ``endpoint``, ``origin_group``, ``origin``, ``rule_set``, ``rule``, ``route``,
    ``origin_reader``.
    """

    kind = "cdn"

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx = args.ctx
        profile_name = ctx.name("afd", 260, unique=False)
        endpoint_name = ctx.name("cdn", 46)
        names = {"resource_group_name": ctx.resource_group_name, "profile_name": profile_name}
        profile = cdn.Profile(
            f"{name}-profile",
            **self.args(
                "profile",
                **self.base(
                    profile_name=profile_name,
                    location="global",
                    sku={"name": "Standard_AzureFrontDoor"},
                    identity={"type": "SystemAssigned"},
                    origin_response_timeout_seconds=60,
                ),
            ),
            opts=self.opts(),
        )
        reader = self.grant(
            "origin_reader",
            role="Storage Blob Data Reader",
            scope=args.storage_account_id,
            principal_id=profile.identity.apply(lambda i: i.principal_id if i else None),
            key="frontdoor-blob",
        )
        self.endpoint = cdn.AFDEndpoint(
            f"{name}-endpoint",
            **self.args(
                "endpoint",
                **names,
                endpoint_name=endpoint_name,
                location="global",
                enabled_state="Enabled",
                auto_generated_domain_name_label_scope="TenantReuse",
                tags=dict(self.tags),
            ),
            opts=self.opts(depends_on=[profile]),
        )
        group = cdn.AFDOriginGroup(
            f"{name}-origin-group",
            **self.args(
                "origin_group",
                **names,
                origin_group_name="storage",
                load_balancing_settings={
                    "sample_size": 4,
                    "successful_samples_required": 3,
                    "additional_latency_in_milliseconds": 50,
                },
                authentication={
                    "type": "SystemAssignedIdentity",
                    "scope": "https://storage.azure.com/.default",
                },
                session_affinity_state="Disabled",
            ),
            opts=self.opts(depends_on=[profile, reader]),
        )
        origin = cdn.AFDOrigin(
            f"{name}-origin",
            **self.args(
                "origin",
                **names,
                origin_group_name="storage",
                origin_name="blob",
                host_name=args.blob_host,
                origin_host_header=args.blob_host,
                http_port=80,
                https_port=443,
                priority=1,
                weight=1000,
                enabled_state="Enabled",
                enforce_certificate_name_check=True,
            ),
            opts=self.opts(depends_on=[group]),
        )
        rule_set = cdn.RuleSet(
            f"{name}-rule-set",
            **self.args("rule_set", **names, rule_set_name="storage"),
            opts=self.opts(depends_on=[profile]),
        )
        rule = cdn.Rule(
            f"{name}-rule",
            **self.args(
                "rule",
                **names,
                rule_set_name="storage",
                rule_name="blobauth",
                order=1,
                match_processing_behavior="Continue",
                conditions=[],
                actions=[
                    {
                        "name": "ModifyRequestHeader",
                        "parameters": {
                            "type_name": "DeliveryRuleHeaderActionParameters",
                            "header_action": "Overwrite",
                            "header_name": "x-ms-version",
                            "value": STORAGE_API_VERSION,
                        },
                    },
                    {
                        "name": "RouteConfigurationOverride",
                        "parameters": {
                            "type_name": "DeliveryRuleRouteConfigurationOverrideActionParameters",
                            "cache_configuration": {
                                "cache_behavior": "OverrideIfOriginMissing",
                                "cache_duration": cache_duration(args.spec.default_ttl_s),
                                "query_string_caching_behavior": "IgnoreQueryString",
                                "is_compression_enabled": "Enabled",
                            },
                        },
                    },
                ],
            ),
            opts=self.opts(depends_on=[rule_set]),
        )
        cdn.Route(
            f"{name}-route",
            **self.args(
                "route",
                **names,
                endpoint_name=endpoint_name,
                route_name="files",
                origin_group={"id": group.id},
                origin_path=f"/{args.container}",
                patterns_to_match=["/*"],
                supported_protocols=["Http", "Https"],
                https_redirect="Enabled",
                forwarding_protocol="HttpsOnly",
                link_to_default_domain="Enabled",
                enabled_state="Enabled",
                rule_sets=[{"id": rule_set.id}],
                cache_configuration={
                    "query_string_caching_behavior": "IgnoreQueryString",
                    "compression_settings": {
                        "is_compression_enabled": True,
                        "content_types_to_compress": [
                            "text/html",
                            "text/css",
                            "application/javascript",
                            "application/json",
                            "image/svg+xml",
                        ],
                    },
                },
            ),
            opts=self.opts(depends_on=[self.endpoint, origin, rule]),
        )
        self.url = self.endpoint.host_name.apply(lambda h: f"https://{h}" if h else None)
        self.finish({"url": self.url, "profile": profile_name, "endpoint": endpoint_name})


def build(ctx: BuildContext) -> Built:
    """Front Door in front of the stack's storage container (``CDN_URL``)."""
    storage = ctx.component("storage")
    front_door = Cdn(
        ctx.name,
        CdnArgs(
            ctx=ctx.foundation.azure,
            spec=ctx.spec,
            blob_host=storage.blob_host,
            container=storage.container_name,
            storage_account_id=storage.account.id,
        ),
    )
    return Built(component=front_door, env={"CDN_URL": front_door.url}, outputs={"cdn_url": front_door.url})
