"""Azure CDN (saas profile): Front Door in front of the private blob container's public prefix."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import cdn

from mbops.components.azure.arm import PrivateLinkApproval, arm_token, request_message
from mbops.components.azure.common import AzureComponent, AzureContext
from mbops.components.spec import CdnSpec
from mbops.components.wiring import BuildContext, Built, Gap, StackInfo

STORAGE_API_VERSION = "2024-11-04"  # Entra-authorised blob requests must name a service version


def cache_duration(seconds: int) -> str:
    """Front Door's ``d.hh:mm:ss`` duration."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02}:{minutes:02}:{secs:02}"


def private_cdn(stack: StackInfo) -> bool:
    """Whether the stack's Front Door is Premium and reads storage over Private Link: it is when the stack has
    an edge (prod), which shares the profile (a WAF with managed rule sets needs Premium anyway)."""
    return stack.has("edge")


PRICE_CLASS_GAP = Gap(
    reason=(
        "cdn.price_class: Azure Front Door has no price classes (every edge location serves, priced per zone of "
        "the client), so economy/standard cannot be had; the stack gets global"
    ),
    alternative="price_class: global (the same result, stated)",
    partial=True,
)
ORIGIN_MESSAGE = "mbops: Front Door to the stack's public files"


@dataclass(kw_only=True)
class CdnArgs:
    ctx: AzureContext
    blob_host: str  # the public-assets account's blob endpoint (storage.py)
    container: str  # its public container
    storage_account_id: pulumi.Input[str]
    public_prefix: str = "public/"
    private: bool = False  # Premium profile, Private Link origin (shared with the edge)
    spec: CdnSpec = field(default_factory=CdnSpec)


class Cdn(AzureComponent):
    """Front Door profile, endpoint, origin group, origin and a route serving only the public prefix
    (``storage.public_prefix``, ``/public/*``) from the stack's public-assets account (``storage.py``): user
    uploads live in another account the CDN cannot reach, so they are never served or cached, and no cache
    keeps a deleted private object.

    Origin access: in dev the profile is Standard and reads the account's public endpoint, signing each read
    with its system-assigned managed identity (origin authentication; "Storage Blob Data Reader" on that
    account, ``origin_reader``) - the ``blobauth`` rule sets the ``x-ms-version`` header Entra-authorised blob
    reads need; the account refuses anonymous requests. With an edge (prod) the profile is Premium - shared
    with the edge's app route and WAF - and reaches the account over Private Link (``blob``), approved by
    ``origin_approval``: Front Door cannot use its identity on a Private Link origin, so the public container
    allows anonymous reads while the account's firewall admits nobody else from the internet.
    HTTP redirects to HTTPS, the origin is called over HTTPS only, and the azurefd.net endpoint accepts TLS
    1.2+ only. Objects without Cache-Control are cached for ``default_ttl_s``. ``price_class`` has no Front
    Door counterpart (a declared partial gap unless ``global``).
    Children: ``profile``, ``endpoint``, ``origin_group``, ``origin``, ``rule_set``, ``rule``, ``route``,
    and ``origin_reader`` (dev) or ``origin_approval`` (Private Link).
    """

    kind = "cdn"

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx = args.ctx
        self.request_message: pulumi.Input[str] = (
            request_message(self, f"{name}-origin-nonce", ORIGIN_MESSAGE) if args.private else ORIGIN_MESSAGE
        )
        self.profile_name = ctx.name("afd", 260, unique=False)
        endpoint_name = ctx.name("cdn", 46)
        names = {"resource_group_name": ctx.resource_group_name, "profile_name": self.profile_name}
        self.profile = cdn.Profile(
            f"{name}-profile",
            **self.args(
                "profile",
                **self.base(
                    profile_name=self.profile_name,
                    location="global",
                    sku=cdn.SkuArgs(name="Premium_AzureFrontDoor" if args.private else "Standard_AzureFrontDoor"),
                    identity=cdn.ManagedServiceIdentityArgs(type="SystemAssigned"),
                    origin_response_timeout_seconds=60,
                ),
            ),
            opts=self.opts(),
        )
        signed = not args.private  # origin authentication: not available on Private Link origins
        reader = [self.grant(
            "origin_reader", role="Storage Blob Data Reader", scope=args.storage_account_id,
            principal_id=self.profile.identity.apply(lambda i: i.principal_id if i else None),
            key="frontdoor-public-blob",
        )] if signed else []  # fmt: skip
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
            opts=self.opts(depends_on=[self.profile]),
        )
        group = cdn.AFDOriginGroup(
            f"{name}-origin-group",
            **self.args(
                "origin_group",
                **names,
                origin_group_name="storage",
                load_balancing_settings=cdn.LoadBalancingSettingsParametersArgs(
                    sample_size=4, successful_samples_required=3, additional_latency_in_milliseconds=50
                ),
                authentication=cdn.OriginAuthenticationPropertiesArgs(
                    type="SystemAssignedIdentity", scope="https://storage.azure.com/.default"
                ) if signed else None,
                session_affinity_state="Disabled",
            ),
            opts=self.opts(depends_on=[self.profile, *reader]),
        )
        private_link = (
            cdn.SharedPrivateLinkResourcePropertiesArgs(
                private_link=cdn.ResourceReferenceArgs(id=args.storage_account_id), group_id="blob",
                private_link_location=ctx.location, request_message=self.request_message,
            )
            if args.private else None
        )  # fmt: skip
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
                shared_private_link_resource=private_link,
            ),
            opts=self.opts(depends_on=[group]),
        )
        ready: list[pulumi.Resource] = [origin]
        if args.private:
            ready.append(PrivateLinkApproval(
                f"{name}-origin-approval", target_id=args.storage_account_id,
                target_type="Microsoft.Storage/storageAccounts", request_message=self.request_message,
                token=arm_token(self, after=[origin]), opts=self.opts(depends_on=[origin]),
            ))  # fmt: skip
        rule_set = cdn.RuleSet(
            f"{name}-rule-set",
            **self.args("rule_set", **names, rule_set_name="storage"),
            opts=self.opts(depends_on=[self.profile]),
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
                    cdn.DeliveryRuleRequestHeaderActionArgs(
                        name="ModifyRequestHeader",
                        parameters=cdn.HeaderActionParametersArgs(
                            type_name="DeliveryRuleHeaderActionParameters", header_action="Overwrite",
                            header_name="x-ms-version", value=STORAGE_API_VERSION,
                        ),
                    ),
                    cdn.DeliveryRuleRouteConfigurationOverrideActionArgs(
                        name="RouteConfigurationOverride",
                        parameters=cdn.RouteConfigurationOverrideActionParametersArgs(
                            type_name="DeliveryRuleRouteConfigurationOverrideActionParameters",
                            cache_configuration=cdn.CacheConfigurationArgs(
                                cache_behavior="OverrideIfOriginMissing",
                                cache_duration=cache_duration(args.spec.default_ttl_s),
                                query_string_caching_behavior="IgnoreQueryString",
                                is_compression_enabled="Enabled",
                            ),
                        ),
                    ),
                ],
            ),
            opts=self.opts(depends_on=[rule_set]),
        )  # fmt: skip
        cdn.Route(
            f"{name}-route",
            **self.args(
                "route",
                **names,
                endpoint_name=endpoint_name,
                route_name="files",
                origin_group=cdn.ResourceReferenceArgs(id=group.id),
                origin_path=f"/{args.container}",
                patterns_to_match=[f"/{args.public_prefix}*"],
                supported_protocols=["Http", "Https"],
                https_redirect="Enabled",
                forwarding_protocol="HttpsOnly",
                link_to_default_domain="Enabled",
                enabled_state="Enabled",
                rule_sets=[cdn.ResourceReferenceArgs(id=rule_set.id)],
                cache_configuration=cdn.AfdRouteCacheConfigurationArgs(
                    query_string_caching_behavior="IgnoreQueryString",
                    compression_settings=cdn.CompressionSettingsArgs(
                        is_compression_enabled=True,
                        content_types_to_compress=[
                            "text/html", "text/css", "application/javascript", "application/json", "image/svg+xml",
                        ],
                    ),
                ),
            ),
            opts=self.opts(depends_on=[self.endpoint, *ready, rule]),
        )  # fmt: skip
        self.url = self.endpoint.host_name.apply(lambda h: f"https://{h}" if h else None)
        self.public_url = pulumi.Output.concat(self.url, f"/{args.public_prefix}")
        self.finish({"url": self.url, "profile": self.profile_name, "endpoint": endpoint_name})


def build(ctx: BuildContext) -> Built:
    """Front Door in front of the stack's storage container's public prefix (``CDN_URL``)."""
    storage = ctx.component("storage")  # built with public assets: the stack has a CDN
    front_door = Cdn(
        ctx.name,
        CdnArgs(
            ctx=ctx.foundation.azure,
            spec=ctx.spec,
            blob_host=storage.public_blob_host,
            container=storage.public_container_name,
            storage_account_id=storage.public_account.id,
            public_prefix=ctx.stack.specs["storage"].public_prefix,
            private=private_cdn(ctx.stack),
        ),
    )
    gap = PRICE_CLASS_GAP if ctx.spec.price_class != "global" else None
    return Built(
        component=front_door, env={"CDN_URL": front_door.url}, outputs={"cdn_url": front_door.url}, gap=gap
    )
