"""Plan mode of the embedded engine: the planned graph of a stack (the JSON contract in README)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from mbops import PULUMI_PROJECT as PROJECT
from mbops.components.spec import KINDS
from mbops.components.wiring import Gap
from mbops.engine import fakes
from mbops.engine.embedded import Handler, ProgramError, Registration, RunRecord, paused_gc, plain, run_program
from mbops.errors import MbopsError
from mbops.stacks.config import Stack
from mbops.stacks.program import StackProgram, make_program

GRAPH_VERSION = 1

COMPUTED = "[computed]"


class Planner:
    """Handler for plans: providers are never called; computed outputs stay unknown, as in a preview.

    Except a resource's identity: its ``id`` (and on AWS its ``arn``) is answered with the placeholder
    ``[computed]``, so values built from it — IAM policy documents, container definitions, connection strings
    — are planned in full, with ``[computed]`` where the identity goes, and the policy rules can read them.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self.invented: dict[str, str] = {}  # value the planner made up -> what it stands for

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        if not reg.custom:
            return "", {}
        outputs = {"arn": COMPUTED} if reg.type.startswith("aws:") else {}
        return COMPUTED, outputs

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        result = fakes.answer(token, args, self.region)
        for made_up in fakes.invented(token, result):
            self.invented.setdefault(made_up.value, made_up.stands_for)
        return result


def run_plan(
    stack: Stack, handler: Handler | None = None, config: dict[str, str] | None = None,
    program: StackProgram | None = None,
) -> RunRecord:  # fmt: skip
    """Run the stack's program in preview mode (a Planner answers by default) and return the raw record."""
    try:
        return run_program(
            program or make_program(stack), handler or Planner(stack.region), project=PROJECT, stack=stack.name,
            dry_run=True, config=config,
        )  # fmt: skip
    except ProgramError as exc:
        if isinstance(exc.cause, MbopsError):
            raise exc.cause from None
        detail = str(exc).strip() or (type(exc.cause).__name__ if exc.cause is not None else "no message")
        raise MbopsError(f"the {stack.cloud} program for stack '{stack.name}' failed: {detail}") from exc


def component_of(record: RunRecord, reg: Registration) -> str | None:
    """The component kind (``database``, ...) a resource belongs to: its nearest mbops component."""
    node: Registration | None = reg
    while node is not None:
        if node.type.startswith("mbops:"):
            return node.type.rsplit(":", 1)[1].lower()
        node = record.resources.get(node.parent) if node.parent else None
    return None


def stable_order(resource: dict[str, Any]) -> tuple[int, str]:
    """Resources in a stable order: by component kind as listed in the spec (network first), then URN.

    Registration order depends on thread scheduling; the graph must not (plans are diffed, and whatever is
    counted once per stack, like secret API calls, must land on the same resource every time).
    """
    kind = resource["component"]
    return (KINDS.index(kind) if kind in KINDS else -1, resource["urn"])


def graph_of(
    stack: Stack, record: RunRecord, ops: dict[str, str] | None = None, deleted: list[Any] = (),
    gaps: Mapping[str, Gap] | None = None, invented: Mapping[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The planned-graph JSON object (without policy and cost) for a run; ``ops`` and ``deleted`` (recorded
    resources the program no longer has) come from a recorded state, else every resource is a create;
    ``gaps``: the kinds the cloud cannot provide (from the program's build result); ``invented``: values the
    planner made up (listed under ``placeholders`` where the graph contains them)."""
    resources = []
    for urn in record.order:
        reg = record.resources[urn]
        resources.append({
            "urn": urn,
            "type": reg.type,
            "name": reg.name,
            "parent": reg.parent,
            "custom": reg.custom,
            "component": component_of(record, reg),
            "inputs": plain(reg.inputs),
            "dependencies": reg.dependencies,
            "protect": reg.protect,
            "retainOnDelete": reg.retain_on_delete,
            **({"importId": reg.import_id} if reg.import_id else {}),
            **({"ignoreChanges": reg.ignore_changes} if reg.ignore_changes else {}),
            "op": (ops or {}).get(urn, "create"),
        })  # fmt: skip
    for gone in deleted:
        resources.append({
            "urn": gone.urn, "type": gone.type, "name": gone.name, "parent": gone.parent, "custom": True,
            "component": gone.component, "inputs": plain(gone.inputs), "dependencies": gone.dependencies,
            "protect": False, "retainOnDelete": False, "op": "delete",
        })  # fmt: skip
    resources.sort(key=stable_order)
    outputs = plain(record.outputs)
    text = json.dumps([resources, outputs])
    placeholders = [
        {"value": value, "stands_for": what} for value, what in sorted((invented or {}).items()) if value in text
    ]
    return {
        "version": GRAPH_VERSION,
        "stack": stack.name,
        "profile": stack.profile,
        "cloud": stack.cloud,
        "environment": stack.environment,
        "region": stack.region,
        "resources": resources,
        "outputs": outputs,
        "unavailable": [{"kind": k, **gap.as_dict()} for k, gap in sorted((gaps or {}).items()) if not gap.partial],
        "limitations": [{"kind": k, **gap.as_dict()} for k, gap in sorted((gaps or {}).items()) if gap.partial],
        "placeholders": placeholders,
        "warnings": sorted({text for severity, text in record.messages if severity in ("warning", "error")}),
        "summary": dict(Counter(r["op"] for r in resources if r["custom"])),
        "policy": [],
        "cost": {},
    }


def plan(
    stack: Stack, *, with_policy: bool = True, with_cost: bool = True, state_dir: str | None = None
) -> dict[str, Any]:
    """The full planned graph of ``stack``: resources, outputs, policy results and cost."""
    with paused_gc():
        if stack.cloud == "local":
            graph = _local_preview(stack, state_dir)
        else:
            program, planner = make_program(stack), Planner(stack.region)
            record = run_plan(stack, planner, program=program)
            graph = graph_of(stack, record, gaps=program.result.gaps, invented=planner.invented)
        if with_policy:
            from mbops.policies.check import evaluate

            graph["policy"] = evaluate(graph, stack)
        if with_cost:
            from mbops.cost.estimate import estimate

            graph["cost"] = estimate(graph, stack)
    return graph


def _local_preview(stack: Stack, state_dir: str | None) -> dict[str, Any]:
    """A local stack's plan: against its recorded state when it was deployed (see apply.Previewer)."""
    from mbops.engine.apply import Previewer
    from mbops.engine.state import StateStore

    store = StateStore(state_dir)
    config = {"mbops:stateDir": str(store.root)}  # the paths `up` with this state folder would use
    state = store.load(stack.name)
    program = make_program(stack)
    if state is None:
        return graph_of(stack, run_plan(stack, config=config, program=program), gaps=program.result.gaps)
    previewer = Previewer(state)
    record = run_plan(stack, previewer, config=config, program=program)
    deleted = previewer.deleted(set(record.resources))
    return graph_of(stack, record, previewer.ops, deleted, gaps=program.result.gaps)
