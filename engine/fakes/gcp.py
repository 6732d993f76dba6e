"""Planned answers to the GCP provider functions the GCP components call (see ``engine/fakes``).

Only two are called, both where a value cannot be computed: a project's number (the Cloud CDN fill
service agent is named after it) and the zones of a region (not every region has an ``-a`` zone).
"""

from __future__ import annotations

import hashlib
from typing import Any

from mbops.engine.fakes import Answer

# Regions whose zone letters are not a, b, c (the rest of the known regions have at least those three).
ZONE_LETTERS = {"us-central1": "abcf", "us-east1": "bcd", "europe-west1": "bcd"}


def plan_project_number(project_id: str) -> str:
    """A stable, realistic 12-digit project number for a project id (plans only)."""
    return str(100_000_000_000 + int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % 900_000_000_000)


def _project(args: dict[str, Any], region: str) -> dict[str, Any]:
    project_id = args.get("projectId") or "mbops-plan"
    return {
        "id": f"projects/{project_id}",
        "projectId": project_id,
        "name": project_id,
        "number": plan_project_number(project_id),
        "orgId": "",
        "folderId": "",
        "billingAccount": "",
        "autoCreateNetwork": True,
        "deletionPolicy": "PREVENT",
        "labels": {},
        "effectiveLabels": {},
        "pulumiLabels": {},
        "tags": {},
    }


def _zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    region = args.get("region") or region
    names = [f"{region}-{letter}" for letter in ZONE_LETTERS.get(region, "abc")]
    project = args.get("project") or "mbops-plan"
    return {
        "id": f"projects/{project}/regions/{region}",
        "names": names,
        "project": project,
        "region": region,
        "status": args.get("status") or "UP",
    }


ANSWERS: dict[str, Answer] = {
    "gcp:organizations/getProject:getProject": _project,
    "gcp:compute/getZones:getZones": _zones,
}

INVENTED: dict[str, dict[str, str]] = {
    "gcp:organizations/getProject:getProject": {"number": "the project's number"},
    "gcp:compute/getZones:getZones": {"names": "a zone of the region"},
}
