"""Azure: what a plan configures, read from the inputs of its resources (see ``mbops.engine.facts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mbops.engine.facts import Entry, Fact, Reader, View, as_list, get, host_of, password, plural
from mbops.engine.fmt import number, span

SECRET_TYPES = ("azure-native:keyvault:Secret",)
JOB = "azure-native:app:Job"  # runs to completion for its component (setup): it serves no request
APP = "azure-native:app:ContainerApp"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
REDUNDANCY = {
    "LRS": "LRS: 3 copies in one datacenter",
    "ZRS": "ZRS: copies in 3 zones",
    "GRS": "GRS: 3 copies here + 3 in the paired region",
    "RAGRS": "RA-GRS: geo-replicated, readable in the paired region",
    "GZRS": "GZRS: 3 zones + the paired region",
    "RAGZRS": "RA-GZRS: 3 zones + the paired region, readable there",
}


def postgres(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    mode = get(i, "highAvailability", "mode", default="Disabled")
    yield Fact("ha", {
        "ZoneRedundant": "zone-redundant HA: a standby in another zone",
        "SameZone": "same-zone HA: a standby in the same zone",
    }.get(mode, "no HA standby"))  # fmt: skip
    yield Fact("scale", "no: the server bills every hour (it can be stopped for up to 7 days)")
    network = i.get("network") or {}
    if network.get("delegatedSubnetResourceId") or network.get("publicNetworkAccess") == "Disabled":
        yield Fact("access", "private access only (VNet-integrated)")
    else:
        yield Fact("access", "public network access")
    if i.get("administratorLoginPassword"):
        yield password(view, res["component"], "admin password", "Key Vault", SECRET_TYPES)
    if get(i, "authConfig", "activeDirectoryAuth") == "Enabled":
        yield Fact("data", "Entra ID authentication on")
    days = get(i, "backup", "backupRetentionDays")
    geo = ", geo-redundant" if get(i, "backup", "geoRedundantBackup") == "Enabled" else ""
    if days:
        yield Fact("data", f"backups kept {plural(days, 'day')}{geo}")


def redis_enterprise(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    zones = as_list(i.get("zones"))
    if i.get("highAvailability", "Enabled") == "Enabled":
        where = f" across {plural(len(zones), 'zone')}" if zones else ""
        yield Fact("ha", f"high availability: a replica node{where}")
    else:
        yield Fact("ha", "high availability off: one node, no replica")
    yield Fact("scale", "no: billed per node-hour")
    if i.get("publicNetworkAccess") == "Disabled":
        yield Fact("access", "private endpoint only")


def redis_database(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    tls = "TLS in transit" if i.get("clientProtocol", "Encrypted") == "Encrypted" else "no TLS in transit"
    keys = "access keys on" if i.get("accessKeysAuthentication") == "Enabled" else "Entra ID auth (access keys off)"
    yield Fact("data", f"{tls}, {keys}")


def container_app(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    low, high = get(i, "template", "scale", "minReplicas", default=0), get(i, "template", "scale", "maxReplicas")
    if not low:
        yield Fact("scale", f"yes: {span(0, high, 'replica')}, cold starts after idle")
    else:
        yield Fact("scale", f"no: {span(low, high, 'replica')}, {number(low)} kept running")
    ingress = get(i, "configuration", "ingress")
    if ingress and _allowed_ranges(ingress):
        yield Fact("access", f"ingress limited to {plural(len(_allowed_ranges(ingress)), 'allowed range')}")
    elif ingress:
        yield Fact("access", "public ingress" if ingress.get("external") else "internal ingress (the environment only)")


def managed_environment(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    yield Fact("ha", "zone-redundant environment" if i.get("zoneRedundant") else "environment in one zone")
    if get(i, "vnetConfiguration", "infrastructureSubnetId"):
        internal = get(i, "vnetConfiguration", "internal")
        yield Fact("access", "in the VNet" + (", internal load balancer" if internal else ""))


def vmss(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    zones = as_list(i.get("zones"))
    yield Fact("ha", f"instances across {plural(len(zones), 'zone')}" if zones else "instances in one zone")
    autoscale = [a["inputs"] for a in view.of(res["component"], "azure-native:monitor:AutoscaleSetting")]
    capacity = get(autoscale[0], "profiles", 0, "capacity") if autoscale else None
    if capacity:
        low, high = _int(capacity.get("minimum")), _int(capacity.get("maximum"))
        yield Fact("scale", ("yes: " if low == 0 else "no: ") + span(low, high, "instance"))
    else:
        yield Fact("scale", f"no: {span(get(i, 'sku', 'capacity'), None, 'instance')}")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cosmos(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    locations = as_list(i.get("locations"))
    zonal = any(loc.get("isZoneRedundant") for loc in locations)
    where = plural(len(locations), "region") + (", zone-redundant" if zonal else ", not zone-redundant")
    yield Fact("ha", where)
    serverless = any(c.get("name") == "EnableServerless" for c in as_list(i.get("capabilities")))
    yield Fact("scale", "yes: serverless, pay per request unit" if serverless else "no: provisioned throughput")
    if i.get("publicNetworkAccess") == "Disabled":
        yield Fact("access", "private endpoint only")
    backup = get(i, "backupPolicy", "type")
    if backup:
        keys = ", keys off (Entra ID only)" if i.get("disableLocalAuth") else ""
        yield Fact("data", f"{backup.lower()} backups{keys}")


def storage_account(res: dict[str, Any], view: View) -> Iterator[Fact]:
    if res["component"] != "storage":
        return  # a log bucket of another component: its settings are not that component's capability
    i = res["inputs"]
    sku = str(get(i, "sku", "name", default="?")).split("_")[-1]
    yield Fact("ha", REDUNDANCY.get(sku, sku))
    if i.get("allowBlobPublicAccess") is False:
        yield Fact("access", "no anonymous blob access")
    if get(i, "networkRuleSet", "defaultAction") == "Deny":
        yield Fact("access", "network rules deny by default")
    if i.get("allowSharedKeyAccess") is False:
        yield Fact("data", "shared keys off (Entra ID only)")


def key_vault(res: dict[str, Any], view: View) -> Iterator[Fact]:
    p = res["inputs"].get("properties") or {}
    if get(p, "networkAcls", "defaultAction") == "Deny" or p.get("publicNetworkAccess") == "Disabled":
        yield Fact("access", "network access denied by default")
    parts = ["RBAC" if p.get("enableRbacAuthorization") else "access policies"]
    if p.get("enablePurgeProtection"):
        parts.append("purge protection")
    yield Fact("data", ", ".join(parts))


def nat(res: dict[str, Any], view: View) -> Iterator[Fact]:
    zones = as_list(res["inputs"].get("zones"))
    n = len(view.of(res["component"], res["type"]))
    where = f" in {plural(len(zones), 'zone')}" if zones else " (zonal: one zone)"
    yield Fact("ha", f"{plural(n, 'NAT gateway')}{where}")
    yield Fact("scale", "no: NAT gateways bill every hour")


def front_door_waf(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    sets = as_list(get(i, "managedRules", "managedRuleSets"))
    mode = get(i, "policySettings", "mode", default="Detection")
    text = f"Front Door WAF ({mode}): {plural(len(sets), 'managed rule set')}"
    for rule in as_list(get(i, "customRules", "rules")):
        if rule.get("ruleType") == "RateLimitRule":
            text += (f", rate limit {number(rule.get('rateLimitThreshold'))} requests per "
                     f"{number(rule.get('rateLimitDurationInMinutes', 1))} min per IP")  # fmt: skip
    yield Fact("edge", text)


def app_gateway_waf(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    sets = as_list(get(i, "managedRules", "managedRuleSets"))
    mode = get(i, "policySettings", "mode", default="Detection")
    yield Fact("edge", f"Application Gateway WAF ({mode}): {plural(len(sets), 'managed rule set')}")


def front_door_route(res: dict[str, Any], view: View) -> Iterator[Fact]:
    if res["inputs"].get("forwardingProtocol") == "HttpsOnly":
        yield Fact("edge", "HTTPS to the origin")


def managed_certificate(res: dict[str, Any], view: View) -> Iterator[Fact]:
    name = get(res["inputs"], "properties", "subjectName") or get(res["inputs"], "hostName") or "?"
    yield Fact("edge", f"Azure-managed certificate for {name}")


def support(res: dict[str, Any], view: View) -> bool:
    """A Container Apps job, and an environment that hosts only jobs (no container app), are helpers of their
    component (the VM scale set's setup job), not the kind's service."""
    if res["type"] == JOB:
        return True
    return res["type"] == ENVIRONMENT and bool(view.users(res, JOB)) and not view.users(res, APP)


READERS: dict[str, Reader] = {
    "azure-native:dbforpostgresql:Server": postgres,
    "azure-native:redisenterprise:RedisEnterprise": redis_enterprise,
    "azure-native:redisenterprise:Database": redis_database,
    APP: container_app,
    ENVIRONMENT: managed_environment,
    "azure-native:compute:VirtualMachineScaleSet": vmss,
    "azure-native:cosmosdb:DatabaseAccount": cosmos,
    "azure-native:storage:StorageAccount": storage_account,
    "azure-native:keyvault:Vault": key_vault,
    "azure-native:network:NatGateway": nat,
    "azure-native:frontdoor:Policy": front_door_waf,
    "azure-native:network:WebApplicationFirewallPolicy": app_gateway_waf,
    "azure-native:cdn:Route": front_door_route,
    "azure-native:app:ManagedCertificate": managed_certificate,
    "azure-native:cdn:AFDCustomDomain": managed_certificate,
}


def front_door(res: dict[str, Any], view: View) -> Iterator[Entry]:
    i = res["inputs"]
    protocols = {str(p).upper() for p in as_list(i.get("supportedProtocols")) or ["HTTP", "HTTPS"]}
    if "HTTPS" in protocols:
        yield Entry("HTTPS", 443)
    if "HTTP" in protocols:
        yield Entry("HTTP", 80, redirect=i.get("httpsRedirect") == "Enabled" and "HTTPS" in protocols)


def _allowed_ranges(ingress: dict[str, Any]) -> list[Any]:
    return [r for r in as_list(ingress.get("ipSecurityRestrictions")) if r.get("action") == "Allow"]


def container_app_entry(res: dict[str, Any], view: View) -> Iterator[Entry]:
    ingress = get(res["inputs"], "configuration", "ingress")
    if not ingress or not ingress.get("external") or _allowed_ranges(ingress):
        return  # internal, or only the allowed ranges (e.g. Front Door's) reach it
    yield Entry("HTTPS", 443)
    yield Entry("HTTP", 80, redirect=not ingress.get("allowInsecure"))


def load_balancer(res: dict[str, Any], view: View) -> Iterator[Entry]:
    """A Standard Load Balancer is layer 4: it forwards TCP/UDP, it cannot speak HTTPS."""
    if not any(get(f, "publicIPAddress") for f in as_list(res["inputs"].get("frontendIPConfigurations"))):
        return
    for rule in as_list(res["inputs"].get("loadBalancingRules")):
        yield Entry(str(rule.get("protocol", "Tcp")).upper(), rule.get("frontendPort"))


def app_gateway(res: dict[str, Any], view: View) -> Iterator[Entry]:
    i = res["inputs"]
    redirected = {get(r, "httpListener", "id", default="") for rr in as_list(i.get("requestRoutingRules"))
                  for r in [rr] if get(rr, "redirectConfiguration")}  # fmt: skip
    for listener in as_list(i.get("httpListeners")):
        protocol = str(listener.get("protocol", "Http")).upper()
        name = str(listener.get("name", ""))
        redirect = protocol == "HTTP" and any(name and rid.endswith(f"/{name}") for rid in redirected)
        yield Entry(protocol, 443 if protocol == "HTTPS" else 80, redirect)


ENTRIES = {
    "azure-native:cdn:Route": front_door,
    "azure-native:app:ContainerApp": container_app_entry,
    "azure-native:network:LoadBalancer": load_balancer,
    "azure-native:network:ApplicationGateway": app_gateway,
}

WATCH = {
    "azure-native:monitor:MetricAlert": "alarm",
    "azure-native:monitor:ScheduledQueryRule": "alarm",
    "azure-native:monitor:ActivityLogAlert": "alarm",
    "azure-native:applicationinsights:WebTest": "uptime",
    "azure-native:portal:Dashboard": "dashboard",
    "azure-native:consumption:Budget": "budget",
    "azure-native:monitor:ActionGroup": "notify",
    "azure-native:monitor:DiagnosticSetting": "logs",
}


def budget_amount(res: dict[str, Any]) -> float | None:
    try:
        return float(res["inputs"].get("amount"))
    except (TypeError, ValueError):
        return None


def targets(res: dict[str, Any]) -> list[str]:
    i = res["inputs"]
    out = [f"email {r.get('emailAddress', '?')}" for r in as_list(i.get("emailReceivers"))]
    out += [f"webhook {host_of(str(r.get('serviceUri', '')))}" for r in as_list(i.get("webhookReceivers"))]
    return out


def route_origin(res: dict[str, Any], view: View) -> Iterator[str]:
    protocol = {"HttpsOnly": "HTTPS", "HttpOnly": "HTTP"}.get(
        str(res["inputs"].get("forwardingProtocol", "MatchRequest")), "as the request: HTTP or HTTPS"
    )
    private = any(o["inputs"].get("sharedPrivateLinkResource") for o in view.of(res["component"], ORIGIN))
    yield f"{protocol} over Private Link" if private else protocol


ORIGIN = "azure-native:cdn:AFDOrigin"


ORIGINS = {"azure-native:cdn:Route": route_origin}


def _postgres_tls(view: View) -> bool:
    """Flexible server requires TLS unless ``require_secure_transport`` is turned off."""
    if not view.has("database", "azure-native:dbforpostgresql:Server"):
        return False
    settings = {c["inputs"].get("configurationName"): str(c["inputs"].get("value", "")).lower()
                for c in view.of("database", "azure-native:dbforpostgresql:Configuration")}  # fmt: skip
    return settings.get("require_secure_transport", "on") == "on"


def _redis_tls(view: View) -> bool:
    dbs = view.of("cache", "azure-native:redisenterprise:Database")
    return bool(dbs) and all(d["inputs"].get("clientProtocol", "Encrypted") == "Encrypted" for d in dbs)


TLS = {"database": _postgres_tls, "cache": _redis_tls}
