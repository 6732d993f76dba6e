"""The ``logs`` stack output on GCP: for each part of the stack that logs, how to read it.

``mbops logs --cloud gcp`` prints it (``engine/targets.py``): per kind (``app``, ``database``, ``database-setup``,
``edge``, ``load_balancer``) the ``gcloud logging read`` command for the last hour, the ``gcloud beta logging tail``
command that follows, and the Logs Explorer page with the query. The app's Cloud Run logs live in the stack's own
log bucket (``run.py``: routed there and excluded from ``_Default``), so their commands and page name that bucket's
view; everything else is in the project's ``_Default`` bucket.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pulumi

CONSOLE = "https://console.cloud.google.com/logs/query"
ALL_LOGS_VIEW = "_AllLogs"  # the view every log bucket has of all its entries


@dataclass(frozen=True)
class LogQuery:
    """Where a part of the stack logs: a Logging filter, and the stack's log bucket holding it (None: ``_Default``)."""

    filter: pulumi.Input[str]
    bucket: pulumi.Input[str] | None = None


def hint(project: str, region: str, query: str, bucket: str | None) -> dict[str, str]:
    """``{command, follow, console}`` for one Logging ``query`` (in ``bucket``'s view when given)."""
    scope_flags = f" --bucket={bucket} --location={region} --view={ALL_LOGS_VIEW}" if bucket else ""
    view = f"projects/{project}/locations/{region}/buckets/{bucket}/views/{ALL_LOGS_VIEW}"
    scope = f";storageScope=storage,{quote(view, safe='')}" if bucket else ""
    return {
        "command": f"gcloud logging read {shlex.quote(query)} --project={project}{scope_flags} --freshness=1h "
                   f"--order=asc",
        "follow": f"gcloud beta logging tail {shlex.quote(query)} --project={project}{scope_flags}",
        "console": f"{CONSOLE};query={quote(query, safe='')}{scope}?project={project}",
    }  # fmt: skip


def logs_output(project: str, region: str, queries: Mapping[str, LogQuery]) -> pulumi.Output[dict[str, Any]]:
    """``{kind: {command, follow, console}}`` for ``queries`` (their filters and buckets may be outputs)."""
    kinds = sorted(queries)
    parts = [pulumi.Output.all(queries[k].filter, queries[k].bucket) for k in kinds]
    return pulumi.Output.all(*parts).apply(
        lambda resolved: {kind: hint(project, region, flt, bucket)
                          for kind, (flt, bucket) in zip(kinds, resolved, strict=True)}  # fmt: skip
    )


def stack_log_queries(built: Mapping[str, Any], own: Mapping[str, LogQuery]) -> dict[str, LogQuery]:
    """The log queries of the kinds built so far (their components' ``log_queries``) and ``own``."""
    found: dict[str, LogQuery] = {}
    for b in built.values():
        found.update(getattr(b.component, "log_queries", None) or {})
    return {**found, **own}
