"""Planned answers to the GCP provider functions the GCP components call (see ``engine/fakes``).

Each is called where a value cannot be computed: a project's number (the Cloud CDN fill service agent and a
budget's filter name it), the zones of a region (not every region has an ``-a`` zone), the current image of
a public image family (prod pins it), and the deployer's client config (its access token logs the docker push
in to Artifact Registry; the planner never has one). The components gate the first three on the Google API they
call (``GcpComponent.invoke_opts``); the planner's resources have known ids, so it answers them in a plan.
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
        "status": args.get("status") or "",  # the components list every zone, whatever its status
    }


# A plausible image name per public family (the real one is resolved when deploying).
IMAGE_NAMES = {"cos-stable": "cos-stable-121-18867-199-28", "debian-12": "debian-12-bookworm-v20250610"}


def _image(args: dict[str, Any], region: str) -> dict[str, Any]:
    project, family = args.get("project") or "mbops-plan", args.get("family") or ""
    name = args.get("name") or IMAGE_NAMES.get(family, f"{family}-v20250101")
    link = f"https://www.googleapis.com/compute/v1/projects/{project}/global/images/{name}"
    return {
        "id": f"projects/{project}/global/images/{name}", "name": name, "family": family, "project": project,
        "selfLink": link, "status": "READY", "archiveSizeBytes": 0, "diskSizeGb": 10, "imageId": "",
        "labels": {}, "licenses": [], "sourceDisk": "", "sourceImageId": "", "creationTimestamp": "",
        "description": "", "imageEncryptionKeySha256": "", "labelFingerprint": "", "sourceDiskEncryptionKeySha256": "",
        "sourceDiskId": "", "sourceImage": "", "effectiveLabels": {},
    }  # fmt: skip


def _client_config(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"id": "plan", "accessToken": "plan-access-token", "project": "", "region": region, "zone": "",
            "defaultLabels": {}}  # fmt: skip


ANSWERS: dict[str, Answer] = {
    "gcp:organizations/getProject:getProject": _project,
    "gcp:compute/getZones:getZones": _zones,
    "gcp:compute/getImage:getImage": _image,
    "gcp:organizations/getClientConfig:getClientConfig": _client_config,
}

INVENTED: dict[str, dict[str, str]] = {
    "gcp:organizations/getProject:getProject": {"number": "the project's number"},
    "gcp:compute/getZones:getZones": {"names": "a zone of the region"},
    "gcp:compute/getImage:getImage": {"selfLink": "the family's current image, resolved when deploying"},
    "gcp:organizations/getClientConfig:getClientConfig": {"accessToken": "the deployer's access token"},
}
