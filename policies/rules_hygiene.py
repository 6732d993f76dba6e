"""Operational hygiene: logs kept for a bounded time, every resource tagged with who owns it."""

from __future__ import annotations

from collections.abc import Iterator

from mbops.policies.model import Check, Context, Graph, Resource, Rule, cloud_of, unverified
from mbops.policies.taggable import tag_path
from mbops.policies.values import get, key_values, known, number

MIN_LOG_DAYS = 7
REQUIRED_TAGS = ("app", "env", "owner")
UNASSIGNED = "unassigned"


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- logs-retention -----------------------------------------------------------------------------------------
def _retention(field: str, label: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        value = get(_inputs(res), field)
        if not known(value):
            yield unverified(label)
            return
        days = number(value)
        if days is None or days <= 0:
            yield (
                f"{label} is not set: logs are kept "
                f"{'forever' if res['type'].startswith('aws:') else 'for a default period'}"
            )
        elif days < MIN_LOG_DAYS:
            yield f"{label} is {days:g} days; keep logs at least {MIN_LOG_DAYS} days to investigate incidents"

    return check


LOG_RETENTION = Rule(
    id="logs-retention",
    title="Logs kept with an explicit retention",
    severity="medium",
    enforcement="mandatory",
    description="Every log store has an explicit retention of at least 7 days: long enough to investigate an "
    "incident, bounded so logs (and any personal data in them) do not pile up forever at a cost.",
    remediation={
        "aws": "Set retention_in_days on the log group (components.containers.log_retention_days / "
        "components.serverless.log_retention_days).",
        "gcp": "Set retention_days on the log bucket.",
        "azure": "Set retention_in_days on the Log Analytics workspace.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP CloudWatch.16", "azure": "MCSB LT-6"},
    checks={
        "aws:cloudwatch/logGroup:LogGroup": _retention("retentionInDays", "retentionInDays"),
        "azure-native:operationalinsights:Workspace": _retention("retentionInDays", "retentionInDays"),
        "gcp:logging/projectBucketConfig:ProjectBucketConfig": _retention("retentionDays", "retentionDays"),
    },
)


# --- required-tags ------------------------------------------------------------------------------------------
def resource_tags(res: Resource) -> dict[str, object] | None:
    """The tags/labels of a taggable resource ({} when it has none); None when untaggable or unknown."""
    path = tag_path(res.get("type", ""))
    if path is None:
        return None
    value = get(_inputs(res), path)
    if not known(value):
        return None
    return key_values(value) or {}


def _required_tags(res: Resource, ctx: Context) -> Iterator[str]:
    tags = resource_tags(res)
    if tags is None:
        return
    missing = [key for key in REQUIRED_TAGS if not tags.get(key)]
    if missing:
        word = "labels" if cloud_of(res.get("type", "")) == "gcp" else "tags"
        yield f"missing {word} {', '.join(missing)} (has: {', '.join(sorted(tags)) or 'none'})"


REQUIRED = Rule(
    id="required-tags",
    title="Resources tagged app, env, owner",
    severity="medium",
    enforcement="mandatory",
    description="Every resource that takes tags (AWS, Azure) or labels (GCP) carries app, env and owner, so "
                "cost "
    "reports, incident response and clean-up can find who owns what. Taggable types are read from the "
    "provider SDK.",
    remediation="Pass the component's tags (stack.tags) to every child, e.g. tags=self.tags / "
                "labels=self.tags; "
    "set tags.owner in the stack file.",
    clouds=("aws", "gcp", "azure"),
    checks={r"re:^(aws|gcp|azure-native):": _required_tags},
)


# --- owner-assigned (advisory) ------------------------------------------------------------------------------
def _owner_assigned(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    unowned = [r for r in graph.resources if (resource_tags(r) or {}).get("owner") == UNASSIGNED]
    if unowned:
        yield (
            unowned[0],
            (f"owner is '{UNASSIGNED}' on {len(unowned)} resource(s): nobody is on the hook for this stack"),
        )


OWNER = Rule(
    id="owner-assigned",
    title="Owner tag names a real team",
    severity="low",
    enforcement="advisory",
    description="The owner tag names a team or person, not the placeholder 'unassigned' mbops uses when the "
                "stack "
    "file does not say. Reported once per stack.",
    remediation="Add `tags: {owner: <team>}` to the stack file.",
    clouds=("aws", "gcp", "azure"),
    graph_check=_owner_assigned,
)

RULES = [LOG_RETENTION, REQUIRED, OWNER]
