"""What each cloud's service for a component kind is and does: the capability notes of ``mbops compare``.

Two sources, kept apart so that nothing drifts from the code:

- ``SERVICES``: the cloud service behind a kind, named by the resource types that make it in a plan, with
  facts true of the service itself whatever its settings (DynamoDB replicates across three AZs; Lambda bills per
  request). A service is shown only when one of its types is planned; ``tests/test_capabilities.py`` fails by
  name on an entry whose types no built-in profile plans for that cloud and kind.
- everything a stack configures (HA, zones, redundancy, minimum replicas, scale to zero, private IP, password
  handling, HTTPS, WAF, monitoring) is read from the planned resources' inputs by ``mbops.engine.facts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mbops.engine.facts import View, door, kind_facts, watch, watch_lines


@dataclass(frozen=True, kw_only=True)
class Service:
    """A cloud service behind a kind: planned when any of ``types`` is; ``ha``/``scale``/``about``: true of the
    service itself (used only where the plan's own settings say nothing more specific)."""

    name: str
    types: tuple[str, ...]
    ha: str = ""
    scale: str = ""
    about: tuple[str, ...] = ()


S = Service
SERVICES: dict[str, dict[str, tuple[Service, ...]]] = {
    "aws": {
        "network": (S(name="VPC", types=("aws:ec2/vpc:Vpc",)),),
        "containers": (
            S(name="ECS on Fargate", types=("aws:ecs/service:Service",), about=("no cold starts: tasks stay running",)),
            S(name="Application Load Balancer", types=("aws:lb/loadBalancer:LoadBalancer",)),
        ),
        "serverless": (
            S(
                name="Lambda (container image)",
                types=("aws:lambda/function:Function",),
                ha="runs across the region's AZs",
                about=("15 min per invocation at most", "container images: cold starts of about 1 s or more"),
            ),
            S(
                name="API Gateway HTTP API",
                types=("aws:apigatewayv2/api:Api",),
                about=("HTTPS only; 30 s integration timeout",),
            ),
        ),
        "servers": (
            S(
                name="EC2 Auto Scaling group",
                types=("aws:autoscaling/group:Group",),
                about=("no cold starts: instances stay running",),
            ),
            S(name="Application Load Balancer", types=("aws:lb/loadBalancer:LoadBalancer",)),
        ),
        "database": (S(name="RDS for PostgreSQL", types=("aws:rds/instance:Instance",)),),
        "docdb": (
            S(
                name="DynamoDB",
                types=("aws:dynamodb/table:Table",),
                ha="replicated across three AZs",
                about=("items up to 400 KB",),
            ),
        ),
        "storage": (
            S(
                name="S3",
                types=("aws:s3/bucket:Bucket",),
                ha="stored across three or more AZs",
                scale="yes: pay per GB and request",
            ),
        ),
        "cache": (S(name="ElastiCache for Redis OSS", types=("aws:elasticache/replicationGroup:ReplicationGroup",)),),
        "auth": (
            S(
                name="Cognito user pool",
                types=("aws:cognito/userPool:UserPool",),
                ha="regional, across AZs",
                scale="yes: pay per monthly active user",
            ),
        ),
        "push": (
            S(
                name="SNS mobile push",
                types=("aws:sns/platformApplication:PlatformApplication",),
                ha="regional, across AZs",
                scale="yes: pay per notification",
            ),
        ),
        "secrets": (
            S(
                name="Secrets Manager (the stack's secrets, listed by a resource group)",
                types=("aws:resourcegroups/group:Group",),
                ha="regional, across AZs",
                scale="no: each secret bills per month",
            ),
        ),
        "cdn": (
            S(
                name="CloudFront",
                types=("aws:cloudfront/distribution:Distribution",),
                ha="global edge network",
                scale="yes: pay per GB and request",
            ),
        ),
        "registry": (
            S(
                name="ECR",
                types=("aws:ecr/repository:Repository",),
                ha="regional, across AZs",
                scale="yes: pay per GB stored",
            ),
        ),
        "edge": (
            S(name="CloudFront", types=("aws:cloudfront/distribution:Distribution",), ha="global edge network"),
            S(name="AWS WAF web ACL", types=("aws:wafv2/webAcl:WebAcl",)),
        ),
        "monitoring": (
            S(name="CloudWatch alarms", types=("aws:cloudwatch/metricAlarm:MetricAlarm",)),
            S(name="CloudWatch dashboard", types=("aws:cloudwatch/dashboard:Dashboard",)),
            S(name="Route 53 health check", types=("aws:route53/healthCheck:HealthCheck",)),
            S(name="SNS topic", types=("aws:sns/topic:Topic",)),
        ),
    },
    "gcp": {
        "network": (
            S(name="VPC network", types=("gcp:compute/network:Network",), about=("global VPC, regional subnets",)),
            S(name="Cloud NAT", types=("gcp:compute/routerNat:RouterNat",)),
        ),
        "containers": (
            S(
                name="Cloud Run",
                types=("gcp:cloudrunv2/service:Service",),
                ha="regional: instances spread over zones",
                about=("60 min request timeout at most",),
            ),
        ),
        "serverless": (
            S(
                name="Cloud Run",
                types=("gcp:cloudrunv2/service:Service",),
                ha="regional: instances spread over zones",
                about=("60 min request timeout at most", "startup CPU boost shortens cold starts"),
            ),
        ),
        "servers": (
            S(
                name="regional managed instance group",
                types=("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",),
                about=("no cold starts: instances stay running",),
            ),
            S(
                name="external Application Load Balancer",
                types=("gcp:compute/backendService:BackendService",),
                ha="global anycast front end",
            ),
        ),
        "database": (S(name="Cloud SQL for PostgreSQL", types=("gcp:sql/databaseInstance:DatabaseInstance",)),),
        "docdb": (S(name="Firestore (native mode)", types=("gcp:firestore/database:Database",)),),
        "storage": (
            S(name="Cloud Storage", types=("gcp:storage/bucket:Bucket",), scale="yes: pay per GB and operation"),
        ),
        "cache": (S(name="Memorystore for Redis", types=("gcp:redis/instance:Instance",)),),
        "auth": (
            S(
                name="Identity Platform",
                types=("gcp:identityplatform/config:Config",),
                ha="global service",
                scale="yes: pay per monthly active user",
            ),
        ),
        "push": (
            S(
                name="Firebase Cloud Messaging",
                types=("gcp:firebase/project:Project",),
                ha="global service",
                scale="yes: sending is free",
            ),
        ),
        "secrets": (
            S(
                name="Secret Manager (API enabled; each secret lives with its component)",
                types=("gcp:projects/service:Service",),
                scale="no: each secret version bills per month",
            ),
        ),
        "registry": (S(name="Artifact Registry", types=("gcp:artifactregistry/repository:Repository",)),),
        "edge": (
            S(
                name="external Application Load Balancer",
                types=("gcp:compute/backendService:BackendService",),
                ha="global anycast front end",
            ),
            S(name="Cloud Armor", types=("gcp:compute/securityPolicy:SecurityPolicy",)),
        ),
        "monitoring": (
            S(name="Cloud Monitoring alert policies", types=("gcp:monitoring/alertPolicy:AlertPolicy",)),
            S(name="uptime check", types=("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig",)),
            S(name="dashboard", types=("gcp:monitoring/dashboard:Dashboard",)),
        ),
        "cdn": (
            S(
                name="Cloud CDN on a backend bucket",
                types=("gcp:compute/backendBucket:BackendBucket",),
                ha="global edge network",
                scale="no: the load balancer's forwarding rule bills every hour",
            ),
        ),
    },
    "azure": {
        "network": (
            S(name="VNet", types=("azure-native:network:VirtualNetwork",)),
            S(name="NAT Gateway", types=("azure-native:network:NatGateway",)),
        ),
        "containers": (S(name="Container Apps", types=("azure-native:app:ContainerApp",)),),
        "serverless": (S(name="Container Apps", types=("azure-native:app:ContainerApp",)),),
        "servers": (
            S(
                name="VM Scale Set",
                types=("azure-native:compute:VirtualMachineScaleSet",),
                about=("no cold starts: instances stay running",),
            ),
            S(name="Standard Load Balancer (layer 4)", types=("azure-native:network:LoadBalancer",)),
        ),
        "database": (
            S(name="Azure Database for PostgreSQL flexible server", types=("azure-native:dbforpostgresql:Server",)),
        ),
        "docdb": (S(name="Cosmos DB for NoSQL", types=("azure-native:cosmosdb:DatabaseAccount",)),),
        "storage": (
            S(
                name="Storage account (blob)",
                types=("azure-native:storage:StorageAccount",),
                scale="yes: pay per GB and operation",
            ),
        ),
        "cache": (S(name="Azure Managed Redis", types=("azure-native:redisenterprise:RedisEnterprise",)),),
        "push": (S(name="Notification Hubs", types=("azure-native:notificationhubs:NotificationHub",), ha="regional"),),
        "secrets": (S(name="Key Vault", types=("azure-native:keyvault:Vault",), scale="yes: pay per operation"),),
        "registry": (S(name="Container Registry", types=("azure-native:containerregistry:Registry",)),),
        "edge": (
            S(name="Front Door", types=("azure-native:cdn:Profile",), ha="global edge network"),
            S(name="Front Door WAF policy", types=("azure-native:frontdoor:Policy",)),
        ),
        "monitoring": (
            S(name="Azure Monitor metric alerts", types=("azure-native:monitor:MetricAlert",)),
            S(name="Application Insights availability test", types=("azure-native:applicationinsights:WebTest",)),
            S(name="action group", types=("azure-native:monitor:ActionGroup",)),
        ),
        "cdn": (
            S(
                name="Front Door",
                types=("azure-native:cdn:Profile",),
                ha="global edge network",
                scale="no: a base fee per month",
            ),
        ),
    },
}


def services(view: View, kind: str) -> list[Service]:
    """The services of ``SERVICES`` that the plan has for ``kind``."""
    return [s for s in SERVICES.get(view.cloud, {}).get(kind, ()) if view.has(kind, *s.types)]


def _fallback_name(view: View, kind: str) -> str:
    """A kind without a known service: its resource types, as planned (never a guess)."""
    names = dict.fromkeys(r["type"].split(":")[-1] for r in view.of(kind))
    if view.cloud == "local":
        return f"{kind} on this machine"
    return ", ".join(list(names)[:3]) + (", ..." if len(names) > 3 else "") if names else kind


def capability(graph: dict[str, Any], kind: str, view: View | None = None) -> dict[str, Any]:
    """The capability notes of ``kind`` in ``graph``: the service, HA and scaling as planned, how its entry
    serves, the other settings the plan configures, and what is true of the service itself."""
    view = view or View(graph)
    found = services(view, kind)
    facts = kind_facts(graph, kind, view)

    def topic(name: str, static: str) -> str:
        planned = [f.text for f in facts if f.topic == name]
        return "; ".join(planned) or next((getattr(s, static) for s in found if getattr(s, static)), "")

    entry = door(graph, kind, view)
    notes = [f.text for f in facts if f.topic not in ("ha", "scale")]
    if kind == "monitoring":  # what it watches and who it tells (its own storage or keys are no capability)
        facts, notes = [], watch_lines(watch(graph, view))
    return {
        "service": " + ".join(s.name for s in found) or _fallback_name(view, kind),
        "ha": topic("ha", "ha") or "-",
        "scale_to_zero": topic("scale", "scale") or "-",
        "entry": entry.describe() if entry else None,
        "facts": notes,
        "about": [a for s in found for a in s.about],
    }
