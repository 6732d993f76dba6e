"""A wait for IAM propagation: what depends on it starts ``seconds`` after the grants it waits for.

Google IAM is eventually consistent ("typically within 2 minutes; in some cases 7 minutes or more",
https://cloud.google.com/iam/docs/access-change-propagation): a Cloud Run revision created right after its
service account was granted ``secretAccessor`` fails its deploy-time secret check, and ``pulumi up`` fails on a
first deploy. ``IamPropagation`` is a Pulumi dynamic resource whose create (and update, when the set of grants
changes) sleeps; the app's compute depends on it. Deleting it does nothing.

How long: ``IAM_PROPAGATION_S`` (2 minutes, the documented typical case), not the 7-minute tail: the wait sits
on the critical path of every first deploy and every change of the app's grants (a saas stack has nothing else
to wait for), and when the tail is hit the deploy fails loudly on the revision's permission check and the
next ``up`` completes it (everything else is in place). A project that sees the tail often raises it per
component: ``overrides.iam_propagation.seconds`` (up to 900).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from mbops.errors import ConfigError

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent

IAM_PROPAGATION_S = 120
MAX_PROPAGATION_S = 900


def propagation_seconds(c: MbopsComponent) -> int:
    """How long ``c``'s grants are given to propagate: ``IAM_PROPAGATION_S`` unless its spec overrides
    ``iam_propagation.seconds``."""
    seconds = c.args("iam_propagation", seconds=IAM_PROPAGATION_S)["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_PROPAGATION_S:
        raise ConfigError(
            f"components.{c.kind}.overrides.iam_propagation.seconds: give whole seconds from 0 to "
            f"{MAX_PROPAGATION_S} (got {seconds!r})"
        )
    return seconds


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
