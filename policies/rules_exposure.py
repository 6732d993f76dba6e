"""Data stores stay private: no public buckets or blob containers, no internet-reachable databases or
caches."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from mbops.policies.model import Check, Context, Graph, Resource, Rule, unreadable, unverified
from mbops.policies.netsets import AddressSet, sources
from mbops.policies.rules_encryption import S3_BUCKETS
from mbops.policies.s3_policy import public_grants
from mbops.policies.values import as_list, document, flag, get, items, known, word

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
PUBLIC_S3_ACLS = ("public-read", "public-read-write", "authenticated-read")  # compared lower-case
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")  # fmt: skip
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- storage-no-public-access -------------------------------------------------------------------------------
def _s3_public_access_block(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    unknown = [name for name in PAB_FLAGS if not known(get(inputs, name))]
    off = [name for name in PAB_FLAGS if known(get(inputs, name)) and flag(get(inputs, name)) is not True]
    if off:
        yield f"public access block does not set {', '.join(off)} to true"
    if unknown:
        yield unverified(", ".join(unknown))


def _s3_acl(inputs: dict) -> Iterator[str]:
    acl = get(inputs, "acl")
    if not known(acl):
        yield unverified("acl")
    elif word(acl) in PUBLIC_S3_ACLS:
        yield f"canned ACL {acl!r} makes objects readable by anyone"
    for grant in items(get(inputs, "accessControlPolicy.grants")) + items(get(inputs, "grants")):
        uris = [get(grant, "grantee.uri"), get(grant, "uri")]
        for uri in uris:
            if uri in PUBLIC_GRANTEES:
                yield f"ACL grants {get(grant, 'permission', get(grant, 'permissions', '?'))} to {uri}"


def _policy_grants(value: object, label: str) -> Iterator[str]:
    if value is None:
        return
    doc = document(value)
    if doc is None:
        yield unreadable(value, label)
        return
    for message in public_grants(doc):
        yield f"{label}: {message}" if label != "policy" else message


def _s3_bucket(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _s3_acl(_inputs(res))
    yield from _policy_grants(get(_inputs(res), "policy"), "inline policy")


def _s3_bucket_acl(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _s3_acl(_inputs(res))


def _s3_bucket_policy(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _policy_grants(get(_inputs(res), "policy"), "policy")


def _s3_pab_attached(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    for bucket in graph.of_type(*S3_BUCKETS):
        if not graph.dependents(bucket, S3_PAB):
            yield bucket, "no public access block is attached to the bucket"


def _gcs_bucket(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    prevention = get(inputs, "publicAccessPrevention")
    if not known(prevention):
        yield unverified("publicAccessPrevention")
    elif word(prevention) != "enforced":
        yield f"publicAccessPrevention is {prevention or 'not set (inherited)'}, not 'enforced'"
    uniform = get(inputs, "uniformBucketLevelAccess")
    if not known(uniform):
        yield unverified("uniformBucketLevelAccess")
    elif flag(uniform) is not True:
        yield "uniformBucketLevelAccess is not true: per-object ACLs can make objects public"


def _gcs_iam(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    members = as_list(get(inputs, "member")) + items(get(inputs, "members"))
    policy = document(get(inputs, "policyData"))
    for binding in as_list(policy.get("bindings") if isinstance(policy, dict) else None):
        members += as_list(binding.get("members") if isinstance(binding, dict) else None)
    for member in members:
        if isinstance(member, str) and member.strip() in PUBLIC_MEMBERS:
            yield f"grants {get(inputs, 'role', 'a role')} on the bucket to {member.strip()}"


def _gcs_acl(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    entities = as_list(get(inputs, "entity")) + [
        str(e).split(":", 1)[-1] for e in items(get(inputs, "roleEntities"))
    ]
    for entity in entities:
        if isinstance(entity, str) and entity.strip() in PUBLIC_MEMBERS:
            yield f"ACL grants access to {entity.strip()}"
    acl = get(inputs, "predefinedAcl")
    if not known(acl):
        yield unverified("predefinedAcl")
    elif word(acl) in ("publicread", "publicreadwrite", "authenticatedread"):
        yield f"predefined ACL {acl} makes the bucket public"


AZURE_ACCOUNT = "azure-native:storage:StorageAccount"
AZURE_CONTAINER = "azure-native:storage:BlobContainer"


def _azure_private_network_only(account: Resource) -> bool:
    """The account answers only its VNet rules and approved private endpoints (no internet, no trusted-service
    bypass): the Front Door + Private Link pattern for public assets, where anonymous reads come only through
    Front Door."""
    inputs = _inputs(account)
    if word(get(inputs, "publicNetworkAccess")) == "disabled":
        return True
    rules = get(inputs, "networkRuleSet")
    return (
        known(rules) and isinstance(rules, dict) and word(get(rules, "defaultAction")) == "deny"
        and not items(get(rules, "ipRules")) and word(get(rules, "bypass"), "none") == "none"
    )  # fmt: skip


def _azure_storage_account_public(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "allowBlobPublicAccess")
    if not known(value):
        yield unverified("allowBlobPublicAccess")
    elif flag(value) is not False and not _azure_private_network_only(res):
        yield "allowBlobPublicAccess is not false: containers can be made anonymously readable"


def _azure_blob_container_public(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """A container readable anonymously, unless its account is reachable only privately (see above)."""
    accounts = {get(_inputs(a), "accountName"): a for a in graph.of_type(AZURE_ACCOUNT)}
    for container in graph.of_type(AZURE_CONTAINER):
        access = get(_inputs(container), "publicAccess")
        if not known(access):
            yield container, unverified("publicAccess")
            continue
        if access is None or word(access) == "none":
            continue
        account = accounts.get(get(_inputs(container), "accountName")) or next(
            iter(graph.dependencies(container, AZURE_ACCOUNT)), None
        )
        if account is None or not _azure_private_network_only(account):
            yield container, f"publicAccess is {access!r}: blobs are readable anonymously"


def _storage_private_graph(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    yield from _s3_pab_attached(graph, ctx)
    yield from _azure_blob_container_public(graph, ctx)


STORAGE_PRIVATE = Rule(
    id="storage-no-public-access",
    title="No public buckets or blob containers",
    severity="high",
    enforcement="mandatory",
    description="Object storage is never anonymously readable: S3 buckets have a public access block with "
                "all four "
    "settings on and no public ACL or policy; GCS buckets enforce public access prevention and uniform "
    "access and "
    "grant nothing to allUsers/allAuthenticatedUsers; Azure accounts disallow blob public access and "
    "containers are "
    "private. Serve public files through the CDN instead.",
    remediation={
        "aws": "Keep the public_access_block child with block_public_acls, block_public_policy, "
               "ignore_public_acls "
        "and restrict_public_buckets all True; share objects through the CDN or presigned URLs.",
        "gcp": "Set public_access_prevention='enforced' and uniform_bucket_level_access=True; remove "
               "allUsers / "
        "allAuthenticatedUsers bindings; use signed URLs or the CDN.",
        "azure": "Set allow_blob_public_access=False on the storage account and public_access='None' on "
                 "containers; "
        "use SAS tokens or the CDN.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "CIS AWS 2.1.4", "gcp": "CIS GCP 5.1; CIS GCP 5.2", "azure": "CIS Azure 3.7"},
    checks={
        S3_PAB: _s3_public_access_block,
        **{t: _s3_bucket for t in S3_BUCKETS},
        "aws:s3/bucketAcl:BucketAcl": _s3_bucket_acl,
        "aws:s3/bucketAclV2:BucketAclV2": _s3_bucket_acl,
        "aws:s3/bucketPolicy:BucketPolicy": _s3_bucket_policy,
        "gcp:storage/bucket:Bucket": _gcs_bucket,
        r"re:(?i)^gcp:storage/(bucket|managedFolder)iam(member|binding|policy):": _gcs_iam,
        r"re:^gcp:storage/(bucketACL|bucketAccessControl|defaultObjectACL|defaultObjectAccessControl"
        r"|objectAccessControl|objectACL):": _gcs_acl,
        AZURE_ACCOUNT: _azure_storage_account_public,
    },
    graph_check=_storage_private_graph,
)


# --- database-not-public ------------------------------------------------------------------------------------
def _rds_public(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "publiclyAccessible")
    if not known(value):
        yield unverified("publiclyAccessible")
    elif flag(value) is True:
        yield "publiclyAccessible is true: the database gets a public IP address"


def _cloud_sql_public(res: Resource, ctx: Context) -> Iterator[str]:
    ip = get(_inputs(res), "settings.ipConfiguration")
    if not known(ip):
        yield unverified("settings.ipConfiguration")
        return
    enabled = get(ip, "ipv4Enabled")
    if not known(enabled):
        yield unverified("settings.ipConfiguration.ipv4Enabled")
    elif flag(enabled) is not False:
        yield "settings.ip_configuration.ipv4_enabled is not false: the instance gets a public IP address"
    networks = [get(n, "value") for n in items(get(ip, "authorizedNetworks"))]
    found, shown = sources(networks)
    families = found.internet()
    if families:
        yield (
            f"authorized networks {' + '.join(shown)} cover the whole {' and '.join(families)} internet: anyone "
            "can connect"
        )


def _azure_pg_public(res: Resource, ctx: Context) -> Iterator[str]:
    network = get(_inputs(res), "network")
    if not known(network):
        yield unverified("network")
        return
    access, subnet = get(network, "publicNetworkAccess"), get(network, "delegatedSubnetResourceId")
    if subnet:
        return  # in a delegated subnet (an id, known or computed): private by construction
    if not known(access):
        yield unverified("network.publicNetworkAccess")
    elif word(access) != "disabled":
        yield "network.public_network_access is not Disabled and the server is not in a delegated subnet"


def _ip_range(start: object, end: object) -> AddressSet | None:
    try:
        low, high = ipaddress.IPv4Address(str(start).strip()), ipaddress.IPv4Address(str(end).strip())
    except ValueError:
        return None
    return AddressSet(v4=((int(min(low, high)), int(max(low, high))),))


def _firewall_range(start_key: str, end_key: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        inputs = _inputs(res)
        start, end = get(inputs, start_key), get(inputs, end_key)
        if not known(start) or not known(end):
            yield unverified(f"{start_key}/{end_key}")
            return
        if str(start).strip() == "0.0.0.0" and str(end).strip() == "0.0.0.0":
            yield "the firewall rule admits every Azure service, including other tenants' (Allow Azure services)"
            return
        found = _ip_range(start, end)
        if found is not None and found.internet():
            yield f"the firewall rule {start}-{end} admits every IPv4 address on the internet"

    return check


DATABASE_PRIVATE = Rule(
    id="database-not-public",
    title="Databases not reachable from the internet",
    severity="high",
    enforcement="mandatory",
    description="Databases have no public address: RDS publicly_accessible off, Cloud SQL on a private IP "
                "only "
    "without 0.0.0.0/0 authorized networks, Azure PostgreSQL in a delegated subnet or with public network "
    "access "
    "Disabled and no allow-all firewall rules. The app reaches them over the private network.",
    remediation={
        "aws": "Set publicly_accessible=False on the RDS instance; reach it from the VPC (or SSM port "
               "forwarding).",
        "gcp": "Set settings.ip_configuration.ipv4_enabled=False with private_network set; use the Cloud SQL "
               "Auth "
        "Proxy for admin access.",
        "azure": "Put the flexible server in a delegated subnet (network.delegated_subnet_resource_id) or "
                 "set "
        "network.public_network_access='Disabled'; delete allow-all firewall rules.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "CIS AWS 2.3.3", "gcp": "CIS GCP 6.5; CIS GCP 6.6", "azure": "CIS Azure 4.3.7"},
    checks={
        "aws:rds/instance:Instance": _rds_public,
        "aws:rds/clusterInstance:ClusterInstance": _rds_public,
        "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql_public,
        "azure-native:dbforpostgresql:Server": _azure_pg_public,
        "azure-native:dbforpostgresql:FirewallRule": _firewall_range("startIpAddress", "endIpAddress"),
    },
)


# --- cache-not-public ---------------------------------------------------------------------------------------
def _azure_redis_public(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    if get(inputs, "subnetId"):
        return  # VNet-injected (Premium): private by construction
    access = get(inputs, "publicNetworkAccess")
    if not known(access):
        yield unverified("publicNetworkAccess")
    elif word(access) != "disabled":
        yield (
            f"publicNetworkAccess is {access or 'not set (Enabled)'}: the cache is reachable from the "
            f"internet"
        )


def _memorystore_network(res: Resource, ctx: Context) -> Iterator[str]:
    if get(_inputs(res), "authorizedNetwork") is None:
        yield (
            "no authorizedNetwork: the instance attaches to the project's 'default' network, not the stack's "
            "VPC"
        )


CACHE_PRIVATE = Rule(
    id="cache-not-public",
    title="Caches not reachable from the internet",
    severity="high",
    enforcement="mandatory",
    description="Redis is reachable only from the stack's private network: Azure Cache for Redis with public "
    "network access Disabled (private endpoint or VNet injection), Memorystore attached to the stack's VPC. "
    "ElastiCache lives in the VPC's private subnets by construction.",
    remediation={
        "azure": "Set public_network_access='Disabled' and reach the cache through a private endpoint in the "
                 "VNet.",
        "gcp": "Set authorized_network to the stack's VPC network id.",
    },
    clouds=("gcp", "azure"),
    controls={"azure": "MCSB NS-2"},
    checks={
        "azure-native:redis:Redis": _azure_redis_public,
        "azure-native:redisenterprise:RedisEnterprise": _azure_redis_public,
        "gcp:redis/instance:Instance": _memorystore_network,
        "azure-native:redis:FirewallRule": _firewall_range("startIP", "endIP"),
    },
)

RULES = [STORAGE_PRIVATE, DATABASE_PRIVATE, CACHE_PRIVATE]
