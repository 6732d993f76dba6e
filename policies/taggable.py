"""Which resource types take tags or labels, read from the installed provider SDKs (authoritative per
version).

AWS and Azure resources take ``tags``; GCP resources take ``labels`` (GCP ``tags`` are Resource Manager tag
bindings, not labels). A few types keep their labels in a nested input. The SDK class of a type token is found
through the resource-module registry every provider package fills when imported, so no list goes stale.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache

# type token -> input path of its labels when not ``labels`` (Cloud Monitoring's ``labels`` configure a
# notification channel, its resource labels are ``user_labels``)
NESTED_LABELS: dict[str, str] = {
    "gcp:sql/databaseInstance:DatabaseInstance": "settings.userLabels",
    **dict.fromkeys((
        "gcp:monitoring/notificationChannel:NotificationChannel", "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig", "gcp:monitoring/customService:CustomService",
        "gcp:monitoring/genericService:GenericService", "gcp:monitoring/slo:Slo",
    ), "userLabels"),
}  # fmt: skip
TAG_PARAM = {"aws": "tags", "azure-native": "tags", "gcp": "labels"}


@cache
def tag_path(type_token: str) -> str | None:
    """The input path that holds ``type_token``'s tags/labels, or None when the type takes none."""
    if type_token in NESTED_LABELS:
        return NESTED_LABELS[type_token]
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] not in TAG_PARAM:
        return None
    cls = _resource_class(parts[0], parts[1], type_token)
    if cls is None:
        return None
    param = TAG_PARAM[parts[0]]
    try:
        params = inspect.signature(cls._internal_init).parameters
    except (AttributeError, TypeError, ValueError):
        return None
    return param if param in params else None


def _resource_class(package: str, module: str, type_token: str) -> type | None:
    from pulumi.runtime import rpc

    try:
        importlib.import_module("pulumi_" + package.replace("-", "_"))
    except ImportError:
        return None
    registered = rpc.get_resource_module(package, module, "")
    info = getattr(registered, "mod_info", None)
    if not info or type_token not in info.get("classes", {}):
        return None
    try:
        return getattr(importlib.import_module(info["fqn"]), info["classes"][type_token])
    except (ImportError, AttributeError):
        return None
