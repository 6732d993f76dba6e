"""Price rules for AWS resource types (pulumi-aws 7 type tokens) on the SKUs of ``cost/aws.yaml``."""

from __future__ import annotations

from typing import Any

from mbops.cost.rules import Charge, Context, Free, Outcome, Rule, Unpriced, dig, fmt, known, num, unmodelled_storage

APP_KINDS = ("containers", "serverless", "servers")


def nat_gateway(res: dict[str, Any], ctx: Context) -> Outcome:
    count = len(ctx.of_type(res["type"])) or 1
    gb = ctx.usage["nat_processed_gb"] / count
    return [
        Charge(sku="nat.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku="nat.gb",
            quantity=gb,
            detail=f"nat_processed_gb {fmt(ctx.usage['nat_processed_gb'])} / {count} gateway(s)",
        ),
    ]


def public_ip(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="ipv4.hour", quantity=ctx.hours, detail=f"1 public IPv4 address x {fmt(ctx.hours)} h")]


def load_balancer(res: dict[str, Any], ctx: Context) -> Outcome:
    kind = res["inputs"].get("loadBalancerType", "application")
    prefix = {"application": "alb", "network": "nlb"}.get(kind)
    if prefix is None:
        return Unpriced(f"load balancer type '{kind}' is not in the catalog")
    lcu = ctx.usage["lb_capacity_units"]
    return [
        Charge(sku=f"{prefix}.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku=f"{prefix}.lcu_hour",
            quantity=lcu * ctx.hours,
            detail=f"lb_capacity_units {fmt(lcu)} x {fmt(ctx.hours)} h",
        ),
    ]


def ecs_service(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    strategies = inputs.get("capacityProviderStrategies") or []
    fargate = inputs.get("launchType") == "FARGATE" or any(
        str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategies if isinstance(s, dict)
    )
    if not fargate:
        return Free("EC2 launch type: the tasks run on container instances priced separately")
    tasks = ctx.deps(res, "aws:ecs/taskDefinition:TaskDefinition")
    if not tasks:
        return Unpriced("no task definition found among the service's dependencies (CPU and memory unknown)")
    task = tasks[0]["inputs"]
    vcpu = num(task.get("cpu"), 256) / 1024
    gb = num(task.get("memory"), 512) / 1024
    arch = "arm" if dig(task, "runtimePlatform", "cpuArchitecture", default="X86_64") == "ARM64" else "x86"
    replicas = ctx.replicas(num(inputs.get("desiredCount"), ctx.app_replicas()))
    hours = replicas * ctx.hours
    base = f"{fmt(replicas)} task(s) x {fmt(ctx.hours)} h"
    return [
        Charge(sku=f"fargate.{arch}.vcpu_hour", quantity=vcpu * hours, detail=f"{base} x {vcpu:g} vCPU"),
        Charge(sku=f"fargate.{arch}.gb_hour", quantity=gb * hours, detail=f"{base} x {gb:g} GB"),
    ]


def lambda_function(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb = num(inputs.get("memorySize"), 128) / 1024
    arch = "arm" if "arm64" in (inputs.get("architectures") or []) else "x86"
    requests = ctx.usage["requests_per_month"]
    seconds = requests * ctx.usage["avg_request_ms"] / 1000
    return [
        Charge(sku="lambda.requests", quantity=requests / 1e6, detail=f"requests_per_month {fmt(requests)}"),
        Charge(
            sku=f"lambda.{arch}.gb_second",
            quantity=seconds * gb,
            detail=f"{fmt(requests)} requests x {fmt(ctx.usage['avg_request_ms'])} ms x {gb:g} GB",
        ),
    ]


def http_api(res: dict[str, Any], ctx: Context) -> Outcome:
    protocol = res["inputs"].get("protocolType", "HTTP")
    if protocol != "HTTP":
        return Unpriced(f"API Gateway {protocol} APIs are priced per message and connection minute; not modelled")
    requests = ctx.usage["requests_per_month"]
    return [Charge(sku="apigw.http.requests", quantity=requests / 1e6, detail=f"requests_per_month {fmt(requests)}")]


def rds_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    engine = inputs.get("engine", "postgres")
    if engine != "postgres":
        return Unpriced(f"RDS engine '{engine}' is not in the catalog (PostgreSQL only)")
    cls = inputs.get("instanceClass")
    if not known(cls):
        return Unpriced("the instance class is not known at plan time")
    copies = 2 if inputs.get("multiAz") else 1
    label = "Multi-AZ: primary + standby" if copies == 2 else "single-AZ"
    storage_type = inputs.get("storageType", "gp3" if num(inputs.get("allocatedStorage"), 20) >= 20 else "gp2")
    gb = num(inputs.get("allocatedStorage"), 20)
    charges = [
        Charge(
            sku=f"rds.postgres.{cls}",
            quantity=copies * ctx.hours,
            detail=f"{label}, {copies} x {fmt(ctx.hours)} h",
        ),
        Charge(
            sku=f"rds.storage.{storage_type}",
            quantity=copies * gb,
            detail=f"{fmt(gb)} GB x {copies} ({label})",
        ),
    ]
    backup = ctx.usage["database_backup_gb"]
    if backup:
        charges.append(Charge(sku="rds.backup", quantity=backup, detail=f"database_backup_gb {fmt(backup)}"))
    return charges


def cache_nodes(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    node_type = inputs.get("nodeType")
    if not known(node_type):
        return Unpriced("the cache node type is not known at plan time")
    if res["type"] == "aws:elasticache/cluster:Cluster":
        nodes = num(inputs.get("numCacheNodes"), 1)
    elif "numNodeGroups" in inputs or "replicasPerNodeGroup" in inputs:
        nodes = num(inputs.get("numNodeGroups"), 1) * (num(inputs.get("replicasPerNodeGroup"), 0) + 1)
    else:
        nodes = num(inputs.get("numCacheClusters"), 1)
    return [
        Charge(
            sku=f"elasticache.{node_type}",
            quantity=nodes * ctx.hours,
            detail=f"{fmt(nodes)} node(s) x {fmt(ctx.hours)} h",
        )
    ]


def serverless_cache(res: dict[str, Any], ctx: Context) -> Outcome:
    gb = max(ctx.usage["cache_gb"], 1.0)  # billed for at least 1 GB
    ecpu = ctx.usage["requests_per_month"] * 2
    return [
        Charge(
            sku="elasticache.serverless.gb_hour",
            quantity=gb * ctx.hours,
            detail=f"cache_gb {fmt(gb)} (min 1) x {fmt(ctx.hours)} h",
        ),
        Charge(
            sku="elasticache.serverless.ecpu",
            quantity=ecpu / 1e6,
            detail=f"2 ECPU per request x requests_per_month {fmt(ctx.usage['requests_per_month'])}",
        ),
    ]


def dynamodb_table(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb = ctx.usage["docdb_storage_gb"]
    charges: list[Charge] = []
    if inputs.get("billingMode", "PROVISIONED") == "PAY_PER_REQUEST":
        writes, reads = ctx.usage["docdb_writes_per_month"], ctx.usage["docdb_reads_per_month"]
        charges += [
            Charge(
                sku="dynamodb.write_request",
                quantity=writes / 1e6,
                detail=f"docdb_writes_per_month {fmt(writes)}",
            ),
            Charge(
                sku="dynamodb.read_request",
                quantity=reads / 1e6,
                detail=f"docdb_reads_per_month {fmt(reads)}",
            ),
        ]
    else:
        rcu, wcu = num(inputs.get("readCapacity"), 1), num(inputs.get("writeCapacity"), 1)
        charges += [
            Charge(
                sku="dynamodb.rcu_hour",
                quantity=rcu * ctx.hours,
                detail=f"{fmt(rcu)} RCU x {fmt(ctx.hours)} h",
            ),
            Charge(
                sku="dynamodb.wcu_hour",
                quantity=wcu * ctx.hours,
                detail=f"{fmt(wcu)} WCU x {fmt(ctx.hours)} h",
            ),
        ]
    charges.append(Charge(sku="dynamodb.storage", quantity=gb, detail=f"docdb_storage_gb {fmt(gb)}"))
    if dig(inputs, "pointInTimeRecovery", "enabled", default=False):
        charges.append(Charge(sku="dynamodb.pitr", quantity=gb, detail=f"continuous backups of {fmt(gb)} GB"))
    return charges


def s3_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    unpriced = unmodelled_storage(res, ctx, "bucket")
    if unpriced:
        return unpriced
    u = ctx.usage
    return [
        Charge(sku="s3.standard.gb_month", quantity=u["storage_gb"], detail=f"storage_gb {fmt(u['storage_gb'])}"),
        Charge(
            sku="s3.put_requests",
            quantity=u["object_writes_per_month"] / 1000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
        ),
        Charge(
            sku="s3.get_requests",
            quantity=u["object_reads_per_month"] / 1000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
        ),
    ]


def log_group(res: dict[str, Any], ctx: Context) -> Outcome:
    component = res.get("component")
    key = "flow_log_gb" if component == "network" else "app_log_gb" if component in APP_KINDS else "service_log_gb"
    groups = len([r for r in ctx.of_type(res["type"]) if r.get("component") == component]) or 1
    gb = ctx.usage[key] / groups
    retention = num(res["inputs"].get("retentionInDays"), 3653) or 3653
    stored = gb * min(retention / 30, 12)
    share = f" / {groups} log groups of the {component} component" if groups > 1 else ""
    return [
        Charge(sku="logs.ingest_gb", quantity=gb, detail=f"{key} {fmt(ctx.usage[key])}{share}"),
        Charge(
            sku="logs.storage_gb",
            quantity=stored,
            detail=f"{fmt(gb)} GB/month kept {fmt(retention)} days (uncompressed, at most 12 months)",
        ),
    ]


def secret(res: dict[str, Any], ctx: Context) -> Outcome:
    charges = [Charge(sku="secretsmanager.secret", quantity=1, detail="1 secret")]
    if ctx.claim("secret_api_calls_per_month", res) is None:
        calls = ctx.usage["secret_api_calls_per_month"]
        charges.append(
            Charge(
                sku="secretsmanager.api_calls",
                quantity=calls / 10_000,
                detail=f"secret_api_calls_per_month {fmt(calls)} (counted once per stack)",
            )
        )
    return charges


def kms_key(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="kms.key", quantity=1, detail="1 customer managed key (requests within the free 20k/month)")]


def cloudfront(res: dict[str, Any], ctx: Context) -> Outcome:
    gb, requests = ctx.usage["cdn_egress_gb"], ctx.usage["cdn_requests_per_month"]
    return [
        Charge(sku="cloudfront.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}"),
        Charge(
            sku="cloudfront.https_requests",
            quantity=requests / 10_000,
            detail=f"cdn_requests_per_month {fmt(requests)}",
        ),
    ]


def user_pool(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = str(res["inputs"].get("userPoolTier", "ESSENTIALS")).lower()
    mau = ctx.usage["monthly_active_users"]
    return [Charge(sku=f"cognito.{tier}.mau", quantity=mau, detail=f"monthly_active_users {fmt(mau)}")]


def platform_application(res: dict[str, Any], ctx: Context) -> Outcome:
    sent = ctx.usage["push_notifications_per_month"]
    return [Charge(sku="sns.mobile_push", quantity=sent / 1e6, detail=f"push_notifications_per_month {fmt(sent)}")]


def _volume_charges(mappings: Any, instances: float, ctx: Context, default_gb: float = 8) -> list[Charge]:
    charges = []
    for mapping in mappings if isinstance(mappings, list) else []:
        ebs = mapping.get("ebs") if isinstance(mapping, dict) else None
        if not isinstance(ebs, dict):
            continue
        gb, kind = num(ebs.get("volumeSize"), default_gb), ebs.get("volumeType", "gp3")
        charges.append(
            Charge(
                sku=f"ebs.{kind}",
                quantity=gb * instances,
                detail=f"{fmt(instances)} instance(s) x {fmt(gb)} GB {kind}",
            )
        )
    return charges


def autoscaling_group(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    templates = ctx.deps(res, "aws:ec2/launchTemplate:LaunchTemplate")
    if not templates:
        return Unpriced("no launch template among the group's dependencies (instance type unknown)")
    template = templates[0]["inputs"]
    instance_type = template.get("instanceType")
    if not known(instance_type):
        return Unpriced("the launch template's instance type is not known at plan time")
    planned = num(inputs.get("desiredCapacity"), num(inputs.get("minSize"), ctx.app_replicas()))
    instances = ctx.replicas(planned)
    charges = [
        Charge(
            sku=f"ec2.{instance_type}",
            quantity=instances * ctx.hours,
            detail=f"{fmt(instances)} instance(s) x {fmt(ctx.hours)} h",
        )
    ]
    volumes = _volume_charges(template.get("blockDeviceMappings"), instances, ctx)
    return charges + (
        volumes or [Charge(sku="ebs.gp3", quantity=8 * instances, detail="8 GB root volume (AMI default)")]
    )


def ec2_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    instance_type = inputs.get("instanceType")
    if not known(instance_type):
        return Unpriced("the instance type is not known at plan time")
    root = inputs.get("rootBlockDevice") or {}
    gb, kind = num(root.get("volumeSize"), 8), root.get("volumeType", "gp3")
    return [
        Charge(sku=f"ec2.{instance_type}", quantity=ctx.hours, detail=f"1 instance x {fmt(ctx.hours)} h"),
        Charge(sku=f"ebs.{kind}", quantity=gb, detail=f"{fmt(gb)} GB root volume"),
    ]


def ebs_volume(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb, kind = num(inputs.get("size"), 8), inputs.get("type", "gp3")
    return [Charge(sku=f"ebs.{kind}", quantity=gb, detail=f"{fmt(gb)} GB")]


def vpc_endpoint(res: dict[str, Any], ctx: Context) -> Outcome:
    if res["inputs"].get("vpcEndpointType", "Gateway") == "Gateway":
        return Free("gateway endpoints (S3, DynamoDB) are free")
    zones = len(res["inputs"].get("subnetIds") or []) or 2
    return [
        Charge(
            sku="vpce.interface.hour",
            quantity=zones * ctx.hours,
            detail=f"{zones} zone(s) x {fmt(ctx.hours)} h",
        )
    ]


def alarm(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="cloudwatch.alarm", quantity=1, detail="1 standard-resolution alarm")]


def hosted_zone(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="route53.zone", quantity=1, detail="1 hosted zone (queries not modelled)")]


def web_acl(res: dict[str, Any], ctx: Context) -> Outcome:
    rules = len(res["inputs"].get("rules") or [])
    requests = ctx.usage["requests_per_month"]
    return [
        Charge(sku="waf.web_acl", quantity=1, detail="1 web ACL"),
        Charge(sku="waf.rule", quantity=rules, detail=f"{rules} rule(s)"),
        Charge(sku="waf.requests", quantity=requests / 1e6, detail=f"requests_per_month {fmt(requests)}"),
    ]


def ecr_repository(res: dict[str, Any], ctx: Context) -> Outcome:
    return Unpriced("image storage ($/GB-month) depends on image sizes, which a plan does not know")


RULES: dict[str, Rule] = {
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/eip:Eip": public_ip,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "aws:ecs/service:Service": ecs_service,
    "aws:lambda/function:Function": lambda_function,
    "aws:apigatewayv2/api:Api": http_api,
    "aws:rds/instance:Instance": rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": cache_nodes,
    "aws:elasticache/cluster:Cluster": cache_nodes,
    "aws:elasticache/serverlessCache:ServerlessCache": serverless_cache,
    "aws:dynamodb/table:Table": dynamodb_table,
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketV2:BucketV2": s3_bucket,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:kms/key:Key": kms_key,
    "aws:cloudfront/distribution:Distribution": cloudfront,
    "aws:cognito/userPool:UserPool": user_pool,
    "aws:sns/platformApplication:PlatformApplication": platform_application,
    "aws:autoscaling/group:Group": autoscaling_group,
    "aws:ec2/instance:Instance": ec2_instance,
    "aws:ebs/volume:Volume": ebs_volume,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
    "aws:cloudwatch/metricAlarm:MetricAlarm": alarm,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:wafv2/webAcl:WebAcl": web_acl,
    "aws:ecr/repository:Repository": ecr_repository,
}

_VPC = "VPC networking constructs are free"
FREE: dict[str, str] = {
    "aws:iam/": "IAM is free",
    "aws:resourcegroups/": "resource groups are free",
    "aws:ec2/vpc:Vpc": _VPC,
    "aws:ec2/subnet:Subnet": _VPC,
    "aws:ec2/routeTable:RouteTable": _VPC,
    "aws:ec2/route:Route": _VPC,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _VPC,
    "aws:ec2/internetGateway:InternetGateway": "internet gateways are free (data transfer is egress)",
    "aws:ec2/securityGroup:SecurityGroup": "security groups are free",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups are free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security group rules are free",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security group rules are free",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "security group rules are free",
    "aws:ec2/networkAcl:NetworkAcl": _VPC,
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": _VPC,
    "aws:ec2/flowLog:FlowLog": "flow logs are charged as log ingestion on their destination log group",
    "aws:ec2/launchTemplate:LaunchTemplate": "billed through the auto scaling group's instances",
    "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation": _VPC,
    "aws:s3/": "bucket configuration; the bucket itself carries storage and request charges",
    "aws:ecs/cluster:Cluster": "ECS clusters are free; tasks are charged on the service",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": "ECS configuration is free",
    "aws:ecs/taskDefinition:TaskDefinition": "billed through the service's running tasks",
    "aws:lb/targetGroup:TargetGroup": "included in the load balancer's hours and capacity units",
    "aws:lb/listener:Listener": "included in the load balancer's hours and capacity units",
    "aws:lb/listenerRule:ListenerRule": "included in the load balancer's hours and capacity units",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "included in the load balancer's hours",
    "aws:appautoscaling/": "Application Auto Scaling is free (its alarms are created by AWS)",
    "aws:autoscaling/policy:Policy": "auto scaling policies are free",
    "aws:autoscaling/attachment:Attachment": "auto scaling attachments are free",
    "aws:lambda/functionUrl:FunctionUrl": "function URLs add no charge beyond the function's requests",
    "aws:lambda/permission:Permission": "Lambda permissions are free",
    "aws:apigatewayv2/stage:Stage": "billed through the API's requests",
    "aws:apigatewayv2/route:Route": "billed through the API's requests",
    "aws:apigatewayv2/integration:Integration": "billed through the API's requests",
    "aws:rds/subnetGroup:SubnetGroup": "DB subnet groups are free",
    "aws:rds/parameterGroup:ParameterGroup": "DB parameter groups are free",
    "aws:elasticache/subnetGroup:SubnetGroup": "cache subnet groups are free",
    "aws:elasticache/parameterGroup:ParameterGroup": "cache parameter groups are free",
    "aws:secretsmanager/secretVersion:SecretVersion": "included in the secret's monthly price",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "included in the secret's monthly price",
    "aws:secretsmanager/secretRotation:SecretRotation": "rotation is free (its Lambda runs are negligible)",
    "aws:kms/alias:Alias": "KMS aliases are free",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "CloudFront configuration is free",
    "aws:cloudfront/cachePolicy:CachePolicy": "CloudFront configuration is free",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "CloudFront configuration is free",
    "aws:cognito/userPoolClient:UserPoolClient": "billed through the user pool's monthly active users",
    "aws:cognito/userPoolDomain:UserPoolDomain": "billed through the user pool's monthly active users",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "public ACM certificates are free",
    "aws:ssm/parameter:Parameter": "standard SSM parameters are free",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "CloudWatch configuration is free",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "ECR configuration is free",
    "aws:sns/topic:Topic": "no standing charge; deliveries are counted as mobile push notifications on the "
    "platform application",
    "aws:sns/topicPolicy:TopicPolicy": "SNS configuration is free",
    "aws:dynamodb/": "table configuration; the table carries request and storage charges",
}
