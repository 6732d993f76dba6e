"""The public entries of a stack: what the internet reaches directly, read from the planned resources.

An entry is public unless the plan says otherwise: an internal load balancer, an INTERNAL scheme, a private
frontend, a Cloud Run service that only takes traffic from its load balancer, a Container App whose environment
is closed to the internet. A setting the plan cannot know yet (``[computed]``) counts as public: the rules that
read these fail closed. ``load-balancer-https``, ``edge-waf`` and ``prod-domain`` share these readings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mbops.policies.model import Graph, Resource
from mbops.policies.values import flag, get, items, known, word

AWS_LBS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
CLASSIC_ELB = "aws:elb/loadBalancer:LoadBalancer"
CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
HTTP_API = "aws:apigatewayv2/api:Api"
REST_API = "aws:apigateway/restApi:RestApi"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
GCP_GLOBAL_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
GCP_RULE = "gcp:compute/forwardingRule:ForwardingRule"
GCP_RULES = (GCP_GLOBAL_RULE, GCP_RULE)
CLOUD_RUN = ("gcp:cloudrunv2/service:Service", "gcp:cloudrun/service:Service")
AFD_ENDPOINT = "azure-native:cdn:AFDEndpoint"
APP_GATEWAY = "azure-native:network:ApplicationGateway"
AZURE_LB = "azure-native:network:LoadBalancer"
CONTAINER_APP = "azure-native:app:ContainerApp"
CONTAINER_ENV = "azure-native:app:ManagedEnvironment"


def inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


@dataclass(frozen=True)
class Entry:
    """A resource the internet reaches directly, and what it is (for messages)."""

    resource: Resource
    what: str


# --- AWS ----------------------------------------------------------------------------------------------------
def aws_lb_type(lb: Resource) -> str:
    return word(get(inputs(lb), "loadBalancerType"), "application")


def aws_lb_public(lb: Resource) -> bool:
    """An ALB/NLB not marked internal (unknown: public)."""
    return flag(get(inputs(lb), "internal")) is not True


def aws_lb_of(graph: Graph, res: Resource) -> Resource | None:
    """The load balancer a listener depends on (None when it is not in the stack)."""
    return next(iter(graph.dependencies(res, *AWS_LBS)), None)


def classic_elb_public(elb: Resource) -> bool:
    return flag(get(inputs(elb), "internal")) is not True


def rest_api_public(api: Resource) -> bool:
    types = [word(t) for t in items(get(inputs(api), "endpointConfiguration.types"))]
    return types != ["private"]


def function_url_public(url: Resource) -> bool:
    return word(get(inputs(url), "authorizationType")) != "aws_iam"


# --- GCP ----------------------------------------------------------------------------------------------------
def gcp_external(rule: Resource) -> bool:
    """A forwarding rule with an external scheme (the default is EXTERNAL; unknown: external)."""
    scheme = get(inputs(rule), "loadBalancingScheme")
    return not (known(scheme) and word(scheme).startswith("internal"))


def gcp_serves_internet(graph: Graph, proxy: Resource) -> bool:
    """A proxy that an external forwarding rule uses (or that no rule in the stack uses: it may be anyone's)."""
    rules = graph.dependents(proxy, *GCP_RULES)
    return not rules or any(gcp_external(r) for r in rules)


GCP_PASSTHROUGH_TARGETS = ("gcp:compute/targetPool:TargetPool", "gcp:compute/targetInstance:TargetInstance")


def gcp_passthrough(graph: Graph, rule: Resource) -> bool:
    """An external regional forwarding rule straight to a backend service, target pool or instance (layer 4)."""
    if rule.get("type") != GCP_RULE or not gcp_external(rule):
        return False
    return get(inputs(rule), "backendService") is not None or bool(graph.dependencies(rule, *GCP_PASSTHROUGH_TARGETS))


def cloud_run_public(service: Resource) -> bool:
    """A Cloud Run service that takes traffic from the internet directly (ingress ALL, the default)."""
    if service.get("type") == CLOUD_RUN[0]:
        ingress = get(inputs(service), "ingress")
    else:  # v1: the run.googleapis.com/ingress annotation
        annotations = get(inputs(service), "metadata.annotations")
        ingress = annotations.get("run.googleapis.com/ingress") if isinstance(annotations, dict) else annotations
    return not known(ingress) or word(ingress, "all") in ("all", "ingress_traffic_all")


# --- Azure --------------------------------------------------------------------------------------------------
def azure_public_frontend(res: Resource) -> bool:
    """A load balancer or application gateway with a frontend on a public IP address (or prefix)."""
    frontends = get(inputs(res), "frontendIPConfigurations")
    if not known(frontends):
        return True
    return any(get(f, "publicIPAddress") is not None or get(f, "publicIPPrefix") is not None
               for f in items(frontends))  # fmt: skip


def environment_public(env: Resource) -> bool:
    """A Container Apps environment the internet reaches: not internal to its VNet, public access not
    Disabled."""
    data = inputs(env)
    if flag(get(data, "vnetConfiguration.internal")) is True:
        return False
    access = get(data, "publicNetworkAccess")
    return not known(access) or word(access, "enabled") != "disabled"


def container_app_public(graph: Graph, app: Resource) -> bool:
    """A Container App with external ingress in an environment the internet reaches (an environment that is not
    in the stack is judged where it is defined)."""
    if flag(get(inputs(app), "configuration.ingress.external")) is not True:
        return False
    envs = graph.dependencies(app, CONTAINER_ENV)
    return bool(envs) and any(environment_public(e) for e in envs)


# --- every entry --------------------------------------------------------------------------------------------
def public_entries(graph: Graph) -> Iterator[Entry]:
    """Every resource of ``graph`` the internet reaches directly."""
    for lb in graph.of_type(*AWS_LBS):
        if aws_lb_public(lb):
            kind = {"network": "Network", "gateway": "Gateway"}.get(aws_lb_type(lb), "Application")
            yield Entry(lb, f"{kind} Load Balancer")
    for elb in graph.of_type(CLASSIC_ELB):
        if classic_elb_public(elb):
            yield Entry(elb, "Classic Load Balancer")
    for dist in graph.of_type(CLOUDFRONT):
        yield Entry(dist, "CloudFront distribution")
    for api in graph.of_type(HTTP_API):
        yield Entry(api, "API Gateway API")
    for api in graph.of_type(REST_API):
        if rest_api_public(api):
            yield Entry(api, "API Gateway REST API")
    for url in graph.of_type(FUNCTION_URL):
        if function_url_public(url):
            yield Entry(url, "Lambda function URL")
    for rule in graph.of_type(*GCP_RULES):
        if gcp_external(rule):
            yield Entry(rule, "external forwarding rule")
    for service in graph.of_type(*CLOUD_RUN):
        if cloud_run_public(service):
            yield Entry(service, "Cloud Run service")
    for endpoint in graph.of_type(AFD_ENDPOINT):
        yield Entry(endpoint, "Front Door endpoint")
    for gateway in graph.of_type(APP_GATEWAY):
        if azure_public_frontend(gateway):
            yield Entry(gateway, "Application Gateway")
    for lb in graph.of_type(AZURE_LB):
        if azure_public_frontend(lb):
            yield Entry(lb, "public load balancer")
    for app in graph.of_type(CONTAINER_APP):
        if container_app_public(graph, app):
            yield Entry(app, "Container App")
