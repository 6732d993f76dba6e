"""The internet-facing front of a global external Application Load Balancer, shared by servers and cdn.

HTTPS needs a domain: set ``overrides.certificate.managed.domains`` on the component (the raw args of its
``certificate`` child, a Google-managed certificate) and point the domain's DNS at the reserved address.
Then port 443 serves HTTPS (TLS 1.2+, MODERN profile) and port 80 only redirects to it. Without a domain
there is no certificate Google can issue, so the load balancer serves plain HTTP on port 80 and says so
with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpComponent


@dataclass
class Frontend:
    """The reserved address, the URL clients use, and whether it is HTTPS."""

    address: gcp.compute.GlobalAddress
    url: pulumi.Output[str]
    https: bool


def configured_domains(overrides: dict[str, Any]) -> list[str]:
    """The domains named in ``overrides.certificate.managed.domains`` (empty: HTTP only)."""
    return list((overrides.get("certificate") or {}).get("managed", {}).get("domains") or [])


def global_frontend(c: GcpComponent, purpose: str, default_service: pulumi.Input[str]) -> Frontend:
    """Address, URL map, proxies and forwarding rules in front of ``default_service`` (a backend self-link).

    Children: ``address``, ``url_map``, ``http_proxy``, ``http_rule``; with a domain also ``certificate``,
    ``ssl_policy``, ``https_proxy``, ``https_rule`` and ``redirect_url_map``.
    """
    name, project = c.resource_name, c.project
    domains = configured_domains(c.spec.overrides)
    address = gcp.compute.GlobalAddress(
        f"{name}-ip",
        **c.args(
            "address",
            project=project,
            address_type="EXTERNAL",
            ip_version="IPV4",
            labels=c.labels,
            description=f"{purpose}: public address",
        ),
        opts=c.opts(),
    )
    url_map = gcp.compute.URLMap(
        f"{name}-urlmap",
        **c.args("url_map", project=project, default_service=default_service, description=purpose),
        opts=c.opts(),
    )
    rule = {
        "project": project,
        "ip_address": address.address,
        "ip_protocol": "TCP",
        "labels": c.labels,
        "load_balancing_scheme": "EXTERNAL_MANAGED",
    }
    if domains:
        certificate = gcp.compute.ManagedSslCertificate(
            f"{name}-cert",
            **c.args("certificate", project=project, managed={"domains": domains}),
            opts=c.opts(),
        )
        ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-tls",
            **c.args("ssl_policy", project=project, profile="MODERN", min_tls_version="TLS_1_2"),
            opts=c.opts(),
        )
        https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https-proxy",
            **c.args(
                "https_proxy",
                project=project,
                url_map=url_map.id,
                ssl_certificates=[certificate.id],
                ssl_policy=ssl_policy.id,
                quic_override="ENABLE",
            ),
            opts=c.opts(),
        )
        gcp.compute.GlobalForwardingRule(
            f"{name}-https",
            **c.args("https_rule", target=https_proxy.id, port_range="443", **rule),
            opts=c.opts(),
        )
        redirect = gcp.compute.URLMap(
            f"{name}-redirect",
            **c.args(
                "redirect_url_map",
                project=project,
                description=f"{purpose}: HTTP to HTTPS",
                default_url_redirect={
                    "https_redirect": True,
                    "strip_query": False,
                    "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
                },
            ),
            opts=c.opts(),
        )
        http_map: pulumi.Input[str] = redirect.id
        url: pulumi.Output[str] = pulumi.Output.from_input(f"https://{domains[0]}")
    else:
        pulumi.log.warn(
            f"{name}: {purpose} serves plain HTTP (no domain, so no certificate); set "
            "overrides.certificate.managed.domains on the component to serve HTTPS",
            resource=c,
        )
        http_map = url_map.id
        url = address.address.apply(lambda ip: f"http://{ip}")
    http_proxy = gcp.compute.TargetHttpProxy(
        f"{name}-http-proxy", **c.args("http_proxy", project=project, url_map=http_map), opts=c.opts()
    )
    gcp.compute.GlobalForwardingRule(
        f"{name}-http", **c.args("http_rule", target=http_proxy.id, port_range="80", **rule), opts=c.opts()
    )
    return Frontend(address=address, url=url, https=bool(domains))
