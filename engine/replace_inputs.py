"""Which input changes make a provider replace a resource (delete + create) instead of updating it in place.

``mbops diff`` compares two planned graphs offline, without the providers' schemas (the provider plugins are not
installed where it runs), so this is a small table of the replace-triggering inputs of the resource types mbops
plans, from the providers' documentation (Terraform's ``ForceNew`` for the bridged AWS and GCP providers, the URL
path of Azure Resource Manager for azure-native). ``replacement(type, path)`` answers:

- ``"replace"``: the provider is documented to replace the resource on this change;
- ``"may replace"``: it replaces on some changes of this input and updates on others (an engine major version,
  a SKU), or we are not sure; the diff says so rather than guess;
- ``None``: updated in place (or not in the table: an input that is not listed is assumed to update in place).

A key is an input name (camelCase, as in the planned graph) or a dotted path into it (``resource.partitionKey``);
``*`` stands for every input except tags and labels. The generic rules at the bottom cover what is true of a
whole provider (GCP names and locations, Azure resource ids, the ``random`` and ``tls`` providers).
"""

from __future__ import annotations

import re

REPLACE = "replace"
MAY = "may replace"
ALL = "*"

# Inputs that never replace (metadata the providers update in place).
NEVER = frozenset({"tags", "tagsAll", "labels"})

_R, _M = REPLACE, MAY

TABLE: dict[str, dict[str, str]] = {
    # --- AWS (pulumi-aws, bridged from terraform-provider-aws: ForceNew arguments) ---------------------------
    "aws:rds/instance:Instance": {
        "identifier": _R, "identifierPrefix": _R, "engine": _R, "dbName": _R, "username": _R,
        "storageEncrypted": _R, "kmsKeyId": _R, "availabilityZone": _R, "characterSetName": _R, "timezone": _R,
        "ncharCharacterSetName": _R, "snapshotIdentifier": _R, "restoreToPointInTime": _R, "s3Import": _R,
        "customIamInstanceProfile": _R, "dbSubnetGroupName": _M, "engineVersion": _M,
    },
    "aws:rds/subnetGroup:SubnetGroup": {"name": _R, "namePrefix": _R},
    "aws:rds/parameterGroup:ParameterGroup": {"name": _R, "namePrefix": _R, "family": _R, "description": _R},
    "aws:s3/bucket:Bucket": {"bucket": _R, "bucketPrefix": _R, "objectLockEnabled": _R},
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "replicationGroupId": _R, "atRestEncryptionEnabled": _R, "subnetGroupName": _R, "port": _R,
        "kmsKeyId": _R, "snapshotArns": _R, "snapshotName": _R, "engine": _M, "transitEncryptionEnabled": _M,
        "networkType": _M, "preferredCacheClusterAzs": _M,
    },
    "aws:elasticache/subnetGroup:SubnetGroup": {"name": _R},
    "aws:dynamodb/table:Table": {"name": _R, "hashKey": _R, "rangeKey": _R, "localSecondaryIndexes": _R},
    "aws:ec2/vpc:Vpc": {"cidrBlock": _R, "ipv4IpamPoolId": _R, "instanceTenancy": _M},
    "aws:ec2/subnet:Subnet": {"cidrBlock": _R, "availabilityZone": _R, "availabilityZoneId": _R, "vpcId": _R,
                              "ipv6CidrBlock": _M},  # fmt: skip
    "aws:ec2/securityGroup:SecurityGroup": {"name": _R, "namePrefix": _R, "description": _R, "vpcId": _R},
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {"vpcId": _R},
    "aws:ec2/eip:Eip": {"domain": _R, "publicIpv4Pool": _R, "networkBorderGroup": _R},
    "aws:ec2/natGateway:NatGateway": {"subnetId": _R, "allocationId": _R, "connectivityType": _R, "privateIp": _R},
    "aws:ec2/routeTable:RouteTable": {"vpcId": _R},
    "aws:ec2/routeTableAssociation:RouteTableAssociation": {"subnetId": _R, "gatewayId": _R},
    "aws:ec2/flowLog:FlowLog": {ALL: _R},
    "aws:ec2/launchTemplate:LaunchTemplate": {"name": _R, "namePrefix": _R},  # other changes: a new version
    "aws:autoscaling/group:Group": {"name": _R, "namePrefix": _R},
    "aws:autoscaling/policy:Policy": {"name": _R, "autoscalingGroupName": _R},
    "aws:lb/loadBalancer:LoadBalancer": {"name": _R, "namePrefix": _R, "internal": _R, "loadBalancerType": _R},
    "aws:lb/targetGroup:TargetGroup": {"name": _R, "namePrefix": _R, "port": _R, "protocol": _R, "vpcId": _R,
                                       "targetType": _R, "protocolVersion": _R},  # fmt: skip
    "aws:lb/listener:Listener": {"loadBalancerArn": _R},
    "aws:ecs/cluster:Cluster": {"name": _R},
    "aws:ecs/service:Service": {"name": _R, "cluster": _R, "schedulingStrategy": _R, "iamRole": _R,
                                "launchType": _M},  # fmt: skip
    "aws:ecs/taskDefinition:TaskDefinition": {ALL: _R},  # task definitions are immutable: a new revision
    "aws:iam/role:Role": {"name": _R, "namePrefix": _R, "path": _R},
    "aws:iam/rolePolicy:RolePolicy": {"name": _R, "namePrefix": _R, "role": _R},
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {ALL: _R},
    "aws:iam/instanceProfile:InstanceProfile": {"name": _R, "namePrefix": _R, "path": _R},
    "aws:cloudwatch/logGroup:LogGroup": {"name": _R, "namePrefix": _R, "logGroupClass": _R},
    "aws:secretsmanager/secret:Secret": {"name": _R, "namePrefix": _R},
    "aws:secretsmanager/secretVersion:SecretVersion": {"secretId": _R, "secretString": _M, "secretBinary": _M},
    "aws:lambda/function:Function": {"functionName": _R, "packageType": _R},
    "aws:lambda/permission:Permission": {ALL: _R},
    "aws:cognito/userPool:UserPool": {"aliasAttributes": _R, "usernameAttributes": _R, "schemas": _M, "name": _M},
    "aws:cognito/userPoolClient:UserPoolClient": {"userPoolId": _R, "generateSecret": _R},
    "aws:cognito/userPoolDomain:UserPoolDomain": {"domain": _R, "userPoolId": _R},
    "aws:sns/topic:Topic": {"name": _R, "namePrefix": _R, "fifoTopic": _R},
    "aws:sns/platformApplication:PlatformApplication": {"name": _R, "platform": _R},
    "aws:apigatewayv2/api:Api": {"protocolType": _R},
    "aws:apigatewayv2/stage:Stage": {"apiId": _R, "name": _R},
    "aws:apigatewayv2/route:Route": {"apiId": _R},
    "aws:apigatewayv2/integration:Integration": {"apiId": _R, "integrationType": _R},
    "aws:appautoscaling/target:Target": {"resourceId": _R, "scalableDimension": _R, "serviceNamespace": _R},
    "aws:appautoscaling/policy:Policy": {"name": _R, "resourceId": _R, "scalableDimension": _R,
                                         "serviceNamespace": _R},  # fmt: skip
    "aws:resourcegroups/group:Group": {"name": _R},
    "aws:ecr/repository:Repository": {"name": _R},
    # --- GCP (pulumi-gcp, bridged from terraform-provider-google); name/project/region/... are generic --------
    "gcp:sql/databaseInstance:DatabaseInstance": {"databaseVersion": _M, "encryptionKeyName": _R,
                                                  "masterInstanceName": _R},  # fmt: skip
    "gcp:sql/database:Database": {"instance": _R},
    "gcp:sql/user:User": {"instance": _R, "host": _R},
    "gcp:redis/instance:Instance": {
        "tier": _R, "locationId": _R, "alternativeLocationId": _R, "authorizedNetwork": _R, "connectMode": _R,
        "transitEncryptionMode": _R, "reservedIpRange": _R, "customerManagedKey": _R,
    },
    "gcp:compute/instanceTemplate:InstanceTemplate": {ALL: _R},  # immutable: a new template rolls the group
    "gcp:compute/network:Network": {"autoCreateSubnetworks": _R},
    "gcp:compute/subnetwork:Subnetwork": {"network": _R, "ipCidrRange": _M},
    "gcp:compute/globalAddress:GlobalAddress": {"address": _R, "addressType": _R, "purpose": _R,
                                                "prefixLength": _R, "network": _R},  # fmt: skip
    "gcp:compute/firewall:Firewall": {"network": _R, "direction": _R},
    "gcp:compute/router:Router": {"network": _R},
    "gcp:compute/routerNat:RouterNat": {"router": _R},
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": {"ipAddress": _R, "ipProtocol": _R, "portRange": _R,
                                                              "loadBalancingScheme": _R},  # fmt: skip
    "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey": {ALL: _R},
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": {"baseInstanceName": _R},
    "gcp:servicenetworking/connection:Connection": {"network": _R, "service": _R},
    "gcp:firestore/database:Database": {"locationId": _R, "type": _M},
    "gcp:secretmanager/secret:Secret": {"secretId": _R, "replication": _R},
    "gcp:secretmanager/secretVersion:SecretVersion": {ALL: _R},
    "gcp:serviceaccount/account:Account": {"accountId": _R},
    "gcp:projects/iAMCustomRole:IAMCustomRole": {"roleId": _R},
    "gcp:projects/iAMMember:IAMMember": {ALL: _R},
    "gcp:secretmanager/secretIamMember:SecretIamMember": {ALL: _R},
    "gcp:storage/bucketIAMMember:BucketIAMMember": {ALL: _R},
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": {ALL: _R},
    "gcp:projects/service:Service": {"service": _R},
    "gcp:artifactregistry/repository:Repository": {"repositoryId": _R, "format": _R, "mode": _R},
    "gcp:firebase/project:Project": {ALL: _R},
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": {"bucketId": _R},
    "pulumi:providers:gcp": {ALL: _M},  # a provider's settings may replace every resource it manages
    # --- Azure (pulumi-azure-native): the resource id's path segments (*Name, resourceGroupName) are generic --
    "azure-native:storage:StorageAccount": {"isHnsEnabled": _R, "kind": _M, "sku": _M},
    "azure-native:dbforpostgresql:Server": {"administratorLogin": _R, "network": _R, "version": _M,
                                            "availabilityZone": _M, "createMode": _M},  # fmt: skip
    "azure-native:redisenterprise:RedisEnterprise": {"zones": _R, "sku": _M},
    "azure-native:redisenterprise:Database": {"clusteringPolicy": _R, "modules": _R, "port": _M},
    "azure-native:cosmosdb:DatabaseAccount": {"capabilities": _M, "databaseAccountOfferType": _M},
    "azure-native:cosmosdb:SqlResourceSqlContainer": {"resource.partitionKey": _R},
    "azure-native:authorization:RoleAssignment": {ALL: _R},
    "azure-native:authorization:ManagementLockByScope": {"scope": _R},
    "azure-native:compute:VirtualMachineScaleSet": {"zones": _R, "platformFaultDomainCount": _R,
                                                    "orchestrationMode": _R},  # fmt: skip
    "azure-native:network:PublicIPAddress": {"sku": _R, "zones": _R, "publicIPAllocationMethod": _M},
    "azure-native:network:LoadBalancer": {"sku": _R},
    "azure-native:network:NatGateway": {"zones": _R},
    "azure-native:network:PrivateEndpoint": {"subnet": _R},
    "azure-native:monitor:DiagnosticSetting": {"name": _R, "resourceUri": _R},
}

# Whole providers: every input replaces (random values and generated keys are regenerated).
REPLACE_ALL_PACKAGES = ("random", "tls")
# GCP resources are identified by name, project and location: changing one replaces the resource.
GCP_IDENTITY = frozenset({"name", "project", "region", "location", "zone"})
# Azure Resource Manager ids are the URL path: the resource group, the location and every *Name segment.
AZURE_IDENTITY = frozenset({"resourceGroupName", "location"})
AZURE_NAME_NOT_IN_ID = frozenset({"hostName", "workloadProfileName", "skuName", "tenantName", "domainName"})
# AWS names are identities on most types; where the table does not say, a name change may replace.
AWS_NAMES = frozenset({"name", "namePrefix"})

_FIRST = re.compile(r"^[^.\[]+")


def _matches(key: str, path: str) -> bool:
    return path == key or path.startswith((f"{key}.", f"{key}["))


def replacement(type_token: str, path: str) -> str | None:
    """``"replace"``, ``"may replace"`` or None for a change of input ``path`` (e.g. ``instanceClass``,
    ``settings.tier``, ``ingress[0].cidrBlocks``) on a resource of ``type_token``."""
    top = _FIRST.match(path)
    first = top.group(0) if top else path
    if first in NEVER:
        return None
    package = type_token.split(":", 1)[0]
    table = TABLE.get(type_token, {})
    specific = [level for key, level in table.items() if key != ALL and _matches(key, path)]
    if specific:
        return REPLACE if REPLACE in specific else MAY
    if ALL in table:
        return table[ALL]
    if package in REPLACE_ALL_PACKAGES:
        return REPLACE
    if package == "gcp" and first in GCP_IDENTITY:
        return REPLACE
    if package == "azure-native" and (
        first in AZURE_IDENTITY or (first.endswith("Name") and first not in AZURE_NAME_NOT_IN_ID)
    ):
        return REPLACE
    if package == "aws" and first in AWS_NAMES:
        return MAY
    return None


# Resources that hold data or credentials: replacing or removing one loses what is in it.
STATEFUL = frozenset({
    "aws:rds/instance:Instance", "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket",
    "aws:elasticache/replicationGroup:ReplicationGroup", "aws:secretsmanager/secret:Secret",
    "gcp:sql/databaseInstance:DatabaseInstance", "gcp:sql/database:Database", "gcp:firestore/database:Database",
    "gcp:storage/bucket:Bucket", "gcp:redis/instance:Instance", "gcp:secretmanager/secret:Secret",
    "azure-native:dbforpostgresql:Server", "azure-native:dbforpostgresql:Database",
    "azure-native:cosmosdb:DatabaseAccount", "azure-native:cosmosdb:SqlResourceSqlDatabase",
    "azure-native:cosmosdb:SqlResourceSqlContainer", "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer", "azure-native:redisenterprise:RedisEnterprise",
    "azure-native:redisenterprise:Database", "azure-native:keyvault:Vault",
    "random:index/randomPassword:RandomPassword",
    "pulumi-python:dynamic/mbops:PostgresCluster", "pulumi-python:dynamic/mbops:SqliteFile",
    "pulumi-python:dynamic/mbops:Directory", "pulumi-python:dynamic/mbops:SecretsFile",
})  # fmt: skip


def stateful(type_token: str) -> bool:
    """Whether replacing or removing a resource of ``type_token`` loses data (or rotates a credential)."""
    return type_token in STATEFUL
