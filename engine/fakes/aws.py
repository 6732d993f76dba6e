"""Planned answers to the AWS provider functions the AWS components call (see ``engine/fakes``)."""

from __future__ import annotations

from typing import Any

from mbops.engine.fakes import PLAN_ACCOUNT_ID, Answer

# Availability zones a new account sees where a region has other than three; the zone ids (``use1-az3``) behind
# the letters differ per account: here us-east-1's constrained use1-az3 is the fifth letter, as in many accounts.
ZONE_COUNTS = {"us-east-1": 6, "us-west-1": 2, "us-west-2": 4, "ap-northeast-2": 4}
ZONE_IDS = {"us-east-1": ["use1-az1", "use1-az2", "use1-az4", "use1-az6", "use1-az3", "use1-az5"]}
_DIRECTIONS = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw", "north": "n",
               "south": "s", "east": "e", "west": "w", "central": "c"}  # fmt: skip


def _zone_ids(region: str, count: int) -> list[str]:
    """The region's zone ids (``eu-west-1`` -> ``euw1-az1``, ...)."""
    if region in ZONE_IDS:
        return ZONE_IDS[region][:count]
    area, direction, number = (region.split("-") + ["", ""])[:3]
    short = f"{area}{_DIRECTIONS.get(direction, direction[:1])}{number}"
    return [f"{short}-az{i + 1}" for i in range(count)]


def _zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    """The region's availability zones, less those the call excludes by id or name."""
    count = ZONE_COUNTS.get(region, 3)
    zones = list(zip([f"{region}{z}" for z in "abcdef"[:count]], _zone_ids(region, count), strict=True))
    excluded = set(args.get("excludeZoneIds") or []) | set(args.get("excludeNames") or [])
    zones = [(n, i) for n, i in zones if n not in excluded and i not in excluded]
    return {
        "names": [n for n, _ in zones],
        "zoneIds": [i for _, i in zones],
        "id": region,
        "state": "available",
    }


def _ssm_parameter(args: dict[str, Any], region: str) -> dict[str, Any]:
    """Public SSM parameters the components read: the current Amazon Linux AMI id (a plausible one)."""
    name = args.get("name", "")
    if not name.startswith("/aws/service/ami-"):
        raise NotImplementedError(f"the embedded planner has no answer for SSM parameter {name}")
    return {
        "name": name,
        "id": name,
        "type": "String",
        "value": "ami-0a1b2c3d4e5f67890",
        "insecureValue": "",
        "version": 1,
        "arn": f"arn:aws:ssm:{region}::parameter{name}",
        "withDecryption": True,
    }


def _ecr_token(args: dict[str, Any], region: str) -> dict[str, Any]:
    """An ECR authorization token (the planner never pushes: it stands for the real one)."""
    registry = args.get("registryId") or PLAN_ACCOUNT_ID
    return {
        "authorizationToken": "QVdTOnBsYW4tdG9rZW4=",
        "expiresAt": "2030-01-01T00:00:00Z",
        "id": region,
        "password": "plan-token",
        "proxyEndpoint": f"https://{registry}.dkr.ecr.{region}.amazonaws.com",
        "registryId": registry,
        "userName": "AWS",
        "region": region,
    }


def _zone(args: dict[str, Any], region: str) -> dict[str, Any]:
    """A public Route 53 hosted zone by name."""
    name = str(args.get("name", "")).rstrip(".")
    return {
        "name": name,
        "zoneId": "Z0PLANZONE00000000000",
        "id": "Z0PLANZONE00000000000",
        "arn": "arn:aws:route53:::hostedzone/Z0PLANZONE00000000000",
        "privateZone": False,
        "nameServers": [f"ns-1.awsdns-00.{tld}" for tld in ("com", "net")],
        "callerReference": "plan",
        "comment": "",
        "resourceRecordSetCount": 2,
        "primaryNameServer": "ns-1.awsdns-00.com",
        "tags": {},
    }


# Elastic Load Balancing's log delivery account per region (where it has one: regions before August 2022).
ELB_ACCOUNTS = {"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
                "us-west-2": "797873946194", "eu-west-1": "156460612806", "eu-central-1": "054676820928"}  # fmt: skip


def _elb_account(args: dict[str, Any], region: str) -> dict[str, Any]:
    account = ELB_ACCOUNTS.get(args.get("region") or region, "000000000000")
    return {"arn": f"arn:aws:iam::{account}:root", "id": account, "region": args.get("region") or region}


ANSWERS: dict[str, Answer] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": PLAN_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{PLAN_ACCOUNT_ID}:user/plan",
        "userId": "PLAN",
        "id": "x",
    },
    "aws:index/getRegion:getRegion": lambda a, r: {
        "name": r,
        "region": r,
        "id": r,
        "endpoint": f"ec2.{r}.amazonaws.com",
    },
    "aws:index/getPartition:getPartition": lambda a, r: {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
        "reverseDnsPrefix": "com.amazonaws",
    },
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _ecr_token,
    "aws:route53/getZone:getZone": _zone,
    "aws:elb/getServiceAccount:getServiceAccount": _elb_account,
}

INVENTED: dict[str, dict[str, str]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": {"names": "an availability zone of the region"},
    "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "the deploying AWS account id"},
    "aws:ssm/getParameter:getParameter": {"value": "the current Amazon Linux AMI id, resolved at deploy"},
    "aws:route53/getZone:getZone": {"zoneId": "the Route 53 hosted zone id of dns_zone"},
    "aws:elb/getServiceAccount:getServiceAccount": {"arn": "the region's Elastic Load Balancing log delivery account"},
}
