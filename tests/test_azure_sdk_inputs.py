"""Every azure-native resource in every Azure plan sends only what the SDK declares.

Raw dicts are where typos hide: a nested dict with Python names (``type_name`` where ARM wants ``typeName``)
reaches ARM as written and is rejected at deploy time - the Front Door ``blobauth`` rule once did exactly that.
This walks each resource's planned inputs (camelCase, as sent) against the installed SDK's input types:
every property name, at every depth, must be one the type declares (for a union, one of its members), and
every required property must be there.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from functools import cache
from typing import Any, ForwardRef

import pulumi._types as pulumi_types
import pytest

from tests.conftest import ENVIRONMENTS, PROFILES

PAIRS = [(p, e) for p in PROFILES for e in ENVIRONMENTS]


@cache
def properties(cls: type) -> dict[str, tuple[str, Any]]:
    """An input type's properties: wire (camelCase) name -> (Python name, annotation)."""
    found = {}
    for python_name, attr in vars(cls).items():
        if isinstance(attr, property) and attr.fget is not None:
            wire = getattr(attr.fget, pulumi_types._PULUMI_NAME, None) or python_name
            found[wire] = (python_name, attr.fget.__annotations__.get("return"))
    return found


@cache
def required(cls: type) -> frozenset[str]:
    """The wire names of the properties the type's constructor requires."""
    wire = {python: name for name, (python, _) in properties(cls).items()}
    params = inspect.signature(cls.__init__).parameters.values()
    return frozenset(wire[p.name] for p in params if p.default is inspect.Parameter.empty and p.name in wire)


def input_types(annotation: Any, module: Any) -> list[type]:
    """The ``*Args`` input types an annotation admits (a union may admit several)."""
    found: list[type] = []

    def walk(node: Any) -> None:
        if isinstance(node, ForwardRef):
            name = node.__forward_arg__
            if name.endswith("Args") and hasattr(module, name) and getattr(module, name) not in found:
                found.append(getattr(module, name))
        for arg in typing.get_args(node):
            walk(arg)

    walk(annotation)
    return found


def mismatches(value: Any, annotation: Any, module: Any, path: str) -> list[str]:
    """What in ``value`` the annotation does not admit (empty when all is well)."""
    if isinstance(value, list):
        return [m for i, item in enumerate(value) for m in mismatches(item, annotation, module, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    candidates = input_types(annotation, module)
    if not candidates:
        return []  # a free-form map (tags, settings JSON)
    best: list[str] | None = None
    for cls in candidates:
        props = properties(cls)
        problems = [f"{path}.{key}: not a property of {cls.__name__}" for key in value if key not in props]
        problems += [f"{path}: {cls.__name__} requires {key}" for key in sorted(required(cls) - set(value))]
        if not problems:
            for key, item in value.items():
                problems += mismatches(item, props[key][1], module, f"{path}.{key}")
        if not problems:
            return []
        best = problems if best is None or len(problems) < len(best) else best
    if all(isinstance(v, dict) for v in value.values()) and not set(value) & set(properties(candidates[0])):
        # A map of typed values (e.g. a budget's notifications by name).
        return [m for k, v in value.items() for m in mismatches(v, annotation, module, f"{path}[{k}]")]
    return best or []


def resource_args(type_token: str) -> tuple[type, Any]:
    _, module_name, name = type_token.split(":")
    module = importlib.import_module(f"pulumi_azure_native.{module_name}")
    return (getattr(module, f"{name}InitArgs", None) or getattr(module, f"{name}Args")), module


@pytest.mark.parametrize("profile,env", PAIRS, ids=[f"{p}-{e}" for p, e in PAIRS])
def test_every_azure_input_is_declared_by_the_sdk(planned: Any, profile: str, env: str) -> None:
    graph = planned(profile, "azure", env)
    problems: list[str] = []
    for res in graph["resources"]:
        if not (res["custom"] and res["type"].startswith("azure-native:")):
            continue
        cls, module = resource_args(res["type"])
        props = properties(cls)
        name = res["name"]
        problems += [f"{name}.{key}: not an argument of {cls.__name__}" for key in res["inputs"] if key not in props]
        problems += [f"{name}: {key} is required" for key in sorted(required(cls) - set(res["inputs"]))]
        for key, value in res["inputs"].items():
            if key in props:
                problems += mismatches(value, props[key][1], module, f"{name}.{key}")
    assert not problems, "\n".join(problems)


def test_the_checker_catches_python_names_in_a_raw_dict() -> None:
    """The bug this guards against: ModifyRequestHeader parameters with Python names in a raw dict."""
    cls, module = resource_args("azure-native:cdn:Rule")
    raw = [{"name": "ModifyRequestHeader", "parameters": {
        "type_name": "DeliveryRuleHeaderActionParameters", "header_action": "Overwrite", "header_name": "x-ms-version",
    }}]  # fmt: skip
    found = mismatches(raw, properties(cls)["actions"][1], module, "rule.actions")
    assert any("type_name" in problem for problem in found), found
    typed = [{"name": "ModifyRequestHeader", "parameters": {
        "typeName": "DeliveryRuleHeaderActionParameters", "headerAction": "Overwrite", "headerName": "x-ms-version",
    }}]  # fmt: skip
    assert mismatches(typed, properties(cls)["actions"][1], module, "rule.actions") == []
