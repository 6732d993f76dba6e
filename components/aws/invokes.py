"""Planned answers to the AWS provider functions the AWS components call (see engine/fakes.py)."""

from __future__ import annotations

from typing import Any

from mbops.engine.fakes import PLAN_ACCOUNT_ID, Answer


def _zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    names = [f"{region}{z}" for z in "abc"]
    return {"names": names, "zoneIds": [f"{region}-az{i + 1}" for i in range(3)], "id": region, "state": "available"}


ANSWERS: dict[str, Answer] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": PLAN_ACCOUNT_ID, "arn": f"arn:aws:iam::{PLAN_ACCOUNT_ID}:user/plan", "userId": "PLAN", "id": "x"
    },
    "aws:index/getRegion:getRegion": lambda a, r: {"name": r, "region": r, "id": r, "endpoint": f"ec2.{r}.amazonaws.com"},
    "aws:index/getPartition:getPartition": lambda a, r: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"
    },
}  # fmt: skip
