"""Taking back data that a ``destroy`` kept (``adopt: [<kind>.<child>]``): the import id of a kept resource.

A retained resource leaves the stack but stays in the account under its fixed name, so the next ``up`` would fail
creating it again ("already exists"). When the stack adopts it, the child gets ``import_=<its id>`` and Pulumi
imports it instead. Pulumi needs that id as a plain string before the deployment, so a name that is an output
(it holds the account id) is read then, and only then, through ``name_now``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pulumi

from mbops.errors import ConfigError

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent


def kept_id(
    owner: MbopsComponent, child: str, name: pulumi.Input[str] | None, name_now: Callable[[], str] | None = None
) -> str | None:
    """The import id (here the name) of ``owner``'s ``child`` when the stack adopts it, else None.

    ``name`` is the child's name as given to the resource (after overrides); when it is not a plain string,
    ``name_now`` computes the same name now (an account lookup). A generated name cannot be adopted: ConfigError.
    """
    if not owner.adopts(child):  # not adopted: nothing is read
        return None
    known = name if isinstance(name, str) else name_now() if name_now is not None else None
    if not known:
        raise ConfigError(
            f"adopt: {owner.kind}.{child} takes back the kept resource by its name, and this one's name is not known "
            f"before the deployment (generated, or an output); give it a fixed name (components.{owner.kind}."
            f"overrides.{child}) or import it with `pulumi import`"
        )
    return known


def warn_not_adoptable(owner: MbopsComponent, child: str, why: str, instead: str) -> None:
    """Say so when the stack adopts ``child`` (by name or ``<kind>.*``), which ``adopt`` cannot take back."""
    if owner.adopts(child):
        pulumi.log.warn(f"adopt: {owner.kind}.{child} cannot be taken back by adopt ({why}); {instead}", resource=owner)
