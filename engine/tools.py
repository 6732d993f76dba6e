"""What this machine has: the Pulumi CLI, cloud credentials, PostgreSQL, Redis, Docker, Graphviz, Chromium.

Each probe returns a ``Finding``: present or not, where, which version, and what it enables (or what mbops
does without it). Probes never print secrets (only where credentials come from), never import a provider SDK,
and bound every subprocess with a timeout. ``postgres_bin_dir`` and ``redis_server`` are also what the local
target uses to find its servers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROBE_TIMEOUT = 10.0
DOCKER_TIMEOUT = 2.0
POSTGRES_ROOTS = (Path("/usr/lib/postgresql"), Path("/usr/local/opt"), Path("/opt/homebrew/opt"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


@dataclass(kw_only=True)
class Finding:
    """One thing mbops looked for."""

    name: str
    present: bool
    enables: str
    path: str | None = None
    version: str | None = None
    detail: str = ""
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version(argv: list[str], pattern: str = r"(\d+(?:\.\d+)+)") -> tuple[str | None, str]:
    """(version, problem) from running ``argv``; reads stdout then stderr (``dot -V`` prints to stderr)."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"`{' '.join(argv)}` did not answer within {PROBE_TIMEOUT:.0f}s"
    except OSError as exc:
        return None, f"`{' '.join(argv)}` could not run: {exc.strerror or exc}"
    text = f"{done.stdout}\n{done.stderr}"
    match = re.search(pattern, text)
    if done.returncode != 0 and not match:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return None, f"`{' '.join(argv)}` exited {done.returncode}: {last[0][:200]}"
    return (match.group(1) if match else None), ""


# --- tools -------------------------------------------------------------------------------------------------


def pulumi_cli(env: Mapping[str, str] | None = None) -> Finding:
    """The ``pulumi`` CLI, on PATH or built by ``tools/build-pulumi.sh`` into ``<repo>/.tools/bin``: deploys
    through the Pulumi engine need it; ``mbops preview`` and the embedded engine do not."""
    from mbops.engine.automation import REPO, find_pulumi, tools_bin_dir

    env = os.environ if env is None else env
    found = find_pulumi(env)
    if found is None:
        build = (REPO / "tools" / "build-pulumi.sh").is_file()
        return Finding(
            name="pulumi", present=False,
            enables="Pulumi-engine deploys unavailable (up/destroy/refresh/outputs --engine pulumi, --cloud "
                    "aws|gcp|azure); `mbops preview` and the local target work without it",
            detail="install: curl -fsSL https://get.pulumi.com | sh (or brew install pulumi/tap/pulumi, "
                   "choco install pulumi)" + (f"; or build it from source: tools/build-pulumi.sh (into "
                                              f"{tools_bin_dir(env)})" if build else ""),
        )  # fmt: skip
    path, where = found
    version, problem = _version([str(path), "version"])
    notes = [problem] if problem else []
    if where == "tools":
        notes.append(f"built by tools/build-pulumi.sh; not on PATH (mbops runs it from {path.parent})")
        notes += _build_notes(path.parent.parent / "pulumi-build")
    return Finding(
        name="pulumi", present=bool(version), path=str(path), version=version, detail="; ".join(notes),
        sources=["PATH" if where == "PATH" else f"{path.parent} (tools/build-pulumi.sh)"],
        enables="deploys on the Pulumi engine: mbops up/destroy/refresh/outputs --cloud aws|gcp|azure "
                "(and --engine pulumi --cloud local)" if version else "Pulumi-engine deploys unavailable: the "
                "pulumi found does not run",
    )  # fmt: skip


def _build_notes(stamp: Path) -> list[str]:
    """What tools/build-pulumi.sh recorded about its build (the language host and where it came from)."""
    try:
        fields = dict(line.split("=", 1) for line in stamp.read_text().splitlines() if "=" in line)
    except OSError:
        return []
    if not fields.get("language_host"):
        return []
    note = f"Python language host {fields['language_host']}"
    if fields.get("language_host") != fields.get("pulumi"):
        note += f" ({fields.get('language_host_module', '?')}: the proxy serves no newer one)"
    return [note]


def postgres_bin_dir(roots: tuple[Path, ...] = POSTGRES_ROOTS) -> Path | None:
    """The newest PostgreSQL server bin dir (with initdb, pg_ctl, postgres): Debian's
    /usr/lib/postgresql/<v>/bin, Homebrew's, else the one on PATH."""
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for root in roots:
        for bin_dir in root.glob("*/bin") if root.is_dir() else ():
            if all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
                number = re.findall(r"\d+", bin_dir.parent.name)
                candidates.append((tuple(int(n) for n in number), bin_dir))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).parent / "pg_ctl").exists():
        return Path(initdb).parent
    return None


def postgresql(bin_dir: Path | None = None, euid: int | None = None) -> Finding:
    """PostgreSQL for the local target's database (else it falls back to a SQLite file)."""
    bin_dir = bin_dir or postgres_bin_dir()
    if bin_dir is None:
        return Finding(
            name="postgresql", present=False, enables="local database: SQLite fallback",
            detail="for PostgreSQL locally: apt-get install postgresql (or brew install postgresql)",
        )  # fmt: skip
    version, problem = _version([str(bin_dir / "initdb"), "--version"])
    euid = os.geteuid() if euid is None and hasattr(os, "geteuid") else euid
    notes = [problem] if problem else []
    if euid == 0:
        helper = shutil.which("runuser") or shutil.which("setpriv")
        notes.append(
            "running as root: initdb and postgres refuse root, so the server must run as an unprivileged user"
            + (f" ({Path(helper).name} is available)" if helper else " (neither runuser nor setpriv found)")
        )
    return Finding(
        name="postgresql", present=bool(version), path=str(bin_dir / "initdb"), version=version,
        enables=f"local database: PostgreSQL {version}" if version else "local database: SQLite fallback",
        detail="; ".join(notes),
    )  # fmt: skip


def redis_server() -> Finding:
    """redis-server for the local target's cache (else the cache is reported as unavailable)."""
    path = shutil.which("redis-server")
    if not path:
        return Finding(
            name="redis", present=False, enables="local cache: unavailable (reported in the stack's outputs)",
            detail="for a local cache: apt-get install redis-server (or brew install redis)",
        )  # fmt: skip
    version, problem = _version([path, "--version"], r"v=(\d+(?:\.\d+)+)")
    return Finding(
        name="redis", present=bool(version), path=path, version=version, detail=problem,
        enables="local cache: redis-server on loopback" if version else "local cache: unavailable",
    )  # fmt: skip


def docker_engine(
    timeout: float = DOCKER_TIMEOUT, client_factory: Callable[..., Any] | None = None
) -> Finding:
    """A reachable Docker engine (the ``docker`` SDK's ping), for building and running app images."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        if client_factory is None:
            import docker

            client_factory = docker.from_env
        client = client_factory(timeout=timeout)
        try:
            client.ping()
            version = str(client.version().get("Version") or "") or None
        finally:
            client.close()
    except Exception as exc:  # the SDK raises DockerException, requests' and socket errors alike
        return Finding(
            name="docker", present=False,
            enables="local: the app runs app.command as a process (app.build needs a Docker engine); "
            "clouds: app.build cannot be built here",
            detail=f"no Docker engine reachable: {docker_problem(exc, host, timeout)}", path=host,
        )  # fmt: skip
    return Finding(
        name="docker", present=True, version=version, path=host,
        enables="local: a stack with app.build runs its app as a container built from it (pushed to "
        "MBOPS_LOCAL_REGISTRY when set); clouds: app.build is built and pushed",
    )  # fmt: skip


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (causes, contexts, exceptions among its args: requests and urllib3 nest them)."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        err = todo.pop(0)
        if err in found:
            continue
        found.append(err)
        todo += [a for a in err.args if isinstance(a, BaseException)]
        todo += [c for c in (err.__cause__, err.__context__) if c is not None]
    return found


def docker_problem(exc: BaseException, host: str, timeout: float = DOCKER_TIMEOUT) -> str:
    """Why the Docker engine at ``host`` did not answer, in words (the SDK's own message is a nested repr)."""
    where = host.removeprefix("unix://") if host.startswith("unix://") else host
    fix = "start dockerd or set DOCKER_HOST"
    for err in _causes(exc):
        if isinstance(err, FileNotFoundError) and host.startswith("unix://"):
            return f"{where} does not exist ({fix})"
        if isinstance(err, PermissionError):
            return f"permission denied on {where} (add your user to the docker group, or set DOCKER_HOST)"
        if isinstance(err, ConnectionRefusedError):
            return f"nothing accepts connections at {where} ({fix})"
        if isinstance(err, TimeoutError) or type(err).__name__.endswith("Timeout"):  # requests' Timeout
            return f"{where} did not answer within {timeout:g} s"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.removeprefix("Error while fetching server API version: ")[:200]
    return f"{text} (at {where}; {fix})"


def graphviz() -> Finding:
    """Graphviz ``dot`` for rendering diagrams to SVG/PNG."""
    path = shutil.which("dot")
    if not path:
        return Finding(
            name="graphviz", present=False, enables="diagrams as Mermaid/DOT text only (no SVG/PNG)",
            detail="for SVG/PNG: apt-get install graphviz (or brew install graphviz)",
        )  # fmt: skip
    version, problem = _version([path, "-V"])
    return Finding(
        name="graphviz", present=bool(version), path=path, version=version, detail=problem,
        enables="mbops diagram renders SVG and PNG",
    )  # fmt: skip


def chromium() -> Finding:
    """A headless-capable Chromium/Chrome, for browser tests and rendering HTML/Mermaid to images."""
    path = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    if not path:
        return Finding(
            name="chromium", present=False, enables="no headless browser (browser tests are skipped)",
            detail="apt-get install chromium (or install Google Chrome)",
        )  # fmt: skip
    version, problem = _version([path, "--version"])
    return Finding(
        name="chromium", present=bool(version), path=path, version=version, detail=problem,
        enables="headless browser: browser tests and rendering pages to images",
    )  # fmt: skip


# --- credentials -------------------------------------------------------------------------------------------


def _files(candidates: list[Path]) -> list[str]:
    return [str(path) for path in candidates if path.is_file()]


def aws_credentials(env: Mapping[str, str] | None = None, home: Path | None = None) -> Finding:
    """Where AWS credentials would come from (env keys, a profile, shared files, web identity, container)."""
    env = os.environ if env is None else env
    home = home or Path.home()
    sources = []
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        sources.append("env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if env.get("AWS_PROFILE"):
        sources.append(f"env AWS_PROFILE={env['AWS_PROFILE']}")
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        sources.append("env AWS_WEB_IDENTITY_TOKEN_FILE (OIDC)")
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        sources.append("container credentials endpoint")
    shared = [Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials").expanduser(),
              Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config").expanduser()]  # fmt: skip
    sources += _files(shared)
    detail = "" if sources else (
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run `aws configure` "
        "(an EC2 instance role is not probed)"
    )
    return Finding(
        name="aws", present=bool(sources), sources=sources, detail=detail,
        enables="deploys to AWS" if sources else "no AWS deploys (mbops preview --cloud aws still works)",
    )  # fmt: skip


def gcp_credentials(env: Mapping[str, str] | None = None, home: Path | None = None) -> Finding:
    """Where Google Cloud credentials would come from (a key file, GOOGLE_CREDENTIALS, gcloud ADC)."""
    env = os.environ if env is None else env
    home = home or Path.home()
    sources, problems = [], []
    key_file = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file:
        if Path(key_file).expanduser().is_file():
            sources.append(f"env GOOGLE_APPLICATION_CREDENTIALS ({key_file})")
        else:
            problems.append(f"GOOGLE_APPLICATION_CREDENTIALS names a missing file: {key_file}")
    if env.get("GOOGLE_CREDENTIALS"):
        sources.append("env GOOGLE_CREDENTIALS")
    if env.get("GOOGLE_OAUTH_ACCESS_TOKEN"):
        sources.append("env GOOGLE_OAUTH_ACCESS_TOKEN")
    gcloud_dir = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud").expanduser()
    adc = _files([gcloud_dir / "application_default_credentials.json"])
    sources += [f"gcloud ADC ({path})" for path in adc]
    project = next((env[v] for v in ("GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
                    if env.get(v)), None)  # fmt: skip
    if project:
        problems.append(f"default project {project}")
    if not sources:
        problems.append("set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`")
    return Finding(
        name="gcp", present=bool(sources), sources=sources, detail="; ".join(problems),
        enables="deploys to GCP" if sources else "no GCP deploys (mbops preview --cloud gcp still works)",
    )  # fmt: skip


def azure_credentials(env: Mapping[str, str] | None = None, home: Path | None = None) -> Finding:
    """Where Azure credentials would come from (a service principal, OIDC/MSI, or the az CLI's login)."""
    env = os.environ if env is None else env
    home = home or Path.home()
    sources, notes = [], []
    if env.get("ARM_CLIENT_ID"):
        how = ("ARM_CLIENT_SECRET" if env.get("ARM_CLIENT_SECRET") else
               "ARM_CLIENT_CERTIFICATE_PATH" if env.get("ARM_CLIENT_CERTIFICATE_PATH") else
               "ARM_USE_OIDC" if env.get("ARM_USE_OIDC") else
               "ARM_USE_MSI" if env.get("ARM_USE_MSI") else None)  # fmt: skip
        if how:
            sources.append(f"env ARM_CLIENT_ID + {how}")
        else:
            notes.append(
                "ARM_CLIENT_ID is set without ARM_CLIENT_SECRET, a certificate, ARM_USE_OIDC or ARM_USE_MSI"
            )
    elif env.get("ARM_USE_MSI"):
        sources.append("env ARM_USE_MSI (managed identity)")
    az_dir = Path(env.get("AZURE_CONFIG_DIR") or home / ".azure").expanduser()
    caches = ("msal_token_cache.json", "msal_token_cache.bin", "accessTokens.json")
    logged_in = _files([az_dir / name for name in caches])
    if logged_in:
        sources.append(f"az CLI login ({az_dir})")
    if sources and not env.get("ARM_SUBSCRIPTION_ID") and not (az_dir / "azureProfile.json").is_file():
        notes.append("no subscription: set ARM_SUBSCRIPTION_ID or run `az account set`")
    if not sources:
        notes.append("set ARM_CLIENT_ID/ARM_CLIENT_SECRET/ARM_TENANT_ID/ARM_SUBSCRIPTION_ID, or `az login`")
    return Finding(
        name="azure", present=bool(sources), sources=sources, detail="; ".join(notes),
        enables="deploys to Azure" if sources else "no Azure deploys (mbops preview --cloud azure works)",
    )  # fmt: skip


def pulumi_state(env: Mapping[str, str] | None = None, home: Path | None = None) -> Finding:
    """Where cloud stacks' state and secrets go (backend, secrets provider), as `mbops up` resolves them."""
    from mbops.engine.automation import is_pulumi_cloud, resolve_backend, secrets_provider
    from mbops.errors import ConfigError

    env = os.environ if env is None else env
    home = home or Path.home()
    notes: list[str] = []
    try:
        backend = resolve_backend(None, env)
    except ConfigError as exc:
        return Finding(name="pulumi-state", present=False, detail=str(exc),
                       enables="cloud deploys stop until the backend setting is fixed")  # fmt: skip
    try:
        provider = secrets_provider(backend, env)
    except ConfigError as exc:
        provider = env.get("MBOPS_SECRETS_PROVIDER") or "passphrase"
        notes.append(str(exc).split(". ", 1)[0])
    sources = [f"backend {backend}", f"secrets provider {provider}"]
    if provider == "passphrase" and not notes:
        suffix = "" if env.get("PULUMI_CONFIG_PASSPHRASE") else "_FILE"
        sources.append(f"env PULUMI_CONFIG_PASSPHRASE{suffix}")
    if is_pulumi_cloud(backend) and not (
        env.get("PULUMI_ACCESS_TOKEN") or (home / ".pulumi" / "credentials.json").is_file()
    ):
        notes.append("Pulumi Cloud needs PULUMI_ACCESS_TOKEN or `pulumi login`")
    return Finding(
        name="pulumi-state", present=not notes, sources=sources, detail="; ".join(notes),
        enables="state and secrets settings ready for cloud deploys" if not notes
        else "cloud deploys stop until the settings in detail are fixed",
    )  # fmt: skip


TOOLS: dict[str, Callable[[], Finding]] = {
    "pulumi": pulumi_cli, "postgresql": postgresql, "redis": redis_server, "docker": docker_engine,
    "graphviz": graphviz, "chromium": chromium,
}  # fmt: skip
CREDENTIALS: dict[str, Callable[[], Finding]] = {
    "aws": aws_credentials, "gcp": gcp_credentials, "azure": azure_credentials, "pulumi-state": pulumi_state,
}  # fmt: skip


def report() -> dict[str, Any]:
    """Every probe, run in parallel: {"tools": {name: finding}, "credentials": {cloud: finding}}."""
    probes = {("tools", k): v for k, v in TOOLS.items()}
    probes |= {("credentials", k): v for k, v in CREDENTIALS.items()}
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        futures = {key: pool.submit(_safely, key[1], probe) for key, probe in probes.items()}
        results: dict[str, dict[str, Any]] = {"tools": {}, "credentials": {}}
        for (group, name), future in futures.items():
            results[group][name] = future.result().as_dict()
    return results


def _safely(name: str, probe: Callable[[], Finding]) -> Finding:
    """A probe that crashed is reported, not raised: the doctor always finishes its report."""
    try:
        return probe()
    except Exception as exc:
        return Finding(name=name, present=False, enables="unknown", detail=f"probe failed: {exc!r}"[:300])
