"""The global external Application Load Balancer pieces shared by servers, cdn and edge: the internet-facing
front (address, certificate, TLS policy, proxies, forwarding rules, DNS) and the app's backends (Cloud Armor,
when given, on them: ``armor.py``).

With a domain, port 443 serves HTTPS with a Google-managed certificate from Certificate Manager (DNS
authorization, so it is issued before traffic moves), TLS 1.2+ with the RESTRICTED profile, and port 80 only
redirects to HTTPS. A certificate of the user's (the app kind's ``https_certificate``: a Certificate Manager
certificate or certificate map, or a Compute Engine SSL certificate) is served instead when given. The DNS
records go into the stack's Cloud DNS zone (``dns_zone.managed_zone``, in ``dns_zone.project`` when the zone lives
in another project); without a zone they are listed (``dns_records``: the A record of the domain and the
certificate's validation CNAME) to be created wherever the domain's DNS lives. Without a domain or a certificate
port 80 serves plain HTTP (dev).

Certificate Manager issues the managed certificate once its validation record resolves: ``up`` does not wait
for that (without a zone the records are only known when ``up`` has finished), so HTTPS answers once DNS has
propagated and the certificate is ACTIVE (``gcloud certificate-manager certificates describe``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpComponent
from mbops.errors import ConfigError

DNS_TTL_S = 300
# Certificate Manager's global API address, as target HTTPS proxies name a certificate map.
CERTIFICATE_MAP_PREFIX = "//certificatemanager.googleapis.com/"
# The certificates a target HTTPS proxy can serve, as ``https_certificate`` may name them -> the proxy argument.
_CERTIFICATE_FORMS = (
    (re.compile(r"^(//certificatemanager\.googleapis\.com/)?(projects/[^/]+/locations/global/certificateMaps/[^/]+)$"),
     "certificate_map"),
    (re.compile(r"^(//certificatemanager\.googleapis\.com/)?(projects/[^/]+/locations/global/certificates/[^/]+)$"),
     "certificate_manager_certificates"),
    (re.compile(r"^(https://www\.googleapis\.com/compute/v1/)?(projects/[^/]+/global/sslCertificates/[^/]+)$"),
     "ssl_certificates"),
)  # fmt: skip


@dataclass
class Route:
    """Paths (``/public/*``) the URL map sends to ``service`` instead of the default."""

    paths: Sequence[str]
    service: pulumi.Input[str]


@dataclass
class Frontend:
    """The reserved address, the URL clients use, whether it is HTTPS, the URL map serving requests, and the
    DNS records to create elsewhere (None when mbops creates them in the stack's zone, or without a domain)."""

    address: gcp.compute.GlobalAddress
    url: pulumi.Output[str]
    https: bool
    url_map: gcp.compute.URLMap
    url_map_name: str  # known when planned: the load balancer's metrics carry it
    dns_records: list[dict[str, Any]] | None = None


def front_apis(domain: str | None, dns_zone: Any) -> tuple[str, ...]:
    """The Google APIs a front needs beyond Compute Engine: Certificate Manager with a domain, Cloud DNS with a
    zone in the stack's project (a zone in another project has its API on there)."""
    if not domain:
        return ()
    own_zone = dns_zone is not None and not getattr(dns_zone, "project", None)
    return ("certificatemanager.googleapis.com", *(("dns.googleapis.com",) if own_zone else ()))


def certificate_args(value: str, field: str) -> dict[str, Any]:
    """The target HTTPS proxy's certificate argument for a certificate the user names in ``field``; a ConfigError
    lists the forms GCP accepts."""
    for pattern, argument in _CERTIFICATE_FORMS:
        found = pattern.match(value)
        if found is None:
            continue
        if argument == "ssl_certificates":
            return {argument: [value]}
        ref = CERTIFICATE_MAP_PREFIX + found.group(2)
        return {argument: ref if argument == "certificate_map" else [ref]}
    raise ConfigError(
        f"{field}: '{value}' is not a certificate a GCP load balancer can serve; give a Certificate Manager "
        f"certificate (projects/P/locations/global/certificates/NAME), certificate map "
        f"(projects/P/locations/global/certificateMaps/NAME) or Compute Engine SSL certificate "
        f"(projects/P/global/sslCertificates/NAME)"
    )


def frontend(
    c: GcpComponent, *, purpose: str, default_service: pulumi.Input[str], routes: Sequence[Route] = (),
    domain: str | None = None, dns_zone: Any = None, min_tls: str = "1.2", certificate: dict[str, Any] | None = None,
) -> Frontend:  # fmt: skip
    """Address, URL map, proxies and forwarding rules in front of ``default_service`` (a backend self-link).

    ``certificate``: the proxy's certificate argument for the user's own certificate (``certificate_args``);
    else, with a domain, a Google-managed one.

    Children: ``address``, ``url_map``, ``http_proxy``, ``http_rule``; with a domain or certificate also
    ``ssl_policy``, ``https_proxy``, ``https_rule`` and ``redirect_url_map``; with a domain and no certificate
    of the user's ``dns_authorization``, ``certificate``, ``certificate_map``, ``certificate_map_entry``; with
    a zone ``dns_record`` (and ``validation_record`` for the managed certificate).
    """
    name, project = c.resource_name, c.project
    address = gcp.compute.GlobalAddress(
        f"{name}-ip",
        **c.args(
            "address", project=project, address_type="EXTERNAL", ip_version="IPV4", labels=c.labels,
            description=f"{purpose}: public address",
        ),
        opts=c.opts(),
    )  # fmt: skip
    paths = (
        {"host_rules": [{"hosts": ["*"], "path_matcher": "routes"}],
         "path_matchers": [{"name": "routes", "default_service": default_service,
                            "path_rules": [{"paths": list(r.paths), "service": r.service} for r in routes]}]}
        if routes else {}
    )  # fmt: skip
    url_map_args = c.args(
        "url_map", project=project, name=c.physical, default_service=default_service, description=purpose, **paths
    )
    url_map = gcp.compute.URLMap(f"{name}-urlmap", **url_map_args, opts=c.opts())
    rule = {
        "project": project, "ip_address": address.address, "ip_protocol": "TCP", "labels": c.labels,
        "load_balancing_scheme": "EXTERNAL_MANAGED",
    }  # fmt: skip
    records: list[dict[str, Any]] | None = None
    https = bool(domain or certificate)
    if https:
        if certificate is None:
            assert domain is not None
            certificate_map, records = _certificate(c, purpose, domain, dns_zone, address)
            certificate = {"certificate_map": pulumi.Output.concat(CERTIFICATE_MAP_PREFIX, certificate_map.id)}
        elif domain:
            records = _records(c, domain, dns_zone, address, [])
        ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-tls",
            **c.args("ssl_policy", project=project, profile="RESTRICTED", min_tls_version=tls_version(min_tls),
                     description=f"{purpose}: TLS {min_tls}+ with forward-secret AEAD ciphers only"),
            opts=c.opts(),
        )  # fmt: skip
        https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https-proxy",
            **c.args(
                "https_proxy", project=project, url_map=url_map.id, **certificate,
                ssl_policy=ssl_policy.id, quic_override="ENABLE", description=f"{purpose}: HTTPS",
            ),
            opts=c.opts(),
        )  # fmt: skip
        gcp.compute.GlobalForwardingRule(
            f"{name}-https", **c.args("https_rule", target=https_proxy.id, port_range="443", **rule), opts=c.opts()
        )
        redirect = gcp.compute.URLMap(
            f"{name}-redirect",
            **c.args(
                "redirect_url_map", project=project, description=f"{purpose}: HTTP to HTTPS",
                default_url_redirect={"https_redirect": True, "strip_query": False,
                                      "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT"},
            ),
            opts=c.opts(),
        )  # fmt: skip
        http_map: pulumi.Input[str] = redirect.id
        url: pulumi.Output[str] = (
            pulumi.Output.from_input(f"https://{domain}") if domain else address.address.apply(lambda ip: f"https://{ip}")
        )
    else:
        http_map = url_map.id
        url = address.address.apply(lambda ip: f"http://{ip}")
    http_proxy = gcp.compute.TargetHttpProxy(
        f"{name}-http-proxy",
        **c.args("http_proxy", project=project, url_map=http_map,
                 description=f"{purpose}: {'redirect to HTTPS' if https else 'plain HTTP'}"),
        opts=c.opts(),
    )  # fmt: skip
    gcp.compute.GlobalForwardingRule(
        f"{name}-http", **c.args("http_rule", target=http_proxy.id, port_range="80", **rule), opts=c.opts()
    )
    return Frontend(
        address=address, url=url, https=https, url_map=url_map, url_map_name=url_map_args["name"], dns_records=records,
    )


def tls_version(min_tls: str) -> str:
    """The SSL policy's ``min_tls_version`` for an EdgeSpec ``min_tls`` (``1.2`` -> ``TLS_1_2``)."""
    return "TLS_" + min_tls.replace(".", "_")


def _certificate(
    c: GcpComponent, purpose: str, domain: str, dns_zone: Any, address: gcp.compute.GlobalAddress
) -> tuple[gcp.certificatemanager.CertificateMap, list[dict[str, Any]] | None]:
    """A Google-managed certificate for ``domain`` (DNS-authorized) in a certificate map, and its DNS records:
    created in the zone, or returned to be created elsewhere."""
    name, project = c.resource_name, c.project
    authorization = gcp.certificatemanager.DnsAuthorization(
        f"{name}-dns-auth",
        **c.args("dns_authorization", project=project, domain=domain, labels=c.labels,
                 description=f"{purpose}: proves control of {domain} for its certificate"),
        opts=c.opts(),
    )  # fmt: skip
    certificate = gcp.certificatemanager.Certificate(
        f"{name}-cert",
        **c.args("certificate", project=project, scope="DEFAULT", labels=c.labels, description=f"{purpose}: {domain}",
                 managed={"domains": [domain], "dns_authorizations": [authorization.id]}),
        opts=c.opts(),
    )  # fmt: skip
    certificate_map = gcp.certificatemanager.CertificateMap(
        f"{name}-certs",
        **c.args("certificate_map", project=project, labels=c.labels, description=purpose),
        opts=c.opts(),
    )
    gcp.certificatemanager.CertificateMapEntry(
        f"{name}-certs-entry",
        **c.args("certificate_map_entry", project=project, map=certificate_map.name, hostname=domain,
                 certificates=[certificate.id], labels=c.labels, description=f"{purpose}: {domain}"),
        opts=c.opts(),
    )  # fmt: skip
    validation = authorization.dns_resource_records.apply(lambda records: records[0])
    cname = {"name": validation.apply(lambda r: r.name), "type": "CNAME", "value": validation.apply(lambda r: r.data),
             "purpose": f"lets Certificate Manager issue and renew the certificate for {domain}"}  # fmt: skip
    return certificate_map, _records(c, domain, dns_zone, address, [cname])


def _records(
    c: GcpComponent, domain: str, dns_zone: Any, address: gcp.compute.GlobalAddress, extra: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """The domain's A record (and ``extra``: the certificate's validation CNAME): created in the stack's zone
    (children ``dns_record``, ``validation_record``), else returned to be created where the domain's DNS lives."""
    wanted = [{"name": f"{domain}.", "type": "A", "value": address.address,
               "purpose": f"points {domain} at the load balancer"}, *extra]  # fmt: skip
    if dns_zone is None:
        return wanted
    if not dns_zone.managed_zone:
        raise ConfigError(
            f"dns_zone.managed_zone: name the Cloud DNS managed zone that holds {dns_zone.name} (its resource "
            f"name, e.g. {dns_zone.name.replace('.', '-')}); mbops creates {domain}'s records in it"
        )
    zone_project = getattr(dns_zone, "project", None) or c.project
    gcp.dns.RecordSet(
        f"{c.resource_name}-dns",
        **c.args("dns_record", project=zone_project, managed_zone=dns_zone.managed_zone, name=f"{domain}.",
                 type="A", ttl=DNS_TTL_S, rrdatas=[address.address]),
        opts=c.opts(),
    )  # fmt: skip
    for record in extra:
        gcp.dns.RecordSet(
            f"{c.resource_name}-dns-validation",
            **c.args("validation_record", project=zone_project, managed_zone=dns_zone.managed_zone, type="CNAME",
                     name=record["name"], ttl=DNS_TTL_S, rrdatas=[record["value"]]),
            opts=c.opts(),
        )  # fmt: skip
    return None


def group_backend(
    c: GcpComponent, purpose: str, *, group: pulumi.Input[str], health_check: pulumi.Input[str],
    security_policy: pulumi.Input[str] | None = None,
) -> gcp.compute.BackendService:  # fmt: skip
    """The backend service over a managed instance group (named port ``http``), health-checked, logged.

    Child: ``backend``.
    """
    armor = {"security_policy": security_policy} if security_policy is not None else {}
    return gcp.compute.BackendService(
        f"{c.resource_name}-backend",
        **c.args(
            "backend", project=c.project, protocol="HTTP", port_name="http", timeout_sec=30,
            load_balancing_scheme="EXTERNAL_MANAGED", health_checks=health_check, connection_draining_timeout_sec=30,
            log_config={"enable": True, "sample_rate": 1.0}, description=f"{purpose}: the app's instances",
            backends=[{"group": group, "balancing_mode": "UTILIZATION", "max_utilization": 0.8,
                       "capacity_scaler": 1.0}],
            **armor,
        ),
        opts=c.opts(),
    )  # fmt: skip


def serverless_backend(
    c: GcpComponent, purpose: str, *, service: gcp.cloudrunv2.Service, service_name: str,
    security_policy: pulumi.Input[str] | None = None,
) -> gcp.compute.BackendService:  # fmt: skip
    """A serverless NEG for the Cloud Run ``service`` (named ``service_name``) and the backend service over it (no
    health check or timeout: Cloud Run has its own), logged.

    Children: ``neg``, ``backend``.
    """
    neg = gcp.compute.RegionNetworkEndpointGroup(
        f"{c.resource_name}-neg",
        **c.args("neg", project=c.project, region=c.region, network_endpoint_type="SERVERLESS",
                 cloud_run={"service": service_name}, description=f"{purpose}: the Cloud Run service"),
        opts=c.opts(depends_on=[service]),
    )  # fmt: skip
    armor = {"security_policy": security_policy} if security_policy is not None else {}
    return gcp.compute.BackendService(
        f"{c.resource_name}-backend",
        **c.args(
            "backend", project=c.project, protocol="HTTPS", load_balancing_scheme="EXTERNAL_MANAGED",
            log_config={"enable": True, "sample_rate": 1.0}, description=f"{purpose}: the Cloud Run service",
            backends=[{"group": neg.id}], **armor,
        ),
        opts=c.opts(),
    )  # fmt: skip
