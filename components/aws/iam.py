"""IAM building blocks shared by the AWS components: trust policies, JSON policy documents, service roles.

Policies are JSON documents with specific actions on specific resource ARNs: nothing here writes an
``Allow`` of ``*`` or ``<service>:*``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

VERSION = "2012-10-17"


# What the SSM agent needs for Session Manager and Run Command (AmazonSSMManagedInstanceCore without its
# ssm:GetParameter(s) on every parameter of the account, which the app on the instance would inherit).
SSM_AGENT_ACTIONS = [
    "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "ssm:DescribeAssociation", "ssm:GetDocument",
    "ssm:DescribeDocument", "ssm:UpdateInstanceAssociationStatus",
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
]  # fmt: skip


def ssm_agent_statement() -> dict[str, Any]:
    """Session Manager access to an instance (no SSH): the agent's calls, none of which reads data."""
    return allow("SsmAgent", SSM_AGENT_ACTIONS, "*")


def managed_policy_arn(name: str) -> str:
    """The ARN of an AWS managed policy, e.g. ``service-role/AmazonECSTaskExecutionRolePolicy``."""
    return f"arn:aws:iam::aws:policy/{name}"


def assume_role_policy(service: str) -> str:
    """A trust policy letting one AWS service principal (``ecs-tasks.amazonaws.com``, ...) assume the role."""
    return json.dumps(
        {
            "Version": VERSION,
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def allow(
    sid: str, actions: Sequence[str], resources: Sequence[pulumi.Input[str]] | pulumi.Input[str]
) -> dict[str, Any]:
    """One ``Allow`` statement; resources may be Outputs (``policy_document`` serializes them)."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def policy_document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """A policy document as a JSON string Output (statements may hold Outputs)."""
    return pulumi.Output.json_dumps({"Version": VERSION, "Statement": list(statements)})


def _slug(policy: str) -> str:
    """``AmazonSSMManagedInstanceCore`` -> ``amazon-ssm-managed-instance-core``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", policy.rsplit("/", 1)[-1]).lower()


def service_role(
    owner: MbopsComponent,
    name: str,
    child: str,
    *,
    service: str,
    description: str,
    managed: Sequence[str] = (),
    statements: Sequence[Mapping[str, Any]] = (),
    ready: list[pulumi.Resource] | None = None,
) -> aws.iam.Role:
    """A role for ``service`` with AWS managed policies attached and one least-privilege inline policy.

    Children of ``owner``: ``<child>`` (the role) and ``<child>_policy`` (the inline policy, only when there
    are statements); each managed policy is a ``RolePolicyAttachment`` named after the policy. ``ready``
    receives the policy resources: what uses the role (a task, an instance, a function) waits for them, or it
    may start before its permissions exist.
    """
    ready = ready if ready is not None else []
    role = aws.iam.Role(
        name,
        **owner.args(
            child,
            assume_role_policy=assume_role_policy(service),
            description=description,
            max_session_duration=3600,
            tags=owner.tags,
        ),
        opts=owner.opts(),
    )
    for policy in managed:
        attached = aws.iam.RolePolicyAttachment(
            f"{name}-{_slug(policy)}",
            role=role.name,
            policy_arn=managed_policy_arn(policy),
            opts=owner.opts(),
        )
        ready.append(attached)
    if statements:
        inline = aws.iam.RolePolicy(
            f"{name}-policy",
            **owner.args(f"{child}_policy", role=role.id, policy=policy_document(statements)),
            opts=owner.opts(),
        )
        ready.append(inline)
    else:
        owner.args(f"{child}_policy")
    return role
