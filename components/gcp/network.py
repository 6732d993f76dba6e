"""GCP network: a custom-mode VPC, a regional subnet, Cloud NAT, firewall rules and private service access."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, built, gcp_name, stack_args
from mbops.components.spec import NetworkSpec
from mbops.components.wiring import BuildContext, Built

# Where Google's external Application Load Balancers and health checks connect from.
GOOGLE_LB_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
# Where Identity-Aware Proxy TCP forwarding connects from (``gcloud compute ssh --tunnel-through-iap``).
IAP_TCP_RANGE = "35.235.240.0/20"


@dataclass(kw_only=True)
class NetworkArgs(GcpArgs):
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    app_port: int = 8080
    vms: bool = True  # the stack runs VMs in the subnet (servers, self-hosted PostgreSQL): they egress through NAT
    # What a destroy cannot take out of the VPC at once: a Cloud SQL instance it keeps (peered in), Cloud Run's
    # Direct VPC egress addresses (held for 1-2 hours after the service or job is deleted).
    held: bool = False


def plan_ranges(cidr: str) -> tuple[str, str | None]:
    """The subnet range and the private-service-access range carved from the stack's CIDR.

    The subnet takes the first half and Cloud SQL / Memorystore peering the second; below a /23 the halves
    are smaller than the /24 Cloud SQL needs, so the subnet takes it all and Google allocates a /20 for
    peering from unused RFC 1918 space (``None``).
    """
    network = ipaddress.ip_network(cidr)
    if network.prefixlen > 23:
        return str(network), None
    first, second = network.subnets(prefixlen_diff=1)
    return str(first), str(second)


class Network(GcpComponent):
    """VPC (custom mode), subnet with Private Google Access and flow logs, Cloud Router + NAT, firewall, PSA.

    VMs (the servers' group, self-hosted PostgreSQL) get no external IP and reach the internet through Cloud NAT
    (``nat: none`` skips it). A stack without VMs gets no NAT: Cloud Run's Direct VPC egress sends only private
    ranges into the VPC (``PRIVATE_RANGES_ONLY``) and Cloud SQL / Memorystore make no outbound connections, so a
    NAT would carry nothing. Cloud NAT is a regional, zone-redundant service: ``single`` and ``per_zone`` get the
    same NAT, which already keeps egress up through a zone outage (what ``per_zone`` asks for elsewhere).

    Subnets are regional on GCP, so ``zones`` does not split them; it picks the zones the stack uses
    (``zone_names``: the first ``zones`` zones of the region in name order, whatever their status, so a zone
    that is down for a while does not shift the list): the servers' instance group spreads over all of them,
    Cloud SQL and Memorystore put their primary in the first and their standby in the second. Those resources
    keep the zones they were created in (``ignore_changes``): moving them would replace them.

    Firewall: the app port is open only to Google's load balancer / health-check ranges, SSH only to IAP TCP
    forwarding (bastion-less), both only to instances carrying ``app_tag`` (``db_tag`` too for SSH); a
    logged deny-all ingress rule sits just above the implied one. Nothing opens SSH/RDP/databases to the
    internet. Private service access (a reserved range + a Service Networking peering) gives Cloud SQL and
    Memorystore private IPs in this VPC; Cloud Run reaches them through Direct VPC egress on ``subnetwork``.

    Data guard: Cloud SQL keeps its private IP in this VPC through the peering, and Cloud Run's Direct VPC egress
    (the app on containers, the database's setup job) holds addresses in the subnet for 1-2 hours after the
    service or job is deleted (Google: wait that long before deleting the subnet). So when a ``destroy`` keeps the
    data and the stack has either, it keeps the VPC, the subnet, the peering range and the connection too
    (``retain_on_delete``, fixed names ``<stack>-vpc``, ``<stack>-subnet``, ``<stack>-psa``): the kept instance
    stays reachable and the destroy completes; the next ``up`` takes them back with ``adopt:`` naming
    ``network.*``. When the data is released, deleting the connection removes the VPC peering even while Cloud
    SQL's deleted instance still holds it for a while (``REMOVE_PEERING``); a subnet Cloud Run still holds
    addresses in can only be deleted 1-2 hours later: a ``destroy --delete-data`` that stops there completes
    when run again then.

    Children: ``network``, ``subnetwork``, ``router``, ``nat`` (with VMs), ``allow_lb``, ``allow_iap_ssh``,
    ``deny_all_ingress``, ``psa_range``, ``psa_connection``.
    """

    kind = "network"
    apis = ("compute.googleapis.com", "servicenetworking.googleapis.com")

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        project, region = self.project, self.region
        subnet_range, psa_range = plan_ranges(spec.cidr)
        self.app_tag = gcp_name(args.stack, "app")
        self.db_tag = gcp_name(args.stack, "db")
        # Kept by a destroy that keeps the data (see the docstring), and adopted with it.
        self.keeps_data = args.held and not self.release_data
        network_args = self.args(
            "network",
            project=project,
            name=gcp_name(args.stack, "vpc"),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"mbops {args.stack}: app network",
        )
        self.network = gcp.compute.Network(
            f"{name}-vpc", **network_args,
            opts=self._kept("network", f"projects/{project}/global/networks/{network_args['name']}"),
        )  # fmt: skip
        subnet_name = gcp_name(args.stack, "subnet")
        self.subnetwork = gcp.compute.Subnetwork(
            f"{name}-subnet",
            **self.args(
                "subnetwork",
                project=project,
                region=region,
                name=subnet_name,
                network=self.network.id,
                ip_cidr_range=subnet_range,
                private_ip_google_access=True,
                stack_type="IPV4_ONLY",
                log_config={
                    "aggregation_interval": "INTERVAL_5_SEC",
                    "flow_sampling": 0.5,
                    "metadata": "INCLUDE_ALL_METADATA",
                },
            ),
            opts=self._kept("subnetwork", f"projects/{project}/regions/{region}/subnetworks/{subnet_name}"),
        )
        self.nat: gcp.compute.RouterNat | None = None
        if spec.nat != "none" and args.vms:
            self.router = gcp.compute.Router(
                f"{name}-router",
                **self.args("router", project=project, region=region, network=self.network.id),
                opts=self.opts(),
            )
            self.nat = gcp.compute.RouterNat(
                f"{name}-nat",
                **self.args(
                    "nat",
                    project=project,
                    region=region,
                    router=self.router.name,
                    nat_ip_allocate_option="AUTO_ONLY",
                    source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                    subnetworks=[{"name": self.subnetwork.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
                    enable_endpoint_independent_mapping=False,
                    log_config={"enable": True, "filter": "ERRORS_ONLY"},
                ),
                opts=self.opts(),
            )
        self._firewall(name, args)

        psa_range_args = self.args(
            "psa_range",
            project=project,
            name=gcp_name(args.stack, "psa"),
            network=self.network.id,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            ip_version="IPV4",
            labels=self.labels,
            **(
                {"address": psa_range.split("/")[0], "prefix_length": int(psa_range.split("/")[1])}
                if psa_range
                else {"prefix_length": 20}
            ),
            description="Private service access: Cloud SQL and Memorystore private IPs",
        )
        self.psa_range = gcp.compute.GlobalAddress(
            f"{name}-psa-range", **psa_range_args,
            opts=self._kept("psa_range", f"projects/{project}/global/addresses/{psa_range_args['name']}"),
        )  # fmt: skip
        # REMOVE_PEERING: Cloud SQL holds a deleted instance's peering for a while, so deleting the connection is
        # refused; the peering is then removed from the VPC, which can be deleted. update_on_creation_fail: a
        # connection that already exists (a kept VPC taken back) gets this range instead of failing the create.
        service = "servicenetworking.googleapis.com"
        self.psa_connection = gcp.servicenetworking.Connection(
            f"{name}-psa",
            **self.args(
                "psa_connection",
                network=self.network.id,
                service=service,
                reserved_peering_ranges=[self.psa_range.name],
                deletion_policy="REMOVE_PEERING",
                update_on_creation_fail=True,
            ),
            opts=self._kept("psa_connection", f"/projects/{project}/global/networks/{network_args['name']}:{service}"),
        )
        self.network_id = self.network.id
        self.subnetwork_id = self.subnetwork.id
        self.subnet_range = subnet_range
        self.zones = spec.zones
        # Every zone of the region, in name order (no status filter: a zone that is down would shift the list).
        self.zone_names: pulumi.Output[list[str]] = gcp.compute.get_zones_output(
            project=project, region=region, opts=self.invoke_opts()
        ).names.apply(lambda names: sorted(names)[: spec.zones])
        self.finish(
            {
                "network_id": self.network.id,
                "subnetwork_id": self.subnetwork.id,
                "app_tag": self.app_tag,
                "db_tag": self.db_tag,
            }
        )

    def _kept(self, child: str, import_id: str) -> pulumi.ResourceOptions:
        """Options of what the kept database needs: kept and adoptable with it, else a plain child."""
        return self.data_opts(child, import_id) if self.keeps_data else self.opts()

    def _firewall(self, name: str, args: NetworkArgs) -> None:
        project = self.project
        log = {"metadata": "INCLUDE_ALL_METADATA"}
        self.allow_lb = gcp.compute.Firewall(
            f"{name}-allow-lb",
            **self.args(
                "allow_lb",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=1000,
                description="Google load balancers and health checks to the app port",
                source_ranges=list(GOOGLE_LB_RANGES),
                target_tags=[self.app_tag],
                allows=[{"protocol": "tcp", "ports": [str(args.app_port)]}],
                log_config=log,
            ),
            opts=self.opts(),
        )
        self.allow_iap_ssh = gcp.compute.Firewall(
            f"{name}-allow-iap-ssh",
            **self.args(
                "allow_iap_ssh",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=1000,
                description="SSH only through IAP TCP forwarding (no bastion, no public SSH)",
                source_ranges=[IAP_TCP_RANGE],
                target_tags=[self.app_tag, self.db_tag],
                allows=[{"protocol": "tcp", "ports": ["22"]}],
                log_config=log,
            ),
            opts=self.opts(),
        )
        self.deny_all_ingress = gcp.compute.Firewall(
            f"{name}-deny-all-ingress",
            **self.args(
                "deny_all_ingress",
                project=project,
                network=self.network.id,
                direction="INGRESS",
                priority=65534,
                description="Deny (and log) every other ingress",
                source_ranges=["0.0.0.0/0"],
                denies=[{"protocol": "all"}],
                log_config=log,
            ),
            opts=self.opts(),
        )


def build(ctx: BuildContext) -> Built:
    """The stack's VPC: subnet, Cloud NAT, firewall and private service access for Cloud SQL and Memorystore."""
    database = ctx.stack.specs.get("database")
    self_hosted = bool(getattr(database, "self_hosted", False))
    network = Network(
        ctx.name,
        NetworkArgs(spec=ctx.spec, app_port=ctx.stack.app.port, vms=ctx.stack.has("servers") or self_hosted,
                    held=ctx.stack.has("containers") or (database is not None and not self_hosted),
                    **stack_args(ctx.stack)),
    )  # fmt: skip
    return built(network)
