"""AWS: what a plan configures, read from the inputs of its resources (see ``mbops.engine.facts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mbops.engine.facts import Entry, Fact, Reader, View, as_list, get, host_of, password, plural
from mbops.engine.fmt import number, span

SECRET_TYPES = ("aws:secretsmanager/secret:Secret",)
SUBNET = "aws:ec2/subnet:Subnet"
FUNCTION = "aws:lambda/function:Function"
# What routes requests to a function: a function that none of these points at runs for its component (the
# database's role setup, invoked once by the plan; an API authorizer; an alarm forwarder), it serves nobody.
SERVES = (
    "aws:lambda/functionUrl:FunctionUrl",
    "aws:apigatewayv2/integration:Integration",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment",
)


def _azs(view: View) -> list[str]:
    return sorted({z for r in view.of(None, SUBNET) if isinstance(z := r["inputs"].get("availabilityZone"), str)})


def rds(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    if i.get("multiAz"):
        yield Fact("ha", "Multi-AZ: a standby in a second AZ, automatic failover")
    else:
        yield Fact("ha", "single AZ: no standby")
    yield Fact("scale", "no: a provisioned instance bills every hour")
    yield Fact("access", "public endpoint" if i.get("publiclyAccessible") else "private subnets, no public endpoint")
    if i.get("manageMasterUserPassword"):
        yield Fact("data", "master password: managed by RDS in Secrets Manager")
    elif i.get("password"):
        yield password(view, res["component"], "master password", "Secrets Manager", SECRET_TYPES)
    if i.get("iamDatabaseAuthenticationEnabled"):
        yield Fact("data", "IAM database authentication on")
    days = i.get("backupRetentionPeriod")
    yield Fact("data", f"backups kept {plural(days, 'day')}" if days else "no automated backups")


def elasticache(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    nodes = int(i.get("numCacheClusters") or 1)
    if i.get("automaticFailoverEnabled"):
        where = " across AZs" if i.get("multiAzEnabled") else ""
        yield Fact("ha", f"{plural(nodes, 'node')}, automatic failover{where}")
    else:
        yield Fact("ha", f"{plural(nodes, 'node')}, no automatic failover")
    yield Fact("scale", "no: nodes bill every hour")
    tls = "TLS in transit" if i.get("transitEncryptionEnabled") else "no TLS in transit"
    auth = ", AUTH token" if i.get("authToken") else ""
    yield Fact("data", tls + auth)


def ecs_service(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    target = next(
        (t["inputs"] for t in view.of(res["component"], "aws:appautoscaling/target:Target")
         if t["inputs"].get("serviceNamespace") == "ecs"),
        None,
    )  # fmt: skip
    low = target.get("minCapacity") if target else i.get("desiredCount")
    high = target.get("maxCapacity") if target else None
    if low == 0:
        yield Fact("scale", f"yes: {span(low, high, 'task')}")
    else:
        yield Fact("scale", f"no: {span(low, high, 'task')}, at least {number(low or 1)} always running")
    subnets = len(as_list(get(i, "networkConfiguration", "subnets")))
    if subnets > 1:
        yield Fact("ha", f"tasks spread over {subnets} private subnets")
    if get(i, "networkConfiguration", "assignPublicIp") is False:
        yield Fact("access", "tasks have no public IP")


def lambda_function(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    provisioned = view.of(res["component"], "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    if provisioned:
        n = sum(int(p["inputs"].get("provisionedConcurrentExecutions") or 0) for p in provisioned)
        yield Fact("scale", f"no: {number(n)} provisioned concurrent executions stay warm")
    else:
        yield Fact("scale", "yes: billed per request, cold starts after idle")
    if i.get("reservedConcurrentExecutions") not in (None, -1):
        yield Fact("scale", f"reserved concurrency {number(i['reservedConcurrentExecutions'])}")


def asg(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    low, high = i.get("minSize"), i.get("maxSize")
    yield Fact("scale", ("yes: " if low == 0 else "no: ") + span(low, high, "instance"))
    subnets = len(as_list(i.get("vpcZoneIdentifiers")))
    if subnets > 1:
        yield Fact("ha", f"instances spread over {subnets} subnets")


def dynamodb(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    if i.get("billingMode", "PROVISIONED") == "PAY_PER_REQUEST":
        yield Fact("scale", "yes: on-demand, pay per request")
    else:
        yield Fact("scale", "no: provisioned capacity bills every hour")
    pitr = get(i, "pointInTimeRecovery", "enabled")
    yield Fact("data", "point-in-time recovery on" if pitr else "no point-in-time recovery")


def nat(res: dict[str, Any], view: View) -> Iterator[Fact]:
    n, azs = len(view.of(res["component"], res["type"])), len(_azs(view))
    if azs > 1 and n >= azs:
        yield Fact("ha", f"{plural(n, 'NAT gateway')}, one per AZ")
    else:
        yield Fact("ha", f"{plural(n, 'NAT gateway')} for {plural(azs, 'AZ')}: egress depends on one AZ")
    yield Fact("scale", "no: NAT gateways bill every hour")


def subnet(res: dict[str, Any], view: View) -> Iterator[Fact]:
    azs = _azs(view)
    if azs:
        yield Fact("ha", f"subnets in {plural(len(azs), 'AZ')} ({', '.join(azs)})")


def bucket_public_access(res: dict[str, Any], view: View) -> Iterator[Fact]:
    if res["component"] != "storage":
        return  # a log bucket of another component: its settings are not that component's capability
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    blocked = all(res["inputs"].get(k) for k in keys)
    yield Fact("access", "public access blocked" if blocked else "public access not fully blocked")


def bucket_versioning(res: dict[str, Any], view: View) -> Iterator[Fact]:
    if res["component"] != "storage":
        return  # a log bucket of another component: its settings are not that component's capability
    status = get(res["inputs"], "versioningConfiguration", "status", default="Disabled")
    yield Fact("data", f"versioning {status.lower()}")


def load_balancer(res: dict[str, Any], view: View) -> Iterator[Fact]:
    internal = res["inputs"].get("internal")
    kind = {"application": "ALB", "network": "NLB"}.get(res["inputs"].get("loadBalancerType", "application"), "LB")
    yield Fact("access", f"internal {kind}" if internal else f"internet-facing {kind}")


def cloudfront(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    cert = i.get("viewerCertificate") or {}
    if cert.get("acmCertificateArn"):
        yield Fact("edge", f"own certificate (ACM), minimum {cert.get('minimumProtocolVersion', 'TLSv1')}")
    else:
        yield Fact("edge", "CloudFront's default *.cloudfront.net certificate (accepts TLS 1.0+)")
    if i.get("webAclId"):
        yield Fact("edge", "WAF web ACL attached")


def web_acl(res: dict[str, Any], view: View) -> Iterator[Fact]:
    rules = as_list(res["inputs"].get("rules"))
    managed = [r for r in rules if get(r, "statement", "managedRuleGroupStatement")]
    limits = [get(r, "statement", "rateBasedStatement") for r in rules if get(r, "statement", "rateBasedStatement")]
    text = f"WAF: {plural(len(managed), 'managed rule group')}"
    for limit in limits:
        window = int(limit.get("evaluationWindowSec") or 300)
        text += f", rate limit {number(limit.get('limit'))} requests per {number(window // 60)} min per IP"
    yield Fact("edge", text)


def certificate(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    how = (i.get("validationMethod") or "DNS").upper()
    yield Fact("edge", f"ACM certificate for {i.get('domainName', '?')} ({how}-validated, renewed by AWS)")


def listener(res: dict[str, Any], view: View) -> Iterator[Fact]:
    policy = res["inputs"].get("sslPolicy")
    if res["inputs"].get("protocol") == "HTTPS" and policy:
        yield Fact("edge", f"TLS policy {policy}")


def cognito(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    yield Fact("data", f"MFA {str(i.get('mfaConfiguration', 'OFF')).lower()}")
    length = get(i, "passwordPolicy", "minimumLength")
    if length:
        yield Fact("data", f"passwords of {number(length)}+ characters")


def ecr(res: dict[str, Any], view: View) -> Iterator[Fact]:
    i = res["inputs"]
    parts = ["immutable tags" if i.get("imageTagMutability") == "IMMUTABLE" else "mutable tags"]
    if get(i, "imageScanningConfiguration", "scanOnPush"):
        parts.append("scan on push")
    yield Fact("data", ", ".join(parts))


def support(res: dict[str, Any], view: View) -> bool:
    """A Lambda function no entry routes requests to is a helper of its component, not the kind's service."""
    return res["type"] == FUNCTION and not view.users(res, *SERVES)


READERS: dict[str, Reader] = {
    "aws:rds/instance:Instance": rds,
    "aws:elasticache/replicationGroup:ReplicationGroup": elasticache,
    "aws:ecs/service:Service": ecs_service,
    FUNCTION: lambda_function,
    "aws:autoscaling/group:Group": asg,
    "aws:dynamodb/table:Table": dynamodb,
    "aws:ec2/natGateway:NatGateway": nat,
    "aws:ec2/subnet:Subnet": subnet,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": bucket_public_access,
    "aws:s3/bucketVersioning:BucketVersioning": bucket_versioning,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:lb/listener:Listener": listener,
    "aws:cloudfront/distribution:Distribution": cloudfront,
    "aws:wafv2/webAcl:WebAcl": web_acl,
    "aws:acm/certificate:Certificate": certificate,
    "aws:cognito/userPool:UserPool": cognito,
    "aws:ecr/repository:Repository": ecr,
}


def lb_listener(res: dict[str, Any], view: View) -> Iterator[Entry]:
    i = res["inputs"]
    actions = as_list(i.get("defaultActions"))
    redirect = bool(actions) and all(
        a.get("type") == "redirect" and get(a, "redirect", "protocol") == "HTTPS" for a in actions
    )
    yield Entry(str(i.get("protocol", "HTTP")).upper(), i.get("port"), redirect)


def cloudfront_entry(res: dict[str, Any], view: View) -> Iterator[Entry]:
    behaviors = [res["inputs"].get("defaultCacheBehavior") or {}, *as_list(res["inputs"].get("orderedCacheBehaviors"))]
    policies = {b.get("viewerProtocolPolicy", "allow-all") for b in behaviors}
    yield Entry("HTTPS", 443)
    if "allow-all" in policies:
        yield Entry("HTTP", 80)
    elif "redirect-to-https" in policies:
        yield Entry("HTTP", 80, redirect=True)


def https_only(res: dict[str, Any], view: View) -> Iterator[Entry]:
    """An endpoint the service only serves over HTTPS (Lambda function URLs)."""
    yield Entry("HTTPS", 443)


def api_entry(res: dict[str, Any], view: View) -> Iterator[Entry]:
    """An HTTP API's execute-api endpoint serves HTTPS only, unless the plan turns it off (a front door only)."""
    if not res["inputs"].get("disableExecuteApiEndpoint"):
        yield Entry("HTTPS", 443)


ENTRIES = {
    "aws:lb/listener:Listener": lb_listener,
    "aws:cloudfront/distribution:Distribution": cloudfront_entry,
    "aws:apigatewayv2/api:Api": api_entry,
    "aws:lambda/functionUrl:FunctionUrl": https_only,
}

WATCH = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "alarm",
    "aws:route53/healthCheck:HealthCheck": "uptime",
    "aws:synthetics/canary:Canary": "uptime",
    "aws:cloudwatch/dashboard:Dashboard": "dashboard",
    "aws:budgets/budget:Budget": "budget",
    "aws:sns/topicSubscription:TopicSubscription": "notify",
}


def budget_amount(res: dict[str, Any]) -> float | None:
    amount = res["inputs"].get("limitAmount")
    try:
        return float(amount)
    except (TypeError, ValueError):
        return None


def targets(res: dict[str, Any]) -> list[str]:
    protocol, endpoint = res["inputs"].get("protocol", "?"), str(res["inputs"].get("endpoint", ""))
    if protocol in ("http", "https"):
        return [f"webhook {host_of(endpoint)}"]
    if protocol in ("email", "email-json"):
        return [f"email {endpoint}"]
    return [protocol]


def cloudfront_origin(res: dict[str, Any], view: View) -> Iterator[str]:
    for origin in as_list(res["inputs"].get("origins")):
        if origin.get("originAccessControlId"):
            yield "HTTPS (origin access control)"
        else:
            policy = get(origin, "customOriginConfig", "originProtocolPolicy", default="match-viewer")
            yield {"https-only": "HTTPS", "http-only": "HTTP"}.get(policy, "as the viewer: HTTP or HTTPS")


ORIGINS = {"aws:cloudfront/distribution:Distribution": cloudfront_origin}


def _force_ssl(view: View) -> bool:
    params = [p for g in view.of("database", "aws:rds/parameterGroup:ParameterGroup")
              for p in as_list(g["inputs"].get("parameters"))]  # fmt: skip
    return any(p.get("name") == "rds.force_ssl" and str(p.get("value")) == "1" for p in params)


def _cache_tls(view: View) -> bool:
    groups = view.of("cache", "aws:elasticache/replicationGroup:ReplicationGroup")
    return bool(groups) and all(g["inputs"].get("transitEncryptionEnabled") for g in groups)


TLS = {"database": _force_ssl, "cache": _cache_tls}
