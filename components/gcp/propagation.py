"""A wait for IAM propagation: what depends on it starts ``seconds`` after the grants it waits for.

Google IAM is eventually consistent (Google documents "usually 2 minutes, up to 7"): a Cloud Run revision
created right after its service account was granted ``secretAccessor`` fails its deploy-time secret check, and
``pulumi up`` fails on a first deploy. ``IamPropagation`` is a Pulumi dynamic resource whose create (and update,
when the set of grants changes) sleeps; the app's compute depends on it. Deleting it does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult


class IamPropagationProvider(ResourceProvider):
    """Sleeps on create, and on update when the grants changed."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["seconds"]))
        return CreateResult(f"iam-propagation-{props['member']}", dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("member", "grants") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        time.sleep(float(news["seconds"]))
        return UpdateResult(dict(news))


class IamPropagation(Resource, module="mbops", name="IamPropagation"):
    """Ready ``seconds`` after ``grants`` (resources given in ``opts.depends_on``) for ``member``."""

    def __init__(
        self, name: str, *, seconds: int, member: pulumi.Input[str], grants: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props = {"seconds": seconds, "member": member, "grants": [g.urn for g in grants]}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(grants)))
        super().__init__(IamPropagationProvider(), name, props, opts)
