"""The local target with a Docker engine: the example app built from its Dockerfile with the docker SDK, pushed to a
registry on the loopback, run by digest as a container wired to this machine's PostgreSQL, Redis and storage.

Fixtures (one per session) start what the machine has: ``dockerd`` (its own socket; ``overlay2`` storage, or
``vfs`` where overlay2 cannot run — ``MBOPS_TEST_DOCKER_DRIVER`` chooses; host networking only; its data root is
cached in ``~/.cache/mbops-test-docker/<driver>`` so the base image and the build cache survive between runs) and
Debian's ``docker-registry`` on a free loopback port; both are stopped by pid. No image
can be pulled, so the base image is built here once: ``debootstrap`` a minimal Debian with Python into
``~/.cache/mbops-test-base`` (trusting the CA bundle this machine trusts, for pip through its egress proxy) and
``docker import`` it. Without root or without the binaries the Docker tests are skipped, saying why; the fallback
test (no engine: the app runs as a process) runs everywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_local_helpers import (
    HAS_POSTGRES,
    HAS_REDIS,
    REPO,
    free_port,
    http,
    last_json,
    local_env,
    mbops,
    outputs_of,
    state_of,
    write_stack,
)

__all__ = ["local_env"]
BASE_IMAGE = "mbops-test-base:bookworm"
CACHE = Path.home() / ".cache"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "dockerd needs root (sessions and CI run as root)"
    for tool, package in (("dockerd", "docker.io"), ("docker-registry", "docker-registry")):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian: apt-get install {package})"
    return None


def _wait(check, timeout: float, what: str, log: Path | None = None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout:g}s\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process the fixtures started, by its pid (SIGTERM, then SIGKILL)."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _dockerd(driver: str, cache: Path, run: Path) -> subprocess.Popen | None:
    """dockerd with ``driver`` storage (data root cached per driver), or None when it does not come up."""
    import docker

    lock = open(cache / f"{driver}.lock", "w")  # noqa: SIM115 - closed with the engine
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        data_root = cache / driver  # cached: the base image and build layers survive between runs
    except BlockingIOError:  # another session uses the cache: start from nothing
        data_root = Path(tempfile.mkdtemp(prefix=f"mbops-docker-{driver}-"))
    socket, log = run / "docker.sock", run / f"dockerd-{driver}.log"
    proc = subprocess.Popen(
        ["dockerd", "--storage-driver", driver, "--iptables=false", "--bridge=none", "--data-root", str(data_root),
         "--exec-root", str(run / "exec"), "-H", f"unix://{socket}", "--pidfile", str(run / "dockerd.pid")],
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    proc.lock = lock  # type: ignore[attr-defined]
    try:
        _wait(lambda: proc.poll() is not None or docker.DockerClient(base_url=f"unix://{socket}").ping(), 60,
              "dockerd", log)  # fmt: skip
    except RuntimeError:
        proc.poll()
    if proc.returncode is None:
        return proc
    lock.close()
    return None


def _unmount_under(folder: Path) -> None:
    """Unmount what dockerd left mounted under ``folder`` (its network namespace file)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(f"{folder}/"):
            subprocess.run(["umount", point], check=False, capture_output=True)


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """A Docker engine of our own: ``unix://<socket>``."""
    why = _why_not()
    if why:
        pytest.skip(why)
    cache = CACHE / "mbops-test-docker"
    cache.mkdir(parents=True, exist_ok=True)
    run = Path(tempfile.mkdtemp(prefix="mbops-d", dir="/tmp"))  # short: a socket path has a length limit
    chosen = os.environ.get("MBOPS_TEST_DOCKER_DRIVER")
    dockerd = None
    for driver in (chosen,) if chosen else ("overlay2", "vfs"):
        dockerd = _dockerd(driver, cache, run)
        if dockerd is not None:
            break
        _unmount_under(run)
    if dockerd is None:
        logs = "\n".join(p.read_text()[-1500:] for p in run.glob("dockerd-*.log"))
        shutil.rmtree(run, ignore_errors=True)
        raise RuntimeError(f"dockerd did not start with any storage driver:\n{logs}")
    try:
        yield f"unix://{run / 'docker.sock'}"
    finally:
        _stop(dockerd)
        dockerd.lock.close()  # type: ignore[attr-defined]
        _unmount_under(run)
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port: ``127.0.0.1:<port>``."""
    why = _why_not()
    if why:
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = folder / "config.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "version": 0.1, "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))  # fmt: skip
    log = folder / "registry.log"
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _DIRECT.open(f"http://127.0.0.1:{port}/v2/", timeout=2).status == 200, 30, "the registry", log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 sources or sources.list), else deb.debian.org."""
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        for line in sources.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "security" not in line:
                return next(p for p in parts[1:] if p.startswith("http"))
    return "http://deb.debian.org/debian"


def base_rootfs() -> Path:
    """A minimal Debian with Python as a tarball (cached): debootstrap once, ~4 minutes."""
    cache = CACHE / "mbops-test-base"
    tarball = cache / "bookworm.tar"
    if tarball.exists():
        return tarball
    if not shutil.which("debootstrap"):
        pytest.skip("the base image needs debootstrap (Debian: apt-get install debootstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache))
    try:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
             "bookworm", str(rootfs), debian_mirror()],
            check=True, capture_output=True, timeout=1800,
        )  # fmt: skip
        # Trust what this machine trusts: pip in the build reaches PyPI the way this machine does.
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / leftovers).glob("*"):
                if item.is_file():
                    item.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


@pytest.fixture(scope="session")
def base_image(docker_host: str) -> str:
    """``mbops-test-base:bookworm`` in the engine (imported from the cached rootfs when missing)."""
    import docker

    client = docker.DockerClient(base_url=docker_host)
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    client.api.import_image_from_file(str(base_rootfs()), repository=BASE_IMAGE.split(":")[0], tag="bookworm")
    return BASE_IMAGE


@pytest.fixture
def docker_env(monkeypatch: pytest.MonkeyPatch, docker_host: str, registry: str) -> None:
    """The local target on this test's Docker engine, pushing to its loopback registry."""
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.setenv("MBOPS_LOCAL_REGISTRY", registry)
    monkeypatch.setenv("MBOPS_BUILD_NETWORK", "host")  # the engine has no bridge network
    monkeypatch.setenv("MBOPS_HEALTH_TIMEOUT", "180")


def _up(stack_file: Path) -> dict:
    result = mbops("up", "-f", str(stack_file), "--json")
    assert result.exit_code == 0, result.output
    return last_json(result.output)


def test_the_example_app_is_built_pushed_and_run_by_digest_as_a_container(
    local_env: Path, tmp_path: Path, docker_env: None, docker_host: str, registry: str, base_image: str,
) -> None:  # fmt: skip
    import docker

    context = tmp_path / "notes_app"  # a copy of the example: the test changes it
    shutil.copytree(REPO / "examples" / "notes_app", context, ignore=shutil.ignore_patterns("__pycache__"))
    stack_file = write_stack(tmp_path / "stack.yaml", name="dock", profile="managed", app={
        "build": {"context": "notes_app", "args": {"BASE_IMAGE": base_image}},
    })  # fmt: skip
    client = docker.DockerClient(base_url=docker_host, timeout=600)
    times: dict[str, float] = {}

    # 1. up: build (docker SDK), push, run by digest; the app answers and reaches the host's services
    t0 = time.monotonic()
    first = _up(stack_file)
    times["first up (build, push, run)"] = time.monotonic() - t0
    outputs = first["outputs"]
    image = outputs["image"]
    assert re.fullmatch(rf"{re.escape(registry)}/dock-app@sha256:[0-9a-f]{{64}}", image), image
    endpoint = outputs["endpoint"]
    status, health = http("GET", f"{endpoint}/healthz")
    assert status == 200 and health["database"] == ("postgresql" if HAS_POSTGRES else "sqlite"), health
    assert health["cache"] == ("redis" if HAS_REDIS else "disabled")
    status, note = http("POST", f"{endpoint}/notes", {"title": "from a container", "body": "by digest"})
    assert status == 201, note
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "from a container"
    assert http("PUT", f"{endpoint}/files/c.txt", b"container bytes")[0] == 201
    assert (Path(outputs["bucket"]) / "c.txt").read_bytes() == b"container bytes"  # mounted at the same path

    app = outputs_of(state_of(local_env, "dock"), "app-container")
    container = client.containers.get(app["container_id"])
    assert container.attrs["HostConfig"]["NetworkMode"] == "host" and container.image.id
    assert image.split("@")[1] in {d.split("@")[1] for d in container.image.attrs["RepoDigests"]}
    expected_user = "mbops-app" if os.geteuid() == 0 else None
    if expected_user:
        import pwd

        entry = pwd.getpwnam(expected_user)
        assert container.attrs["Config"]["User"] == f"{entry.pw_uid}:{entry.pw_gid}"
    tags = _DIRECT.open(f"http://{registry}/v2/dock-app/tags/list", timeout=10).read().decode()
    assert "dock-app" in tags

    rows = {r["component"]: r for r in json.loads(mbops("status", "-f", str(stack_file), "--json").output)}
    assert rows["containers"]["state"] == "up" and rows["containers"]["detail"] == "GET /healthz -> 200"
    logs = mbops("logs", "-f", str(stack_file), "--component", "app", "--lines", "20").output.splitlines()
    assert logs and all(STAMP.match(line) for line in logs) and any("/notes" in line for line in logs), logs

    # 2. nothing changed: no rebuild, no restart
    t0 = time.monotonic()
    same = _up(stack_file)
    times["no-change up"] = time.monotonic() - t0
    assert same["changes"] == 0, same["summary"]
    assert outputs_of(state_of(local_env, "dock"), "app-container")["container_id"] == app["container_id"]

    # 3. drift: a stopped container is reported by refresh and repaired by up
    container.stop(timeout=5)
    drift = last_json(mbops("refresh", "-f", str(stack_file), "--json").output)["drift"]
    assert [d["resource"] for d in drift] == ["dock-app-container"] and "exited" in drift[0]["now"], drift
    repaired = _up(stack_file)
    assert repaired["summary"]["update"] == 1, repaired["summary"]
    assert http("GET", f"{endpoint}/notes/{note['id']}")[0] == 200

    # 4. the context changes: rebuilt, pushed, and the container replaced with the new digest
    (context / "errors.py").write_text((context / "errors.py").read_text() + "\n# changed\n")
    t0 = time.monotonic()
    changed = _up(stack_file)
    times["rebuild + restart"] = time.monotonic() - t0
    assert changed["summary"]["update"] == 2, changed["summary"]  # the image and the container
    new_image = changed["outputs"]["image"]
    assert new_image != image and new_image.startswith(f"{registry}/dock-app@sha256:")
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "from a container"  # same database

    # 5. destroy leaves no container; up again pulls the image by digest from the registry
    assert mbops("destroy", "-f", str(stack_file)).exit_code == 0
    assert client.containers.list(all=True, filters={"label": "io.mbops.stack=dock"}) == []
    for found in client.images.list(name=f"{registry}/dock-app"):
        client.images.remove(found.id, force=True)
    t0 = time.monotonic()
    again = _up(stack_file)
    times["up after destroy (pull by digest)"] = time.monotonic() - t0
    assert again["outputs"]["image"] == new_image and again["summary"]["create"] >= 1
    assert http("GET", f"{endpoint}/notes/{note['id']}")[0] == 200
    pulled = client.images.get(new_image)
    assert new_image in pulled.attrs["RepoDigests"]

    assert mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes").exit_code == 0
    assert client.containers.list(all=True, filters={"label": "io.mbops.stack=dock"}) == []
    print("\ndocker e2e timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))


def test_without_a_docker_engine_app_build_runs_the_command_and_says_why(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    stack_file = write_stack(tmp_path / "nodock.yaml", name="nodock", profile="custom",
                             app={"build": {"context": str(REPO / "examples" / "notes_app")}})  # fmt: skip
    done = _up(stack_file)
    reason = done["unavailable"]["registry"]["reason"]
    assert reason.startswith(f"app.build is set but no Docker engine at unix://{tmp_path}"), reason
    assert "the app runs app.command as a process" in reason
    app = outputs_of(state_of(local_env, "nodock"), "app-process")
    assert http("GET", f"{app['url']}/healthz")[0] == 200
    human = mbops("up", "-f", str(stack_file))
    assert "not available: registry" in human.output and "start a Docker engine" in human.output
