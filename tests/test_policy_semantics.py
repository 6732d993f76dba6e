"""Policy rules read what the cloud will do: address sets, normalised ports and enums, bucket policy semantics,
partial mappings, unknown security settings, secrets in app.env (issue 12).

Each case is a misconfiguration (or a look-alike that is fine) that the rules used to misjudge. Cases go through
the real paths where a stack can express them (a stack file's overrides or app.env, planned on the embedded
engine); cases about resource types or values no stack file can produce are crafted planned-graph resources.
``expect`` is "fires" (the rule reports it, mandatory, with ``contains`` in the message) or "quiet".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

from mbops.engine.plan import plan
from mbops.policies.check import evaluate
from mbops.policies.registry import BY_ID
from mbops.stacks.config import StackFile, resolve

UNKNOWN = "[computed]"
S3 = "aws:s3/bucket:Bucket"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NACL = "aws:ec2/networkAcl:NetworkAcl"
FIREWALL = "gcp:compute/firewall:Firewall"
GCP_NET = "gcp:compute/network:Network"
NSG = "azure-native:network:NetworkSecurityGroup"
NSG_RULE = "azure-native:network:SecurityRule"
HALVES = ["0.0.0.0/1", "128.0.0.0/1"]
HALVES6 = ["::/1", "8000::/1"]
SIXTEENTHS = [f"{i * 16}.0.0.0/4" for i in range(16)]
PUBLIC_ONLY = [  # every public IPv4 address, none of the private ranges
    "0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2",
    "128.0.0.0/3", "160.0.0.0/5", "168.0.0.0/6", "172.0.0.0/12", "172.32.0.0/11", "172.64.0.0/10",
    "172.128.0.0/9", "173.0.0.0/8", "174.0.0.0/7", "176.0.0.0/4", "192.0.0.0/9", "192.128.0.0/11",
    "192.160.0.0/13", "192.169.0.0/16", "192.170.0.0/15", "192.172.0.0/14", "192.176.0.0/12", "192.192.0.0/10",
    "193.0.0.0/8", "194.0.0.0/7", "196.0.0.0/6", "200.0.0.0/5", "208.0.0.0/4",
]  # fmt: skip
AKIA = "AKIA" + "IOSFODNN7EXAMPLE"  # split so secret scanners do not flag this test file
PEM = "-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA7 -----END RSA PRIVATE KEY-----"  # env values are one line
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


# --- graphs -------------------------------------------------------------------------------------------------
def urn(type_token: str, name: str) -> str:
    return f"urn:pulumi:test::mbops::{type_token}::{name}"


def res(type_token: str, inputs: dict[str, Any], name: str = "r", *, deps: tuple[str, ...] = (),
        op: str = "create") -> dict[str, Any]:  # fmt: skip
    """A crafted planned-graph resource."""
    return {"urn": urn(type_token, name), "type": type_token, "name": name, "parent": None, "custom": True,
            "component": None, "inputs": inputs, "dependencies": list(deps), "protect": False, "op": op}  # fmt: skip


# The managed dev stack's bucket on AWS (its name is fixed: <stack>-<account>-<region>; the account is the plan's).
BUCKET = "arn:aws:s3:::managed-dev-123456789012-us-east-1"


def over(kind: str, child: str, **args: Any) -> dict[str, Any]:
    """Stack-file fields that override one child's raw args."""
    return {"components": {kind: {"overrides": {child: args}}}}


def s3_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    """Stack-file fields replacing the AWS bucket policy document."""
    return over("storage", "policy", policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def public_read(condition: dict[str, Any] | None = None, principal: Any = "*") -> dict[str, Any]:
    statement = {"Sid": "PublicRead", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                 "Resource": f"{BUCKET}/*"}  # fmt: skip
    return statement | ({"Condition": condition} if condition else {})


def tls_deny(**changes: Any) -> dict[str, Any]:
    statement = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [BUCKET, f"{BUCKET}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    return statement | changes


def ingress(*cidrs: str, port: Any = 22, protocol: str = "tcp", v6: bool = False) -> dict[str, Any]:
    return {"protocol": protocol, "from_port": port, "to_port": port,
            ("ipv6_cidr_blocks" if v6 else "cidr_blocks"): list(cidrs)}  # fmt: skip


def nsg_rule(name: str, priority: int, sources: list[str], *, access: str = "Allow", direction: str = "Inbound",
             protocol: str = "Tcp", ports: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "priority": priority, "access": access, "direction": direction, "protocol": protocol,
            "source_address_prefixes": sources, "source_port_range": "*", "destination_address_prefix": "*",
            "destination_port_ranges": ports or ["22"]}  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    cloud: str
    rule: str
    expect: str  # "fires" or "quiet"
    contains: str = ""
    where: str = ""  # "profile[/env]" planned for real with ``stack``; empty: crafted ``resources``
    stack: dict[str, Any] = field(default_factory=dict)
    resources: tuple[dict[str, Any], ...] = ()
    env: str = "dev"


def P(id: str, cloud: str, rule: str, expect: str, contains: str, where: str, stack: dict[str, Any]) -> Case:  # noqa: A002, N802
    profile, env = (where.split("/") + ["dev"])[:2]
    return Case(id, cloud, rule, expect, contains, profile, stack, env=env)


def C(id: str, cloud: str, rule: str, expect: str, contains: str, *resources: dict[str, Any], env: str = "dev") -> Case:  # noqa: A002, N802, E501
    return Case(id, cloud, rule, expect, contains, resources=resources, env=env)


@cache
def _planned(cloud: str, profile: str, env: str, stack_json: str) -> tuple[dict[str, Any], Any]:
    stack = resolve(StackFile.model_validate(json.loads(stack_json)), source="test.yaml", profile=profile,
                    cloud=cloud, environment=env)  # fmt: skip
    return plan(stack, with_cost=False), stack


def graph_of(case: Case) -> tuple[dict[str, Any], Any]:
    """The planned graph a case is judged on, and its stack (None for crafted graphs)."""
    if case.where:
        return _planned(case.cloud, case.where, case.env, json.dumps(case.stack, sort_keys=True))
    graph = {"stack": "test", "cloud": case.cloud, "environment": case.env, "resources": list(case.resources),
             "outputs": {}}  # fmt: skip
    return graph, None


def findings_of(case: Case) -> list[dict[str, Any]]:
    graph, stack = graph_of(case)
    return graph["policy"] if case.where else evaluate(graph, stack)


NET = "network-no-open-admin-ports"
PUBLIC = "storage-no-public-access"
HTTPS = "storage-https-only"
SECRETS = "secrets-not-in-plaintext"
DISK = "disk-encrypted-at-rest"
SG_B = urn(SG, "sg")
NSG_B = urn(NSG, "nsg")
NET_B = urn(GCP_NET, "vpc")

CASES = [
    # --- CIDR coverage: ranges that together are the internet ----------------------------------------------
    P("sg-two-halves", "aws", NET, "fires", "22 (SSH) open to the internet (IPv4: 0.0.0.0/1 + 128.0.0.0/1)",
      "managed", over("network", "app_security_group", ingress=[ingress(*HALVES)])),
    P("sg-ipv6-halves", "aws", NET, "fires", "IPv6: ::/1 + 8000::/1",
      "managed", over("network", "app_security_group", ingress=[ingress(*HALVES6, v6=True)])),
    P("sg-halves-in-two-entries", "aws", NET, "fires", "ingress #1, ingress #2", "managed",
      over("network", "app_security_group", ingress=[ingress(HALVES[0]), ingress(HALVES[1])])),
    P("sg-sixteen-slices", "aws", NET, "fires", "22 (SSH)", "managed",
      over("network", "app_security_group", ingress=[ingress(*SIXTEENTHS)])),
    P("sg-public-space-without-private-ranges", "aws", NET, "fires", "22 (SSH)", "managed",
      over("network", "app_security_group", ingress=[ingress(*PUBLIC_ONLY)])),
    P("sg-protocol-all-as-minus-one", "aws", NET, "fires", "3389 (RDP)", "managed",
      over("network", "app_security_group", ingress=[ingress(*HALVES, port=0, protocol="-1")])),
    P("sg-protocol-upper-case-port-string", "aws", NET, "fires", "5432 (PostgreSQL)", "managed",
      over("network", "app_security_group", ingress=[ingress("0.0.0.0/0", port="5432", protocol="TCP")])),
    P("sg-port-span-covers-admin", "aws", NET, "fires", "6379 (Redis)", "managed",
      over("network", "app_security_group", ingress=[{"protocol": "6", "from_port": "1000", "to_port": "7000",
                                                      "cidr_blocks": HALVES}])),
    P("default-security-group", "aws", NET, "fires", "22 (SSH)", "managed",
      over("network", "default_security_group", ingress=[ingress(*HALVES)])),
    P("sg-half-the-internet-is-not-the-internet", "aws", NET, "quiet", "", "managed",
      over("network", "app_security_group", ingress=[ingress(HALVES[0])])),
    C("sg-rules-split-over-two-resources", "aws", NET, "fires", "of b", res(SG, {"ingress": []}, "sg"),
      res(SG_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [HALVES[0]],
                    "securityGroupId": UNKNOWN}, "a", deps=(SG_B,)),
      res(SG_RULE, {"type": "INGRESS", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [HALVES[1]],
                    "securityGroupId": UNKNOWN}, "b", deps=(SG_B,))),
    C("sg-rules-on-different-groups", "aws", NET, "quiet", "",
      res(SG_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [HALVES[0]],
                    "securityGroupId": "sg-1"}, "a"),
      res(SG_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [HALVES[1]],
                    "securityGroupId": "sg-2"}, "b")),
    C("vpc-ingress-rules-same-group-id", "aws", NET, "fires", "3389 (RDP)",
      res(VPC_RULE, {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv4": HALVES[0],
                     "securityGroupId": "sg-1"}, "a"),
      res(VPC_RULE, {"ipProtocol": "TCP", "fromPort": 3389, "toPort": 3389, "cidrIpv4": HALVES[1],
                     "securityGroupId": "sg-1"}, "b")),
    C("nacl-deny-first-then-allow", "aws", NET, "quiet", "", res(NACL, {"ingress": [
        {"ruleNo": 100, "action": "deny", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": "0.0.0.0/0"},
        {"ruleNo": 200, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": HALVES[0]},
        {"ruleNo": 210, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": HALVES[1]},
    ]}, "acl")),
    C("nacl-allow-first", "aws", NET, "fires", "22 (SSH)", res(NACL, {"ingress": [
        {"ruleNo": 100, "action": "ALLOW", "protocol": "6", "fromPort": 0, "toPort": 1024, "cidrBlock": HALVES[0]},
        {"ruleNo": 110, "action": "allow", "protocol": "6", "fromPort": 0, "toPort": 1024, "cidrBlock": HALVES[1]},
        {"ruleNo": 200, "action": "deny", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlock": "0.0.0.0/0"},
    ]}, "acl")),
    C("lightsail-port-without-cidrs-is-anywhere", "aws", NET, "fires", "3306 (MySQL)",
      res("aws:lightsail/instancePublicPorts:InstancePublicPorts", {"instanceName": "vm", "portInfos": [
          {"protocol": "tcp", "fromPort": 3306, "toPort": 3306}]}, "ports")),
    P("gcp-firewall-halves-all-ports", "gcp", NET, "fires", "22 (SSH)", "custom",
      over("network", "allow_iap_ssh", source_ranges=HALVES, allows=[{"protocol": "tcp", "ports": ["0-65535"]}])),
    P("gcp-firewall-ipv6-halves", "gcp", NET, "fires", "22 (SSH)", "custom",
      over("network", "allow_iap_ssh", source_ranges=HALVES6, allows=[{"protocol": "tcp", "ports": ["22"]}])),
    P("gcp-firewall-lower-case-direction-upper-protocol", "gcp", NET, "fires", "22 (SSH)", "custom",
      over("network", "allow_iap_ssh", direction="ingress", source_ranges=SIXTEENTHS,
           allows=[{"protocol": "TCP", "ports": ["22"]}])),
    P("gcp-firewall-without-source-is-anywhere", "gcp", NET, "fires", "no source (0.0.0.0/0)", "custom",
      over("network", "allow_iap_ssh", source_ranges=[], allows=[{"protocol": "all"}])),
    C("gcp-firewalls-split-over-two-rules", "gcp", NET, "fires", "firewall of b", res(GCP_NET, {}, "vpc"),
      res(FIREWALL, {"network": UNKNOWN, "sourceRanges": [HALVES[0]], "allows": [{"protocol": "tcp"}]}, "a",
          deps=(NET_B,)),
      res(FIREWALL, {"network": UNKNOWN, "sourceRanges": [HALVES[1]], "allows": [{"protocol": "tcp"}]}, "b",
          deps=(NET_B,))),
    C("gcp-deny-with-higher-priority", "gcp", NET, "quiet", "",
      res(FIREWALL, {"network": "default", "priority": 100, "sourceRanges": ["0.0.0.0/0"],
                     "denies": [{"protocol": "tcp", "ports": ["22"]}]}, "deny"),
      res(FIREWALL, {"network": "default", "priority": 1000, "sourceRanges": ["0.0.0.0/0"],
                     "allows": [{"protocol": "tcp", "ports": ["22"]}]}, "allow")),
    C("gcp-firewall-policy-rule", "gcp", NET, "fires", "5432 (PostgreSQL)",
      res("gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule", {
          "firewallPolicy": "policy-1", "direction": "INGRESS", "action": "allow", "priority": 10,
          "match": {"srcIpRanges": HALVES, "layer4Configs": [{"ipProtocol": "tcp", "ports": ["5432"]}]}}, "p")),
    P("azure-nsg-halves", "azure", NET, "fires", "22 (SSH)", "custom",
      over("network", "nsg_app", security_rules=[nsg_rule("halves", 100, HALVES)])),
    P("azure-nsg-ipv6-halves", "azure", NET, "fires", "22 (SSH)", "custom",
      over("network", "nsg_app", security_rules=[nsg_rule("halves6", 100, HALVES6)])),
    P("azure-nsg-lower-case-enums", "azure", NET, "fires", "3389 (RDP)", "custom",
      over("network", "nsg_app", security_rules=[
          nsg_rule("lower", 100, ["0.0.0.0/0"], access="allow", direction="inbound", protocol="TCP",
                   ports=["3000-4000"])])),
    P("azure-nsg-any-source", "azure", NET, "fires", "1433 (SQL Server)", "custom",
      over("network", "nsg_app", security_rules=[nsg_rule("any", 100, ["Any"], protocol="*", ports=["*"])])),
    P("azure-nsg-deny-before-allow", "azure", NET, "quiet", "", "custom",
      over("network", "nsg_app", security_rules=[nsg_rule("deny", 100, ["Internet"], access="Deny"),
                                                 nsg_rule("allow", 200, HALVES)])),
    P("azure-nsg-allow-before-deny", "azure", NET, "fires", "22 (SSH)", "custom",
      over("network", "nsg_app", security_rules=[nsg_rule("allow", 100, HALVES),
                                                 nsg_rule("deny", 200, ["Internet"], access="Deny")])),
    C("azure-security-rules-split", "azure", NET, "fires", "rule b of b",
      res(NSG, {"resourceGroupName": "rg", "networkSecurityGroupName": "nsg", "securityRules": []}, "nsg"),
      res(NSG_RULE, {"resourceGroupName": "rg", "networkSecurityGroupName": "NSG", "direction": "Inbound",
                     "access": "Allow", "protocol": "Tcp", "priority": 100, "sourceAddressPrefix": HALVES[0],
                     "destinationPortRange": "22", "securityRuleName": "a"}, "a"),
      res(NSG_RULE, {"resourceGroupName": "rg", "networkSecurityGroupName": UNKNOWN, "direction": "Inbound",
                     "access": "Allow", "protocol": "Tcp", "priority": 110, "sourceAddressPrefix": HALVES[1],
                     "destinationPortRange": "22", "securityRuleName": "b"}, "b", deps=(NSG_B,))),
    C("azure-service-tag-is-not-the-internet", "azure", NET, "quiet", "",
      res(NSG_RULE, {"direction": "Inbound", "access": "Allow", "protocol": "*", "priority": 100,
                     "sourceAddressPrefix": "VirtualNetwork", "destinationPortRange": "*"}, "vnet")),
    C("cloud-sql-authorized-halves", "gcp", "database-not-public", "fires", "cover the whole IPv4 internet",
      res("gcp:sql/databaseInstance:DatabaseInstance", {"settings": {"ipConfiguration": {
          "ipv4Enabled": False, "sslMode": "ENCRYPTED_ONLY",
          "authorizedNetworks": [{"value": HALVES[0]}, {"value": HALVES[1]}]}}}, "sql")),
    C("azure-pg-firewall-all-public", "azure", "database-not-public", "fires", "every IPv4 address",
      res("azure-native:dbforpostgresql:FirewallRule", {"startIpAddress": "1.0.0.0",
                                                        "endIpAddress": "223.255.255.255"}, "fw")),
    # --- bucket policies --------------------------------------------------------------------------------------
    P("public-principal-list-with-tls-condition", "aws", PUBLIC, "fires", "does not restrict who calls", "managed",
      s3_policy(tls_deny(), public_read({"Bool": {"aws:SecureTransport": "true"}}, {"AWS": ["*"]}))),
    P("public-principal-with-user-agent-condition", "aws", PUBLIC, "fires", "everyone", "managed",
      s3_policy(tls_deny(), public_read({"StringLike": {"aws:UserAgent": "MyApp/*"}}, {"AWS": "*"}))),
    P("public-principal-with-referer-condition", "aws", PUBLIC, "fires", "everyone", "managed",
      s3_policy(tls_deny(), public_read({"StringEquals": {"aws:Referer": "https://example.com"}}))),
    P("public-principal-with-wildcard-source-arn", "aws", PUBLIC, "fires", "everyone", "managed",
      s3_policy(tls_deny(), public_read({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::*"}}))),
    P("public-principal-with-if-exists-vpc", "aws", PUBLIC, "fires", "everyone", "managed",
      s3_policy(tls_deny(), public_read({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}))),
    P("public-principal-with-source-ip-halves", "aws", PUBLIC, "fires", "everyone", "managed",
      s3_policy(tls_deny(), public_read({"IpAddress": {"aws:SourceIp": HALVES}}))),
    P("not-principal-allow", "aws", PUBLIC, "fires", "everyone except", "managed",
      s3_policy(tls_deny(), {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                             "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})),
    P("public-principal-pinned-to-vpc-endpoint", "aws", PUBLIC, "quiet", "", "managed",
      s3_policy(tls_deny(), public_read({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}))),
    P("public-principal-pinned-to-org", "aws", PUBLIC, "quiet", "", "managed",
      s3_policy(tls_deny(), public_read({"StringEquals": {"AWS:PrincipalOrgID": ["o-abc123"]}}))),
    P("public-principal-pinned-to-office-ips", "aws", PUBLIC, "quiet", "", "managed",
      s3_policy(tls_deny(), public_read({"IpAddress": {"aws:SourceIp": ["198.51.100.0/24"]}}))),
    P("tls-deny-narrowed-to-one-principal", "aws", HTTPS, "fires", "Principal is not *", "managed",
      s3_policy(tls_deny(Principal={"AWS": "arn:aws:iam::123456789012:root"}))),
    P("tls-deny-narrowed-to-one-action", "aws", HTTPS, "fires", "Action is not s3:*", "managed",
      s3_policy(tls_deny(Action="s3:GetObject"))),
    P("tls-deny-objects-only", "aws", HTTPS, "fires", "Resource is not the bucket and all its objects",
      "managed", s3_policy(tls_deny(Resource=f"{BUCKET}/*"))),
    P("tls-deny-with-extra-condition", "aws", HTTPS, "fires", "other conditions narrow it", "managed",
      s3_policy(tls_deny(Condition={"Bool": {"aws:SecureTransport": "false"},
                                    "StringEquals": {"aws:SourceVpc": "vpc-1"}}))),
    P("tls-deny-not-action", "aws", HTTPS, "fires", "Action is not s3:*", "managed",
      s3_policy({k: v for k, v in tls_deny(NotAction="s3:GetObject").items() if k != "Action"})),
    P("tls-deny-all-principals-all-actions", "aws", HTTPS, "quiet", "", "managed",
      s3_policy(tls_deny(Principal={"AWS": ["*"]}, Action=["s3:*"]))),
    # --- partial mappings -------------------------------------------------------------------------------------
    P("launch-template-maps-only-a-data-disk", "aws", DISK, "fires", "no blockDeviceMappings entry for the root",
      "custom", over("servers", "launch_template", block_device_mappings=[
          {"device_name": "/dev/sdf", "ebs": {"volume_size": 50, "encrypted": "true"}}])),
    P("launch-template-root-and-data-disk", "aws", DISK, "quiet", "", "custom",
      over("servers", "launch_template", block_device_mappings=[
          {"device_name": "/dev/xvda", "ebs": {"encrypted": True}},
          {"device_name": "/dev/sdf", "ebs": {"encrypted": "true"}}])),
    C("instance-without-root-block-device", "aws", DISK, "fires", "no rootBlockDevice",
      res("aws:ec2/instance:Instance", {"ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}],
                                        "metadataOptions": {"httpTokens": "required"}}, "vm")),
    # --- "[computed]" is never a passing security setting --------------------------------------------------------
    C("rds-encryption-computed", "aws", "database-encrypted-at-rest", "fires", "cannot verify",
      res("aws:rds/instance:Instance", {"storageEncrypted": UNKNOWN, "publiclyAccessible": False}, "db")),
    C("rds-public-computed", "aws", "database-not-public", "fires", "publiclyAccessible is computed",
      res("aws:rds/instance:Instance", {"storageEncrypted": True, "publiclyAccessible": UNKNOWN}, "db")),
    C("rds-ids-computed-are-fine", "aws", "database-not-public", "quiet", "",
      res("aws:rds/instance:Instance", {"storageEncrypted": True, "publiclyAccessible": False,
                                        "dbSubnetGroupName": UNKNOWN, "vpcSecurityGroupIds": [UNKNOWN]}, "db")),
    C("public-access-block-computed", "aws", PUBLIC, "fires", "blockPublicPolicy is computed",
      res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {
          "blockPublicAcls": True, "blockPublicPolicy": UNKNOWN, "ignorePublicAcls": True,
          "restrictPublicBuckets": True, "bucket": UNKNOWN}, "pab")),
    C("launch-template-encryption-computed", "aws", DISK, "fires", "ebs.encrypted is computed",
      res("aws:ec2/launchTemplate:LaunchTemplate", {"blockDeviceMappings": [
          {"deviceName": "/dev/xvda", "ebs": {"encrypted": UNKNOWN}}], "metadataOptions": {"httpTokens": "required"}})),
    C("imds-tokens-computed", "aws", "imdsv2-required", "fires", "httpTokens is computed",
      res("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": UNKNOWN}})),
    C("bucket-policy-computed", "aws", HTTPS, "fires", "the bucket policy is computed", res(S3, {}, "b"),
      res("aws:s3/bucketPolicy:BucketPolicy", {"policy": UNKNOWN}, "p", deps=(urn(S3, "b"),))),
    C("cloud-sql-ssl-mode-computed", "gcp", "database-tls-required", "fires", "sslMode is computed",
      res("gcp:sql/databaseInstance:DatabaseInstance", {"settings": {"ipConfiguration": {
          "ipv4Enabled": False, "sslMode": UNKNOWN}}}, "sql")),
    C("gcs-public-access-prevention-computed", "gcp", PUBLIC, "fires", "publicAccessPrevention is computed",
      res("gcp:storage/bucket:Bucket", {"publicAccessPrevention": UNKNOWN, "uniformBucketLevelAccess": True})),
    C("cloud-sql-deletion-protection-computed", "gcp", "database-deletion-protection", "fires",
      "deletionProtectionEnabled is computed", res("gcp:sql/databaseInstance:DatabaseInstance", {
          "settings": {"deletionProtectionEnabled": UNKNOWN, "availabilityType": "REGIONAL"}}, "sql"), env="prod"),
    C("azure-storage-https-computed", "azure", HTTPS, "fires", "enableHttpsTrafficOnly is computed",
      res("azure-native:storage:StorageAccount", {"enableHttpsTrafficOnly": UNKNOWN,
                                                  "minimumTlsVersion": "TLS1_2"}, "sa")),
    C("azure-pg-tls-version-computed", "azure", "database-tls-required", "fires",
      "ssl_min_protocol_version is computed", res("azure-native:dbforpostgresql:Configuration", {
          "configurationName": "ssl_min_protocol_version", "value": UNKNOWN}, "cfg")),
    C("azure-redis-tls-computed", "azure", "cache-tls-required", "fires", "minimumTlsVersion is computed",
      res("azure-native:redis:Redis", {"enableNonSslPort": False, "minimumTlsVersion": UNKNOWN,
                                       "publicNetworkAccess": "Disabled"}, "redis")),
    # --- enums in any case the provider accepts -------------------------------------------------------------------
    C("azure-pg-secure-transport-upper-case", "azure", "database-tls-required", "fires",
      "require_secure_transport is 'OFF'", res("azure-native:dbforpostgresql:Configuration", {
          "configurationName": "REQUIRE_SECURE_TRANSPORT", "value": "OFF"}, "cfg")),
    C("azure-pg-tls-version-lower-case", "azure", "database-tls-required", "quiet", "",
      res("azure-native:dbforpostgresql:Configuration", {
          "configurationName": "ssl_min_protocol_version", "value": "tlsv1.2"}, "cfg")),
    C("azure-redis-public-lower-case", "azure", "cache-not-public", "fires", "publicNetworkAccess is enabled",
      res("azure-native:redis:Redis", {"publicNetworkAccess": "enabled", "minimumTlsVersion": "1.2"}, "redis")),
    C("azure-redis-disabled-lower-case", "azure", "cache-not-public", "quiet", "",
      res("azure-native:redis:Redis", {"publicNetworkAccess": "disabled", "minimumTlsVersion": "1.2"}, "redis")),
    C("gcs-prevention-lower-case-is-enforced", "gcp", PUBLIC, "quiet", "",
      res("gcp:storage/bucket:Bucket", {"publicAccessPrevention": "ENFORCED", "uniformBucketLevelAccess": True})),
    # --- plaintext secrets in app.env (container definitions and user data are computed in these plans) -------
    P("app-env-secret-name-ecs", "aws", SECRETS, "fires", "app.env.DB_PASSWORD is named like a credential",
      "managed", {"app": {"env": {"DB_PASSWORD": "hunter2"}}}),
    P("app-env-stripe-key-user-data", "aws", SECRETS, "fires", "app.env.PAYMENTS holds an API token", "custom",
      {"app": {"env": {"PAYMENTS": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"}}}),
    P("app-env-aws-key-gcp-startup-script", "gcp", SECRETS, "fires", "app.env.UPLOADER holds an AWS access key id",
      "custom", {"app": {"env": {"UPLOADER": AKIA}}}),
    P("app-env-connection-string-azure-vmss", "azure", SECRETS, "fires",
      "app.env.UPSTREAM holds a URL with an embedded password", "custom",
      {"app": {"env": {"UPSTREAM": "postgres://app:s3cret@db.internal:5432/app"}}}),
    P("app-env-private-key", "aws", SECRETS, "fires", "app.env.SIGNING holds a private key", "custom",
      {"app": {"env": {"SIGNING": PEM}}}),
    P("app-env-jwt", "gcp", SECRETS, "fires", "app.env.SERVICE_AUTH holds a JSON Web Token", "managed",
      {"app": {"env": {"SERVICE_AUTH": JWT}}}),
    P("app-env-random-string", "azure", SECRETS, "fires", "app.env.UPSTREAM_AUTH holds a long random-looking",
      "managed", {"app": {"env": {"UPSTREAM_AUTH": "q8Z2xLp0Vt7Rk3Nw9Fb4Hc6Jm1Sd5Ge"}}}),
    P("app-env-azure-connection-string", "azure", SECRETS, "fires", "a connection string with a password",
      "custom", {"app": {"env": {"BUS": "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=abc123="}}}),
    P("app-env-plain-settings-are-fine", "aws", SECRETS, "quiet", "", "custom", {"app": {"env": {
        "LOG_LEVEL": "debug", "API_BASE_URL": "https://api.example.com/v1", "FEATURES": "search,upload",
        "GIT_SHA": "3f2a9c1d5e7b8a0f4c6d2e1b9a8c7d6e5f4a3b2c", "CLIENT_ID": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "MAX_CONNECTIONS_PER_HOST": "MaxConnectionsPerHost1000"}}}),
    P("app-env-key-references-are-fine", "gcp", SECRETS, "quiet", "", "managed", {"app": {"env": {
        "PULUMI_SECRETS_PROVIDER": "gcpkms://projects/acme/locations/global/keyRings/mbops/cryptoKeys/state",
        "UPLOAD_KEY": "awskms://alias/uploads?region=eu-west-1"}}}),
]  # fmt: skip


def test_case_ids_are_unique_and_rules_exist() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.rule for c in CASES} <= set(BY_ID)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cloud}:{c.id}" for c in CASES])
def test_policy_semantics(case: Case) -> None:
    findings = findings_of(case)
    hits = [f for f in findings if f["rule"] == case.rule]
    if case.expect == "quiet":
        assert not hits, [f["message"] for f in hits]
        return
    assert hits, f"{case.rule} did not fire; findings: {[(f['rule'], f['message']) for f in findings]}"
    assert any(case.contains in f["message"] for f in hits), [f["message"] for f in hits]
    assert all(f["enforcement"] == BY_ID[case.rule].enforcement for f in hits)


def test_app_env_finding_names_the_field_and_the_fix_and_never_the_value() -> None:
    case = next(c for c in CASES if c.id == "app-env-stripe-key-user-data")
    (hit,) = [f for f in findings_of(case) if f["rule"] == SECRETS]
    assert hit["enforcement"] == "mandatory" and hit["resource"].startswith("stack:")
    assert "app.env.PAYMENTS" in hit["message"] and "app.secret_env" in hit["message"]
    assert "sk_live" not in json.dumps(hit), "a finding must never repeat the secret"
    assert "app.secret_env" in hit["remediation"]


def test_app_env_is_reported_once_where_the_plan_also_shows_it() -> None:
    """On targets whose plan shows the env (Lambda, Cloud Run, local), the stack file's value is reported on the
    stack only, not a second time on the resource."""
    for cloud, profile in (("aws", "saas"), ("gcp", "managed"), ("local", "managed")):
        graph, _ = _planned(cloud, profile, "dev", json.dumps({"app": {"env": {"API_TOKEN": "t0ken-value"}}}))
        hits = [f for f in graph["policy"] if f["rule"] == SECRETS]
        assert [f["resource"] for f in hits] == [f"stack:{graph['stack']}"], (cloud, hits)


def test_unverified_settings_say_so() -> None:
    case = next(c for c in CASES if c.id == "rds-encryption-computed")
    (hit,) = [f for f in findings_of(case) if f["rule"] == case.rule]
    assert hit["message"].startswith("storageEncrypted is computed at deploy time ([computed])")
    assert hit["enforcement"] == "mandatory"
