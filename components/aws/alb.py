"""The public Application Load Balancer in front of the app, shared by the servers and containers components.

Children (built through the owner's ``args`` so users can override them): ``load_balancer`` (public subnets,
the network's load balancer group, invalid headers dropped, deletion-protected in prod unless ``release_data``),
``target_group`` (health path, see ``HEAL_AFTER_S``), and either ``https_listener`` + ``http_listener`` (301 to
HTTPS) with a certificate, or ``http_listener`` alone.

The certificate is the stack's ``domain`` (an ACM certificate validated by DNS, see ``certs``; children
``certificate``, ``validation_record``, ``certificate_validation``) when the stack has an ``edge``, else the
spec's ``https_certificate`` ARN. With ``access_logs`` the load balancer writes its access logs to a bucket of
its own (``access_log_bucket`` and its ``access_log_*`` settings), kept ``ACCESS_LOG_DAYS`` days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from mbops.components.aws.certs import Domain, managed_certificate
from mbops.components.aws.log_bucket import log_bucket

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

TLS_POLICIES = {"1.2": "ELBSecurityPolicy-TLS13-1-2-2021-06", "1.3": "ELBSecurityPolicy-TLS13-1-3-2021-06"}
TLS_POLICY = TLS_POLICIES["1.2"]
# How long the app's health path may fail before its target is unhealthy. The target group's health is the one
# verdict AWS acts on: the load balancer stops routing to the target, ECS replaces the task and the servers' group
# (health_check_type ELB) the instance. The health path reads the database, so a failing check during an RDS
# Multi-AZ failover or maintenance (about a minute or two) must not replace every task or instance at once: that
# turns a short failover into an outage and a reconnect storm. Meanwhile nothing is lost by waiting: when every
# target fails at once the load balancer routes to all of them (it fails open). A task whose container exits is
# replaced at once by ECS, and the servers' systemd unit restarts a container that exits, without this check; the
# price is that a target that hangs keeps its share of requests for up to HEAL_AFTER_S (ALB has no separate,
# faster routing check).
HEAL_AFTER_S = 300
HEALTH_INTERVAL_S = 30  # the check's interval: HEAL_AFTER_S // 30 = 10 failures, the most the API allows
ACCESS_LOG_DAYS = 90
# Regions opened before August 2022 deliver ALB logs from an ELB account (the provider function knows which);
# the others from the log delivery service principal.
ELB_ACCOUNT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ca-central-1",
    "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1",
})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Https:
    """How the load balancer serves HTTPS: the stack's domain (ACM) or a given certificate ARN."""

    domain: Domain | None = None
    certificate_arn: str | None = None
    min_tls: str = "1.2"

    @property
    def enabled(self) -> bool:
        return self.domain is not None or bool(self.certificate_arn)


@dataclass
class LoadBalancer:
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listeners: list[aws.lb.Listener]
    url: pulumi.Output[str]
    dns_records: list[pulumi.Output] = field(default_factory=list)  # the certificate's, without a zone


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
    https: Https,
    certificate_hint: str,
    region: str,
    access_logs: bool = False,
    deletion_protection: bool = False,
) -> LoadBalancer:
    """An internet-facing ALB forwarding to the app port; HTTPS (HTTP redirected) when ``https`` is enabled."""
    tags = owner.tags
    logs: dict[str, Any] = {}
    after: list[pulumi.Resource] = []
    if access_logs:
        bucket, policy = _access_log_bucket(owner, name, region)
        logs = {"access_logs": aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, enabled=True, prefix="alb")}
        after = [policy]  # ELB checks it may write before it enables the logs
    lb = aws.lb.LoadBalancer(
        f"{name}-alb",
        **owner.args(
            "load_balancer",
            load_balancer_type="application",
            internal=False,
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=deletion_protection,
            enable_http2=True,
            idle_timeout=60,
            **logs,
            tags=tags,
        ),
        opts=owner.opts(depends_on=after),
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
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True, path=health_path, protocol="HTTP", port="traffic-port", matcher="200-399",
                interval=HEALTH_INTERVAL_S, timeout=10, healthy_threshold=2,
                unhealthy_threshold=HEAL_AFTER_S // HEALTH_INTERVAL_S,
            ),
            tags=tags,
        ),
        opts=owner.opts(),
    )  # fmt: skip
    forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)]
    listeners: list[aws.lb.Listener] = []
    records: list[pulumi.Output] = []
    certificate_arn: pulumi.Input[str] | None = https.certificate_arn
    if https.domain is not None:
        cert = managed_certificate(owner, name, https.domain)
        certificate_arn, records = cert.arn, cert.dns_records
    else:
        for child in ("certificate", "validation_record", "certificate_validation"):
            owner.args(child)
    if certificate_arn:
        listeners.append(
            aws.lb.Listener(
                f"{name}-https",
                **owner.args(
                    "https_listener",
                    load_balancer_arn=lb.arn,
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICIES[https.min_tls],
                    certificate_arn=certificate_arn,
                    default_actions=forward,
                    tags=tags,
                ),
                opts=owner.opts(),
            )
        )
        http_action = [
            aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301"),
            )
        ]
    else:
        owner.args("https_listener")
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
    if https.domain is not None:
        url = pulumi.Output.from_input(f"https://{https.domain.name}")
    else:
        url = pulumi.Output.concat("https://" if certificate_arn else "http://", lb.dns_name)
    return LoadBalancer(lb, target_group, listeners, url, records)


def _access_log_bucket(owner: MbopsComponent, name: str, region: str) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """The bucket the load balancer writes its access logs to (SSE-S3: ELB cannot use KMS keys)."""
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=owner)).account_id
    if region in ELB_ACCOUNT_REGIONS:
        elb = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(parent=owner))
        writer: pulumi.Input[Any] = elb.arn.apply(lambda arn: {"AWS": arn})
    else:
        writer = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}

    def delivery(bucket_arn: pulumi.Output[str]) -> pulumi.Output[dict[str, Any]]:
        return pulumi.Output.all(bucket_arn, account, writer).apply(lambda a: {
            "Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": a[2], "Action": "s3:PutObject",
            "Resource": f"{a[0]}/alb/AWSLogs/{a[1]}/*"})  # fmt: skip

    logs = log_bucket(owner, f"{name}-alb-logs", "access_log", days=ACCESS_LOG_DAYS, writer=delivery)
    return logs.bucket, logs.policy
