"""cloud-init documents for Azure VMs: the app container on the scale set, PostgreSQL on a self-hosted VM.

Secrets never enter custom data (it is readable from inside the VM and kept in the VM model): the VM
fetches them from Key Vault at boot with its managed identity (IMDS token) into a root-only tmpfs file.

What the app VMs run is not in custom data either (cloud-init runs once per instance, so a new image there
would never reach a running VM): the deployment - the image by digest and the plain environment - is a Key
Vault secret (``app-deploy``, JSON) that ``mbops-deploy`` applies at every boot and whenever the scale set's
``mbops-deploy`` extension runs it (its ``forceUpdateTag`` changes with the deployment: servers.py).
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping

import yaml

KV_FETCH = r'''#!/usr/bin/env python3
"""mbops-kv-fetch CLIENT_ID [--out FILE] ENV=SECRET_URI...: ENV=value lines from Key Vault (managed identity).

SECRET_URI is a secret's versionless URI (https://VAULT.vault.azure.net/secrets/NAME); the identity's token is
sent to Key Vault hosts only. The lines go to FILE (mode 0600, replaced whole) or to stdout.
"""
import json, os, sys, time, urllib.parse, urllib.request

def get(url, headers):
    for attempt in range(30):  # role assignments can take minutes to propagate
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
                return json.load(r)
        except Exception as exc:
            print(f"mbops-kv-fetch: {url.split('?')[0]}: {exc}; retrying", file=sys.stderr)
            time.sleep(min(2 ** attempt, 30))
    sys.exit(f"mbops-kv-fetch: giving up on {url.split('?')[0]}")

def secret_uri(pair):
    env, _, uri = pair.partition("=")
    parts = urllib.parse.urlsplit(uri)
    if not (env and parts.scheme == "https" and (parts.hostname or "").endswith(".vault.azure.net")
            and parts.path.startswith("/secrets/") and not parts.query):
        sys.exit(f"mbops-kv-fetch: {pair!r} is not ENV=https://VAULT.vault.azure.net/secrets/NAME")
    return env, uri

client_id, *rest = sys.argv[1:] or [""]
out = None
if rest[:1] == ["--out"]:
    out, rest = rest[1], rest[2:]
pairs = [secret_uri(pair) for pair in rest]
query = urllib.parse.urlencode({"api-version": "2018-02-01", "resource": "https://vault.azure.net",
                                "client_id": client_id})
IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
token = get(f"{IMDS}?{query}", {"Metadata": "true"})["access_token"] if pairs else ""
headers = {"Authorization": f"Bearer {token}"}
lines = [f"{env}={get(uri + '?api-version=7.4', headers)['value']}" for env, uri in pairs]
text = "".join(line + "\n" for line in lines)
if out is None:
    sys.stdout.write(text)
else:
    with open(out + ".new", "w", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
        handle.write(text)
    os.replace(out + ".new", out)
'''


def secret_uri(vault: str, name: str) -> str:
    """A Key Vault secret's versionless URI: how VMs name the secrets they fetch (never by value)."""
    return f"https://{vault}.vault.azure.net/secrets/{name}"


ACR_LOGIN = '''#!/usr/bin/env python3
"""mbops-acr-login SERVER CLIENT_ID: docker login to an Azure Container Registry with the managed identity."""
import json, subprocess, sys, time, urllib.parse, urllib.request

def call(request):
    for attempt in range(30):  # AcrPull can take minutes to propagate after the VM's first boot
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.load(r)
        except Exception as exc:
            print(f"mbops-acr-login: {request.full_url.split('?')[0]}: {exc}; retrying", file=sys.stderr)
            time.sleep(min(2 ** attempt, 30))
    sys.exit(f"mbops-acr-login: giving up on {request.full_url.split('?')[0]}")

server, client_id = sys.argv[1:3]
query = urllib.parse.urlencode({"api-version": "2018-02-01", "resource": "https://management.azure.com/",
                                "client_id": client_id})
imds = urllib.request.Request(f"http://169.254.169.254/metadata/identity/oauth2/token?{query}",
                              headers={"Metadata": "true"})
token = call(imds)["access_token"]
form = urllib.parse.urlencode({"grant_type": "access_token", "service": server, "access_token": token}).encode()
refresh = call(urllib.request.Request(f"https://{server}/oauth2/exchange", data=form, method="POST"))["refresh_token"]
subprocess.run(["docker", "login", "--username", "00000000-0000-0000-0000-000000000000", "--password-stdin",
                server], input=refresh.encode(), check=True)
'''


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (scripts, units) as literal blocks, so the document stays readable."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _document(config: dict) -> str:
    return "#cloud-config\n" + yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=1000)


def encode(document: str) -> str:
    """Azure's custom_data is base64."""
    return base64.b64encode(document.encode()).decode()


DEPLOY = '''#!/usr/bin/env python3
"""mbops-deploy VAULT CLIENT_ID SECRET PORT HEALTH [--restart]: apply the deployment kept in Key Vault.

Writes the image (/etc/mbops/image) and the plain environment (/etc/mbops/app.env) from the secret (JSON:
image, env). With --restart (the scale set's deploy extension): pulls the image, restarts mbops-app when the
deployment changed or it is not running, and fails unless the health path answers 200 within 5 minutes, so a
rolling upgrade stops at the first bad batch.
"""
import json, os, subprocess, sys, time, urllib.parse, urllib.request

def get(url, headers):
    for attempt in range(30):  # role assignments can take minutes to propagate
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
                return json.load(r)
        except Exception as exc:
            print(f"mbops-deploy: {url.split('?')[0]}: {exc}; retrying", file=sys.stderr)
            time.sleep(min(2 ** attempt, 30))
    sys.exit(f"mbops-deploy: giving up on {url.split('?')[0]}")

def write(path, text):
    old = open(path).read() if os.path.exists(path) else None
    if old != text:
        with open(path + ".new", "w", opener=lambda p, f: os.open(p, f, 0o600)) as out:
            out.write(text)
        os.replace(path + ".new", path)
    return old != text

vault, client_id, secret, port, health, *flags = sys.argv[1:]
query = urllib.parse.urlencode({"api-version": "2018-02-01", "resource": "https://vault.azure.net",
                                "client_id": client_id})
token = get(f"http://169.254.169.254/metadata/identity/oauth2/token?{query}", {"Metadata": "true"})["access_token"]
document = json.loads(get(f"https://{vault}.vault.azure.net/secrets/{secret}?api-version=7.4",
                          {"Authorization": f"Bearer {token}"})["value"])
os.makedirs("/etc/mbops", mode=0o700, exist_ok=True)
changed = write("/etc/mbops/image", document["image"] + "\\n")
changed |= write("/etc/mbops/app.env", "".join(f"{k}={v}\\n" for k, v in sorted(document["env"].items())))
if "--restart" not in flags:
    sys.exit(0)
subprocess.run(["/bin/systemctl", "start", "mbops-registry-login.service"], check=True)
subprocess.run(["/usr/bin/docker", "pull", document["image"]], check=True)
active = subprocess.run(["/bin/systemctl", "is-active", "--quiet", "mbops-app"]).returncode == 0
if changed or not active:
    subprocess.run(["/bin/systemctl", "restart", "mbops-app"], check=True)
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(5)
sys.exit(f"mbops-deploy: {health} did not answer 200 on port {port} within 5 minutes (journalctl -u mbops-app)")
'''
DEPLOY_SECRET = "app-deploy"


def deploy_command(*, vault: str, client_id: str, port: int, health_path: str, restart: bool) -> str:
    """The ``mbops-deploy`` command line (shell-quoted)."""
    parts = [vault, client_id, DEPLOY_SECRET, str(port), health_path] + (["--restart"] if restart else [])
    return " ".join(["/usr/local/sbin/mbops-deploy", *map(shlex.quote, parts)])


def app_server(
    *, port: int, health_path: str, vault: str, client_id: str, secrets: Mapping[str, str],
    registry: str | None = None,
) -> str:
    """cloud-init that runs the app container under systemd: the deployment (image, plain env) applied from Key
    Vault by ``mbops-deploy`` before each start, secrets fetched at each start, a docker login to the stack's
    ACR with the app identity (``registry``), and the PostgreSQL client for the app-role setup."""
    login = "/bin/true"
    if registry:
        login = f"/usr/local/bin/mbops-acr-login {shlex.quote(registry)} {shlex.quote(client_id)}"
    pairs = "".join(f" {shlex.quote(f'{k}={secret_uri(vault, v)}')}" for k, v in sorted(secrets.items()))
    fetch = f"/usr/local/bin/mbops-kv-fetch {shlex.quote(client_id)} --out /run/mbops/secrets.env{pairs}"
    deploy = deploy_command(vault=vault, client_id=client_id, port=port, health_path=health_path, restart=False)
    login_unit = f"""[Unit]
Description=mbops: docker login to the stack's registry with the app identity
After=docker.service network-online.target
Requires=docker.service

[Service]
Type=oneshot
ExecStart={login}
"""
    unit = f"""[Unit]
Description=mbops app container
After=docker.service network-online.target mbops-registry-login.service
Requires=docker.service
Wants=mbops-registry-login.service

[Service]
Restart=always
RestartSec=5
RuntimeDirectory=mbops
RuntimeDirectoryMode=0700
UMask=0077
ExecStartPre={deploy}
ExecStartPre={fetch}
ExecStartPre=-/usr/bin/docker rm -f app
ExecStart=/bin/sh -c 'exec /usr/bin/docker run --rm --name app -p {port}:{port} --log-driver journald \\
  --log-opt tag=mbops-app \\
  --env-file /etc/mbops/app.env --env-file /run/mbops/secrets.env "$(cat /etc/mbops/image)"'
ExecStop=/usr/bin/docker stop app

[Install]
WantedBy=multi-user.target
"""
    return _document(
        {
            "package_update": True,
            "packages": ["docker.io", "postgresql-client"],
            "ssh_pwauth": False,
            "write_files": [
                {"path": "/usr/local/bin/mbops-kv-fetch", "permissions": "0755", "content": KV_FETCH},
                {"path": "/usr/local/bin/mbops-acr-login", "permissions": "0755", "content": ACR_LOGIN},
                {"path": "/usr/local/sbin/mbops-deploy", "permissions": "0700", "content": DEPLOY},
                {"path": "/etc/systemd/system/mbops-registry-login.service", "permissions": "0644",
                 "content": login_unit},
                {"path": "/etc/systemd/system/mbops-app.service", "permissions": "0644", "content": unit},
                # The app's journald lines reach syslog, which the Azure Monitor Agent ships to Log Analytics.
                {"path": "/etc/systemd/journald.conf.d/mbops.conf", "permissions": "0644",
                 "content": "[Journal]\nForwardToSyslog=yes\n"},
            ],
            "runcmd": [
                ["systemctl", "restart", "systemd-journald"],
                ["systemctl", "enable", "--now", "docker"],
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", "mbops-app.service"],
            ],
        }
    )  # fmt: skip


def postgres_server(
    *,
    version: str,
    database: str,
    admin: str,
    vault: str,
    client_id: str,
    password_secret: str,
    allowed_cidrs: list[str],
) -> str:
    """cloud-init that puts PostgreSQL's data on the attached data disk (LUN 0) and admits only the app CIDRs.

    TLS uses Ubuntu's generated snakeoil certificate (``ssl = on``); clients connect with ``sslmode=require``.
    """
    hba = "".join(f"hostssl all all {c} scram-sha-256\n" for c in allowed_cidrs)
    setup = f"""#!/bin/sh
set -eu
DISK=/dev/disk/azure/scsi1/lun0
while [ ! -e "$DISK" ]; do sleep 2; done
if ! blkid "$DISK"; then mkfs.ext4 -L pgdata "$DISK"; fi
mkdir -p /var/lib/postgresql
grep -q pgdata /etc/fstab || echo 'LABEL=pgdata /var/lib/postgresql ext4 defaults,nofail 0 2' >> /etc/fstab
mount -a
apt-get install -y postgresql-common
/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
apt-get install -y postgresql-{version}
CONF=/etc/postgresql/{version}/main
echo "listen_addresses = '*'" > $CONF/conf.d/mbops.conf
echo "ssl = on" >> $CONF/conf.d/mbops.conf
echo "password_encryption = scram-sha-256" >> $CONF/conf.d/mbops.conf
cat /etc/mbops/pg_hba.extra >> $CONF/pg_hba.conf
systemctl restart postgresql
umask 077
PASSWORD=$(/usr/local/bin/mbops-kv-fetch {shlex.quote(client_id)} \\
  {shlex.quote("P=" + secret_uri(vault, password_secret))} | cut -d= -f2-)
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -v pw="$PASSWORD" <<'SQL'
SELECT format('CREATE ROLE {admin} LOGIN CREATEDB CREATEROLE PASSWORD %L', :'pw') WHERE NOT EXISTS
  (SELECT FROM pg_roles WHERE rolname = '{admin}')\\gexec
ALTER ROLE {admin} WITH LOGIN CREATEDB CREATEROLE PASSWORD :'pw';
SELECT 'CREATE DATABASE {database} OWNER {admin}' WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = '{database}')\\gexec
SQL
"""
    return _document(
        {
            "package_update": True,
            "ssh_pwauth": False,
            "write_files": [
                {"path": "/usr/local/bin/mbops-kv-fetch", "permissions": "0755", "content": KV_FETCH},
                {"path": "/etc/mbops/pg_hba.extra", "permissions": "0644", "content": hba},
                {"path": "/usr/local/sbin/mbops-postgres-setup", "permissions": "0700", "content": setup},
            ],
            "runcmd": [["/usr/local/sbin/mbops-postgres-setup"]],
        }
    )
