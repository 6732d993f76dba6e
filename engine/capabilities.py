"""What each cloud's service for a component kind can do: the capability notes of ``mbops compare``.

The static table says which service mbops uses and what it can do (HA, scale to zero, cold starts, limits);
``facts(graph, kind)`` adds what this plan actually configures (HA on or off, minimum replicas), read from
the planned resources' inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Capability:
    service: str
    ha: str
    scale_to_zero: str
    cold_starts: str = "n/a"
    notes: str = ""


C = Capability
TABLE: dict[str, dict[str, Capability]] = {
    "aws": {
        "network": C(
            service="VPC, public + private subnets, NAT gateway(s)",
            ha="subnets in 2-3 AZs; NAT per AZ in prod",
            scale_to_zero="no: NAT gateways bill hourly",
            notes="VPC flow logs to CloudWatch",
        ),
        "containers": C(
            service="ECS Fargate service + Application Load Balancer",
            ha="tasks spread over AZs; ALB is multi-AZ",
            scale_to_zero="no (desired count >= 1)",
            cold_starts="none: tasks stay running",
            notes="target-tracking autoscaling",
        ),
        "serverless": C(
            service="Lambda (container image) + HTTP API",
            ha="multi-AZ by design",
            scale_to_zero="yes",
            cold_starts="yes: about 1 s+ for container images",
            notes="15 min max duration; 10 GB memory max",
        ),
        "servers": C(
            service="EC2 Auto Scaling group + ALB",
            ha="instances across AZs",
            scale_to_zero="no",
            cold_starts="none (instances stay running)",
            notes="SSM Session Manager access, no SSH",
        ),
        "database": C(
            service="RDS for PostgreSQL",
            ha="Multi-AZ standby (about 1-2 min failover)",
            scale_to_zero="no (Aurora Serverless v2 could)",
            notes="managed master password",
        ),
        "docdb": C(
            service="DynamoDB on-demand",
            ha="multi-AZ by design",
            scale_to_zero="yes: pay per request",
            notes="point-in-time recovery",
        ),
        "storage": C(service="S3", ha="multi-AZ by design (11 nines durability)", scale_to_zero="yes: pay per GB"),
        "cache": C(
            service="ElastiCache for Redis OSS",
            ha="replica + automatic failover (Multi-AZ) in prod",
            scale_to_zero="no (Serverless ElastiCache bills >= 1 GB)",
        ),
        "auth": C(service="Cognito user pool", ha="regional, multi-AZ", scale_to_zero="yes: pay per MAU"),
        "push": C(
            service="SNS mobile push (platform application)",
            ha="regional, multi-AZ",
            scale_to_zero="yes: pay per notification",
        ),
        "secrets": C(service="Secrets Manager", ha="regional, multi-AZ", scale_to_zero="no: $/secret-month"),
        "cdn": C(
            service="CloudFront with origin access control",
            ha="global edge network",
            scale_to_zero="yes: pay per GB and request",
        ),
    },
    "gcp": {
        "network": C(
            service="VPC, subnet, Cloud Router + Cloud NAT, private services access",
            ha="regional subnet spans zones; Cloud NAT is a managed regional service",
            scale_to_zero="mostly: NAT bills per VM-hour",
            notes="flow logs to Cloud Logging",
        ),
        "containers": C(
            service="Cloud Run service (Direct VPC egress)",
            ha="regional: spread over zones",
            scale_to_zero="yes (min instances 0); managed keeps >= 1 warm",
            cold_starts="with min 0: yes, about 1 s; warm min instances avoid them",
            notes="request-based or instance-based billing",
        ),
        "serverless": C(
            service="Cloud Run service, min instances 0",
            ha="regional: spread over zones",
            scale_to_zero="yes",
            cold_starts="yes: about 1 s (startup CPU boost)",
            notes="60 min max request timeout",
        ),
        "servers": C(
            service="Regional managed instance group + external Application LB",
            ha="instances across zones",
            scale_to_zero="no",
            cold_starts="none (instances stay running)",
            notes="IAP / OS Login access",
        ),
        "database": C(
            service="Cloud SQL for PostgreSQL (Enterprise)",
            ha="REGIONAL: standby in a second zone",
            scale_to_zero="no (can be stopped by hand)",
            notes="private IP, PITR",
        ),
        "docdb": C(
            service="Firestore (native mode)",
            ha="multi-zone (regional) or multi-region",
            scale_to_zero="yes: pay per operation",
            notes="daily free quota",
        ),
        "storage": C(service="Cloud Storage (regional)", ha="multi-zone within the region", scale_to_zero="yes"),
        "cache": C(
            service="Memorystore for Redis",
            ha="STANDARD_HA tier: replica with automatic failover",
            scale_to_zero="no",
        ),
        "auth": C(service="Identity Platform", ha="global service", scale_to_zero="yes: pay per MAU (50k free)"),
        "push": C(service="Firebase Cloud Messaging", ha="global service", scale_to_zero="yes: free"),
        "secrets": C(service="Secret Manager", ha="replicated per policy", scale_to_zero="mostly: $/version-month"),
        "cdn": C(
            service="Cloud CDN on a backend bucket + global external LB",
            ha="global edge network",
            scale_to_zero="no: forwarding rule bills hourly",
        ),
    },
    "azure": {
        "network": C(
            service="VNet, subnets, NSGs, NAT Gateway",
            ha="NAT Gateway is zonal (one zone)",
            scale_to_zero="no: NAT gateway bills hourly",
            notes="private DNS zones for PaaS",
        ),
        "containers": C(
            service="Container Apps (consumption, VNet-integrated)",
            ha="zone-redundant environment in prod",
            scale_to_zero="yes (min replicas 0); managed keeps >= 1",
            cold_starts="with min 0: yes, several seconds",
            notes="KEDA HTTP autoscaling",
        ),
        "serverless": C(
            service="Container Apps, min replicas 0",
            ha="zone redundancy needs a VNet environment",
            scale_to_zero="yes",
            cold_starts="yes: several seconds",
            notes="consumption plan",
        ),
        "servers": C(
            service="VM Scale Set + Standard Load Balancer",
            ha="instances across zones",
            scale_to_zero="no",
            cold_starts="none (instances stay running)",
        ),
        "database": C(
            service="Azure Database for PostgreSQL Flexible Server",
            ha="zone-redundant HA standby in prod",
            scale_to_zero="no (can be stopped for up to 7 days)",
            notes="VNet-integrated private access",
        ),
        "docdb": C(
            service="Cosmos DB for NoSQL, serverless",
            ha="single region; no multi-region writes",
            scale_to_zero="yes: pay per request unit",
            notes="serverless: 1 region, 1 TB per container",
        ),
        "storage": C(
            service="Storage account (blob)",
            ha="LRS in dev (3 copies, 1 datacenter); ZRS in prod",
            scale_to_zero="yes",
        ),
        "cache": C(service="Azure Managed Redis", ha="high availability (2 nodes) in prod", scale_to_zero="no"),
        "auth": C(service="(Entra External ID: not in the provider)", ha="-", scale_to_zero="-"),
        "push": C(service="Notification Hubs", ha="regional", scale_to_zero="Free tier in dev; Basic is $/month"),
        "secrets": C(
            service="Key Vault (RBAC)",
            ha="zone-redundant in most regions",
            scale_to_zero="yes: pay per operation",
        ),
        "cdn": C(
            service="Azure Front Door Standard",
            ha="global edge network",
            scale_to_zero="no: base fee per month",
        ),
    },
    "local": {},
}


def capability(cloud: str, kind: str) -> dict[str, str]:
    cap = TABLE.get(cloud, {}).get(kind)
    return (
        asdict(cap)
        if cap
        else {
            "service": f"{kind} on this machine" if cloud == "local" else kind,
            "ha": "-",
            "scale_to_zero": "-",
            "cold_starts": "n/a",
            "notes": "",
        }
    )


def _of(graph: dict[str, Any], kind: str, *types: str) -> list[dict[str, Any]]:
    return [r for r in graph["resources"] if r.get("component") == kind and r["type"] in types]


def _get(value: Any, *path: str, default: Any = None) -> Any:
    for step in path:
        if not isinstance(value, dict):
            return default
        value = value.get(step)
    return default if value is None else value


def facts(graph: dict[str, Any], kind: str) -> list[str]:
    """What this plan configures for ``kind``: HA on/off, replicas, scale to zero."""
    cloud, out = graph["cloud"], []
    detectors = {
        ("aws", "database"): lambda r: "Multi-AZ: on" if r["inputs"].get("multiAz") else "Multi-AZ: off",
        ("gcp", "database"): lambda r: (
            f"availability: {_get(r['inputs'], 'settings', 'availabilityType', default='ZONAL')}"
        ),
        ("azure", "database"): lambda r: f"HA: {_get(r['inputs'], 'highAvailability', 'mode', default='Disabled')}",
        ("aws", "cache"): lambda r: (
            "automatic failover: on" if r["inputs"].get("automaticFailoverEnabled") else "automatic failover: off"
        ),
        ("gcp", "cache"): lambda r: f"tier: {r['inputs'].get('tier', 'BASIC')}",
        ("azure", "cache"): lambda r: f"high availability: {r['inputs'].get('highAvailability', 'Enabled')}",
        ("aws", "containers"): lambda r: f"tasks: {r['inputs'].get('desiredCount', '?')}",
        ("gcp", "containers"): lambda r: (
            f"min instances: {_get(r['inputs'], 'template', 'scaling', 'minInstanceCount', default=0)}"
        ),
        ("gcp", "serverless"): lambda r: (
            f"min instances: {_get(r['inputs'], 'template', 'scaling', 'minInstanceCount', default=0)}"
        ),
        ("azure", "containers"): lambda r: (
            f"min replicas: {_get(r['inputs'], 'template', 'scale', 'minReplicas', default=0)}"
        ),
        ("azure", "serverless"): lambda r: (
            f"min replicas: {_get(r['inputs'], 'template', 'scale', 'minReplicas', default=0)}"
        ),
        ("aws", "servers"): lambda r: f"instances: {r['inputs'].get('minSize', '?')}-{r['inputs'].get('maxSize', '?')}",
        ("azure", "servers"): lambda r: f"instances: {_get(r['inputs'], 'sku', 'capacity', default='?')}",
    }
    types = {
        ("aws", "database"): ("aws:rds/instance:Instance",),
        ("gcp", "database"): ("gcp:sql/databaseInstance:DatabaseInstance",),
        ("azure", "database"): ("azure-native:dbforpostgresql:Server",),
        ("aws", "cache"): ("aws:elasticache/replicationGroup:ReplicationGroup",),
        ("gcp", "cache"): ("gcp:redis/instance:Instance",),
        ("azure", "cache"): ("azure-native:redisenterprise:RedisEnterprise", "azure-native:redis:Redis"),
        ("aws", "containers"): ("aws:ecs/service:Service",),
        ("gcp", "containers"): ("gcp:cloudrunv2/service:Service",),
        ("gcp", "serverless"): ("gcp:cloudrunv2/service:Service",),
        ("azure", "containers"): ("azure-native:app:ContainerApp",),
        ("azure", "serverless"): ("azure-native:app:ContainerApp",),
        ("aws", "servers"): ("aws:autoscaling/group:Group",),
        ("azure", "servers"): ("azure-native:compute:VirtualMachineScaleSet",),
    }
    key = (cloud, kind)
    if key in detectors:
        for res in _of(graph, kind, *types[key]):
            out.append(detectors[key](res))
    if kind == "network":
        nat = _of(
            graph,
            kind,
            "aws:ec2/natGateway:NatGateway",
            "azure-native:network:NatGateway",
            "gcp:compute/routerNat:RouterNat",
        )
        if nat:
            out.append(f"NAT gateways: {len(nat)}")
    if kind == "storage":
        for res in _of(graph, kind, "azure-native:storage:StorageAccount"):
            out.append(f"redundancy: {_get(res['inputs'], 'sku', 'name', default='?')}")
    return out
