"""The app as a container of this machine's Docker engine: the image the ``registry`` kind built from ``app.build``.

It is treated like the process (``app.py``), with the same wiring and the same rules:

- host networking (``network_mode="host"``): the database, cache and storage stay this machine's services,
  reached on 127.0.0.1 as the process reaches them; ``HOST=127.0.0.1`` (unless ``app.env`` sets it) keeps the
  app on the loopback, like every local service;
- ``PORT``, ``app.env``, the wired variables and the secrets file's values as its environment (Docker keeps a
  container's environment in its configuration: whoever may use the Docker engine can read it, as root can
  read the process's); the storage folder (and the SQLite databases' folder) mounted at the same path;
- it runs as the app's OS user (``mbops-app`` as root, else the current user), so it can write those folders;
- recorded by container id (and its main process's pid and start time); healthy when the health path answers
  from the container's own socket; a stopped or removed container is drift that the next ``up`` repairs;
- a container left by an interrupted run (labelled with the stack's folder) is removed before a new one
  starts, and by ``destroy``;
- the port is chosen before the running container is removed: a busy new ``app.port`` is an error that leaves
  it serving on its old port.

Its output is in the Docker engine's log (``mbops logs`` reads it with timestamps).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.local import process
from mbops.components.local.app import app_env
from mbops.components.local.health import (
    PortInUse,
    Runner,
    choose_port,
    left_running,
    probe_http,
    wait_healthy,
    wait_released,
)
from mbops.components.local.provider import LOOPBACK, LocalProvider, owns_port, port_answers, port_holder
from mbops.errors import DeployError
from mbops.host import remove_tree, start_time

API_TIMEOUT_S = 600
LABEL_STACK = "io.mbops.stack"
LABEL_FOLDER = "io.mbops.run-dir"


def client(docker_host: str | None = None) -> Any:
    """A docker SDK client for ``docker_host`` (else ``DOCKER_HOST`` / the default socket)."""
    import docker

    try:
        # Creating a container copies its image's layers on some storage drivers (vfs): minutes, not seconds.
        found = (docker.DockerClient(base_url=docker_host, timeout=API_TIMEOUT_S) if docker_host
                 else docker.from_env(timeout=API_TIMEOUT_S))  # fmt: skip
        found.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises several unrelated types for "not reachable"
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default socket"
        raise DeployError(f"the app runs as a container, and no Docker engine answers at {where}: {exc}") from None
    return found


def container_log(container: Any, lines: int = 20) -> str:
    with contextlib.suppress(Exception):
        return container.logs(tail=lines, timestamps=True).decode(errors="replace").rstrip()
    return ""


class AppContainerProvider(LocalProvider):
    """The app as a container with host networking (see the module docstring)."""

    required = ("image", "run_dir", "health_path", "stack")
    optional = (
        "env", "secrets_file", "secrets_version", "secret_env", "preferred_port", "health_timeout_s", "port_auto",
        "run_as", "mounts", "docker_host",
    )  # fmt: skip
    computed = ("container_id", "container_name", "pid", "start_time", "port", "url", "status", "notice")
    secret_outputs = ("secret_env",)
    quiet_keys = ("health_timeout_s", "port_auto", "docker_host")
    path_keys = ("run_dir", "secrets_file", "mounts")
    healthy_status = "running"
    serves_app = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        engine = client(props.get("docker_host"))
        port, notice = choose_port(props, ours=self.holders(props))  # a stray's port is ours
        self._remove_strays(engine, props)
        wait_released(port)
        outs = self._run(engine, props, port)
        return CreateResult(id_=outs["container_id"], outs={**outs, "notice": notice})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Replace the container on the port chosen *before* the running one stops: a busy new port leaves it
        serving."""
        engine = client(news.get("docker_host"))
        keep = olds.get("port") if news.get("preferred_port") == olds.get("preferred_port") else None
        try:
            port, notice = choose_port(news, keep=keep, ours=self.holders(olds))
        except PortInUse as exc:
            if not self.problems(olds):
                raise left_running(exc, f"container {str(olds.get('container_id'))[:12]}", olds.get("port")) from None
            raise
        self._remove(engine, olds.get("container_id"))
        self._remove_strays(engine, news)
        wait_released(port)
        return UpdateResult(outs={**self._run(engine, news, port), "notice": notice})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        engine = client(props.get("docker_host"))
        self._remove(engine, props.get("container_id"))
        self._remove_strays(engine, props)
        if props.get("delete_data"):
            remove_tree(props["run_dir"])

    def problems(self, outs: dict[str, Any]) -> list[str]:
        found = self._inspect(outs)
        if found is None:
            return [f"the app container {str(outs.get('container_id'))[:12]} is gone"]
        state = found.attrs.get("State", {})
        if state.get("Status") != "running":
            return [f"the app container {found.short_id} is {state.get('Status')} (exit code {state.get('ExitCode')})"]
        port = int(outs["port"])
        if not port_answers(port):
            return [f"the app container {found.short_id} does not answer on port {port}"]
        pid = int(state.get("Pid") or 0)
        if not owns_port(process.family(pid), port):
            return [f"port {port} is held by {port_holder(port) or 'another process'}, not by the app container"]
        return []

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        with contextlib.suppress(DeployError):
            strays = self._strays(client(inputs.get("docker_host")), inputs)
            return [f"the app container {c.short_id} of an interrupted run ({c.status})" for c in strays]
        return []

    def holders(self, outs: dict[str, Any]) -> set[int]:
        """The recorded container's processes and those of the containers an interrupted run left (labelled with
        the stack's folder), while they run."""
        found = super().holders(outs)
        if outs.get("run_dir"):
            with contextlib.suppress(Exception):  # no Docker engine: no strays to count (create then fails clearly)
                for stray in self._strays(client(outs.get("docker_host")), outs):
                    pid = int(stray.attrs.get("State", {}).get("Pid") or 0)
                    found |= process.family(pid) if pid else set()
        return found

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        found = super().probe(outs)
        if found["state"] == "down":
            return found
        return {**probe_http(outs["url"], outs["health_path"]), "container": str(outs["container_id"])[:12],
                "pid": outs["pid"], "port": outs["port"]}  # fmt: skip

    # steps --------------------------------------------------------------------------------------------------
    def _inspect(self, outs: dict[str, Any]) -> Any:
        import docker.errors

        if not outs.get("container_id"):
            return None
        try:
            return client(outs.get("docker_host")).containers.get(outs["container_id"])
        except docker.errors.NotFound:
            return None

    @staticmethod
    def _labels(props: dict[str, Any]) -> dict[str, str]:
        return {LABEL_STACK: str(props["stack"]), LABEL_FOLDER: str(props["run_dir"])}

    def _strays(self, engine: Any, props: dict[str, Any]) -> list[Any]:
        return list(engine.containers.list(all=True, filters={"label": f"{LABEL_FOLDER}={props['run_dir']}"}))

    def _remove_strays(self, engine: Any, props: dict[str, Any]) -> None:
        """Remove the containers an interrupted run of this stack left (labelled with the stack's folder)."""
        for stray in self._strays(engine, props):
            self._remove(engine, stray.id)

    @staticmethod
    def _remove(engine: Any, container_id: str | None) -> None:
        import docker.errors

        if not container_id:
            return
        with contextlib.suppress(docker.errors.NotFound):
            found = engine.containers.get(container_id)
            with contextlib.suppress(docker.errors.APIError):
                found.stop(timeout=10)
            found.remove(force=True)

    def _run(self, engine: Any, props: dict[str, Any], port: int) -> dict[str, Any]:
        import docker.errors

        run_dir = Path(props["run_dir"])
        env = {"HOST": LOOPBACK, **app_env(props, port)}
        user = props.get("run_as")
        entry = pwd.getpwnam(user) if user else pwd.getpwuid(os.getuid())
        mounts = {path: {"bind": path, "mode": "rw"} for path in props.get("mounts") or []}
        name = f"mbops-{props['stack']}-app-{hashlib.sha256(str(run_dir).encode()).hexdigest()[:8]}"
        try:
            container = engine.containers.run(
                props["image"], detach=True, name=name, network_mode="host", environment=env,
                user=f"{entry.pw_uid}:{entry.pw_gid}", volumes=mounts, labels=self._labels(props),
                restart_policy={"Name": "no"},
            )  # fmt: skip
        except docker.errors.DockerException as exc:
            raise DeployError(f"cannot start the app container from {props['image']}: {exc}") from None
        container.reload()
        pid = int(container.attrs["State"].get("Pid") or 0)

        def running() -> bool:
            with contextlib.suppress(docker.errors.NotFound):
                container.reload()
                return container.status == "running"
            return False

        runner = Runner(
            what=f"the app container {container.short_id}", running=running,
            owners=lambda: process.family(int(container.attrs["State"].get("Pid") or pid)),
            stop=lambda: self._remove(engine, container.id), log_tail=lambda: container_log(container),
        )  # fmt: skip
        url = f"http://{LOOPBACK}:{port}"
        wait_healthy(url + props["health_path"], port, runner, float(props.get("health_timeout_s") or 60))
        return {
            **props, "container_id": container.id, "container_name": name, "pid": pid,
            "start_time": start_time(pid), "port": port, "url": url, "status": self.healthy_status,
        }  # fmt: skip


class AppContainer(Resource, module="mbops", name="AppContainer"):
    """The app as a local container (see AppContainerProvider)."""

    container_id: pulumi.Output[str]
    container_name: pulumi.Output[str]
    port: pulumi.Output[int]
    url: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["secret_env"]))
        props = {"docker_host": os.environ.get("DOCKER_HOST") or None, **props}
        super().__init__(AppContainerProvider(), name, {**props, **dict.fromkeys(AppContainerProvider.computed)}, opts)
