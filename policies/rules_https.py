"""HTTPS on the stack's own domain: prod has a domain, and every public entry serves HTTPS with TLS 1.2 or later."""

from __future__ import annotations

from collections.abc import Iterator

from mbops.policies import tls
from mbops.policies.entries import (
    APP_GATEWAY,
    AZURE_LB,
    CLASSIC_ELB,
    CLOUDFRONT,
    CONTAINER_APP,
    GCP_RULE,
    aws_lb_of,
    aws_lb_public,
    aws_lb_type,
    azure_public_frontend,
    classic_elb_public,
    container_app_public,
    gcp_passthrough,
    gcp_serves_internet,
    inputs,
    public_entries,
)
from mbops.policies.model import Check, Context, Graph, Resource, Rule, Unverified, unverified
from mbops.policies.values import flag, get, items, known, word

CLOUDS = ("aws", "gcp", "azure")
AWS_LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
AWS_LISTENER_RULES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
GCP_HTTP_PROXIES = ("gcp:compute/targetHttpProxy:TargetHttpProxy",
                    "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy")  # fmt: skip
GCP_TLS_PROXIES = (
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy", "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy",
    "gcp:compute/targetSSLProxy:TargetSSLProxy",
)  # fmt: skip
GCP_TCP_PROXIES = ("gcp:compute/targetTCPProxy:TargetTCPProxy", "gcp:compute/regionTargetTcpProxy:RegionTargetTcpProxy")
GCP_URL_MAPS = ("gcp:compute/uRLMap:URLMap", "gcp:compute/regionUrlMap:RegionUrlMap")
GCP_SSL_POLICIES = ("gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/regionSslPolicy:RegionSslPolicy")
# A custom domain served with a certificate: what a prod stack's entries show when it has a domain.
CUSTOM_DOMAIN_TYPES = (
    "aws:acm/certificate:Certificate", "aws:apigatewayv2/domainName:DomainName", "aws:apigateway/domainName:DomainName",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate", "gcp:compute/sSLCertificate:SSLCertificate",
    "gcp:certificatemanager/certificate:Certificate", "gcp:cloudrun/domainMapping:DomainMapping",
    "azure-native:cdn:AFDCustomDomain", "azure-native:app:ManagedCertificate", "azure-native:app:Certificate",
)  # fmt: skip


# --- prod-domain --------------------------------------------------------------------------------------------
DOMAIN_MESSAGE = (
    "prod serves HTTPS on your own domain: set `domain: api.example.com` in the stack file (and `dns_zone:` when "
    "the zone is in this cloud account); the cloud issues and renews the certificate, and without a zone the plan "
    "lists the DNS records to create"
)


def _certificates(graph: Graph) -> Iterator[object]:
    """What names a certificate of the stack's own: CloudFront aliases, Container Apps custom domains, the
    certificate of an HTTPS listener, proxy or gateway (an imported one too)."""
    for dist in graph.of_type(CLOUDFRONT):
        yield get(inputs(dist), "aliases")
    for app in graph.of_type(CONTAINER_APP):
        yield get(inputs(app), "configuration.ingress.customDomains")
    for listener in graph.of_type(*AWS_LISTENERS):
        yield [arn] if (arn := get(inputs(listener), "certificateArn")) is not None else None
    for proxy in graph.of_type(*GCP_TLS_PROXIES):
        data = inputs(proxy)
        yield get(data, "sslCertificates") or ([get(data, "certificateMap")] if "certificateMap" in data else None)
    for gateway in graph.of_type(APP_GATEWAY):
        yield get(inputs(gateway), "sslCertificates")


def _has_custom_domain(graph: Graph) -> bool:
    if any(True for _ in graph.of_type(*CUSTOM_DOMAIN_TYPES)):
        return True
    return any(items(v) or (v is not None and not known(v)) for v in _certificates(graph))


def _prod_domain(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """Offline: the stack file's ``domain``. In the pack (no stack file): a custom domain among the resources of a
    stack with public entries. Stack-level: ``Rule.applies`` keeps it to prod stacks."""
    if ctx.stack is not None:
        if ctx.stack.cloud in CLOUDS and not ctx.stack.domain:
            yield None, DOMAIN_MESSAGE
        return
    entries = list(public_entries(graph))
    if entries and not _has_custom_domain(graph):
        names = ", ".join(dict.fromkeys(e.resource.get("name", "?") for e in entries))
        yield None, f"{DOMAIN_MESSAGE} (the public entries {names} have no custom domain)"


PROD_DOMAIN = Rule(
    id="prod-domain",
    title="Prod serves HTTPS on its own domain",
    severity="high",
    enforcement="mandatory",
    description="A prod stack names the domain it serves (`domain:`): its entry gets a cloud-managed certificate "
    "and serves HTTPS only, HTTP redirecting. Mobile platforms refuse cleartext, and a platform hostname "
    "(`*.elb.amazonaws.com`, an IP address) cannot be moved between clouds or regions. Reported on the stack; the "
    "CrossGuard pack, which has no stack file, looks for a custom domain among the resources.",
    remediation="Set `domain: api.example.com` in the stack file, and `dns_zone: example.com` when the zone is in "
    "the same cloud account (Route 53 / Cloud DNS / Azure DNS) so mbops creates the records; otherwise create the "
    "validation and address records the plan outputs (dns_records).",
    clouds=CLOUDS,
    prod_only=True,
    graph_check=_prod_domain,
    graph_types=CUSTOM_DOMAIN_TYPES,
)


# --- load-balancer-https: AWS -------------------------------------------------------------------------------
def _tls_floor(version: tls.Version | None, label: str, value: object) -> Iterator[str]:
    if version is None:
        yield f"{label} {value!r} is not a TLS setting the check knows: name a TLS 1.2+ policy"
    elif version < tls.TLS12:
        shown = value if value is not None else "not set"
        yield f"{label} is {shown}: it admits {tls.shown(version)}; require TLS 1.2+"


def _aws_listener_protocol(listener: Resource, lb: Resource | None) -> str | None:
    protocol = get(inputs(listener), "protocol")
    if not known(protocol):
        return None
    default = "tcp" if lb is not None and aws_lb_type(lb) == "network" else "http"
    return word(protocol, default)


def _serves_http(listener: Resource) -> bool:
    """An HTTP listener that does more than redirect to HTTPS (or answer a fixed response)."""
    actions = items(get(inputs(listener), "defaultActions"))
    for action in actions:
        kind = word(get(action, "type"))
        if kind == "redirect" and word(get(action, "redirect.protocol")) == "https":
            continue
        if kind != "fixed-response":
            return True
    return not actions


def _aws_listeners(graph: Graph) -> Iterator[tuple[Resource, str]]:
    http_listeners: dict[str, Resource] = {}
    for listener in graph.of_type(*AWS_LISTENERS):
        lb = aws_lb_of(graph, listener)
        if lb is not None and not aws_lb_public(lb):
            continue
        protocol = _aws_listener_protocol(listener, lb)
        data = inputs(listener)
        if protocol is None:
            yield listener, unverified("protocol")
        elif protocol == "http":
            http_listeners[listener.get("urn", "")] = listener
            if _serves_http(listener):
                yield listener, (
                    f"the listener on port {get(data, 'port', '?')} serves the app over plain HTTP: its default action "
                    "does not redirect to HTTPS"
                )
        elif protocol in ("https", "tls"):
            policy = get(data, "sslPolicy")
            if not known(policy):
                yield listener, unverified("sslPolicy")
            else:
                yield from ((listener, m) for m in _tls_floor(tls.elb_policy(policy), "sslPolicy", policy))
        elif protocol in ("tcp", "udp", "tcp_udp"):
            yield listener, (
                f"the {protocol.upper()} listener on port {get(data, 'port', '?')} of an internet-facing Network Load "
                "Balancer carries the app's traffic unencrypted: use a TLS listener with an ACM certificate, or an "
                "Application Load Balancer with HTTPS"
            )
    for rule in graph.of_type(*AWS_LISTENER_RULES):
        on_http = [lis for lis in graph.dependencies(rule, *AWS_LISTENERS) if lis.get("urn") in http_listeners]
        kinds = [word(get(a, "type")) for a in items(get(inputs(rule), "actions"))]
        if on_http and any(k in ("forward", "authenticate-cognito", "authenticate-oidc") for k in kinds):
            yield rule, "the rule forwards plain-HTTP requests to the app instead of redirecting them to HTTPS"


def _classic_elb(res: Resource, ctx: Context) -> Iterator[str]:
    if not classic_elb_public(res):
        return
    for listener in items(get(inputs(res), "listeners")):
        protocol = word(get(listener, "lbProtocol"))
        if protocol in ("http", "tcp"):
            yield (
                f"the {protocol.upper()} listener on port {get(listener, 'lbPort', '?')} serves the app unencrypted; "
                "use HTTPS/SSL listeners (or move to an Application Load Balancer)"
            )


def _cloudfront_tls(res: Resource, ctx: Context) -> Iterator[str]:
    cert = get(inputs(res), "viewerCertificate")
    if not known(cert):
        yield unverified("viewerCertificate")
        return
    if get(cert, "acmCertificateArn") is None and get(cert, "iamCertificateId") is None:
        return  # the *.cloudfront.net certificate: CloudFront sets the TLS floor itself
    version = get(cert, "minimumProtocolVersion")
    if not known(version):
        yield unverified("viewerCertificate.minimumProtocolVersion")
    else:
        yield from _tls_floor(tls.cloudfront(version), "viewerCertificate.minimumProtocolVersion", version)


def _api_domain(path: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        value = get(inputs(res), path)
        if not known(value):
            yield unverified(path)
        else:
            yield from _tls_floor(tls.api_gateway(value), path, value)

    return check


# --- load-balancer-https: GCP -------------------------------------------------------------------------------
def _redirect_only(url_map: Resource) -> str | None:
    """Why ``url_map`` serves something other than a redirect to HTTPS (None when it only redirects)."""
    data = inputs(url_map)
    if not known(get(data, "defaultUrlRedirect")) or not known(get(data, "pathMatchers")):
        return unverified("defaultUrlRedirect / pathMatchers")
    if flag(get(data, "defaultUrlRedirect.httpsRedirect")) is not True or get(data, "defaultService") is not None:
        return "its URL map does not redirect to HTTPS"
    for matcher in items(get(data, "pathMatchers")):
        serves = get(matcher, "defaultService") is not None or any(
            get(r, "service") is not None for r in items(get(matcher, "pathRules")) + items(get(matcher, "routeRules"))
        )
        if serves or flag(get(matcher, "defaultUrlRedirect.httpsRedirect")) is not True:
            return f"its URL map's path matcher {get(matcher, 'name', '?')} serves a backend over plain HTTP"
    return None


def _gcp(graph: Graph) -> Iterator[tuple[Resource, str]]:
    for proxy in graph.of_type(*GCP_HTTP_PROXIES):
        if not gcp_serves_internet(graph, proxy):
            continue
        maps = graph.dependencies(proxy, *GCP_URL_MAPS)
        if not maps:
            yield proxy, "the load balancer serves plain HTTP (its URL map is not in the stack: no redirect to HTTPS)"
        for url_map in maps:
            why = _redirect_only(url_map)
            if why is not None:
                yield proxy, why if isinstance(why, Unverified) else f"the load balancer serves plain HTTP: {why}"
    for proxy in graph.of_type(*GCP_TLS_PROXIES):
        if not gcp_serves_internet(graph, proxy):
            continue
        policy = get(inputs(proxy), "sslPolicy")
        if policy is None:
            yield proxy, "no sslPolicy: Google's default SSL policy admits TLS 1.0 with weak ciphers (COMPATIBLE)"
            continue
        for found in graph.dependencies(proxy, *GCP_SSL_POLICIES):
            data = inputs(found)
            version = get(data, "minTlsVersion")
            if not known(version):
                yield proxy, unverified(f"{found.get('name', 'sslPolicy')}.minTlsVersion")
            else:
                yield from ((proxy, m) for m in _tls_floor(tls.enum(version, (1, 0)), "the SSL policy's minTlsVersion",
                                                          version))  # fmt: skip
            if word(get(data, "profile"), "compatible") == "compatible":
                yield proxy, "the SSL policy's profile is COMPATIBLE: weak ciphers stay on; use MODERN or RESTRICTED"
    for proxy in graph.of_type(*GCP_TCP_PROXIES):
        if gcp_serves_internet(graph, proxy):
            yield proxy, "a TCP proxy load balancer carries the app's traffic unencrypted; use an HTTPS load balancer"
    for rule in graph.of_type(GCP_RULE):
        if gcp_passthrough(graph, rule):
            yield rule, (
                "an external passthrough (L4) load balancer carries the app's traffic unencrypted; use an external "
                "HTTPS load balancer"
            )


# --- load-balancer-https: Azure -----------------------------------------------------------------------------
def _suffix(ref: object) -> str:
    value = get(ref, "id") if isinstance(ref, dict) else ref
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else ""


def _app_gateway(res: Resource, ctx: Context) -> Iterator[str]:
    if not azure_public_frontend(res):
        return
    data = inputs(res)
    redirects = {get(r, "name"): r for r in items(get(data, "redirectConfigurations"))}
    rules = items(get(data, "requestRoutingRules"))
    listeners = items(get(data, "httpListeners"))
    for listener in listeners:
        if word(get(listener, "protocol")) != "http":
            continue
        name = get(listener, "name")
        for rule in (r for r in rules if _suffix(get(r, "httpListener")) == name):
            target = redirects.get(_suffix(get(rule, "redirectConfiguration")))
            to_https = target is not None and (
                get(target, "targetListener") is not None
                or str(get(target, "targetUrl", "")).lower().startswith("https://")
            )
            if not to_https:
                yield f"the HTTP listener {name} routes requests to the app instead of redirecting them to HTTPS"
    if not any(word(get(lis, "protocol")) == "https" for lis in listeners):
        return
    policy = get(data, "sslPolicy")
    if not known(policy):
        yield unverified("sslPolicy")
    elif policy is not None:
        kind, name = word(get(policy, "policyType")), get(policy, "policyName")
        if kind == "predefined" or (not kind and name):
            version = tls.APP_GATEWAY_PREDEFINED.get(word(name))
            yield from _tls_floor(version, "sslPolicy.policyName", name)
        elif kind in ("custom", "customv2"):
            value = get(policy, "minProtocolVersion")
            yield from _tls_floor(tls.enum(value, (1, 0)), "sslPolicy.minProtocolVersion", value)


def _azure_lb(res: Resource, ctx: Context) -> Iterator[str]:
    if not azure_public_frontend(res):
        return
    for rule in items(get(inputs(res), "loadBalancingRules")):
        yield (
            f"rule {get(rule, 'name', '?')} forwards port {get(rule, 'frontendPort', '?')} "
            f"({get(rule, 'protocol', 'Tcp')}) from a public frontend to the app unencrypted: a layer-4 load balancer "
            "cannot terminate TLS; use Front Door or an Application Gateway with HTTPS"
        )


def _afd_custom_domain(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(inputs(res), "tlsSettings.minimumTlsVersion")
    if not known(value):
        yield unverified("tlsSettings.minimumTlsVersion")
    else:
        yield from _tls_floor(tls.enum(value, tls.TLS12), "tlsSettings.minimumTlsVersion", value)


def _azure(graph: Graph) -> Iterator[tuple[Resource, str]]:
    for app in graph.of_type(CONTAINER_APP):
        transport = get(inputs(app), "configuration.ingress.transport")
        if word(transport) == "tcp" and container_app_public(graph, app):
            yield app, "external TCP ingress carries the app's traffic unencrypted; use HTTP ingress (HTTPS)"


def _lb_https_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    yield from _aws_listeners(graph)
    yield from _gcp(graph)
    yield from _azure(graph)


LB_HTTPS = Rule(
    id="load-balancer-https",
    title="Public entries serve HTTPS with TLS 1.2+",
    severity="high",
    enforcement="mandatory",
    enforcement_outside_prod="advisory",
    description="Every entry the internet reaches serves HTTPS with TLS 1.2 or later: ALB listeners forward over "
    "HTTPS (HTTP only redirects), with a TLS 1.2+ security policy; GCP HTTP proxies only serve a URL map that "
    "redirects to HTTPS, and HTTPS proxies carry a TLS 1.2+ SSL policy; CloudFront, API Gateway and Front Door "
    "custom domains require TLS 1.2; Application Gateway HTTP listeners redirect. Layer-4 load balancers (NLB TCP "
    "listeners, GCP TCP proxies and passthrough rules, a public Azure load balancer, TCP ingress) carry plain HTTP "
    "and are findings. Mandatory in prod; advisory elsewhere, where a stack without a domain may use HTTP when the "
    "platform has no HTTPS hostname.",
    remediation={
        "aws": "Set `domain:` in the stack file: the ALB gets an ACM certificate, an HTTPS listener with "
        "ELBSecurityPolicy-TLS13-1-2-2021-06, and HTTP redirects (CloudFront and API Gateway domains: TLSv1.2_2021 "
        "/ TLS_1_2).",
        "gcp": "Set `domain:` in the stack file: a Google-managed certificate, a target HTTPS proxy with a TLS 1.2 "
        "RESTRICTED SSL policy, and an HTTP URL map that only redirects to HTTPS.",
        "azure": "Set `domain:` in the stack file and serve the app through Front Door (TLS 1.2 managed "
        "certificate, HTTPS redirect) rather than a public layer-4 load balancer.",
    },
    clouds=CLOUDS,
    controls={
        "aws:lb/listener:Listener": "AWS FSBP ELB.1; AWS FSBP ELB.17",
        "aws:alb/listener:Listener": "AWS FSBP ELB.1; AWS FSBP ELB.17",
        CLASSIC_ELB: "AWS FSBP ELB.3",
        "gcp": "CIS GCP 3.9",
        "azure": "MCSB DP-3",
    },  # fmt: skip
    checks={
        CLASSIC_ELB: _classic_elb,
        CLOUDFRONT: _cloudfront_tls,
        "aws:apigatewayv2/domainName:DomainName": _api_domain("domainNameConfiguration.securityPolicy"),
        "aws:apigateway/domainName:DomainName": _api_domain("securityPolicy"),
        APP_GATEWAY: _app_gateway,
        AZURE_LB: _azure_lb,
        "azure-native:cdn:AFDCustomDomain": _afd_custom_domain,
    },
    graph_check=_lb_https_graph,
    graph_types=(*AWS_LISTENERS, *AWS_LISTENER_RULES, *GCP_HTTP_PROXIES, *GCP_TLS_PROXIES, *GCP_TCP_PROXIES, GCP_RULE,
                 CONTAINER_APP),  # fmt: skip
)

RULES = [PROD_DOMAIN, LB_HTTPS]
