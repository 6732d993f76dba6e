"""Check a resource's planned inputs against the input types its provider's Python SDK declares.

The schema is the installed SDK, read at run time, never a hand-written table. The SDKs here ship no Pulumi
schema JSON (only ``pulumi-plugin.json``: name and version), but the generated Python code carries all of it:

- a provider package (``pulumi_<x>``, named by its ``pulumi-plugin.json``) registers, on import, a resource
  module per token module (``pulumi.runtime.register_resource_module``) whose ``mod_info`` maps each type token
  to its Python module and class; the ``args`` of the class's ``__init__`` overload is its ``@pulumi.input_type``
  (``<Class>Args``, or ``<Class>InitArgs`` where a nested type already has that name);
- each input type property has a ``@pulumi.getter(name="camelCase")`` (the name sent to the provider) and a
  return annotation: ``Sequence``/``Mapping``/nested input types/``Union``s/scalars, and enums (``str, Enum``
  classes in ``_enums.py``; ``Union[str, SomeEnum]`` is an open enum, a bare ``SomeEnum`` a closed one); a
  property is required when its ``__init__`` keyword's annotation does not admit None;
- constant properties (Azure's discriminators: an action's ``name``, a parameters object's ``typeName``) are
  the string literals the input type's ``__init__`` always sets: ``pulumi.set(__self__, "name", 'X')``.

``check_inputs(type_token, inputs)`` returns the problems with a JSON path: unknown property names (with the
allowed ones), missing required properties, wrong shapes (object, list, map, scalar kinds), enum values that
are not members (open enums only with ``strict_enums``), constants with another value. Values the planner could
not know (``[computed]``, ``[secret]``) satisfy any type; maps accept any key; a union accepts a value that any
member accepts, else the problems are those of the member its discriminator names (or the closest member).
Schemas are cached per type token and per input type; provider submodules are imported once (by Python).
"""

from __future__ import annotations

import ast
import difflib
import enum
import importlib
import inspect
import json
import linecache
import pkgutil
import re
import typing
from collections import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pulumi
from pulumi import _types as pulumi_types
from pulumi.runtime import rpc

from mbops.errors import MbopsError

PLACEHOLDERS = frozenset({"[computed]", "[secret]", rpc.UNKNOWN})
"""Values the planned graph holds where the real value is unknown or secret: they satisfy any type."""

DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROVIDER_PREFIX = "pulumi:providers:"
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_MAX_LISTED = 40  # allowed names listed in an "unknown property" message


class SchemaError(MbopsError):
    """The installed SDKs do not describe a type token (no such package, module or class)."""


@dataclass(frozen=True)
class Problem:
    """One mismatch between a value and its declared type; ``path`` is a JSON path from the inputs' root."""

    path: str
    kind: str  # unknown-property | missing-required | type | enum | open-enum | constant | unknown-type
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class Finding:
    """A problem in one resource of a planned graph."""

    urn: str
    type: str
    name: str
    problem: Problem

    def __str__(self) -> str:
        return f"{self.type} '{self.name}': {self.problem}"


# --- the type model --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    py: type  # str, int, float or bool


@dataclass(frozen=True)
class AnyValue:
    pass


@dataclass(frozen=True)
class ListOf:
    item: Node


@dataclass(frozen=True)
class MapOf:
    value: Node


@dataclass(frozen=True)
class EnumOf:
    cls: type[enum.Enum]
    open: bool  # Union[str, Enum]: the SDK types other strings as valid too


@dataclass(frozen=True)
class Obj:
    cls: type  # an @pulumi.input_type class


@dataclass(frozen=True)
class OneOf:
    members: tuple[Node, ...]


Node = Scalar | AnyValue | ListOf | MapOf | EnumOf | Obj | OneOf


@dataclass(frozen=True)
class Field:
    owner: type  # the input type declaring it
    py_name: str
    required: bool  # a keyword of the input type's __init__ without a default
    const: str | None  # the value the SDK always sends for this property (a discriminator)

    @property
    def node(self) -> Node:
        return _field_node(self.owner, self.py_name)


_SCALARS = (str, int, float, bool)
_SCALAR_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}


# --- from a type token to its Args class -------------------------------------------------------------------


@cache
def _provider_packages() -> dict[str, str]:
    """Pulumi package name (``azure-native``) -> installed Python package (``pulumi_azure_native``)."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules():
        if not info.name.startswith("pulumi_") or not info.ispkg:
            continue
        try:
            plugin = json.loads(resources.files(info.name).joinpath("pulumi-plugin.json").read_text())
        except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError, json.JSONDecodeError):
            continue
        if plugin.get("resource") and plugin.get("name"):
            found.setdefault(plugin["name"], info.name)
    return found


def _split_token(type_token: str) -> tuple[str, str, str]:
    parts = type_token.split(":")
    if len(parts) != 3 or not all(parts):
        raise SchemaError(f"'{type_token}' is not a Pulumi type token (package:module:Type)")
    return parts[0], parts[1], parts[2]


def _import_package(pkg: str, type_token: str) -> None:
    python_package = _provider_packages().get(pkg)
    if python_package is None:
        installed = ", ".join(sorted(_provider_packages())) or "none"
        raise SchemaError(f"{type_token}: no installed Pulumi SDK for package '{pkg}' (installed: {installed})")
    importlib.import_module(python_package)  # registers its resource modules and package


def resource_class(type_token: str) -> type:
    """The SDK class of a resource type token (``pulumi:providers:<pkg>`` gives the provider class)."""
    if type_token.startswith(PROVIDER_PREFIX):
        pkg = type_token[len(PROVIDER_PREFIX) :]
        _import_package(pkg, type_token)
        package = rpc.get_resource_package(pkg, "")
        info = getattr(package, "pkg_info", None)
        if not info:
            raise SchemaError(f"{type_token}: the '{pkg}' SDK registers no provider class")
        return getattr(importlib.import_module(info["fqn"]), info["class"])
    pkg, mod, _ = _split_token(type_token)
    _import_package(pkg, type_token)
    module = rpc.get_resource_module(pkg, mod, "")
    info = getattr(module, "mod_info", None)
    class_name = info["classes"].get(type_token) if info else None
    if class_name is None:
        raise SchemaError(f"{type_token}: not a resource type of the installed '{pkg}' SDK")
    return getattr(importlib.import_module(info["fqn"]), class_name)


@cache
def resource_args(type_token: str) -> Obj:
    """The declared inputs of a type token: the input type its ``__init__(resource_name, args, opts)`` takes."""
    cls = resource_class(type_token)
    for overload in typing.get_overloads(cls.__init__):
        args = inspect.signature(overload).parameters.get("args")
        annotation = args.annotation if args is not None else None
        for candidate in typing.get_args(annotation) or (annotation,):  # Optional[XArgs] when all are optional
            if isinstance(candidate, str | typing.ForwardRef):  # resolve a forward reference in the module
                name = candidate if isinstance(candidate, str) else candidate.__forward_arg__
                candidate = getattr(inspect.getmodule(cls), name, None)
            if inspect.isclass(candidate) and pulumi_types.is_input_type(candidate):
                return Obj(candidate)
    raise SchemaError(f"{type_token}: {cls.__module__}.{cls.__name__} declares no args input type")


# --- from an input type to its fields ---------------------------------------------------------------------


@cache
def _namespace(cls: type) -> dict[str, Any]:
    """The globals an input type's annotations are written in (its module's, and its bases' modules')."""
    globalns: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        module = inspect.getmodule(base)
        if module is not None:
            globalns.update(vars(module))
    return globalns


@cache
def _field_node(cls: type, py_name: str) -> Node:
    """The shape of one property: its getter's return annotation, resolved when first needed."""
    getter = inspect.getattr_static(cls, py_name).fget
    try:
        hint = typing.get_type_hints(getter, _namespace(cls), _LOCALNS, include_extras=True)["return"]
    except (NameError, KeyError, TypeError) as exc:
        raise SchemaError(f"{cls.__module__}.{cls.__name__}.{py_name}: unreadable annotation ({exc})") from exc
    return node(hint)


_LOCALNS = {"Output": pulumi.Output, "T": type(None)}  # how pulumi.Input's "Output[T]" reference resolves
_CONSTANT_SET = re.compile(r"""pulumi\.set\(__self__, "(\w+)", ('[^'\\]*'|"[^"\\]*")\)""")


def _constants(cls: type) -> dict[str, str]:
    """Python property name -> the string literal ``__init__`` always sets (``pulumi.set(__self__, "x", 'v')``).

    Read from the generated source lines of ``__init__`` (its code object names them), not parsed: a regex
    over a few lines is ~20x cheaper than ``inspect.getsource`` + ``ast`` for the hundreds of types a plan uses.
    """
    code = getattr(cls.__init__, "__code__", None)
    names = pulumi_types.input_type_py_to_pulumi_names(cls)
    if code is None or all(c in names for c in code.co_consts[1:] if isinstance(c, str)):
        return {}  # no string in __init__ but property names (and the docstring): no constant
    numbers = [line for _, _, line in code.co_lines() if line is not None]
    lines = linecache.getlines(code.co_filename)[code.co_firstlineno - 1 : max(numbers, default=0)]
    return {m[1]: ast.literal_eval(m[2]) for m in _CONSTANT_SET.finditer("".join(lines))}


@cache
def fields(cls: type) -> dict[str, Field]:
    """Pulumi (camelCase) name -> field, in declaration order, for an ``@pulumi.input_type`` class."""
    params = inspect.signature(cls.__init__).parameters
    required = {name for name, p in params.items() if _required(p)}
    constants = _constants(cls)
    return {
        pulumi_name: Field(cls, py_name, py_name in required, constants.get(py_name))
        for py_name, pulumi_name in pulumi_types.input_type_py_to_pulumi_names(cls).items()
    }


def _required(param: inspect.Parameter) -> bool:
    """Whether an Args ``__init__`` keyword is required: its annotation does not admit None.

    The constructor's annotation, not the getter's: a property the constructor defaults (Azure's
    ``default_action: Input[Optional['DefaultAction']] = None``, then ``'Allow'``) is optional to the SDK.
    """
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        return False
    if param.annotation is param.empty or isinstance(param.annotation, str):
        return param.default is param.empty
    return not _admits_none(param.annotation)


def _admits_none(hint: Any) -> bool:
    if hint is type(None):
        return True
    return pulumi_types._is_union_type(hint) and any(_admits_none(arg) for arg in typing.get_args(hint))


def _is_plumbing(arg: Any) -> bool:
    """Union members that are not value shapes: None, Awaitable/Output wrappers of an Input, TypedDict twins."""
    if arg is type(None) or arg is pulumi.Output or typing.get_origin(arg) is pulumi.Output:
        return True
    if isinstance(arg, typing.ForwardRef):
        return arg.__forward_arg__.startswith("Output[")
    if typing.get_origin(arg) in (abc.Awaitable, abc.Coroutine):
        return True
    return typing.is_typeddict(arg)


def _is_any_mapping(arg: Any) -> bool:
    """``Mapping[str, Any]``: the dict form ``pulumi.InputType[T]`` adds beside an input type."""
    return typing.get_origin(arg) in (dict, abc.Mapping) and typing.get_args(arg)[1:] == (Any,)


def node(hint: Any) -> Node:
    """The shape a resolved annotation admits on the wire."""
    if pulumi_types._is_union_type(hint):
        members = [arg for arg in typing.get_args(hint) if not _is_plumbing(arg)]
        if any(inspect.isclass(m) and pulumi_types.is_input_type(m) for m in members):
            members = [m for m in members if not _is_any_mapping(m)]
        enums = [m for m in members if inspect.isclass(m) and issubclass(m, enum.Enum)]
        if len(enums) == 1 and set(members) == {str, enums[0]}:
            return EnumOf(enums[0], open=True)
        if not members:
            return AnyValue()
        if len(members) == 1:
            return node(members[0])
        return OneOf(tuple(node(m) for m in members))
    origin = typing.get_origin(hint)
    if hint in (list, abc.Sequence) or origin in (list, abc.Sequence):
        args = typing.get_args(hint)
        return ListOf(node(args[0]) if args else AnyValue())
    if hint in (dict, abc.Mapping) or origin in (dict, abc.Mapping):
        args = typing.get_args(hint)
        return MapOf(node(args[1]) if len(args) == 2 else AnyValue())
    if hint in _SCALARS:
        return Scalar(hint)
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return EnumOf(hint, open=False)
    if inspect.isclass(hint) and pulumi_types.is_input_type(hint):
        return Obj(hint)
    return AnyValue()  # Any, or an annotation the SDK does not narrow


# --- checking values --------------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def describe(value: Any) -> str:
    """A short description of a JSON value for a message."""
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {json.dumps(value)}" if len(value) <= 40 else "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def expected(n: Node) -> str:
    """What a node admits, for a message."""
    if isinstance(n, Scalar):
        return _SCALAR_NAMES[n.py]
    if isinstance(n, ListOf):
        return "a list"
    if isinstance(n, MapOf):
        return "a map"
    if isinstance(n, Obj):
        return f"an object ({n.cls.__name__})"
    if isinstance(n, EnumOf):
        return f"one of {n.cls.__name__}"
    if isinstance(n, OneOf):
        return " or ".join(expected(m) for m in n.members)
    return "any value"


def _scalar_ok(value: Any, py: type, lenient: bool) -> bool:
    if lenient and isinstance(value, str) and py is not str:
        # Provider configuration travels as strings ("true", "3"): the SDK JSON-encodes non-string values.
        try:
            value = json.loads(value)
        except ValueError:
            return False
    if py is bool:
        return isinstance(value, bool)
    if py is int:
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if py is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _allowed(names: Iterable[str]) -> str:
    listed = list(names)
    more = len(listed) - _MAX_LISTED
    text = ", ".join(listed[:_MAX_LISTED])
    return f"{text}, ... ({more} more)" if more > 0 else text


def _suggestion(key: str, names: list[str]) -> str | None:
    """The declared name a misspelt or snake_case key most likely meant."""
    folded = {n.replace("_", "").lower(): n for n in names}
    if key.replace("_", "").lower() in folded:
        return folded[key.replace("_", "").lower()]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    return close[0] if close else None


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and value in PLACEHOLDERS


class _Checker:
    def __init__(self, lenient_scalars: bool, strict_enums: bool) -> None:
        self.lenient_scalars = lenient_scalars  # provider configuration: non-string scalars arrive as strings
        self.strict_enums = strict_enums

    def check(self, value: Any, n: Node, path: str) -> list[Problem]:
        if value is None or _placeholder(value) or isinstance(n, AnyValue):
            return []
        if isinstance(n, Scalar):
            if _scalar_ok(value, n.py, self.lenient_scalars):
                return []
            return [Problem(path, "type", f"expected {expected(n)}, got {describe(value)}")]
        if isinstance(n, EnumOf):
            return self._enum(value, n, path)
        if isinstance(n, ListOf):
            if not isinstance(value, list | tuple):
                return [Problem(path, "type", f"expected a list, got {describe(value)}")]
            return [p for i, item in enumerate(value) for p in self.check(item, n.item, f"{path}[{i}]")]
        if isinstance(n, MapOf):
            if not isinstance(value, Mapping):
                return [Problem(path, "type", f"expected a map, got {describe(value)}")]
            return [p for k, v in value.items() for p in self.check(v, n.value, _join(path, str(k)))]
        if isinstance(n, Obj):
            return self.object(value, n.cls, path)
        return self._union(value, n, path)

    def object(self, value: Any, cls: type, path: str) -> list[Problem]:
        if not isinstance(value, Mapping):
            return [Problem(path, "type", f"expected an object ({cls.__name__}), got {describe(value)}")]
        declared = fields(cls)
        problems: list[Problem] = []
        meant: set[str] = set()  # declared names an unknown key was taken for: not reported missing again
        for key, item in value.items():
            where = _join(path, str(key))
            field = declared.get(key)
            if field is None:
                hint = _suggestion(str(key), list(declared))
                mean = f" (did you mean {hint}?)" if hint else ""
                meant.add(hint or "")
                problems.append(Problem(where, "unknown-property", f"unknown property{mean}; allowed: "
                                        f"{_allowed(declared) or 'none'}"))  # fmt: skip
            elif field.const is not None and item is not None and item != field.const and not _placeholder(item):
                problems.append(Problem(where, "constant", f"must be {json.dumps(field.const)}, got {describe(item)}"))
            else:
                problems.extend(self.check(item, field.node, where))
        for name, field in declared.items():
            if field.required and value.get(name) is None and name not in meant:
                const = f" (always {json.dumps(field.const)})" if field.const is not None else ""
                problems.append(Problem(_join(path, name), "missing-required", f"required property missing{const}"))
        return problems

    def _enum(self, value: Any, n: EnumOf, path: str) -> list[Problem]:
        values = [m.value for m in n.cls]
        if any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in values):
            return []
        if n.open and not isinstance(value, str):
            return [Problem(path, "type", f"expected a string ({n.cls.__name__}), got {describe(value)}")]
        if n.open and not self.strict_enums:
            return []
        if n.open:
            return [Problem(path, "open-enum", f"{describe(value)} is not a known {n.cls.__name__} value (the SDK "
                            f"also takes other strings); known: {_allowed(map(str, values))}")]  # fmt: skip
        return [Problem(path, "enum", f"{describe(value)} is not a {n.cls.__name__} value; allowed: "
                        f"{_allowed(map(str, values))}")]  # fmt: skip

    def _union(self, value: Any, n: OneOf, path: str) -> list[Problem]:
        results: list[tuple[Node, list[Problem]]] = []
        for member in n.members:
            problems = self.check(value, member, path)
            if not problems:
                return []
            results.append((member, problems))
        objects = [m for m in n.members if isinstance(m, Obj)]
        if isinstance(value, Mapping) and objects:
            matching = [(m, p) for m, p in results if isinstance(m, Obj) and _constants_match(m.cls, value)]
            if len(matching) == 1:
                return matching[0][1]
            discriminator = _discriminator(objects)
            if discriminator is not None and not matching:
                allowed = sorted({fields(o.cls)[discriminator].const or "" for o in objects})
                where = _join(path, discriminator)
                got = value.get(discriminator)
                if got is None:
                    return [
                        Problem(where, "missing-required", f"required property missing; one of: {_allowed(allowed)}")
                    ]
                return [Problem(where, "constant", f"{describe(got)} is not one of: {_allowed(allowed)}")]
        if all(len(p) == 1 and p[0].path == path and p[0].kind == "type" for _, p in results):
            return [Problem(path, "type", f"expected {expected(n)}, got {describe(value)}")]
        return min(results, key=lambda mp: len(mp[1]))[1]


def _constants_match(cls: type, value: Mapping[str, Any]) -> bool:
    consts = {name: f.const for name, f in fields(cls).items() if f.const is not None}
    return bool(consts) and all(value.get(name) in (const, *PLACEHOLDERS) for name, const in consts.items())


def _discriminator(objects: list[Obj]) -> str | None:
    """A constant property every object member of a union declares (Azure's ``name`` / ``odataType``)."""
    common: set[str] | None = None
    for o in objects:
        names = {name for name, f in fields(o.cls).items() if f.const is not None}
        common = names if common is None else common & names
    return min(common) if common else None


# --- entry points -----------------------------------------------------------------------------------------


def skip_reason(resource: Mapping[str, Any]) -> str | None:
    """Why a planned resource has no SDK input type to check, or None when it has one."""
    token = resource.get("type", "")
    if token.startswith(DYNAMIC_PREFIX):
        return "dynamic resource: its inputs are the provider's own, not a schema's"
    if not resource.get("custom", True):
        return "component resource: it sends no inputs to a provider"
    return None


def check_inputs(type_token: str, inputs: Mapping[str, Any], *, strict_enums: bool = False) -> list[Problem]:
    """The problems of ``inputs`` (camelCase, as sent) against the SDK's declared input types for the token.

    An open enum (``Union[str, SomeEnum]``) takes any string, as the SDK does; ``strict_enums`` also reports
    a string that is not one of its members (kind ``open-enum``): for stacks whose values should all be known.
    """
    try:
        args = resource_args(type_token)
        checker = _Checker(lenient_scalars=type_token.startswith(PROVIDER_PREFIX), strict_enums=strict_enums)
        return checker.object(inputs, args.cls, "")
    except SchemaError as exc:
        return [Problem("", "unknown-type", str(exc))]


def check_graph(graph: Mapping[str, Any], *, strict_enums: bool = False) -> list[Finding]:
    """The problems of every checkable resource in a planned graph (dynamic and component resources skipped)."""
    return [
        Finding(r.get("urn", ""), r["type"], r.get("name", ""), problem)
        for r in graph.get("resources", [])
        if skip_reason(r) is None
        for problem in check_inputs(r["type"], r.get("inputs") or {}, strict_enums=strict_enums)
    ]
