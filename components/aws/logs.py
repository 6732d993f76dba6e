"""The ``logs`` stack output on AWS: for each kind with a CloudWatch log group, how to read it.

``mbops logs --cloud aws`` prints it (``engine/targets.py``): per kind (``app``, ``database``, ``api``) the
``aws logs tail`` command for the last hour, the one that follows, and the group's CloudWatch console page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pulumi


def console_url(region: str, group: str) -> str:
    """The CloudWatch console page of a log group (the console encodes the name twice, ``%`` as ``$``)."""
    encoded = quote(quote(group, safe=""), safe="").replace("%", "$")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{encoded}"


def hint(region: str, group: str) -> dict[str, str]:
    return {
        "command": f"aws logs tail {group} --since 1h --region {region}",
        "follow": f"aws logs tail {group} --follow --region {region}",
        "console": console_url(region, group),
    }


def logs_output(region: str, groups: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[dict[str, Any]]:
    """``{kind: {command, follow, console}}`` for log groups given as ``{kind: group name}``."""
    kinds = sorted(groups)
    return pulumi.Output.all(*(groups[k] for k in kinds)).apply(
        lambda names: {kind: hint(region, name) for kind, name in zip(kinds, names, strict=True)}
    )


def stack_log_groups(built: Mapping[str, Any], own: Mapping[str, pulumi.Input[str]]) -> dict[str, Any]:
    """The log groups of the kinds built so far (their components' ``log_groups``) and ``own``."""
    found: dict[str, Any] = {}
    for b in built.values():
        found.update(getattr(b.component, "log_groups", None) or {})
    return {**found, **own}
