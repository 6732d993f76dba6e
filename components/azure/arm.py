"""Steps ARM has no resource for, as Pulumi dynamic resources run by the deploying program.

- ``RbacWait``: Azure role assignments take effect after a delay (usually under two minutes, documented as
  up to ten). A Container App whose Key Vault references or registry pull run before the app identity's
  roles have propagated fails its first revision, so the app waits on this resource, which sleeps once
  after the assignments it names were created (and again only when they are replaced). pulumi-time's
  ``Sleep`` would do the same, but it is another provider plugin to install for one timer.
- ``PrivateLinkApproval``: Front Door Premium reaches a private origin (Container Apps environment, Private
  Link Service, storage account) through a private endpoint it creates in Microsoft's subscription; the
  connection arrives *Pending* at the origin and carries no traffic until the origin's owner approves it.
  This resource waits for the pending connection whose request message Front Door sent and approves it with
  the deployer's own ARM token (``authorization.get_client_token``, a Pulumi secret, never an output).

Both run wherever the program runs: the Pulumi CLI's Python dynamic provider host, or the embedded planner
(which only plans them). ``MBOPS_ARM_ENDPOINT`` points the approval at another ARM endpoint (sovereign
clouds, tests).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

RBAC_WAIT_S = 90
APPROVAL_TIMEOUT_S = 1200
POLL_S = 15
# Private endpoint connection API versions of the origins Front Door reaches over Private Link.
CONNECTION_API = {
    "Microsoft.App/managedEnvironments": "2025-02-02-preview",
    "Microsoft.Network/privateLinkServices": "2024-05-01",
    "Microsoft.Storage/storageAccounts": "2024-01-01",
}


def arm_token(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The deployer's ARM access token (the credentials the azure-native provider uses), as a secret."""
    from pulumi_azure_native import authorization

    token = authorization.get_client_token_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return pulumi.Output.secret(token.token)


class RbacWaitProvider(ResourceProvider):
    """Sleeps ``seconds`` on create, and again when the role assignments it follows change."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["seconds"]))
        return CreateResult(uuid.uuid4().hex, dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("assignments") != news.get("assignments")
        return DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        time.sleep(float(news["seconds"]))
        return UpdateResult(dict(news))


class RbacWait(Resource, module="mbops", name="RbacWait"):
    """Done ``seconds`` after the role assignments in ``assignments`` exist (make the app depend on it)."""

    def __init__(
        self, name: str, assignments: Sequence[pulumi.Resource], *, seconds: int = RBAC_WAIT_S,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        ids = [a.id for a in assignments]  # type: ignore[attr-defined]
        props = {"assignments": ids, "seconds": seconds}
        super().__init__(
            RbacWaitProvider(), name, props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                depends_on=list(assignments))),
        )  # fmt: skip


def _arm(method: str, path: str, token: str, api_version: str, body: dict[str, Any] | None = None) -> Any:
    base = os.environ.get("MBOPS_ARM_ENDPOINT", "https://management.azure.com").rstrip("/")
    request = urllib.request.Request(
        f"{base}{path}?api-version={api_version}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise RuntimeError(f"ARM {method} {path}: HTTP {exc.code}: {detail}") from None
    return json.loads(text) if text else {}


def approve_connection(props: dict[str, Any]) -> str:
    """Approve the pending private endpoint connection on ``target_id`` whose description is ``message``;
    return its id. Already approved (a re-run) counts; nothing pending within ``timeout_s`` is an error."""
    target, message, token = props["target_id"], props["request_message"], props["token"]
    api = props["api_version"]
    deadline = time.monotonic() + float(props.get("timeout_s") or APPROVAL_TIMEOUT_S)
    while True:
        connections = _arm("GET", f"{target}/privateEndpointConnections", token, api).get("value", [])
        for connection in connections:
            state = connection.get("properties", {}).get("privateLinkServiceConnectionState", {})
            description = state.get("description") or ""
            if state.get("status") == "Approved" and message in description:
                return connection["id"]
            if state.get("status") == "Pending" and description == message:
                body = {"properties": {"privateLinkServiceConnectionState": {
                    "status": "Approved", "description": f"{message} (approved by mbops)", "actionsRequired": "None",
                }}}  # fmt: skip
                _arm("PUT", connection["id"], token, api, body)
                return connection["id"]
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"Front Door's private endpoint connection to {target} did not arrive (no pending connection with "
                f"the request message {message!r}); approve it by hand: az network private-endpoint-connection "
                f"approve --id <connection id> (list them with: az network private-endpoint-connection list "
                f"--id {target})"
            )
        time.sleep(float(props.get("poll_s") or POLL_S))


class PrivateLinkApprovalProvider(ResourceProvider):
    """Approves on create; a new target or message is a new approval; deleting leaves the connection to the
    origin's owner (Front Door removes its endpoint with the origin)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        connection = approve_connection(props)
        return CreateResult(connection, {**_public(props), "connection_id": connection})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("target_id", "request_message") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=False)


def _public(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "token"}


class PrivateLinkApproval(Resource, module="mbops", name="PrivateLinkApproval"):
    """The approved Private Link connection from Front Door to ``target_id`` (``connection_id``)."""

    connection_id: pulumi.Output[str]

    def __init__(
        self, name: str, *, target_id: pulumi.Input[str], target_type: str, request_message: str,
        token: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props = {
            "target_id": target_id, "api_version": CONNECTION_API[target_type], "request_message": request_message,
            "token": pulumi.Output.secret(token), "timeout_s": APPROVAL_TIMEOUT_S, "poll_s": POLL_S,
            "connection_id": None,
        }  # fmt: skip
        super().__init__(PrivateLinkApprovalProvider(), name, props, opts)
