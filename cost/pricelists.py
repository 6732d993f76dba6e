"""Read the clouds' public price lists and refresh the shipped catalog from them.

Formats read (each SKU entry of a catalog says in ``match`` how to find itself):

- AWS Price List offer files (``.../offers/v1.0/aws/<offerCode>/current/<region>/index.json``): ``products``
  (attributes) and ``terms.OnDemand`` (price dimensions with ranges); match on attributes and usage type.
- Azure Retail Prices API pages (``prices.azure.com/api/retail/prices``, ``Items`` + ``NextPageLink``):
  match on serviceName / productName / skuName / meterName / unitOfMeasure, ``type == Consumption``.
- GCP Cloud Billing Catalog API (``cloudbilling.googleapis.com/v1/services`` and ``services/<id>/skus``):
  match on service display name, SKU description prefix, service region and usage unit; ``OnDemand`` only.

A price found in more than one product with different values is ambiguous and never written; an entry
that is not found keeps its price and date and is reported. ``--offline-sample DIR`` reads recorded files:
``aws/<offerCode>-<region>.json``, ``azure/<service-slug>-<region>.json`` (a page or a list of pages),
``gcp/services.json`` and ``gcp/<service-id>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mbops.cost.catalog import GLOBAL, catalog_path, load_catalog, write_catalog
from mbops.errors import ConfigError, MbopsError

AZURE_API = "https://prices.azure.com/api/retail/prices"
GCP_API = "https://cloudbilling.googleapis.com/v1"
AWS_OFFERS = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws"
TIMEOUT_S = 30


class NetworkUnavailable(MbopsError):
    """Refreshing prices needs the network (exit 1); the shipped catalog stays in use."""

    exit_code = 1


@dataclass(frozen=True)
class Found:
    """A price found in a price list, already in the catalog's unit (raw price per unit x ``scale``)."""

    price: float
    as_of: str
    ref: str


class Ambiguous(Exception):
    """More than one product matched with different prices."""


def _unique(found: list[Found], what: str) -> Found | None:
    if not found:
        return None
    prices = {round(f.price, 10) for f in found}
    if len(prices) > 1:
        raise Ambiguous(f"{what}: {len(found)} products match with different prices {sorted(prices)[:4]}")
    return max(found, key=lambda f: f.as_of)


# --- AWS Price List offer files ---------------------------------------------------------------------------

_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d?-")


def _aws_usagetype_matches(usagetype: str, want: str) -> bool:
    return usagetype == want or _REGION_PREFIX.sub("", usagetype, count=1) == want


def find_aws(offer: dict[str, Any], match: dict[str, Any], region: str, scale: float = 1) -> Found | None:
    """The on-demand price of the product matching ``match`` in an AWS offer file."""
    attrs_want: dict[str, str] = match.get("attributes") or {}
    usagetype = match.get("usagetype")
    found: list[Found] = []
    terms = (offer.get("terms") or {}).get("OnDemand") or {}
    for sku, product in (offer.get("products") or {}).items():
        attrs = product.get("attributes") or {}
        if region != GLOBAL and attrs.get("regionCode") not in (None, region):
            continue
        if any((product.get(k) if k == "productFamily" else attrs.get(k)) != v for k, v in attrs_want.items()):
            continue
        if usagetype and not _aws_usagetype_matches(str(attrs.get("usagetype", "")), usagetype):
            continue
        for term in (terms.get(sku) or {}).values():
            dims = list((term.get("priceDimensions") or {}).values())
            if match.get("unit"):
                dims = [d for d in dims if d.get("unit") == match["unit"]]
            dim = _aws_tier(dims, match.get("tier"))
            if dim is None:
                continue
            usd = float((dim.get("pricePerUnit") or {}).get("USD", "nan"))
            date = str(term.get("effectiveDate") or offer.get("publicationDate") or "")[:10]
            found.append(Found(price=usd * scale, as_of=date, ref=f"{offer.get('offerCode')}:{sku}"))
    return _unique(found, f"{offer.get('offerCode')} {match}")


def _aws_tier(dims: list[dict[str, Any]], tier: str | None) -> dict[str, Any] | None:
    ordered = sorted(dims, key=lambda d: float(d.get("beginRange", 0) or 0))
    if tier == "paid":
        return next((d for d in ordered if float((d.get("pricePerUnit") or {}).get("USD", 0)) > 0), None)
    return next((d for d in ordered if float(d.get("beginRange", 0) or 0) == 0), None)


# --- Azure Retail Prices API ------------------------------------------------------------------------------

_UOM = re.compile(r"^\s*([0-9.]+)\s*([KM]?)\b", re.IGNORECASE)


def azure_unit_count(unit_of_measure: str) -> float:
    """How many units an Azure price is for: '1 Hour' -> 1, '10K' -> 10000, '1M' -> 1e6, '100 Hours' -> 100"""
    m = _UOM.match(unit_of_measure or "")
    if not m:
        return 1.0
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[m.group(2).upper()]


def find_azure(items: Iterable[dict[str, Any]], match: dict[str, Any], region: str, scale: float = 1) -> Found | None:
    """The consumption price of the meter matching ``match`` among Retail Prices API items."""
    fields = {k: v for k, v in match.items() if k not in ("tier", "armRegionName")}
    regions = (
        {match["armRegionName"]}
        if "armRegionName" in match
        else ({"", "global", "Global", "Zone 1"} if region == GLOBAL else {region})
    )
    candidates = [
        i
        for i in items
        if i.get("type", "Consumption") == "Consumption"
        and i.get("armRegionName", "") in regions
        and all(i.get(k) == v for k, v in fields.items())
    ]
    by_meter: dict[str, list[dict[str, Any]]] = {}
    for item in candidates:
        by_meter.setdefault(str(item.get("meterId", item.get("skuId", ""))), []).append(item)
    found = []
    for meter_items in by_meter.values():
        ordered = sorted(meter_items, key=lambda i: float(i.get("tierMinimumUnits", 0) or 0))
        if match.get("tier") == "paid":
            item = next((i for i in ordered if float(i.get("retailPrice", 0)) > 0), None)
        else:
            item = next((i for i in ordered if float(i.get("tierMinimumUnits", 0) or 0) == 0), None)
        if item is None:
            continue
        price = float(item["retailPrice"]) / azure_unit_count(str(item.get("unitOfMeasure", "1"))) * scale
        found.append(
            Found(
                price=price,
                as_of=str(item.get("effectiveStartDate", ""))[:10],
                ref=f"meter {item.get('meterId', '?')}",
            )
        )
    return _unique(found, f"Azure {match}")


# --- GCP Cloud Billing Catalog API -------------------------------------------------------------------------


def _money(price: dict[str, Any]) -> float:
    return float(price.get("units", 0) or 0) + float(price.get("nanos", 0) or 0) / 1e9


def find_gcp(skus: Iterable[dict[str, Any]], match: dict[str, Any], region: str, scale: float = 1) -> Found | None:
    """The on-demand price of the SKU matching ``match`` among Cloud Billing Catalog SKUs."""
    prefix = str(match["description"])
    found = []
    for sku in skus:
        if not str(sku.get("description", "")).startswith(prefix):
            continue
        if (sku.get("category") or {}).get("usageType", "OnDemand") != match.get("usage_type", "OnDemand"):
            continue
        regions = sku.get("serviceRegions") or []
        if region not in regions:
            continue
        info = (sku.get("pricingInfo") or [{}])[0]
        expression = info.get("pricingExpression") or {}
        if match.get("unit") and expression.get("usageUnit") != match["unit"]:
            continue
        rates = sorted(expression.get("tieredRates") or [], key=lambda r: float(r.get("startUsageAmount", 0) or 0))
        if match.get("tier") == "paid":
            rate = next((r for r in rates if _money(r.get("unitPrice") or {}) > 0), None)
        else:
            rate = next((r for r in rates if float(r.get("startUsageAmount", 0) or 0) == 0), None)
        if rate is None:
            continue
        found.append(
            Found(
                price=_money(rate["unitPrice"]) * scale,
                as_of=str(info.get("effectiveTime", ""))[:10],
                ref=str(sku.get("name", sku.get("skuId", "?"))),
            )
        )
    return _unique(found, f"GCP {match}")


# --- where price lists come from --------------------------------------------------------------------------


class PriceSource(Protocol):
    def aws_offer(self, offer_code: str, region: str) -> dict[str, Any]: ...

    def azure_items(self, service: str, region: str) -> list[dict[str, Any]]: ...

    def gcp_services(self) -> list[dict[str, Any]]: ...

    def gcp_skus(self, service_id: str) -> list[dict[str, Any]]: ...


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def http_get_json(url: str) -> dict[str, Any]:
    """GET a JSON document; network problems become NetworkUnavailable naming the URL."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "mbops-prices"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (fixed https hosts)
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise MbopsError(f"price list request failed: HTTP {exc.code} for {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkUnavailable(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None


@dataclass
class HttpSource:
    """The clouds' public price list endpoints (``get`` is injectable for tests)."""

    get: Callable[[str], dict[str, Any]] | None = None
    gcp_api_key: str | None = field(default_factory=lambda: os.environ.get("MBOPS_GCP_API_KEY"))
    max_pages: int = 500

    def fetch(self, url: str) -> dict[str, Any]:
        return (self.get or http_get_json)(url)

    def aws_offer(self, offer_code: str, region: str) -> dict[str, Any]:
        where = "" if region == GLOBAL else f"/{region}"
        return self.fetch(f"{AWS_OFFERS}/{offer_code}/current{where}/index.json")

    def azure_items(self, service: str, region: str) -> list[dict[str, Any]]:
        query = f"serviceName eq '{service}' and priceType eq 'Consumption'"
        if region != GLOBAL:
            query += f" and armRegionName eq '{region}'"
        url: str | None = f"{AZURE_API}?api-version=2023-01-01-preview&$filter={urllib.parse.quote(query)}"
        items: list[dict[str, Any]] = []
        for _ in range(self.max_pages):
            if not url:
                break
            page = self.fetch(url)
            items += page.get("Items") or []
            url = page.get("NextPageLink")
        return items

    def _gcp_pages(self, url: str, key: str) -> list[dict[str, Any]]:
        if not self.gcp_api_key:
            raise ConfigError("the GCP Cloud Billing Catalog API needs an API key: set MBOPS_GCP_API_KEY")
        out: list[dict[str, Any]] = []
        token = ""
        for _ in range(self.max_pages):
            sep = "&" if "?" in url else "?"
            page = self.fetch(
                f"{url}{sep}key={self.gcp_api_key}&pageSize=5000" + (f"&pageToken={token}" if token else "")
            )
            out += page.get(key) or []
            token = page.get("nextPageToken") or ""
            if not token:
                break
        return out

    def gcp_services(self) -> list[dict[str, Any]]:
        return self._gcp_pages(f"{GCP_API}/services", "services")

    def gcp_skus(self, service_id: str) -> list[dict[str, Any]]:
        return self._gcp_pages(f"{GCP_API}/services/{service_id}/skus?currencyCode=USD", "skus")


@dataclass
class SampleSource:
    """Recorded price list files in a directory (see the module docstring for the layout)."""

    root: Path

    def _read(self, *parts: str) -> Any:
        path = self.root.joinpath(*parts)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyError(str(path)) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None

    def aws_offer(self, offer_code: str, region: str) -> dict[str, Any]:
        return self._read("aws", f"{offer_code}-{region}.json")

    def azure_items(self, service: str, region: str) -> list[dict[str, Any]]:
        data = self._read("azure", f"{slug(service)}-{region}.json")
        pages = data if isinstance(data, list) else [data]
        return [item for page in pages for item in page.get("Items") or []]

    def gcp_services(self) -> list[dict[str, Any]]:
        return self._read("gcp", "services.json").get("services") or []

    def gcp_skus(self, service_id: str) -> list[dict[str, Any]]:
        return self._read("gcp", f"{service_id}.json").get("skus") or []


# --- refreshing a catalog ---------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    cloud: str
    path: Path | None = None
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    not_found: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "path": str(self.path) if self.path else None,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "not_found": self.not_found,
        }


class _Lists:
    """Fetches each price list once per refresh; a missing one is remembered as missing."""

    def __init__(self, cloud: str, source: PriceSource, sources: dict[str, Any]) -> None:
        self.cloud, self.source, self.sources = cloud, source, sources
        self.cache: dict[tuple[str, str], Any] = {}
        self.gcp_ids: dict[str, str] | None = None

    def get(self, source_name: str, region: str) -> Any:
        key = (source_name, region)
        if key not in self.cache:
            try:
                self.cache[key] = self._fetch(source_name, region)
            except KeyError as exc:
                self.cache[key] = LookupError(f"no recorded price list {exc.args[0]}")
        return self.cache[key]

    def _fetch(self, source_name: str, region: str) -> Any:
        if self.cloud == "aws":
            return self.source.aws_offer(source_name, region)
        if self.cloud == "azure":
            service = (self.sources.get(source_name) or {}).get("service", source_name)
            return self.source.azure_items(service, region)
        if self.gcp_ids is None:
            self.gcp_ids = {s.get("displayName", ""): s.get("serviceId", "") for s in self.source.gcp_services()}
        service = (self.sources.get(source_name) or {}).get("service", source_name)
        service_id = self.gcp_ids.get(service)
        if not service_id:
            return LookupError(f"no Cloud Billing service named '{service}'")
        return self.source.gcp_skus(service_id)


FINDERS = {"aws": find_aws, "azure": find_azure, "gcp": find_gcp}


def refresh_catalog(
    cloud: str,
    source: PriceSource,
    *,
    catalog_dir: Path | None = None,
    output_dir: Path | None = None,
    regions: Iterable[str] = (),
    today: str | None = None,
    write: bool = True,
) -> RefreshReport:
    """Update ``cloud``'s catalog from price lists; write it to ``output_dir`` (default: where it was read)"""
    catalog = load_catalog(cloud, catalog_dir)
    data = json.loads(json.dumps(catalog.data))  # a deep, plain copy to edit
    today = today or dt.date.today().isoformat()
    lists = _Lists(cloud, source, data.get("sources") or {})
    report = RefreshReport(cloud=cloud)
    extra = [r for r in regions if r]
    for key, entry in data["skus"].items():
        prices: dict[str, float] = entry.setdefault("prices", {})
        wanted = list(prices) + [r for r in extra if GLOBAL not in prices and r not in prices]
        dates, stale, read = [], [], []
        copied: dict[str, Any] = entry.get("copied") or {}
        for region in wanted:
            result = _lookup(lists, cloud, entry, region)
            if isinstance(result, Found):
                read.append(f"price list {result.ref} ({region}, effective {result.as_of or today}, read {today})")
                copied.pop(region, None)  # read now, no longer a copy
                new = round(result.price, 10)
                if prices.get(region) != new:
                    report.updated.append(
                        {
                            "sku": key,
                            "region": region,
                            "old": prices.get(region),
                            "new": new,
                            "ref": result.ref,
                        }
                    )
                    prices[region] = new
                else:
                    report.unchanged += 1
                dates.append(result.as_of or today)
            else:
                stale.append(region)
                report.not_found.append({"sku": key, "region": region, "why": result})
        if read:  # the price list replaces earlier price list evidence; the public page stays
            kept = [e for e in _evidence(entry) if not e.startswith("price list ")]
            entry["evidence"] = kept + read
        if not copied:
            entry.pop("copied", None)
        if dates and not stale:
            entry["as_of"] = max(dates)
            entry.pop("stale_regions", None)
            entry.pop("estimated", None)
        elif stale:
            entry["stale_regions"] = [r for r in stale if r in prices]
            if not entry["stale_regions"]:
                entry.pop("stale_regions")
    data["refreshed"] = {
        "on": today,
        "found": len(report.updated) + report.unchanged,
        "kept": len(report.not_found),
    }
    if not report.not_found:
        data["as_of"] = today
    report.path = catalog_path(cloud, output_dir or catalog_dir)
    if write:
        write_catalog(data, report.path)
    return report


def _evidence(entry: dict[str, Any]) -> list[str]:
    value = entry.get("evidence") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _lookup(lists: _Lists, cloud: str, entry: dict[str, Any], region: str) -> Found | str:
    price_list = lists.get(str(entry.get("source", "")), region)
    if isinstance(price_list, Exception):
        return str(price_list)
    try:
        found = FINDERS[cloud](price_list, entry.get("match") or {}, region, float(entry.get("scale", 1) or 1))
    except Ambiguous as exc:
        return f"ambiguous: {exc}"
    return found if found is not None else "no matching product in the price list"
