"""The names a stack gives its AWS resources, which carry its environment.

Pulumi's logical names (``<stack>-<suffix>``, part of every URN) stay as they are; the names AWS sees
(RDS identifier, ECR repository, bucket, table, alarms, dashboard, budget, secret prefix, ...) start with
``StackInfo.physical_name`` (``<name>-<environment>`` unless the name already ends with it). Without the
environment a dev and a prod stack both named ``shop`` in one account and region would fight over them: the
second ``up`` fails on the RDS identifier, or quietly takes the other's resources over (alarms and dashboards are
overwritten by name; in us-east-1 S3 hands back the existing bucket, which that stack's ``destroy --delete-data``
then empties).
"""

from __future__ import annotations

import hashlib

from mbops.components.wiring import RESOURCE_SUFFIX, BuildContext


def physical(ctx: BuildContext) -> str:
    """The AWS name of the kind's component: ``<physical_name>-<suffix>`` (``shop-prod-db``)."""
    return f"{ctx.stack.physical_name}-{RESOURCE_SUFFIX.get(ctx.kind, ctx.kind)}"


def fit(name: str, limit: int) -> str:
    """``name`` if it has at most ``limit`` characters, else its start and a short hash of the whole (unique and
    stable)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"
