"""The public Application Load Balancer in front of the app, shared by the servers and containers components.

Children (built through the owner's ``args`` so users can override them): ``load_balancer`` (public subnets,
the network's load balancer group, invalid headers dropped), ``target_group`` (health path), and either
``https_listener`` + ``http_listener`` (301 to HTTPS) with a certificate, or ``http_listener`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass
class LoadBalancer:
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listeners: list[aws.lb.Listener]
    url: pulumi.Output[str]


def public_load_balancer(
    owner: MbopsComponent,
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    security_group_id: pulumi.Input[str],
    port: int,
    health_path: str,
    target_type: str,
    certificate_arn: str | None,
    certificate_hint: str,
) -> LoadBalancer:
    """An internet-facing ALB forwarding to the app port; HTTPS when a certificate is given."""
    tags = owner.tags
    lb = aws.lb.LoadBalancer(
        f"{name}-alb",
        **owner.args(
            "load_balancer",
            load_balancer_type="application",
            internal=False,
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            drop_invalid_header_fields=True,
            enable_http2=True,
            idle_timeout=60,
            tags=tags,
        ),
        opts=owner.opts(),
    )
    target_group = aws.lb.TargetGroup(
        f"{name}-tg",
        **owner.args(
            "target_group",
            port=port,
            protocol="HTTP",
            target_type=target_type,
            vpc_id=vpc_id,
            deregistration_delay=30,
            health_check={
                "enabled": True,
                "path": health_path,
                "protocol": "HTTP",
                "port": "traffic-port",
                "matcher": "200-399",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            tags=tags,
        ),
        opts=owner.opts(),
    )
    forward = [{"type": "forward", "target_group_arn": target_group.arn}]
    listeners: list[aws.lb.Listener] = []
    if certificate_arn:
        listeners.append(
            aws.lb.Listener(
                f"{name}-https",
                **owner.args(
                    "https_listener",
                    load_balancer_arn=lb.arn,
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICY,
                    certificate_arn=certificate_arn,
                    default_actions=forward,
                    tags=tags,
                ),
                opts=owner.opts(),
            )
        )
        http_action = [
            {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
        ]
    else:
        pulumi.log.warn(
            f"{owner.kind}: no HTTPS certificate, so the load balancer serves plain HTTP on port 80; "
            f"{certificate_hint} to serve HTTPS and redirect HTTP to it",
            resource=owner,
        )
        http_action = forward
    listeners.append(
        aws.lb.Listener(
            f"{name}-http",
            **owner.args(
                "http_listener",
                load_balancer_arn=lb.arn,
                port=80,
                protocol="HTTP",
                default_actions=http_action,
                tags=tags,
            ),
            opts=owner.opts(),
        )
    )
    scheme = "https" if certificate_arn else "http"
    return LoadBalancer(lb, target_group, listeners, pulumi.Output.concat(f"{scheme}://", lb.dns_name))
