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
- ``pulumi_command``: the CLI, or ``MissingToolError`` (exit 4) saying how to install it.

The Pulumi stack is named ``<name>.<cloud>`` so the same stack name on two clouds never shares state.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
CLOUDS = ("aws", "gcp", "azure")
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
    raise ConfigError(f"cloud: '{stack.cloud}' is not deployed with Pulumi; allowed: {', '.join(CLOUDS)}")


def stack_config(
    stack: Stack, *, env: Mapping[str, str] | None = None, require_secrets: bool = True
) -> dict[str, auto.ConfigValue]:
    """The stack's Pulumi config: provider keys, ``mbops:*`` keys, and the app's secrets as one secret value.

    ``app.secret_env`` {NAME: "env:VAR"} is read from the environment now; a missing variable is a ConfigError
    (or skipped with ``require_secrets=False``)."""
    from pulumi.automation import ConfigValue

    env = os.environ if env is None else env
    values = {
        **provider_config(stack),
        "mbops:name": stack.name, "mbops:profile": stack.profile, "mbops:cloud": stack.cloud,
        "mbops:environment": stack.environment, "mbops:region": stack.region,
    }  # fmt: skip
    if stack.source not in ("flags", "") and Path(stack.source).is_file():
        values["mbops:stackFile"] = str(Path(stack.source).resolve())
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


def pulumi_command(purpose: str | None = None) -> Any:
    """``PulumiCommand()`` for the ``pulumi`` on PATH, or MissingToolError (exit 4) saying how to get it."""
    import subprocess

    from pulumi.automation import PulumiCommand
    from pulumi.automation.errors import InvalidVersionError
    from semver import VersionInfo

    needs = f"`{purpose}` needs the Pulumi CLI" if purpose else "this command needs the Pulumi CLI"
    try:
        return PulumiCommand(version=VersionInfo.parse(MIN_CLI_VERSION))
    except FileNotFoundError:
        raise MissingToolError(f"{needs}, and `pulumi` is not on PATH.\n{INSTALL_HINT}") from None
    except PermissionError as exc:
        where = exc.filename or "pulumi"
        raise MissingToolError(f"{needs}, but {where} is not executable.\n{INSTALL_HINT}") from None
    except InvalidVersionError as exc:
        raise MissingToolError(f"{needs}: {exc}\n{INSTALL_HINT}") from None
    except (subprocess.CalledProcessError, OSError) as exc:
        raise MissingToolError(f"{needs}, but `pulumi version` failed ({exc}).\n{INSTALL_HINT}") from None


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


def failure_tail(stdout: str, stderr: str, limit: int = 20) -> str:
    """The useful end of a failed command's output: its diagnostics and stderr, else the end of stdout."""
    errors = [line.rstrip() for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    lines = diagnostics(stdout) + errors
    if not lines:
        lines = [line.rstrip() for line in _ANSI.sub("", stdout).splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        if not kept or kept[-1] != line:
            kept.append(line)
    return "\n".join(kept[-limit:]) or "(the Pulumi CLI printed nothing)"


def policy_violations(text: str) -> list[str]:
    """The mandatory violations the CLI reported: ``[mandatory] pack rule (resource)`` lines (+ message)."""
    found, lines = [], _ANSI.sub("", text).splitlines()
    for i, line in enumerate(lines):
        if "[mandatory]" in line:
            found.append(line.strip())
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if following and not following.startswith("[") and not following.endswith(":"):
                found.append(f"  {following}")
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
    if _POLICY.search(text) or (policy_violations(text) and "Policy Violations" in text):
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
        "version": summary.version,
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
) -> dict[str, Any]:
    """Run ``action`` (up|preview|destroy|refresh|outputs) on ``stack``'s cloud with the Pulumi CLI.

    Streams the CLI's output through ``echo`` and returns {"action", "stack", "backend", ...}: ``outputs`` for
    up and outputs (secrets as "[secret]"), ``changes`` (op -> count) and ``result`` for the others.
    """
    return _execute(action, stack, backend=backend, yes=yes, echo=echo)


def stack_outputs(stack: Stack, *, backend: str | None = None, show_secrets: bool = False) -> dict[str, Any]:
    """A deployed cloud stack's outputs; secret values only with ``show_secrets`` (``--show-secrets``)."""
    done = _execute(
        "outputs", stack, backend=backend, yes=True, echo=lambda line: None, show_secrets=show_secrets
    )
    return done["outputs"]


def _execute(
    action: str, stack: Stack, *, backend: str | None, yes: bool, echo: Callable[[str], None],
    show_secrets: bool = False,
) -> dict[str, Any]:  # fmt: skip
    from pulumi import automation as auto

    if action not in ACTIONS:
        raise ConfigError(f"action: '{action}' is not one of {', '.join(ACTIONS)}")
    if stack.cloud not in CLOUDS:
        clouds = ", ".join(CLOUDS)
        raise ConfigError(f"cloud: '{stack.cloud}' runs on the embedded engine; Pulumi deploys {clouds}")
    command = pulumi_command(f"mbops {action} --cloud {stack.cloud}")
    if action in ("up", "destroy") and not yes and not is_interactive():
        raise ConfigError(
            f"--yes: `mbops {action} --cloud {stack.cloud}` changes real cloud resources and there is no "
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
            ws.set_all_config(stack_config(stack, require_secrets=action == "up"))
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
        done = ws.destroy(**common) if action == "destroy" else ws.refresh(**common)
        return {**base, **summary_of(done.summary)}
    except auto.CommandError as exc:
        raise translate_failure(
            exc, output, action=action, stack_name=name, backend=url, program_errors=program_errors
        ) from None
    except auto.errors.InvalidVersionError as exc:  # e.g. version checks skipped and the CLI is too old
        raise MissingToolError(f"`mbops {action} --cloud {stack.cloud}`: {exc}\n{INSTALL_HINT}") from None


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
