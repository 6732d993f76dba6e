"""The price catalogs say where every number was read, and which regional prices were copied (and how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.cost.catalog import CATALOG_CLOUDS, GLOBAL, load_catalog
from mbops.cost.estimate import estimate
from mbops.cost.pricelists import SampleSource, refresh_catalog

SAMPLES = Path(__file__).parent / "data" / "pricelists"
PAGES = {"aws": "https://aws.amazon.com/", "gcp": "https://cloud.google.com/", "azure": "https://azure.microsoft.com/"}


@pytest.mark.parametrize("cloud", CATALOG_CLOUDS)
def test_every_entry_records_its_evidence(cloud):
    catalog = load_catalog(cloud)
    for key in catalog.skus:
        evidence = catalog.evidence(key)
        assert evidence, f"{cloud} {key}: no evidence"
        assert evidence[0].startswith(PAGES[cloud]), f"{cloud} {key}: the first evidence is the public price page"
        assert all(line.strip() for line in evidence), key


@pytest.mark.parametrize("cloud", CATALOG_CLOUDS)
def test_copied_regional_prices_name_their_source_and_multiplier(cloud):
    catalog = load_catalog(cloud)
    copies = 0
    for key, entry in catalog.skus.items():
        prices = entry["prices"]
        for region, copy in (entry.get("copied") or {}).items():
            copies += 1
            assert region in prices and region != GLOBAL, f"{key}: copied region {region} has no price"
            assert copy["from"] in prices and copy["from"] != region, f"{key}: copied from an unpriced region"
            assert region not in (entry.get("copied") or {}).get(copy["from"], {}), key
            assert prices[region] == pytest.approx(prices[copy["from"]] * copy["multiplier"], rel=1e-3), key
            note = catalog.price(key, region).note
            assert f"the {region} price was not read: copied from {copy['from']} x {copy['multiplier']:g}" in note
        if entry.get("estimated"):
            assert "estimated price" in catalog.price(key, catalog.default_region).note
    assert copies > 0  # the catalogs do copy some prices, and say so


def test_corrected_prices_from_the_finops_check():
    gcp, azure = load_catalog("gcp"), load_catalog("azure")
    # Memorystore Standard M2 in us-central1 is $0.054 per GB-hour (the catalog had 0.035); every tier is priced.
    assert gcp.price("redis.standard.m2", "us-central1").unit_price == 0.054
    assert {k for k in gcp.skus if k.startswith("redis.")} == {
        f"redis.{tier}.m{n}" for tier in ("basic", "standard") for n in range(1, 6)
    }
    # Container Apps has idle meters, below the active vCPU rate.
    assert azure.price("aca.vcpu_idle", "eastus").unit_price < azure.price("aca.vcpu_active", "eastus").unit_price
    # West Europe Container Apps prices were East US repeats: now read (and no longer equal).
    assert azure.price("aca.vcpu_active", "westeurope").unit_price == 3.4e-05


def test_an_item_priced_from_a_copied_region_says_so():
    graph = {
        "stack": "t", "profile": "managed", "cloud": "gcp", "environment": "dev", "region": "europe-west1",
        "resources": [{"urn": "u", "type": "gcp:redis/instance:Instance", "name": "cache", "custom": True,
                       "component": "cache", "inputs": {"tier": "BASIC", "memorySizeGb": 1}, "dependencies": []}],
    }  # fmt: skip
    (item,) = estimate(graph, None)["items"]
    assert item["unit_price"] == pytest.approx(0.049 * 1.1)
    assert item["note"] == "the europe-west1 price was not read: copied from us-central1 x 1.1"


def test_refresh_replaces_a_copied_price_with_the_read_one_and_records_where(tmp_path):
    catalog_dir = tmp_path / "catalog"
    catalog_dir.mkdir()
    data = yaml.safe_load(load_catalog("aws").path.read_text())
    entry = data["skus"]["fargate.x86.vcpu_hour"]
    entry["prices"] = {"us-east-1": 0.05, "eu-west-1": 0.05}
    entry["copied"] = {"us-east-1": {"from": "eu-west-1", "multiplier": 1.0}}
    data["skus"] = {"fargate.x86.vcpu_hour": entry}
    (catalog_dir / "aws.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    report = refresh_catalog("aws", SampleSource(SAMPLES), catalog_dir=catalog_dir, output_dir=out, today="2027-01-02")
    assert [u["region"] for u in report.updated] == ["us-east-1"]
    refreshed = yaml.safe_load((out / "aws.yaml").read_text())["skus"]["fargate.x86.vcpu_hour"]
    assert refreshed["prices"]["us-east-1"] == 0.04048
    assert "copied" not in refreshed  # read now
    assert refreshed["evidence"][0].startswith("https://aws.amazon.com/fargate/pricing/")
    assert (
        refreshed["evidence"][-1].startswith("price list AmazonECS:")
        and "(us-east-1, effective" in refreshed["evidence"][-1]
    )
    assert refreshed["stale_regions"] == ["eu-west-1"]  # not in the samples: kept, and said


def test_prices_show_lists_each_skus_evidence():
    run = CliRunner().invoke(cli, ["prices", "show", "--cloud", "gcp", "--evidence", "--json"])
    assert run.exit_code == 0, run.output
    (row,) = json.loads(run.output)
    entries = {e["sku"]: e for e in row["entries"]}
    assert entries["redis.standard.m2"]["prices"]["us-central1"] == 0.054
    assert entries["redis.standard.m2"]["copied"] == {"europe-west1": {"from": "us-central1", "multiplier": 1.1}}
    assert any("redis_instance_test.golden" in line for line in entries["redis.standard.m2"]["evidence"])
    assert row["copied"] >= 10
    text = CliRunner().invoke(cli, ["prices", "show", "--cloud", "azure", "--evidence"])
    assert text.exit_code == 0 and "westeurope: not read, copied from eastus x 1" in text.output
    assert "estimated: not read: priced at 2 x postgres.backup" in text.output
