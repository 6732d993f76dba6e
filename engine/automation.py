"""The Pulumi engine for clouds: the stack's program driven through the Pulumi Automation API.

``run(action, stack)`` runs ``mbops.stacks.program.make_program(stack)`` as an inline program with
``create_or_select_stack`` (``select_stack`` for actions that need an existing stack) in a persistent
per-stack workspace under ``$MBOPS_HOME`` (default ``~/.mbops``). It is assembled from small pure functions
that are tested on their own:

- ``backend_url``: ``--backend`` > ``MBOPS_BACKEND`` > ``PULUMI_BACKEND_URL`` > ``file://$MBOPS_HOME/pulumi-state``;
  ``s3://``, ``gs://``, ``azblob://``, ``file://`` and Pulumi Cloud (``https://...`` or ``pulumi cloud``).
- ``secrets_provider``: ``MBOPS_SECRETS_PROVIDER`` (``awskms://``, ``gcpkms://``, ``azurekeyvault://``,
  ``hashivault://``), else ``passphrase`` (needs ``PULUMI_CONFIG_PASSPHRASE`` or ``..._FILE``), or Pulumi
  Cloud's own secrets manager (``default``) when the backend is Pulumi Cloud.
- ``stack_config``: the provider's region/project/location plus ``mbops:*`` keys; the app's ``secret_env``
  values as one secret (``mbops:secretEnv``).
- ``policy_pack_paths``: the repo's CrossGuard pack (``policies/``) when it has ``PulumiPolicy.yaml``.
- ``find_pulumi`` / ``pulumi_command``: the CLI on PATH, else the one ``tools/build-pulumi.sh`` built into
  ``<repo>/.tools/bin`` (``$MBOPS_TOOLS_DIR/bin``), or ``MissingToolError`` (exit 4) saying how to get it.
- ``runtime_env``: the CLI's folder first on PATH (its language host and the Python shims for dynamic providers
  and policy packs live beside it) and ``PULUMI_PYTHON_CMD`` = this Python, so the providers and the policy pack
  import mbops from the same environment.

Every cloud runs here, ``local`` included: its components are Python dynamic providers, which the real engine
runs with no cloud plugin. ``destroy`` with ``delete_data`` first runs an ``up`` of the program built with
``release_data=True`` (data resources lose their deletion protection), then destroys.

The Pulumi stack is named ``<name>.<cloud>`` so the same stack name on two clouds never shares state.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mbops import PULUMI_PROJECT as PROJECT
from mbops.errors import ConfigError, DeployError, MbopsError, MissingToolError, PolicyViolationError
from mbops.stacks.config import Stack

if TYPE_CHECKING:
    from pulumi import automation as auto

ACTIONS = ("up", "preview", "destroy", "refresh", "outputs")
CLOUDS = ("local", "aws", "gcp", "azure")
REPO = Path(__file__).resolve().parents[1]  # the checkout (editable installs): where .tools/ is
# 3.181 is the first CLI that runs inline programs for refresh and destroy (``--client``).
MIN_CLI_VERSION = "3.181.0"
PULUMI_CLOUD = "https://api.pulumi.com"
CLOUD_ALIASES = frozenset(
    {"pulumi cloud", "pulumi-cloud", "pulumi", "cloud", "app.pulumi.com", "api.pulumi.com"}
)
BUCKET_SCHEMES = ("s3://", "gs://", "azblob://")
KMS_SCHEMES = ("awskms://", "gcpkms://", "azurekeyvault://", "hashivault://")
SECRET_SENTINEL = "[secret]"
INSTALL_HINT = (
    "Install the Pulumi CLI (3.181 or newer), then re-run:\n"
    "  curl -fsSL https://get.pulumi.com | sh     # Linux, macOS (then add ~/.pulumi/bin to PATH)\n"
    "  brew install pulumi/tap/pulumi             # macOS\n"
    "  choco install pulumi                       # Windows\n"
    "  or see https://www.pulumi.com/docs/iac/download-install/\n"
    "`mbops preview` works offline without it: the full plan, policy results and cost; no CLI, no account."
)
BUILD_HINT = "In an mbops checkout, tools/build-pulumi.sh builds it from Pulumi's Go modules into .tools/bin."
NO_DRIFT_OPS = frozenset({"same", "read", "refresh"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_COMMAND_ERROR = re.compile(r"\A\s*code: (-?\d+)\n stdout: (.*)\n stderr: (.*)\Z", re.DOTALL)
_POLICY = re.compile(r"mandatory policy violation", re.IGNORECASE)


# --- where things live -------------------------------------------------------------------------------------


def mbops_home(env: Mapping[str, str] | None = None) -> Path:
    """mbops's own folder: ``$MBOPS_HOME`` or ``~/.mbops``."""
    env = os.environ if env is None else env
    return Path(env.get("MBOPS_HOME") or "~/.mbops").expanduser()


def pulumi_stack_name(stack: Stack) -> str:
    """The Pulumi stack for ``stack``: ``<name>.<cloud>`` (a stack name never contains a dot)."""
    return f"{stack.name}.{stack.cloud}"


def backend_url(stack: Stack, backend: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The Pulumi state backend: ``backend`` (the --backend flag), ``MBOPS_BACKEND``, ``PULUMI_BACKEND_URL``,
    else a local file backend under ``$MBOPS_HOME/pulumi-state``. Local paths come back absolute."""
    return resolve_backend(backend, env, for_stack=stack.name)


def resolve_backend(
    flag: str | None = None, env: Mapping[str, str] | None = None, *, for_stack: str = ""
) -> str:
    """``backend_url`` without a stack (``mbops doctor`` uses it)."""
    env = os.environ if env is None else env
    for source, value in (("--backend", flag), ("MBOPS_BACKEND", env.get("MBOPS_BACKEND")),
                          ("PULUMI_BACKEND_URL", env.get("PULUMI_BACKEND_URL"))):  # fmt: skip
        if value and value.strip():
            return _normalize_backend(value.strip(), source, for_stack)
    return f"file://{mbops_home(env) / 'pulumi-state'}"


def _normalize_backend(raw: str, source: str, for_stack: str) -> str:
    if raw.lower() in CLOUD_ALIASES:
        return PULUMI_CLOUD
    if raw.startswith("file://"):
        path = raw.removeprefix("file://")
        if not path:
            raise ConfigError(f"{source}: 'file://' needs a directory, e.g. file://~/.mbops/pulumi-state")
        return f"file://{Path(path).expanduser().resolve()}"
    if raw.startswith(("/", "~", "./", "../")):
        return f"file://{Path(raw).expanduser().resolve()}"
    if raw.startswith(BUCKET_SCHEMES):
        scheme, _, rest = raw.partition("://")
        if not rest.split("?", 1)[0].strip("/"):
            raise ConfigError(f"{source}: '{raw}' names no bucket; e.g. {scheme}://my-state-bucket/mbops")
        return raw
    if raw.startswith("https://"):
        if not raw.removeprefix("https://").strip("/"):
            raise ConfigError(f"{source}: '{raw}' names no host; Pulumi Cloud is {PULUMI_CLOUD}")
        return raw.rstrip("/")
    if raw.startswith("http://"):
        raise ConfigError(f"{source}: '{raw}': state and credentials would travel unencrypted; use https://")
    raise ConfigError(
        f"{source}: '{raw}' is not a Pulumi backend{f' for stack {for_stack}' if for_stack else ''}; "
        "allowed: file://<dir>, "
        f"s3://<bucket>, gs://<bucket>, azblob://<container>, {PULUMI_CLOUD} (or 'pulumi cloud')"
    )


def is_pulumi_cloud(backend: str) -> bool:
    """Whether ``backend`` is Pulumi Cloud (or self-hosted): it has its own secrets manager and locks."""
    return backend.startswith("https://")


def local_backend_dir(backend: str) -> Path | None:
    """The directory of a ``file://`` backend, or None for remote backends."""
    return Path(backend.removeprefix("file://").split("?", 1)[0]) if backend.startswith("file://") else None


def workspace_dir(stack: Stack, backend: str, env: Mapping[str, str] | None = None) -> Path:
    """The persistent workspace of one stack in one backend: Pulumi.yaml, Pulumi.<stack>.yaml (its config
    and encryption salt) and the policy config. Keyed by backend: two backends never share a salt."""
    digest = hashlib.sha256(backend.encode()).hexdigest()[:10]
    return mbops_home(env) / "pulumi" / f"{pulumi_stack_name(stack)}-{digest}"


# --- secrets -----------------------------------------------------------------------------------------------


def secrets_provider(backend: str, env: Mapping[str, str] | None = None) -> str:
    """The secrets provider for new stacks; a ConfigError names the variable to set when it cannot work."""
    env = os.environ if env is None else env
    raw = (env.get("MBOPS_SECRETS_PROVIDER") or "").strip()
    if not raw:
        raw = "default" if is_pulumi_cloud(backend) else "passphrase"
    if raw == "passphrase":
        _check_passphrase(env)
        return raw
    if raw == "default":
        if not is_pulumi_cloud(backend):
            raise ConfigError(
                f"MBOPS_SECRETS_PROVIDER: 'default' is Pulumi Cloud's secrets manager, but the backend is "
                f"{backend}; use passphrase or a KMS key (awskms://, gcpkms://, azurekeyvault://)"
            )
        return raw
    if raw.startswith(KMS_SCHEMES) and raw.partition("://")[2].strip("/"):
        return raw
    raise ConfigError(
        f"MBOPS_SECRETS_PROVIDER: '{raw}' is not a secrets provider; allowed: passphrase, "
        "awskms://<key-id or alias/name>, gcpkms://projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>, "
        "azurekeyvault://<vault>.vault.azure.net/keys/<key>, hashivault://<key>, default (Pulumi Cloud only)"
    )


def _check_passphrase(env: Mapping[str, str]) -> None:
    if env.get("PULUMI_CONFIG_PASSPHRASE"):
        return
    passphrase_file = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if passphrase_file:
        path = Path(passphrase_file).expanduser()
        if path.is_file() and os.access(path, os.R_OK):
            return
        raise ConfigError(f"PULUMI_CONFIG_PASSPHRASE_FILE: {path} is not a readable file")
    empty = " is empty" if "PULUMI_CONFIG_PASSPHRASE" in env else " is not set"
    raise ConfigError(
        f"PULUMI_CONFIG_PASSPHRASE{empty}: the passphrase secrets provider encrypts this stack's secrets "
        "(generated passwords, app secrets) with it. Set it (export PULUMI_CONFIG_PASSPHRASE=...; in CI "
        "from the CI's secret store), or set PULUMI_CONFIG_PASSPHRASE_FILE to a file holding it, or use a "
        "KMS key: MBOPS_SECRETS_PROVIDER=awskms://alias/<name> | gcpkms://... | azurekeyvault://..."
    )


# --- workspace, config, policy -----------------------------------------------------------------------------


def workspace_options(
    stack: Stack, backend: str, *, env: Mapping[str, str] | None = None, command: Any = None
) -> auto.LocalWorkspaceOptions:
    """The LocalWorkspace for ``stack``: project ``mbops`` (python), backend, secrets provider, env."""
    from pulumi import automation as auto

    provider = secrets_provider(backend, env)
    work_dir = workspace_dir(stack, backend, env)
    settings = auto.ProjectSettings(
        name=PROJECT, runtime="python", main=str(work_dir), backend=auto.ProjectBackend(url=backend),
        description="mbops: the backend of a mobile app (managed by mbops; edit the stack file, not this)",
    )  # fmt: skip
    env_vars = {
        # The env var wins over a `pulumi login` the user made for another project.
        "PULUMI_BACKEND_URL": backend,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        **runtime_env(command, env),
    }
    return auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), project_settings=settings, secrets_provider=provider, env_vars=env_vars,
        pulumi_command=command,
    )  # fmt: skip


def provider_config(stack: Stack) -> dict[str, str]:
    """The cloud provider's own config keys for the stack's region (and GCP project)."""
    if stack.cloud == "aws":
        return {"aws:region": stack.region}
    if stack.cloud == "gcp":
        return {"gcp:project": stack.project, "gcp:region": stack.region}
    if stack.cloud == "azure":
        return {"azure-native:location": stack.region}
    if stack.cloud == "local":
        return {}  # dynamic providers only: no cloud plugin, no provider config
    raise ConfigError(f"cloud: '{stack.cloud}' is not deployed with Pulumi; allowed: {', '.join(CLOUDS)}")


def stack_config(
    stack: Stack, *, env: Mapping[str, str] | None = None, require_secrets: bool = True, port_auto: bool = False
) -> dict[str, auto.ConfigValue]:
    """The stack's Pulumi config: provider keys, ``mbops:*`` keys, and the app's secrets as one secret value.

    ``app.secret_env`` {NAME: "env:VAR"} is read from the environment now; a missing variable is a ConfigError
    (or skipped with ``require_secrets=False``). ``port_auto`` (local cloud, ``up --port auto``): a busy
    ``app.port`` moves the app to a free port (``mbops:portAuto``, set on every run so it never sticks)."""
    from pulumi.automation import ConfigValue

    env = os.environ if env is None else env
    values = {
        **provider_config(stack),
        "mbops:name": stack.name, "mbops:profile": stack.profile, "mbops:cloud": stack.cloud,
        "mbops:environment": stack.environment, "mbops:region": stack.region,
    }  # fmt: skip
    if stack.source not in ("flags", "") and Path(stack.source).is_file():
        values["mbops:stackFile"] = str(Path(stack.source).resolve())
    if stack.cloud == "local":
        from mbops.host import state_dir

        # Recorded with the stack, so a later refresh/destroy from any shell acts on the same folders.
        values["mbops:stateDir"] = str(state_dir(env.get("MBOPS_STATE_DIR")))
        values["mbops:portAuto"] = "true" if port_auto else "false"
    config = {key: ConfigValue(value=value) for key, value in values.items()}
    secrets = secret_env_values(stack, env, require=require_secrets)
    if secrets:
        config["mbops:secretEnv"] = ConfigValue(value=json.dumps(secrets, sort_keys=True), secret=True)
    return config


def secret_env_values(stack: Stack, env: Mapping[str, str], *, require: bool = True) -> dict[str, str]:
    """The app's secret values {NAME: value}, read from the variables its ``secret_env`` names."""
    values: dict[str, str] = {}
    for name, source in stack.app.secret_env.items():
        variable = source.removeprefix("env:")
        if variable in env:
            values[name] = env[variable]
        elif require:
            raise ConfigError(
                f"{stack.source}: app.secret_env.{name}: the environment variable {variable} is not set; "
                f"export it before deploying (its value is stored only as a Pulumi secret)"
            )
    return values


def policy_pack_paths() -> list[str]:
    """The repo's CrossGuard policy pack folder(s) when they hold PulumiPolicy.yaml."""
    import importlib.util

    spec = importlib.util.find_spec("mbops.policies")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return [str(Path(loc).resolve()) for loc in locations if (Path(loc) / "PulumiPolicy.yaml").is_file()]


def policy_pack_config(stack: Stack) -> dict[str, dict[str, Any]]:
    """CrossGuard config: the stack's environment for every rule; rules the stack file lowers under
    ``policy.advisory`` become advisory with their written reason (the same config the offline checks use)."""
    from mbops.policies.pack import pack_config

    return pack_config(stack)


# --- the CLI -----------------------------------------------------------------------------------------------


def tools_bin_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where ``tools/build-pulumi.sh`` installs the CLI: ``$MBOPS_TOOLS_DIR/bin``, default ``<repo>/.tools/bin``."""
    env = os.environ if env is None else env
    return Path(env.get("MBOPS_TOOLS_DIR") or REPO / ".tools").expanduser() / "bin"


def find_pulumi(env: Mapping[str, str] | None = None) -> tuple[Path, str] | None:
    """(path, where) of the Pulumi CLI: ``pulumi`` on PATH ("PATH"), else the repo's build ("tools")."""
    env = os.environ if env is None else env
    on_path = shutil.which("pulumi", path=env.get("PATH", os.defpath))
    if on_path:
        return Path(on_path), "PATH"
    built = tools_bin_dir(env) / "pulumi"
    if built.is_file() and os.access(built, os.X_OK):
        return built, "tools"
    return None


def pulumi_command(purpose: str | None = None) -> Any:
    """``PulumiCommand`` for the CLI ``find_pulumi`` finds, or MissingToolError (exit 4) saying how to get it."""
    import subprocess

    from pulumi.automation import PulumiCommand
    from pulumi.automation.errors import InvalidVersionError
    from semver import VersionInfo

    needs = f"`{purpose}` needs the Pulumi CLI" if purpose else "this command needs the Pulumi CLI"
    found = find_pulumi()
    hint = INSTALL_HINT + (f"\n{BUILD_HINT}" if (REPO / "tools" / "build-pulumi.sh").is_file() else "")
    if found is None:
        raise MissingToolError(
            f"{needs}, and `pulumi` is neither on PATH nor in {tools_bin_dir()}.\n{hint}"
        )
    path, where = found
    # The Automation API runs `<root>/bin/pulumi`; a CLI on PATH runs as `pulumi`, found the same way.
    root = str(path.parent.parent) if where == "tools" else None
    try:
        return PulumiCommand(root=root, version=VersionInfo.parse(MIN_CLI_VERSION))
    except FileNotFoundError:
        raise MissingToolError(f"{needs}, and {path} disappeared.\n{hint}") from None
    except PermissionError as exc:
        raise MissingToolError(f"{needs}, but {exc.filename or path} is not executable.\n{hint}") from None
    except InvalidVersionError as exc:
        raise MissingToolError(f"{needs}: {exc} ({path})\n{hint}") from None
    except (subprocess.CalledProcessError, OSError) as exc:
        raise MissingToolError(f"{needs}, but `{path} version` failed ({exc}).\n{hint}") from None


def runtime_env(command: Any = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the CLI needs in its environment: this Python for programs, dynamic providers and policy packs
    (``PULUMI_PYTHON_CMD``), and, given the command, its folder first on PATH (the language host and the
    ``pulumi-resource-pulumi-python`` / ``pulumi-analyzer-policy-python`` shims sit beside the CLI)."""
    env = os.environ if env is None else env
    values = {"PULUMI_PYTHON_CMD": sys.executable}
    executable = getattr(command, "command", None)
    resolved = shutil.which(executable, path=env.get("PATH", os.defpath)) if executable else None
    if resolved:
        folder = str(Path(resolved).parent)
        rest = [d for d in env.get("PATH", os.defpath).split(os.pathsep) if d and d != folder]
        values["PATH"] = os.pathsep.join([folder, *rest])
    return values


def is_interactive(env: Mapping[str, str] | None = None) -> bool:
    """Whether a person can answer a prompt: stdin and stdout are terminals and this is not CI."""
    env = os.environ if env is None else env
    if env.get("CI", "").lower() not in ("", "0", "false"):
        return False
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# --- failures ----------------------------------------------------------------------------------------------


def split_command_error(text: str) -> tuple[str, str]:
    """(stdout, stderr) from a CommandError's text (``code: N / stdout: ... / stderr: ...``)."""
    match = _COMMAND_ERROR.match(text)
    if not match:
        return "", text
    return match.group(2), match.group(3)


def diagnostics(stdout: str) -> list[str]:
    """The lines of the CLI's ``Diagnostics:`` section (where providers' errors are)."""
    lines, inside = [], False
    for line in _ANSI.sub("", stdout).splitlines():
        if line.strip() == "Diagnostics:":
            inside = True
            continue
        if inside and line and not line[0].isspace():
            inside = False
        if inside and line.strip():
            lines.append(line.rstrip())
    return lines


def without_tracebacks(lines: list[str]) -> list[str]:
    """``lines`` without the frames of Python tracebacks (a dynamic provider's error arrives with its whole
    traceback): the ``Traceback ...`` line and what is indented under it go, the exception line stays."""
    kept: list[str] = []
    frames_below: int | None = None
    head = ""
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if "Traceback (most recent call last):" in line:
            frames_below = indent
            head = line.split("Traceback (most recent call last):", 1)[0].rstrip()  # e.g. "    error:"
            continue
        if frames_below is not None and indent > frames_below:
            continue
        if frames_below is not None and head.strip():  # "error: <the exception>" on one line
            line = f"{head} {line.strip()}"
        frames_below, head = None, ""
        kept.append(line)
    return kept


def failure_tail(stdout: str, stderr: str, limit: int = 20) -> str:
    """The useful end of a failed command's output: its diagnostics (without Python traceback frames) and
    stderr, else the end of stdout."""
    errors = [line.rstrip() for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    lines = without_tracebacks(diagnostics(stdout)) + errors
    if not lines:
        lines = [line.rstrip() for line in _ANSI.sub("", stdout).splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        if not kept or kept[-1] != line:
            kept.append(line)
    return "\n".join(kept[-limit:]) or "(the Pulumi CLI printed nothing)"


def policy_violations(text: str) -> list[str]:
    """The mandatory violations the CLI reported, each rule line followed by its message lines (indented).

    Current CLIs print a ``Policies:`` section (``- [mandatory] [severity: high]  rule  (type: name)`` with the
    description, the violation and the fix indented below it); older ones a ``Policy Violations:`` section
    (``[mandatory]  pack v1  rule (type: name)`` with the message on the next line). A report seen twice (the
    streamed output and the error's copy) is listed once."""
    found: list[str] = []
    lines = _ANSI.sub("", text).splitlines()
    for i, line in enumerate(lines):
        if "[mandatory]" not in line:
            continue
        entry = [line.strip().removeprefix("- ").strip()]
        indent = len(line) - len(line.lstrip())
        for following in lines[i + 1 :]:
            stripped = following.strip()
            deeper = len(following) - len(following.lstrip()) > indent
            if not stripped or stripped.startswith(("- [", "[")) or (not deeper and stripped.endswith(":")):
                break
            entry.append(f"  {stripped}")
            if not deeper:  # the older format: one message line at the rule's own indent
                break
        if entry[0] not in found:
            found.extend(entry)
    return found


def translate_failure(
    exc: Exception, output: list[str], *, action: str, stack_name: str, backend: str,
    program_errors: list[BaseException],
) -> MbopsError:  # fmt: skip
    """Map a CLI failure to the error a user can act on (and its exit code)."""
    from pulumi.automation import errors as auto_errors

    stdout, stderr = split_command_error(str(exc))
    text = "\n".join([*output, stdout, stderr])
    mbops_cause = next((e for e in program_errors if isinstance(e, MbopsError)), None)
    if mbops_cause is not None:
        return mbops_cause
    if _POLICY.search(text) or (policy_violations(text) and re.search(r"^\s*Polic(?:y Violations|ies):", text, re.M)):
        rules = policy_violations(text)
        listed = "\n".join(f"  {line}" for line in rules) if rules else f"  {failure_tail(stdout, stderr)}"
        return PolicyViolationError(
            f"`mbops {action}` of {stack_name} stopped: mandatory policy violations:\n{listed}\n"
            "Fix the resources, or lower a rule to advisory in the stack file "
            "(policy.advisory: {rule: written reason})."
        )
    if isinstance(exc, auto_errors.StackNotFoundError):
        return ConfigError(
            f"no stack '{stack_name}' in the backend {backend}: nothing is deployed there yet "
            f"(run `mbops up` first, or pass the --backend the stack was deployed with)"
        )
    if isinstance(exc, auto_errors.ConcurrentUpdateError):
        return DeployError(
            f"stack {stack_name} is locked by another update in {backend}; wait for it to finish. If that "
            f"update crashed, clear the lock with `pulumi cancel --stack {stack_name}` (DIY backends: delete "
            f"the lock file under .pulumi/locks) and re-run.\n{failure_tail(stdout, stderr, limit=5)}"
        )
    if re.search(r"incorrect passphrase|passphrase must be set|PULUMI_CONFIG_PASSPHRASE", text):
        return ConfigError(
            f"PULUMI_CONFIG_PASSPHRASE: the CLI could not decrypt stack {stack_name}'s secrets with it; set "
            f"the passphrase the stack was created with.\n{failure_tail(stdout, stderr, limit=5)}"
        )
    return DeployError(f"`pulumi {action}` failed for stack {stack_name}:\n{failure_tail(stdout, stderr)}")


# --- results -----------------------------------------------------------------------------------------------


def plain_outputs(outputs: Mapping[str, Any], *, show_secrets: bool = False) -> dict[str, Any]:
    """Stack outputs as plain values, secrets shown as ``[secret]`` unless ``show_secrets``."""
    hide = not show_secrets
    return {key: SECRET_SENTINEL if out.secret and hide else out.value for key, out in outputs.items()}


def summary_of(summary: Any) -> dict[str, Any]:
    """The interesting part of an UpdateSummary."""
    if summary is None:
        return {}
    duration = None
    if summary.start_time and summary.end_time:
        duration = round((summary.end_time - summary.start_time).total_seconds(), 1)
    return {
        "result": summary.result,
        "changes": dict(summary.resource_changes or {}),
        "version": summary.version or None,  # file and bucket backends number no updates (always 0)
        "duration_s": duration,
    }


# --- run ---------------------------------------------------------------------------------------------------


def _guarded(program: Callable[[], None], errors: list[BaseException]) -> Callable[[], None]:
    """Remember what the inline program raised: the CLI only reports it as a runtime error."""

    def wrapped() -> None:
        try:
            program()
        except BaseException as exc:
            errors.append(exc)
            raise

    return wrapped


def _confirm(question: str) -> bool:
    import click

    return click.confirm(question, default=False)


def _prepare_dirs(opts: Any, backend: str) -> None:
    for folder in (Path(opts.work_dir), local_backend_dir(backend)):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def run(
    action: str,
    stack: Stack,
    *,
    backend: str | None = None,
    yes: bool = False,
    echo: Callable[[str], None] = print,
    delete_data: bool = False,
    port_auto: bool = False,
) -> dict[str, Any]:
    """Run ``action`` (up|preview|destroy|refresh|outputs) on ``stack`` with the Pulumi CLI.

    Streams the CLI's output through ``echo`` and returns {"action", "stack", "backend", ...}: ``outputs`` for
    up and outputs (secrets as "[secret]"), ``changes`` (op -> count) and ``result`` for the others; refresh
    adds ``drift`` (whether the live resources differed from the state). ``delete_data`` (destroy only) first
    runs an up of the program with ``release_data=True`` so data resources can be deleted, then destroys.
    ``port_auto``: see ``stack_config``.
    """
    if delete_data and action != "destroy":
        raise ConfigError(f"delete_data: only `destroy` deletes data, not `{action}`")
    return _execute(action, stack, backend=backend, yes=yes, echo=echo, delete_data=delete_data, port_auto=port_auto)


def stack_outputs(stack: Stack, *, backend: str | None = None, show_secrets: bool = False) -> dict[str, Any]:
    """A deployed stack's outputs; secret values only with ``show_secrets`` (``--show-secrets``)."""
    done = _execute(
        "outputs", stack, backend=backend, yes=True, echo=lambda line: None, show_secrets=show_secrets
    )
    return done["outputs"]


def release_program(stack: Stack) -> Callable[[], None]:
    """The stack's program with its data resources made deletable (``make_program(release_data=True)``)."""
    import inspect

    from mbops.stacks.program import make_program

    if "release_data" not in inspect.signature(make_program).parameters:
        raise DeployError(
            "destroy --delete-data on the Pulumi engine needs mbops.stacks.program.make_program(release_data=...)"
            ", which this mbops lacks: nothing was deleted"
        )
    return make_program(stack, release_data=True)


def drift_of(changes: Mapping[str, int]) -> bool:
    """Whether a refresh's change summary shows drift (anything other than unchanged resources)."""
    return any(count for op, count in changes.items() if op not in NO_DRIFT_OPS)


def _execute(
    action: str, stack: Stack, *, backend: str | None, yes: bool, echo: Callable[[str], None],
    show_secrets: bool = False, delete_data: bool = False, port_auto: bool = False,
) -> dict[str, Any]:  # fmt: skip
    from pulumi import automation as auto

    if action not in ACTIONS:
        raise ConfigError(f"action: '{action}' is not one of {', '.join(ACTIONS)}")
    if stack.cloud not in CLOUDS:
        raise ConfigError(f"cloud: '{stack.cloud}' is not one of {', '.join(CLOUDS)}")
    command = pulumi_command(f"mbops {action} --cloud {stack.cloud}")
    if action in ("up", "destroy") and not yes and not is_interactive():
        raise ConfigError(
            f"--yes: `mbops {action} --cloud {stack.cloud}` changes real resources and there is no "
            f"terminal to confirm on (CI or a pipe); pass --yes to {action} without a prompt"
        )
    url = backend_url(stack, backend)
    opts = workspace_options(stack, url, command=command)
    _prepare_dirs(opts, url)
    name = pulumi_stack_name(stack)
    output: list[str] = []
    program_errors: list[BaseException] = []

    def stream(line: str) -> None:
        output.append(line)
        echo(line)

    from mbops.stacks.program import make_program

    program = _guarded(make_program(stack), program_errors)
    base = {"action": action, "stack": name, "backend": url}
    try:
        if action in ("up", "preview"):
            ws = auto.create_or_select_stack(name, project_name=PROJECT, program=program, opts=opts)
            # A preview may run without the app's secrets (the program plans a placeholder); up may not.
            ws.set_all_config(stack_config(stack, require_secrets=action == "up", port_auto=port_auto))
        else:
            ws = auto.select_stack(name, project_name=PROJECT, program=program, opts=opts)
        if action == "outputs":
            return {**base, "outputs": plain_outputs(ws.outputs(), show_secrets=show_secrets)}
        echo(f"Pulumi stack {name} ({stack.profile} on {stack.cloud}, {stack.environment}) in {url}")
        policy = _policy_args(stack, Path(opts.work_dir)) if action in ("up", "preview") else {}
        common = {"color": "never", "on_output": stream, "on_error": stream}
        if action in ("up", "destroy") and not yes:
            preview = ws.preview(**common, **policy) if action == "up" else ws.preview_destroy(**common)
            if not _confirm(f"Do you want to perform this {action} on {name}?"):
                return {**base, "result": "cancelled", "changes": dict(preview.change_summary or {})}
        if action == "preview":
            result = ws.preview(**common, **policy)
            return {**base, "result": "previewed", "changes": dict(result.change_summary or {})}
        if action == "up":
            up = ws.up(**common, **policy)
            return {**base, **summary_of(up.summary), "outputs": plain_outputs(up.outputs)}
        if action == "refresh":
            done = ws.refresh(**common)
            summary = summary_of(done.summary)
            return {**base, **summary, "drift": drift_of(summary.get("changes") or {})}
        if delete_data:
            echo(f"Releasing {name}'s data resources (deletion protection off) before deleting them")
            released = _guarded(release_program(stack), program_errors)
            auto.select_stack(name, project_name=PROJECT, program=released, opts=opts).up(**common)
        done = ws.destroy(**common)
        return {**base, **summary_of(done.summary), "deleted_data": delete_data}
    except auto.CommandError as exc:
        raise translate_failure(
            exc, output, action=action, stack_name=name, backend=url, program_errors=program_errors
        ) from None
    except auto.errors.InvalidVersionError as exc:  # e.g. version checks skipped and the CLI is too old
        raise MissingToolError(f"`mbops {action} --cloud {stack.cloud}`: {exc}\n{INSTALL_HINT}") from None


def list_stacks(backend: str | None = None, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every mbops stack in ``backend`` (``pulumi stack ls``): name, cloud, profile and environment (from this
    machine's workspace of the stack, when it has one), resources, last update, whether an update runs now."""
    from pulumi import automation as auto

    env = os.environ if env is None else env
    url = resolve_backend(backend, env)
    command = pulumi_command("mbops stacks --engine pulumi")
    work_dir = mbops_home(env) / "pulumi" / f"_stacks-{hashlib.sha256(url.encode()).hexdigest()[:10]}"
    settings = auto.ProjectSettings(name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=url))
    for folder in (work_dir, local_backend_dir(url)):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        workspace = auto.LocalWorkspace(
            work_dir=str(work_dir), project_settings=settings, pulumi_command=command,
            env_vars={"PULUMI_BACKEND_URL": url, "PULUMI_SKIP_UPDATE_CHECK": "true", **runtime_env(command, env)},
        )  # fmt: skip
        summaries = workspace.list_stacks()
    except auto.CommandError as exc:
        stdout, stderr = split_command_error(str(exc))
        raise DeployError(f"listing the stacks in {url} failed:\n{failure_tail(stdout, stderr)}") from None
    rows = []
    for item in sorted(summaries, key=lambda summary: summary.name):
        mbops_name, _, cloud = item.name.rpartition(".")
        recorded = _recorded_config(item.name, url, env)
        rows.append({
            "name": mbops_name or item.name, "cloud": cloud if mbops_name else recorded.get("mbops:cloud", ""),
            "profile": recorded.get("mbops:profile", ""), "environment": recorded.get("mbops:environment", ""),
            "resources": item.resource_count or 0,
            "last_update": item.last_update.isoformat() if item.last_update else None,
            "locked_by": "an update in progress" if item.update_in_progress else None,
            "pulumi_stack": item.name, "backend": url, "url": item.url,
        })  # fmt: skip
    return rows


def _recorded_config(pulumi_stack: str, backend: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The plain config this machine's workspace holds for a stack (empty when it deployed elsewhere)."""
    import yaml

    digest = hashlib.sha256(backend.encode()).hexdigest()[:10]
    path = mbops_home(env) / "pulumi" / f"{pulumi_stack}-{digest}" / f"Pulumi.{pulumi_stack}.yaml"
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {key: value for key, value in config.items() if isinstance(value, str)}


def _policy_args(stack: Stack, work_dir: Path) -> dict[str, list[str]]:
    """policy_packs (and the advisory config file, written to the workspace) for up and preview."""
    packs = policy_pack_paths()
    if not packs:
        return {}
    args = {"policy_packs": packs}
    config = policy_pack_config(stack)
    if config:
        path = work_dir / "policy-config.json"
        path.write_text(json.dumps(config, indent=2) + "\n")
        args["policy_pack_configs"] = [str(path)] * len(packs)
    return args
