"""Azure servers (custom profile): a VM scale set running the app container behind a public load balancer."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_tls as tls
from pulumi_azure_native import compute, monitor, network, operationalinsights

from mbops.components.azure import cloudinit, vm
from mbops.components.azure.app import AppArgs, app_args, plain_env, servers_logs
from mbops.components.azure.common import AzureComponent
from mbops.components.preview import readable_in_preview
from mbops.components.spec import ServersSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class ServersArgs(AppArgs):
    subnet_id: pulumi.Input[str]
    jobs_subnet_id: pulumi.Input[str] | None = None  # the database setup job's environment (with a database)
    subnet_cidr: str = "10.20.0.0/19"
    zones: int = 2
    spec: ServersSpec = field(default_factory=ServersSpec)


def deploy_tag(document: str) -> str:
    """The deploy extension's ``forceUpdateTag``: changes exactly when the deployment (image, env) does."""
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def cpu_rule(direction: str, operator: str, threshold: int, window: str, target: pulumi.Input[str]) -> dict:
    """An autoscale rule on the scale set's average CPU."""
    return {
        "metric_trigger": {
            "metric_name": "Percentage CPU",
            "metric_namespace": "microsoft.compute/virtualmachinescalesets",
            "metric_resource_uri": target,
            "operator": operator,
            "statistic": "Average",
            "threshold": threshold,
            "time_aggregation": "Average",
            "time_grain": "PT1M",
            "time_window": window,
        },
        "scale_action": {
            "direction": direction,
            "type": "ChangeCount",
            "value": "1",
            "cooldown": "PT5M" if direction == "Increase" else "PT10M",
        },
    }


class Servers(AzureComponent):
    """Ubuntu LTS VM scale set (no public IPs) behind a Standard load balancer, CPU autoscale, logs shipped.

    Entry: in dev a public Standard load balancer (HTTP probe on the health path, rule 80 -> app port,
    zone-redundant Standard public IP with a DNS name): plain HTTP, acceptable in dev. With an edge (prod) the load
    balancer is internal (a fixed private address in the app subnet) and a Private Link Service on its frontend is
    the only way in: Front Door Premium reaches it over Private Link (HTTPS and WAF at the edge, see ``edge.py``),
    so the app has no public address at all. Egress goes through the NAT gateway, so the rule disables outbound
    SNAT. Each VM runs the app container under systemd via cloud-init: a docker login to the stack's registry and
    its secrets from Key Vault with the app's managed identity at each start. What runs - the image by digest and
    the plain environment - is the Key Vault secret ``app-deploy`` (``deploy_secret``), applied at each boot and by
    the ``mbops-deploy`` scale set extension whenever it changes: a release rolls out to running VMs in
    health-checked batches without touching the scale set's model, whose ``sku.capacity`` only sets the first size
    (autoscale owns it; ``ignore_changes``). With a database the app's PostgreSQL role is created before the VMs
    start, by a job in a jobs-only Container Apps environment inside the VNet (``jobs_environment``;
    ``container_apps.database_setup``). Hardening: Trusted Launch, Premium SSD, password login off and no internet
    path to SSH - see ``vm.py`` for access (Run Command, Entra ID SSH with the system-assigned identity) and for
    encryption at host (opt-in: it needs a subscription feature). Rolling upgrades and automatic OS image upgrades
    use the load balancer probe; automatic repairs replace instances that fail it. Autoscale: +1 above 70% CPU (5
    min), -1 below 30% (10 min), between the app's min and max replicas.
    Logs: boot diagnostics (managed storage), and the Azure Monitor Agent sends syslog - where journald puts
    the app container's output - to a Log Analytics workspace through a data collection rule.
    Children: ``ssh_key``, ``public_ip`` (dev), ``load_balancer``, ``private_link_service`` (edge),
    ``deploy_secret``, ``scale_set``, ``entra_ssh``, ``monitor_agent``, ``deploy``, ``autoscale``,
    ``log_workspace``, ``collection_rule``, ``collection_link``, and with a database ``jobs_environment``,
    ``jobs_environment_diagnostics`` and the setup job's (``container_apps.database_setup``).
    """

    kind = "servers"

    def __init__(self, name: str, args: ServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec, app, identity = args.ctx, args.spec, args.app, args.identity
        zones = [str(z + 1) for z in range(min(args.zones, 3))]
        key = tls.PrivateKey(
            f"{name}-ssh-key", **self.args("ssh_key", algorithm="RSA", rsa_bits=4096), opts=self.opts()
        )
        lb_name = ctx.name("lb", 80, unique=False)

        def lb_part(kind: str, part: str) -> dict[str, str]:
            return {"id": ctx.resource_id("Microsoft.Network", "loadBalancers", lb_name, kind, part)}

        private = args.private_entry
        self.public_ip = None
        label = ctx.name("app", 60)
        if private:
            self.private_ip = str(ipaddress.ip_network(args.subnet_cidr)[-2])
            frontend = {
                "name": "private", "subnet": {"id": args.subnet_id}, "private_ip_allocation_method": "Static",
                "private_ip_address": self.private_ip, "zones": zones,
            }  # fmt: skip
        else:
            self.public_ip = network.PublicIPAddress(
                f"{name}-ip",
                **self.args(
                    "public_ip",
                    **self.base(
                        public_ip_address_name=ctx.name("pip-lb", 80, unique=False),
                        sku={"name": "Standard", "tier": "Regional"},
                        public_ip_allocation_method="Static",
                        public_ip_address_version="IPv4",
                        zones=zones,
                        dns_settings={"domain_name_label": label},
                    ),
                ),
                opts=self.opts(),
            )
            frontend = {"name": "public", "public_ip_address": {"id": self.public_ip.id}}
        frontend_name = frontend["name"]
        self.load_balancer = network.LoadBalancer(
            f"{name}-lb",
            **self.args(
                "load_balancer",
                **self.base(
                    load_balancer_name=lb_name,
                    sku={"name": "Standard", "tier": "Regional"},
                    frontend_ip_configurations=[frontend],
                    backend_address_pools=[{"name": "app"}],
                    probes=[
                        {
                            "name": "health",
                            "protocol": "Http",
                            "port": app.port,
                            "request_path": app.health_path,
                            "interval_in_seconds": 5,
                            "number_of_probes": 2,
                            "probe_threshold": 2,
                        }
                    ],
                    load_balancing_rules=[
                        {
                            "name": "http",
                            "protocol": "Tcp",
                            "frontend_port": 80,
                            "backend_port": app.port,
                            "frontend_ip_configuration": lb_part("frontendIPConfigurations", frontend_name),
                            "backend_address_pool": lb_part("backendAddressPools", "app"),
                            "probe": lb_part("probes", "health"),
                            "disable_outbound_snat": True,
                            "enable_tcp_reset": True,
                            "idle_timeout_in_minutes": 4,
                            "load_distribution": "Default",
                        }
                    ],
                ),
            ),
            opts=self.opts(),
        )
        self.private_link_service = None
        if private:
            self.private_link_service = network.PrivateLinkService(
                f"{name}-pls",
                **self.args(
                    "private_link_service",
                    **self.base(
                        service_name=ctx.name("pls", 80, unique=False),
                        load_balancer_frontend_ip_configurations=[
                            network.FrontendIPConfigurationArgs(id=lb_part("frontendIPConfigurations", "private")["id"])
                        ],
                        ip_configurations=[
                            network.PrivateLinkServiceIpConfigurationArgs(
                                name="nat", primary=True, private_ip_allocation_method="Dynamic",
                                subnet=network.SubnetArgs(id=args.subnet_id),
                            )
                        ],
                        # Only the stack's subscription can find it by alias. Front Door requests by resource id
                        # from its own subscription, and every request needs approval (edge.py: nonce-checked).
                        visibility=network.PrivateLinkServicePropertiesVisibilityArgs(
                            subscriptions=[ctx.subscription_id]
                        ),
                    ),
                ),
                opts=self.opts(depends_on=[self.load_balancer]),
            )  # fmt: skip
        self._logs(name, args)
        secrets, registry = args.wiring.secrets, args.registry_server
        custom_data = pulumi.Output.all(*readable_in_preview([identity.client_id, args.vault.name])).apply(
            lambda v: cloudinit.encode(cloudinit.app_server(
                port=app.port, health_path=app.health_path, vault=v[1], client_id=v[0], secrets=secrets,
                registry=registry,
            ))
        )  # fmt: skip
        # What the VMs run (image by digest, plain env) is data in Key Vault, applied by mbops-deploy (cloudinit).
        document = pulumi.Output.all(args.image, pulumi.Output.all(**plain_env(app, args.wiring, identity.client_id)))
        document = document.apply(lambda v: json.dumps({"image": v[0], "env": v[1]}, sort_keys=True))
        self.deploy_secret = self.store_secret(
            "deploy_secret", vault=args.vault, secret_name=cloudinit.DEPLOY_SECRET, value=document, app=identity
        )
        setup = []
        if args.database_setup is not None:  # the app's PostgreSQL role, from a job inside the VNet
            from mbops.components.azure.container_apps import database_setup

            setup = [database_setup(self, args, self._jobs_environment(name, args).id)]
        capacity = max(app.min_replicas, 1)
        vmss_name = self.scale_set_name = ctx.name("vmss", 64, unique=False)
        self.scale_set = compute.VirtualMachineScaleSet(
            f"{name}-vmss",
            **self.args(
                "scale_set",
                **self.base(
                    vm_scale_set_name=vmss_name,
                    zones=zones,
                    orchestration_mode="Uniform",
                    overprovision=False,
                    # The initial size: autoscale owns the count afterwards (ignore_changes below).
                    sku={"name": vm.VM_SIZES[spec.size], "tier": "Standard", "capacity": capacity},
                    identity=vm.identity(identity.id),
                    upgrade_policy={
                        "mode": "Rolling",
                        "rolling_upgrade_policy": {
                            "max_batch_instance_percent": 34,
                            "max_unhealthy_instance_percent": 34,
                            "max_unhealthy_upgraded_instance_percent": 34,
                            "pause_time_between_batches": "PT30S",
                        },
                        "automatic_os_upgrade_policy": {"enable_automatic_os_upgrade": True},
                    },
                    automatic_repairs_policy={"enabled": True, "grace_period": "PT15M"},
                    virtual_machine_profile={
                        "os_profile": {
                            "computer_name_prefix": "app",
                            "admin_username": vm.ADMIN_USER,
                            "custom_data": custom_data,
                            "linux_configuration": vm.linux_configuration(key.public_key_openssh),
                        },
                        "storage_profile": {
                            "image_reference": vm.image_reference(
                                spec.os_image, "components.servers.os_image"
                            ),
                            "os_disk": {
                                "create_option": "FromImage",
                                "caching": "ReadWrite",
                                "disk_size_gb": max(spec.disk_gb, vm.MIN_OS_DISK_GB),
                                "managed_disk": {"storage_account_type": "Premium_LRS"},
                            },
                        },
                        "security_profile": vm.security_profile(),
                        "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
                        "network_profile": {
                            "health_probe": lb_part("probes", "health"),
                            "network_interface_configurations": [
                                {
                                    "name": "nic",
                                    "primary": True,
                                    "ip_configurations": [
                                        {
                                            "name": "ipconfig",
                                            "primary": True,
                                            "subnet": {"id": args.subnet_id},
                                            "load_balancer_backend_address_pools": [
                                                lb_part("backendAddressPools", "app")
                                            ],
                                        }
                                    ],
                                }
                            ],
                        },
                    },
                ),
            ),
            opts=self.opts(
                depends_on=[self.load_balancer, self.deploy_secret, *args.wiring.depends_on, *setup],
                # azure-native sends the whole model on an update, so an unchanged capacity input would still
                # reset the count autoscale chose; releases do not update the scale set (see the extensions).
                ignore_changes=["sku.capacity"],
            ),
        )
        self._extensions(name, args, vmss_name, document)
        monitor.DataCollectionRuleAssociation(
            f"{name}-collection-link",
            **self.args(
                "collection_link", resource_uri=self.scale_set.id, association_name="app-logs",
                data_collection_rule_id=self.collection_rule.id, description="mbops: app VMs' syslog",
            ),
            opts=self.opts(depends_on=[self.scale_set, self.collection_rule]),
        )  # fmt: skip
        self.autoscale = monitor.AutoscaleSetting(
            f"{name}-autoscale",
            **self.args(
                "autoscale",
                **self.base(
                    autoscale_setting_name=ctx.name("autoscale", 80, unique=False),
                    enabled=True,
                    target_resource_uri=self.scale_set.id,
                    profiles=[
                        {
                            "name": "cpu",
                            "capacity": {
                                "minimum": str(app.min_replicas),
                                "maximum": str(app.max_replicas),
                                "default": str(capacity),
                            },
                            "rules": [
                                cpu_rule("Increase", "GreaterThan", 70, "PT5M", self.scale_set.id),
                                cpu_rule("Decrease", "LessThan", 30, "PT10M", self.scale_set.id),
                            ],
                        }
                    ],
                ),
            ),
            opts=self.opts(),
        )
        self.url = f"http://{self.private_ip}" if private else f"http://{label}.{ctx.location}.cloudapp.azure.com"
        self.finish({"url": self.url, "scale_set_id": self.scale_set.id})

    def _extensions(self, name: str, args: ServersArgs, vmss_name: str, document: pulumi.Output[str]) -> None:
        """The scale set's extensions, each its own resource (a scale set update carrying an extension list
        would drop the others): Entra ID SSH, the Azure Monitor Agent, and ``mbops-deploy``, whose
        ``forceUpdateTag`` is the deployment's hash, so a new image or environment rolls out to running VMs in
        health-checked batches (the rolling upgrade policy) without touching the scale set's model."""
        app = args.app
        on_set = {"resource_group_name": self.ctx.resource_group_name, "vm_scale_set_name": vmss_name}
        previous: list[pulumi.Resource] = [self.scale_set]
        for child, extension in (("entra_ssh", vm.entra_ssh_extension()),
                                 ("monitor_agent", vm.monitor_agent(args.identity.id))):  # fmt: skip
            fields = {k: v for k, v in extension.items() if k != "name"}
            previous = [compute.VirtualMachineScaleSetExtension(
                f"{name}-{child.replace('_', '-')}",
                **self.args(child, **on_set, vmss_extension_name=extension["name"], **fields),
                opts=self.opts(depends_on=previous),
            )]  # fmt: skip
        command = pulumi.Output.all(*readable_in_preview([args.identity.client_id, args.vault.name])).apply(
            lambda v: cloudinit.deploy_command(vault=v[1], client_id=v[0], port=app.port,
                                               health_path=app.health_path, restart=True)
        )  # fmt: skip
        self.deploy = compute.VirtualMachineScaleSetExtension(
            f"{name}-deploy",
            **self.args(
                "deploy", **on_set, vmss_extension_name="mbops-deploy", publisher="Microsoft.Azure.Extensions",
                type="CustomScript", type_handler_version="2.1", auto_upgrade_minor_version=True,
                force_update_tag=document.apply(deploy_tag), settings={"commandToExecute": command},
            ),
            opts=self.opts(depends_on=[self.scale_set, *previous, self.deploy_secret, *self.ctx.app_grants]),
        )  # fmt: skip

    def _jobs_environment(self, name: str, args: ServersArgs) -> Any:
        """A Container Apps environment for jobs only (no apps), internal to the VNet: where the database setup
        job runs. Consumption only, so it costs nothing while idle."""
        from pulumi_azure_native import app as containerapps

        environment = containerapps.ManagedEnvironment(
            f"{name}-jobs-env",
            **self.args(
                "jobs_environment",
                **self.base(
                    environment_name=self.ctx.name("cae-jobs", 60, unique=False),
                    app_logs_configuration={"destination": "azure-monitor"},
                    workload_profiles=[{"name": "Consumption", "workload_profile_type": "Consumption"}],
                    public_network_access="Disabled",
                    vnet_configuration={"infrastructure_subnet_id": args.jobs_subnet_id, "internal": True},
                ),
            ),
            opts=self.opts(),
        )  # fmt: skip
        monitor.DiagnosticSetting(
            f"{name}-jobs-env-diagnostics",
            **self.args(
                "jobs_environment_diagnostics", name="to-log-analytics", resource_uri=environment.id,
                workspace_id=self.log_workspace.id,
                logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
            ),
            opts=self.opts(),
        )  # fmt: skip
        return environment

    def _logs(self, name: str, args: ServersArgs) -> None:
        """The workspace, and the rule that sends the VMs' syslog (the app's journald output) to it."""
        ctx = self.ctx
        self.log_workspace = operationalinsights.Workspace(
            f"{name}-logs",
            **self.args(
                "log_workspace",
                **self.base(
                    workspace_name=ctx.name("log", 63, unique=False),
                    sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                    retention_in_days=90 if ctx.prod else 30,
                    features=operationalinsights.WorkspaceFeaturesArgs(
                        enable_log_access_using_only_resource_permissions=True, disable_local_auth=True
                    ),
                ),
            ),
            opts=self.opts(),
        )
        self.collection_rule = monitor.DataCollectionRule(
            f"{name}-collection-rule",
            **self.args(
                "collection_rule",
                **self.base(
                    data_collection_rule_name=ctx.name("dcr-app", 64, unique=False),
                    kind="Linux",
                    description="mbops: syslog of the app VMs (the app container logs through journald)",
                    data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                        syslog=[monitor.SyslogDataSourceArgs(
                            name="syslog", streams=["Microsoft-Syslog"], facility_names=["*"],
                            log_levels=["Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency"],
                        )],
                    ),
                    destinations=monitor.DataCollectionRuleDestinationsArgs(
                        log_analytics=[monitor.LogAnalyticsDestinationArgs(
                            name="workspace", workspace_resource_id=self.log_workspace.id
                        )],
                    ),
                    data_flows=[monitor.DataFlowArgs(streams=["Microsoft-Syslog"], destinations=["workspace"])],
                ),
            ),
            opts=self.opts(depends_on=[self.log_workspace]),
        )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """The app on a VM scale set in the VNet's app subnet; its URL is the ``endpoint`` output.

    Named ``<stack>-servers`` (not the app kinds' usual ``<stack>-app``): the name is part of every URN.
    """
    servers = Servers(
        f"{ctx.stack.name}-servers",
        ServersArgs(
            **app_args(ctx),
            subnet_id=ctx.component("network").subnet_ids["app"],
            subnet_cidr=ctx.component("network").cidrs["app"],
            jobs_subnet_id=ctx.component("network").subnet_ids.get("containerapps"),
            zones=ctx.stack.specs["network"].zones,
        ),
    )
    logs = servers_logs(servers.ctx, servers.scale_set_name, servers.log_workspace)
    return Built(component=servers, outputs={"endpoint": servers.url, "logs": logs})
