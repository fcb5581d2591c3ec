"""The one entry point for usage: any supported file -> DemandProfile.

Formats are detected from the header (never from the file name): the canonical usage CSV
(``timestamp,family,instances``), FOCUS 1.0 - 1.3, AWS CUR legacy (``lineItem/...`` or
Athena ``line_item_...``) and AWS CUR 2.0; each as CSV, gzip CSV or Parquet (the
canonical CSV as CSV only). ``format=`` forces one.

Demand is the GPU instance families' usage (GPU recognised by the instance type itself).
Hours in which the export has usage rows of any kind but none of a GPU family are hours
of zero GPU demand; hours without any row are gaps, handled by the gap policy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import atomic_write_text
from gpuladder.units import HOUR, MAX_INSTANCES
from gpuladder.usage.cur import CUR_REQUIRED, read_cur
from gpuladder.usage.export import FORMATS, ExportFile, ExportRead, SkippedRows, open_export
from gpuladder.usage.focus import FOCUS_REQUIRED, read_focus
from gpuladder.usage.history import DemandProfile, load_usage_csv, profile_from_long
from gpuladder.usage.instance_types import is_gpu_instance_type

CANONICAL_HEADER = ["timestamp", "family", "instances", "interruptible_instances", "covered_instances"]
FOCUS_ONLY_COLUMNS = {"billedcost", "effectivecost", "listcost", "contractedcost", "chargecategory",
                      "chargeclass", "chargefrequency", "chargeperiodend", "consumedquantity", "consumedunit",
                      "pricingcategory", "invoiceissuername", "skupriceid", "commitmentdiscountid"}
BAD_ROW_REASONS = ("malformed CSV row (wrong number of fields)", "unreadable timestamp",
                   "usage amount is not a number")


_CUR_NAMES = {"timestamp": CUR_REQUIRED["start"], "instances": CUR_REQUIRED["amount"]}
_EXPORT_COLUMNS = {   # the canonical columns a profile check names -> the export's columns
    "focus": {"timestamp": FOCUS_REQUIRED["start"], "instances": FOCUS_REQUIRED["quantity"]},
    "cur": _CUR_NAMES, "cur2": _CUR_NAMES}


class UsageWarning(UserWarning):
    """Usage that was read but left out of the demand (families not in the catalog, bad rows)."""


@dataclass(frozen=True)
class FamilyUsage:
    family: str
    gpu: bool
    in_catalog: bool | None   # None: no catalog given
    instance_hours: float
    interruptible_instance_hours: float
    covered_instance_hours: float


@dataclass(frozen=True)
class UsageSummary:
    """What the loader understood of a usage file (``gpuladder usage summarize``)."""

    file: str
    format: str
    rows: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None   # exclusive
    hours: int
    families: tuple[FamilyUsage, ...]
    skipped: tuple[SkippedRows, ...]

    @property
    def gpu_families(self) -> tuple[FamilyUsage, ...]:
        return tuple(f for f in self.families if f.gpu)

    @property
    def has_gpu_usage(self) -> bool:
        return any(f.instance_hours > 0 for f in self.gpu_families)


# ------------------------------------------------------------------ detection

def detect_format(export: ExportFile) -> str:
    """The format of an export from its header; InputError when it is none we read."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(export.columns) == 1 and export.columns[0].count(sep) >= 2:
            shown = export.columns[0][:80].replace("\t", "\\t")
            raise InputError(f"its fields are separated by {name}, not commas (header {shown}...)",
                             file=export.name, row=1,
                             hint="saving the export as comma-separated CSV with '.' decimals (a spreadsheet "
                                  "set to a decimal-comma locale writes ';' and 1,5).")
    cols = {c.lower() for c in export.columns}
    if {"timestamp", "family", "instances"} <= cols:
        return "canonical"
    if "chargeperiodstart" in cols and cols & {"consumedquantity", "chargecategory", "billedcost"}:
        return "focus"
    if any(c.startswith("lineitem/") for c in cols):
        return "cur"
    if cols & {"line_item_usage_type", "line_item_line_item_type", "line_item_usage_start_date"}:
        if cols & {"product", "resource_tags", "cost_category", "discount"}:
            return "cur2"
        if any(c.startswith("resource_tags_") for c in cols) or {"year", "month"} <= cols:
            return "cur"
        return "cur2"
    if len(cols & FOCUS_ONLY_COLUMNS) >= 3:
        return "focus"   # its ChargePeriodStart missing or misnamed: read_focus names it
    _raise_near_miss(export, cols)
    first = ", ".join(export.columns[:6])
    if cols & {"metercategory", "meterid", "pricingmodel", "chargetype"}:
        hint = ("exporting FOCUS from Azure Cost Management instead (Exports > FOCUS cost); "
                "native Azure cost-details exports are not read.")
        what = "an Azure cost-details export"
    elif cols & {"sku.id", "service.description", "usage.amount_in_pricing_units"}:
        hint = ("exporting the FOCUS view of your GCP billing data instead; the native "
                "BigQuery billing export is not read.")
        what = "a GCP billing export"
    else:
        hint = ("passing a canonical usage CSV (timestamp,family,instances), a FOCUS export "
                "or an AWS CUR, or forcing the format with --usage-format.")
        what = "an unrecognised file"
    raise InputError(f"{what}: the header ({first}, ...) matches no supported usage format",
                     file=export.name, row=1, hint=hint)


def _raise_near_miss(export: ExportFile, cols: set[str]) -> None:
    """A header that matched no format but is most of one: a canonical usage CSV's
    ``timestamp`` and another of its columns, or two of its three required ones; two of
    FOCUS's three required columns. InputError naming the columns it lacks. (An AWS CUR
    lacking required columns is detected as one, and ``read_cur`` names them.)"""
    required = CANONICAL_HEADER[:3]
    canonical = cols & set(CANONICAL_HEADER)
    if ("timestamp" in cols and len(canonical) >= 2) or len(canonical & set(required)) >= 2:
        fix = ("adding {} (a canonical usage CSV's header is timestamp,family,instances"
               "[,interruptible_instances,covered_instances])")
        _lacks(export, "a canonical usage CSV", [c for c in required if c not in cols], fix)
    required = list(FOCUS_REQUIRED.values())
    missing = [c for c in required if c.lower() not in cols]
    if len(missing) == 1:
        _lacks(export, "a FOCUS export", missing, "exporting the FOCUS file with {}")


def _lacks(export: ExportFile, what: str, missing: list[str], fix: str) -> None:
    names = f"column{'s' if len(missing) > 1 else ''} " + " and ".join(f"'{c}'" for c in missing)
    raise InputError(f"the header looks like {what} but lacks the {names}", file=export.name, row=1,
                     column=missing[0], hint=fix.format(f"the {names}") + ", or forcing another format with "
                                                                         "--usage-format.")


def read_export(path, format: str | None = None) -> ExportRead:
    """Scan a FOCUS or CUR export (the canonical CSV is not an export)."""
    export = open_export(path)
    fmt = _format(export, format)
    if fmt == "canonical":
        raise ValueError("read_export does not read the canonical usage CSV")
    return read_focus(export) if fmt == "focus" else read_cur(export, fmt)


def _format(export: ExportFile, format: str | None) -> str:
    if format is None:
        return detect_format(export)
    if format not in FORMATS:
        raise InputError(f"unknown usage format '{format}'", file=export.name,
                         hint=f"using one of {', '.join(FORMATS)}.")
    if format == "canonical" and export.container == "parquet":
        raise InputError("the canonical usage format is a CSV, not Parquet", file=export.name,
                         hint="dropping --usage-format or passing the CSV.")
    return format


# ------------------------------------------------------------------ load

def load_usage(path, *, families=None, format: str | None = None, gaps: str = "error") -> DemandProfile:
    """Any supported usage file -> DemandProfile of its GPU families.

    ``families``: the catalog's family keys (None keeps every GPU family found). A GPU
    family of an export that the catalog lacks is left out with a ``UsageWarning``
    (``summarize_usage`` lists them); none left is an InputError. ``gaps``: error | zero |
    mask (see usage/history.py)."""
    export = open_export(path)
    fmt = _format(export, format)
    if fmt == "canonical":
        return load_usage_csv(path, families, gaps=gaps)
    read = read_focus(export) if fmt == "focus" else read_cur(export, fmt)
    return profile_from_read(read, families=families, gaps=gaps)


def profile_from_read(read: ExportRead, *, families=None, gaps: str = "error") -> DemandProfile:
    """The GPU demand of a scanned export, with its zero hours, as a DemandProfile."""
    usage = read.usage[read.usage["gpu"]]
    if usage.empty or not (usage["instances"] > 0).any():
        dates = bool(read.skipped) and read.skipped[0].reason == "unreadable timestamp" and usage.empty
        hint = ("writing the start and end times as ISO 8601 (2026-01-01T00:00:00Z, as the export came): a "
                "spreadsheet that re-saved it may have rewritten them (1/1/2026 0:00)" if dates else
                "checking that the export holds EC2 / compute usage of GPU instances")
        raise InputError(_no_gpu_message(read), file=read.file,
                         hint=hint + " (`gpuladder usage summarize FILE` shows what was understood).")
    if families is not None:
        known = set(families)
        outside = usage[~usage["family"].isin(known)]
        usage = usage[usage["family"].isin(known)]
        missing = outside.groupby("family")["instances"].sum().sort_values(ascending=False)
        listing = ", ".join(f"{f} ({h:g} instance-hours)" for f, h in missing.head(5).items())
        if usage.empty:
            raise InputError(f"no GPU usage of catalog families; the export's GPU families are not in "
                             f"the catalog: {listing}", file=read.file,
                             hint="adding those families to the catalog (--catalog DIR) or checking the region.")
        if len(missing):
            warnings.warn(UsageWarning(f"{read.file}: {len(missing)} GPU famil{'y' if len(missing) == 1 else 'ies'} "
                                       f"not in the catalog left out: {listing}"), stacklevel=3)
    bad = [s for s in read.skipped if s.reason in BAD_ROW_REASONS]
    if bad:
        text = "; ".join(f"{s.rows} row(s) {s.reason} (e.g. row {s.examples[0][0]})" if s.examples
                         else f"{s.rows} row(s) {s.reason}" for s in bad)
        warnings.warn(UsageWarning(f"{read.file}: bad rows skipped: {text}"), stacklevel=3)
    long = usage[["timestamp", "family", "instances", "interruptible_instances", "covered_instances"]]
    zero_hours = read.present_hours.difference(pd.DatetimeIndex(long["timestamp"].unique()))
    if len(zero_hours):
        zeros = pd.DataFrame({"timestamp": zero_hours, "family": long["family"].iloc[0], "instances": 0.0,
                              "interruptible_instances": 0.0, "covered_instances": 0.0})
        long = pd.concat([long, zeros], ignore_index=True)
    try:
        return profile_from_long(long.reset_index(drop=True), source=read.file, gaps=gaps, file=read.file)
    except InputError as exc:
        named = _EXPORT_COLUMNS[read.format].get(exc.column)
        if named is None:
            raise
        raise InputError(exc.detail, file=exc.file, row=exc.row, column=named, hint=exc.hint) from None


def _no_gpu_message(read: ExportRead) -> str:
    fams = read.usage.groupby("family")["instances"].sum().sort_values(ascending=False)
    text = f"no GPU usage found in {read.rows} rows ({read.format})"
    if len(fams):
        text += "; instance families found (not GPU): " + ", ".join(fams.index[:5])
    elif read.skipped:
        top = read.skipped[0]
        text += f"; most rows skipped as: {top.reason} ({top.rows})"
    return text


# ------------------------------------------------------------------ summarize

def summarize_usage(path, *, families=None, format: str | None = None) -> UsageSummary:
    """What the loader understood: span, every instance family (GPU or not, in the catalog
    or not) with instance-hours, spot and covered instance-hours, and rows skipped."""
    export = open_export(path)
    fmt = _format(export, format)
    known = None if families is None else set(families)
    if fmt == "canonical":
        profile = load_usage_csv(path, None, gaps="mask")
        d = profile.demand_instances
        gpu = np.array([is_gpu_instance_type(f.rsplit("/", 1)[-1]) for f in d.columns], dtype=bool)
        long = pd.DataFrame({"timestamp": np.repeat(d.index, d.shape[1]),
                             "family": np.tile(d.columns.to_numpy(), len(d)),
                             "instances": d.to_numpy().ravel(),
                             "interruptible_instances": profile.interruptible_instances.to_numpy().ravel(),
                             "covered_instances": profile.covered_instances.to_numpy().ravel()}).fillna(0.0)
        long["gpu"] = np.tile(gpu, len(d))
        rows, skipped = len(long), ()
    else:
        read = read_focus(export) if fmt == "focus" else read_cur(export, fmt)
        long, rows, skipped = read.usage, read.rows, read.skipped
        _check_plausible(export.name, long)
    return _summary(export.name, fmt, rows, long, skipped, known)


def _check_plausible(file: str, long: pd.DataFrame) -> None:
    """The same limit ``plan`` and ``convert`` apply: at most MAX_INSTANCES of one family in
    one hour (an export's usage amount of 1e308 would otherwise print as inf)."""
    if long.empty:
        return
    hourly = long.groupby(["timestamp", "family"])["instances"].sum()
    bad = ~np.isfinite(hourly.to_numpy()) | (hourly.to_numpy() > MAX_INSTANCES)
    if bad.any():
        (ts, fam), value = hourly.index[bad.argmax()], hourly.to_numpy()[bad.argmax()]
        raise InputError(f"{value:g} instances of {fam} in the hour {ts:%Y-%m-%dT%H:%MZ} is implausibly large "
                         f"(more than {MAX_INSTANCES:,.0f})", file=file,
                         hint="checking the usage amounts of that hour and their unit (hours of one instance).")


def _summary(file: str, fmt: str, rows: int, long: pd.DataFrame, skipped, known) -> UsageSummary:
    if long.empty:
        return UsageSummary(file, fmt, rows, None, None, 0, (), tuple(skipped))
    start = long["timestamp"].min()
    end = long["timestamp"].max() + HOUR
    g = long.groupby("family").agg(gpu=("gpu", "max"), instances=("instances", "sum"),
                                   spot=("interruptible_instances", "sum"), covered=("covered_instances", "sum"))
    g = g.sort_values(["gpu", "instances"], ascending=[False, False], kind="stable")
    fams = tuple(FamilyUsage(r.Index, bool(r.gpu), None if known is None else r.Index in known,
                             float(r.instances), float(r.spot), float(r.covered)) for r in g.itertuples())
    return UsageSummary(file, fmt, rows, start, end, int((end - start) / HOUR), fams, tuple(skipped))


# ------------------------------------------------------------------ convert

def convert_usage(path, output, *, families=None, format: str | None = None,
                  gaps: str = "error") -> DemandProfile:
    """Write the canonical usage CSV (``timestamp,family,instances,interruptible_instances,
    covered_instances``, one row per hour and family; masked hours left out) atomically,
    and return the profile written."""
    profile = load_usage(path, families=families, format=format, gaps=gaps)
    atomic_write_text(Path(output), profile_to_csv(profile))
    return profile


def rows_by_family(profile: DemandProfile) -> pd.Series:
    """Rows of the canonical usage CSV of ``profile`` per family (masked hours left out)."""
    return profile.demand_instances.notna().sum().astype(int)


def profile_to_csv(profile: DemandProfile) -> str:
    """Canonical usage CSV text of a profile (numbers written to round-trip exactly)."""
    d = profile.demand_instances
    n_fam = d.shape[1]
    frame = pd.DataFrame({
        "timestamp": np.repeat(d.index.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(), n_fam),
        "family": np.tile(d.columns.to_numpy(), len(d)),
        "instances": d.to_numpy().ravel(),
        "interruptible_instances": profile.interruptible_instances.to_numpy().ravel(),
        "covered_instances": profile.covered_instances.to_numpy().ravel(),
    })
    frame = frame[frame["instances"].notna()]
    return frame[CANONICAL_HEADER].to_csv(index=False, lineterminator="\n")
