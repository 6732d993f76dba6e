"""The app's own PostgreSQL role on Cloud SQL, created by a one-off Cloud Run job before the app starts.

Every user the Cloud SQL API creates is a member of ``cloudsqlsuperuser`` (it can create roles and databases,
read every database): that is the admin (``mbops_admin``), whose URL lives in Secret Manager for operators and
is never given to the app. The app logs in as ``app``, a plain role (no superuser, no CREATEDB/CREATEROLE) that
may connect to and create objects in its own database only. Creating it takes SQL on a private IP, so a Cloud
Run job in the stack's subnet (Direct VPC egress) runs ``psql`` once per change of the passwords or the script
(``run_execution_token``): ``pulumi up`` waits until it has succeeded, and the app depends on it.

The job's image is the official PostgreSQL client image of the server's major version (``db_setup/Dockerfile``),
built and pushed to the stack's Artifact Registry, so it runs by digest; a stack without a registry runs the
Docker Hub image by its tag instead (the image-pinned policy says so).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import SecretRef, gcp_name
from mbops.components.gcp.propagation import IamPropagation, propagation_seconds
from mbops.components.spec import BuildSpec

if TYPE_CHECKING:
    from mbops.components.gcp.database import Database
    from mbops.components.gcp.network import Network
    from mbops.components.gcp.registry import Registry

SETUP_IMAGE_CONTEXT = Path(__file__).resolve().parent / "db_setup"

ADMIN_USER, APP_USER = "mbops_admin", "app"
# Idempotent: creates the role once (an ``app`` made by the API before, a cloudsqlsuperuser member, loses that
# membership), (re)sets its password, grants it its database and the public schema.
SETUP_SQL = f"""SELECT 'CREATE ROLE {APP_USER} LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_USER}')\\gexec
SELECT 'REVOKE cloudsqlsuperuser FROM {APP_USER}'
 WHERE pg_has_role('{APP_USER}', 'cloudsqlsuperuser', 'MEMBER')\\gexec
ALTER ROLE {APP_USER} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'pw';
SELECT format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO {APP_USER}', :'db')\\gexec
GRANT USAGE, CREATE ON SCHEMA public TO {APP_USER};
"""
# The app's password is the one in its own DATABASE_URL (postgresql://app:<password>@host...): one secret. The
# URLs say sslmode=verify-ca: libpq checks the server against the instance's CA, written where PGSSLROOTCERT says.
SETUP_SCRIPT = f"""set -eu
printf '%s\\n' "$DATABASE_CA_CERT" > /tmp/server-ca.pem
export PGSSLROOTCERT=/tmp/server-ca.pem
pw="${{APP_URL#*://*:}}"
pw="${{pw%%@*}}"
psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -v pw="$pw" -v db="$DATABASE" <<'SQL'
{SETUP_SQL}SQL
"""


def setup_image(c: Database, name: str, registry: Registry | None) -> pulumi.Input[str]:
    """The PostgreSQL client image the job runs: built into the stack's registry (by digest), else Docker Hub's."""
    version = c.spec.engine_version
    if registry is None:
        return f"docker.io/library/postgres:{version}-alpine"
    build = BuildSpec(context=str(SETUP_IMAGE_CONTEXT), args={"PG_MAJOR": version})
    return registry.push(c, f"{name}-setup-image", build, "db-setup").ref


def run_token(*parts: str) -> str:
    """A short, stable execution suffix for ``parts`` (job name + token must stay under 63 characters)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def app_role_job(
    c: Database, name: str, stack: str, network: Network, database: str, admin_url: SecretRef, app_url: SecretRef,
    after: list[pulumi.Resource], registry: Registry | None = None, ca_certificate: pulumi.Input[str] = "",
) -> gcp.cloudrunv2.Job:  # fmt: skip
    """The job (and its own service account, which reads only the two URLs) that creates the app's role.

    Children: ``setup_account``, ``setup_secret_access``, ``setup_job``.
    """
    account_id = gcp_name(stack, "db-setup", limit=30)
    email = f"{account_id}@{c.project}.iam.gserviceaccount.com"
    account = gcp.serviceaccount.Account(
        f"{name}-setup-sa",
        **c.args("setup_account", project=c.project, account_id=account_id,
                 display_name=f"mbops {stack} database setup", description="Creates the app's database role"),
        opts=c.opts(),
    )  # fmt: skip
    grants = [
        gcp.secretmanager.SecretIamMember(
            f"{name}-setup-reads-{ref.secret_id.rsplit('-', 1)[-1].lower().replace('_', '-')}",
            **c.args("setup_secret_access", project=c.project, secret_id=ref.secret.id,
                     role="roles/secretmanager.secretAccessor", member=f"serviceAccount:{email}"),
            opts=c.opts(depends_on=[account]),
        )  # fmt: skip
        for ref in (admin_url, app_url)
    ]
    propagated = IamPropagation(
        f"{name}-setup-iam-propagation", seconds=propagation_seconds(c), member=f"serviceAccount:{email}",
        grants=grants, opts=c.opts(),
    )  # fmt: skip
    token = pulumi.Output.all(admin_url.version.version, app_url.version.version).apply(
        lambda versions: run_token(SETUP_SCRIPT, database, *map(str, versions))
    )

    def secret_env(env_name: str, ref: SecretRef) -> dict[str, object]:
        return {"name": env_name, "value_source": {"secret_key_ref": {"secret": ref.secret_id,
                                                                      "version": ref.version.version}}}

    return gcp.cloudrunv2.Job(
        f"{name}-setup",
        **c.args(
            "setup_job", project=c.project, location=c.region, name=gcp_name(stack, "db-setup", limit=40),
            deletion_protection=False, labels=c.labels, run_execution_token=token,
            template={
                "task_count": 1,
                "template": {
                    "service_account": email, "max_retries": 3, "timeout": "300s",
                    "vpc_access": {"egress": "PRIVATE_RANGES_ONLY", "network_interfaces": [
                        {"network": network.network_id, "subnetwork": network.subnetwork_id,
                         "tags": [network.app_tag]}]},
                    "containers": [{
                        "name": "psql", "image": setup_image(c, name, registry),
                        "commands": ["/bin/sh", "-c"], "args": [SETUP_SCRIPT],
                        "envs": [{"name": "DATABASE", "value": database},
                                 {"name": "DATABASE_CA_CERT", "value": ca_certificate},
                                 secret_env("ADMIN_URL", admin_url), secret_env("APP_URL", app_url)],
                        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                    }],
                },
            },
        ),
        opts=c.opts(depends_on=[propagated, *after]),
    )  # fmt: skip
