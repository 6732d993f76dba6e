"""The local target: secrets stay in a private file, data services listen on the loopback only.

The local components are Pulumi dynamic resources (``pulumi-python:dynamic/mbops:<Name>``). Their providers
write the secrets file 0600 in a 0700 folder and bind PostgreSQL and Redis to 127.0.0.1; these rules check the
inputs a stack can change (the file's path and values, any host/bind input) and, because the local target is
this machine, the file system the secrets file lands on.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mbops.policies.model import Context, Resource, Rule, unverified
from mbops.policies.values import SECRET, get, known, number

SECRETS_FILE = "pulumi-python:dynamic/mbops:SecretsFile"
DATA_SERVICES = ("pulumi-python:dynamic/mbops:PostgresCluster", "pulumi-python:dynamic/mbops:RedisServer")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "[::1]"})
BIND_INPUTS = ("host", "bind", "listen", "listen_addresses", "listen_address")


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


def _mode(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip(), 8)
    parsed = number(value)
    return int(parsed) if parsed is not None else None


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def _secrets_file(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    values = get(inputs, "values")
    if ctx.secrets_visible and values not in (None, SECRET):  # a secret is "[secret]" even when computed
        yield (
            "values is not a Pulumi secret: the app's secrets would be stored in plaintext in the stack "
            "state"
        )
    raw_mode = get(inputs, "mode")
    mode = _mode(raw_mode)
    if not known(raw_mode):
        yield unverified("mode")
    elif mode is not None and mode & 0o077:
        yield f"mode is {mode:04o}; the secrets file must be 0600 (owner only)"
    path = get(inputs, "path")
    if not isinstance(path, str) or not known(path):
        return
    target = Path(path).expanduser()
    if target.is_file() and target.stat().st_mode & 0o077:
        yield f"{target} exists with mode {stat.S_IMODE(target.stat().st_mode):04o}; it must be 0600"
    folder = _nearest_existing(target.parent)
    if folder is not None and folder.stat().st_mode & 0o002:
        yield (
            f"{target} would live under {folder}, which every user can write to (they could plant or swap "
            f"it)"
        )


SECRETS_FILE_PRIVATE = Rule(
    id="local-secrets-file-private",
    title="Local secrets file private (0600)",
    severity="high",
    enforcement="mandatory",
    description="On the local target the secret store is a JSON file only its owner can read: mode 0600 in a "
    "private folder, never under a world-writable directory such as /tmp, and its values are Pulumi secrets "
    "so "
    "the stack state never holds them in plaintext.",
    remediation="Keep the secrets file in the stack's state folder (drop "
                "components.secrets.overrides.file.path) "
    "and its values as pulumi.Output.secret(...).",
    clouds=("local",),
    checks={SECRETS_FILE: _secrets_file},
)


def _loopback(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    for key in BIND_INPUTS:
        value = get(inputs, key)
        if value is None:
            continue
        if not known(value):
            yield unverified(key)
            continue
        hosts = [h.strip() for h in str(value).replace(",", " ").split()]
        exposed = [h for h in hosts if h not in LOOPBACK_HOSTS and not h.startswith("/")]
        if exposed:
            yield f"{key} is {value!r}: the service would accept connections from other machines"


SERVICES_LOOPBACK = Rule(
    id="local-services-loopback",
    title="Local database and cache on the loopback only",
    severity="high",
    enforcement="mandatory",
    description="On the local target PostgreSQL and Redis listen on 127.0.0.1 (and a private unix socket) "
                "only, "
    "never on an address other machines on the network can reach.",
    remediation="Remove the host/bind override from components.database / components.cache; the local "
                "providers "
    "bind to 127.0.0.1.",
    clouds=("local",),
    checks=dict.fromkeys(DATA_SERVICES, _loopback),
)

RULES = [SECRETS_FILE_PRIVATE, SERVICES_LOOPBACK]
