"""AWS network: a VPC with public and private subnets in ≥2 zones, NAT, flow logs and tier security groups."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.base import MbopsComponent
from mbops.components.spec import NetworkSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError

# Zones left out by id (the same physical zone has other letters in other accounts): us-east-1's use1-az3 has
# none of the current instance types (t3, t4g, m5, ...), so a subnet there would fail the app's instances.
EXCLUDED_ZONE_IDS = ("use1-az3",)
# How long Lambda may take to release a VPC function's network interfaces: what deleting their subnets and
# security groups waits for (the provider's defaults give up after 20 and 15 minutes).
ENI_RELEASE_WAIT = "45m"


@dataclass(kw_only=True)
class NetworkArgs:
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    app_port: int = 8080
    region: str = "us-east-1"
    tags: Mapping[str, str] = field(default_factory=dict)


def pick_zones(names: list[str], wanted: int, region: str) -> list[str]:
    """The first ``wanted`` of the region's available zones (as AWS lists them); a clear error when it has fewer."""
    if len(names) < wanted:
        raise ConfigError(
            f"components.network.zones: {wanted}, but {region} has {len(names)} availability zones for this account "
            f"({', '.join(names) or 'none'}); set components.network.zones to at most {len(names)}"
        )
    return list(names[:wanted])


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private /20-or-smaller subnets carved from the VPC range: public first, then private."""
    network = ipaddress.ip_network(cidr)
    blocks = list(network.subnets(new_prefix=min(network.prefixlen + 4, 28)))
    return [str(b) for b in blocks[:zones]], [str(b) for b in blocks[zones : 2 * zones]]


class Network(MbopsComponent):
    """VPC, subnets, internet and NAT gateways, routes, flow logs, and the load balancer / app tier groups.

    Children: ``vpc``, ``public_subnets``, ``private_subnets``, ``lb_security_group`` (80/443 from the
    internet, the only internet-open group), ``app_security_group`` (app port from the load balancer only),
    ``gateway_endpoint`` (S3 and DynamoDB).

    S3 and DynamoDB traffic from the private subnets (image layers from ECR, the app's bucket and table, OS
    packages) goes through gateway endpoints on their route tables: free, and off the NAT gateways' per-GB
    charge. Interface endpoints (ECR, Secrets Manager, CloudWatch Logs) are not made: about 7 USD a month each
    per zone, they pay off only past a few TB a month through NAT (``overrides`` can't add resources; a stack
    that needs them adds them next to mbops).

    Zones: the first ``zones`` of the region's available ones, less ``EXCLUDED_ZONE_IDS``; a region with fewer
    is a clear error (us-west-1 has two). A subnet keeps the zone it was made in (``ignore_changes``), so a zone
    that drops out of the list for a while (impaired) never moves the network on the next ``up``.
    """

    kind = "network"

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        tags = self.tags
        found = aws.get_availability_zones_output(
            state="available", exclude_zone_ids=list(EXCLUDED_ZONE_IDS), opts=pulumi.InvokeOutputOptions(parent=self)
        )
        zones = found.names.apply(lambda names: pick_zones(names, spec.zones, args.region))
        public_cidrs, private_cidrs = subnet_cidrs(spec.cidr, spec.zones)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            **self.args(
                "vpc",
                cidr_block=spec.cidr,
                enable_dns_hostnames=True,
                enable_dns_support=True,
                tags={**tags, "Name": f"{name}-vpc"},
            ),
            opts=self.opts(),
        )
        # CIS AWS 5.4: the default security group allows nothing.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            **self.args("default_security_group", vpc_id=self.vpc.id, tags=tags),
            opts=self.opts(),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", **self.args("internet_gateway", vpc_id=self.vpc.id, tags=tags), opts=self.opts()
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            **self.args(
                "public_route_table",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                tags=tags,
            ),
            opts=self.opts(),
        )
        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        self._private_route_tables: list[aws.ec2.RouteTable] = []
        for i in range(spec.zones):
            zone = zones[i]
            public = aws.ec2.Subnet(
                f"{name}-public-{i + 1}",
                **self.args(
                    "public_subnet",
                    vpc_id=self.vpc.id,
                    cidr_block=public_cidrs[i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={**tags, "Name": f"{name}-public-{i + 1}", "tier": "public"},
                ),
                opts=self.opts(ignore_changes=["availability_zone"]),  # a subnet stays where it was made
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i + 1}-rta",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=self.opts(),
            )
            self.public_subnets.append(public)
            if spec.nat == "per_zone" or (spec.nat == "single" and i == 0):
                eip = aws.ec2.Eip(f"{name}-nat-{i + 1}-eip", domain="vpc", tags=tags, opts=self.opts())
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i + 1}",
                        **self.args("nat_gateway", allocation_id=eip.id, subnet_id=public.id, tags=tags),
                        opts=self.opts(depends_on=[igw]),
                    )
                )
        for i in range(spec.zones):
            private = aws.ec2.Subnet(
                f"{name}-private-{i + 1}",
                **self.args(
                    "private_subnet",
                    vpc_id=self.vpc.id,
                    cidr_block=private_cidrs[i],
                    availability_zone=zones[i],
                    map_public_ip_on_launch=False,
                    tags={**tags, "Name": f"{name}-private-{i + 1}", "tier": "private"},
                ),
                # A VPC function's network interfaces (the database role bootstrap's) linger after it is deleted.
                opts=self.opts(ignore_changes=["availability_zone"],
                               custom_timeouts=pulumi.CustomTimeouts(delete=ENI_RELEASE_WAIT)),
            )
            routes = (
                [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_gateways[i % len(nat_gateways)].id}]
                if nat_gateways
                else []
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i + 1}-rt",
                **self.args("private_route_table", vpc_id=self.vpc.id, routes=routes, tags=tags),
                opts=self.opts(),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i + 1}-rta", subnet_id=private.id, route_table_id=rt.id, opts=self.opts()
            )
            self._private_route_tables.append(rt)
            self.private_subnets.append(private)

        self._flow_logs(name, args.region)
        private_rts = self._private_route_tables
        for service in ("s3", "dynamodb"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                **self.args(
                    "gateway_endpoint",
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Gateway",
                    route_table_ids=[rt.id for rt in private_rts],
                    tags={**tags, "Name": f"{name}-{service}"},
                ),
                opts=self.opts(),
            )
        self.lb_security_group = aws.ec2.SecurityGroup(
            f"{name}-lb-sg",
            **self.args(
                "lb_security_group",
                vpc_id=self.vpc.id,
                description="Load balancer: HTTP/HTTPS from the internet",
                ingress=[
                    {
                        "protocol": "tcp",
                        "from_port": p,
                        "to_port": p,
                        "cidr_blocks": ["0.0.0.0/0"],
                        "description": f"internet to load balancer :{p}",
                    }
                    for p in (80, 443)
                ],
                egress=[
                    {
                        "protocol": "tcp",
                        "from_port": args.app_port,
                        "to_port": args.app_port,
                        "cidr_blocks": [spec.cidr],
                        "description": "to the app tier",
                    }
                ],
                tags={**tags, "Name": f"{name}-lb"},
            ),
            opts=self.opts(),
        )
        self.app_security_group = aws.ec2.SecurityGroup(
            f"{name}-app-sg",
            **self.args(
                "app_security_group",
                vpc_id=self.vpc.id,
                description="App tier: app port from the load balancer only",
                ingress=[
                    {
                        "protocol": "tcp",
                        "from_port": args.app_port,
                        "to_port": args.app_port,
                        "security_groups": [self.lb_security_group.id],
                        "description": "load balancer to app",
                    }
                ],
                egress=[
                    {
                        "protocol": "-1",
                        "from_port": 0,
                        "to_port": 0,
                        "cidr_blocks": ["0.0.0.0/0"],
                        "description": "outbound (AWS APIs, image registry)",
                    }
                ],
                tags={**tags, "Name": f"{name}-app"},
            ),
            opts=self.opts(),
        )
        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.finish(
            {
                "vpc_id": self.vpc.id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, region: str) -> None:
        """VPC flow logs to CloudWatch (CIS AWS 3.7) with a role that may write only to that log group."""
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            **self.args("flow_log_group", retention_in_days=90, tags=self.tags),
            opts=self.opts(),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            **self.args(
                "flow_log_role",
                # Only flow logs of this account (confused deputy: aws:SourceAccount and aws:SourceArn).
                assume_role_policy=account.apply(lambda acct: json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": acct},
                                      "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{acct}:vpc-flow-log/*"}},
                    }],
                })),  # fmt: skip
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=self.opts(),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            **self.args(
                "flow_log",
                vpc_id=self.vpc.id,
                traffic_type="ALL",
                log_destination=group.arn,
                iam_role_arn=role.arn,
                tags=self.tags,
            ),
            opts=self.opts(),
        )


def data_tier_security_group(
    owner: MbopsComponent,
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    port: int,
    app_security_group_id: pulumi.Input[str],
    service: str,
    egress: list[dict] | None = None,
    also: Sequence[tuple[pulumi.Input[str], str]] = (),
) -> aws.ec2.SecurityGroup:
    """The ``security_group`` child of a data component: ``port`` from the app tier's group only (and from the
    groups in ``also``: ``(group id, description)``, e.g. the database's own role bootstrap function)."""
    return aws.ec2.SecurityGroup(
        f"{name}-sg",
        **owner.args(
            "security_group",
            vpc_id=vpc_id,
            description=f"{service}: {port} from the app tier only",
            ingress=[{"protocol": "tcp", "from_port": port, "to_port": port, "security_groups": [group],
                      "description": description}
                     for group, description in [(app_security_group_id, f"app to {service}"), *also]],
            egress=egress or [],
            tags={**owner.tags, "Name": f"{name}-{service.lower()}"},
        ),
        opts=owner.opts(),
    )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """The stack's VPC: public and private subnets, NAT, and the load balancer and app security groups."""
    network = Network(
        f"{ctx.name}",
        NetworkArgs(spec=ctx.spec, app_port=ctx.stack.app.port, region=ctx.stack.region, tags=ctx.stack.tags),
    )
    return Built(component=network)
