"""No credentials in plaintext: not in app environment variables, VM user data, or unmarked stack outputs."""

from __future__ import annotations

import base64
import binascii
import gzip
import re
from collections.abc import Iterator
from typing import Any

from mbops.policies.credentials import (
    credential_shape,
    plaintext_credential,
    secret_like_name,
    typed_secret,
)
from mbops.policies.model import Check, Context, Graph, Resource, Rule
from mbops.policies.values import SECRET, UNKNOWN, document, get, items, known

SCRIPT_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]*)=(['\"]?)([^\s'\"$`][^\s'\"]*)\2")


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- env var sources per resource type ----------------------------------------------------------------------
def _pairs(entries: Any, value_key: str = "value") -> Iterator[tuple[str, Any]]:
    """(name, literal value) of env entries that carry a value (secret references have none)."""
    for entry in items(entries):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and value_key in entry:
            yield entry["name"], entry[value_key]


def _mapping(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        yield from ((str(k), v) for k, v in value.items())


def _lambda_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    yield from _mapping(get(inputs, "environment.variables"))


def _ecs_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    for container in items(document(get(inputs, "containerDefinitions"))):
        yield from _pairs(get(container, "environment"))


def _cloud_run_v2_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    for container in items(get(inputs, "template.containers")) + items(
        get(inputs, "template.template.containers")
    ):
        yield from _pairs(get(container, "envs"))


def _cloud_run_v1_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    for container in items(get(inputs, "template.spec.containers")):
        yield from _pairs(get(container, "envs"))


def _cloud_function_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    yield from _mapping(get(inputs, "serviceConfig.environmentVariables"))


def _container_app_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    for key in ("template.containers", "template.initContainers"):
        for container in items(get(inputs, key)):
            yield from _pairs(get(container, "env"))


def _web_app_env(inputs: dict) -> Iterator[tuple[str, Any]]:
    yield from _pairs(get(inputs, "siteConfig.appSettings"))


ENV_SOURCES = {
    "aws:lambda/function:Function": _lambda_env,
    "aws:ecs/taskDefinition:TaskDefinition": _ecs_env,
    "gcp:cloudrunv2/service:Service": _cloud_run_v2_env,
    "gcp:cloudrunv2/job:Job": _cloud_run_v2_env,
    "gcp:cloudrun/service:Service": _cloud_run_v1_env,
    "gcp:cloudfunctionsv2/function:Function": _cloud_function_env,
    "azure-native:app:ContainerApp": _container_app_env,
    "azure-native:app:Job": _container_app_env,
    "azure-native:web:WebApp": _web_app_env,
    "pulumi-python:dynamic/mbops:AppProcess": lambda inputs: _mapping(get(inputs, "env")),
}


def _env_check(res: Resource, ctx: Context) -> Iterator[str]:
    source = ENV_SOURCES[res["type"]]
    for name, value in source(_inputs(res)):
        if value is not None and ctx.app_env.get(name) == value:
            continue  # the stack file's app.env: reported once, on the stack (see _app_env)
        problem = plaintext_credential(name, value, secrets_visible=ctx.secrets_visible)
        if problem:
            yield f"environment variable {problem}"


def _app_env(ctx: Context) -> Iterator[str]:
    """The stack file's ``app.env``, judged where it is written: container definitions and user data are often
    known only at deploy time, the stack file never is."""
    for name, value in sorted(ctx.app_env.items()):
        why = typed_secret(name, value) if isinstance(value, str) else None
        if why:
            yield (
                f"app.env.{name} {why}: app.env is plaintext (in the plan, the state and the cloud console); "
                f"move it to app.secret_env ({name}: env:<VARIABLE>) so it is kept in the secret store"
            )


# --- VM user data / startup scripts -------------------------------------------------------------------------
def decode_script(value: str) -> str:
    """User data as text: base64 and gzip are undone when present."""
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return value
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return value


def script_problems(label: str, value: Any, ctx: Context) -> Iterator[str]:
    if not isinstance(value, str) or not known(value) or not value:
        return
    if value == SECRET:
        if ctx.secrets_visible:
            yield (
                f"{label} is a Pulumi secret: whatever it holds is readable from the instance metadata and "
                f"console"
            )
        return
    text = decode_script(value)
    for literal in {v for v in ctx.app_env.values() if v}:  # the stack file's app.env: reported on the stack
        text = text.replace(literal, "")
    shape = credential_shape(text)
    if shape:
        yield f"{label} contains {shape}"
    for name, _, literal in SCRIPT_ASSIGNMENT.findall(text):
        if secret_like_name(name) and not _reference(literal):
            yield f"{label} sets {name} to a literal value; fetch it from the secret store at boot instead"


def _reference(value: str) -> bool:
    """A secret store reference (an ARN, a Secret Manager or Key Vault name, a value known at deploy), not a value."""
    return value == UNKNOWN or value.startswith(("arn:", "projects/", "https://")) and "@" not in value


def _user_data(*paths: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        inputs = _inputs(res)
        for path in paths:
            yield from script_problems(path, get(inputs, path), ctx)

    return check


def _gcp_metadata(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    metadata = get(inputs, "metadata")
    for key, value in metadata.items() if isinstance(metadata, dict) else []:
        yield from script_problems(f"metadata.{key}", value, ctx)
    yield from script_problems("metadataStartupScript", get(inputs, "metadataStartupScript"), ctx)


USER_DATA_CHECKS = {
    "aws:ec2/launchTemplate:LaunchTemplate": _user_data("userData"),
    "aws:ec2/instance:Instance": _user_data("userData", "userDataBase64"),
    "gcp:compute/instanceTemplate:InstanceTemplate": _gcp_metadata,
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": _gcp_metadata,
    "gcp:compute/instance:Instance": _gcp_metadata,
    "azure-native:compute:VirtualMachineScaleSet": _user_data(
        "virtualMachineProfile.osProfile.customData", "virtualMachineProfile.userData"
    ),
    "azure-native:compute:VirtualMachine": _user_data("osProfile.customData", "userData"),
}


PLAINTEXT_SECRETS = Rule(
    id="secrets-not-in-plaintext",
    title="No credentials in plaintext env vars or user data",
    severity="high",
    enforcement="mandatory",
    description="Credentials reach the app through the cloud secret store, never as plain settings. The stack "
    "file's app.env holds no credential (a name with PASSWORD, SECRET, TOKEN or KEY; a value that is an AWS key, "
    "a private key, a URL or connection string with a password, a JWT, an API token or a long random string). "
    "Env vars of the planned resources whose name says credential, DATABASE_URL, or whose value is one or a "
    "Pulumi secret, must be secret references (ECS secrets, Cloud Run secret_key_ref, Container Apps "
    "secretRef, Key Vault references). VM user data and startup scripts fetch secrets at boot instead of "
    "embedding them.",
    remediation={
        "aws": "Use the task definition's `secrets` (valueFrom = Secrets Manager ARN) or read the secret at "
               "start; "
        "put secret values in app.secret_env, never in app.env.",
        "gcp": "Use env value_source.secret_key_ref (Secret Manager); put secret values in app.secret_env.",
        "azure": "Use a Container Apps secret (Key Vault reference) and env secret_ref; put secret values in "
        "app.secret_env.",
        "local": "Put secret values in app.secret_env: the local app reads them from the 0600 secrets file.",
    },
    clouds=("aws", "gcp", "azure", "local"),
    controls={"aws:ecs/taskDefinition:TaskDefinition": "AWS FSBP ECS.8", "azure": "MCSB IM-8"},
    checks={**dict.fromkeys(ENV_SOURCES, _env_check), **USER_DATA_CHECKS},
    stack_check=_app_env,
)


# --- secret-outputs-marked ----------------------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _outputs(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    if not ctx.secrets_visible:
        return  # CrossGuard sees revealed values: it cannot tell a marked secret from plaintext
    for key, value in graph.outputs.items():
        if value in (None, "", SECRET):
            continue
        if secret_like_name(key):
            yield None, f"output {key} looks like a credential but is not a Pulumi secret"
        else:
            shape = next(filter(None, map(credential_shape, _strings(value))), None)
            if shape:
                yield None, f"output {key} holds {shape}"


SECRET_OUTPUTS = Rule(
    id="secret-outputs-marked",
    title="Secret stack outputs are Pulumi secrets",
    severity="high",
    enforcement="mandatory",
    description="A stack output whose name says it is a credential (password, secret, token, key, connection "
    "string, DATABASE_URL) is exported as a Pulumi secret, so `pulumi stack output` and state files never "
    "show "
    "it in plaintext. Checked on planned graphs (CrossGuard sees outputs with secrets already revealed).",
    remediation="Export it with pulumi.Output.secret(value) — or better, export the secret store's name/ARN "
                "instead "
    "of the value.",
    clouds=("aws", "gcp", "azure", "local"),
    graph_check=_outputs,
)

RULES = [PLAINTEXT_SECRETS, SECRET_OUTPUTS]
