"""Encryption at rest and in transit for storage, databases, caches, disks and public endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mbops.policies.model import Context, Graph, Resource, Rule
from mbops.policies.values import document, flag, get, items, known

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
SSE_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- storage-encrypted-at-rest ------------------------------------------------------------------------------
def _s3_sse(res: Resource, ctx: Context) -> Iterator[str]:
    rules = get(_inputs(res), "rules")
    if not known(rules):
        return
    if not items(rules):
        yield "no server-side encryption rule"
    for rule in items(rules):
        algorithm = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
        if known(algorithm) and algorithm not in SSE_ALGORITHMS:
            yield f"sseAlgorithm is {algorithm!r}; use aws:kms (or AES256)"


def _s3_bucket_inline_sse(res: Resource, ctx: Context) -> Iterator[str]:
    algorithm = get(
        _inputs(res), "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault.sseAlgorithm"
    )
    if algorithm is not None and known(algorithm) and algorithm not in SSE_ALGORITHMS:
        yield f"serverSideEncryptionConfiguration uses {algorithm!r}; use aws:kms (or AES256)"


def _azure_storage_account_encryption(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    infra = get(inputs, "encryption.requireInfrastructureEncryption")
    if known(infra) and flag(infra) is not True:
        yield (
            "encryption.requireInfrastructureEncryption is not true (no second, infrastructure layer of "
            "encryption)"
        )
    for service in ("blob", "file", "queue", "table"):
        enabled = get(inputs, f"encryption.services.{service}.enabled")
        if flag(enabled) is False:
            yield f"encryption.services.{service}.enabled is false"


STORAGE_ENCRYPTED = Rule(
    id="storage-encrypted-at-rest",
    title="Object storage encrypted at rest",
    severity="high",
    enforcement="mandatory",
    description="Buckets and storage accounts encrypt every object at rest (S3 SSE with KMS or AES256; Azure "
    "storage with infrastructure encryption as a second layer). GCS always encrypts with Google-managed "
    "keys.",
    remediation={
        "aws": "Keep the bucket's encryption child (BucketServerSideEncryptionConfiguration) with "
        "sse_algorithm 'aws:kms'; do not override components.storage.overrides.encryption with another "
        "algorithm.",
        "azure": "Set encryption.require_infrastructure_encryption=True on the storage account (only "
                 "possible when "
        "the account is created) and keep every service's encryption enabled.",
    },
    clouds=("aws", "azure"),
    controls={"azure": "CIS Azure 3.2"},
    checks={
        **{t: _s3_sse for t in S3_SSE},
        **{t: _s3_bucket_inline_sse for t in S3_BUCKETS},
        "azure-native:storage:StorageAccount": _azure_storage_account_encryption,
    },
)


# --- database-encrypted-at-rest -----------------------------------------------------------------------------
def _rds_storage_encrypted(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "storageEncrypted")
    if known(value) and flag(value) is not True:
        yield "storageEncrypted is not true: the database's storage, backups and snapshots are unencrypted"


def _dynamodb_sse(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "serverSideEncryption.enabled")
    if known(value) and flag(value) is not True:
        yield (
            "serverSideEncryption.enabled is not true: the table uses an AWS-owned key you cannot audit or "
            "revoke"
        )


DATABASE_ENCRYPTED = Rule(
    id="database-encrypted-at-rest",
    title="Databases encrypted at rest",
    severity="high",
    enforcement="mandatory",
    description="Relational and document databases encrypt storage, backups and snapshots with a KMS key "
                "(RDS "
    "storage_encrypted, DynamoDB SSE). Cloud SQL, Firestore, Azure PostgreSQL and Cosmos DB always encrypt.",
    remediation={
        "aws": "Set storage_encrypted=True on the RDS instance/cluster (a new instance: encryption cannot be "
               "added "
        "in place) and server_side_encryption={'enabled': True} on DynamoDB tables.",
    },
    clouds=("aws",),
    controls={"aws": "CIS AWS 2.3.1", "aws:dynamodb/table:Table": ""},
    checks={
        "aws:rds/instance:Instance": _rds_storage_encrypted,
        "aws:rds/cluster:Cluster": _rds_storage_encrypted,
        "aws:dynamodb/table:Table": _dynamodb_sse,
    },
)


# --- disk-encrypted-at-rest ---------------------------------------------------------------------------------
def _launch_template_disks(res: Resource, ctx: Context) -> Iterator[str]:
    mappings = get(_inputs(res), "blockDeviceMappings")
    if not known(mappings):
        return
    ebs = [m for m in items(mappings) if isinstance(m, dict) and isinstance(m.get("ebs"), dict)]
    if not ebs:
        yield "no blockDeviceMappings: the root volume inherits the AMI's setting, usually unencrypted"
    for mapping in ebs:
        value = get(mapping, "ebs.encrypted")
        if known(value) and flag(value) is not True:
            yield f"EBS volume {mapping.get('deviceName', '?')} is not encrypted (ebs.encrypted)"


def _instance_disks(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    root = get(inputs, "rootBlockDevice.encrypted")
    if known(root) and flag(root) is not True:
        yield "rootBlockDevice.encrypted is not true"
    for device in items(get(inputs, "ebsBlockDevices")):
        if flag(get(device, "encrypted")) is not True:
            yield f"EBS volume {get(device, 'deviceName', '?')} is not encrypted"


def _volume(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "encrypted")
    if known(value) and flag(value) is not True:
        yield "the EBS volume is not encrypted"


DISK_ENCRYPTED = Rule(
    id="disk-encrypted-at-rest",
    title="VM disks encrypted at rest",
    severity="high",
    enforcement="mandatory",
    description="Every EBS volume of a launch template or instance is encrypted. GCP persistent disks and "
                "Azure "
    "managed disks are always encrypted by the platform.",
    remediation="Give the launch template a block_device_mappings entry for the root device with "
    "ebs={'encrypted': 'true', ...} (components.servers.overrides.launch_template).",
    clouds=("aws",),
    controls={"aws": "CIS AWS 2.2.1"},
    checks={
        "aws:ec2/launchTemplate:LaunchTemplate": _launch_template_disks,
        "aws:ec2/instance:Instance": _instance_disks,
        "aws:ebs/volume:Volume": _volume,
    },
)


# --- cache-encrypted-at-rest --------------------------------------------------------------------------------
def _replication_group_at_rest(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "atRestEncryptionEnabled")
    if known(value) and flag(value) is not True:
        yield "atRestEncryptionEnabled is not true"


def _elasticache_cluster(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if get(inputs, "replicationGroupId") is not None:
        return  # a member of a replication group: the group's settings apply
    if str(get(inputs, "engine", "")).lower() in ("redis", "valkey"):
        yield "a standalone ElastiCache cluster cannot encrypt at rest; use a replication group"


CACHE_ENCRYPTED = Rule(
    id="cache-encrypted-at-rest",
    title="Caches encrypted at rest",
    severity="high",
    enforcement="mandatory",
    description="Redis data and snapshots are encrypted at rest. ElastiCache needs a replication group with "
    "at_rest_encryption_enabled; Memorystore and Azure Cache for Redis always encrypt.",
    remediation="Use an ElastiCache replication group with at_rest_encryption_enabled=True "
    "(components.cache.overrides.replication_group).",
    clouds=("aws",),
    controls={"aws": "AWS FSBP ElastiCache.4"},
    checks={
        "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group_at_rest,
        "aws:elasticache/cluster:Cluster": _elasticache_cluster,
    },
)


# --- storage-https-only -------------------------------------------------------------------------------------
TLS12 = ("TLS1_2", "TLS1_3")


def _azure_storage_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if flag(get(inputs, "enableHttpsTrafficOnly")) is False:
        yield "enableHttpsTrafficOnly is false: clients may use plain HTTP"
    tls = get(inputs, "minimumTlsVersion")
    if known(tls) and tls not in TLS12:
        yield f"minimumTlsVersion is {tls or 'not set (TLS 1.0 allowed)'}; require TLS1_2"


def denies_insecure_transport(policy: object) -> bool:
    """True when an S3 bucket policy denies every request made without TLS (aws:SecureTransport false)."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        test = get(statement, "Condition.Bool")
        secure = test.get("aws:SecureTransport") if isinstance(test, dict) else None
        if str(secure).lower() == "false":
            return True
    return False


def _s3_https_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    for bucket in graph.of_type(*S3_BUCKETS):
        policies = graph.dependents(bucket, "aws:s3/bucketPolicy:BucketPolicy")
        if not policies:
            yield bucket, "no bucket policy denies requests without TLS (aws:SecureTransport = false)"
        for policy in policies:
            doc = document(get(_inputs(policy), "policy"))
            if doc is not None and not denies_insecure_transport(doc):
                yield policy, "the bucket policy has no Deny statement for aws:SecureTransport = false"


STORAGE_HTTPS = Rule(
    id="storage-https-only",
    title="Object storage reachable over TLS only",
    severity="high",
    enforcement="mandatory",
    description="Storage refuses plain HTTP: every S3 bucket has a policy denying aws:SecureTransport=false; "
                "Azure "
    "storage accounts accept HTTPS only with TLS 1.2 or later. GCS serves HTTPS only.",
    remediation={
        "aws": "Keep the bucket's policy child with the DenyInsecureTransport statement "
        "(components.storage.overrides.policy must keep it).",
        "azure": "Set enable_https_traffic_only=True and minimum_tls_version='TLS1_2' on the storage "
                 "account.",
    },
    clouds=("aws", "azure"),
    controls={"aws": "CIS AWS 2.1.1", "azure": "CIS Azure 3.1; CIS Azure 3.15"},
    checks={"azure-native:storage:StorageAccount": _azure_storage_tls},
    graph_check=_s3_https_graph,
)


# --- database-tls-required ----------------------------------------------------------------------------------
def _major(version: object) -> int | None:
    match = re.match(r"(\d+)", str(version)) if known(version) and version is not None else None
    return int(match.group(1)) if match else None


def _rds_parameter_group(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    family = str(get(inputs, "family", ""))
    if "postgres" not in family:
        return
    params = items(get(inputs, "parameters"))
    if not known(get(inputs, "parameters")):
        return
    values = {str(get(p, "name")): str(get(p, "value")) for p in params if isinstance(p, dict)}
    forced = values.get("rds.force_ssl")
    if forced is not None and forced != "1":
        yield f"rds.force_ssl is {forced}: clients may connect without TLS"
    elif forced is None and (_major(family.removeprefix("aurora-").removeprefix("postgres")) or 0) < 15:
        yield f"{family} does not force TLS by default; set rds.force_ssl = 1"


def _rds_instance_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if "postgres" not in str(get(inputs, "engine", "")) or get(inputs, "parameterGroupName") is not None:
        return
    major = _major(get(inputs, "engineVersion"))
    if major is not None and major < 15:
        yield f"PostgreSQL {major} on the default parameter group accepts connections without TLS"


def _cloud_sql_tls(res: Resource, ctx: Context) -> Iterator[str]:
    mode = get(_inputs(res), "settings.ipConfiguration.sslMode")
    if known(mode) and mode not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
        yield (
            f"settings.ip_configuration.ssl_mode is {mode or 'not set'}: unencrypted connections are "
            f"accepted"
        )


def _azure_pg_configuration(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    name = str(get(inputs, "configurationName", ""))
    value = str(get(inputs, "value", ""))
    if name == "require_secure_transport" and flag(value) is False:
        yield "require_secure_transport is off: clients may connect without TLS"
    if name == "ssl_min_protocol_version" and value.upper() in ("TLSV1", "TLSV1.1"):
        yield f"ssl_min_protocol_version is {value}; require TLSv1.2"


DATABASE_TLS = Rule(
    id="database-tls-required",
    title="Databases require TLS",
    severity="high",
    enforcement="mandatory",
    description="PostgreSQL refuses unencrypted connections: RDS rds.force_ssl=1 (the default from "
                "PostgreSQL 15), "
    "Cloud SQL ssl_mode ENCRYPTED_ONLY, Azure require_secure_transport on with TLS 1.2 or later.",
    remediation={
        "aws": "Use PostgreSQL ≥ 15, or a parameter group with rds.force_ssl = 1; never set it to 0.",
        "gcp": "Set settings.ip_configuration.ssl_mode='ENCRYPTED_ONLY' on the Cloud SQL instance.",
        "azure": "Leave require_secure_transport on (its default) and ssl_min_protocol_version at TLSv1.2.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"gcp": "CIS GCP 6.4", "azure": "CIS Azure 4.3.1"},
    checks={
        "aws:rds/parameterGroup:ParameterGroup": _rds_parameter_group,
        "aws:rds/clusterParameterGroup:ClusterParameterGroup": _rds_parameter_group,
        "aws:rds/instance:Instance": _rds_instance_tls,
        "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql_tls,
        "azure-native:dbforpostgresql:Configuration": _azure_pg_configuration,
    },
)


# --- cache-tls-required -------------------------------------------------------------------------------------
def _replication_group_transit(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    value = get(inputs, "transitEncryptionEnabled")
    if known(value) and flag(value) is not True:
        yield "transitEncryptionEnabled is not true: Redis traffic is plaintext"
    if get(inputs, "transitEncryptionMode") == "preferred":
        yield "transitEncryptionMode is 'preferred': clients may still connect without TLS"


def _memorystore_transit(res: Resource, ctx: Context) -> Iterator[str]:
    mode = get(_inputs(res), "transitEncryptionMode")
    if known(mode) and mode not in ("SERVER_AUTHENTICATION", "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"):
        yield f"transitEncryptionMode is {mode or 'not set (DISABLED)'}: Redis traffic is plaintext"


def _azure_redis_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if flag(get(inputs, "enableNonSslPort")) is True:
        yield "enableNonSslPort is true: port 6379 accepts plaintext connections"
    tls = get(inputs, "minimumTlsVersion")
    if known(tls) and str(tls) not in ("1.2", "1.3"):
        yield f"minimumTlsVersion is {tls or 'not set'}; require 1.2"


def _azure_redis_enterprise_db(res: Resource, ctx: Context) -> Iterator[str]:
    if str(get(_inputs(res), "clientProtocol", "Encrypted")) == "Plaintext":
        yield "clientProtocol is Plaintext"


CACHE_TLS = Rule(
    id="cache-tls-required",
    title="Caches require TLS",
    severity="high",
    enforcement="mandatory",
    description="Redis is reached over TLS only: ElastiCache transit encryption required, Memorystore "
    "SERVER_AUTHENTICATION, Azure Cache for Redis without the non-TLS port and with TLS 1.2.",
    remediation={
        "aws": "Set transit_encryption_enabled=True (mode 'required') on the replication group; clients use rediss://.",
        "gcp": "Set transit_encryption_mode='SERVER_AUTHENTICATION' on the Memorystore instance.",
        "azure": "Set enable_non_ssl_port=False and minimum_tls_version='1.2' on the cache.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP ElastiCache.5", "azure": "MCSB DP-3"},
    checks={
        "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group_transit,
        "gcp:redis/instance:Instance": _memorystore_transit,
        "gcp:redis/cluster:Cluster": _memorystore_transit,
        "azure-native:redis:Redis": _azure_redis_tls,
        "azure-native:redisenterprise:Database": _azure_redis_enterprise_db,
    },
)


# --- endpoint-https-only ------------------------------------------------------------------------------------
def _cloudfront_https(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    behaviors = [("default", get(inputs, "defaultCacheBehavior"))]
    behaviors += [(str(get(b, "pathPattern", "?")), b) for b in items(get(inputs, "orderedCacheBehaviors"))]
    for where, behavior in behaviors:
        policy = get(behavior, "viewerProtocolPolicy")
        if known(policy) and policy is not None and policy not in ("redirect-to-https", "https-only"):
            yield (
                f"the {where} cache "
                f"behavior's viewerProtocolPolicy is {policy!r}: viewers may use plain HTTP"
            )


def _container_app_https(res: Resource, ctx: Context) -> Iterator[str]:
    if flag(get(_inputs(res), "configuration.ingress.allowInsecure")) is True:
        yield "configuration.ingress.allowInsecure is true: the app answers plain HTTP"


def _front_door_route(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    protocols = get(inputs, "supportedProtocols", ["Http", "Https"])
    if known(protocols) and "Http" in protocols and get(inputs, "httpsRedirect", "Disabled") != "Enabled":
        yield "the route accepts HTTP without redirecting to HTTPS (https_redirect is not Enabled)"


def _cdn_endpoint(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if flag(get(inputs, "isHttpAllowed", True)) is not True:
        return
    for rule in items(get(inputs, "deliveryPolicy.rules")):
        for action in items(get(rule, "actions")):
            if (
                get(action, "name") == "UrlRedirect"
                and get(action, "parameters.destinationProtocol") == "Https"
            ):
                return
    yield "isHttpAllowed is true and no delivery rule redirects HTTP to HTTPS"


def _web_app_https(res: Resource, ctx: Context) -> Iterator[str]:
    if flag(get(_inputs(res), "httpsOnly")) is not True:
        yield "httpsOnly is not true"


ENDPOINT_HTTPS = Rule(
    id="endpoint-https-only",
    title="Public endpoints serve HTTPS only",
    severity="high",
    enforcement="mandatory",
    description="Endpoints that get a platform certificate for free never serve plain HTTP: CloudFront "
                "redirects "
    "to HTTPS, Container Apps disallow insecure ingress, Front Door routes redirect, App Service is "
    "HTTPS-only. "
    "(Cloud Run URLs are HTTPS-only; load balancers that need your certificate are in load-balancer-https.)",
    remediation={
        "aws": "Set viewer_protocol_policy='redirect-to-https' on every CloudFront cache behavior.",
        "azure": "Set configuration.ingress.allow_insecure=False on the container app; "
                 "https_redirect='Enabled' on "
        "Front Door routes; https_only=True on web apps.",
    },
    clouds=("aws", "azure"),
    controls={"aws": "AWS FSBP CloudFront.3", "azure": "CIS Azure 9.2"},
    checks={
        "aws:cloudfront/distribution:Distribution": _cloudfront_https,
        "azure-native:app:ContainerApp": _container_app_https,
        "azure-native:cdn:Route": _front_door_route,
        "azure-native:cdn:Endpoint": _cdn_endpoint,
        "azure-native:web:WebApp": _web_app_https,
    },
)


RULES = [
    STORAGE_ENCRYPTED, DATABASE_ENCRYPTED, DISK_ENCRYPTED, CACHE_ENCRYPTED,
    STORAGE_HTTPS, DATABASE_TLS, CACHE_TLS, ENDPOINT_HTTPS,
]  # fmt: skip
