"""Network exposure of compute: no admin or database ports open to the internet, IMDSv2, no public VM IPs,
HTTPS on load balancers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mbops.policies.model import Context, Graph, Resource, Rule
from mbops.policies.values import as_list, flag, get, items, known, open_to_internet, port_ranges, ports_in

ADMIN_PORTS = {22: "SSH", 3389: "RDP", 5432: "PostgreSQL", 6379: "Redis", 3306: "MySQL", 1433: "SQL Server"}
ALL_PROTOCOLS = ("-1", "all", "*")
TCP = ("tcp", "6")


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


def _describe(ports: list[int], source: str) -> str:
    names = ", ".join(f"{p} ({ADMIN_PORTS[p]})" for p in ports)
    return f"{names} open to {source}"


def _aws_rule_ports(protocol: Any, low: Any, high: Any) -> list[tuple[int, int]]:
    proto = str(protocol).lower()
    if proto in ALL_PROTOCOLS:
        return [(0, 65535)]
    if proto not in TCP:
        return []
    if isinstance(low, int | float) and isinstance(high, int | float):
        return [(int(low), int(high))]
    return []


def _aws_exposed(entry: Any, protocol: str, cidrs: tuple[str, ...]) -> str | None:
    """'22 (SSH) open to 0.0.0.0/0' for an AWS rule-like dict admitting watched ports from anywhere."""
    sources = [c for key in cidrs for c in as_list(get(entry, key)) if open_to_internet(c)]
    ranges = _aws_rule_ports(get(entry, protocol), get(entry, "fromPort"), get(entry, "toPort"))
    ports = ports_in(ranges, ADMIN_PORTS)
    return _describe(ports, " and ".join(sources)) if sources and ports else None


def _security_group(res: Resource, ctx: Context) -> Iterator[str]:
    for rule in items(get(_inputs(res), "ingress")):
        exposed = _aws_exposed(rule, "protocol", ("cidrBlocks", "ipv6CidrBlocks"))
        if exposed:
            yield "ingress " + exposed


def _security_group_rule(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    exposed = _aws_exposed(inputs, "protocol", ("cidrBlocks", "ipv6CidrBlocks"))
    if get(inputs, "type") == "ingress" and exposed:
        yield "ingress " + exposed


def _vpc_ingress_rule(res: Resource, ctx: Context) -> Iterator[str]:
    exposed = _aws_exposed(_inputs(res), "ipProtocol", ("cidrIpv4", "cidrIpv6"))
    if exposed:
        yield "ingress " + exposed


def _nacl_entries(entries: list[Any]) -> Iterator[str]:
    for entry in entries:
        if str(get(entry, "action", get(entry, "ruleAction", ""))).lower() != "allow":
            continue
        exposed = _aws_exposed(entry, "protocol", ("cidrBlock", "ipv6CidrBlock"))
        if exposed:
            yield "network ACL allows " + exposed


def _network_acl(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _nacl_entries(items(get(_inputs(res), "ingress")))


def _network_acl_rule(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if flag(get(inputs, "egress")) is not True:
        yield from _nacl_entries([inputs])


def _gcp_firewall(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if str(get(inputs, "direction", "INGRESS")) != "INGRESS" or flag(get(inputs, "disabled")) is True:
        return
    sources = [s for s in items(get(inputs, "sourceRanges")) if open_to_internet(s)]
    if not sources:
        return
    ranges: list[tuple[int, int]] = []
    for allow in items(get(inputs, "allows")):
        protocol = str(get(allow, "protocol", "")).lower()
        if protocol == "all":
            ranges.append((0, 65535))
        elif protocol in TCP:
            ports = get(allow, "ports")
            ranges.extend(port_ranges(ports) if ports else [(0, 65535)])
    found = ports_in(ranges, ADMIN_PORTS)
    if found:
        yield "firewall allows " + _describe(found, " and ".join(sources))


def _azure_rule(rule: Any) -> Iterator[str]:
    props = get(rule, "properties") if isinstance(get(rule, "properties"), dict) else rule
    if get(props, "direction") != "Inbound" or get(props, "access") != "Allow":
        return
    if str(get(props, "protocol", "*")) not in ("*", "Tcp", "Asterisk"):
        return
    prefixes = as_list(get(props, "sourceAddressPrefix")) + items(get(props, "sourceAddressPrefixes"))
    sources = [p for p in prefixes if open_to_internet(p)]
    ranges = list(port_ranges(get(props, "destinationPortRange"))) + list(
        port_ranges(items(get(props, "destinationPortRanges")))
    )
    found = ports_in(ranges, ADMIN_PORTS)
    if sources and found:
        yield f"rule {get(rule, 'name', '?')} allows " + _describe(found, " and ".join(sources))


def _azure_nsg(res: Resource, ctx: Context) -> Iterator[str]:
    for rule in items(get(_inputs(res), "securityRules")):
        yield from _azure_rule(rule)


def _azure_security_rule(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _azure_rule({"name": get(_inputs(res), "name", res.get("name")), **_inputs(res)})


ADMIN_PORTS_CLOSED = Rule(
    id="network-no-open-admin-ports",
    title="No SSH, RDP or database ports open to the internet",
    severity="high",
    enforcement="mandatory",
    description="No firewall, security group or network ACL admits 0.0.0.0/0, ::/0, '*' or 'Internet' to SSH "
                "(22), "
    "RDP (3389), PostgreSQL (5432), Redis (6379), MySQL (3306) or SQL Server (1433). Administer through SSM "
    "Session Manager, IAP TCP forwarding or Azure Bastion instead.",
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
    checks={
        "aws:ec2/securityGroup:SecurityGroup": _security_group,
        "aws:ec2/securityGroupRule:SecurityGroupRule": _security_group_rule,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _vpc_ingress_rule,
        "aws:ec2/networkAcl:NetworkAcl": _network_acl,
        "aws:ec2/networkAclRule:NetworkAclRule": _network_acl_rule,
        "gcp:compute/firewall:Firewall": _gcp_firewall,
        "azure-native:network:NetworkSecurityGroup": _azure_nsg,
        "azure-native:network:SecurityRule": _azure_security_rule,
    },
)


# --- imdsv2-required ----------------------------------------------------------------------------------------
def _imdsv2(res: Resource, ctx: Context) -> Iterator[str]:
    options = get(_inputs(res), "metadataOptions")
    if not known(options):
        return
    if get(options, "httpEndpoint") == "disabled":
        return
    tokens = get(options, "httpTokens")
    if known(tokens) and tokens != "required":
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
def _aws_launch_template_ip(res: Resource, ctx: Context) -> Iterator[str]:
    for nic in items(get(_inputs(res), "networkInterfaces")):
        if flag(get(nic, "associatePublicIpAddress")) is True:
            yield "a network interface sets associatePublicIpAddress: instances get public IPv4 addresses"


def _aws_instance_ip(res: Resource, ctx: Context) -> Iterator[str]:
    if flag(get(_inputs(res), "associatePublicIpAddress")) is True:
        yield "associatePublicIpAddress is true"


def _gcp_access_configs(res: Resource, ctx: Context) -> Iterator[str]:
    for nic in items(get(_inputs(res), "networkInterfaces")):
        if items(get(nic, "accessConfigs")) or items(get(nic, "ipv6AccessConfigs")):
            yield "a network interface has an access config: the VM gets an external IP address"


def _azure_vmss_ip(res: Resource, ctx: Context) -> Iterator[str]:
    nics = items(get(_inputs(res), "virtualMachineProfile.networkProfile.networkInterfaceConfigurations"))
    for nic in nics:
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


# --- load-balancer-https (advisory) -------------------------------------------------------------------------
def _aws_listener(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if str(get(inputs, "protocol", "")).upper() != "HTTP":
        return
    for action in items(get(inputs, "defaultActions")):
        if get(action, "type") == "redirect" and str(get(action, "redirect.protocol", "")).upper() == "HTTPS":
            return
    yield "the listener serves the app over plain HTTP (no certificate, no redirect to HTTPS)"


def _gcp_http_proxies(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    url_maps = {r.get("urn"): r for r in graph.of_type("gcp:compute/uRLMap:URLMap")}
    for proxy in graph.of_type("gcp:compute/targetHttpProxy:TargetHttpProxy"):
        maps = [url_maps[d] for d in proxy.get("dependencies") or [] if d in url_maps]
        if not any(flag(get(_inputs(m), "defaultUrlRedirect.httpsRedirect")) is True for m in maps):
            yield proxy, "the load balancer serves plain HTTP (its URL map does not redirect to HTTPS)"


LB_HTTPS = Rule(
    id="load-balancer-https",
    title="Load balancers serve HTTPS",
    severity="medium",
    enforcement="advisory",
    description="Load balancers that need your certificate (ALB, GCP HTTP(S) load balancer) serve HTTPS and "
    "redirect HTTP. Advisory because a dev stack without a domain has no certificate to use.",
    remediation={
        "aws": "Set components.containers.https_certificate to an ACM certificate ARN: the HTTP listener "
               "then "
        "redirects to an HTTPS listener.",
        "gcp": "Add a managed SSL certificate and a target HTTPS proxy; make the HTTP URL map redirect to "
               "HTTPS.",
    },
    clouds=("aws", "gcp"),
    controls={"aws": "AWS FSBP ELB.1"},
    checks={"aws:lb/listener:Listener": _aws_listener, "aws:alb/listener:Listener": _aws_listener},
    graph_check=_gcp_http_proxies,
)

RULES = [ADMIN_PORTS_CLOSED, IMDSV2, SERVERS_PRIVATE, LB_HTTPS]
