"""Live AWS GPU prices with boto3, as a canonical catalog.

* On-demand and standard reserved-instance terms: Price List Query API
  (``pricing.get_products``, ServiceCode ``AmazonEC2``; Linux, shared tenancy, used
  capacity, no pre-installed software; instance families "GPU instance" and "Machine
  Learning ASIC Instances"). Each ``PriceList`` item is a JSON string with
  ``product.attributes`` and ``terms.OnDemand`` / ``terms.Reserved`` (``priceDimensions``
  with unit ``Hrs`` or ``Quantity`` = upfront fee, ``termAttributes`` LeaseContractLength
  ``1yr``/``3yr``, PurchaseOption, OfferingClass).
* Savings plans: ``savingsplans.describe_savings_plans_offering_rates`` (Compute and
  EC2Instance, 1 and 3 years, every payment option; ``searchResults`` with ``rate``,
  ``unit``, ``usageType``, ``savingsPlanOffering`` and ``properties``).
* Spot: ``ec2.describe_spot_price_history`` (Linux/UNIX): per availability zone, each price
  weighted by the hours of the window it held, then the mean over the zones.

Product ids match the embedded snapshot's (``aws-ri-1y-partial_upfront``,
``aws-ec2sp-us-east-1-p5-3y-all_upfront``, ``aws-csp-1y-no_upfront``), so a fetched
folder merged over it (``open_catalog(["embedded", folder])``) replaces the estimates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpuladder.awserrors import aws_errors
from gpuladder.errors import DomainError, InputError
from gpuladder.pricing.catalog import PriceCatalog, catalog_from_frames, embedded_catalog
from gpuladder.pricing.estimates import TERM_LABEL, UPFRONT_SHARE, aws_instance_family, interruption_buckets
from gpuladder.units import term_hours, utc_timestamp

PRICING_API_REGION = "us-east-1"
SAVINGS_PLANS_API_REGION = "us-east-1"
GPU_INSTANCE_FAMILIES = ("GPU instance", "Machine Learning ASIC Instances")
SOURCE_PRICE_LIST = "aws-price-list-api"
SOURCE_SAVINGS_PLANS = "aws-savingsplans-offering-rates"
SOURCE_SPOT = "aws-ec2-spot-price-history"
PAYMENT_OPTIONS = {"No Upfront": "no_upfront", "Partial Upfront": "partial_upfront", "All Upfront": "all_upfront"}
LEASE_MONTHS = {"1yr": 12, "3yr": 36}
PLAN_TYPES = ("Compute", "EC2Instance")
SECONDS_PER_YEAR = pd.Timedelta(days=365).total_seconds()
BOX_USAGE = re.compile(r"(^|-)BoxUsage:")  # shared-tenancy instance usage, e.g. USE1-BoxUsage:p5.48xlarge
# Accelerator of instance families the embedded snapshot may lack.
GPU_MODEL_BY_FAMILY = {
    "p6-b300": "B300", "p6-b200": "B200", "p5en": "H200", "p5e": "H200", "p5": "H100-80GB",
    "p4de": "A100-80GB", "p4d": "A100-40GB", "p3dn": "V100-32GB", "p3": "V100-16GB",
    "g6e": "L40S", "g6": "L4", "gr6": "L4", "g5": "A10G", "g5g": "T4G", "g4dn": "T4",
    "g4ad": "Radeon-Pro-V520", "trn2": "Trainium2", "trn1n": "Trainium", "trn1": "Trainium",
    "inf2": "Inferentia2", "inf1": "Inferentia", "dl1": "Gaudi", "dl2q": "Qualcomm-AI100",
}

ClientFactory = Callable[[str, str], object]


@dataclass(frozen=True)
class AwsFetchOptions:
    regions: tuple[str, ...] = ()           # empty: the session's configured region
    spot_window_days: int = 7
    as_of: pd.Timestamp | None = None       # default: now (UTC); the catalog's as_of is its date
    instance_types: tuple[str, ...] = ()    # empty: every GPU/accelerator type the API lists


@dataclass(frozen=True)
class AwsFetchResult:
    catalog: PriceCatalog
    notes: tuple[str, ...] = field(default_factory=tuple)


def fetch_aws_catalog(options: AwsFetchOptions, client_factory: ClientFactory | None = None) -> AwsFetchResult:
    """Fetch prices for ``options.regions`` and return them as a validated catalog.

    ``client_factory(service, region)`` returns a boto3 client (tests pass stubbed ones).
    Missing credentials or region, refused access and unreachable endpoints raise
    InputError / DomainError with a hint."""
    now = pd.Timestamp.now(tz="UTC") if options.as_of is None else utc_timestamp(options.as_of)
    as_of = now.strftime("%Y-%m-%d")
    with _aws_errors("creating the AWS session"):
        factory, default_region = (client_factory, None) if client_factory else _session_factory()
    regions = tuple(dict.fromkeys(options.regions)) or ((default_region,) if default_region else ())
    if not regions:
        raise InputError("no AWS region given and none configured",
                         hint="passing --region R (repeatable) or setting AWS_DEFAULT_REGION (or region in ~/.aws/config).")
    notes: list[str] = []
    pricing = _client(factory, "pricing", PRICING_API_REGION)
    products = pd.concat([_products(pricing, region, options.instance_types, notes) for region in regions],
                         ignore_index=True)
    if products.empty:
        raise DomainError(f"the AWS Price List API returned no GPU instance prices for {', '.join(regions)} "
                          "(check the region names, e.g. us-east-1)")
    families = _families(products, as_of, notes)
    if families.empty:
        raise DomainError("no usable GPU instance prices: " + "; ".join(notes))
    reserved = _reserved(products, families, now, as_of)
    sp = _savings_plans(_client(factory, "savingsplans", SAVINGS_PLANS_API_REGION), families, as_of, notes)
    spot = pd.concat([_spot(_client(factory, "ec2", region), families[families["region"] == region], now,
                            options.spot_window_days) for region in regions], ignore_index=True)
    families = _with_spot(families, spot, options.spot_window_days)
    commitments = pd.concat([reserved, sp], ignore_index=True)
    commitments = _drop_above_on_demand(commitments, families, notes)
    catalog = catalog_from_frames(families, commitments, origin="aws-fetch",
                                  files=("fetched families", "fetched commitments"))
    return AwsFetchResult(catalog, tuple(notes))


# ---------------------------------------------------------------- clients and errors

def _session_factory() -> tuple[ClientFactory, str | None]:
    import boto3

    session = boto3.session.Session()
    return (lambda service, region: session.client(service, region_name=region)), session.region_name


def _client(factory: ClientFactory, service: str, region: str):
    with _aws_errors(f"creating the {service} client for {region}"):
        return factory(service, region)


def _aws_errors(what: str):
    return aws_errors(what, "pricing:GetProducts, savingsplans:DescribeSavingsPlansOfferingRates and ec2:DescribeSpotPriceHistory")


def _paginate(client, operation: str, result_key: str, token_in: str, token_out: str, what: str,
              **params) -> list:
    items, token, seen = [], None, set()
    with _aws_errors(what):
        while True:
            page = getattr(client, operation)(**params, **({token_in: token} if token else {}))
            items.extend(page.get(result_key, []))
            token = page.get(token_out)
            if not token:
                return items
            if token in seen:
                raise DomainError(f"AWS returned the same page token twice while {what}; the listing would never "
                                  "end. Try again later.")
            seen.add(token)


# ---------------------------------------------------------------- on-demand and reserved

def _products(client, region: str, instance_types: tuple[str, ...], notes: list[str]) -> pd.DataFrame:
    """One row per (instance type, term): on-demand or a reserved offer, with its prices."""
    rows, unreadable = [], 0
    base = [("regionCode", region), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
            ("capacitystatus", "Used"), ("preInstalledSw", "NA")]
    queries = ([base + [("instanceType", t)] for t in instance_types] if instance_types
               else [base + [("instanceFamily", f)] for f in GPU_INSTANCE_FAMILIES])
    for filters in queries:
        items = _paginate(client, "get_products", "PriceList", "NextToken", "NextToken",
                          f"reading EC2 prices for {region} (pricing.get_products)",
                          ServiceCode="AmazonEC2", FormatVersion="aws_v1", MaxResults=100,
                          Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters])
        for item in items:
            parsed = _json_item(item)
            if parsed is None:
                unreadable += 1
                continue
            rows.extend(_price_rows(parsed, region))
    if unreadable:
        notes.append(f"{region}: skipped {unreadable} price list item(s) that are not JSON objects")
    df = pd.DataFrame(rows, columns=["region", "instance_type", "gpus", "sku", "term_months", "payment",
                                     "hourly_usd", "upfront_usd"])
    bad = df["hourly_usd"].isna()
    if bad.any():
        types = ", ".join(sorted(df.loc[bad, "instance_type"].unique()))
        n_od = int((bad & (df["term_months"] == 0)).sum())
        n_ri = int(bad.sum()) - n_od
        notes.append(f"{region}: skipped {n_od} on-demand price(s) and {n_ri} reserved offer(s) with missing or "
                     f"unreadable price dimensions ({types})")
        df = df[~bad].reset_index(drop=True)
    if df.empty:
        notes.append(f"{region}: no GPU instance prices returned")
    return df


def _json_item(item) -> dict | None:
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError:
            return None
    return item if isinstance(item, dict) else None


def _price_rows(item: dict, region: str) -> list[dict]:
    attrs = item.get("product", {}).get("attributes", {})
    itype = attrs.get("instanceType")
    if not itype or attrs.get("marketoption", "OnDemand") != "OnDemand" \
            or attrs.get("operation", "RunInstances") != "RunInstances":
        return []
    base = {"region": region, "instance_type": itype, "gpus": attrs.get("gpu"),
            "sku": item.get("product", {}).get("sku", "")}
    out = []
    terms = item.get("terms", {})
    for term in terms.get("OnDemand", {}).values():
        hourly, upfront = _dimensions(term)
        ok = hourly is not None and not upfront
        out.append({**base, "term_months": 0, "payment": "", "hourly_usd": hourly if ok else np.nan,
                    "upfront_usd": 0.0})
    for term in terms.get("Reserved", {}).values():
        ta = term.get("termAttributes", {})
        months = LEASE_MONTHS.get(ta.get("LeaseContractLength"))
        payment = PAYMENT_OPTIONS.get(ta.get("PurchaseOption"))
        if months is None or payment is None or ta.get("OfferingClass", "standard") != "standard":
            continue
        hourly, upfront = _dimensions(term)
        ok = _reserved_offer_complete(payment, hourly or 0.0, upfront or 0.0)
        out.append({**base, "term_months": months, "payment": payment,
                    "hourly_usd": (hourly or 0.0) if ok else np.nan, "upfront_usd": upfront or 0.0})
    return out


def _reserved_offer_complete(payment: str, hourly: float, upfront: float) -> bool:
    """Whether a reserved offer carries the price dimensions its payment option implies:
    no upfront = an hourly fee only, partial = both, all upfront = the fee only. A
    dimension missing from a partial answer must not read as 'free'."""
    if np.isnan(hourly) or np.isnan(upfront):
        return False
    if payment == "no_upfront":
        return hourly > 0 and upfront == 0
    if payment == "partial_upfront":
        return hourly > 0 and upfront > 0
    return upfront > 0 and hourly == 0


def _dimensions(term: dict) -> tuple[float | None, float | None]:
    """(hourly $, upfront $) of a term; None where the dimension is absent, NaN where its
    price is not a non-negative number."""
    hourly, upfront = None, None
    for dim in term.get("priceDimensions", {}).values():
        usd = _usd(dim.get("pricePerUnit", {}).get("USD"))
        unit = str(dim.get("unit", "")).lower()
        if unit in ("hrs", "hours"):
            hourly = (hourly or 0.0) + usd
        elif unit == "quantity":
            upfront = (upfront or 0.0) + usd
    return hourly, upfront


def _usd(value) -> float:
    try:
        usd = float(value)
    except (TypeError, ValueError):
        return np.nan
    return usd if np.isfinite(usd) and usd >= 0 else np.nan


def _families(products: pd.DataFrame, as_of: str, notes: list[str]) -> pd.DataFrame:
    od = products[products["term_months"] == 0].sort_values(["region", "instance_type", "hourly_usd", "sku"])
    dup = od.duplicated(["region", "instance_type"], keep="first")
    if dup.any():
        notes.append(f"{int(dup.sum())} duplicate on-demand products kept at their lowest price")
    od = od[~dup & (od["hourly_usd"] > 0)].reset_index(drop=True)
    emb = embedded_catalog().families
    emb_aws = emb[emb["provider"] == "aws"].drop_duplicates("instance_type").set_index("instance_type")
    ec2_family = aws_instance_family(od["instance_type"])
    gpu_model = od["instance_type"].map(emb_aws["gpu_model"])
    gpu_model = gpu_model.fillna(ec2_family.map(GPU_MODEL_BY_FAMILY)).fillna("unknown")
    gpus = pd.to_numeric(od["gpus"], errors="coerce")
    gpus = gpus.where(gpus > 0, od["instance_type"].map(emb_aws["gpus_per_instance"]))
    unknown = gpus.isna()
    if unknown.any():
        notes.append("skipped (accelerator count unknown): "
                     + ", ".join(sorted(od.loc[unknown, "instance_type"].unique())))
    fam = pd.DataFrame({
        "family": "aws/" + od["region"] + "/" + od["instance_type"], "provider": "aws",
        "region": od["region"], "instance_type": od["instance_type"], "gpu_model": gpu_model,
        "gpus_per_instance": gpus, "on_demand_usd_per_hour": od["hourly_usd"],
        "spot_usd_per_hour": np.nan, "source": SOURCE_PRICE_LIST, "as_of": as_of,
    })[~unknown]
    known_bucket = fam["family"].map(emb["interruption_bucket"])
    fam["interruption_bucket"] = known_bucket.fillna(interruption_buckets(fam["gpu_model"], fam["gpus_per_instance"]))
    return fam.sort_values("family").reset_index(drop=True)


def _reserved(products: pd.DataFrame, families: pd.DataFrame, now: pd.Timestamp, as_of: str) -> pd.DataFrame:
    ri = products[products["term_months"] > 0].copy()
    ri["family"] = "aws/" + ri["region"] + "/" + ri["instance_type"]
    ri = ri[ri["family"].isin(families["family"])]
    hours = ri["term_months"].map({m: term_hours(now.normalize(), m) for m in LEASE_MONTHS.values()})
    ri["rate"] = ri["hourly_usd"] + ri["upfront_usd"] / hours
    ri = ri.sort_values(["family", "term_months", "payment", "rate"]).drop_duplicates(
        ["family", "term_months", "payment"])
    return pd.DataFrame({
        "product": "aws-ri-" + ri["term_months"].map(TERM_LABEL) + "-" + ri["payment"],
        "provider": "aws", "kind": "reservation", "term_months": ri["term_months"], "payment": ri["payment"],
        "upfront_share": ri["payment"].map(UPFRONT_SHARE), "family": ri["family"],
        "rate_usd_per_hour": ri["rate"], "source": SOURCE_PRICE_LIST + " (standard RI, upfront amortized)",
        "as_of": as_of,
    })


# ---------------------------------------------------------------- savings plans

def _savings_plans(client, families: pd.DataFrame, as_of: str, notes: list[str]) -> pd.DataFrame:
    if families.empty:
        return pd.DataFrame()
    ec2_families = sorted(aws_instance_family(families["instance_type"]).unique())
    results = _paginate(
        client, "describe_savings_plans_offering_rates", "searchResults", "nextToken", "nextToken",
        "reading savings plan rates (savingsplans.describe_savings_plans_offering_rates)",
        savingsPlanTypes=list(PLAN_TYPES), savingsPlanPaymentOptions=list(PAYMENT_OPTIONS),
        products=["EC2"], serviceCodes=["AmazonEC2"], maxResults=1000,
        filters=[{"name": "region", "values": sorted(families["region"].unique())},
                 {"name": "instanceFamily", "values": ec2_families},
                 {"name": "tenancy", "values": ["shared"]},
                 {"name": "productDescription", "values": ["Linux/UNIX"]}])
    rows = []
    for r in results:
        offering = r.get("savingsPlanOffering", {})
        props = {p.get("name"): p.get("value") for p in r.get("properties", [])}
        months = int(round(float(offering.get("durationSeconds", 0)) / SECONDS_PER_YEAR)) * 12
        payment = PAYMENT_OPTIONS.get(offering.get("paymentOption"))
        plan = offering.get("planType")
        if (months not in TERM_LABEL or payment is None or plan not in PLAN_TYPES or r.get("unit") != "Hrs"
                or not BOX_USAGE.search(r.get("usageType", "")) or not props.get("instanceType")):
            continue
        rows.append({"plan": plan, "term_months": months, "payment": payment, "region": props.get("region"),
                     "instance_type": props["instanceType"], "rate": r.get("rate")})
    sp = pd.DataFrame(rows, columns=["plan", "term_months", "payment", "region", "instance_type", "rate"])
    sp["rate"] = pd.to_numeric(sp["rate"], errors="coerce")
    sp["family"] = "aws/" + sp["region"] + "/" + sp["instance_type"]
    sp = sp[sp["family"].isin(families["family"]) & (sp["rate"] > 0)]
    sp = sp.sort_values(["plan", "family", "term_months", "payment", "rate"]).drop_duplicates(
        ["plan", "family", "term_months", "payment"])
    if sp.empty:
        notes.append("no savings plan rates returned for these families")
    t = sp["term_months"].map(TERM_LABEL)
    product = np.where(sp["plan"] == "Compute", "aws-csp-" + t + "-" + sp["payment"],
                       "aws-ec2sp-" + sp["region"] + "-" + aws_instance_family(sp["instance_type"])
                       + "-" + t + "-" + sp["payment"])
    return pd.DataFrame({
        "product": product, "provider": "aws", "kind": "savings_plan", "term_months": sp["term_months"],
        "payment": sp["payment"], "upfront_share": sp["payment"].map(UPFRONT_SHARE), "family": sp["family"],
        "rate_usd_per_hour": sp["rate"], "source": SOURCE_SAVINGS_PLANS, "as_of": as_of,
    })


def _drop_above_on_demand(com: pd.DataFrame, families: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    if com.empty:
        return com
    od = com["family"].map(families.set_index("family")["on_demand_usd_per_hour"])
    above = com["rate_usd_per_hour"] > od
    if above.any():
        notes.append(f"{int(above.sum())} commitment rates above on-demand dropped")
    return com[~above].sort_values(["product", "family"]).reset_index(drop=True)


# ---------------------------------------------------------------- spot

def _spot(client, families: pd.DataFrame, now: pd.Timestamp, window_days: int) -> pd.DataFrame:
    if families.empty:
        return pd.DataFrame(columns=["family", "spot"])
    region = families["region"].iloc[0]
    history = _paginate(client, "describe_spot_price_history", "SpotPriceHistory", "NextToken", "NextToken",
                        f"reading spot prices for {region} (ec2.describe_spot_price_history)",
                        InstanceTypes=sorted(families["instance_type"]),
                        ProductDescriptions=["Linux/UNIX"],
                        StartTime=(now - pd.Timedelta(days=window_days)).to_pydatetime(),
                        EndTime=now.to_pydatetime(), MaxResults=1000)
    h = pd.DataFrame([{"instance_type": r.get("InstanceType"), "zone": r.get("AvailabilityZone"),
                       "price": r.get("SpotPrice"), "at": r.get("Timestamp")} for r in history],
                     columns=["instance_type", "zone", "price", "at"])
    h["price"] = pd.to_numeric(h["price"], errors="coerce")
    h["at"] = pd.to_datetime(h["at"], utc=True, errors="coerce")
    h = h.dropna()
    h = h[h["price"] > 0]
    mean = _time_weighted_zone_mean(h, now - pd.Timedelta(days=window_days), now)
    return pd.DataFrame({"family": "aws/" + region + "/" + mean.index.to_series(), "spot": mean.to_numpy()})


def _time_weighted_zone_mean(h: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Per instance type: the mean over zones of each zone's spot price averaged over the
    hours of [start, end) it was in effect. The history lists price changes (plus the change
    in effect at ``start``, stamped earlier), so each price holds until the zone's next one;
    before a zone's first record its price is unknown and that time is left out. A zone whose
    records hold for no time at all (all stamped at ``end``) counts its last price."""
    h = h.assign(at=h["at"].clip(lower=start, upper=end)).sort_values(["instance_type", "zone", "at"],
                                                                       kind="stable")
    nxt = h.groupby(["instance_type", "zone"])["at"].shift(-1).fillna(end)
    hours = (nxt - h["at"]) / pd.Timedelta(hours=1)
    g = h.assign(hours=hours, usd_hours=hours * h["price"]).groupby(["instance_type", "zone"])
    held = g["hours"].sum()
    per_zone = (g["usd_hours"].sum() / held.where(held > 0)).fillna(g["price"].last())
    return per_zone.groupby(level="instance_type").mean()


def _with_spot(families: pd.DataFrame, spot: pd.DataFrame, window_days: int) -> pd.DataFrame:
    out = families.copy()
    out["spot_usd_per_hour"] = out["family"].map(spot.set_index("family")["spot"]).astype(float)
    has = out["spot_usd_per_hour"].notna()
    out.loc[has, "source"] = (SOURCE_PRICE_LIST + "; spot: " + SOURCE_SPOT
                              + f" mean of the last {window_days} days")
    return out
