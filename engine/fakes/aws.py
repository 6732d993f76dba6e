"""Planned answers to the AWS provider functions the AWS components call (see ``engine/fakes``)."""

from __future__ import annotations

from typing import Any

from mbops.engine.fakes import PLAN_ACCOUNT_ID, Answer


def _zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    names = [f"{region}{z}" for z in "abc"]
    return {
        "names": names,
        "zoneIds": [f"{region}-az{i + 1}" for i in range(3)],
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
}

INVENTED: dict[str, dict[str, str]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": {"names": "an availability zone of the region"},
    "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "the deploying AWS account id"},
    "aws:ssm/getParameter:getParameter": {"value": "the current Amazon Linux AMI id, resolved at deploy"},
}
