"""Production rules (issues 10, 11, 13): a domain with HTTPS on every public entry, a WAF in front of each, a CDN
that serves the public prefix only, monitoring that reaches a person, images pinned, registries private.

Each case is a misconfiguration (or a look-alike that is fine) on crafted planned-graph resources, judged offline
and by the CrossGuard pack's policy functions, which must agree. Stack-level facts (the stack file's domain,
monitoring, app.image) go through real stacks planned on the embedded engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine.plan import plan
from mbops.policies.check import evaluate
from mbops.policies.model import Context
from mbops.policies.pack import pack_config
from mbops.policies.registry import BY_ID
from mbops.stacks.config import StackFile, resolve
from tests.test_policy_pack import offline, run_pack

UNKNOWN = "[computed]"
DOMAIN = "api.example.com"
DIGEST = "sha256:" + "ab" * 32
PROD = {"environment": "prod"}

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
WAF_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
HTTP_API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
GCP_HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
GCP_HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
GCP_URL_MAP = "gcp:compute/uRLMap:URLMap"
GCP_SSL = "gcp:compute/sSLPolicy:SSLPolicy"
GCP_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
GCP_BACKEND = "gcp:compute/backendService:BackendService"
GCP_BUCKET_BACKEND = "gcp:compute/backendBucket:BackendBucket"
GCS = "gcp:storage/bucket:Bucket"
GCS_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
RUN = "gcp:cloudrunv2/service:Service"
AFD_ROUTE = "azure-native:cdn:Route"
AFD_ENDPOINT = "azure-native:cdn:AFDEndpoint"
AFD_DOMAIN = "azure-native:cdn:AFDCustomDomain"
AFD_ORIGIN = "azure-native:cdn:AFDOrigin"
AFD_SECURITY = "azure-native:cdn:SecurityPolicy"
FD_WAF = "azure-native:frontdoor:Policy"
AZ_LB = "azure-native:network:LoadBalancer"
APP = "azure-native:app:ContainerApp"
APP_ENV = "azure-native:app:ManagedEnvironment"
APP_GW = "azure-native:network:ApplicationGateway"
IMAGE = "pulumi-python:dynamic/mbops:Image"
ARTIFACT = "gcp:artifactregistry/repository:Repository"
CDN_FILL = "serviceAccount:service-123@cloud-cdn-fill.iam.gserviceaccount.com"
PREFIX_ONLY = 'resource.name.startsWith("projects/_/buckets/files-1/objects/public/")'


# --- crafted graphs -----------------------------------------------------------------------------------------
URNS: dict[tuple[str, str], str] = {}  # (type, name) -> URN of the crafted resources inside a component


def urn(type_token: str, name: str, component: str | None = None) -> str:
    """A URN as the engine writes it: inside an mbops component, the component's type leads the type chain."""
    if component is None:
        return URNS.get((type_token, name), f"urn:pulumi:test::mbops::{type_token}::{name}")
    chain = f"mbops:{type_token.split(':', 1)[0]}:{component.title()}${type_token}"
    return URNS.setdefault((type_token, name), f"urn:pulumi:test::mbops::{chain}::{name}")


def res(type_token: str, inputs: dict[str, Any], name: str, *deps: str, component: str | None = None) -> dict:
    """A crafted planned-graph resource depending on the resources named ``deps`` (``type::name``)."""
    return {"urn": urn(type_token, name, component), "type": type_token, "name": name, "parent": None,
            "custom": True, "component": component, "inputs": inputs,
            "dependencies": [urn(*d.split("::")) for d in deps], "protect": False, "op": "create"}  # fmt: skip


def on(type_token: str, name: str) -> str:
    """A dependency on the crafted resource ``name`` of ``type_token``."""
    return f"{type_token}::{name}"


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    expect: str  # "fires" (with ``contains`` in a message), "quiet", or "unverified" (a [computed] setting)
    contains: str
    resources: tuple[dict[str, Any], ...]
    env: str = "prod"


def C(id: str, rule: str, expect: str, contains: str, *resources: dict[str, Any], env: str = "prod") -> Case:  # noqa: A002, N802
    return Case(id, rule, expect, contains, resources, env)


ALB = res(LB, {"loadBalancerType": "application"}, "alb")
NLB = res(LB, {"loadBalancerType": "network"}, "nlb")
INTERNAL_ALB = res(LB, {"internal": True}, "inner")
REDIRECT = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
FORWARD = [{"type": "forward", "targetGroupArn": UNKNOWN}]


def listener(name: str, protocol: str, actions: list, lb: str = "alb", **more: Any) -> dict[str, Any]:
    return res(LISTENER, {"protocol": protocol, "port": 443 if protocol == "HTTPS" else 80,
                          "defaultActions": actions, **more}, name, on(LB, lb))  # fmt: skip


HTTPS_OK = listener("https", "HTTPS", FORWARD, sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
WAF_ON_ALB = res(WAF_ASSOC, {"resourceArn": UNKNOWN, "webAclArn": UNKNOWN}, "assoc", on(LB, "alb"))
RATE_RULE = {"name": "rate", "priority": 0, "action": {"block": {}},
             "statement": {"rateBasedStatement": {"limit": 1000, "aggregateKeyType": "IP"}}}  # fmt: skip
MANAGED_RULE = {"name": "common", "priority": 10, "overrideAction": {"none": {}}, "statement": {
    "managedRuleGroupStatement": {"vendorName": "AWS", "name": "AWSManagedRulesCommonRuleSet"}}}  # fmt: skip
CUSTOM_CERT = {"acmCertificateArn": UNKNOWN, "sslSupportMethod": "sni-only"}
API = res(HTTP_API, {"protocolType": "HTTP"}, "api")
API_DIST = res(CLOUDFRONT, {"webAclId": UNKNOWN, "origins": [{"originId": "api", "domainName": UNKNOWN}]}, "front",
               on(HTTP_API, "api"))
FILES = res(BUCKET, {}, "files", component="storage")
ALB_LOGS = res(BUCKET, {}, "alb-logs", component="containers")


def cloudfront_read(resource: str, bucket: str = "files") -> dict[str, Any]:
    statement = {"Sid": "AllowCloudFrontRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                 "Action": "s3:GetObject", "Resource": resource,
                 "Condition": {"StringEquals": {"AWS:SourceArn": UNKNOWN}}}  # fmt: skip
    return res(BUCKET_POLICY, {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
               f"{bucket}-policy", on(BUCKET, bucket))  # fmt: skip


def s3_cdn(origin_path: str) -> dict[str, Any]:
    origin = {"originId": "bucket", "domainName": UNKNOWN, "originAccessControlId": UNKNOWN, "originPath": origin_path}
    return res(CLOUDFRONT, {"webAclId": UNKNOWN, "origins": [origin],
                            "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"}},
               "cdn", on(BUCKET, "files"))  # fmt: skip


def url_map(**inputs: Any) -> dict[str, Any]:
    return res(GCP_URL_MAP, inputs, "map")


HTTP_PROXY = res(GCP_HTTP_PROXY, {"urlMap": UNKNOWN}, "http-proxy", on(GCP_URL_MAP, "map"))
REDIRECT_MAP = url_map(defaultUrlRedirect={"httpsRedirect": True, "stripQuery": False})


def https_proxy(**inputs: Any) -> dict[str, Any]:
    deps = [on(GCP_SSL, "tls")] if inputs.get("sslPolicy") == UNKNOWN else []
    return res(GCP_HTTPS_PROXY, {"urlMap": UNKNOWN, **inputs}, "https-proxy", *deps)


def cdn_fill(condition: dict[str, Any] | None, member: str = CDN_FILL) -> dict[str, Any]:
    inputs = {"bucket": UNKNOWN, "role": "roles/storage.objectViewer", "member": member}
    return res(GCS_MEMBER, inputs | ({"condition": condition} if condition else {}), "fill", on(GCS, "files"))


GCS_FILES = res(GCS, {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True}, "files",
                component="storage")
GCS_SERVED = res(GCP_BUCKET_BACKEND, {"bucketName": UNKNOWN, "enableCdn": True, "edgeSecurityPolicy": UNKNOWN},
                 "cdn", on(GCS, "files"))
AFD_EP = res(AFD_ENDPOINT, {"endpointName": "app-1", "profileName": "afd"}, "ep")
AFD_CD = res(AFD_DOMAIN, {"customDomainName": "api-example-com", "hostName": DOMAIN,
                          "tlsSettings": {"certificateType": "ManagedCertificate", "minimumTlsVersion": "TLS12"}},
             "cd")  # fmt: skip
AFD_APP_ROUTE = res(AFD_ROUTE, {"endpointName": "app-1", "linkToDefaultDomain": "Disabled",
                                "customDomains": [{"id": UNKNOWN}], "httpsRedirect": "Enabled",
                                "supportedProtocols": ["Http", "Https"], "patternsToMatch": ["/*"]},
                    "route", on(AFD_ENDPOINT, "ep"), on(AFD_DOMAIN, "cd"))  # fmt: skip


def afd_waf_policy(*deps: str, ids: tuple[str, ...] = ()) -> dict[str, Any]:
    domains = [{"id": i} for i in ids] or [{"id": UNKNOWN}]
    return res(AFD_SECURITY, {"parameters": {"type": "WebApplicationFirewall", "wafPolicy": {"id": UNKNOWN},
                                             "associations": [{"domains": domains, "patternsToMatch": ["/*"]}]}},
               "waf-link", *deps)  # fmt: skip


BLOB = res("azure-native:storage:StorageAccount", {"allowBlobPublicAccess": False}, "files", component="storage")
BLOB_ORIGIN = res(AFD_ORIGIN, {"hostName": "stfiles.blob.core.windows.net"}, "blob",
                  on("azure-native:storage:StorageAccount", "files"))


def files_route(origin_path: str, patterns: list[str]) -> dict[str, Any]:
    return res(AFD_ROUTE, {"endpointName": "cdn-1", "originPath": origin_path, "patternsToMatch": patterns,
                           "httpsRedirect": "Enabled", "supportedProtocols": ["Https"]},
               "files-route", on(AFD_ORIGIN, "blob"))  # fmt: skip


def container_app(image: str = UNKNOWN, transport: str = "auto", *deps: str) -> dict[str, Any]:
    return res(APP, {"configuration": {"ingress": {"external": True, "allowInsecure": False, "transport": transport}},
                     "template": {"containers": [{"name": "app", "image": image}]}},
               "app", on(APP_ENV, "env"), *deps)  # fmt: skip


PUBLIC_ENV = res(APP_ENV, {"publicNetworkAccess": "Enabled"}, "env")
CLOSED_ENV = res(APP_ENV, {"publicNetworkAccess": "Disabled"}, "env")
ALARM_TO_TOPIC = res(ALARM, {"alarmActions": [UNKNOWN], "metricName": "CPUUtilization"}, "cpu")
SUBSCRIPTION = res("aws:sns/topicSubscription:TopicSubscription", {"protocol": "email", "endpoint": "o@x.io"}, "sub")


def run(image: Any, *deps: str) -> dict[str, Any]:
    return res(RUN, {"ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
                     "template": {"containers": [{"image": image}]}}, "run", *deps)  # fmt: skip


PUSHED = res(IMAGE, {"repository": UNKNOWN, "context_digest": DIGEST}, "image")
BUILT_ONLY = res(IMAGE, {"context_digest": DIGEST}, "image")

LBH, WAF, RATE, CDN = "load-balancer-https", "edge-waf", "edge-rate-limit", "cdn-private-files"
CASES = [
    # prod-domain, as the pack sees it (no stack file): public entries without a custom domain
    C("aws-alb-without-domain", "prod-domain", "fires", "your own domain", ALB, HTTPS_OK),
    C("aws-alb-with-certificate", "prod-domain", "quiet", "", ALB, HTTPS_OK,
      res("aws:acm/certificate:Certificate", {"domainName": DOMAIN, "validationMethod": "DNS"}, "cert")),
    C("cloudfront-with-alias", "prod-domain", "quiet", "", res(CLOUDFRONT, {"aliases": [DOMAIN]}, "dist")),
    C("dev-without-domain", "prod-domain", "quiet", "", ALB, HTTPS_OK, env="dev"),
    C("nothing-public", "prod-domain", "quiet", "", INTERNAL_ALB),
    # load-balancer-https: AWS
    C("alb-http-forwards", LBH, "fires", "plain HTTP", ALB, listener("http", "HTTP", FORWARD)),
    C("alb-http-forwards-dev", LBH, "fires", "plain HTTP", ALB, listener("http", "HTTP", FORWARD), env="dev"),
    C("alb-http-redirects", LBH, "quiet", "", ALB, listener("http", "HTTP", REDIRECT), HTTPS_OK),
    C("alb-listener-rule-forwards-http", LBH, "fires", "plain-HTTP", ALB, listener("http", "HTTP", REDIRECT),
      res(LISTENER_RULE, {"actions": FORWARD, "priority": 1}, "rule", on(LISTENER, "http"))),
    C("alb-https-2016-policy", LBH, "fires", "TLS 1.0", ALB,
      listener("https", "HTTPS", FORWARD, sslPolicy="ELBSecurityPolicy-2016-08")),
    C("alb-https-default-policy", LBH, "fires", "not set: it admits TLS 1.0", ALB, listener("https", "HTTPS", FORWARD)),
    C("alb-https-tls11-policy", LBH, "fires", "TLS 1.1", ALB,
      listener("https", "HTTPS", FORWARD, sslPolicy="ELBSecurityPolicy-TLS-1-1-2017-01")),
    C("alb-https-fs-1-2", LBH, "quiet", "", ALB,
      listener("https", "HTTPS", FORWARD, sslPolicy="ELBSecurityPolicy-FS-1-2-Res-2020-10")),
    C("internal-alb-http", LBH, "quiet", "", INTERNAL_ALB, listener("http", "HTTP", FORWARD, lb="inner")),
    C("nlb-tcp-listener", LBH, "fires", "Network Load Balancer carries", NLB,
      res(LISTENER, {"protocol": "TCP", "port": 80, "defaultActions": FORWARD}, "tcp", on(LB, "nlb"))),
    C("nlb-tls-listener", LBH, "quiet", "", NLB, res(LISTENER, {"protocol": "TLS", "port": 443,
      "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "defaultActions": FORWARD}, "tls", on(LB, "nlb"))),
    C("listener-protocol-computed", LBH, "unverified", "", ALB, listener("x", UNKNOWN, FORWARD)),
    C("cloudfront-custom-cert-tlsv1", LBH, "fires", "TLS 1.0",
      res(CLOUDFRONT, {"viewerCertificate": CUSTOM_CERT | {"minimumProtocolVersion": "TLSv1"}}, "dist")),
    C("cloudfront-custom-cert-tls12", LBH, "quiet", "",
      res(CLOUDFRONT, {"viewerCertificate": CUSTOM_CERT | {"minimumProtocolVersion": "TLSv1.2_2021"}}, "dist")),
    C("cloudfront-default-cert", LBH, "quiet", "",
      res(CLOUDFRONT, {"viewerCertificate": {"cloudfrontDefaultCertificate": True}}, "dist")),
    C("api-domain-tls10", LBH, "fires", "TLS_1_0", res("aws:apigateway/domainName:DomainName",
                                                     {"domainName": DOMAIN, "securityPolicy": "TLS_1_0"}, "d")),
    C("classic-elb-http", LBH, "fires", "HTTP listener on port 80", res("aws:elb/loadBalancer:LoadBalancer", {
        "listeners": [{"lbProtocol": "http", "lbPort": 80, "instanceProtocol": "http", "instancePort": 8080}]},
        "elb")),
    # load-balancer-https: GCP
    C("gcp-http-proxy-serves", LBH, "fires", "does not redirect to HTTPS", HTTP_PROXY,
      url_map(defaultService=UNKNOWN)),
    C("gcp-http-proxy-redirects", LBH, "quiet", "", HTTP_PROXY, REDIRECT_MAP),
    C("gcp-redirect-map-with-a-backend-path", LBH, "fires", "path matcher api", HTTP_PROXY,
      url_map(defaultUrlRedirect={"httpsRedirect": True},
              pathMatchers=[{"name": "api", "defaultService": UNKNOWN}])),
    C("gcp-internal-http-proxy", LBH, "quiet", "", HTTP_PROXY, url_map(defaultService=UNKNOWN),
      res(GCP_RULE, {"loadBalancingScheme": "INTERNAL_MANAGED", "target": UNKNOWN}, "rule",
          on(GCP_HTTP_PROXY, "http-proxy"))),
    C("gcp-https-without-ssl-policy", LBH, "fires", "admits TLS 1.0", https_proxy()),
    C("gcp-ssl-policy-tls10", LBH, "fires", "TLS 1.0", https_proxy(sslPolicy=UNKNOWN),
      res(GCP_SSL, {"profile": "MODERN", "minTlsVersion": "TLS_1_0"}, "tls")),
    C("gcp-ssl-policy-compatible", LBH, "fires", "COMPATIBLE", https_proxy(sslPolicy=UNKNOWN),
      res(GCP_SSL, {"profile": "COMPATIBLE", "minTlsVersion": "TLS_1_2"}, "tls")),
    C("gcp-ssl-policy-restricted-12", LBH, "quiet", "", https_proxy(sslPolicy=UNKNOWN),
      res(GCP_SSL, {"profile": "RESTRICTED", "minTlsVersion": "TLS_1_2"}, "tls")),
    C("gcp-tcp-proxy", LBH, "fires", "TCP proxy", res("gcp:compute/targetTCPProxy:TargetTCPProxy",
                                                      {"backendService": UNKNOWN}, "tcp")),
    C("gcp-passthrough-rule", LBH, "fires", "passthrough", res("gcp:compute/forwardingRule:ForwardingRule",
                                                               {"backendService": UNKNOWN, "ports": ["80"]}, "nlb")),
    # load-balancer-https: Azure
    C("azure-public-l4-lb", LBH, "fires", "layer-4", res(AZ_LB, {
        "frontendIPConfigurations": [{"name": "public", "publicIPAddress": {"id": UNKNOWN}}],
        "loadBalancingRules": [{"name": "http", "frontendPort": 80, "backendPort": 8080, "protocol": "Tcp"}]}, "lb")),
    C("azure-private-l4-lb", LBH, "quiet", "", res(AZ_LB, {
        "frontendIPConfigurations": [{"name": "private", "privateIPAddress": "10.0.0.4", "subnet": {"id": UNKNOWN}}],
        "loadBalancingRules": [{"name": "http", "frontendPort": 80, "backendPort": 8080, "protocol": "Tcp"}]}, "lb")),
    C("azure-front-door-domain-tls10", LBH, "fires", "TLS 1.0", res(AFD_DOMAIN, {
        "hostName": DOMAIN, "tlsSettings": {"certificateType": "ManagedCertificate", "minimumTlsVersion": "TLS10"}},
        "cd")),
    C("azure-app-gateway-http-routed", LBH, "fires", "HTTP listener http routes", res(APP_GW, {
        "frontendIPConfigurations": [{"name": "pub", "publicIPAddress": {"id": UNKNOWN}}],
        "httpListeners": [{"name": "http", "protocol": "Http"}],
        "requestRoutingRules": [{"name": "r", "httpListener": {"id": "/x/httpListeners/http"},
                                 "backendAddressPool": {"id": "/x/backendAddressPools/app"}}]}, "agw")),
    C("azure-app-gateway-redirects", LBH, "quiet", "", res(APP_GW, {
        "frontendIPConfigurations": [{"name": "pub", "publicIPAddress": {"id": UNKNOWN}}],
        "httpListeners": [{"name": "http", "protocol": "Http"}, {"name": "https", "protocol": "Https"}],
        "redirectConfigurations": [{"name": "to-https", "targetListener": {"id": "/x/httpListeners/https"}}],
        "requestRoutingRules": [{"name": "r", "httpListener": {"id": "/x/httpListeners/http"},
                                 "redirectConfiguration": {"id": "/x/redirectConfigurations/to-https"}}],
        "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"}}, "agw")),
    C("azure-app-gateway-old-ssl-policy", LBH, "fires", "TLS 1.0", res(APP_GW, {
        "frontendIPConfigurations": [{"name": "pub", "publicIPAddress": {"id": UNKNOWN}}],
        "httpListeners": [{"name": "https", "protocol": "Https"}],
        "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20150501"}}, "agw")),
    C("azure-container-app-tcp-ingress", LBH, "fires", "TCP ingress", PUBLIC_ENV, container_app(transport="tcp")),
    # edge-waf
    C("alb-without-waf", WAF, "fires", "no WAF web ACL", ALB, HTTPS_OK),
    C("alb-with-waf", WAF, "quiet", "", ALB, HTTPS_OK, WAF_ON_ALB),
    C("alb-without-waf-dev", WAF, "quiet", "", ALB, HTTPS_OK, env="dev"),
    C("nlb-cannot-take-waf", WAF, "fires", "cannot take a WAF", NLB),
    C("cloudfront-without-waf", WAF, "fires", "web_acl_id", res(CLOUDFRONT, {"origins": []}, "dist")),
    C("http-api-unfronted", WAF, "fires", "front it with CloudFront", API),
    C("http-api-fronted-but-open", WAF, "fires", "execute-api endpoint stays open", API, API_DIST,
      res(ROUTE, {"routeKey": "$default", "authorizationType": "NONE"}, "r", on(HTTP_API, "api"))),
    C("http-api-fronted-origin-verified", WAF, "quiet", "", API, API_DIST,
      res(ROUTE, {"routeKey": "$default", "authorizationType": "CUSTOM"}, "r", on(HTTP_API, "api"))),
    C("http-api-fronted-endpoint-disabled", WAF, "quiet", "", API_DIST,
      res(HTTP_API, {"protocolType": "HTTP", "disableExecuteApiEndpoint": True}, "api")),
    C("public-function-url", WAF, "fires", "function URL", res("aws:lambda/functionUrl:FunctionUrl",
                                                             {"authorizationType": "NONE"}, "url")),
    C("web-acl-without-rules", WAF, "fires", "no rules", res(WEB_ACL, {"rules": [], "defaultAction": {"allow": {}}},
                                                              "acl")),
    C("gcp-backend-without-armor", WAF, "fires", "no Cloud Armor", res(GCP_BACKEND, {
        "loadBalancingScheme": "EXTERNAL_MANAGED", "protocol": "HTTPS"}, "backend")),
    C("gcp-backend-with-armor", WAF, "quiet", "", res(GCP_BACKEND, {
        "loadBalancingScheme": "EXTERNAL_MANAGED", "securityPolicy": UNKNOWN}, "backend")),
    C("gcp-internal-regional-backend", WAF, "quiet", "",
      res("gcp:compute/regionBackendService:RegionBackendService", {"protocol": "HTTP"}, "backend")),
    C("gcp-cdn-bucket-without-edge-policy", WAF, "fires", "edge security policy", res(GCP_BUCKET_BACKEND, {
        "bucketName": UNKNOWN, "enableCdn": True}, "cdn")),
    C("cloud-run-public-ingress", WAF, "fires", "run.app URL", res(RUN, {"ingress": "INGRESS_TRAFFIC_ALL"}, "run")),
    C("cloud-run-behind-its-lb", WAF, "quiet", "", res(RUN, {"ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"},
                                                       "run")),
    C("armor-allows-everything", WAF, "fires", "blocks nothing", res(ARMOR, {"rules": [
        {"priority": 2147483647, "action": "allow", "match": {"versionedExpr": "SRC_IPS_V1"}}]}, "armor")),
    C("armor-edge-policy-open", WAF, "quiet", "", res(ARMOR, {"type": "CLOUD_ARMOR_EDGE", "rules": [
        {"priority": 2147483647, "action": "allow", "match": {"versionedExpr": "SRC_IPS_V1"}}]}, "edge-armor")),
    C("front-door-route-without-waf", WAF, "fires", "api-example-com", AFD_EP, AFD_CD, AFD_APP_ROUTE),
    C("front-door-route-covered", WAF, "quiet", "", AFD_EP, AFD_CD, AFD_APP_ROUTE,
      afd_waf_policy(on(AFD_DOMAIN, "cd"))),
    C("front-door-route-covered-by-id", WAF, "quiet", "", AFD_EP, AFD_CD, AFD_APP_ROUTE,
      afd_waf_policy(ids=("/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/afd/customDomains/"
                          "api-example-com",))),
    C("front-door-default-domain-uncovered", WAF, "fires", "app-1", AFD_EP, AFD_CD,
      afd_waf_policy(on(AFD_DOMAIN, "cd")),
      res(AFD_ROUTE, {"endpointName": "app-1", "customDomains": [{"id": UNKNOWN}]}, "route",
          on(AFD_ENDPOINT, "ep"), on(AFD_DOMAIN, "cd"))),
    C("front-door-waf-detection-mode", WAF, "fires", "Detection", res(FD_WAF, {
        "policySettings": {"enabledState": "Enabled", "mode": "Detection"}}, "fdwaf")),
    C("container-app-public-env", WAF, "fires", "azurecontainerapps.io", PUBLIC_ENV, container_app()),
    C("container-app-private-env", WAF, "quiet", "", CLOSED_ENV, container_app()),
    C("azure-public-lb-waf", WAF, "fires", "cannot take a WAF", res(AZ_LB, {
        "frontendIPConfigurations": [{"name": "public", "publicIPAddress": {"id": UNKNOWN}}]}, "lb")),
    # edge-rate-limit (advisory)
    C("web-acl-without-rate-rule", RATE, "fires", "rate-based", res(WEB_ACL, {"rules": [MANAGED_RULE]}, "acl")),
    C("web-acl-rate-rule-counts-only", RATE, "fires", "rate-based", res(WEB_ACL, {"rules": [
        RATE_RULE | {"action": {"count": {}}}]}, "acl")),
    C("web-acl-with-rate-rule", RATE, "quiet", "", res(WEB_ACL, {"rules": [RATE_RULE, MANAGED_RULE]}, "acl")),
    C("armor-without-throttle", RATE, "fires", "throttle", res(ARMOR, {"type": "CLOUD_ARMOR", "rules": [
        {"priority": 1000, "action": "deny(403)"}]}, "armor")),
    C("armor-with-throttle", RATE, "quiet", "", res(ARMOR, {"rules": [{"priority": 2000, "action": "throttle"}]},
                                                    "armor")),
    C("armor-edge-policy", RATE, "quiet", "", res(ARMOR, {"type": "CLOUD_ARMOR_EDGE", "rules": []}, "armor")),
    C("front-door-waf-without-rate-rule", RATE, "fires", "RateLimitRule", res(FD_WAF, {
        "policySettings": {"mode": "Prevention"}, "customRules": {"rules": []}}, "fdwaf")),
    C("front-door-waf-rate-rule", RATE, "quiet", "", res(FD_WAF, {"customRules": {"rules": [
        {"ruleType": "RateLimitRule", "action": "Block", "enabledState": "Enabled"}]}}, "fdwaf")),
    # cdn-private-files
    C("cloudfront-reads-whole-bucket", CDN, "fires", "every object", FILES, cloudfront_read("[computed]/*"),
      env="dev"),
    C("cloudfront-reads-whole-bucket-arn", CDN, "fires", "every object", FILES,
      cloudfront_read("arn:aws:s3:::files-1/*"), env="dev"),
    C("cloudfront-reads-public-prefix", CDN, "quiet", "", FILES, cloudfront_read("[computed]/public/*"), env="dev"),
    C("cloudfront-reads-log-bucket", CDN, "quiet", "", ALB_LOGS, cloudfront_read("[computed]/*", "alb-logs"),
      env="dev"),
    C("cloudfront-origin-at-bucket-root", CDN, "fires", "root of the app's bucket", FILES, s3_cdn(""), env="dev"),
    C("cloudfront-origin-at-public-prefix", CDN, "quiet", "", FILES, s3_cdn("/public"), env="dev"),
    C("cdn-fill-without-condition", CDN, "fires", "no IAM condition", GCS_FILES, GCS_SERVED, cdn_fill(None),
      env="dev"),
    C("cdn-fill-prefix-condition", CDN, "quiet", "", GCS_FILES, GCS_SERVED,
      cdn_fill({"title": "public", "expression": PREFIX_ONLY}), env="dev"),
    C("cdn-fill-widened-condition", CDN, "fires", "does not keep it to one prefix", GCS_FILES, GCS_SERVED,
      cdn_fill({"title": "x", "expression": PREFIX_ONLY + ' || resource.name.startsWith("projects/_/buckets/f")'}),
      env="dev"),
    C("cdn-fill-condition-computed", CDN, "unverified", "", GCS_FILES, GCS_SERVED,
      cdn_fill({"title": "public", "expression": UNKNOWN}), env="dev"),
    C("all-users-on-cdn-bucket", CDN, "fires", "allUsers can read every object", GCS_FILES, GCS_SERVED,
      cdn_fill(None, member="allUsers"), env="dev"),
    C("front-door-serves-whole-container", CDN, "fires", "every blob", BLOB, BLOB_ORIGIN,
      files_route("/app-files", ["/*"]), env="dev"),
    C("front-door-serves-public-prefix", CDN, "quiet", "", BLOB, BLOB_ORIGIN,
      files_route("/app-files", ["/public/*"]), env="dev"),
    C("front-door-origin-path-below-container", CDN, "quiet", "", BLOB, BLOB_ORIGIN,
      files_route("/app-files/public", ["/*"]), env="dev"),
    # monitoring, as the pack sees it
    C("prod-without-alarms", "monitoring-on", "fires", "no alarm", ALB),
    C("prod-with-alarms", "monitoring-on", "quiet", "", ALB, ALARM_TO_TOPIC),
    C("dev-without-alarms", "monitoring-on", "quiet", "", ALB, env="dev"),
    C("alarms-without-subscription", "monitoring-notify", "fires", "nobody is told", ALARM_TO_TOPIC),
    C("alarms-with-subscription", "monitoring-notify", "quiet", "", ALARM_TO_TOPIC, SUBSCRIPTION),
    C("alarm-without-action", "monitoring-notify", "fires", "notify no one", SUBSCRIPTION, ALARM_TO_TOPIC,
      res(ALARM, {"alarmActions": [], "metricName": "Errors"}, "errors")),
    C("gcp-alert-without-channel", "monitoring-notify", "fires", "notify no one",
      res("gcp:monitoring/notificationChannel:NotificationChannel", {"type": "email"}, "ops"),
      res("gcp:monitoring/alertPolicy:AlertPolicy", {"notificationChannels": []}, "p")),
    C("azure-action-group-without-receivers", "monitoring-notify", "fires", "nobody is told",
      res("azure-native:monitor:ActionGroup", {"emailReceivers": [], "webhookReceivers": []}, "ag"),
      res("azure-native:monitor:MetricAlert", {"actions": [{"actionGroupId": UNKNOWN}]}, "cpu")),
    C("azure-action-group-with-email", "monitoring-notify", "quiet", "",
      res("azure-native:monitor:ActionGroup", {"emailReceivers": [{"name": "ops", "emailAddress": "o@x.io"}]}, "ag"),
      res("azure-native:monitor:MetricAlert", {"actions": [{"actionGroupId": UNKNOWN}]}, "cpu")),
    # image-pinned
    C("cloud-run-tag", "image-pinned", "fires", "is a tag", run("us-docker.pkg.dev/p/r/app:1.4.2")),
    C("cloud-run-tag-dev", "image-pinned", "fires", "is a tag", run("ghcr.io/acme/app:latest"), env="dev"),
    C("cloud-run-digest", "image-pinned", "quiet", "", run(f"us-docker.pkg.dev/p/r/app@{DIGEST}")),
    C("cloud-run-built-and-pushed", "image-pinned", "quiet", "", PUSHED, run(UNKNOWN, on(IMAGE, "image"))),
    C("cloud-run-image-unknown", "image-pinned", "unverified", "", run(UNKNOWN)),
    C("image-built-not-pushed", "image-pinned", "fires", "not pushed", BUILT_ONLY, run(UNKNOWN, on(IMAGE, "image"))),
    C("ecs-tag", "image-pinned", "fires", "container app image nginx:1.25", res(
        "aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": json.dumps([
            {"name": "app", "image": "nginx:1.25"}])}, "task")),
    C("ecs-digest-in-partial-render", "image-pinned", "quiet", "", res(
        "aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": json.dumps([
            {"name": "app", "image": f"[computed]@{DIGEST}"}])}, "task")),
    C("lambda-tag", "image-pinned", "fires", "imageUri", res("aws:lambda/function:Function", {
        "packageType": "Image", "imageUri": "123.dkr.ecr.eu-west-1.amazonaws.com/app:latest"}, "fn")),
    C("lambda-zip", "image-pinned", "quiet", "", res("aws:lambda/function:Function", {"runtime": "python3.12"},
                                                     "fn")),
    C("container-app-tag", "image-pinned", "fires", "template.containers[0].image", CLOSED_ENV,
      container_app("acr.azurecr.io/app:1.0")),
    C("cloud-run-job-helper-tag", "image-pinned", "fires", "postgres:16-alpine", res(
        "gcp:cloudrunv2/job:Job", {"template": {"template": {"containers": [
            {"image": "docker.io/library/postgres:16-alpine"}]}}}, "setup")),
    # os-image-pinned (advisory)
    C("launch-template-ssm-ami", "os-image-pinned", "fires", "resolve:ssm:", res(
        "aws:ec2/launchTemplate:LaunchTemplate", {"imageId": "resolve:ssm:/aws/service/ami-amazon-linux-latest/"
                                                             "al2023-ami-kernel-default-x86_64"}, "lt")),
    C("launch-template-ami-id", "os-image-pinned", "quiet", "", res(
        "aws:ec2/launchTemplate:LaunchTemplate", {"imageId": "ami-0a1b2c3d4e5f67890"}, "lt")),
    C("gcp-template-image-family", "os-image-pinned", "fires", "image family", res(
        "gcp:compute/instanceTemplate:InstanceTemplate", {"disks": [
            {"boot": True, "sourceImage": "projects/cos-cloud/global/images/family/cos-stable"}]}, "tpl")),
    C("gcp-template-image-family-dev", "os-image-pinned", "quiet", "", res(
        "gcp:compute/instanceTemplate:InstanceTemplate", {"disks": [
            {"boot": True, "sourceImage": "projects/cos-cloud/global/images/family/cos-stable"}]}, "tpl"), env="dev"),
    C("azure-vmss-latest", "os-image-pinned", "fires", "latest", res(
        "azure-native:compute:VirtualMachineScaleSet", {"virtualMachineProfile": {"storageProfile": {
            "imageReference": {"publisher": "Canonical", "version": "latest"}}}}, "vmss")),
    C("azure-vmss-latest-auto-upgrade", "os-image-pinned", "quiet", "", res(
        "azure-native:compute:VirtualMachineScaleSet", {"virtualMachineProfile": {"storageProfile": {
            "imageReference": {"publisher": "Canonical", "version": "latest"}}},
            "upgradePolicy": {"automaticOSUpgradePolicy": {"enableAutomaticOSUpgrade": True}}}, "vmss")),
    # registries
    C("ecr-public-policy", "registry-access", "fires", "repository policy is public", res(
        "aws:ecr/repositoryPolicy:RepositoryPolicy", {"policy": json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}]})}, "repo-policy"), env="dev"),
    C("artifact-registry-all-users", "registry-access", "fires", "allUsers can pull", res(
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        {"member": "allUsers", "role": "roles/artifactregistry.reader"}, "public"), env="dev"),
    C("acr-admin-user", "registry-access", "fires", "adminUserEnabled", res(
        "azure-native:containerregistry:Registry", {"adminUserEnabled": True, "anonymousPullEnabled": False}, "acr"),
      env="dev"),
    C("acr-identities-only", "registry-access", "quiet", "", res(
        "azure-native:containerregistry:Registry", {"adminUserEnabled": False, "anonymousPullEnabled": False}, "acr"),
      env="dev"),
    C("ecr-mutable-tags", "registry-hardened", "fires", "MUTABLE", res(
        "aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": True},
                                          "imageTagMutability": "MUTABLE"}, "repo"), env="dev"),
    C("ecr-no-scan", "registry-hardened", "fires", "scanOnPush", res(
        "aws:ecr/repository:Repository", {"imageTagMutability": "IMMUTABLE"}, "repo"), env="dev"),
    C("artifact-registry-mutable", "registry-hardened", "fires", "immutableTags", res(
        ARTIFACT, {"format": "DOCKER"}, "repo"), env="dev"),
    C("artifact-registry-scanning-off", "registry-hardened", "fires", "DISABLED", res(ARTIFACT, {
        "format": "DOCKER", "dockerConfig": {"immutableTags": True},
        "vulnerabilityScanningConfig": {"enablementConfig": "DISABLED"}}, "repo"), env="dev"),
]  # fmt: skip


def findings_of(case: Case) -> list[dict[str, Any]]:
    graph = {"stack": "test", "cloud": None, "environment": case.env, "resources": list(case.resources),
             "outputs": {}}  # fmt: skip
    return evaluate(graph)


def test_case_ids_are_unique_and_every_new_rule_has_cases() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    new = {"prod-domain", LBH, WAF, RATE, CDN, "monitoring-on", "monitoring-notify", "image-pinned",
           "os-image-pinned", "registry-access", "registry-hardened"}  # fmt: skip
    assert new <= set(BY_ID)
    for rule in new:  # each catches its fault, and all but the hardening rules have a look-alike that is fine
        expected = {"fires"} if rule == "registry-hardened" else {"fires", "quiet"}
        assert expected <= {c.expect for c in CASES if c.rule == rule}, rule


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_judges_the_case(case: Case) -> None:
    hits = [f for f in findings_of(case) if f["rule"] == case.rule]
    if case.expect == "quiet":
        assert not hits, [f["message"] for f in hits]
        return
    assert hits, f"{case.rule} did not fire"
    if case.expect == "unverified":
        assert all("is computed at deploy time ([computed])" in f["message"] for f in hits), hits
    else:
        assert any(case.contains in f["message"] for f in hits), [f["message"] for f in hits]
    rule = BY_ID[case.rule]
    assert all(f["enforcement"] == rule.enforcement_for(case.env == "prod") for f in hits)
    assert all(f["remediation"] for f in hits)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pack_and_offline_agree(case: Case) -> None:
    """The pack's policies (pulumi-policy args, unknown sentinels) report what the offline checks report, and
    defer what they cannot verify."""
    resources = list(case.resources)
    found, deferred = run_pack(resources, {"environment": case.env})
    offline_found, unverified = offline(resources, case.env)
    assert found == offline_found
    assert deferred == unverified


def test_rules_mandatory_in_prod_only_are_advisory_elsewhere() -> None:
    case = next(c for c in CASES if c.id == "alb-http-forwards")
    graph = {"stack": "t", "environment": "dev", "resources": list(case.resources), "outputs": {}}
    (dev,) = [f for f in evaluate(graph) if f["rule"] == LBH]
    (prod,) = [f for f in evaluate(graph | {"environment": "prod"}) if f["rule"] == LBH]
    assert (dev["enforcement"], prod["enforcement"]) == ("advisory", "mandatory")
    assert BY_ID[LBH].enforcement_outside_prod == "advisory" == BY_ID["image-pinned"].enforcement_outside_prod


def test_pack_config_lowers_prod_only_mandatory_rules_outside_prod() -> None:
    dev, prod = (pack_config(resolve(cloud="aws", environment=env)) for env in ("dev", "prod"))
    assert dev[LBH] == {"environment": "dev", "enforcementLevel": "advisory"}
    assert dev["image-pinned"] == {"environment": "dev", "enforcementLevel": "advisory"}
    assert prod[LBH] == {"environment": "prod"} and dev[WAF] == {"environment": "dev"}


# --- stack-level facts, through real stacks -----------------------------------------------------------------
@cache
def _planned(cloud: str, profile: str, env: str, stack_json: str) -> tuple[dict[str, Any], Any]:
    stack = resolve(StackFile.model_validate(json.loads(stack_json)), source="test.yaml", profile=profile,
                    cloud=cloud, environment=env)  # fmt: skip
    return plan(stack, with_cost=False), stack


def planned(cloud: str, profile: str, env: str = "prod", **stack: Any) -> list[dict[str, Any]]:
    """The findings of a built-in profile planned with stack-file fields on top."""
    return _planned(cloud, profile, env, json.dumps(stack, sort_keys=True))[0]["policy"]


def of(findings: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["rule"] == rule]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_prod_without_a_domain_is_a_mandatory_stack_finding(cloud: str) -> None:
    (hit,) = of(planned(cloud, "managed"), "prod-domain")
    assert hit["enforcement"] == "mandatory" and hit["resource"] == "stack:managed-prod"
    assert "set `domain: api.example.com`" in hit["message"] and "dns_zone" in hit["remediation"]
    assert not of(planned(cloud, "managed", domain=DOMAIN), "prod-domain")
    assert not of(planned(cloud, "managed", "dev"), "prod-domain")


def test_local_prod_needs_no_domain() -> None:
    assert not of(planned("local", "managed"), "prod-domain")


def test_policy_check_names_the_missing_domain(tmp_path: Any) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(json.dumps({"cloud": "aws", "profile": "saas", "environment": "prod"}))
    result = CliRunner().invoke(cli, ["policy", "check", "-f", str(stack)])
    assert result.exit_code == 3, result.output
    assert "prod-domain" in result.output and "api.example.com" in " ".join(result.output.split())


def test_monitoring_off_in_prod_is_mandatory_unless_lowered_with_a_reason() -> None:
    off = {"domain": DOMAIN, "components": {"monitoring": False}}
    (hit,) = of(planned("aws", "managed", **off), "monitoring-on")
    assert hit["enforcement"] == "mandatory" and "monitoring is off" in hit["message"]
    reason = "watched by the platform team's shared stack, ticket OPS-7"
    (lowered,) = of(planned("aws", "managed", **off, policy={"advisory": {"monitoring-on": reason}}), "monitoring-on")
    assert (lowered["enforcement"], lowered["reason"]) == ("advisory", reason)
    assert not of(planned("aws", "managed", "dev", components={"monitoring": False}), "monitoring-on")


def test_monitoring_without_a_target_is_advisory_and_quiet_with_one() -> None:
    (hit,) = of(planned("aws", "managed", domain=DOMAIN), "monitoring-notify")
    assert hit["enforcement"] == "advisory" and "components.monitoring.notify" in hit["message"]
    notify = {"components": {"monitoring": {"notify": ["email:ops@example.com"]}}}
    assert not of(planned("aws", "managed", domain=DOMAIN, **notify), "monitoring-notify")


def test_a_prebuilt_image_by_tag_is_mandatory_in_prod_and_advisory_in_dev() -> None:
    tagged = {"app": {"image": "ghcr.io/acme/notes:1.4.2"}}
    (prod,) = of(planned("aws", "managed", domain=DOMAIN, **tagged), "image-pinned")
    assert prod["enforcement"] == "mandatory" and prod["resource"] == "stack:managed-prod"
    assert "app.image ghcr.io/acme/notes:1.4.2 is a tag" in prod["message"]
    (dev,) = of(planned("aws", "managed", "dev", **tagged), "image-pinned")
    assert dev["enforcement"] == "advisory"
    pinned = {"app": {"image": f"ghcr.io/acme/notes@{DIGEST}"}}
    assert not of(planned("aws", "managed", domain=DOMAIN, **pinned), "image-pinned")


def test_a_tagged_image_the_plan_shows_is_reported_once_on_the_stack() -> None:
    """Cloud Run shows the image in its inputs: the stack file's app.image is reported on the stack only."""
    image = "us-docker.pkg.dev/acme/apps/notes:1.4.2"
    findings = of(planned("gcp", "managed", "dev", app={"image": image}), "image-pinned")
    assert [f["resource"] for f in findings if image in f["message"]] == ["stack:managed-dev"]


def test_cloud_monitoring_resources_are_labelled_through_user_labels() -> None:
    """A notification channel's ``labels`` configure it (email_address); its resource labels are ``user_labels``."""
    owned = {"app": "a", "env": "prod", "owner": "team"}
    channel = res("gcp:monitoring/notificationChannel:NotificationChannel",
                  {"type": "email", "labels": {"email_address": "ops@example.com"}, "userLabels": owned}, "ops")
    policy = res("gcp:monitoring/alertPolicy:AlertPolicy", {"notificationChannels": [UNKNOWN],
                                                            "userLabels": {"app": "a"}}, "cpu")  # fmt: skip
    graph = {"stack": "t", "environment": None, "resources": [channel, policy], "outputs": {}}
    tags = [(f["name"], f["message"]) for f in evaluate(graph) if f["rule"] == "required-tags"]
    assert tags == [("cpu", "missing labels env, owner (has: app)")]
    assert Context().environment_of(channel) == "prod", "prod-only rules read env from user_labels too"


def test_an_imported_certificate_counts_as_the_domain_for_the_pack() -> None:
    """Without a stack file, a listener serving a certificate ARN of the account's own is a custom domain."""
    imported = listener("https", "HTTPS", FORWARD, sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                        certificateArn="arn:aws:acm:eu-west-1:123456789012:certificate/abc")  # fmt: skip
    graph = {"stack": "t", "environment": "prod", "resources": [ALB, imported], "outputs": {}}
    assert not [f for f in evaluate(graph) if f["rule"] == "prod-domain"]
