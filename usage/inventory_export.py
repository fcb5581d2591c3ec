"""Existing commitments read from billing exports (FOCUS, AWS CUR) and matched to catalog
products, giving the canonical inventory CSV ``id,product,family,quantity,start,end``.

What each export carries (and what it does not):

* **AWS CUR** ``RIFee`` rows: ``reservation/ReservationARN``, ``reservation/StartTime`` /
  ``EndTime``, ``reservation/NumberOfReservations`` (instances), ``pricing/LeaseContractLength``
  and ``pricing/PurchaseOption``; the instance type from the usage type
  (``USE1-HeavyUsage:p5.48xlarge``) or ``product/instanceType``.
  ``SavingsPlanRecurringFee`` / ``SavingsPlanUpfrontFee`` rows: ``savingsPlan/SavingsPlanARN``,
  ``savingsPlan/StartTime`` / ``EndTime``, ``savingsPlan/OfferingType``, ``PurchaseTerm``,
  ``PaymentOption``, ``Region``, ``InstanceTypeFamily``; the hourly commitment is
  (``RecurringCommitmentForBillingPeriod`` + ``AmortizedUpfrontCommitmentForBillingPeriod``)
  / hours of the row's period (hourly fee rows: the hour's commitment).
* **FOCUS** rows with a ``CommitmentDiscountId``: kind from ``CommitmentDiscountType`` /
  ``CommitmentDiscountCategory``; quantity = the largest hourly sum of
  ``CommitmentDiscountQuantity`` over Used + Unused rows (instances for ``Hours``, $/h for
  a spend commitment); payment from the purchase rows (One-Time and Recurring = partial
  upfront, One-Time only = all upfront, Recurring only = no upfront); start and end only
  from a One-Time purchase row whose charge period spans the term. FOCUS does not carry
  the start of a commitment bought without an upfront payment: such commitments are
  reported as unmatched, with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.solver.book import CommitmentBook
from gpuladder.usage.cur import CUR_COLUMNS, CUR_REQUIRED
from gpuladder.usage.arrow_columns import as_float, as_string, as_utc
from gpuladder.usage.export import ExportFile, batches, open_export, require_columns, resolve_columns
from gpuladder.usage.focus import FOCUS_COLUMNS, FOCUS_REQUIRED, classify_focus
from gpuladder.usage.instance_types import AWS_LOCATION_NAMES, AWS_REGION_PREFIXES, provider_key
from gpuladder.usage.inventory import INVENTORY_COLUMNS, inventory_from_frame
from gpuladder.usage.load import detect_format

TERM_LABELS = {12: "1y", 36: "3y"}
PAYMENT_NAMES = {"no upfront": "no_upfront", "partial upfront": "partial_upfront", "all upfront": "all_upfront",
                 "noupfront": "no_upfront", "partialupfront": "partial_upfront", "allupfront": "all_upfront",
                 "heavy utilization": "no_upfront"}


@dataclass(frozen=True)
class FoundCommitment:
    """A commitment as a source describes it; None where the source does not say."""

    id: str
    provider: str
    kind: str                       # reservation | savings_plan
    plan_type: str                  # savings plans: compute | ec2_instance | '' (unknown)
    family: str                     # reservations: provider/region/instance_type ('' unknown)
    region: str                     # EC2 instance savings plans
    instance_family: str            # EC2 instance savings plans, e.g. p5
    quantity: float | None          # instances, or $/h of commitment
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    term_months: int | None
    payment: str | None
    source: str
    source_format: str = ""         # focus | cur ('' : another source, e.g. the AWS API)


class InventoryNote(UserWarning):
    """Something read from an export that the inventory row does not say (shown as a note)."""


@dataclass(frozen=True)
class InventoryMatch:
    """Commitments matched to catalog products (canonical inventory rows) and those that
    could not be, each with the reason; ``incomplete``: of those, the ones whose source
    lacks fields, with the AWS CUR columns that carry them."""

    rows: pd.DataFrame                                  # INVENTORY_COLUMNS, strings
    unmatched: tuple[tuple[str, str], ...]
    incomplete: tuple[tuple[str, tuple[str, ...]], ...] = ()


_SOURCE_NAMES = {"focus": "FOCUS export", "cur": "AWS CUR"}


def term_months_between(start: pd.Timestamp | None, end: pd.Timestamp | None) -> int | None:
    """12 or 36 when [start, end) is a one- or three-year term (within a few days)."""
    if start is None or end is None:
        return None
    days = (end - start) / pd.Timedelta(days=1)
    for months, nominal in ((12, 365), (36, 1095)):
        if abs(days - nominal) <= 3:
            return months
    return None


def payment_key(text) -> str | None:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    return PAYMENT_NAMES.get(str(text).strip().lower().replace("_", " "))


def term_from_label(text) -> int | None:
    t = str(text or "").strip().lower()
    return {"1yr": 12, "1 yr": 12, "1y": 12, "3yr": 36, "3 yr": 36, "3y": 36}.get(t)


# ------------------------------------------------------------------ reading exports

def commitments_from_export(path, format: str | None = None) -> tuple[FoundCommitment, ...]:
    """The commitments a FOCUS or CUR export describes (see the module docstring)."""
    export = open_export(path)
    fmt = format or detect_format(export)
    if fmt in ("focus", "cur", "cur2"):
        found, why = _from_focus(export) if fmt == "focus" else _from_cur(export)
        if not found:
            warnings.warn(InventoryNote(f"no commitment found in {export.name}: {why}; the inventory has "
                                        "its header only"), stacklevel=2)
        return found
    raise InputError(f"a {fmt} usage file carries no commitments", file=export.name,
                     hint="passing a FOCUS export or an AWS CUR.")


_CUR_COMMIT_COLUMNS = {
    "ri_arn": ("reservation/ReservationARN", "reservation_reservation_a_r_n"),
    "ri_start": ("reservation/StartTime", "reservation_start_time"),
    "ri_end": ("reservation/EndTime", "reservation_end_time"),
    "ri_count": ("reservation/NumberOfReservations", "reservation_number_of_reservations"),
    "lease": ("pricing/LeaseContractLength", "pricing_lease_contract_length"),
    "purchase_option": ("pricing/PurchaseOption", "pricing_purchase_option"),
    "offering_class": ("pricing/OfferingClass", "pricing_offering_class"),
    "sp_arn": ("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n"),
    "sp_start": ("savingsPlan/StartTime", "savingsPlan/SavingsPlanStartTime", "savings_plan_start_time",
                 "savings_plan_savings_plan_start_time"),
    "sp_end": ("savingsPlan/EndTime", "savingsPlan/SavingsPlanEndTime", "savings_plan_end_time",
               "savings_plan_savings_plan_end_time"),
    "sp_recurring": ("savingsPlan/RecurringCommitmentForBillingPeriod",
                     "savings_plan_recurring_commitment_for_billing_period"),
    "sp_upfront": ("savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod",
                   "savings_plan_amortized_upfront_commitment_for_billing_period"),
    "sp_offering": ("savingsPlan/OfferingType", "savings_plan_offering_type"),
    "sp_term": ("savingsPlan/PurchaseTerm", "savings_plan_purchase_term"),
    "sp_payment": ("savingsPlan/PaymentOption", "savings_plan_payment_option"),
    "sp_region": ("savingsPlan/Region", "savings_plan_region"),
    "sp_family": ("savingsPlan/InstanceTypeFamily", "savings_plan_instance_type_family"),
}
_FEES = ("RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")


def _cur(*keys: str) -> str:
    """The CUR 1.0 name of each column key, comma-separated ('' for none)."""
    return ", ".join({**CUR_COLUMNS, **_CUR_COMMIT_COLUMNS}[k][0] for k in keys)


# the AWS CUR columns that carry each field, for a reservation and for a savings plan
CUR_COLUMNS_FOR = {
    "start date": (_cur("ri_start"), _cur("sp_start")),
    "end date": (_cur("ri_end"), _cur("sp_end")),
    "quantity": (_cur("ri_count"), _cur("sp_recurring")),
    "term": (_cur("lease"), _cur("sp_term")),
    "payment option": (_cur("purchase_option"), _cur("sp_payment")),
    "instance type and region": (_cur("usage_type"), ""),
    "savings plan type (Compute or EC2 Instance)": ("", _cur("sp_offering")),
    "region and instance family": ("", _cur("sp_region", "sp_family")),
}


def _frame(table: pa.Table, cols: dict[str, str], keys, times=(), numbers=()) -> pd.DataFrame:
    out = {}
    for k in keys:
        if k not in cols:
            kind = pa.timestamp("s", tz="UTC") if k in times else pa.float64() if k in numbers else pa.string()
            out[k] = pa.nulls(table.num_rows, kind)
        elif k in times:
            out[k] = as_utc(table.column(cols[k]))
        elif k in numbers:
            out[k] = as_float(table.column(cols[k]))
        else:
            out[k] = as_string(table.column(cols[k]))
    return pa.table(out).to_pandas()


_COVERED_BY = {"DiscountedUsage": ("ri_arn", "a reservation"),
               "SavingsPlanCoveredUsage": ("sp_arn", "a savings plan")}


def _from_cur(export: ExportFile) -> tuple[tuple[FoundCommitment, ...], str]:
    """The commitments of an AWS CUR, and why there are none when there are none."""
    cols = resolve_columns(export, {**CUR_COLUMNS, **_CUR_COMMIT_COLUMNS})
    require_columns(export, cols, CUR_REQUIRED, "AWS CUR")
    fees, referenced = [], set()
    unnamed = dict.fromkeys(_COVERED_BY, 0)   # covered-usage rows that name no commitment
    keys = ["line_item_type", "start", "end", "usage_type", "amount", "instance_type", "region", *_CUR_COMMIT_COLUMNS]
    for offset, table in batches(export, sorted(set(cols.values()))):
        lt = as_string(table.column(cols["line_item_type"]))
        for arn in ("ri_arn", "sp_arn"):
            if arn in cols:
                referenced.update(v for v in pc.unique(as_string(table.column(cols[arn]))).to_pylist() if v)
        for item, (arn, _) in _COVERED_BY.items():
            covered = pc.fill_null(pc.equal(lt, item), False)
            if arn in cols:
                named = pc.fill_null(pc.greater(pc.utf8_length(as_string(table.column(cols[arn]))), 0), False)
                covered = pc.and_(covered, pc.invert(named))
            unnamed[item] += int(pc.sum(covered).as_py() or 0)
        mask = pc.fill_null(pc.is_in(lt, value_set=pa.array(_FEES)), False)
        if pc.any(mask).as_py():
            part = table.filter(mask)
            df = _frame(part, cols, keys, times=("start", "end", "ri_start", "ri_end", "sp_start", "sp_end"),
                        numbers=("amount", "ri_count", "sp_recurring", "sp_upfront"))
            df["row"] = offset + 2 + np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            fees.append(df)
    fees = pd.concat(fees, ignore_index=True) if fees else pd.DataFrame(columns=[*keys, "row"])
    found = [*_cur_reservations(fees[fees["line_item_type"] == "RIFee"], export.name),
             *_cur_savings_plans(fees[fees["line_item_type"] != "RIFee"], export.name)]
    seen = {f.id for f in found}
    for arn in sorted(referenced - seen):
        kind = "savings_plan" if ":savingsplan/" in arn or "savingsplans" in arn else "reservation"
        found.append(FoundCommitment(arn, "aws", kind, "", "", "", "", None, None, None, None, None,
                                     f"{export.name}: covered-usage rows only (no fee rows)", "cur"))
    why = [f"{n} row{'s are' if n > 1 else ' is'} covered by {what} whose ARN the export does not carry "
           f"({f'its {cols[arn]} is empty' if arn in cols else f'it has no {_cur(arn)} column'})"
           for item, (arn, what) in _COVERED_BY.items() if (n := unnamed[item])]
    return tuple(found), "; ".join(why) or (
        "it has no reservation or savings plan rows (fees, or usage covered by one): no commitment was in force "
        "in its span")


def _one(values: pd.Series, what: str, cid: str, rows: pd.Series, file: str):
    """The single value of a commitment's records; contradictory values are an InputError."""
    v = values.dropna()
    v = v[v.astype(str) != ""]
    if v.empty:
        return None
    distinct = v.unique()
    if len(distinct) > 1:
        r = int(rows[values == distinct[1]].iloc[0])
        raise InputError(f"contradictory records for commitment {cid}: {what} is both {distinct[0]} and {distinct[1]}",
                         file=file, row=r, hint="checking the export (one commitment id, one set of terms).")
    return distinct[0]


def _ts(v) -> pd.Timestamp | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).tz_convert("UTC")


def _cur_reservations(df: pd.DataFrame, file: str) -> list[FoundCommitment]:
    out = []
    for cid, g in df.groupby("ri_arn", sort=True):
        itype = _one(g["instance_type"].fillna(g["usage_type"].str.extract(r":(.+)$")[0]), "instance type", cid,
                     g["row"], file)
        prefix = g["usage_type"].str.extract(r"^([A-Z]{2,4}\d?)-")[0].map(AWS_REGION_PREFIXES)
        region = _one(g["region"].fillna(prefix), "region", cid, g["row"], file)
        start, end = _ts(_one(g["ri_start"], "start", cid, g["row"], file)), _ts(_one(g["ri_end"], "end", cid, g["row"], file))
        hours = ((g["end"] - g["start"]) / pd.Timedelta(hours=1)).clip(lower=1)
        count = g["ri_count"].max() if g["ri_count"].notna().any() else (g["amount"] / hours).max()
        term = term_from_label(_one(g["lease"], "lease length", cid, g["row"], file)) or term_months_between(start, end)
        if str(_one(g["offering_class"], "offering class", cid, g["row"], file) or "").lower() == "convertible":
            warnings.warn(InventoryNote(f"{cid}: a convertible reservation, read as the standard product of the "
                                        "same term and payment"), stacklevel=2)
        out.append(FoundCommitment(
            cid, "aws", "reservation", "", f"aws/{region}/{itype}" if itype and region else "", region or "", "",
            None if pd.isna(count) else float(count), start, end, term,
            payment_key(_one(g["purchase_option"], "purchase option", cid, g["row"], file)),
            f"{file} row {int(g['row'].iloc[0])}", "cur"))
    return out


def _cur_savings_plans(df: pd.DataFrame, file: str) -> list[FoundCommitment]:
    out = []
    for cid, g in df.groupby("sp_arn", sort=True):
        start, end = _ts(_one(g["sp_start"], "start", cid, g["row"], file)), _ts(_one(g["sp_end"], "end", cid, g["row"], file))
        hours = ((g["end"] - g["start"]) / pd.Timedelta(hours=1)).clip(lower=1)
        per_hour = (g["sp_recurring"].fillna(0) + g["sp_upfront"].fillna(0)) / hours
        known = g["sp_recurring"].notna() | g["sp_upfront"].notna()
        offering = str(_one(g["sp_offering"], "offering type", cid, g["row"], file) or "").lower()
        plan_type = "compute" if "compute" in offering else ("ec2_instance" if "ec2" in offering else "")
        region = _one(g["sp_region"], "region", cid, g["row"], file) or ""
        region = AWS_LOCATION_NAMES.get(region, region)
        out.append(FoundCommitment(
            cid, "aws", "savings_plan", plan_type, "", region,
            str(_one(g["sp_family"], "instance family", cid, g["row"], file) or ""),
            float(per_hour[known].median()) if known.any() else None, start, end,
            term_from_label(_one(g["sp_term"], "term", cid, g["row"], file)) or term_months_between(start, end),
            payment_key(_one(g["sp_payment"], "payment option", cid, g["row"], file)),
            f"{file} row {int(g['row'].iloc[0])}", "cur"))
    return out


_FOCUS_COMMIT_COLUMNS = {
    **FOCUS_COLUMNS,
    "commitment_type": ("CommitmentDiscountType",),
    "commitment_category": ("CommitmentDiscountCategory",),
    "commitment_quantity": ("CommitmentDiscountQuantity",),
    "commitment_unit": ("CommitmentDiscountUnit",),
    "frequency": ("ChargeFrequency",),
}


def _from_focus(export: ExportFile) -> tuple[tuple[FoundCommitment, ...], str]:
    """The commitments of a FOCUS export, and why there are none when there are none."""
    cols = resolve_columns(export, _FOCUS_COMMIT_COLUMNS)
    for key, name in (("commitment_id", "CommitmentDiscountId"), ("start", "ChargePeriodStart")):
        if key not in cols:
            return (), f"it has no {name} column"
    require_columns(export, cols, FOCUS_REQUIRED, "FOCUS")
    keys = ["commitment_id", "commitment_type", "commitment_category", "commitment_quantity", "commitment_unit",
            "commitment_status", "category", "frequency", "start", "end", "provider", "description"]
    parts = []
    for offset, table in batches(export, sorted(set(cols.values()))):
        ids = as_string(table.column(cols["commitment_id"]))
        mask = pc.fill_null(pc.is_valid(ids), False)
        if not pc.any(mask).as_py():
            continue
        part = table.filter(mask)
        c = classify_focus(part, {k: v for k, v in cols.items() if k in FOCUS_COLUMNS})
        df = _frame(part, cols, keys, times=("start", "end"), numbers=("commitment_quantity",))
        df["family"] = pd.Series(pc.binary_join_element_wise(c.provider, c.region, c.instance_type, "/")
                                 .to_pylist(), dtype=object)
        df["row"] = offset + 2 + np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        parts.append(df)
    if not parts:
        return (), "no row names a CommitmentDiscountId: no commitment discount applied in its span"
    df = pd.concat(parts, ignore_index=True)
    return tuple(_focus_commitment(cid, g, export.name) for cid, g in df.groupby("commitment_id", sort=True)), ""


def _focus_commitment(cid: str, g: pd.DataFrame, file: str) -> FoundCommitment:
    ctype = str(_one(g["commitment_type"], "type", cid, g["row"], file) or "").lower()
    ccat = str(_one(g["commitment_category"], "category", cid, g["row"], file) or "").lower()
    kind = ("savings_plan" if "savings" in ctype or (not ctype and ccat == "spend") else "reservation")
    provider = provider_key(str(g["provider"].dropna().iloc[0])) if g["provider"].notna().any() else (
        "aws" if cid.startswith("arn:aws") else "")
    purchase = g[g["category"].str.lower() == "purchase"]
    freq = set(purchase["frequency"].dropna().str.lower())
    payment = ("partial_upfront" if {"one-time", "recurring"} <= freq else "all_upfront" if "one-time" in freq
               else "no_upfront" if "recurring" in freq else None)
    one_time = purchase[purchase["frequency"].str.lower() == "one-time"]
    start = end = None
    if len(one_time):
        start, end = _ts(one_time["start"].min()), _ts(one_time["end"].max())
        if term_months_between(start, end) is None:
            end = None
    usage = g[g["category"].str.lower() == "usage"]
    units = set(usage["commitment_unit"].dropna().str.lower())
    quantity = None
    if usage["commitment_quantity"].notna().any() and units and units <= {"hours", "hour", "usd"}:
        quantity = float(usage.groupby("start")["commitment_quantity"].sum().max())
    desc = " ".join(purchase["description"].dropna()).lower()
    plan_type = "ec2_instance" if "ec2 instance savings plan" in desc else (
        "compute" if "compute savings plan" in desc else "")
    fams = usage.loc[usage["commitment_status"].str.lower() != "unused", "family"].dropna().unique()
    family = fams[0] if kind == "reservation" and len(fams) == 1 else ""
    return FoundCommitment(cid, provider, kind, plan_type, family, "", "", quantity, start, end,
                           term_months_between(start, end), payment, f"{file} row {int(g['row'].iloc[0])}", "focus")


# ------------------------------------------------------------------ matching to catalog products

def match_products(found, catalog: PriceCatalog) -> InventoryMatch:
    """Map each commitment to a catalog product by provider, kind, term and payment (and
    family or savings-plan scope); those that cannot be mapped are returned with the reason.
    Start and end are rounded to the nearest hour."""
    products = catalog.products()
    covered = catalog.commitments.groupby("product")["family"].agg(set)
    rows, unmatched, incomplete = [], [], []
    for f in found:
        if f.start is not None and f.end is not None and f.end <= f.start:
            raise InputError(f"commitment {f.id}: end {f.end:%Y-%m-%dT%H:%MZ} is not after start "
                             f"{f.start:%Y-%m-%dT%H:%MZ}", file=f.source,
                             hint="checking the source's start and end dates.")
        missing = _missing_fields(f)
        if missing:
            unmatched.append((f.id, _missing_text(f, missing)))
            sp = int(f.kind != "reservation")
            incomplete.append((f.id, tuple(CUR_COLUMNS_FOR[m][sp] for m in missing
                                           if f.provider == "aws" and CUR_COLUMNS_FOR[m][sp])))
            continue
        product, why = _product_for(f, products, covered, catalog)
        if product is None:
            unmatched.append((f.id, why))
            continue
        # AWS gives the purchase second (2026-03-10T14:23:45Z); billing is by the clock hour
        rows.append({"id": f.id, "product": product, "family": f.family if f.kind == "reservation" else "",
                     "quantity": f"{f.quantity:g}", "start": f.start.round("h").strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "end": f.end.round("h").strftime("%Y-%m-%dT%H:%M:%SZ")})
    frame = pd.DataFrame(rows, columns=INVENTORY_COLUMNS).astype(str)
    return InventoryMatch(frame, tuple(unmatched), tuple(incomplete))


def _missing_fields(f: FoundCommitment) -> list[str]:
    """The fields a commitment needs that its source does not give."""
    missing = [name for name, v in (("start date", f.start), ("end date", f.end), ("quantity", f.quantity),
                                    ("term", f.term_months), ("payment option", f.payment)) if v is None]
    if f.kind == "reservation" and not f.family:
        missing.append("instance type and region")
    if f.kind == "savings_plan" and f.provider == "aws":
        if not f.plan_type:
            missing.append("savings plan type (Compute or EC2 Instance)")
        elif f.plan_type == "ec2_instance" and not (f.region and f.instance_family):
            missing.append("region and instance family")
    return missing


def _missing_text(f: FoundCommitment, missing: list[str]) -> str:
    text = f"the {_SOURCE_NAMES.get(f.source_format, 'source')} does not give its {', '.join(missing)} ({f.source})"
    if f.source_format == "focus" and {"start date", "end date", "term"} & set(missing):
        text += ("; FOCUS dates a commitment only by a One-Time purchase row whose charge period "
                 "(ChargePeriodStart to ChargePeriodEnd) spans the whole term")
    return text


def _product_for(f: FoundCommitment, products: pd.DataFrame, covered: pd.Series, catalog: PriceCatalog):
    term = TERM_LABELS.get(f.term_months)
    if term is None:
        return None, f"a {f.term_months}-month term matches no product"
    if f.kind == "reservation":
        if f.family not in catalog.families.index:
            return None, f"family '{f.family}' is not in the catalog"
        cand = products[(products["provider"] == f.provider) & (products["kind"] == "reservation")
                        & (products["term_months"] == f.term_months) & (products["payment"] == f.payment)]
        cand = [p for p in cand.index if f.family in covered[p]]
        if not cand:
            return None, (f"no {f.provider} reservation product with a {f.term_months}-month term and "
                          f"{f.payment} payment covers {f.family}")
        preferred = f"{f.provider}-ri-{term}-{f.payment}"
        return (preferred if preferred in cand else cand[0]), ""
    if f.provider != "aws":
        return None, f"{f.provider} savings plans are not in the catalog's product set"
    if f.plan_type == "compute":
        pid = f"aws-csp-{term}-{f.payment}"
    else:
        pid = f"aws-ec2sp-{f.region}-{f.instance_family}-{term}-{f.payment}"
    if pid not in products.index:
        return None, f"no catalog product '{pid}'"
    return pid, ""


def inventory_text(match: InventoryMatch) -> str:
    """The canonical inventory CSV of the matched rows."""
    return match.rows[INVENTORY_COLUMNS].to_csv(index=False, lineterminator="\n")


def validate_match(match: InventoryMatch, catalog: PriceCatalog, source: str) -> CommitmentBook:
    """Run the inventory loader's checks (overlaps, dates against the product's term...).
    An error names the commitment id (the rows checked are built, not read from ``source``)."""
    df = match.rows[INVENTORY_COLUMNS].reset_index(drop=True)
    df.index = pd.RangeIndex(2, 2 + len(df))
    try:
        return inventory_from_frame(df, catalog, file=source)
    except InputError as exc:
        if exc.row is None or exc.row not in df.index:
            raise
        what = exc.detail if not exc.column or exc.column in exc.detail else f"{exc.column} {exc.detail}"
        raise InputError(f"commitment {df.at[exc.row, 'id']}: {what}", file=source,
                         hint="checking that commitment's records in the export"
                              + (f", {exc.hint}" if exc.hint else ".")) from None


def _unmatched_error(match: InventoryMatch, source: str) -> InputError:
    """Commitments the source describes incompletely (say which fields, and which CUR
    columns carry them) apart from those that match no catalog product."""
    listing = "; ".join(f"{cid}: {why}" for cid, why in match.unmatched[:5])
    more = f" (and {len(match.unmatched) - 5} more)" if len(match.unmatched) > 5 else ""
    lacking = {cid for cid, _ in match.incomplete}
    n, n_lacking = len(match.unmatched), len(lacking)
    if n_lacking == n:
        head = f"{n} commitment(s) cannot be written: the export lacks fields they need"
    elif n_lacking:
        head = f"{n} commitment(s) cannot be written ({n_lacking} lack fields in the export, the others match no catalog product)"
    else:
        head = f"{n} commitment(s) match no catalog product"
    fixes = []
    columns = sorted({c for _, cols in match.incomplete for c in cols})
    if columns:
        fixes.append("reading the missing fields from an AWS CUR of the same account, which carries them in "
                     f"{', '.join(columns)} (`gpuladder inventory from-export cur.parquet`), or from the account "
                     "itself (`gpuladder inventory fetch aws`)")
    if n_lacking < n:
        fixes.append("adding the products to the catalog (--catalog DIR)")
    fixes.append("writing those rows by hand, or by passing --skip-unmatched to leave them out.")
    return InputError(f"{head}: {listing}{more}", file=source, hint="; or ".join(fixes))


def build_inventory(found, catalog: PriceCatalog, *, source: str, allow_unmatched: bool = False) -> InventoryMatch:
    """Match ``found`` to products and check the result like a loaded inventory. Commitments
    that match no product are an error listing each with its reason, unless
    ``allow_unmatched`` (then they are returned in ``unmatched`` and left out)."""
    match = match_products(found, catalog)
    if match.unmatched and not allow_unmatched:
        raise _unmatched_error(match, source)
    validate_match(match, catalog, source)
    return match
