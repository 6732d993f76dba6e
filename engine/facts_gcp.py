"""GCP: what a plan configures, read from the inputs of its resources (see ``mbops.engine.facts``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mbops.engine.facts import Entry, Fact, Reader, View, as_list, get, host_of, password, plural
from mbops.engine.fmt import number, span

SECRET_TYPES = ("gcp:secretmanager/secret:Secret",)
REGION = re.compile(r"^[a-z]+-[a-z]+\d+$", re.I)  # us-central1, europe-west1 (multi-regions: nam5, US, EU)
# Run to completion for their component (the database's role setup): they serve no request.
JOBS = ("gcp:cloudrunv2/job:Job",)


def support(res: dict[str, Any], view: View) -> bool:
    """A Cloud Run job (the database's role setup) is a helper of its component, not the kind's service."""
    return res["type"] in JOBS


def cloud_sql(res: dict[str, Any], view: View) -> Iterator[Fact]:
    settings = res["inputs"].get("settings") or {}
    if settings.get("availabilityType") == "REGIONAL":
        yield Fact("ha", "REGIONAL: a standby in a second zone, automatic failover")
    else:
        yield Fact("ha", "ZONAL: one zone, no standby")
    if settings.get("activationPolicy", "ALWAYS") == "ALWAYS":
        yield Fact("scale", "no: the instance runs (and bills) all the time")
    ip = settings.get("ipConfiguration") or {}
    if ip.get("ipv4Enabled") is False and ip.get("privateNetwork"):
        yield Fact("access", "private IP only")
    elif ip.get("ipv4Enabled", True):
        yield Fact("access", "public IP enabled")
    if ip.get("sslMode") in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
        yield Fact("data", "TLS required")
    if view.has(res["component"], "gcp:sql/user:User"):
        yield password(view, res["component"], "app user password", "Secret Manager", SECRET_TYPES)
    backup = settings.get("backupConfiguration") or {}
    if backup.get("enabled"):
        kept = get(backup, "backupRetentionSettings", "retainedBackups")
        pitr = ", point-in-time recovery" if backup.get("pointInTimeRecoveryEnabled") else ""
        yield Fact("data", f"daily backups{f' (last {number(kept)} kept)' if kept else ''}{pitr}")
    else:
        yield Fact("data", "no automated backups")


def memorystore(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    if i.get("tier") == "STANDARD_HA":
        yield Fact("ha", "STANDARD_HA: a replica in another zone, automatic failover")
    else:
        yield Fact("ha", "BASIC: one node, no replica")
    yield Fact("scale", "no: billed per provisioned GB-hour")
    if i.get("connectMode") == "PRIVATE_SERVICE_ACCESS" or i.get("authorizedNetwork"):
        yield Fact("access", "private IP in the VPC")
    tls = "TLS in transit" if i.get("transitEncryptionMode") == "SERVER_AUTHENTICATION" else "no TLS in transit"
    yield Fact("data", tls + (", AUTH on" if i.get("authEnabled") else ""))


def cloud_run(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    scaling = get(i, "template", "scaling") or {}
    low = scaling.get("minInstanceCount", get(i, "scaling", "minInstanceCount", default=0))
    high = scaling.get("maxInstanceCount")
    if not low:
        yield Fact("scale", f"yes: {span(0, high, 'instance')}, cold starts after idle")
    else:
        yield Fact("scale", f"no: {span(low, high, 'instance')}, {number(low)} kept warm")
    ingress = i.get("ingress", "INGRESS_TRAFFIC_ALL")
    yield Fact("access", {
        "INGRESS_TRAFFIC_ALL": "public run.app URL",
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER": "reachable only through the load balancer (and the VPC)",
        "INGRESS_TRAFFIC_INTERNAL_ONLY": "internal only",
    }.get(ingress, ingress))  # fmt: skip
    if get(i, "template", "vpcAccess"):
        yield Fact("access", "egress through the VPC")


def mig(res: dict[str, Any], view: View) -> Iterator[Fact]:
    zones = as_list(res["inputs"].get("distributionPolicyZones"))
    if zones:
        yield Fact("ha", f"instances across {plural(len(zones), 'zone')}")
    else:
        yield Fact("ha", "regional group: instances across the region's zones")


def autoscaler(res: dict[str, Any], view: View) -> Iterator[Fact]:
    policy = get(res["inputs"], "autoscalingPolicy") or {}
    low, high = policy.get("minReplicas"), policy.get("maxReplicas")
    yield Fact("scale", ("yes: " if low == 0 else "no: ") + span(low, high, "instance"))


def firestore(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    where = str(i.get("locationId", "?"))
    if REGION.match(where):
        yield Fact("ha", f"regional ({where}): replicated across zones")
    else:
        yield Fact("ha", f"multi-region ({where})")
    yield Fact("scale", "yes: pay per operation and GB stored")
    pitr = i.get("pointInTimeRecoveryEnablement") == "POINT_IN_TIME_RECOVERY_ENABLED"
    yield Fact("data", "point-in-time recovery on" if pitr else "no point-in-time recovery")


def bucket(res: dict[str, Any], view: View) -> Iterator[Fact]:
    if res["component"] != "storage":
        return  # a log bucket of another component: its settings are not that component's capability
    i = res["inputs"]
    where = str(i.get("location", "?"))
    if REGION.match(where):
        yield Fact("ha", f"regional ({where.lower()}): stored across zones")
    else:
        yield Fact("ha", f"multi-region or dual-region ({where})")
    if i.get("publicAccessPrevention") == "enforced":
        yield Fact("access", "public access prevented")
    if get(i, "versioning", "enabled"):
        yield Fact("data", "versioning enabled")


def router_nat(res: dict[str, Any], view: View) -> Iterator[Fact]:
    n = len(view.of(res["component"], res["type"]))
    yield Fact("ha", f"{plural(n, 'Cloud NAT gateway')} (a regional managed service)")


def ssl_policy(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    version = str(i.get("minTlsVersion", "TLS_1_0")).removeprefix("TLS_").replace("_", ".")
    yield Fact("edge", f"TLS {version}+ ({i.get('profile', 'COMPATIBLE')} profile)")


def managed_certificate(res: dict[str, Any], view: View) -> Iterator[Fact]:
    domains = as_list(get(res["inputs"], "managed", "domains"))
    yield Fact("edge", f"Google-managed certificate for {', '.join(domains) or '?'}")


def security_policy(res: dict[str, Any], view: View) -> Iterator[Fact]:
    rules = as_list(res["inputs"].get("rules"))
    waf = [r for r in rules if "evaluatePreconfiguredWaf" in str(get(r, "match", "expr", "expression", default=""))]
    text = f"Cloud Armor: {plural(len(waf), 'preconfigured WAF rule')}"
    for rule in rules:
        threshold = get(rule, "rateLimitOptions", "rateLimitThreshold")
        if threshold:
            minutes = number(int(threshold.get("intervalSec") or 60) / 60)
            text += f", rate limit {number(threshold.get('count'))} requests per {minutes} min per IP"
    yield Fact("edge", text)


def identity_platform(res: dict[str, Any], view: View) -> Iterator[Fact]:
    yield Fact("data", f"MFA {str(get(res['inputs'], 'mfa', 'state', default='DISABLED')).lower()}")


READERS: dict[str, Reader] = {
    "gcp:sql/databaseInstance:DatabaseInstance": cloud_sql,
    "gcp:redis/instance:Instance": memorystore,
    "gcp:cloudrunv2/service:Service": cloud_run,
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": mig,
    "gcp:compute/regionAutoscaler:RegionAutoscaler": autoscaler,
    "gcp:firestore/database:Database": firestore,
    "gcp:storage/bucket:Bucket": bucket,
    "gcp:compute/routerNat:RouterNat": router_nat,
    "gcp:compute/sSLPolicy:SSLPolicy": ssl_policy,
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": managed_certificate,
    "gcp:compute/securityPolicy:SecurityPolicy": security_policy,
    "gcp:identityplatform/config:Config": identity_platform,
}


def forwarding_rule(res: dict[str, Any], view: View) -> Iterator[Entry]:
    """A global forwarding rule serves what its target proxy speaks: HTTPS, or HTTP (redirecting or not)."""
    i = res["inputs"]
    if i.get("loadBalancingScheme", "EXTERNAL") not in ("EXTERNAL", "EXTERNAL_MANAGED"):
        return
    port = _port(i.get("portRange"))
    target = i.get("target")
    proxy = next((r for r in view.of(res["component"]) if r["urn"] in res.get("dependencies", [])
                  and r["type"].startswith("gcp:compute/target")), None)  # fmt: skip
    kind = proxy["type"] if proxy else ""
    if "targetHttpsProxy" in kind or (not proxy and port == 443):
        yield Entry("HTTPS", port)
    elif "targetHttpProxy" in kind or (not proxy and port == 80):
        yield Entry("HTTP", port, redirect=_redirects(view, proxy))
    elif target:
        yield Entry("TCP", port)


def _port(value: Any) -> int | None:
    text = str(value or "").split("-")[0]
    return int(text) if text.isdigit() else None


def _redirects(view: View, proxy: dict[str, Any] | None) -> bool:
    """Whether an HTTP proxy's URL map only redirects to HTTPS."""
    if proxy is None:
        return False
    maps = [r for r in view.of(proxy["component"], "gcp:compute/uRLMap:URLMap") if r["urn"] in proxy["dependencies"]]
    return bool(maps) and all(get(m["inputs"], "defaultUrlRedirect", "httpsRedirect") for m in maps)


def run_entry(res: dict[str, Any], view: View) -> Iterator[Entry]:
    """Cloud Run serves its run.app URL over HTTPS only, unless ingress keeps it internal."""
    if res["inputs"].get("ingress", "INGRESS_TRAFFIC_ALL") == "INGRESS_TRAFFIC_ALL":
        yield Entry("HTTPS", 443)


ENTRIES = {
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": forwarding_rule,
    "gcp:cloudrunv2/service:Service": run_entry,
}

WATCH = {
    "gcp:monitoring/alertPolicy:AlertPolicy": "alarm",
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": "uptime",
    "gcp:monitoring/dashboard:Dashboard": "dashboard",
    "gcp:billing/budget:Budget": "budget",
    "gcp:monitoring/notificationChannel:NotificationChannel": "notify",
    "gcp:logging/projectSink:ProjectSink": "logs",
}


def budget_amount(res: dict[str, Any]) -> float | None:
    units = get(res["inputs"], "amount", "specifiedAmount", "units")
    try:
        return float(units)
    except (TypeError, ValueError):
        return None


def targets(res: dict[str, Any]) -> list[str]:
    i = res["inputs"]
    labels = i.get("labels") or {}
    kind = i.get("type", "?")
    if kind == "email":
        return [f"email {labels.get('email_address', '?')}"]
    if kind.startswith("webhook"):
        return [f"webhook {host_of(str(labels.get('url', '')))}"]
    return [kind]


def backend_service(res: dict[str, Any], view: View) -> Iterator[str]:
    if res["inputs"].get("loadBalancingScheme") in ("EXTERNAL", "EXTERNAL_MANAGED"):
        yield {"HTTPS": "HTTPS", "HTTP2": "HTTP/2 over TLS"}.get(str(res["inputs"].get("protocol", "HTTP")), "HTTP")


def backend_bucket(res: dict[str, Any], view: View) -> Iterator[str]:
    yield "Google's network"


ORIGINS = {
    "gcp:compute/backendService:BackendService": backend_service,
    "gcp:compute/backendBucket:BackendBucket": backend_bucket,
}


def _sql_tls(view: View) -> bool:
    modes = [get(r["inputs"], "settings", "ipConfiguration", "sslMode")
             for r in view.of("database", "gcp:sql/databaseInstance:DatabaseInstance")]  # fmt: skip
    return bool(modes) and all(m in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED") for m in modes)


def _redis_tls(view: View) -> bool:
    modes = [r["inputs"].get("transitEncryptionMode") for r in view.of("cache", "gcp:redis/instance:Instance")]
    return bool(modes) and all(m == "SERVER_AUTHENTICATION" for m in modes)


TLS = {"database": _sql_tls, "cache": _redis_tls}
