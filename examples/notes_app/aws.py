"""AWS: the app's boto3 clients, and its secrets on Lambda.

boto3 is imported only by what needs it. Clients take the region from ``AWS_REGION`` (which Lambda and ECS
set, and which botocore itself does not read) or botocore's own chain (``AWS_DEFAULT_REGION``, config files),
the endpoint from ``AWS_ENDPOINT_URL`` when set, and the credentials from the usual chain (the role).

Secrets on Lambda: ``<NAME>_SECRET_ARN`` in the environment becomes ``NAME`` with the secret's value.

Lambda has no secret injection (ECS, Cloud Run and Container Apps put secret values into the environment), so
mbops gives the function the ARN of each secret (``DATABASE_URL_SECRET_ARN``, ``REDIS_URL_SECRET_ARN``, the
stack's ``app.secret_env``) and the function role may read exactly those. They are read once, at cold start,
before the configuration is parsed; boto3 is imported only when there is one to read.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from typing import Any

SECRET_ARN = re.compile(r"(?P<name>[A-Z][A-Z0-9_]*)_SECRET_ARN")
ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:.+")


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for ``service`` with bounded timeouts and standard retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    region = region or os.environ.get("AWS_REGION", "").strip() or None
    return boto3.session.Session().client(service, region_name=region, config=config)


class SecretError(Exception):
    """A secret could not be read; ``config`` is True when the environment itself is wrong (exit 2)."""

    def __init__(self, message: str, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


def wanted(env: MutableMapping[str, str]) -> dict[str, str]:
    """``NAME -> ARN`` for every ``<NAME>_SECRET_ARN`` set in ``env``."""
    found = {}
    for key, value in env.items():
        match = SECRET_ARN.fullmatch(key)
        if match and value.strip():
            found[match["name"]] = value.strip()
    return found


def resolve(env: MutableMapping[str, str] = os.environ) -> list[str]:
    """Read each ``<NAME>_SECRET_ARN`` from Secrets Manager into ``env[NAME]``; return the names, sorted.

    The client's region is the secret's own (from its ARN); ``AWS_ENDPOINT_URL`` and the credentials come from
    the environment as boto3 reads them (on Lambda: the function role). Raises :class:`SecretError`.
    """
    arns = wanted(env)
    if not arns:
        return []
    for name, arn in sorted(arns.items()):
        if env.get(name, "").strip():
            raise SecretError(f"both {name} and {name}_SECRET_ARN are set: keep one", config=True)
        if not ARN.fullmatch(arn):
            raise SecretError(
                f"{name}_SECRET_ARN must be a Secrets Manager ARN "
                f"(arn:aws:secretsmanager:<region>:<account>:secret:<name>), got {arn!r}",
                config=True,
            )
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise SecretError(f"{', '.join(sorted(arns))}: reading secrets needs boto3: {exc}") from exc

    clients: dict[str, Any] = {}
    for name, arn in sorted(arns.items()):
        region = ARN.fullmatch(arn)["region"]  # type: ignore[index]
        secrets = clients.get(region) or clients.setdefault(region, client("secretsmanager", region))
        try:
            answer = secrets.get_secret_value(SecretId=arn)
        except (BotoCoreError, ClientError) as exc:
            raise SecretError(f"cannot read {name} from Secrets Manager ({arn}): {exc}") from exc
        value = answer.get("SecretString")
        if value is None:
            try:
                value = answer["SecretBinary"].decode("utf-8")
            except UnicodeDecodeError:
                raise SecretError(f"secret {arn} ({name}) is binary, not text") from None
        env[name] = value
    return sorted(arns)
