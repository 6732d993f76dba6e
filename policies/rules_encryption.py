"""Encryption at rest and in transit for storage, databases, caches, disks and public endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mbops.policies.model import Context, Graph, Resource, Rule, unreadable, unverified
from mbops.policies.s3_policy import enforces_tls, tls_problem
from mbops.policies.values import document, flag, get, items, known, word

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
SSE_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "aes256")  # compared lower-case


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- storage-encrypted-at-rest ------------------------------------------------------------------------------
def _sse_algorithm(algorithm: object, label: str) -> Iterator[str]:
    if not known(algorithm):
        yield unverified(label)
    elif not isinstance(algorithm, str) or algorithm.strip().lower() not in SSE_ALGORITHMS:
        yield f"{label} is {algorithm!r}; use aws:kms (or AES256)"


def _s3_sse(res: Resource, ctx: Context) -> Iterator[str]:
    rules = get(_inputs(res), "rules")
    if not known(rules):
        yield unverified("rules")
        return
    if not items(rules):
        yield "no server-side encryption rule"
    for index, rule in enumerate(items(rules)):
        algorithm = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
        yield from _sse_algorithm(algorithm, f"rules[{index}].applyServerSideEncryptionByDefault.sseAlgorithm")


def _s3_bucket_inline_sse(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    for path in ("serverSideEncryptionConfiguration.rule", "serverSideEncryptionConfigurations"):
        config = get(inputs, path)
        if config is None:
            continue
        if not known(config):
            yield unverified(path)
            continue
        for rule in [config] if isinstance(config, dict) else items(config):
            if "rule" in rule:  # BucketV2: a list of configurations, each with one rule (or a list of rules)
                rule = rule["rule"]
            for one in [rule] if isinstance(rule, dict) else items(rule):
                algorithm = get(one, "applyServerSideEncryptionByDefault.sseAlgorithm")
                yield from _sse_algorithm(algorithm, "serverSideEncryptionConfiguration sseAlgorithm")


def _azure_storage_account_encryption(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    infra = get(inputs, "encryption.requireInfrastructureEncryption")
    if not known(infra):
        yield unverified("encryption.requireInfrastructureEncryption")
    elif flag(infra) is not True:
        yield (
            "encryption.requireInfrastructureEncryption is not true (no second, infrastructure layer of "
            "encryption)"
        )
    for service in ("blob", "file", "queue", "table"):
        enabled = get(inputs, f"encryption.services.{service}.enabled")
        if not known(enabled):
            yield unverified(f"encryption.services.{service}.enabled")
        elif flag(enabled) is False:
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
    if not known(value):
        yield unverified("storageEncrypted")
    elif flag(value) is not True:
        yield "storageEncrypted is not true: the database's storage, backups and snapshots are unencrypted"


def _dynamodb_sse(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "serverSideEncryption.enabled")
    if not known(value):
        yield unverified("serverSideEncryption.enabled")
    elif flag(value) is not True:
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
# The root device names of the AMIs in use (Amazon Linux, Bottlerocket: /dev/xvda; Ubuntu, Debian, RHEL, Windows:
# /dev/sda1). A template that maps none of them leaves the root volume to the AMI, whose snapshot is not
# encrypted for public AMIs.
ROOT_DEVICES = frozenset({"/dev/xvda", "/dev/sda1", "/dev/sda", "xvda", "sda1", "/dev/nvme0n1"})


def _encrypted(value: object, label: str) -> Iterator[str]:
    if not known(value):
        yield unverified(label)
    elif flag(value) is not True:
        yield f"{label} is not true: the volume is not encrypted"


def _launch_template_disks(res: Resource, ctx: Context) -> Iterator[str]:
    mappings = get(_inputs(res), "blockDeviceMappings")
    if not known(mappings):
        yield unverified("blockDeviceMappings")
        return
    ebs = [m for m in items(mappings) if isinstance(m, dict) and get(m, "ebs") is not None]
    names = [str(get(m, "deviceName", "")).strip() for m in ebs]
    if not any(name in ROOT_DEVICES or not known(name) for name in names):
        mapped = f" (only {', '.join(n or '?' for n in names)})" if names else ""
        yield (
            f"no blockDeviceMappings entry for the root device{mapped}: the root volume inherits the AMI's "
            "setting, unencrypted"
        )
    for mapping, name in zip(ebs, names, strict=True):
        yield from _encrypted(get(mapping, "ebs.encrypted"), f"EBS volume {name or '?'} ebs.encrypted")


def _instance_disks(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    root = get(inputs, "rootBlockDevice")
    if root is None:
        yield "no rootBlockDevice: the root volume inherits the AMI's setting, unencrypted"
    else:
        yield from _encrypted(get(root, "encrypted"), "rootBlockDevice.encrypted")
    for device in items(get(inputs, "ebsBlockDevices")):
        yield from _encrypted(get(device, "encrypted"), f"EBS volume {get(device, 'deviceName', '?')} encrypted")


def _volume(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _encrypted(get(_inputs(res), "encrypted"), "encrypted")


DISK_ENCRYPTED = Rule(
    id="disk-encrypted-at-rest",
    title="VM disks encrypted at rest",
    severity="high",
    enforcement="mandatory",
    description="Every EBS volume of a launch template or instance is encrypted, the root volume included: a "
    "template that maps only data disks leaves the root volume to the AMI, unencrypted. GCP persistent disks and "
    "Azure managed disks are always encrypted by the platform.",
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
    if not known(value):
        yield unverified("atRestEncryptionEnabled")
    elif flag(value) is not True:
        yield "atRestEncryptionEnabled is not true"


def _elasticache_cluster(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if get(inputs, "replicationGroupId") is not None:
        return  # a member of a replication group (its id, known or computed): the group's settings apply
    if word(get(inputs, "engine")) in ("redis", "valkey"):
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
TLS12 = ("tls1_2", "tls1_3")  # compared lower-case


def _azure_storage_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    https = get(inputs, "enableHttpsTrafficOnly")
    if not known(https):
        yield unverified("enableHttpsTrafficOnly")
    elif flag(https) is False:
        yield "enableHttpsTrafficOnly is false: clients may use plain HTTP"
    tls = get(inputs, "minimumTlsVersion")
    if not known(tls):
        yield unverified("minimumTlsVersion")
    elif word(tls) not in TLS12:
        yield f"minimumTlsVersion is {tls or 'not set (TLS 1.0 allowed)'}; require TLS1_2"


def _s3_https_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """Every bucket has a policy (attached or inline) that denies every request made without TLS."""
    for bucket in graph.of_type(*S3_BUCKETS):
        name = get(_inputs(bucket), "bucket")
        name = name.strip() if isinstance(name, str) and known(name) else None
        attached = graph.dependents(bucket, "aws:s3/bucketPolicy:BucketPolicy")
        docs = [(p, get(_inputs(p), "policy")) for p in attached]
        if get(_inputs(bucket), "policy") is not None:
            docs.append((bucket, get(_inputs(bucket), "policy")))
        if not docs:
            yield bucket, "no bucket policy denies requests without TLS (aws:SecureTransport = false)"
            continue
        parsed = [(where, document(value)) for where, value in docs]
        if any(doc is not None and enforces_tls(doc, name) for _, doc in parsed):
            continue
        unread = [(where, value) for (where, doc), (_, value) in zip(parsed, docs, strict=True) if doc is None]
        if unread:
            yield unread[0][0], unreadable(unread[0][1], "the bucket policy")
            continue
        for where, doc in parsed:
            yield where, tls_problem(doc, name) or "the bucket policy does not deny requests without TLS"


STORAGE_HTTPS = Rule(
    id="storage-https-only",
    title="Object storage reachable over TLS only",
    severity="high",
    enforcement="mandatory",
    description="Storage refuses plain HTTP: every S3 bucket has a policy denying aws:SecureTransport=false; "
                "Azure "
    "storage accounts accept HTTPS only with TLS 1.2 or later. GCS serves HTTPS only. The S3 Deny counts only "
    "when it covers every principal (*), every action (s3:*) and the bucket with all its objects.",
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
    family = word(get(inputs, "family"))
    if "postgres" not in family:
        return
    params = get(inputs, "parameters")
    if not known(params):
        yield unverified("parameters")
        return
    forced = [get(p, "value") for p in items(params) if word(get(p, "name")) == "rds.force_ssl"]
    for value in forced:
        if not known(value):
            yield unverified("rds.force_ssl")
        elif flag(value) is not True:
            yield f"rds.force_ssl is {value}: clients may connect without TLS"
    if not forced and (_major(family.removeprefix("aurora-").removeprefix("postgres")) or 0) < 15:
        yield f"{family} does not force TLS by default; set rds.force_ssl = 1"


def _rds_instance_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if "postgres" not in word(get(inputs, "engine")) or get(inputs, "parameterGroupName") is not None:
        return  # a parameter group (its name, known or computed) is judged on its own
    version = get(inputs, "engineVersion")
    if not known(version):
        yield unverified("engineVersion (with the default parameter group, it decides whether TLS is forced)")
        return
    major = _major(version)
    if major is not None and major < 15:
        yield f"PostgreSQL {major} on the default parameter group accepts connections without TLS"


def _cloud_sql_tls(res: Resource, ctx: Context) -> Iterator[str]:
    mode = get(_inputs(res), "settings.ipConfiguration.sslMode")
    if not known(mode):
        yield unverified("settings.ipConfiguration.sslMode")
    elif word(mode) not in ("encrypted_only", "trusted_client_certificate_required"):
        yield (
            f"settings.ip_configuration.ssl_mode is {mode or 'not set'}: unencrypted connections are "
            f"accepted"
        )


def _azure_pg_configuration(res: Resource, ctx: Context) -> Iterator[str]:
    """Server parameters: names are case-insensitive in PostgreSQL (and Azure accepts any case)."""
    inputs = _inputs(res)
    name, value = get(inputs, "configurationName"), get(inputs, "value")
    if not known(name):
        yield unverified("configurationName")
        return
    name = word(name)
    if name not in ("require_secure_transport", "ssl_min_protocol_version"):
        return
    if not known(value):
        yield unverified(name)
    elif name == "require_secure_transport" and flag(value) is not True:
        yield f"require_secure_transport is {value!r}: clients may connect without TLS"
    elif name == "ssl_min_protocol_version" and word(value) not in ("tlsv1.2", "tlsv1.3"):
        yield f"ssl_min_protocol_version is {value!r}; require TLSv1.2"


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
    if not known(value):
        yield unverified("transitEncryptionEnabled")
    elif flag(value) is not True:
        yield "transitEncryptionEnabled is not true: Redis traffic is plaintext"
    mode = get(inputs, "transitEncryptionMode")
    if not known(mode):
        yield unverified("transitEncryptionMode")
    elif word(mode) == "preferred":
        yield "transitEncryptionMode is 'preferred': clients may still connect without TLS"


def _memorystore_transit(res: Resource, ctx: Context) -> Iterator[str]:
    mode = get(_inputs(res), "transitEncryptionMode")
    if not known(mode):
        yield unverified("transitEncryptionMode")
    elif word(mode).removeprefix("transit_encryption_mode_") != "server_authentication":
        yield f"transitEncryptionMode is {mode or 'not set (DISABLED)'}: Redis traffic is plaintext"


def _azure_redis_tls(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    non_ssl = get(inputs, "enableNonSslPort")
    if not known(non_ssl):
        yield unverified("enableNonSslPort")
    elif flag(non_ssl) is True:
        yield "enableNonSslPort is true: port 6379 accepts plaintext connections"
    tls = get(inputs, "minimumTlsVersion")
    if not known(tls):
        yield unverified("minimumTlsVersion")
    elif str(tls).strip() not in ("1.2", "1.3"):
        yield f"minimumTlsVersion is {tls or 'not set'}; require 1.2"


def _azure_redis_enterprise_db(res: Resource, ctx: Context) -> Iterator[str]:
    protocol = get(_inputs(res), "clientProtocol", "Encrypted")
    if not known(protocol):
        yield unverified("clientProtocol")
    elif word(protocol) != "encrypted":
        yield f"clientProtocol is {protocol}: Redis traffic is plaintext"


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
    ordered = get(inputs, "orderedCacheBehaviors")
    if not known(ordered):
        yield unverified("orderedCacheBehaviors")
    behaviors += [(str(get(b, "pathPattern", "?")), b) for b in items(ordered)]
    for where, behavior in behaviors:
        policy = get(behavior, "viewerProtocolPolicy")
        if not known(policy):
            yield unverified(f"the {where} cache behavior's viewerProtocolPolicy")
        elif word(policy) not in ("redirect-to-https", "https-only"):
            yield f"the {where} cache behavior's viewerProtocolPolicy is {policy!r}: viewers may use plain HTTP"


def _container_app_https(res: Resource, ctx: Context) -> Iterator[str]:
    insecure = get(_inputs(res), "configuration.ingress.allowInsecure")
    if not known(insecure):
        yield unverified("configuration.ingress.allowInsecure")
    elif flag(insecure) is True:
        yield "configuration.ingress.allowInsecure is true: the app answers plain HTTP"


def _front_door_route(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    protocols, redirect = get(inputs, "supportedProtocols", ["Http", "Https"]), get(inputs, "httpsRedirect")
    if not known(protocols):
        yield unverified("supportedProtocols")
    elif "http" in [word(p) for p in items(protocols)]:
        if not known(redirect):
            yield unverified("httpsRedirect")
        elif word(redirect, "disabled") != "enabled":
            yield "the route accepts HTTP without redirecting to HTTPS (https_redirect is not Enabled)"


def _cdn_endpoint(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    allowed = get(inputs, "isHttpAllowed", True)
    if not known(allowed):
        yield unverified("isHttpAllowed")
        return
    if flag(allowed) is not True:
        return
    for rule in items(get(inputs, "deliveryPolicy.rules")):
        for action in items(get(rule, "actions")):
            if (
                word(get(action, "name")) == "urlredirect"
                and word(get(action, "parameters.destinationProtocol")) == "https"
            ):
                return
    yield "isHttpAllowed is true and no delivery rule redirects HTTP to HTTPS"


def _web_app_https(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "httpsOnly")
    if not known(value):
        yield unverified("httpsOnly")
    elif flag(value) is not True:
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
