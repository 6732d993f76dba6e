"""cloud-init documents for the AWS VMs: the app host (Docker + the app container) and the PostgreSQL host.

Scripts are constants; the values a VM needs (ARNs, names, ports) go into an env file next to them, so no
value is ever spliced into shell code. Secrets are never written here: the VM fetches them at boot (and at
every service start) from Secrets Manager with its instance role.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

APP_SETUP = r"""#!/bin/bash
# Resolve the app's secrets into a root-only env file on tmpfs; run by mbops-app.service before each start.
set -euo pipefail
. /etc/mbops/host.env
umask 077
mkdir -p /run/mbops
tmp=$(mktemp /run/mbops/app.env.XXXXXX)
cat /etc/mbops/app.env > "$tmp"
while read -r name arn; do
  [ -n "$name" ] || continue
  value=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$arn" \
            --query SecretString --output text)
  case "$value" in
    *$'\n'*) echo "secret $name spans lines; docker env files cannot carry it" >&2; exit 1 ;;
  esac
  printf '%s=%s\n' "$name" "$value" >> "$tmp"
done < /etc/mbops/secrets
mv -f "$tmp" /run/mbops/app.env
if [ -n "${ECR_REGISTRY:-}" ]; then
  aws ecr get-login-password --region "$ECR_REGION" |
    docker login --username AWS --password-stdin "$ECR_REGISTRY"
fi
"""

APP_UNIT = """[Unit]
Description=mbops app container
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
EnvironmentFile=/etc/mbops/host.env
Restart=always
RestartSec=5
TimeoutStartSec=600
ExecStartPre=/usr/local/sbin/mbops-app-env
ExecStartPre=-/usr/bin/docker rm -f app
ExecStart=/usr/bin/docker run --rm --name app --network host --read-only --tmpfs /tmp \\
  --cpus ${CPUS} --memory ${MEMORY_MB}m \\
  --env-file /run/mbops/app.env --log-driver awslogs --log-opt awslogs-region=${REGION} \\
  --log-opt awslogs-group=${LOG_GROUP} --log-opt awslogs-stream=%H ${IMAGE}
ExecStop=/usr/bin/docker stop app

[Install]
WantedBy=multi-user.target
"""

POSTGRES_SETUP = r"""#!/bin/bash
# Install PostgreSQL with its data directory on the attached EBS volume, TLS on, the app role and database.
set -euo pipefail
. /etc/mbops/postgres.env
DATA=/var/lib/pgsql
dnf install -y "postgresql${PG_VERSION}-server" "postgresql${PG_VERSION}-contrib" openssl
dev="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}"
for _ in $(seq 1 120); do [ -e "$dev" ] && break; sleep 5; done
[ -e "$dev" ] || { echo "data volume $VOLUME_ID never appeared" >&2; exit 1; }
blkid "$dev" >/dev/null || mkfs.xfs -L pgdata "$dev"
mkdir -p "$DATA"
grep -q '^LABEL=pgdata ' /etc/fstab || echo "LABEL=pgdata $DATA xfs defaults,nofail,noatime 0 2" >> /etc/fstab
mountpoint -q "$DATA" || mount "$DATA"
chown postgres:postgres "$DATA" && chmod 700 "$DATA"
# The URL secret gets its value once this VM has an address: wait for it.
url=""
for _ in $(seq 1 120); do
  url=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ARN" \
          --query SecretString --output text 2>/dev/null) && break
  sleep 5
done
[ -n "$url" ] || { echo "no value in $SECRET_ARN" >&2; exit 1; }
MBOPS_DB_PASSWORD=$(python3 -c \
  'import sys, urllib.parse as u; print(u.unquote(u.urlsplit(sys.argv[1]).password))' "$url")
export MBOPS_DB_PASSWORD
if [ ! -f "$DATA/data/PG_VERSION" ]; then
  postgresql-setup --initdb
  openssl req -new -x509 -days 3650 -nodes -subj "/CN=$(hostname -f)" \
    -keyout "$DATA/data/server.key" -out "$DATA/data/server.crt"
  chown postgres:postgres "$DATA/data/server.key" "$DATA/data/server.crt"
  chmod 600 "$DATA/data/server.key"
  cat >> "$DATA/data/postgresql.conf" <<EOF
listen_addresses = '*'
ssl = on
password_encryption = 'scram-sha-256'
log_min_duration_statement = 1000
EOF
  cat > "$DATA/data/pg_hba.conf" <<EOF
local   all all                peer
hostssl all all $ALLOWED_CIDR  scram-sha-256
EOF
fi
systemctl enable --now postgresql
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -v db="$DATABASE" <<'SQL'
\getenv pw MBOPS_DB_PASSWORD
SELECT 'CREATE ROLE app LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app')\gexec
ALTER ROLE app WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER app', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
"""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def env_file(values: Mapping[str, Any]) -> str:
    """``KEY=value`` lines, sorted; values are shell-quoted so the file can be sourced as well as read."""
    return "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in sorted(values.items()))


def cloud_config(files: Sequence[tuple[str, str, str]], runcmd: Sequence[Sequence[str]]) -> str:
    """A ``#cloud-config`` document writing ``(path, mode, content)`` files, then running ``runcmd``."""
    doc = {
        "write_files": [{"path": p, "permissions": mode, "owner": "root:root", "content": c} for p, mode, c in files],
        "runcmd": [list(cmd) for cmd in runcmd],
    }
    return "#cloud-config\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000)


def app_host(
    *,
    image: str,
    region: str,
    log_group: str,
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    ecr_registry: str | None = None,
    ecr_region: str | None = None,
    cpus: float = 1,
    memory_mb: int = 1024,
) -> str:
    """cloud-init for an app VM: Docker, and a systemd unit that runs ``image`` with its env and secrets.

    The container shares the host network (the app listens on ``$PORT`` of the VM): with the metadata hop
    limit of 1, a bridged container could not reach the instance role the app needs for its bucket. The
    container is limited to ``cpus`` and ``memory_mb`` (``app.cpu``, ``app.memory_mb``).
    """
    host = {
        "REGION": region,
        "LOG_GROUP": log_group,
        "IMAGE": image,
        "ECR_REGISTRY": ecr_registry or "",
        "ECR_REGION": ecr_region or region,
        "CPUS": f"{cpus:g}",
        "MEMORY_MB": str(memory_mb),
    }
    # App env values may hold anything: docker's env-file format takes them verbatim (no quoting).
    app_env = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
    return cloud_config(
        [
            ("/etc/mbops/host.env", "0644", env_file(host)),
            ("/etc/mbops/app.env", "0644", app_env),
            # "NAME ARN" per line: a reference to the secret store, never the value (which is fetched at start).
            ("/etc/mbops/secrets", "0600", "".join(f"{k} {v}\n" for k, v in sorted(secrets.items()))),
            ("/usr/local/sbin/mbops-app-env", "0700", APP_SETUP),
            ("/etc/systemd/system/mbops-app.service", "0644", APP_UNIT),
        ],
        [
            ["dnf", "install", "-y", "docker"],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "docker.service"],
            ["systemctl", "enable", "--now", "mbops-app.service"],
        ],
    )


def postgres_host(
    *, volume_id: str, secret_arn: str, region: str, version: str, database: str, allowed_cidr: str
) -> str:
    """cloud-init for the self-hosted PostgreSQL VM (see ``POSTGRES_SETUP``)."""
    values = {
        "VOLUME_ID": volume_id,
        "SECRET_ARN": secret_arn,
        "REGION": region,
        "PG_VERSION": version,
        "DATABASE": database,
        "ALLOWED_CIDR": allowed_cidr,
    }
    return cloud_config(
        [
            ("/etc/mbops/postgres.env", "0644", env_file(values)),
            ("/usr/local/sbin/mbops-postgres-setup", "0700", POSTGRES_SETUP),
        ],
        [["/usr/local/sbin/mbops-postgres-setup"]],
    )


def base64_text(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
