"""Steps ARM has no resource for, as Pulumi dynamic resources run by the deploying program.

- ``RbacWait``: Azure role assignments take effect after a delay (usually under two minutes, documented as
  up to ten). A Container App whose Key Vault references or registry pull run before the app identity's
  roles have propagated fails its first revision, so the app waits on this resource, which sleeps once
  after the assignments it names were created (and again only when they are replaced). pulumi-time's
  ``Sleep`` would do the same, but it is another provider plugin to install for one timer.
- ``PrivateLinkApproval``: Front Door Premium reaches a private origin (Container Apps environment, Private
  Link Service, storage account) through a private endpoint it creates in Microsoft's subscription; the
  connection arrives *Pending* at the origin and carries no traffic until the origin's owner approves it.
  This resource waits for the pending connection whose request message Front Door sent - a message with a
  random per-deployment nonce (``request_message``), so a connection someone else requests cannot pass for
  Front Door's without knowing it - and approves it with the deployer's own ARM token
  (``authorization.get_client_token``, a Pulumi secret, never an output), fetched only once the origin exists
  so it is fresh when the wait starts (long creations before it would expire a token read at program start).
  More than one pending connection with the message is refused, never guessed between; the approved
  connection and its private endpoint are recorded (``connection_id``, ``endpoint_id``).
- ``JobRun``: starts a Container Apps job once (per change of its ``run_key``) and waits for the execution to
  succeed, so resources that depend on it (the app) start only after it did its work.
- ``AdminPassword``: sets a PostgreSQL Flexible Server's admin password (PATCH) and waits until the server is
  ready. For a server taken back with ``adopt:``: ARM never returns the password, so the import ignores it
  (``ignore_changes``) and this sets the stack's own, the one its database URLs carry.

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
JOB_TIMEOUT_S = 1800
POLL_S = 15
JOB_API = "2024-03-01"  # Microsoft.App jobs: start, executions
SERVER_API = "2025-08-01"  # Microsoft.DBforPostgreSQL/flexibleServers (the azure-native Server's API version)
SERVER_TIMEOUT_S = 1200
# Private endpoint connection API versions of the origins Front Door reaches over Private Link.
CONNECTION_API = {
    "Microsoft.App/managedEnvironments": "2025-02-02-preview",
    "Microsoft.Network/privateLinkServices": "2024-05-01",
    "Microsoft.Storage/storageAccounts": "2024-01-01",
}


def arm_token(parent: pulumi.Resource, *, after: Sequence[pulumi.Resource] = ()) -> pulumi.Output[str]:
    """The deployer's ARM access token (the credentials the azure-native provider uses), as a secret, read once
    ``after`` exist (the resources the token's user waits on), so it has its full lifetime when used."""
    from pulumi_azure_native import authorization

    options = pulumi.InvokeOutputOptions(parent=parent, depends_on=list(after))
    return pulumi.Output.secret(authorization.get_client_token_output(opts=options).token)


def request_message(parent: pulumi.Resource, name: str, text: str) -> pulumi.Output[str]:
    """``text`` with a random nonce drawn once per deployment (the RandomString ``name``, a child of ``parent``)."""
    import pulumi_random as random

    nonce = random.RandomString(
        name, length=16, special=False, upper=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.Output.concat(text, " (", nonce.result, ")")


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


def approve_connection(props: dict[str, Any]) -> dict[str, str]:
    """Approve the one pending private endpoint connection on ``target_id`` whose description is ``message``;
    return its ``connection_id`` and ``endpoint_id``. Already approved (a re-run) counts; none within
    ``timeout_s``, or more than one pending with that message, is an error."""
    target, message, token = props["target_id"], props["request_message"], props["token"]
    api = props["api_version"]
    deadline = time.monotonic() + float(props.get("timeout_s") or APPROVAL_TIMEOUT_S)
    while True:
        connections = _arm("GET", f"{target}/privateEndpointConnections", token, api).get("value", [])
        approved, pending = [], []
        for connection in connections:
            state = connection.get("properties", {}).get("privateLinkServiceConnectionState", {})
            description = state.get("description") or ""
            if state.get("status") == "Approved" and description == f"{message} (approved by mbops)":
                approved.append(connection)
            elif state.get("status") == "Pending" and description == message:
                pending.append(connection)
        if len(pending) > 1 or (pending and approved):
            ids = ", ".join(c["id"] for c in pending + approved)
            raise RuntimeError(
                f"more than one private endpoint connection to {target} carries Front Door's request message "
                f"{message!r} ({ids}); mbops approves none of them: check which endpoint is Front Door's "
                "(az network private-endpoint-connection show --id <id>) and approve it by hand"
            )
        if approved:
            return _recorded(approved[0])
        if pending:
            body = {"properties": {"privateLinkServiceConnectionState": {
                "status": "Approved", "description": f"{message} (approved by mbops)", "actionsRequired": "None",
            }}}  # fmt: skip
            _arm("PUT", pending[0]["id"], token, api, body)
            return _recorded(pending[0])
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"Front Door's private endpoint connection to {target} did not arrive (no pending connection with "
                f"the request message {message!r}); approve it by hand: az network private-endpoint-connection "
                f"approve --id <connection id> (list them with: az network private-endpoint-connection list "
                f"--id {target})"
            )
        time.sleep(float(props.get("poll_s") or POLL_S))


def _recorded(connection: dict[str, Any]) -> dict[str, str]:
    endpoint = connection.get("properties", {}).get("privateEndpoint", {}).get("id") or ""
    return {"connection_id": connection["id"], "endpoint_id": endpoint}


class PrivateLinkApprovalProvider(ResourceProvider):
    """Approves on create; a new target or message is a new approval; deleting leaves the connection to the
    origin's owner (Front Door removes its endpoint with the origin)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        approved = approve_connection(props)
        return CreateResult(approved["connection_id"], {**_public(props), **approved})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("target_id", "request_message") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=False)


def _public(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "token"}


class PrivateLinkApproval(Resource, module="mbops", name="PrivateLinkApproval"):
    """The approved Private Link connection from Front Door to ``target_id`` (``connection_id``) and the private
    endpoint it came from (``endpoint_id``)."""

    connection_id: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]

    def __init__(
        self, name: str, *, target_id: pulumi.Input[str], target_type: str, request_message: pulumi.Input[str],
        token: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props = {
            "target_id": target_id, "api_version": CONNECTION_API[target_type], "request_message": request_message,
            "token": pulumi.Output.secret(token), "timeout_s": APPROVAL_TIMEOUT_S, "poll_s": POLL_S,
            "connection_id": None, "endpoint_id": None,
        }  # fmt: skip
        super().__init__(PrivateLinkApprovalProvider(), name, props, opts)


def run_job(props: dict[str, Any]) -> str:
    """Start the Container Apps job ``job_id`` and wait until the execution succeeds; return its name."""
    job, token = props["job_id"], props["token"]
    started = _arm("POST", f"{job}/start", token, JOB_API, {})
    execution = started.get("name") or str(started.get("id", "")).rsplit("/", 1)[-1]
    if not execution:
        raise RuntimeError(f"ARM POST {job}/start: no execution in the answer: {started}")
    deadline = time.monotonic() + float(props.get("timeout_s") or JOB_TIMEOUT_S)
    while True:
        status = _arm("GET", f"{job}/executions/{execution}", token, JOB_API).get("properties", {}).get("status")
        if status == "Succeeded":
            return execution
        if status in ("Failed", "Stopped", "Degraded") or time.monotonic() >= deadline:
            name = job.rsplit("/", 1)[-1]
            raise RuntimeError(
                f"the job {name} (execution {execution}) ended {status or 'without finishing'}; read its logs: "
                f"az containerapp job logs show -n {name} -g <resource group> --execution {execution} "
                "--container psql"
            )
        time.sleep(float(props.get("poll_s") or POLL_S))


class JobRunProvider(ResourceProvider):
    """Runs the job on create, and again when ``run_key`` or the job changes; deleting runs nothing."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        execution = run_job(props)
        return CreateResult(uuid.uuid4().hex, {**_public(props), "execution": execution})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("job_id", "run_key") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**_public(news), "execution": run_job(news)})


class JobRun(Resource, module="mbops", name="JobRun"):
    """One successful execution of the Container Apps job ``job_id`` per ``run_key`` (``execution``)."""

    execution: pulumi.Output[str]

    def __init__(
        self, name: str, *, job_id: pulumi.Input[str], run_key: pulumi.Input[str], token: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props = {
            "job_id": job_id, "run_key": run_key, "token": pulumi.Output.secret(token), "timeout_s": JOB_TIMEOUT_S,
            "poll_s": POLL_S, "execution": None,
        }  # fmt: skip
        super().__init__(JobRunProvider(), name, props, opts)


def set_admin_password(props: dict[str, Any]) -> None:
    """PATCH the admin password of the Flexible Server ``server_id`` and wait until the server is Ready again."""
    server, token = props["server_id"], props["token"]
    body = {"properties": {"administratorLoginPassword": props["password"]}}
    _arm("PATCH", server, token, SERVER_API, body)
    deadline = time.monotonic() + float(props.get("timeout_s") or SERVER_TIMEOUT_S)
    while True:
        time.sleep(float(props.get("poll_s") if props.get("poll_s") is not None else POLL_S))
        state = _arm("GET", server, token, SERVER_API).get("properties", {}).get("state")
        if state == "Ready":
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"the PostgreSQL server {server.rsplit('/', 1)[-1]} did not come back Ready after its admin password "
                f"was set (state {state or 'unknown'}); check it with: az postgres flexible-server show --ids {server}"
            )


def _password_key(props: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(f"{props['server_id']}\0{props['password']}".encode()).hexdigest()


class AdminPasswordProvider(ResourceProvider):
    """Sets the password on create and whenever it (or the server) changes; deleting leaves the server as it is.
    The state keeps a hash of server and password (``password_key``), never the password or the token."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        set_admin_password(props)
        return CreateResult(uuid.uuid4().hex, _password_state(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("password_key") != _password_key(news)
        return DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        set_admin_password(news)
        return UpdateResult(_password_state(news))


def _password_state(props: dict[str, Any]) -> dict[str, Any]:
    return {"server_id": props["server_id"], "password_key": _password_key(props)}


class AdminPassword(Resource, module="mbops", name="AdminPassword"):
    """The admin password of the Flexible Server ``server_id`` set to ``password`` (a Pulumi secret)."""

    def __init__(
        self, name: str, *, server_id: pulumi.Input[str], password: pulumi.Input[str], token: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props = {
            "server_id": server_id, "password": pulumi.Output.secret(password), "token": pulumi.Output.secret(token),
            "timeout_s": SERVER_TIMEOUT_S, "poll_s": POLL_S, "password_key": None,
        }  # fmt: skip
        super().__init__(AdminPasswordProvider(), name, props, opts)
