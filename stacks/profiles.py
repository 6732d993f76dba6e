"""Load and validate the built-in stack profiles (``stacks/profiles/<name>.yaml``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mbops.components.spec import KINDS
from mbops.errors import ConfigError

PROFILE_DIR = Path(__file__).parent / "profiles"


class ProfileDef(BaseModel):
    """A profile: the component kinds it deploys, their defaults, and what each environment changes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    summary: str
    app_runs_on: str = Field(description="Component kind that runs the app: servers, containers or serverless.")
    components: dict[str, dict[str, Any]]
    optional: list[str] = Field(default_factory=list)
    app: dict[str, Any] = Field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _kinds(self) -> ProfileDef:
        unknown = [k for k in (*self.components, *self.optional) if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown component kinds {unknown}; allowed: {', '.join(KINDS)}")
        if self.app_runs_on not in self.components:
            raise ValueError(f"app_runs_on '{self.app_runs_on}' is not one of the profile's components")
        return self


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@cache
def load_profile(name: str) -> ProfileDef:
    from mbops.stacks.config import describe_errors, load_yaml

    path = PROFILE_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"profile: '{name}' is not a profile; allowed: {', '.join(profile_names())}")
    try:
        return ProfileDef.model_validate(load_yaml(path))
    except ValidationError as exc:
        raise ConfigError(describe_errors(str(path), exc)) from None
