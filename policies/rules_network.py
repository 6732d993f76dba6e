"""Network exposure of compute: no admin or database ports open to the internet, IMDSv2, no public VM IPs.
(HTTPS on public entries is in rules_https.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mbops.policies.model import Context, Graph, Resource, Rule, unverified
from mbops.policies.openings import EXTRACTORS, Exposure, exposures, openings
from mbops.policies.values import flag, get, items, known, word

ADMIN_PORTS = {22: "SSH", 3389: "RDP", 5432: "PostgreSQL", 6379: "Redis", 3306: "MySQL", 1433: "SQL Server"}


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- network-no-open-admin-ports ----------------------------------------------------------------------------
def _open_admin_ports(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """One finding per resource (and set of rules) that lets the whole internet reach an admin port."""
    merged: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Resource, list[Exposure]]] = {}
    for exposure in exposures(openings(graph), ADMIN_PORTS):
        where = exposure.rules[0].resource
        key = (where.get("urn", ""), tuple((o.resource.get("urn", ""), o.label) for o in exposure.rules))
        merged.setdefault(key, (where, []))[1].append(exposure)
    for where, found in merged.values():
        yield where, _describe(where, found)


def _describe(where: Resource, found: list[Exposure]) -> str:
    ports = ", ".join(f"{e.port} ({ADMIN_PORTS[e.port]})" for e in sorted(found, key=lambda e: e.port))
    rules = found[0].rules
    families = sorted({f for e in found for f in e.families})
    shown = list(dict.fromkeys(s for o in rules for s in o.shown))
    via = [o.label if o.resource is where else f"{o.label} of {o.resource.get('name', '?')}" for o in rules]
    return (
        f"{ports} open to the internet ({' and '.join(families)}: {' + '.join(shown)}) through "
        f"{', '.join(dict.fromkeys(via))}"
    )


ADMIN_PORTS_CLOSED = Rule(
    id="network-no-open-admin-ports",
    title="No SSH, RDP or database ports open to the internet",
    severity="high",
    enforcement="mandatory",
    description="No firewall, security group, network ACL or firewall policy admits the internet (0.0.0.0/0, "
    "::/0, '*', 'Internet', or ranges that together cover every public address, such as 0.0.0.0/1 + "
    "128.0.0.0/1) to SSH (22), RDP (3389), PostgreSQL (5432), Redis (6379), MySQL (3306) or SQL Server (1433). "
    "Rules guarding the same group, NSG or network are evaluated together in the cloud's order. Administer "
    "through SSM Session Manager, IAP TCP forwarding or Azure Bastion instead.",
    remediation={
        "aws": "Remove the 0.0.0.0/0 ingress for the port; reach instances with SSM Session Manager.",
        "gcp": "Restrict source_ranges (e.g. the IAP range 35.235.240.0/20 for SSH) instead of 0.0.0.0/0.",
        "azure": "Restrict source_address_prefix to the VNet or a bastion subnet instead of '*' / "
                 "'Internet'.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={
        "aws": "CIS AWS 5.2; CIS AWS 5.3",
        "aws:ec2/networkAcl:NetworkAcl": "CIS AWS 5.1",
        "aws:ec2/networkAclRule:NetworkAclRule": "CIS AWS 5.1",
        "gcp": "CIS GCP 3.6; CIS GCP 3.7",
        "azure": "CIS Azure 6.1; CIS Azure 6.2",
    },  # fmt: skip
    graph_check=_open_admin_ports,
    graph_types=tuple(EXTRACTORS),
)


# --- imdsv2-required ----------------------------------------------------------------------------------------
def _imdsv2(res: Resource, ctx: Context) -> Iterator[str]:
    options = get(_inputs(res), "metadataOptions")
    if not known(options):
        yield unverified("metadataOptions")
        return
    endpoint = get(options, "httpEndpoint")
    if not known(endpoint):
        yield unverified("metadataOptions.httpEndpoint")
        return
    if word(endpoint) == "disabled":
        return
    tokens = get(options, "httpTokens")
    if not known(tokens):
        yield unverified("metadataOptions.httpTokens")
    elif word(tokens) != "required":
        yield (
            f"metadataOptions.httpTokens is {tokens or 'not set (optional)'}: IMDSv1 lets SSRF steal role "
            f"credentials"
        )


IMDSV2 = Rule(
    id="imdsv2-required",
    title="EC2 instance metadata requires IMDSv2",
    severity="high",
    enforcement="mandatory",
    description="Launch templates and instances require session tokens for the instance metadata service, so "
                "a "
    "server-side request forgery cannot read the instance role's credentials.",
    remediation="Set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled', "
    "'http_put_response_hop_limit': 2} on the launch template.",
    clouds=("aws",),
    controls={"aws": "CIS AWS 5.6"},
    checks={"aws:ec2/launchTemplate:LaunchTemplate": _imdsv2, "aws:ec2/instance:Instance": _imdsv2},
)


# --- servers-no-public-ip -----------------------------------------------------------------------------------
def _public_ip_flag(value: Any, label: str) -> Iterator[str]:
    if not known(value):
        yield unverified(label)
    elif flag(value) is True:
        yield f"{label} is true: instances get public IPv4 addresses"


def _aws_launch_template_ip(res: Resource, ctx: Context) -> Iterator[str]:
    nics = get(_inputs(res), "networkInterfaces")
    if not known(nics):
        yield unverified("networkInterfaces")
    for index, nic in enumerate(items(nics)):
        yield from _public_ip_flag(get(nic, "associatePublicIpAddress"),
                                   f"networkInterfaces[{index}].associatePublicIpAddress")  # fmt: skip


def _aws_instance_ip(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _public_ip_flag(get(_inputs(res), "associatePublicIpAddress"), "associatePublicIpAddress")


def _gcp_access_configs(res: Resource, ctx: Context) -> Iterator[str]:
    nics = get(_inputs(res), "networkInterfaces")
    if not known(nics):
        yield unverified("networkInterfaces")
    for index, nic in enumerate(items(nics)):
        configs = [get(nic, "accessConfigs"), get(nic, "ipv6AccessConfigs")]
        if any(not known(c) for c in configs):
            yield unverified(f"networkInterfaces[{index}].accessConfigs")
        elif any(items(c) for c in configs):
            yield "a network interface has an access config: the VM gets an external IP address"


def _azure_vmss_ip(res: Resource, ctx: Context) -> Iterator[str]:
    nics = get(_inputs(res), "virtualMachineProfile.networkProfile.networkInterfaceConfigurations")
    if not known(nics):
        yield unverified("virtualMachineProfile.networkProfile.networkInterfaceConfigurations")
    for nic in items(nics):
        for ipc in items(get(nic, "ipConfigurations")):
            if get(ipc, "publicIPAddressConfiguration") is not None:
                yield f"ip configuration {get(ipc, 'name', '?')} gives every VM a public IP address"


def _azure_nic_ip(res: Resource, ctx: Context) -> Iterator[str]:
    for ipc in items(get(_inputs(res), "ipConfigurations")):
        if get(ipc, "publicIPAddress") is not None:
            yield f"ip configuration {get(ipc, 'name', '?')} attaches a public IP address"


SERVERS_PRIVATE = Rule(
    id="servers-no-public-ip",
    title="VMs have no public IP addresses",
    severity="medium",
    enforcement="mandatory",
    description="App and database VMs live in private subnets without external addresses; traffic arrives "
                "through "
    "the load balancer and leaves through NAT.",
    remediation={
        "aws": "Do not set associate_public_ip_address on the launch template's network interfaces.",
        "gcp": "Remove access_configs from the instance template's network interfaces (Cloud NAT gives "
               "egress).",
        "azure": "Remove public_ip_address_configuration from the scale set's IP configurations.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP EC2.9", "gcp": "CIS GCP 4.9"},
    checks={
        "aws:ec2/launchTemplate:LaunchTemplate": _aws_launch_template_ip,
        "aws:ec2/instance:Instance": _aws_instance_ip,
        "gcp:compute/instanceTemplate:InstanceTemplate": _gcp_access_configs,
        "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": _gcp_access_configs,
        "gcp:compute/instance:Instance": _gcp_access_configs,
        "azure-native:compute:VirtualMachineScaleSet": _azure_vmss_ip,
        "azure-native:network:NetworkInterface": _azure_nic_ip,
    },
)


RULES = [ADMIN_PORTS_CLOSED, IMDSV2, SERVERS_PRIVATE]
