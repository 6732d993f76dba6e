"""AWS secrets: a Secrets Manager secret per app secret (``app.secret_env``) under the stack's prefix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.naming import physical
from mbops.components.base import MbopsComponent
from mbops.components.spec import SecretsSpec
from mbops.components.wiring import BuildContext, Built, StackInfo

SECRETS_MANAGER_KEY = "alias/aws/secretsmanager"
STORE_TAG = "mbops-secrets-store"  # on every secret of a stack: its name prefix


def secret_prefix(stack_name: str) -> str:
    """The name prefix of every secret a stack stores (``mbops/<stack>/``): its ``secrets_store``."""
    return f"mbops/{stack_name}/"


def recovery_days(stack: StackInfo) -> int:
    """The recovery window of the stack's secrets (its secrets spec; 7 days without one)."""
    spec = stack.specs.get("secrets")
    return spec.recovery_days if spec is not None else 7


def new_secret(
    owner: MbopsComponent,
    name: str,
    child: str,
    *,
    secret_name: str,
    prefix: str,
    recovery_days: int,
    description: str,
) -> aws.secretsmanager.Secret:
    """A KMS-encrypted secret named ``<prefix><secret_name>-<suffix>`` (child ``<child>`` of ``owner``).

    A generated suffix (``name_prefix``) lets a destroyed stack be created again while the old secret waits
    out its recovery window.
    """
    return aws.secretsmanager.Secret(
        name,
        **owner.args(
            child,
            name_prefix=f"{prefix}{secret_name}-",
            description=description,
            kms_key_id=SECRETS_MANAGER_KEY,
            recovery_window_in_days=recovery_days,
            tags={**owner.tags, "secret": secret_name, STORE_TAG: prefix},
        ),
        opts=owner.opts(),
    )


def set_secret_value(
    owner: MbopsComponent, name: str, child: str, secret: aws.secretsmanager.Secret, value: pulumi.Input[str]
) -> aws.secretsmanager.SecretVersion:
    """The secret's current value, always a Pulumi secret (child ``<child>`` of ``owner``)."""
    return aws.secretsmanager.SecretVersion(
        f"{name}-version",
        **owner.args(child, secret_id=secret.id, secret_string=pulumi.Output.secret(value)),
        opts=owner.opts(),
    )


def stored_secret(
    owner: MbopsComponent,
    name: str,
    child: str,
    *,
    secret_name: str,
    prefix: str,
    value: pulumi.Input[str],
    recovery_days: int,
    description: str,
) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion]:
    """A secret and its value: children ``<child>`` and ``<child>_version`` of ``owner``. The app must wait
    for the version (the value), not only the secret: ECS and the VMs read the value when they start."""
    secret = new_secret(
        owner,
        name,
        child,
        secret_name=secret_name,
        prefix=prefix,
        recovery_days=recovery_days,
        description=description,
    )
    return secret, set_secret_value(owner, name, f"{child}_version", secret, value)


@dataclass(kw_only=True)
class SecretsArgs:
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    prefix: str
    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    group_name: str | None = None  # the resource group's (``<group_name>-store``); None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


class Secrets(MbopsComponent):
    """The stack's secret store: Secrets Manager secrets under one name prefix, and a group that lists them.

    Each ``app.secret_env`` value becomes a secret (encrypted with the account's default Secrets Manager
    key, recovery window from the spec). Secrets Manager has no store resource of its own, so the store is
    a resource group gathering every secret of the stack (also ``DATABASE_URL`` and ``REDIS_URL``, which
    the database and cache components create under the same prefix) by its ``mbops-secrets-store`` tag.

    Children: ``group``, ``secret`` and ``secret_version`` (one each per value). ``arns`` maps each name to
    its ARN; ``prefix`` is the stack's secret name prefix (the ``secrets_store`` output).
    """

    kind = "secrets"

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        self.prefix = args.prefix
        query = {
            "ResourceTypeFilters": ["AWS::SecretsManager::Secret"],
            "TagFilters": [{"Key": STORE_TAG, "Values": [args.prefix]}],
        }
        self.group = aws.resourcegroups.Group(
            f"{name}-store",
            **self.args(
                "group",
                name=f"{args.group_name or name}-store",
                description=f"Secrets of the stack, named {args.prefix}*",
                resource_query={"type": "TAG_FILTERS_1_0", "query": json.dumps(query)},
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.versions: list[aws.secretsmanager.SecretVersion] = []
        if not args.values:  # nothing to store yet: overrides for these children are still accepted
            self.args("secret"), self.args("secret_version")
        for secret_name, value in sorted(args.values.items()):
            self.secrets[secret_name], version = stored_secret(
                self,
                f"{name}-{secret_name.lower().replace('_', '-')}",
                "secret",
                secret_name=secret_name,
                prefix=args.prefix,
                value=value,
                recovery_days=args.spec.recovery_days,
                description=f"app secret {secret_name}",
            )
            self.versions.append(version)
        self.arns: dict[str, pulumi.Output[str]] = {k: s.arn for k, s in self.secrets.items()}
        self.finish({"prefix": self.prefix, "arns": self.arns, "group": self.group.name})


def build(ctx: BuildContext) -> Built:
    """The stack's secret store, holding ``app.secret_env`` (the app reads them by ARN)."""
    secrets = Secrets(
        ctx.name, SecretsArgs(spec=ctx.spec, prefix=secret_prefix(ctx.stack.physical_name), values=ctx.app_secrets,
                              group_name=physical(ctx), tags=ctx.stack.tags),
    )  # fmt: skip
    return Built(
        component=secrets, secrets=dict(secrets.arns), depends_on=list(secrets.versions),
        outputs={"secrets_store": secrets.prefix},
    )  # fmt: skip
