"""Shared by the containers (managed) and serverless (saas) components: Azure Container Apps.

One Log Analytics workspace, one Container Apps environment (workload-profiles type, Consumption profile)
and one container app: HTTPS-only external ingress on the app port, HTTP autoscaling between the app's
min/max replicas, health probes on the health path, a user-assigned identity, and every secret (DATABASE_URL,
REDIS_URL, app secrets) as a Key Vault reference resolved by that identity - never a value in the app spec.
The image is the registry's pushed digest (or the prebuilt ``app.image``), pulled from the stack's ACR with
the same identity (``registries: [{server, identity}]``; no registry password anywhere).

First deploy: a revision resolves its Key Vault references and pulls its image when it is created, so the app
waits for the identity's role assignments to propagate (``rbac_wait``, see ``arm.py``) as well as for them to
exist. With a PostgreSQL database the app logs in as its own role (``database.SETUP_SQL``), which a manual
Container Apps job in the same environment (so inside the VNet) creates before the app starts: it runs the
PostgreSQL client image of the server's version, built into the stack's registry and run by digest, as its own
identity - the only one that may read the admin URL - and ``JobRun`` starts it and waits for it to succeed
(again whenever either URL changes). With an edge (prod) the environment's public network access is off: Front
Door Premium reaches it over Private Link (``edge.py``), so the WAF cannot be bypassed through the app's own
hostname.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import app as containerapps
from pulumi_azure_native import monitor, operationalinsights

from mbops.components.azure.app import AppArgs, plain_env
from mbops.components.azure.common import AzureComponent
from mbops.components.spec import AppSpec, BuildSpec
from mbops.errors import ConfigError

MAX_CONSUMPTION_CPU = 4.0
SETUP_IMAGE_CONTEXT = Path(__file__).resolve().parent / "db_setup"


def container_resources(cpu: float, memory_mb: int) -> tuple[float, str]:
    """A valid Consumption-profile size for the app: cpu in 0.25 steps with exactly 2 GiB per vCPU.

    Container Apps accepts only those pairs, so the app gets the smallest one that covers both its cpu and
    its memory (e.g. 0.5 vCPU / 512 MiB -> 0.5 vCPU / 1Gi).
    """
    needed = max(cpu, memory_mb / 2048)
    rounded = math.ceil(needed * 4 - 1e-9) / 4
    if rounded > MAX_CONSUMPTION_CPU:
        raise ConfigError(
            f"app.cpu/app.memory_mb: {cpu} vCPU / {memory_mb} MiB exceeds the Container Apps Consumption "
            f"profile (at most {MAX_CONSUMPTION_CPU:g} vCPU / 8 GiB); lower them or add a dedicated workload "
            "profile through overrides"
        )
    memory = rounded * 2
    return rounded, f"{memory:g}Gi"


# A replica is restarted only after its health path has failed this long: the health path answers 503 while the
# database is unreachable, and a failover (a minute or two) must not restart every replica at once. Readiness
# (quick) takes a failing replica out of traffic meanwhile; a crashed container is restarted at once anyway.
HEAL_AFTER_S = 300


def probes(app: AppSpec) -> list[dict[str, Any]]:
    """Startup, liveness and readiness probes on the app's health path (within Container Apps' limits: period
    1-240 s, failure threshold 1-10): liveness restarts a replica after ``HEAL_AFTER_S`` of failures."""
    http = {"path": app.health_path, "port": app.port, "scheme": "HTTP"}
    return [
        {
            "type": "Startup",
            "http_get": http,
            "initial_delay_seconds": 3,
            "period_seconds": 5,
            "failure_threshold": 10,
            "timeout_seconds": 3,
        },
        {
            "type": "Liveness",
            "http_get": http,
            "period_seconds": HEAL_AFTER_S // 10,
            "failure_threshold": 10,
            "timeout_seconds": 10,
        },
        {
            "type": "Readiness",
            "http_get": http,
            "period_seconds": 5,
            "failure_threshold": 3,
            "timeout_seconds": 3,
        },
    ]


def env_vars(args: AppArgs) -> list[dict[str, Any]]:
    """The app's environment: plain values, then secret references by name (never values)."""
    env = [{"name": k, "value": v} for k, v in plain_env(args.app, args.wiring, args.identity.client_id).items()]
    env += [{"name": k, "secret_ref": secret} for k, secret in args.wiring.secrets.items()]
    return env


class ContainerAppsComponent(AzureComponent):
    """Base of Containers and Serverless: builds the workspace, environment and app (children below).

    Children: ``log_workspace``, ``environment``, ``environment_diagnostics``, ``app`` (and the ``RbacWait``
    resource ``<name>-rbac-wait``), and with a database the setup job's (``database_setup``).
    """

    def build_apps(
        self,
        args: AppArgs,
        *,
        log_retention_days: int,
        infrastructure_subnet_id: pulumi.Input[str] | None = None,
        zone_redundant: bool = False,
    ) -> None:
        ctx, name = self.ctx, self.prefix
        self.log_workspace = operationalinsights.Workspace(
            f"{name}-logs",
            **self.args(
                "log_workspace",
                **self.base(
                    workspace_name=ctx.name("log", 63, unique=False),
                    sku={"name": "PerGB2018"},
                    retention_in_days=max(30, log_retention_days),
                    features={
                        "enable_log_access_using_only_resource_permissions": True,
                        "disable_local_auth": True,
                    },
                ),
            ),
            opts=self.opts(),
        )
        env_args: dict[str, Any] = self.base(
            environment_name=ctx.name("cae", 60, unique=False),
            # Logs flow through Azure Monitor diagnostic settings: no workspace shared key in the environment.
            app_logs_configuration={"destination": "azure-monitor"},
            workload_profiles=[{"name": "Consumption", "workload_profile_type": "Consumption"}],
            peer_traffic_configuration={"encryption": {"enabled": True}},
            public_network_access="Disabled" if args.private_entry else "Enabled",
            zone_redundant=zone_redundant,
        )
        if infrastructure_subnet_id is not None:
            env_args["vnet_configuration"] = {
                "infrastructure_subnet_id": infrastructure_subnet_id,
                "internal": False,
            }
        self.environment = containerapps.ManagedEnvironment(
            f"{name}-env", **self.args("environment", **env_args), opts=self.opts()
        )
        monitor.DiagnosticSetting(
            f"{name}-env-diagnostics",
            **self.args(
                "environment_diagnostics",
                name="to-log-analytics",
                resource_uri=self.environment.id,
                workspace_id=self.log_workspace.id,
                logs=[{"category_group": "allLogs", "enabled": True}],
                metrics=[{"category": "AllMetrics", "enabled": True}],
            ),
            opts=self.opts(),
        )
        app, identity = args.app, args.identity
        from mbops.components.azure.arm import RbacWait

        self.rbac_wait = RbacWait(f"{name}-rbac-wait", args.assignments, opts=self.opts())
        registries = (
            [{"server": args.registry_server, "identity": identity.id}] if args.registry_server is not None else []
        )
        self.app_name = ctx.name("ca", 32, unique=False)
        setup_run = [database_setup(self, args, self.environment.id)] if args.database_setup is not None else []
        cpu, memory = container_resources(app.cpu, app.memory_mb)
        secrets = [
            {"name": s, "key_vault_url": args.vault.secret_url(s), "identity": identity.id}
            for s in sorted(set(args.wiring.secrets.values()))
        ]
        self.app = containerapps.ContainerApp(
            f"{name}-app",
            **self.args(
                "app",
                **self.base(
                    container_app_name=self.app_name,
                    managed_environment_id=self.environment.id,
                    workload_profile_name="Consumption",
                    identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
                    configuration={
                        "active_revisions_mode": "Single",
                        "ingress": {
                            "external": True,
                            "target_port": app.port,
                            "allow_insecure": False,
                            "transport": "auto",
                            "traffic": [{"latest_revision": True, "weight": 100}],
                        },
                        "secrets": secrets,
                        "registries": registries,
                    },
                    template={
                        "containers": [
                            {
                                "name": "app",
                                "image": args.image,
                                "resources": {"cpu": cpu, "memory": memory},
                                "env": env_vars(args),
                                "probes": probes(app),
                            }
                        ],
                        "scale": {
                            "min_replicas": app.min_replicas,
                            "max_replicas": app.max_replicas,
                            "rules": [
                                {
                                    "name": "http-concurrency",
                                    "http": {"metadata": {"concurrentRequests": "50"}},
                                }
                            ],
                        },
                    },
                ),
            ),
            opts=self.opts(depends_on=[*args.wiring.depends_on, self.rbac_wait, *setup_run]),
        )
        self.fqdn = self.app.configuration.apply(lambda c: c.ingress.fqdn if c and c.ingress else None)
        self.url = self.app.configuration.apply(
            lambda c: f"https://{c.ingress.fqdn}" if c and c.ingress and c.ingress.fqdn else None
        )


def database_setup(comp: AzureComponent, args: AppArgs, environment_id: pulumi.Input[str]) -> pulumi.Resource:
    """The job that creates the app's PostgreSQL role in the Container Apps environment ``environment_id`` (so
    inside the VNet), and its run (see the module docstring); the app depends on the returned run.

    Children of ``comp``: ``setup_identity``, ``setup_reader_admin``, ``setup_reader_app``, ``setup_pull`` (with a
    registry), ``setup_job``, and the dynamic ``<name>-setup-image``, ``<name>-setup-rbac-wait``,
    ``<name>-setup-run``.
    """
    from pulumi_azure_native import managedidentity

    from mbops.components.azure.arm import JobRun, RbacWait, arm_token

    ctx, name, setup = comp.ctx, comp.prefix, args.database_setup
    identity = managedidentity.UserAssignedIdentity(
        f"{name}-setup-identity",
        **comp.args("setup_identity", **comp.base(resource_name_=ctx.name("id-dbsetup", 128, unique=False))),
        opts=comp.opts(),
    )
    grants = [
        comp.grant(f"setup_reader_{which}", role="Key Vault Secrets User", scope=args.vault.secret_id(secret),
                   principal_id=identity.principal_id, key=f"dbsetup-kv/{secret}", depends_on=setup.secrets)
        for which, secret in (("admin", setup.admin_secret), ("app", setup.app_secret))
    ]  # fmt: skip
    registry = args.registry
    if registry is not None:
        grants.append(comp.grant("setup_pull", role="AcrPull", scope=registry.registry.id,
                                 principal_id=identity.principal_id, key="dbsetup-acr"))  # fmt: skip
        build = BuildSpec(context=str(SETUP_IMAGE_CONTEXT), args={"PG_MAJOR": setup.engine_version})
        image: pulumi.Input[str] = registry.push(f"{name}-setup-image", build, "db-setup", parent=comp)
    else:  # no registry to build into: Docker Hub's image by its tag (the image-pinned policy says so)
        image = f"docker.io/library/postgres:{setup.engine_version}-alpine"
    propagated = RbacWait(f"{name}-setup-rbac-wait", grants, opts=comp.opts())
    secrets = [{"name": ref, "key_vault_url": args.vault.secret_url(secret), "identity": identity.id}
               for ref, secret in (("admin-url", setup.admin_secret), ("app-url", setup.app_secret))]  # fmt: skip
    job = containerapps.Job(
        f"{name}-setup",
        **comp.args(
            "setup_job",
            **comp.base(
                job_name=ctx.name("job-dbsetup", 32, unique=False), environment_id=environment_id,
                workload_profile_name="Consumption",
                identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
                configuration={
                    "trigger_type": "Manual", "replica_timeout": 900, "replica_retry_limit": 1,
                    "manual_trigger_config": {"parallelism": 1, "replica_completion_count": 1},
                    "secrets": secrets,
                    "registries": [{"server": registry.server, "identity": identity.id}] if registry else [],
                },
                template={"containers": [{
                    "name": "psql", "image": image, "command": ["/bin/sh", "-c"], "args": [setup.script],
                    "resources": {"cpu": 0.25, "memory": "0.5Gi"},
                    "env": [{"name": "DATABASE", "value": setup.database},
                            {"name": "ADMIN_URL", "secret_ref": "admin-url"},
                            {"name": "APP_URL", "secret_ref": "app-url"}],
                }]},
            ),
        ),
        opts=comp.opts(depends_on=[propagated, setup.server]),
    )  # fmt: skip
    return JobRun(
        f"{name}-setup-run", job_id=job.id, run_key=setup.run_key, token=arm_token(comp, after=[job]),
        opts=comp.opts(depends_on=[job, *setup.secrets]),
    )  # fmt: skip
