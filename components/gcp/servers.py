"""GCP servers: the app container on an autoscaled regional group of shielded COS VMs behind a global LB."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.app import app_identity
from mbops.components.gcp.common import (
    CRM_API,
    HEAL_AFTER_S,
    MACHINE_TYPES,
    GcpArgs,
    GcpComponent,
    built,
    gcp_name,
    stack_args,
)  # fmt: skip
from mbops.components.gcp.lb import Frontend, certificate_args, front_apis, frontend, group_backend
from mbops.components.gcp.logs import LogQuery, logs_output, stack_log_queries
from mbops.components.gcp.network import Network
from mbops.components.preview import readable_in_preview
from mbops.components.spec import AppSpec, ServersSpec
from mbops.components.wiring import AppWiring, BuildContext, Built

COS_PROJECT, COS_FAMILY = "cos-cloud", "cos-stable"
COS_IMAGE = f"projects/{COS_PROJECT}/global/images/family/{COS_FAMILY}"
AUTOHEAL_INTERVAL_S = 30  # the autohealing check's interval: HEAL_AFTER_S // 30 failures replace a VM
# The label every instance of the group carries (alert and dashboard filters select the group's VMs by it).
GROUP_LABEL = "mbops-group"


@dataclass(kw_only=True)
class ServersArgs(GcpArgs):
    spec: ServersSpec = field(default_factory=ServersSpec)
    app: AppSpec = field(default_factory=AppSpec)
    network: Network
    wiring: AppWiring = field(default_factory=AppWiring)
    image: pulumi.Input[str]  # what the app runs: the registry's pushed digest, or app.image
    prod: bool = False
    edge: bool = False  # the stack's edge puts the load balancer (with Cloud Armor) in front of the group
    domain: str | None = None  # without an edge: the group's own load balancer serves HTTPS on it
    dns_zone: Any = None


def launcher(app: AppSpec, image: str, env: Mapping[str, str], secrets: Mapping[str, str]) -> str:
    """The shell script that starts the app container: plain env inline, secrets read at start.

    Each secret is read from Secret Manager (a pinned version) with the VM's service-account token from the
    metadata server and passed to ``docker run`` through the environment: values never touch metadata or disk.
    """
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        "meta=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
        "token=$(curl -sf -H 'Metadata-Flavor: Google' \"$meta\" \\",
        '  | sed -E \'s/.*"access_token":"([^"]+)".*/\\1/\')',
        "secret() {",
        '  curl -sf -H "Authorization: Bearer $token" "https://secretmanager.googleapis.com/v1/$1:access" \\',
        '    | sed -nE \'s/.*"data": *"([^"]+)".*/\\1/p\' | base64 -d',
        "}",
        f"export PORT={app.port}",
    ]
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in sorted(env.items())]
    lines += [f'{k}="$(secret {shlex.quote(v)})"; export {k}' for k, v in sorted(secrets.items())]
    names = ["PORT", *sorted(env), *sorted(secrets)]
    lines.append(
        "exec /usr/bin/docker run --rm --name app --log-driver=gcplogs --security-opt=no-new-privileges "
        f"-p {app.port}:{app.port} " + " ".join(f"-e {n}" for n in names) + f" {shlex.quote(image)}"
    )
    return "\n".join(lines) + "\n"


def cloud_init(app: AppSpec, image: str, env: Mapping[str, str], secrets: Mapping[str, str], region: str) -> str:
    """cloud-config for Container-Optimized OS: a systemd unit that (re)starts the app container ``image``."""
    unit = f"""[Unit]
Description=mbops app container
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service

[Service]
Environment=HOME=/home/mbops
ExecStartPre=/bin/mkdir -p /home/mbops
ExecStartPre=/usr/bin/docker-credential-gcr configure-docker --registries={region}-docker.pkg.dev,gcr.io
ExecStartPre=-/usr/bin/docker rm -f app
ExecStart=/bin/bash /etc/mbops/app.sh
ExecStop=/usr/bin/docker stop app
Restart=always
RestartSec=5
"""

    def block(text: str) -> str:
        return "\n".join(f"      {line}" if line else "" for line in text.splitlines())

    files = [
        ("/etc/mbops/app.sh", "0700", launcher(app, image, env, secrets)),
        ("/etc/systemd/system/app.service", "0644", unit),
    ]
    text = "#cloud-config\nwrite_files:\n"
    for path, mode, content in files:
        text += f"  - path: {path}\n    permissions: '{mode}'\n    owner: root\n"
        text += f"    content: |\n{block(content)}\n"
    return text + "runcmd:\n  - systemctl daemon-reload\n  - systemctl restart app.service\n"


class Servers(GcpComponent):
    """The app on Compute Engine: instance template, regional managed instance group, autoscaler, and (without
    the stack's edge) its own global load balancer.

    Each VM is a shielded VM (secure boot, vTPM, integrity monitoring) on Container-Optimized OS with no
    external IP, OS Login (SSH only through IAP, see the network's firewall) and a dedicated service account
    holding only logWriter, metricWriter, secretAccessor on its own secrets, objectAdmin on its bucket and
    artifactregistry.reader on the stack's repository. cloud-init starts the app image (the registry's pushed
    digest, or ``app.image``) with ``docker run``; secrets (``DATABASE_URL``, ...) are read from Secret Manager
    when the container starts, never placed in metadata. The group spreads over the network's ``zones`` zones,
    heals on the health path (its own check, ``autohealing_check``: a VM is replaced after ``HEAL_AFTER_S`` of
    failures, while the load balancer's ``health_check`` stops sending it requests within 30 s; the health path
    reads the database, so the fast check would replace every VM during a Cloud SQL failover), rolls out a
    changed template proactively with surge, scales on CPU (60%) between
    ``app.min_replicas`` and ``app.max_replicas``. The group is created with ``app.min_replicas`` VMs and
    ``pulumi up`` waits until every instance runs the current template and is stable (``wait_for_instances``):
    a deploy that does not come up fails. After that the autoscaler owns the size (``ignore_changes`` on
    ``targetSize``), and the group keeps the zones it was created in (changing them would replace it).

    The boot image: ``os_image`` when set; in prod the current ``cos-stable`` image resolved once and kept (the
    template ignores later family releases, so autoscaled VMs all run the image the group was rolled out with;
    set ``os_image`` to move on); in dev the ``cos-stable`` family.

    Front: with the stack's edge, the edge owns the backend service (Cloud Armor) and the HTTPS front; without
    it, the group gets its own (``lb.py``): HTTPS on the stack's ``domain`` (Google-managed certificate) or with
    ``https_certificate`` (a certificate of yours, see ``lb.certificate_args``), else plain HTTP.

    Children: ``service_account``, ``project_role``, ``secret_access``, ``bucket_access``, ``datastore_access``,
    ``registry_access``, ``template``, ``health_check``, ``autohealing_check``, ``group``, ``autoscaler``, and
    without an edge ``backend`` plus the load balancer front (``address``, ``url_map``, ``http_proxy``,
    ``http_rule``, ...).
    """

    kind = "servers"

    def __init__(self, name: str, args: ServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        own_front = () if args.edge else front_apis(args.domain, args.dns_zone)
        self.apis = (
            "compute.googleapis.com", "iam.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com",
            CRM_API, *own_front,
        )  # fmt: skip
        super().__init__(name, args, opts)
        spec, app, network, wiring = args.spec, args.app, args.network, args.wiring
        identity = app_identity(self, args.stack, "vm", wiring)
        self.service_account = identity.account
        secrets = {k: ref.version.name for k, ref in wiring.secrets.items()}
        env = {"GOOGLE_CLOUD_PROJECT": self.project, **wiring.env} if self.project else wiring.env  # for the SDKs
        shown = readable_in_preview({"image": args.image, "env": env, "secrets": secrets})
        user_data = pulumi.Output.all(**shown).apply(
            lambda v: cloud_init(app, v["image"], v["env"], v["secrets"], self.region)
        )
        # The group's and its instances' name (alert filters and the instances' label use it).
        self.group_name = spec.overrides.get("group", {}).get("name") or gcp_name(args.stack, "app", limit=50)
        self.min_replicas = app.min_replicas
        source_image, keep_image = self._boot_image(spec, prod=args.prod)
        self.template = gcp.compute.InstanceTemplate(
            f"{name}-template",
            **self.args(
                "template",
                project=self.project,
                region=self.region,
                machine_type=MACHINE_TYPES[spec.size],
                description=f"mbops {args.stack}: app VM",
                labels={**self.labels, GROUP_LABEL: self.group_name},
                tags=[network.app_tag],
                disks=[
                    {
                        "boot": True,
                        "auto_delete": True,
                        "source_image": source_image,
                        "disk_size_gb": spec.disk_gb,
                        "disk_type": "pd-balanced",
                        "labels": self.labels,
                    }
                ],
                network_interfaces=[{"subnetwork": network.subnetwork_id}],
                metadata={
                    "user-data": user_data,
                    "enable-oslogin": "TRUE",
                    "block-project-ssh-keys": "TRUE",
                    "google-logging-enabled": "true",
                    "google-monitoring-enabled": "true",
                },
                service_account={"email": identity.email, "scopes": ["cloud-platform"]},
                shielded_instance_config={
                    "enable_secure_boot": True,
                    "enable_vtpm": True,
                    "enable_integrity_monitoring": True,
                },
                scheduling={"automatic_restart": True, "on_host_maintenance": "MIGRATE"},
            ),
            opts=self.opts(
                depends_on=[identity.propagated, *wiring.depends_on],
                ignore_changes=["disks[0].sourceImage"] if keep_image else None,
            ),
        )
        self.health_check = gcp.compute.HealthCheck(
            f"{name}-health",
            **self.args(
                "health_check",
                project=self.project,
                check_interval_sec=10,
                timeout_sec=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
                log_config={"enable": True},
                http_health_check={"port": app.port, "request_path": app.health_path},
            ),
            opts=self.opts(),
        )
        self.autohealing_check = gcp.compute.HealthCheck(
            f"{name}-autohealing",
            **self.args(
                "autohealing_check",
                project=self.project,
                description=f"mbops {args.stack}: replaces a VM whose health path failed for {HEAL_AFTER_S} s",
                check_interval_sec=AUTOHEAL_INTERVAL_S,
                timeout_sec=10,
                healthy_threshold=2,
                unhealthy_threshold=HEAL_AFTER_S // AUTOHEAL_INTERVAL_S,
                log_config={"enable": True},
                http_health_check={"port": app.port, "request_path": app.health_path},
            ),
            opts=self.opts(),
        )
        self.group = gcp.compute.RegionInstanceGroupManager(
            f"{name}-group",
            **self.args(
                "group",
                project=self.project,
                region=self.region,
                name=self.group_name,
                base_instance_name=self.group_name,
                versions=[{"name": "primary", "instance_template": self.template.self_link_unique}],
                named_ports=[{"name": "http", "port": app.port}],
                distribution_policy_zones=network.zone_names,
                distribution_policy_target_shape="EVEN",
                auto_healing_policies={"health_check": self.autohealing_check.id, "initial_delay_sec": 300},
                update_policy={
                    "type": "PROACTIVE",
                    "minimal_action": "REPLACE",
                    "instance_redistribution_type": "PROACTIVE",
                    "max_surge_fixed": network.zones,
                    "max_unavailable_fixed": 0,
                },
                target_size=app.min_replicas,  # created with VMs, so the wait below watches them come up
                wait_for_instances=True,
                wait_for_instances_status="UPDATED",
            ),
            opts=self.opts(ignore_changes=["targetSize", "distributionPolicyZones"]),
        )
        self.autoscaler = gcp.compute.RegionAutoscaler(
            f"{name}-autoscaler",
            **self.args(
                "autoscaler",
                project=self.project,
                region=self.region,
                target=self.group.id,
                autoscaling_policy={
                    "min_replicas": app.min_replicas,
                    "max_replicas": app.max_replicas,
                    "cooldown_period": 90,
                    "mode": "ON",
                    "cpu_utilization": {"target": 0.6},
                },
            ),
            opts=self.opts(),
        )
        # The app container's output, which docker's gcplogs driver sends to the project's _Default bucket.
        self.log_queries = {"app": LogQuery(filter=(
            f'resource.type="gce_instance" AND log_id("gcplogs-docker-driver") AND '
            f'jsonPayload.instance.name=~"^{self.group_name}-"'))}  # fmt: skip
        self.backend: gcp.compute.BackendService | None = None
        self.frontend: Frontend | None = None
        self.endpoint: pulumi.Output[str] | None = None
        if not args.edge:
            purpose = f"mbops {args.stack} app"
            self.backend = group_backend(
                self, purpose, group=self.group.instance_group, health_check=self.health_check.id
            )
            certificate = (
                certificate_args(spec.https_certificate, "components.servers.https_certificate")
                if spec.https_certificate else None
            )  # fmt: skip
            self.frontend = frontend(
                self, purpose=purpose, default_service=self.backend.id, domain=args.domain, dns_zone=args.dns_zone,
                certificate=certificate,
            )  # fmt: skip
            self.endpoint = self.frontend.url
            self.log_queries["load_balancer"] = LogQuery(filter=(
                f'resource.type="http_load_balancer" AND resource.labels.url_map_name="{self.frontend.url_map_name}"'))
        self.finish(
            {"endpoint": self.endpoint, "group": self.group.instance_group, "service_account": identity.email}
        )

    def _boot_image(self, spec: ServersSpec, *, prod: bool) -> tuple[pulumi.Input[str], bool]:
        """The boot disk's image and whether the template keeps it once created (prod's resolved default)."""
        if spec.os_image:
            return spec.os_image, False
        if not prod:
            return COS_IMAGE, False
        image = gcp.compute.get_image_output(family=COS_FAMILY, project=COS_PROJECT, opts=self.invoke_opts())
        return image.self_link, True


def build(ctx: BuildContext) -> Built:
    """The app on a regional group of VMs; behind the edge's load balancer, or its own; ``endpoint`` is its URL."""
    servers = Servers(
        ctx.name,
        ServersArgs(spec=ctx.spec, app=ctx.stack.app, network=ctx.component("network"),
                    wiring=ctx.wiring, image=ctx.stack.image(ctx.wiring), prod=ctx.stack.prod,
                    edge=ctx.stack.has("edge"), domain=ctx.stack.domain, dns_zone=ctx.stack.dns_zone,
                    **stack_args(ctx.stack)),
    )  # fmt: skip
    outputs: dict[str, Any] = {"endpoint": servers.endpoint} if servers.endpoint is not None else {}
    outputs["logs"] = logs_output(ctx.stack.project or "", ctx.stack.region,
                                  stack_log_queries(ctx.built, servers.log_queries))  # fmt: skip
    if servers.frontend is not None and servers.frontend.dns_records is not None:
        outputs["dns_records"] = servers.frontend.dns_records
    return built(servers, outputs=outputs)
