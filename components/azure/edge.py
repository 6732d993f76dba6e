"""Azure edge: Front Door Premium with a WAF in front of the app, on the stack's domain with a managed certificate.

One implementation for every profile: Container Apps (managed, saas) and the VM scale set (custom) alike sit
behind Front Door Premium, which reaches them over Private Link only (the Container Apps environment's public
network access is off; the scale set's load balancer is internal, behind a Private Link Service), so the WAF
cannot be bypassed. Why not Application Gateway for ``custom``: it needs a certificate mbops cannot get for
free (Azure has no managed certificate for Application Gateway; a Key Vault certificate needs an issuer),
while Front Door manages and renews the domain's certificate itself, and one edge for all three profiles
is one thing to learn. Premium, not Standard: Private Link origins and the WAF's managed rule sets
(Standard takes custom rules only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import cdn, dns, frontdoor

from mbops.components.azure.arm import PrivateLinkApproval, arm_token, request_message
from mbops.components.azure.common import AzureComponent, AzureContext
from mbops.components.spec import EdgeSpec
from mbops.components.wiring import APP_KINDS, BuildContext, Built
from mbops.errors import ConfigError

ORIGIN_MESSAGE = "mbops: Front Door to the stack's app"
MANAGED_RULE_SETS = (("Microsoft_DefaultRuleSet", "2.1"), ("Microsoft_BotManagerRuleSet", "1.1"))
TLS = {"1.2": "TLS12", "1.3": "TLS13"}


@dataclass(kw_only=True)
class Origin:
    """How Front Door reaches the app privately: the Private Link target and the host it calls."""

    target_id: pulumi.Input[str]  # Container Apps environment or Private Link Service
    target_type: str  # its ARM type (see arm.CONNECTION_API)
    host: pulumi.Input[str]
    https: bool  # Container Apps: HTTPS with its certificate; the scale set: HTTP inside Private Link
    group_id: str | None = None  # the private link sub-resource (None for a Private Link Service)


@dataclass(kw_only=True)
class EdgeArgs:
    ctx: AzureContext
    origin: Origin
    health_path: str
    domain: str | None = None
    dns_zone: Any = None  # stacks.config.DnsZone (name, resource_group)
    profile: Any = None  # the CDN's Premium profile to share: (resource, name); None: the edge makes its own
    cdn_endpoint: Any = None  # the CDN's endpoint: the WAF covers it too
    spec: EdgeSpec = field(default_factory=EdgeSpec)


def relative_name(domain: str, zone: str) -> str:
    """``domain`` relative to ``zone`` (``@`` for the apex)."""
    return "@" if domain == zone else domain.removesuffix(f".{zone}")


class Edge(AzureComponent):
    """Front Door Premium endpoint, route and origin for the app, a WAF policy and the domain.

    - Domain: ``domain`` as a Front Door custom domain with a Front Door managed certificate (issued and
      renewed by Azure after the ``_dnsauth`` TXT validation), minimum TLS ``min_tls``. With ``dns_zone``
      (an Azure DNS zone; ``resource_group`` names its group) mbops writes the validation TXT and the
      CNAME (an alias A record at the apex); without it the plan outputs them as ``dns_records``. The route
      serves the domain only (the azurefd.net name is not linked): HTTP redirects to HTTPS. Without a
      ``domain`` (a policy finding in prod) the route serves the endpoint's azurefd.net name over HTTPS.
    - WAF (``waf``): Prevention mode, request body inspection, the managed Default Rule Set 2.1 (OWASP) and
      Bot Manager 1.1 (``managed_rules``), and a per-client-IP rate limit of ``rate_limit`` requests per 5
      minutes, attached to the domain and to the CDN's endpoint when they share the profile.
    - Origin: the app over Private Link (approved by ``origin_approval``: the request message carries a random
      nonce drawn once per deployment, ``origin_nonce``), health-probed on the app's health path; the API is
      never cached.
    Children: ``profile`` (unless the CDN's is shared), ``endpoint``, ``waf_policy``, ``security_policy``,
    ``custom_domain``, ``origin_group``, ``origin``, ``route``, ``dns_validation``, ``dns_record``.
    """

    kind = "edge"

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec, origin = args.ctx, args.spec, args.origin
        if args.profile is not None:
            profile, profile_name = args.profile
        else:
            profile_name = ctx.name("afd", 260, unique=False)
            profile = cdn.Profile(
                f"{name}-profile",
                **self.args(
                    "profile",
                    **self.base(
                        profile_name=profile_name, location="global", sku=cdn.SkuArgs(name="Premium_AzureFrontDoor"),
                        origin_response_timeout_seconds=60,
                    ),
                ),
                opts=self.opts(),
            )  # fmt: skip
        self.profile, self.profile_name = profile, profile_name
        names = {"resource_group_name": ctx.resource_group_name, "profile_name": profile_name}
        endpoint_name = ctx.name("app", 46)
        self.endpoint = cdn.AFDEndpoint(
            f"{name}-endpoint",
            **self.args(
                "endpoint", **names, endpoint_name=endpoint_name, location="global", enabled_state="Enabled",
                auto_generated_domain_name_label_scope="TenantReuse", tags=dict(self.tags),
            ),
            opts=self.opts(depends_on=[profile]),
        )  # fmt: skip
        self.custom_domain = self._domain(name, args, names) if args.domain else None
        group = cdn.AFDOriginGroup(
            f"{name}-origin-group",
            **self.args(
                "origin_group",
                **names,
                origin_group_name="app",
                load_balancing_settings=cdn.LoadBalancingSettingsParametersArgs(
                    sample_size=4, successful_samples_required=3, additional_latency_in_milliseconds=50
                ),
                health_probe_settings=cdn.HealthProbeParametersArgs(
                    probe_path=args.health_path, probe_protocol="Https" if origin.https else "Http",
                    probe_request_type="GET", probe_interval_in_seconds=30,
                ),
                session_affinity_state="Disabled",
            ),
            opts=self.opts(depends_on=[profile]),
        )  # fmt: skip
        message = request_message(self, f"{name}-origin-nonce", ORIGIN_MESSAGE)
        self.origin = cdn.AFDOrigin(
            f"{name}-origin",
            **self.args(
                "origin",
                **names,
                origin_group_name="app",
                origin_name="app",
                host_name=origin.host,
                origin_host_header=origin.host,
                http_port=80,
                https_port=443,
                priority=1,
                weight=1000,
                enabled_state="Enabled",
                enforce_certificate_name_check=True,
                shared_private_link_resource=cdn.SharedPrivateLinkResourcePropertiesArgs(
                    private_link=cdn.ResourceReferenceArgs(id=origin.target_id), group_id=origin.group_id,
                    private_link_location=ctx.location, request_message=message,
                ),
            ),
            opts=self.opts(depends_on=[group]),
        )  # fmt: skip
        self.approval = PrivateLinkApproval(
            f"{name}-origin-approval", target_id=origin.target_id, target_type=origin.target_type,
            request_message=message, token=arm_token(self, after=[self.origin]),
            opts=self.opts(depends_on=[self.origin]),
        )  # fmt: skip
        domains = [cdn.ActivatedResourceReferenceArgs(id=self.custom_domain.id)] if self.custom_domain else []
        self.route = cdn.Route(
            f"{name}-route",
            **self.args(
                "route",
                **names,
                endpoint_name=endpoint_name,
                route_name="app",
                origin_group=cdn.ResourceReferenceArgs(id=group.id),
                custom_domains=domains,
                link_to_default_domain="Disabled" if domains else "Enabled",
                patterns_to_match=["/*"],
                supported_protocols=["Http", "Https"],
                https_redirect="Enabled",
                forwarding_protocol="HttpsOnly" if origin.https else "HttpOnly",
                enabled_state="Enabled",
            ),
            opts=self.opts(depends_on=[self.endpoint, self.origin, self.approval, *(
                [self.custom_domain] if self.custom_domain else [])]),
        )  # fmt: skip
        self.waf_policy = self._waf(name, args, names, domains) if spec.waf else None
        host = args.domain or self.endpoint.host_name
        self.url = pulumi.Output.concat("https://", host)
        self.finish({"url": self.url, "profile": profile_name, "endpoint": endpoint_name})

    def _domain(self, name: str, args: EdgeArgs, names: dict[str, str]) -> cdn.AFDCustomDomain:
        ctx, zone, domain = args.ctx, args.dns_zone, str(args.domain)
        zone_id = None
        if zone is not None:
            if not zone.resource_group:
                raise ConfigError(
                    f"dns_zone.resource_group: give the resource group of the Azure DNS zone {zone.name} "
                    "(mbops writes the domain's records there)"
                )
            zone_id = (
                f"/subscriptions/{zone.subscription or ctx.subscription_id}/resourceGroups/{zone.resource_group}"
                f"/providers/Microsoft.Network/dnszones/{zone.name}"
            )
        custom = cdn.AFDCustomDomain(
            f"{name}-custom-domain",
            **self.args(
                "custom_domain",
                **names,
                custom_domain_name=domain.replace(".", "-"),
                host_name=domain,
                tls_settings=cdn.AFDDomainHttpsParametersArgs(
                    certificate_type="ManagedCertificate", minimum_tls_version=TLS[args.spec.min_tls]
                ),
                azure_dns_zone=cdn.ResourceReferenceArgs(id=zone_id) if zone_id else None,
            ),
            opts=self.opts(depends_on=[self.endpoint]),
        )
        token = custom.validation_properties.apply(lambda v: v.validation_token if v else None)
        target = self.endpoint.host_name
        if zone is None:
            self.dns_records: list[dict[str, Any]] = [
                {"name": f"_dnsauth.{domain}", "type": "TXT", "value": token,
                 "purpose": "proves the domain to Front Door, which then issues and renews its certificate"},
                {"name": domain, "type": "CNAME", "value": target,
                 "purpose": "sends the domain to the Front Door endpoint (an alias/ANAME record at a zone apex)"},
            ]  # fmt: skip
            return custom
        self.dns_records = []
        relative = relative_name(domain, zone.name)
        in_zone = {"resource_group_name": zone.resource_group, "zone_name": zone.name, "ttl": 3600}
        # A zone in another subscription (dns_zone.subscription): its records go through a provider signed in there.
        zone_provider = None
        if zone.subscription and zone.subscription != ctx.subscription_id:
            import pulumi_azure_native as azure_native

            zone_provider = azure_native.Provider(
                f"{name}-dns-provider", subscription_id=zone.subscription, opts=self.opts()
            )
        validation = "_dnsauth" if relative == "@" else f"_dnsauth.{relative}"
        dns.RecordSet(
            f"{name}-dns-validation",
            **self.args(
                "dns_validation", **in_zone, relative_record_set_name=validation, record_type="TXT",
                txt_records=[dns.TxtRecordArgs(value=[token])],
            ),
            opts=self.opts(depends_on=[custom], provider=zone_provider),
        )  # fmt: skip
        record: dict[str, Any] = (
            {"record_type": "A", "target_resource": dns.SubResourceArgs(id=self.endpoint.id)}
            if relative == "@" else {"record_type": "CNAME", "cname_record": dns.CnameRecordArgs(cname=target)}
        )  # fmt: skip
        dns.RecordSet(
            f"{name}-dns-record",
            **self.args("dns_record", **in_zone, relative_record_set_name=relative, **record),
            opts=self.opts(depends_on=[self.endpoint], provider=zone_provider),
        )
        return custom

    def _waf(
        self, name: str, args: EdgeArgs, names: dict[str, str], domains: list[cdn.ActivatedResourceReferenceArgs]
    ) -> frontdoor.Policy:
        ctx, spec = args.ctx, args.spec
        managed = [
            frontdoor.ManagedRuleSetArgs(rule_set_type=kind, rule_set_version=version, rule_set_action="Block")
            for kind, version in MANAGED_RULE_SETS
        ] if spec.managed_rules else []  # fmt: skip
        policy = frontdoor.Policy(
            f"{name}-waf",
            **self.args(
                "waf_policy",
                resource_group_name=ctx.resource_group_name,
                policy_name=ctx.name("waf", 128, alnum=True),
                location="Global",
                tags=dict(self.tags),
                sku=frontdoor.SkuArgs(name="Premium_AzureFrontDoor"),
                policy_settings=frontdoor.PolicySettingsArgs(
                    enabled_state="Enabled", mode="Prevention", request_body_check="Enabled",
                    custom_block_response_status_code=403,
                ),
                managed_rules=frontdoor.ManagedRuleSetListArgs(managed_rule_sets=managed),
                custom_rules=frontdoor.CustomRuleListArgs(rules=[
                    frontdoor.CustomRuleArgs(
                        name="PerIpRateLimit", priority=100, enabled_state="Enabled", rule_type="RateLimitRule",
                        rate_limit_duration_in_minutes=5, rate_limit_threshold=spec.rate_limit, action="Block",
                        group_by=[frontdoor.GroupByVariableArgs(variable_name="SocketAddr")],
                        match_conditions=[frontdoor.MatchConditionArgs(
                            match_variable="SocketAddr", operator="IPMatch", match_value=["0.0.0.0/0", "::/0"],
                        )],
                    ),
                ]),
            ),
            opts=self.opts(),
        )  # fmt: skip
        covered = list(domains) or [cdn.ActivatedResourceReferenceArgs(id=self.endpoint.id)]
        if args.cdn_endpoint is not None:
            covered.append(cdn.ActivatedResourceReferenceArgs(id=args.cdn_endpoint.id))
        cdn.SecurityPolicy(
            f"{name}-security-policy",
            **self.args(
                "security_policy",
                **names,
                security_policy_name="waf",
                parameters=cdn.SecurityPolicyWebApplicationFirewallParametersArgs(
                    type="WebApplicationFirewall",
                    waf_policy=cdn.ResourceReferenceArgs(id=policy.id),
                    associations=[cdn.SecurityPolicyWebApplicationFirewallAssociationArgs(
                        domains=covered, patterns_to_match=["/*"]
                    )],
                ),
            ),
            opts=self.opts(depends_on=[policy, self.endpoint, *([self.custom_domain] if self.custom_domain else [])]),
        )  # fmt: skip
        return policy


def app_origin(ctx: BuildContext) -> Origin:
    """How Front Door reaches the stack's app (built before the edge)."""
    kind = next(k for k in APP_KINDS if k in ctx.built)
    app = ctx.built[kind].component
    if kind == "servers":
        return Origin(
            target_id=app.private_link_service.id, target_type="Microsoft.Network/privateLinkServices",
            host=app.private_ip, https=False,
        )  # fmt: skip
    return Origin(
        target_id=app.environment.id, target_type="Microsoft.App/managedEnvironments", host=app.fqdn, https=True,
        group_id="managedEnvironments",
    )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """Front Door Premium + WAF in front of the app; the ``endpoint`` output becomes ``https://<domain>``."""
    stack, shared = ctx.stack, ctx.built.get("cdn")
    cdn_comp = shared.component if shared is not None else None
    edge = Edge(
        ctx.name,
        EdgeArgs(
            ctx=ctx.foundation.azure, spec=ctx.spec, origin=app_origin(ctx), health_path=stack.app.health_path,
            domain=stack.domain, dns_zone=stack.dns_zone,
            profile=(cdn_comp.profile, cdn_comp.profile_name) if cdn_comp is not None else None,
            cdn_endpoint=cdn_comp.endpoint if cdn_comp is not None else None,
        ),
    )  # fmt: skip
    outputs: dict[str, Any] = {"endpoint": edge.url}
    if edge.custom_domain is not None and edge.dns_records:
        outputs["dns_records"] = edge.dns_records
    return Built(component=edge, outputs=outputs)
