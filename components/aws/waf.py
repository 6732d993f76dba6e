"""AWS WAFv2 web ACLs in front of the stack's public entries: per-IP rate limit and AWS managed rule groups.

One implementation for every entry: ``REGIONAL`` for an Application Load Balancer (associated to it),
``CLOUDFRONT`` for a distribution (created in us-east-1; the distribution names it). Requests are logged to a
CloudWatch log group (``aws-waf-logs-<name>``), with the ``Authorization`` and ``Cookie`` headers redacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from mbops.components.aws.certs import CLOUDFRONT_REGION
from mbops.components.spec import EdgeSpec

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

W = aws.wafv2
# AWS managed rule groups (no subscription): OWASP-style core rules, known bad inputs, IPs with a bad reputation.
MANAGED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                  "AWSManagedRulesAmazonIpReputationList")  # fmt: skip
# The core rule set blocks request bodies over 8 KB; an API taking uploads counts them instead.
COUNTED_RULES = {"AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY"]}
REDACTED_HEADERS = ("authorization", "cookie")  # WAF logs replace their values with REDACTED


def _visibility(metric: str) -> W.WebAclRuleVisibilityConfigArgs:
    return W.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def rules(spec: EdgeSpec, metric_prefix: str) -> list[W.WebAclRuleArgs]:
    """The rate limit per client IP (first), then the managed groups when ``managed_rules``."""
    out = [
        W.WebAclRuleArgs(
            name="rate-limit-per-ip",
            priority=0,
            action=W.WebAclRuleActionArgs(block=W.WebAclRuleActionBlockArgs()),
            statement=W.WebAclRuleStatementArgs(
                rate_based_statement=W.WebAclRuleStatementRateBasedStatementArgs(
                    aggregate_key_type="IP", limit=spec.rate_limit, evaluation_window_sec=300
                )
            ),
            visibility_config=_visibility(f"{metric_prefix}-rate-limit"),
        )
    ]
    if not spec.managed_rules:
        return out
    for i, group in enumerate(MANAGED_GROUPS, start=1):
        counted = [
            W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                name=rule,
                action_to_use=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                    count=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                ),
            )
            for rule in COUNTED_RULES.get(group, [])
        ]
        out.append(
            W.WebAclRuleArgs(
                name=group,
                priority=i * 10,
                override_action=W.WebAclRuleOverrideActionArgs(none=W.WebAclRuleOverrideActionNoneArgs()),
                statement=W.WebAclRuleStatementArgs(
                    managed_rule_group_statement=W.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        vendor_name="AWS", name=group, rule_action_overrides=counted or None
                    )
                ),
                visibility_config=_visibility(f"{metric_prefix}-{group}"),
            )
        )
    return out


def web_acl(
    owner: MbopsComponent, name: str, spec: EdgeSpec, *, scope: str, log_retention_days: int,
    child: str = "web_acl", physical: str | None = None,
) -> W.WebAcl:  # fmt: skip
    """A web ACL allowing by default, blocking what the rules match; its requests logged to CloudWatch.

    ``physical`` (default ``name``) names what AWS sees: the log group ``aws-waf-logs-<physical>`` and the
    metrics. Children of ``owner``: ``<child>``, ``<child>_log_group``, ``<child>_logging``.
    """
    aws_name = physical or name
    region = CLOUDFRONT_REGION if scope == "CLOUDFRONT" else None
    acl = W.WebAcl(
        f"{name}-waf",
        **owner.args(
            child,
            scope=scope,
            description=f"{name}: rate limit per IP and AWS managed rules",
            default_action=W.WebAclDefaultActionArgs(allow=W.WebAclDefaultActionAllowArgs()),
            rules=rules(spec, aws_name),
            visibility_config=W.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=aws_name, sampled_requests_enabled=True
            ),
            region=region,
            tags=owner.tags,
        ),
        opts=owner.opts(),
    )
    logs = aws.cloudwatch.LogGroup(
        f"{name}-waf-logs",
        **owner.args(
            f"{child}_log_group",
            name=f"aws-waf-logs-{aws_name}",  # WAF logs only to groups named aws-waf-logs-*
            retention_in_days=log_retention_days,
            region=region,
            tags=owner.tags,
        ),
        opts=owner.opts(),
    )
    W.WebAclLoggingConfiguration(
        f"{name}-waf-logging",
        **owner.args(
            f"{child}_logging",
            resource_arn=acl.arn,
            log_destination_configs=[logs.arn],
            # Credentials stay out of the logs (kept for log_retention_days).
            redacted_fields=[W.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=W.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header))
                for header in REDACTED_HEADERS],
            region=region,
        ),
        opts=owner.opts(),
    )
    return acl


def associate(owner: MbopsComponent, name: str, acl: W.WebAcl, resource_arn: pulumi.Input[str]) -> None:
    """Put a REGIONAL web ACL in front of a load balancer (child ``web_acl_association``)."""
    W.WebAclAssociation(
        f"{name}-waf-association",
        **owner.args("web_acl_association", resource_arn=resource_arn, web_acl_arn=acl.arn),
        opts=owner.opts(),
    )
