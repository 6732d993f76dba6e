"""Azure network: a VNet with per-tier subnets, NSGs, NAT egress, private DNS, and the private-endpoint helper."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import network, privatedns

from mbops.components.azure.common import AzureComponent, AzureContext
from mbops.components.spec import NetworkSpec
from mbops.components.wiring import BuildContext, Built, Gap, StackInfo
from mbops.errors import ConfigError

ADMIN_PORTS = ("22", "3389")
APP_SUBNETS = ("app", "containerapps")  # where the app runs: the VM scale set, the Container Apps environment
POSTGRES_PORTS = ("5432", "6432")  # PostgreSQL and its built-in PgBouncer
# The TCP ports the app reaches through a private endpoint in the ``data`` subnet, by private link sub-resource
# (group id). The data subnet enforces its NSG on private endpoints (``private_endpoint_network_policies``), so
# each one needs its allow rule: a component may only place an endpoint whose group is listed here.
PRIVATE_ENDPOINT_PORTS: dict[str, tuple[str, ...]] = {
    "vault": ("443",),  # Key Vault
    "redisEnterprise": ("10000",),  # Azure Managed Redis (NoCluster policy, TLS)
}


@dataclass(kw_only=True)
class NetworkArgs:
    ctx: AzureContext
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    app_port: int = 8080
    servers: bool = False  # a VM scale set behind a public load balancer runs in the app subnet
    containers: bool = False  # a Container Apps environment gets a delegated subnet
    setup_jobs: bool = False  # a jobs-only Container Apps environment (the VMs' database setup) needs it too
    managed_database: bool = False  # PostgreSQL Flexible Server gets a delegated subnet and a private DNS zone
    private_entry: bool = False  # the app is reached only through Front Door's Private Link (prod with edge)
    self_hosted_database: bool = False  # PostgreSQL on a VM in the data subnet
    private_endpoints: tuple[str, ...] = ()  # the private link groups placed in the data subnet (see PRIVATE_...)


def subnet_cidrs(cidr: str, names: list[str]) -> dict[str, str]:
    """Equal blocks carved from the VNet range, one per subnet (at least /27, as Container Apps needs)."""
    net = ipaddress.ip_network(cidr)
    prefix = min(net.prefixlen + 3, 27)
    blocks = list(net.subnets(new_prefix=prefix))
    if len(blocks) < len(names):
        raise ConfigError(
            f"components.network.cidr: {cidr} is too small for {len(names)} subnets of /{prefix}"
        )
    return {n: str(b) for n, b in zip(names, blocks, strict=False)}


def rule(
    name: str,
    priority: int,
    access: str,
    source: str,
    ports: list[str],
    *,
    protocol: str = "Tcp",
    destination: str = "*",
    description: str = "",
) -> dict[str, Any]:
    """One inbound NSG rule."""
    return {
        "name": name,
        "priority": priority,
        "direction": "Inbound",
        "access": access,
        "protocol": protocol,
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_address_prefix": destination,
        "destination_port_ranges": ports,
        "description": description or name,
    }


def deny_admin_from_internet() -> list[dict[str, Any]]:
    """Explicit deny of SSH/RDP from the internet, so no later allow rule can open them by accident."""
    return [
        rule(
            "deny-admin-from-internet",
            4000,
            "Deny",
            "Internet",
            list(ADMIN_PORTS),
            protocol="*",
            description="no SSH/RDP from the internet: use Run Command or Entra SSH from inside",
        )
    ]


class Network(AzureComponent):
    """VNet with subnets per tier, an NSG on every subnet, a NAT gateway for egress, and private DNS.

    Subnets: ``app`` (VM scale set; service endpoints for Key Vault and Storage), ``data`` (private endpoints,
    a self-hosted database VM), ``postgres`` (delegated to Microsoft.DBforPostgreSQL/flexibleServers) and
    ``containerapps`` (delegated to Microsoft.App/environments) when used. Subnets never get Azure's default
    outbound access: egress goes through the NAT gateway (Standard SKU, static Standard public IP).
    Without an edge (dev) the only internet-open inbound rules are 80/443 to Container Apps' ingress and the
    app port behind the public load balancer (the VMs have no public IPs; the load balancer keeps the client
    address). With ``private_entry`` (prod: Front Door reaches the app over Private Link) nothing is open to
    the internet, and the app subnet admits Private Link Service NAT addresses (``private_link_service_network_
    policies`` off). ``nat: per_zone`` is not possible on Azure (a Standard NAT gateway is zonal and a subnet
    takes one; the zone-redundant StandardV2 SKU is not in pulumi-azure-native 3.29): the stack gets one
    gateway and the plan lists a partial gap. ``nat: none`` leaves the subnets without egress.
    With a managed PostgreSQL server, what it needs of the network (``vnet``, ``subnet_postgres``,
    ``nsg_postgres``, ``postgres_dns_zone``, ``postgres_dns_link``) is kept with it when the stack is destroyed
    (unless its data is released); the next ``up`` takes them back with ``adopt: [network.*]``.
    Children: ``vnet``, ``subnet_<name>``, ``nsg_<name>``, ``nat_ip``, ``nat_gateway``, ``postgres_dns_zone``,
    ``postgres_dns_link``.
    """

    kind = "network"

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        self.private_entry = args.private_entry
        unknown = sorted(set(args.private_endpoints) - set(PRIVATE_ENDPOINT_PORTS))
        if unknown:
            raise ValueError(f"network: no NSG port known for private endpoint groups {unknown}")
        self.private_endpoint_groups = frozenset(args.private_endpoints)
        names = (
            ["app", "data"]
            + (["postgres"] if args.managed_database else [])
            + (["containerapps"] if args.containers or args.setup_jobs else [])
        )
        cidrs = subnet_cidrs(spec.cidr, names)
        # A retained PostgreSQL server keeps the network it lives in (its delegated subnet cannot be deleted
        # under it, nor the VNet): those are kept on destroy too, unless the data is released, and adopted with
        # ``network.*`` (or their children's names) by the next up.
        self.keeps = args.managed_database
        self.vnet_name = ctx.name("vnet", 64, unique=False)
        self.vnet_arm_id = ctx.resource_id("Microsoft.Network", "virtualNetworks", self.vnet_name)
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            **self.args(
                "vnet",
                **self.base(
                    virtual_network_name=self.vnet_name, address_space={"address_prefixes": [spec.cidr]}
                ),
            ),
            opts=self._kept("vnet", self.vnet_arm_id),
        )
        nat = self._nat(name) if spec.nat != "none" else None
        self.subnets: dict[str, network.Subnet] = {}
        self.nsgs: dict[str, network.NetworkSecurityGroup] = {}
        previous: list[pulumi.Resource] = []
        for subnet in names:
            kept = subnet == "postgres"
            nsg_name = ctx.name(f"nsg-{subnet}", 80, unique=False)
            nsg_id = ctx.resource_id("Microsoft.Network", "networkSecurityGroups", nsg_name)
            nsg = network.NetworkSecurityGroup(
                f"{name}-nsg-{subnet}",
                **self.args(
                    f"nsg_{subnet}",
                    **self.base(network_security_group_name=nsg_name, security_rules=self._rules(subnet, cidrs, args)),
                ),
                opts=self._kept(f"nsg_{subnet}", nsg_id) if kept else self.opts(),
            )  # fmt: skip
            # Subnets of one VNet are created one at a time: ARM rejects concurrent subnet writes.
            after = [self.vnet, *previous]
            created = network.Subnet(
                f"{name}-subnet-{subnet}",
                **self.args(f"subnet_{subnet}", **self._subnet_args(subnet, cidrs[subnet], nsg, nat)),
                opts=self._kept(f"subnet_{subnet}", f"{self.vnet_arm_id}/subnets/{subnet}", depends_on=after)
                if kept else self.opts(depends_on=after),
            )  # fmt: skip
            previous = [created]
            self.subnets[subnet], self.nsgs[subnet] = created, nsg
        self.postgres_dns_zone = None
        if args.managed_database:
            self._postgres_dns(name)
        self.vnet_id = self.vnet.id
        self.subnet_ids = {k: s.id for k, s in self.subnets.items()}
        self.cidrs = cidrs
        self.app_subnet_ids = [self.subnet_ids[s] for s in APP_SUBNETS if s in self.subnet_ids]
        self.app_cidrs = [cidrs[s] for s in APP_SUBNETS if s in cidrs]
        self.finish({"vnet_id": self.vnet.id, "subnet_ids": self.subnet_ids})

    def _kept(self, child: str, arm_id: str, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of what a kept PostgreSQL server needs of the network (``self.keeps``): kept on destroy unless
        the data is released, and taken back (``import_`` of ``arm_id``) when the stack adopts ``network.*`` or
        ``network.<child>``. Without a managed server nothing is kept, so nothing is there to adopt."""
        adopt = self.adopted(child, arm_id) if self.keeps else None
        return self.opts(retain_on_delete=self.keeps and not self.ctx.release_data, import_=adopt, **kwargs)

    def _nat(self, name: str) -> network.NatGateway:
        ip = network.PublicIPAddress(
            f"{name}-nat-ip",
            **self.args(
                "nat_ip",
                **self.base(
                    public_ip_address_name=self.ctx.name("pip-nat", 80, unique=False),
                    sku={"name": "Standard", "tier": "Regional"},
                    public_ip_allocation_method="Static",
                    public_ip_address_version="IPv4",
                ),
            ),
            opts=self.opts(),
        )
        self.nat_gateway = network.NatGateway(
            f"{name}-nat",
            **self.args(
                "nat_gateway",
                **self.base(
                    nat_gateway_name=self.ctx.name("nat", 80, unique=False),
                    sku={"name": "Standard"},
                    idle_timeout_in_minutes=4,
                    public_ip_addresses=[{"id": ip.id}],
                ),
            ),
            opts=self.opts(),
        )
        return self.nat_gateway

    def _subnet_args(
        self, subnet: str, cidr: str, nsg: network.NetworkSecurityGroup, nat: network.NatGateway | None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "resource_group_name": self.ctx.resource_group_name,
            "virtual_network_name": self.vnet_name,
            "subnet_name": subnet,
            "address_prefix": cidr,
            "network_security_group": {"id": nsg.id},
            "default_outbound_access": False,
            "private_endpoint_network_policies": "Enabled",
        }
        if nat is not None and subnet != "postgres":
            args["nat_gateway"] = {"id": nat.id}
        if subnet in ("app", "containerapps"):
            # Storage and Cosmos DB firewalls admit these subnets (service endpoints, no public IPs involved);
            # Key Vault is reached through its private endpoint (Container Apps is not a trusted service).
            args["service_endpoints"] = [
                {"service": "Microsoft.KeyVault"}, {"service": "Microsoft.Storage"},
                {"service": "Microsoft.AzureCosmosDB"},
            ]  # fmt: skip
        if subnet == "app" and self.private_entry:
            args["private_link_service_network_policies"] = "Disabled"  # the Private Link Service's NAT IPs
        delegation = {
            "postgres": "Microsoft.DBforPostgreSQL/flexibleServers",
            "containerapps": "Microsoft.App/environments",
        }.get(subnet)
        if delegation:
            args["delegations"] = [{"name": delegation.split("/")[0].lower(), "service_name": delegation}]
        return args

    def _rules(self, subnet: str, cidrs: dict[str, str], args: NetworkArgs) -> list[dict[str, Any]]:
        app_sources = [cidrs[s] for s in ("app", "containerapps") if s in cidrs]
        rules: list[dict[str, Any]] = []
        if subnet == "app" and args.servers and not args.private_entry:
            rules.append(
                rule(
                    "allow-lb-to-app",
                    100,
                    "Allow",
                    "Internet",
                    [str(args.app_port)],
                    destination=cidrs["app"],
                    description="public load balancer to the app port",
                )
            )
        if subnet == "containerapps" and args.containers and not args.private_entry:
            rules.append(
                rule(
                    "allow-https-ingress",
                    100,
                    "Allow",
                    "Internet",
                    ["80", "443"],
                    destination=cidrs["containerapps"],
                    description="Container Apps external ingress",
                )
            )
        ports = self._data_ports(subnet, args)
        if ports:
            what = ", ".join(f"{service} ({'/'.join(p)})" for service, p in ports)
            flat = sorted({port for _, p in ports for port in p}, key=int)
            for i, source in enumerate(app_sources):
                rules.append(
                    rule(f"allow-app-{i + 1}", 100 + i, "Allow", source, flat, description=f"app tier to {what}")
                )
            rules.append(
                rule(
                    "allow-within-subnet",
                    150,
                    "Allow",
                    cidrs[subnet],
                    ["*"],
                    protocol="*",
                    description="replication between HA peers in the subnet",
                )
            )
            rules.append(
                rule(
                    "deny-other-vnet",
                    3000,
                    "Deny",
                    "VirtualNetwork",
                    ["*"],
                    protocol="*",
                    description="nothing else in the VNet reaches the data tier",
                )
            )
        return rules + deny_admin_from_internet()

    @staticmethod
    def _data_ports(subnet: str, args: NetworkArgs) -> list[tuple[str, tuple[str, ...]]]:
        """(service, ports) the app tier reaches in ``subnet``: the managed PostgreSQL subnet, or the data
        subnet's private endpoints (and a self-hosted PostgreSQL VM)."""
        if subnet == "postgres":
            return [("PostgreSQL", POSTGRES_PORTS)]
        if subnet != "data":
            return []
        names = {"vault": "Key Vault", "redisEnterprise": "Redis"}
        found = [(names[g], PRIVATE_ENDPOINT_PORTS[g]) for g in sorted(args.private_endpoints)]
        if args.self_hosted_database:
            found.append(("PostgreSQL", POSTGRES_PORTS))
        return found

    def _postgres_dns(self, name: str) -> None:
        zone_name = f"{self.ctx.name('psql', 40)}.private.postgres.database.azure.com"
        zone_id = self.ctx.resource_id("Microsoft.Network", "privateDnsZones", zone_name)
        self.postgres_dns_zone = privatedns.PrivateZone(
            f"{name}-postgres-dns",
            **self.args(
                "postgres_dns_zone",
                resource_group_name=self.ctx.resource_group_name,
                location="global",
                private_zone_name=zone_name,
                tags=dict(self.tags),
            ),
            opts=self._kept("postgres_dns_zone", zone_id),
        )
        link_name = f"{self.vnet_name}-link"
        privatedns.VirtualNetworkLink(
            f"{name}-postgres-dns-link",
            **self.args(
                "postgres_dns_link",
                resource_group_name=self.ctx.resource_group_name,
                location="global",
                private_zone_name=zone_name,
                virtual_network_link_name=link_name,
                virtual_network={"id": self.vnet.id},
                registration_enabled=False,
                tags=dict(self.tags),
            ),
            opts=self._kept(
                "postgres_dns_link", f"{zone_id}/virtualNetworkLinks/{link_name}", depends_on=[self.postgres_dns_zone]
            ),
        )
        self.postgres_dns_zone_id = self.postgres_dns_zone.id


PER_ZONE_GAP = Gap(
    reason=(
        "network.nat: per_zone is not possible on Azure: a Standard NAT gateway is zonal and a subnet takes one "
        "gateway (the zone-redundant StandardV2 SKU is not in pulumi-azure-native 3.29); the stack gets one NAT "
        "gateway, so egress depends on the zone Azure places it in"
    ),
    alternative="nat: single (the same result, stated), or zonal subnets per zone through overrides",
    partial=True,
)


def vnet_of(ctx: BuildContext) -> Network | None:
    """The stack's VNet: the network kind's, else the private network the foundation makes for a prod
    serverless app (saas prod), else None."""
    if ctx.stack.has("network"):
        return ctx.component("network")
    return getattr(ctx.foundation, "network", None)


def app_subnet_ids(ctx: BuildContext) -> list[pulumi.Output[str]]:
    """The subnets the app runs in (Storage's and Cosmos DB's firewalls admit them); none without a VNet."""
    net = vnet_of(ctx)
    return net.app_subnet_ids if net is not None else []


def private_link(
    comp: AzureComponent, *, label: str, target_id: pulumi.Input[str], group_id: str, zone: str,
    net: Network, depends_on: list[pulumi.Resource] | None = None,
) -> network.PrivateEndpoint:  # fmt: skip
    """A private endpoint for ``target_id`` in the VNet's ``data`` subnet, with its ``privatelink`` DNS zone
    linked to the VNet and the endpoint's record in it. Children: ``private_endpoint``, ``dns_zone``,
    ``dns_link``, ``dns_group``."""
    ctx, name = comp.ctx, comp.prefix
    if group_id not in net.private_endpoint_groups:
        raise ValueError(
            f"network: a private endpoint for {group_id!r} was not declared to the network, whose data subnet NSG "
            "would refuse the app's traffic to it (add it in network_args)"
        )
    endpoint_name = ctx.name(f"pe-{label}", 80, unique=False)
    endpoint = network.PrivateEndpoint(
        f"{name}-private-endpoint",
        **comp.args(
            "private_endpoint",
            **comp.base(
                private_endpoint_name=endpoint_name,
                subnet=network.SubnetArgs(id=net.subnet_ids["data"]),
                private_link_service_connections=[
                    network.PrivateLinkServiceConnectionArgs(
                        name=label, private_link_service_id=target_id, group_ids=[group_id]
                    )
                ],
            ),
        ),
        opts=comp.opts(depends_on=list(depends_on or [])),
    )
    dns_zone = privatedns.PrivateZone(
        f"{name}-dns-zone",
        **comp.args(
            "dns_zone", resource_group_name=ctx.resource_group_name, location="global", private_zone_name=zone,
            tags=dict(comp.tags),
        ),
        opts=comp.opts(),
    )  # fmt: skip
    privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        **comp.args(
            "dns_link", resource_group_name=ctx.resource_group_name, location="global", private_zone_name=zone,
            virtual_network_link_name=f"{label}-link", virtual_network=privatedns.SubResourceArgs(id=net.vnet_id),
            registration_enabled=False, tags=dict(comp.tags),
        ),
        opts=comp.opts(depends_on=[dns_zone]),
    )  # fmt: skip
    network.PrivateDnsZoneGroup(
        f"{name}-dns-group",
        **comp.args(
            "dns_group", resource_group_name=ctx.resource_group_name, private_endpoint_name=endpoint_name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[network.PrivateDnsZoneConfigArgs(name=label, private_dns_zone_id=dns_zone.id)],
        ),
        opts=comp.opts(depends_on=[endpoint]),
    )  # fmt: skip
    return endpoint


def network_args(stack: StackInfo, azure: AzureContext, spec: NetworkSpec, *, containers: bool) -> NetworkArgs:
    """The VNet a stack needs: subnets for its app runtime and managed database."""
    database = stack.specs.get("database")
    endpoints = tuple(g for kind, g in (("secrets", "vault"), ("cache", "redisEnterprise")) if stack.has(kind))
    return NetworkArgs(
        ctx=azure,
        spec=spec,
        app_port=stack.app.port,
        servers=stack.has("servers"),
        containers=containers,
        setup_jobs=stack.has("servers") and database is not None,
        managed_database=database is not None and not database.self_hosted,
        private_entry=stack.has("edge"),
        self_hosted_database=database is not None and database.self_hosted,
        private_endpoints=endpoints,
    )


def build(ctx: BuildContext) -> Built:
    """The stack's VNet, with the subnets its app runtime and managed database need."""
    args = network_args(ctx.stack, ctx.foundation.azure, ctx.spec, containers=ctx.stack.has("containers"))
    vnet = Network(ctx.name, args)
    return Built(component=vnet, gap=PER_ZONE_GAP if ctx.spec.nat == "per_zone" else None)
