"""The price catalog shipped in the repo: one YAML file per cloud (``cost/<cloud>.yaml``).

Each SKU entry has a description, a unit, the public price list it comes from (``source`` names an entry of
the file's ``sources``; ``match`` says how ``mbops prices refresh`` finds it there), an ``as_of`` date and
a price per region, and says where its numbers were read:

- ``evidence``: the public page that publishes the price and, where one was made, an independent check of
  the number (a price list SKU or file, with what it shows);
- ``copied``: regions whose price was not read but copied from another region, each with ``from`` and
  ``multiplier`` (every item priced that way says so); ``estimated``: why a price that was not read at all
  is what it is (said on every item priced with it);
- ``free_quantity``: a free tier (deducted only with ``--free-tiers``); ``included_quantity``: a $0 first
  tier every account gets (always deducted). Both apply once per stack.

Regions without their own price use the default region's price times the documented
``regional_multipliers`` (longest matching prefix), and say so on every item priced that way.
``MBOPS_PRICE_CATALOG=<dir>`` reads catalogs from another directory (e.g. one ``prices refresh`` wrote).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mbops.errors import ConfigError

CATALOG_DIR = Path(__file__).resolve().parent
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader is ~10x faster
CATALOG_CLOUDS = ("aws", "gcp", "azure")
GLOBAL = "global"


@dataclass(frozen=True, kw_only=True)
class Price:
    """A SKU's price in one region."""

    sku: str
    description: str
    unit: str
    unit_price: float
    source: str
    as_of: str
    region: str  # the region whose price was used ("global" for global services)
    note: str = ""
    free_quantity: float = 0.0
    included_quantity: float = 0.0


@dataclass(kw_only=True)
class Catalog:
    cloud: str
    path: Path
    data: dict[str, Any]
    skus: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.skus = self.data.get("skus") or {}

    @property
    def as_of(self) -> str:
        return str(self.data.get("as_of", "unknown"))

    @property
    def default_region(self) -> str:
        return str(self.data["default_region"])

    def priced_regions(self) -> list[str]:
        regions = {r for entry in self.skus.values() for r in (entry.get("prices") or {})}
        return sorted(regions - {GLOBAL})

    def multiplier(self, region: str) -> tuple[float, str]:
        """The documented multiplier for a region without its own prices, and the prefix that chose it."""
        table: dict[str, float] = self.data.get("regional_multipliers") or {}
        best = max((p for p in table if region.startswith(p)), key=len, default=None)
        if best is None:
            return float(table.get("*", 1.0)), "*"
        return float(table[best]), best

    def source_url(self, source: str, region: str) -> str:
        template = (self.data.get("sources") or {}).get(source, source)
        if isinstance(template, dict):
            template = template.get("url", source)
        return str(template).replace("{region}", region)

    def price(self, sku: str, region: str) -> Price:
        """The price of ``sku`` in ``region``; KeyError when the catalog has no such SKU."""
        entry = self.skus[sku]
        prices: dict[str, float] = entry.get("prices") or {}
        note = ""
        if region in prices:
            used, value = region, float(prices[region])
            copied = (entry.get("copied") or {}).get(region)
            if copied:
                note = (
                    f"the {region} price was not read: copied from {copied['from']} x "
                    f"{float(copied.get('multiplier', 1)):g}"
                )
        elif GLOBAL in prices:
            used, value = GLOBAL, float(prices[GLOBAL])
        elif self.default_region in prices:
            factor, prefix = self.multiplier(region)
            used, value = self.default_region, float(prices[self.default_region]) * factor
            note = (
                f"{region} is not in the catalog: priced as {self.default_region} x {factor:g} "
                f"(regional multiplier for '{prefix}')"
            )
        else:
            raise KeyError(sku)
        if entry.get("estimated"):
            note = "; ".join(filter(None, [note, f"estimated price, {entry['estimated']}"]))
        source = str(entry.get("source", ""))
        return Price(
            sku=sku,
            description=str(entry.get("description", sku)),
            unit=str(entry.get("unit", "unit")),
            unit_price=value,
            source=self.source_url(source, used if used != GLOBAL else self.default_region),
            as_of=str(entry.get("as_of", self.as_of)),
            region=used,
            note=note,
            free_quantity=float(entry.get("free_quantity", 0) or 0),
            included_quantity=float(entry.get("included_quantity", 0) or 0),
        )

    def evidence(self, sku: str) -> list[str]:
        """Where the SKU's numbers were read (public page first, then any independent check)."""
        value = self.skus[sku].get("evidence") or []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def summary(self, region: str) -> dict[str, Any]:
        """What the estimate reports about the catalog it used."""
        info: dict[str, Any] = {
            "cloud": self.cloud,
            "region": region,
            "as_of": self.as_of,
            "file": str(self.path),
            "method": str(self.data.get("method", "")).strip(),
            "sources": sorted({self.source_url(str(e.get("source", "")), region) for e in self.skus.values()}),
        }
        if region not in self.priced_regions():
            factor, prefix = self.multiplier(region)
            info["region_fallback"] = {
                "priced_as": self.default_region,
                "multiplier": factor,
                "prefix": prefix,
            }
        return info


def catalog_dir() -> Path:
    override = os.environ.get("MBOPS_PRICE_CATALOG")
    return Path(override) if override else CATALOG_DIR


def catalog_path(cloud: str, directory: Path | None = None) -> Path:
    return (directory or catalog_dir()) / f"{cloud}.yaml"


def _cache_dir() -> Path:
    """Where parsed catalogs are kept as JSON (parsing the YAML costs ~25 ms a catalog; JSON ~1 ms)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mbops" / "catalogs"


@cache
def _load(path: Path, mtime: float) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no price catalog for this cloud") from None
    cached = _cache_dir() / f"{hashlib.sha256(raw).hexdigest()[:40]}.json"  # keyed by content: never stale
    try:
        return json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    try:
        data = yaml.load(raw, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed price catalog: {exc}") from None
    if not isinstance(data, dict) or "skus" not in data or "default_region" not in data:
        raise ConfigError(f"{path}: a price catalog needs 'default_region' and 'skus'")
    try:  # best effort: a read-only or missing cache directory only costs the YAML parse next time
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(cached)
    except (OSError, TypeError, ValueError):
        pass
    return data


def load_catalog(cloud: str, directory: Path | None = None) -> Catalog:
    """The catalog of ``cloud`` (cached per file and modification time)."""
    if cloud not in CATALOG_CLOUDS:
        raise ConfigError(f"no price catalog for '{cloud}'; catalogs exist for {', '.join(CATALOG_CLOUDS)}")
    path = catalog_path(cloud, directory)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ConfigError(f"{path}: no price catalog for {cloud}") from None
    return Catalog(cloud=cloud, path=path, data=_load(path, mtime))


HEADER = (
    "# mbops price catalog for {cloud} (format: mbops/cost/catalog.py). Prices are list prices in\n"
    "# {currency} per 'unit'; 'match' is how `mbops prices refresh` finds each SKU in the cloud's\n"
    "# public price list ('source').\n"
)


def dump_catalog(data: dict[str, Any]) -> str:
    """The YAML text of a catalog: header comment, then one block per SKU (leaf mappings inline)."""
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    return HEADER.format(cloud=data.get("cloud", "?"), currency=data.get("currency", "USD")) + body


def write_catalog(data: dict[str, Any], path: Path) -> None:
    """Write a catalog atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(dump_catalog(data))
    tmp.replace(path)
