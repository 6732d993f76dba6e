"""What every mbops component shares: typed children parented to it, raw overrides, tags, outputs."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import pulumi

from mbops.components.spec import ComponentSpec
from mbops.errors import ConfigError


def merge_args(defaults: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge raw override args over a child's defaults; nested dicts merge, everything else is replaced."""
    merged = dict(defaults)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_args(dict(current), value)
        else:
            merged[key] = value
    return merged


# The ``<kind>.<child>`` / ``<kind>.*`` names this program takes over instead of creating (``StackInfo.adopt``).
_ADOPTED: ContextVar[frozenset[str]] = ContextVar("mbops_adopted", default=frozenset())


def set_adopted(names: frozenset[str]) -> None:
    """Set what the components of this program adopt; the stack's build calls it before building any."""
    _ADOPTED.set(frozenset(names))


class MbopsComponent(pulumi.ComponentResource):
    """Base of every component: ``mbops:<cloud>:<Kind>``.

    Subclasses build their children with ``self.args("child", **defaults)`` (which applies the spec's raw
    ``overrides`` for that child) and ``self.opts()`` (``parent=self``), then call ``self.finish(outputs)``.
    An override naming a child the component does not have is a ConfigError listing the children it has.
    """

    kind: str = ""

    def __init__(
        self,
        cloud: str,
        name: str,
        spec: ComponentSpec,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        type_name = "".join(part.capitalize() for part in self.kind.split("_")) or type(self).__name__
        super().__init__(f"mbops:{cloud}:{type_name}", name, None, opts)
        self.spec = spec
        self.tags = dict(tags or {})
        self._children_built: list[str] = []

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Resource options for a child: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def args(self, child: str, **defaults: Any) -> dict[str, Any]:
        """The args for child ``child``: the component's defaults with the spec's raw overrides on top."""
        self._children_built.append(child)
        return merge_args(defaults, self.spec.overrides.get(child, {}))

    def adopted(self, child: str, import_id: str | None) -> str | None:
        """``import_id`` when the stack adopts ``child`` (its ``adopt`` lists ``<kind>.<child>`` or ``<kind>.*``),
        else None: pass it as the child's ``import_`` option.

        For what outlived an earlier ``destroy`` (data kept under a fixed name) or predates the stack (a project
        singleton): creating it again fails with "already exists"; adopting makes the next ``up`` import it.
        Pulumi imports only a resource whose settings match the program's (else the update fails, naming the
        differences), and ignores the option once the resource is in the stack.
        """
        return import_id if self.adopts(child) else None

    def adopts(self, child: str) -> bool:
        """Whether the stack's ``adopt`` names this child (``<kind>.<child>`` or ``<kind>.*``)."""
        adopt = _ADOPTED.get()
        return f"{self.kind}.{child}" in adopt or f"{self.kind}.*" in adopt

    def finish(self, outputs: Mapping[str, Any]) -> None:
        """Check that every override named a real child, then register the component's outputs."""
        unknown = sorted(set(self.spec.overrides) - set(self._children_built))
        if unknown:
            raise ConfigError(
                f"components.{self.kind}.overrides: no child resource named {', '.join(unknown)}; "
                f"the {self.kind} component's children are: {', '.join(sorted(set(self._children_built)))}"
            )
        self.register_outputs(dict(outputs))
