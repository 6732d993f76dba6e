"""A DNS zone may live in another subscription or project than the stack: its records go there."""

from __future__ import annotations

from pathlib import Path

import yaml

from mbops.engine.plan import plan
from mbops.stacks.config import read_stack_file, resolve

ZONE_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


def _plan(tmp_path: Path, **fields: object) -> dict:
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump({"name": "shop", "profile": "managed", "environment": "prod",
                                    "domain": "api.example.com", **fields}))  # fmt: skip
    return plan(resolve(read_stack_file(path), source=str(path)), with_cost=False, with_policy=False)


def test_azure_records_in_another_subscription_go_through_a_provider_signed_in_there(tmp_path: Path) -> None:
    zone = {"name": "example.com", "resource_group": "rg-dns", "subscription": ZONE_SUBSCRIPTION}
    graph = _plan(tmp_path, cloud="azure", dns_zone=zone)
    providers = [r for r in graph["resources"] if r["type"] == "pulumi:providers:azure-native"]
    assert [p["inputs"].get("subscriptionId") for p in providers] == [ZONE_SUBSCRIPTION]
    records = [r for r in graph["resources"] if r["type"] == "azure-native:dns:RecordSet"]
    assert len(records) == 2 and all(r["inputs"]["resourceGroupName"] == "rg-dns" for r in records)
    domain = next(r for r in graph["resources"] if r["type"] == "azure-native:cdn:AFDCustomDomain")
    assert f"/subscriptions/{ZONE_SUBSCRIPTION}/" in domain["inputs"]["azureDnsZone"]["id"]


def test_azure_records_in_the_stacks_subscription_use_the_default_provider(tmp_path: Path) -> None:
    graph = _plan(tmp_path, cloud="azure", dns_zone={"name": "example.com", "resource_group": "rg-dns"})
    assert not [r for r in graph["resources"] if r["type"] == "pulumi:providers:azure-native"]
