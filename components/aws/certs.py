"""ACM certificates for the stack's ``domain``, validated by DNS, and the DNS records a stack needs.

With a Route 53 zone (``dns_zone``) the validation record is created in it and the certificate is waited for;
without one, the records to create elsewhere are returned (the stack's ``dns_records`` output) and printed
during the deployment, which waits (up to ``VALIDATION_WAIT``) until the certificate is issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

VALIDATION_WAIT = "2h"
CLOUDFRONT_REGION = "us-east-1"  # CloudFront takes certificates (and CLOUDFRONT-scope web ACLs) from here only


@dataclass(frozen=True, kw_only=True)
class Domain:
    """The stack's public name and, when it has one, the Route 53 zone that holds it."""

    name: str
    zone: str | None = None

    def zone_id(self, owner: pulumi.Resource) -> pulumi.Output[str] | None:
        if self.zone is None:
            return None
        zone = aws.route53.get_zone_output(
            name=self.zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=owner)
        )
        return zone.zone_id


def dns_record(name: pulumi.Input[str], type_: str, value: pulumi.Input[str], purpose: str) -> pulumi.Output:
    """One entry of the ``dns_records`` output: ``{name, type, value, purpose}``."""
    return pulumi.Output.all(name, value).apply(
        lambda a: {"name": a[0].rstrip("."), "type": type_, "value": a[1].rstrip("."), "purpose": purpose}
    )


@dataclass
class Certificate:
    certificate: aws.acm.Certificate
    arn: pulumi.Output[str]  # of the validated certificate: using it waits for the validation
    dns_records: list[pulumi.Output]  # to create elsewhere (empty with a zone)


def managed_certificate(
    owner: MbopsComponent, name: str, domain: Domain, *, region: str | None = None, purpose: str = "load balancer"
) -> Certificate:
    """An ACM certificate for ``domain`` (in ``region``, else the stack's), validated by DNS.

    Children of ``owner``: ``certificate``, ``validation_record`` (with a zone), ``certificate_validation``.
    """
    tags = owner.tags
    cert = aws.acm.Certificate(
        f"{name}-cert",
        **owner.args(
            "certificate",
            domain_name=domain.name,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            options=aws.acm.CertificateOptionsArgs(certificate_transparency_logging_preference="ENABLED"),
            region=region,
            tags=tags,
        ),
        opts=owner.opts(),
    )
    option = cert.domain_validation_options.apply(lambda opts: opts[0])
    record_name = option.apply(lambda o: o.resource_record_name)
    record_value = option.apply(lambda o: o.resource_record_value)
    zone_id = domain.zone_id(owner)
    if zone_id is not None:
        record = aws.route53.Record(
            f"{name}-cert-dns",
            **owner.args(
                "validation_record",
                zone_id=zone_id,
                name=record_name,
                type=option.apply(lambda o: o.resource_record_type),
                records=[record_value],
                ttl=300,
                allow_overwrite=True,
            ),
            opts=owner.opts(),
        )
        fqdns: list[Any] | None = [record.fqdn]
        records: list[pulumi.Output] = []
    else:
        owner.args("validation_record")
        fqdns = None
        records = [
            dns_record(record_name, "CNAME", record_value, f"validates the {purpose} certificate of {domain.name}")
        ]
        if not pulumi.runtime.is_dry_run():
            pulumi.Output.all(record_name, record_value).apply(
                lambda a: pulumi.log.warn(
                    f"create the DNS record {a[0]} CNAME {a[1]} where {domain.name} is hosted: the deployment "
                    f"waits (up to {VALIDATION_WAIT}) until ACM has validated the certificate",
                    resource=owner,
                )
            )
    validation = aws.acm.CertificateValidation(
        f"{name}-cert-validation",
        **owner.args("certificate_validation", certificate_arn=cert.arn, validation_record_fqdns=fqdns, region=region),
        opts=owner.opts(custom_timeouts=pulumi.CustomTimeouts(create=VALIDATION_WAIT)),
    )
    return Certificate(cert, validation.certificate_arn, records)


def stack_dns_records(built: Mapping[str, Any], own: list[pulumi.Output]) -> list[pulumi.Output]:
    """The ``dns_records`` output: the records every kind built so far must have created elsewhere (their
    components' ``dns_records``), then ``own``. The last kind that outputs it has them all."""
    return [r for b in built.values() for r in getattr(b.component, "dns_records", None) or []] + own


def alias_records(
    owner: MbopsComponent, name: str, domain: Domain, *, target: pulumi.Input[str], target_zone: pulumi.Input[str],
    ipv6: bool = False, evaluate_health: bool = True,
) -> list[pulumi.Output]:  # fmt: skip
    """The domain's record pointing at ``target``: a Route 53 alias (A, and AAAA with ``ipv6``) with a zone,
    else a CNAME to create elsewhere (returned). Child of ``owner``: ``dns_record``."""
    zone_id = domain.zone_id(owner)
    if zone_id is None:
        owner.args("dns_record")
        return [dns_record(domain.name, "CNAME", target, f"points {domain.name} at the stack's entry")]
    for kind in ("A", "AAAA") if ipv6 else ("A",):
        aws.route53.Record(
            f"{name}-{kind.lower()}",
            **owner.args(
                "dns_record",
                zone_id=zone_id,
                name=domain.name,
                type=kind,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=target, zone_id=target_zone, evaluate_target_health=evaluate_health
                    )
                ],
                allow_overwrite=False,
            ),
            opts=owner.opts(),
        )
    return []
