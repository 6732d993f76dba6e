"""Every ingress rule of every resource type that can open a port, as one shape: who, which TCP ports, allow or
deny, in which order, on what.

Rules that guard the same thing (a security group and its separate rule resources, an NSG and its
``SecurityRule``s, the firewall rules of one GCP network, a firewall policy and its rules) are evaluated
together, in the cloud's order (first match by priority / rule number; a deny wins a tie), so a set of ranges
spread over several rules or resources is judged as the union the cloud will apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mbops.policies.model import Graph, Resource
from mbops.policies.netsets import (
    AddressSet,
    Interval,
    covers,
    port_ranges,
    sources,
    span,
    tcp_ports,
)
from mbops.policies.values import as_list, flag, get, items, known, number, word

SG_TYPES = ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
NACL_TYPES = ("aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
NSG = "azure-native:network:NetworkSecurityGroup"
GCP_NETWORK = "gcp:compute/network:Network"
GCP_POLICIES = (
    "gcp:compute/firewallPolicy:FirewallPolicy",
    "gcp:compute/networkFirewallPolicy:NetworkFirewallPolicy",
    "gcp:compute/regionNetworkFirewallPolicy:RegionNetworkFirewallPolicy",
)
GCP_POLICY_RULES = (
    "gcp:compute/firewallPolicyRule:FirewallPolicyRule",
    "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule",
    "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule",
)
GCP_POLICIES_WITH_RULES = (
    "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules",
    "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules",
)


@dataclass(frozen=True)
class Opening:
    """One ingress rule: ``sources`` on ``ports`` (TCP) are allowed or denied on ``target``."""

    resource: Resource
    label: str
    target: str
    allow: bool
    sources: AddressSet
    shown: tuple[str, ...]
    ports: tuple[Interval, ...]
    order: tuple[float, int] = (0, 0)  # lower first; a deny sorts before an allow of the same priority
    scope: frozenset[str] | None = None  # GCP target tags / service accounts; None: every instance


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


def _reference(res: Resource, value: Any, types: tuple[str, ...], graph: Graph) -> str:
    """What a rule resource points at: the URN of the resource it depends on (ids computed at deploy time), else
    the literal id/name it gives, else itself."""
    for dependency in res.get("dependencies") or []:
        target = graph.by_urn(dependency)
        if target is not None and target.get("type") in types:
            return dependency
    if isinstance(value, str) and known(value) and value:
        return f"id:{value}"
    return res.get("urn") or res.get("name", "?")


def _order(priority: Any, allow: bool, default: float) -> tuple[float, int]:
    value = number(priority)
    return (default if value is None else value, 1 if allow else 0)


# --- AWS ----------------------------------------------------------------------------------------------------
def _aws(res: Resource, entry: Any, label: str, target: str, *, protocol: str, cidrs: tuple[str, ...],
         allow: bool = True, order: tuple[float, int] = (0, 0)) -> Iterator[Opening]:  # fmt: skip
    ports = span(get(entry, "fromPort"), get(entry, "toPort"))
    admitted = tcp_ports(get(entry, protocol), ports or [])  # every protocol ("-1") ignores the ports
    found, shown = sources(v for key in cidrs for v in as_list(get(entry, key)))
    if admitted and found:
        yield Opening(res, label, target, allow, found, tuple(shown), tuple(admitted), order)


def _security_group(res: Resource, graph: Graph) -> Iterator[Opening]:
    for index, rule in enumerate(items(get(_inputs(res), "ingress"))):
        label = f"ingress #{index + 1}"
        yield from _aws(res, rule, label, res["urn"], protocol="protocol", cidrs=("cidrBlocks", "ipv6CidrBlocks"))


def _security_group_rule(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    if word(get(inputs, "type")) != "ingress":
        return
    target = _reference(res, get(inputs, "securityGroupId"), SG_TYPES, graph)
    yield from _aws(res, inputs, "ingress rule", target, protocol="protocol", cidrs=("cidrBlocks", "ipv6CidrBlocks"))


def _vpc_ingress_rule(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    target = _reference(res, get(inputs, "securityGroupId"), SG_TYPES, graph)
    yield from _aws(res, inputs, "ingress rule", target, protocol="ipProtocol", cidrs=("cidrIpv4", "cidrIpv6"))


def _nacl_entry(res: Resource, entry: Any, target: str, label: str) -> Iterator[Opening]:
    action = word(get(entry, "action", get(entry, "ruleAction")))
    if action not in ("allow", "deny"):
        return
    allow = action == "allow"
    order = _order(get(entry, "ruleNo", get(entry, "ruleNumber")), allow, 32767)
    yield from _aws(res, entry, label, target, protocol="protocol", cidrs=("cidrBlock", "ipv6CidrBlock"),
                    allow=allow, order=order)  # fmt: skip


def _network_acl(res: Resource, graph: Graph) -> Iterator[Opening]:
    for index, entry in enumerate(items(get(_inputs(res), "ingress"))):
        yield from _nacl_entry(res, entry, res["urn"], f"network ACL ingress #{index + 1}")


def _network_acl_rule(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    if flag(get(inputs, "egress")) is True:
        return
    target = _reference(res, get(inputs, "networkAclId"), NACL_TYPES, graph)
    yield from _nacl_entry(res, inputs, target, "network ACL rule")


def _lightsail_ports(res: Resource, graph: Graph) -> Iterator[Opening]:
    for index, info in enumerate(items(get(_inputs(res), "portInfos"))):
        given = as_list(get(info, "cidrs")) + as_list(get(info, "ipv6Cidrs")) + as_list(get(info, "cidrListAliases"))
        entry = info if given else {**info, "cidrs": ["0.0.0.0/0"]}  # Lightsail opens to every IPv4 address
        yield from _aws(res, entry, f"public port #{index + 1}", res["urn"], protocol="protocol",
                        cidrs=("cidrs", "ipv6Cidrs"))  # fmt: skip


# --- GCP ----------------------------------------------------------------------------------------------------
def _gcp_scope(inputs: Any) -> frozenset[str] | None:
    scope = [f"tag:{t}" for t in items(get(inputs, "targetTags"))]
    scope += [f"sa:{s}" for s in items(get(inputs, "targetServiceAccounts"))]
    scope += [f"secure-tag:{get(t, 'name')}" for t in items(get(inputs, "targetSecureTags"))]
    return frozenset(scope) or None


def _gcp_firewall(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    if word(get(inputs, "direction"), "ingress") != "ingress" or flag(get(inputs, "disabled")) is True:
        return
    found, shown = sources(items(get(inputs, "sourceRanges")))
    if not get(inputs, "sourceRanges") and not get(inputs, "sourceTags") and not get(inputs, "sourceServiceAccounts"):
        found, shown = sources(["0.0.0.0/0"])  # an ingress rule without any source admits every IPv4 address
        shown = ["no source (0.0.0.0/0)"]
    if not found:
        return
    target = _reference(res, get(inputs, "network", "default"), (GCP_NETWORK,), graph)
    for key, allow in (("allows", True), ("denies", False)):
        for rule in items(get(inputs, key)):
            given = get(rule, "ports")
            admitted = tcp_ports(get(rule, "protocol"), list(port_ranges(given)) if given else None)
            if admitted:
                yield Opening(res, "firewall", target, allow, found, tuple(shown), tuple(admitted),
                              _order(get(inputs, "priority"), allow, 1000), _gcp_scope(inputs))  # fmt: skip


def _gcp_policy_rule(res: Resource, rule: Any, target: str, label: str) -> Iterator[Opening]:
    if word(get(rule, "direction"), "ingress") != "ingress" or flag(get(rule, "disabled")) is True:
        return
    action = word(get(rule, "action"))
    if action not in ("allow", "deny", "apply_security_profile_group"):
        return  # goto_next hands the packet to the next level
    allow = action != "deny"
    found, shown = sources(items(get(rule, "match.srcIpRanges")))
    if not found:
        return
    for config in items(get(rule, "match.layer4Configs")):
        given = get(config, "ports")
        admitted = tcp_ports(get(config, "ipProtocol"), list(port_ranges(given)) if given else None)
        if admitted:
            yield Opening(res, label, target, allow, found, tuple(shown), tuple(admitted),
                          _order(get(rule, "priority"), allow, 0), _gcp_scope(rule))  # fmt: skip


def _gcp_firewall_policy_rule(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    target = _reference(res, get(inputs, "firewallPolicy"), GCP_POLICIES, graph)
    yield from _gcp_policy_rule(res, inputs, target, f"firewall policy rule {get(inputs, 'priority', '?')}")


def _gcp_policy_with_rules(res: Resource, graph: Graph) -> Iterator[Opening]:
    for rule in items(get(_inputs(res), "rules")):
        yield from _gcp_policy_rule(res, rule, res["urn"], f"rule {get(rule, 'priority', '?')}")


# --- Azure --------------------------------------------------------------------------------------------------
def _azure_rule(res: Resource, rule: Any, target: str) -> Iterator[Opening]:
    props = get(rule, "properties") if isinstance(get(rule, "properties"), dict) else rule
    if word(get(props, "direction")) != "inbound":
        return
    access = word(get(props, "access"))
    if access not in ("allow", "deny"):
        return
    ports = list(port_ranges(get(props, "destinationPortRange"))) + list(
        port_ranges(items(get(props, "destinationPortRanges")))
    )
    admitted = tcp_ports(get(props, "protocol", "*"), ports or None)
    found, shown = sources(as_list(get(props, "sourceAddressPrefix")) + items(get(props, "sourceAddressPrefixes")))
    if admitted and found:
        allow = access == "allow"
        name = get(rule, "name", get(props, "securityRuleName", res.get("name", "?")))
        yield Opening(res, f"rule {name}", target, allow, found, tuple(shown), tuple(admitted),
                      _order(get(props, "priority"), allow, 4096))  # fmt: skip


def _nsg_key(inputs: Any) -> str | None:
    group, name = get(inputs, "resourceGroupName"), get(inputs, "networkSecurityGroupName")
    if isinstance(group, str) and isinstance(name, str) and known(group) and known(name):
        return f"nsg:{group.lower()}/{name.lower()}"
    return None


def _azure_nsg(res: Resource, graph: Graph) -> Iterator[Opening]:
    for rule in items(get(_inputs(res), "securityRules")):
        yield from _azure_rule(res, rule, res["urn"])


def _azure_security_rule(res: Resource, graph: Graph) -> Iterator[Opening]:
    inputs = _inputs(res)
    target = _reference(res, None, (NSG,), graph)
    if target == res.get("urn"):
        key = _nsg_key(inputs)
        owner = next((n for n in graph.of_type(NSG) if key and _nsg_key(_inputs(n)) == key), None)
        target = owner["urn"] if owner else (key or target)
    yield from _azure_rule(res, {"name": get(inputs, "securityRuleName", res.get("name")), **inputs}, target)


EXTRACTORS = {
    **dict.fromkeys(SG_TYPES, _security_group),
    "aws:ec2/securityGroupRule:SecurityGroupRule": _security_group_rule,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _vpc_ingress_rule,
    **dict.fromkeys(NACL_TYPES, _network_acl),
    "aws:ec2/networkAclRule:NetworkAclRule": _network_acl_rule,
    "aws:lightsail/instancePublicPorts:InstancePublicPorts": _lightsail_ports,
    "gcp:compute/firewall:Firewall": _gcp_firewall,
    **dict.fromkeys(GCP_POLICY_RULES, _gcp_firewall_policy_rule),
    **dict.fromkeys(GCP_POLICIES_WITH_RULES, _gcp_policy_with_rules),
    NSG: _azure_nsg,
    "azure-native:network:SecurityRule": _azure_security_rule,
}


def openings(graph: Graph) -> list[Opening]:
    """Every ingress rule in ``graph`` (resources being deleted excluded)."""
    found: list[Opening] = []
    for res in graph.resources:
        extract = EXTRACTORS.get(res.get("type", ""))
        if extract is not None and res.get("op") != "delete":
            found.extend(extract(res, graph))
    return found


@dataclass(frozen=True)
class Exposure:
    """A port the cloud would open to the internet on one target, and the rules that open it."""

    target: str
    port: int
    families: tuple[str, ...]
    rules: tuple[Opening, ...]


def _groups(found: Iterable[Opening]) -> dict[tuple[str, frozenset[str] | None], list[Opening]]:
    """Openings per (target, scope); GCP rules without target tags apply to every scope of their network."""
    by_target: dict[str, list[Opening]] = defaultdict(list)
    for opening in found:
        by_target[opening.target].append(opening)
    groups: dict[tuple[str, frozenset[str] | None], list[Opening]] = {}
    for target, members in by_target.items():
        everywhere = [o for o in members if o.scope is None]
        groups[(target, None)] = everywhere
        for scope in {o.scope for o in members if o.scope is not None}:
            groups[(target, scope)] = everywhere + [o for o in members if o.scope == scope]
    return groups


def exposures(found: Iterable[Opening], ports: Iterable[int]) -> list[Exposure]:
    """The watched ``ports`` each target admits from the whole internet, evaluating its rules in order (first
    match wins), with the allow rules that contributed."""
    out: list[Exposure] = []
    for (target, _scope), members in _groups(found).items():
        ordered = sorted(members, key=lambda o: o.order)
        for port in ports:
            decided, allowed, contributors = AddressSet(), AddressSet(), []
            for opening in ordered:
                if not covers(opening.ports, port):
                    continue
                fresh = opening.sources - decided
                if opening.allow and fresh:
                    allowed, contributors = allowed | fresh, [*contributors, opening]
                decided = decided | opening.sources
            families = allowed.internet()
            if families:
                out.append(Exposure(target, port, tuple(families), tuple(contributors)))
    return _distinct(out)


def _distinct(found: list[Exposure]) -> list[Exposure]:
    """Once per (target, port, rules): a GCP rule without target tags shows up in every scope's group."""
    seen: set[tuple[str, int, tuple[tuple[str, str], ...]]] = set()
    out = []
    for exposure in found:
        key = (exposure.target, exposure.port, tuple((o.resource.get("urn", ""), o.label) for o in exposure.rules))
        if key not in seen:
            seen.add(key)
            out.append(exposure)
    return out
