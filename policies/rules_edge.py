"""The edge in front of the app: a WAF on every public entry in prod (with a per-IP rate limit), and a CDN that
serves the public files only, never the user uploads in the same bucket."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mbops.policies.entries import (
    AWS_LBS,
    CLOUDFRONT,
    HTTP_API,
    REST_API,
    Entry,
    aws_lb_type,
    gcp_passthrough,
    inputs,
    public_entries,
)
from mbops.policies.model import Check, Context, Graph, Resource, Rule, Unverified, unverified
from mbops.policies.s3_policy import statements
from mbops.policies.values import as_list, document, flag, get, items, known, word

CLOUDS = ("aws", "gcp", "azure")
WAF_ASSOCIATIONS = ("aws:wafv2/webAclAssociation:WebAclAssociation",
                    "aws:wafregional/webAclAssociation:WebAclAssociation")  # fmt: skip
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
HTTP_API_ROUTE = "aws:apigatewayv2/route:Route"
REST_STAGE = "aws:apigateway/stage:Stage"
GCP_BACKENDS = ("gcp:compute/backendService:BackendService", "gcp:compute/regionBackendService:RegionBackendService")
GCP_BACKEND_BUCKET = "gcp:compute/backendBucket:BackendBucket"
CLOUD_ARMOR = ("gcp:compute/securityPolicy:SecurityPolicy", "gcp:compute/regionSecurityPolicy:RegionSecurityPolicy")
AFD_ROUTE = "azure-native:cdn:Route"
AFD_ENDPOINT = "azure-native:cdn:AFDEndpoint"
AFD_CUSTOM_DOMAIN = "azure-native:cdn:AFDCustomDomain"
AFD_SECURITY_POLICY = "azure-native:cdn:SecurityPolicy"
AFD_ORIGIN = "azure-native:cdn:AFDOrigin"
FRONT_DOOR_WAF = "azure-native:frontdoor:Policy"
APP_GATEWAY_WAF = "azure-native:network:WebApplicationFirewallPolicy"
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
CLASSIC_CDN_ENDPOINT = "azure-native:cdn:Endpoint"


# --- edge-waf -----------------------------------------------------------------------------------------------
def _associated(graph: Graph, *targets: Resource) -> bool:
    return any(graph.dependents(t, *WAF_ASSOCIATIONS) for t in targets)


def _has_waf(distribution: Resource) -> bool:
    value = get(inputs(distribution), "webAclId")
    return value is not None and value != ""


def _fronting_distributions(graph: Graph, api: Resource) -> list[Resource]:
    return [d for d in graph.dependents(api, CLOUDFRONT) if _has_waf(d)]


def _http_api_open(graph: Graph, api: Resource) -> bool:
    """The API's own execute-api endpoint answers anyone: not disabled, and some route needs no authorizer."""
    if flag(get(inputs(api), "disableExecuteApiEndpoint")) is True:
        return False
    routes = graph.dependents(api, HTTP_API_ROUTE)
    return any(word(get(inputs(r), "authorizationType"), "none") not in ("custom", "aws_iam") for r in routes)


def _aws_entry(graph: Graph, entry: Entry) -> str | None:
    res, data = entry.resource, inputs(entry.resource)
    kind = res.get("type")
    if kind in AWS_LBS:
        if aws_lb_type(res) != "application":
            return (f"a {entry.what} cannot take a WAF: put an Application Load Balancer or CloudFront with a web ACL "
                    "in front of the app")
        return None if _associated(graph, res) else "no WAF web ACL is associated with the load balancer"
    if kind == CLOUDFRONT:
        return None if _has_waf(res) else "the distribution has no WAF web ACL (web_acl_id)"
    if kind == HTTP_API:
        if not _fronting_distributions(graph, res):
            return "an HTTP API cannot take a WAF: front it with CloudFront and a web ACL, and close its own endpoint"
        if _http_api_open(graph, res):
            return ("the API's own execute-api endpoint stays open: requests that skip CloudFront skip the WAF; set "
                    "disable_execute_api_endpoint or require an origin-verify authorizer on every route")
        return None
    if kind == REST_API:
        stages = graph.dependents(res, REST_STAGE)
        fronted = _fronting_distributions(graph, res) and flag(get(data, "disableExecuteApiEndpoint")) is True
        if fronted or _associated(graph, res, *stages):
            return None
        return "no WAF web ACL is associated with the API's stages"
    if kind == "aws:lambda/functionUrl:FunctionUrl":
        return ("a public function URL (authorization NONE) cannot take a WAF: use AWS_IAM behind CloudFront (origin "
                "access control) with a web ACL")
    if kind == "aws:elb/loadBalancer:LoadBalancer":
        return "a Classic Load Balancer cannot take a WAF: use an Application Load Balancer with a web ACL"
    return None


def _gcp_waf(graph: Graph) -> Iterator[tuple[Resource, str]]:
    for backend in graph.of_type(*GCP_BACKENDS):
        scheme = get(inputs(backend), "loadBalancingScheme")
        default = "external" if backend.get("type") == GCP_BACKENDS[0] else "internal"
        if known(scheme) and word(scheme, default) not in ("external", "external_managed"):
            continue
        if get(inputs(backend), "securityPolicy") in (None, ""):
            yield backend, "the external backend service has no Cloud Armor security policy (security_policy)"
    for bucket in graph.of_type(GCP_BACKEND_BUCKET):
        if get(inputs(bucket), "edgeSecurityPolicy") in (None, ""):
            yield bucket, "the CDN's backend bucket has no Cloud Armor edge security policy (edge_security_policy)"


def _gcp_entry(graph: Graph, entry: Entry) -> str | None:
    kind = entry.resource.get("type", "")
    if kind.startswith("gcp:cloudrun"):
        return ("the service takes traffic from the internet at its run.app URL, around the load balancer's Cloud "
                "Armor policy: set ingress to INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER")
    if gcp_passthrough(graph, entry.resource):
        return ("an external passthrough load balancer cannot take Cloud Armor WAF rules: use an external HTTPS "
                "load balancer")
    return None


_AFD_ID = re.compile(r"/(afdEndpoints|customDomains)/([^/]+)$", re.IGNORECASE)


def _afd_keys(graph: Graph, res: Resource, refs: list[object]) -> set[tuple[str, str]]:
    """The Front Door domains (endpoint default domains, custom domains) a route or security policy names, by
    the resources it depends on and by the ids it gives."""
    keys = {("afdendpoints", str(get(inputs(e), "endpointName", e.get("name")))) for e in
            graph.dependencies(res, AFD_ENDPOINT)}
    keys |= {("customdomains", str(get(inputs(d), "customDomainName", d.get("name")))) for d in
             graph.dependencies(res, AFD_CUSTOM_DOMAIN)}
    for ref in refs:
        match = _AFD_ID.search(ref) if isinstance(ref, str) else None
        if match:
            keys.add((match.group(1).lower(), match.group(2)))
    return keys


def _azure_waf(graph: Graph) -> Iterator[tuple[Resource, str]]:
    covered: set[tuple[str, str]] = set()
    for policy in graph.of_type(AFD_SECURITY_POLICY):
        params = get(inputs(policy), "parameters")
        if word(get(params, "type")) != "webapplicationfirewall" or get(params, "wafPolicy.id") in (None, ""):
            continue
        refs = [get(d, "id") for a in items(get(params, "associations")) for d in items(get(a, "domains"))]
        covered |= _afd_keys(graph, policy, refs)
    for route in graph.of_type(AFD_ROUTE):
        data = inputs(route)
        wanted = set()
        if word(get(data, "linkToDefaultDomain"), "enabled") != "disabled":
            endpoint = get(data, "endpointName")
            wanted.add(("afdendpoints", str(endpoint)))
        refs = [get(d, "id") for d in items(get(data, "customDomains"))]
        wanted |= {k for k in _afd_keys(graph, route, refs) if k[0] == "customdomains"}
        missing = sorted(name for _, name in wanted - covered)
        if missing:
            yield route, f"no WAF security policy covers {', '.join(missing)}, served by the route"
    for gateway in graph.of_type("azure-native:network:ApplicationGateway"):
        data = inputs(gateway)
        waf_on = flag(get(data, "webApplicationFirewallConfiguration.enabled")) is True
        if get(data, "firewallPolicy") is None and not waf_on:
            yield gateway, "the Application Gateway has no WAF policy (firewall_policy, on the WAF_v2 tier)"


def _azure_entry(entry: Entry) -> str | None:
    kind = entry.resource.get("type")
    if kind == "azure-native:network:LoadBalancer":
        return ("a public layer-4 load balancer cannot take a WAF: serve the app through Front Door or an "
                "Application Gateway with a WAF policy")
    if kind == "azure-native:app:ContainerApp":
        return ("the app takes traffic from the internet at its own azurecontainerapps.io name, around Front Door's "
                "WAF: disable the environment's public network access (Front Door reaches it over Private Link)")
    return None


def _entry_message(graph: Graph, entry: Entry) -> str | None:
    cloud = entry.resource.get("type", "").split(":", 1)[0]
    if cloud == "aws":
        return _aws_entry(graph, entry)
    if cloud == "gcp":
        return _gcp_entry(graph, entry)
    return _azure_entry(entry) if cloud == "azure-native" else None


def _edge_waf_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    for entry in public_entries(graph):
        message = _entry_message(graph, entry)
        if message:
            yield entry.resource, message
    yield from _gcp_waf(graph)
    yield from _azure_waf(graph)


def _web_acl_rules(res: Resource, ctx: Context) -> Iterator[str]:
    rules = get(inputs(res), "rules")
    if not known(rules):
        yield unverified("rules")
    elif not items(rules):
        yield "the web ACL has no rules: it lets every request through"


def _armor_blocks(res: Resource, ctx: Context) -> Iterator[str]:
    if word(get(inputs(res), "type")) == "cloud_armor_edge":
        return  # edge policies filter by IP or region only: an open one is where an incident's blocks go
    rules = get(inputs(res), "rules")
    if not known(rules):
        yield unverified("rules")
    elif not any(word(get(r, "action")) not in ("allow", "") for r in items(rules)):
        yield "every rule of the security policy allows: it blocks nothing (add the preconfigured WAF rules)"


def _azure_waf_mode(res: Resource, ctx: Context) -> Iterator[str]:
    settings = get(inputs(res), "policySettings")
    if not known(settings):
        yield unverified("policySettings")
        return
    state, mode = get(settings, "enabledState", get(settings, "state")), get(settings, "mode")
    if word(state, "enabled") == "disabled":
        yield "the WAF policy is disabled"
    if word(mode) != "prevention":
        yield f"the WAF policy's mode is {mode or 'not set'}: only Prevention blocks attacks (Detection only logs)"


WAF = Rule(
    id="edge-waf",
    title="A WAF in front of every public entry (prod)",
    severity="high",
    enforcement="mandatory",
    description="In prod, every entry the internet reaches is behind a web application firewall in blocking mode: "
    "an AWS WAF web ACL associated with the ALB, REST API stage or CloudFront distribution (an HTTP API is fronted "
    "by a protected distribution and its own endpoint closed); Cloud Armor on every external backend service and "
    "bucket (Cloud Run takes traffic only from its load balancer); a Front Door WAF security policy on every "
    "domain a route serves, or an Application Gateway WAF policy (a Container Apps environment closed to the "
    "internet). Load balancers that cannot take a WAF (NLB, Classic, passthrough, Azure layer 4) and public "
    "function URLs are findings.",
    remediation={
        "aws": "Keep components.edge on in prod (components.edge.waf: true): mbops associates a WAFv2 web ACL "
        "(AWS managed rules + per-IP rate limit) with the ALB, and fronts an API with CloudFront and the ACL.",
        "gcp": "Keep components.edge on in prod: mbops puts Cloud Armor (OWASP rules + per-IP throttle) on the "
        "external backend, a serverless NEG in front of Cloud Run, and ingress INTERNAL_LOAD_BALANCER.",
        "azure": "Keep components.edge on in prod: Front Door Premium with a WAF policy in Prevention mode on every "
        "domain, the app reachable only over Private Link.",
    },
    clouds=CLOUDS,
    controls={
        "aws:lb/loadBalancer:LoadBalancer": "AWS FSBP ELB.16", "aws:alb/loadBalancer:LoadBalancer": "AWS FSBP ELB.16",
        CLOUDFRONT: "AWS FSBP CloudFront.6", REST_API: "AWS FSBP APIGateway.4", "azure": "MCSB NS-6",
    },  # fmt: skip
    prod_only=True,
    checks={WEB_ACL: _web_acl_rules, **dict.fromkeys(CLOUD_ARMOR, _armor_blocks),
            FRONT_DOOR_WAF: _azure_waf_mode, APP_GATEWAY_WAF: _azure_waf_mode},  # fmt: skip
    graph_check=_edge_waf_graph,
    graph_types=(*AWS_LBS, CLOUDFRONT, HTTP_API, REST_API, *WAF_ASSOCIATIONS, *GCP_BACKENDS, GCP_BACKEND_BUCKET,
                 "gcp:cloudrunv2/service:Service", AFD_ROUTE, AFD_SECURITY_POLICY, "azure-native:app:ContainerApp"),
)


# --- edge-rate-limit (advisory) -----------------------------------------------------------------------------
def _aws_rate_limit(res: Resource, ctx: Context) -> Iterator[str]:
    rules = get(inputs(res), "rules")
    if not known(rules):
        yield unverified("rules")
        return
    for rule in items(rules):
        action = get(rule, "action")
        blocks = isinstance(action, dict) and any(k in action for k in ("block", "captcha", "challenge"))
        if get(rule, "statement.rateBasedStatement") is not None and blocks:
            return
    yield "no rate-based rule blocks a client IP that floods the API"


def _armor_rate_limit(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    if word(get(data, "type")) == "cloud_armor_edge":
        return  # edge policies (CDN) cannot rate-limit
    rules = get(data, "rules")
    if not known(rules):
        yield unverified("rules")
    elif not any(word(get(r, "action")) in ("throttle", "rate_based_ban") for r in items(rules)):
        yield "no throttle or rate_based_ban rule limits what one client IP can send"


def _azure_rate_limit(path: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        rules = get(inputs(res), path)
        if not known(rules):
            yield unverified(path)
            return
        for rule in items(rules):
            enabled = word(get(rule, "enabledState", get(rule, "state")), "enabled") != "disabled"
            if word(get(rule, "ruleType")) == "ratelimitrule" and enabled and word(get(rule, "action")) == "block":
                return
        yield "no enabled RateLimitRule blocks a client IP that floods the app"

    return check


RATE_LIMIT = Rule(
    id="edge-rate-limit",
    title="The WAF limits requests per client IP (prod)",
    severity="medium",
    enforcement="advisory",
    description="In prod, the WAF in front of the app blocks a client IP that sends too many requests: an AWS WAF "
    "rate-based rule, a Cloud Armor throttle or rate_based_ban rule, a Front Door or Application Gateway "
    "RateLimitRule. Advisory: other limits (API Gateway throttling, autoscaling caps) may stand in.",
    remediation="Keep components.edge.rate_limit (requests per IP per 5 minutes) in the stack file; mbops writes "
    "the rule on every cloud.",
    clouds=CLOUDS,
    controls={"azure": "MCSB NS-6"},
    prod_only=True,
    checks={
        WEB_ACL: _aws_rate_limit,
        **dict.fromkeys(CLOUD_ARMOR, _armor_rate_limit),
        FRONT_DOOR_WAF: _azure_rate_limit("customRules.rules"),
        APP_GATEWAY_WAF: _azure_rate_limit("customRules"),
    },
)


# --- cdn-private-files --------------------------------------------------------------------------------------
def _app_store(res: Resource) -> bool:
    """A bucket or storage account the app writes user files to: the stack's storage component (a resource
    outside any mbops component counts too: fail closed)."""
    return res.get("component") in (None, "storage")


def _cloudfront_principal(principal: object) -> bool:
    if not isinstance(principal, dict):
        return False
    services = [str(s).strip().lower() for s in as_list(principal.get("Service"))]
    identities = [str(a) for a in as_list(principal.get("AWS"))]
    return "cloudfront.amazonaws.com" in services or any("CloudFront Origin Access Identity" in a for a in identities)


def _reads_objects(actions: object) -> bool:
    return any(word(str(a)) in ("*", "s3:*", "s3:get*", "s3:getobject", "s3:getobject*") for a in as_list(actions))


def _whole_bucket(resource: object) -> bool:
    """``arn:aws:s3:::bucket/*`` (or ``[computed]/*``, ``*``): every object, not a prefix of them."""
    if not isinstance(resource, str):
        return False
    value = resource.strip().removeprefix("arn:aws:s3:::")
    if value == "*":
        return True
    _, slash, objects = value.partition("/")
    return bool(slash) and objects.startswith("*")


def _s3_cdn_grants(graph: Graph) -> Iterator[tuple[Resource, str]]:
    for policy in graph.of_type(S3_POLICY):
        buckets = graph.dependencies(policy, *S3_BUCKETS)
        if buckets and not any(_app_store(b) for b in buckets):
            continue
        doc = document(get(inputs(policy), "policy"))
        for index, statement in enumerate(statements(doc)):
            if word(statement.get("Effect")) != "allow" or not _cloudfront_principal(statement.get("Principal")):
                continue
            if _reads_objects(statement.get("Action")) and any(_whole_bucket(r) for r in
                                                               as_list(statement.get("Resource"))):  # fmt: skip
                yield policy, (
                    f"statement {statement.get('Sid') or index + 1} lets CloudFront read every object of the app's "
                    "bucket: user uploads become public by URL; grant it the public prefix only (bucket/public/*)"
                )
    for dist in graph.of_type(CLOUDFRONT):
        buckets = graph.dependencies(dist, *S3_BUCKETS)
        if buckets and not any(_app_store(b) for b in buckets):
            continue  # a bucket of its own (not the app's); a bucket outside the stack is judged: fail closed
        for origin in items(get(inputs(dist), "origins")):
            s3 = get(origin, "originAccessControlId") is not None or get(origin, "s3OriginConfig") is not None
            path = get(origin, "originPath", "")
            if s3 and known(path) and str(path).strip("/") == "":
                yield dist, (
                    f"origin {get(origin, 'originId', '?')} serves the root of the app's bucket: point origin_path at "
                    "the public prefix (/public)"
                )


GCS_IAM = re.compile(r"^gcp:storage/bucketiam(member|binding|policy):", re.IGNORECASE)
READ_ROLES = frozenset({
    "roles/storage.objectviewer", "roles/storage.objectuser", "roles/storage.objectadmin", "roles/storage.admin",
    "roles/storage.legacyobjectreader", "roles/storage.legacyobjectowner",
})  # fmt: skip
PREFIX_CONDITION = re.compile(r'resource\.name\.startsWith\(\s*["\']projects/_/buckets/[^/"\']+/objects/([^"\']+)["\']')


def _gcs_grants(res: Resource) -> Iterator[tuple[str, list[str], object]]:
    """(role, members, condition) of a bucket IAM member, binding or policy."""
    data = inputs(res)
    if "policyData" in data:
        policy = document(get(data, "policyData"))
        for binding in as_list(policy.get("bindings") if isinstance(policy, dict) else None):
            if isinstance(binding, dict):
                members = [str(m) for m in as_list(binding.get("members"))]
                yield str(binding.get("role", "")), members, binding.get("condition")
        return
    members = as_list(get(data, "member")) + items(get(data, "members"))
    yield str(get(data, "role", "")), [str(m) for m in members], get(data, "condition")


def _prefix_only(condition: object) -> str | None:
    """Why a CDN grant's IAM condition does not keep it to a prefix (None when it does)."""
    if condition is None:
        return "no IAM condition keeps it to the public prefix"
    expression = get(condition, "expression")
    if not known(expression):
        return unverified("condition.expression")
    match = PREFIX_CONDITION.search(str(expression))
    if not match or "||" in str(expression) or not match.group(1).strip("/"):
        return f"its IAM condition ({expression}) does not keep it to one prefix of the bucket"
    return None


def _gcs_cdn_grants(graph: Graph) -> Iterator[tuple[Resource, str]]:
    served = {b.get("urn") for backend in graph.of_type(GCP_BACKEND_BUCKET)
              for b in graph.dependencies(backend, GCS_BUCKET)}  # fmt: skip
    for grant in (r for r in graph.resources if GCS_IAM.match(r.get("type", ""))):
        buckets = graph.dependencies(grant, GCS_BUCKET)
        if buckets and not any(_app_store(b) for b in buckets):
            continue
        for role, members, condition in _gcs_grants(grant):
            if role.strip().lower() not in READ_ROLES:
                continue
            public = [m for m in members if m.strip() in ("allUsers", "allAuthenticatedUsers")]
            if public and any(b.get("urn") in served for b in buckets):
                yield grant, f"{public[0]} can read every object of the bucket the CDN serves, user uploads included"
            if any(m.strip().endswith("@cloud-cdn-fill.iam.gserviceaccount.com") for m in members):
                why = _prefix_only(condition)
                if isinstance(why, Unverified):
                    yield grant, why
                elif why is not None:
                    yield grant, (f"Cloud CDN may read every object of the app's bucket ({role}): {why}; user uploads "
                                  "become public by URL")


def _blob_origin(graph: Graph, origin: Resource) -> bool:
    host = get(inputs(origin), "hostName")
    if isinstance(host, str) and known(host):
        return ".blob.core.windows.net" in host or ".dfs.core.windows.net" in host
    return any(_app_store(a) for a in graph.dependencies(origin, STORAGE_ACCOUNT))


def _segments(path: object) -> list[str]:
    return [p for p in str(path or "").split("/") if p]


def _azure_cdn(graph: Graph) -> Iterator[tuple[Resource, str]]:
    for route in graph.of_type(AFD_ROUTE):
        origins = graph.dependencies(route, AFD_ORIGIN)
        if not any(_blob_origin(graph, o) for o in origins):
            continue
        data = inputs(route)
        path, patterns = get(data, "originPath"), get(data, "patternsToMatch", ["/*"])
        if not known(path) or not known(patterns):
            yield route, unverified("originPath / patternsToMatch")
            continue
        catch_all = [p for p in items(patterns) if str(p).strip() in ("/*", "/", "*")]
        if len(_segments(path)) <= 1 and catch_all:
            yield route, (
                f"the route serves every blob of the container (origin path {path or '/'}, pattern {catch_all[0]}): "
                "user uploads become public by URL; match the public prefix only (/public/*)"
            )
    for endpoint in graph.of_type(CLASSIC_CDN_ENDPOINT):
        data = inputs(endpoint)
        blob = any(".blob.core.windows.net" in str(get(o, "hostName", "")) for o in items(get(data, "origins")))
        if blob and len(_segments(get(data, "originPath"))) <= 1:
            yield endpoint, "the endpoint serves every blob of the container: set origin_path to the public prefix"


def _cdn_private_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    yield from _s3_cdn_grants(graph)
    yield from _gcs_cdn_grants(graph)
    yield from _azure_cdn(graph)


CDN_PRIVATE = Rule(
    id="cdn-private-files",
    title="The CDN serves the public prefix, not user uploads",
    severity="high",
    enforcement="mandatory",
    description="The app writes user uploads to the same bucket the CDN serves public files from, so the CDN reads "
    "one prefix (public/) and nothing else: the S3 bucket policy grants CloudFront s3:GetObject on bucket/public/* "
    "and the origin path is /public, not the bucket root; the Cloud CDN fill account's grant carries an IAM "
    "condition on the prefix and no allUsers reader is on the bucket; Front Door routes to blob storage match "
    "/public/* or point the origin path below the container. User files stay private (the app serves or signs "
    "them).",
    remediation={
        "aws": "Keep the CDN's origin_path at /public and the bucket policy's CloudFront statement on "
        "<bucket>/public/* (components.cdn / components.storage overrides must keep them).",
        "gcp": "Grant the cloud-cdn-fill service account roles/storage.objectViewer with an IAM condition "
        "resource.name.startsWith(\"projects/_/buckets/<bucket>/objects/public/\"); never allUsers.",
        "azure": "Match /public/* on the Front Door route to the storage origin (or set origin_path to "
        "/<container>/public); never /* on the container.",
    },
    clouds=CLOUDS,
    graph_check=_cdn_private_graph,
    graph_types=(S3_POLICY, CLOUDFRONT, "gcp:storage/bucketIAMMember:BucketIAMMember", GCP_BACKEND_BUCKET, AFD_ROUTE,
                 CLASSIC_CDN_ENDPOINT),  # fmt: skip
)

RULES = [WAF, RATE_LIMIT, CDN_PRIVATE]
