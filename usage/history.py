"""Usage history -> DemandProfile (hourly UTC index x family).

The canonical usage CSV is ``timestamp,family,instances[,interruptible_instances]``
(DESIGN.md section 3): hourly, UTC. A (timestamp, family) pair with no row means
zero instances of that family in that hour; an hour with no row at all is a gap
(a logging gap, not idle time). Gaps are refused unless the caller chooses to fill
them with zero or to mask them (masked hours are NaN in the profile and are left
out of forecasts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpuladder.errors import InputError, did_you_mean
from gpuladder.textcsv import read_text_csv
from gpuladder.units import DATE_RANGE_TEXT, HOUR, MAX_INSTANCES, out_of_range

USAGE_COLUMNS = ["timestamp", "family", "instances"]
OPTIONAL_USAGE_COLUMNS = ["interruptible_instances", "covered_instances"]
GAP_POLICIES = ("error", "zero", "mask")


ALL_ZERO_GAP_MIN_HOURS = 3   # hours without demand in any family, in a row, reported as a suspected gap

@dataclass(frozen=True)
class Gap:
    """A run of hours with no data (``kind='missing'``) or where every family reads zero
    (``kind='all_zero'``, reported as a suspected logging gap)."""

    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    kind: str

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)


@dataclass(frozen=True)
class DemandProfile:
    """Hourly demand per family, in instances (instance-hours per hour).

    ``demand_instances``: UTC hourly DatetimeIndex x sorted family columns; NaN marks a
    masked hour. ``interruptible_instances`` (<= demand) is the part of the demand that
    may run on spot. ``covered_instances`` is the part already covered by existing
    commitments according to the source (billing exports), for information only.
    """

    demand_instances: pd.DataFrame
    interruptible_instances: pd.DataFrame
    covered_instances: pd.DataFrame
    source: str = ""
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    @property
    def families(self) -> list[str]:
        return list(self.demand_instances.columns)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.demand_instances.index

    @property
    def masked(self) -> pd.Series:
        """True for hours masked out (NaN in every family)."""
        return self.demand_instances.isna().all(axis=1)

    def window(self, start: pd.Timestamp, end: pd.Timestamp) -> "DemandProfile":
        """Hours in [start, end)."""
        sel = (self.index >= start) & (self.index < end)
        gaps = tuple(g for g in self.gaps if g.end > start and g.start < end)
        return DemandProfile(self.demand_instances.loc[sel], self.interruptible_instances.loc[sel],
                             self.covered_instances.loc[sel], self.source, gaps)

    def select(self, families) -> "DemandProfile":
        fams = sorted(families)
        return DemandProfile(self.demand_instances[fams], self.interruptible_instances[fams],
                             self.covered_instances[fams], self.source, self.gaps)


def profile_from_frames(demand: pd.DataFrame, interruptible: pd.DataFrame | None = None,
                        covered: pd.DataFrame | None = None, source: str = "",
                        gaps: tuple[Gap, ...] = ()) -> DemandProfile:
    """Build a profile from wide frames (hour x family), aligning and sorting them."""
    demand = demand.sort_index(axis=1).astype(float)
    zeros = demand * 0.0
    inter = zeros if interruptible is None else interruptible.reindex_like(demand).fillna(0.0)
    cov = zeros if covered is None else covered.reindex_like(demand).fillna(0.0)
    inter = inter.where(demand.notna())
    cov = cov.where(demand.notna())
    return DemandProfile(demand, inter.astype(float), cov.astype(float), source, tuple(gaps))


def profile_from_long(rows: pd.DataFrame, *, source: str, gaps: str = "error",
                      file: str | None = None) -> DemandProfile:
    """Pivot validated long rows (UTC ``timestamp``, ``family``, ``instances`` and optional
    ``interruptible_instances``/``covered_instances``) to a profile, applying the gap policy.

    Used by every usage format (canonical CSV, FOCUS, CUR) after its own parsing.
    """
    if gaps not in GAP_POLICIES:
        raise ValueError(f"gaps must be one of {GAP_POLICIES}")
    if rows.empty:
        raise InputError("no usage rows", file=file, hint="checking that the file holds GPU usage.")
    start, last = rows["timestamp"].min(), rows["timestamp"].max()
    full = pd.date_range(start, last, freq="h", tz="UTC")
    wide = {}
    for col in ["instances", *OPTIONAL_USAGE_COLUMNS]:
        if col in rows:
            w = rows.pivot_table(index="timestamp", columns="family", values=col, aggfunc="sum")
            wide[col] = w.reindex(full)
    demand = wide["instances"]
    too_many = demand.to_numpy() > MAX_INSTANCES
    if too_many.any():
        h, f = np.argwhere(too_many)[0]
        raise InputError(f"{demand.iat[h, f]:g} instances of {demand.columns[f]} in the hour "
                         f"{demand.index[h]:%Y-%m-%dT%H:%MZ} is implausibly large (more than {MAX_INSTANCES:,.0f})",
                         file=file, column="instances",
                         hint="checking the usage amounts and their unit (instance-hours per hour).")
    present = demand.notna().any(axis=1)
    missing_runs = _runs(~present.to_numpy(), full, "missing")
    if missing_runs and gaps == "error":
        g = missing_runs[0]
        total = sum(r.hours for r in missing_runs)
        raise InputError(
            f"{total} hour(s) have no usage rows at all, first {g.start:%Y-%m-%dT%H:%MZ} to "
            f"{g.end:%Y-%m-%dT%H:%MZ} ({g.hours} h); a gap is a logging gap, not idle time",
            file=file, column="timestamp",
            hint="adding the missing hours, or choosing how to treat gaps: "
                 "--gaps zero (no demand) or --gaps mask (leave them out).")
    demand = demand.fillna(0.0)
    if gaps == "mask":
        demand.loc[~present.to_numpy()] = np.nan
    totals = demand.sum(axis=1, min_count=1)
    zero_runs = [r for r in _runs((totals == 0).to_numpy(), full, "all_zero") if r.hours >= ALL_ZERO_GAP_MIN_HOURS]
    inter = wide.get("interruptible_instances")
    cov = wide.get("covered_instances")
    return profile_from_frames(
        demand, None if inter is None else inter.fillna(0.0), None if cov is None else cov.fillna(0.0),
        source=source, gaps=tuple(missing_runs) + tuple(zero_runs))


def _runs(flags: np.ndarray, index: pd.DatetimeIndex, kind: str) -> list[Gap]:
    """Maximal runs of True in ``flags`` as Gap objects."""
    if not flags.any():
        return []
    f = np.concatenate([[False], flags, [False]]).astype(int)
    d = np.diff(f)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    first = index[starts]
    return [Gap(s, e, kind) for s, e in zip(first, first + (ends - starts) * HOUR)]


_TIME_THEN_ZONE = r"[T ][\d:.,]+"  # a zone designator only counts after a time (2026-01-01 ends in -01)


def parse_utc_timestamps(raw: pd.Series, *, file: str, column: str = "timestamp",
                         rows: pd.Index | None = None, dates: bool = False) -> pd.Series:
    """Parse ISO 8601 timestamps that carry a UTC designator (Z, +00, +0000 or +00:00).

    Naive timestamps and other offsets are refused with a hint; so are values that are
    not on the hour or outside ``units.DATE_RANGE_TEXT``. ``dates``: a plain date
    (2026-01-01) is also accepted, as 00:00 UTC."""
    rows = raw.index if rows is None else rows
    # each distinct text is checked once (a usage file repeats every hour once per family);
    # uniques keep the order of first appearance, so the first bad one is the first bad row
    codes, uniques = pd.factorize(raw.astype(str), use_na_sentinel=False)
    rows = _FirstRow(codes, rows)
    shown = pd.Series(uniques).str.strip()
    is_date = shown.str.fullmatch(r"\d{4}-\d\d-\d\d") if dates else pd.Series(False, index=shown.index)
    text = shown.where(~is_date, shown + "T00:00:00Z")
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputError(f"'{shown.iloc[i]}' is not an ISO 8601 timestamp", file=file,
                         row=int(rows[i]), column=column,
                         hint="writing timestamps like 2026-01-01T00:00:00Z" + (" or dates like 2026-01-01."
                                                                               if dates else "."))
    far = out_of_range(parsed)
    if far.any():
        i = int(np.argmax(far))
        raise InputError(f"'{shown.iloc[i]}' is outside the supported dates ({DATE_RANGE_TEXT})", file=file,
                         row=int(rows[i]), column=column, hint="checking the year.")
    has_zone = text.str.contains(_TIME_THEN_ZONE + r"(?:Z|[+-]\d\d(?::?\d\d)?)$", regex=True)
    if not has_zone.all():
        i = int(np.argmax(~has_zone.to_numpy()))
        raise InputError(f"timestamp '{text.iloc[i]}' has no time zone (naive)", file=file,
                         row=int(rows[i]), column=column,
                         hint="writing it in UTC with a Z suffix, e.g. 2026-01-01T00:00:00Z "
                              "(convert local times to UTC first).")
    non_utc = text.str.contains(_TIME_THEN_ZONE + r"[+-](?!00(?::?00)?$)\d\d(?::?\d\d)?$", regex=True)
    if non_utc.any():
        i = int(np.argmax(non_utc.to_numpy()))
        raise InputError(f"timestamp '{text.iloc[i]}' is not in UTC", file=file, row=int(rows[i]),
                         column=column, hint="converting it to UTC and writing it with a Z suffix.")
    off_hour = parsed != parsed.dt.floor("h")
    if off_hour.any():
        i = int(np.argmax(off_hour.to_numpy()))
        if column == "timestamp":
            raise InputError(f"timestamp '{text.iloc[i]}' is not on the hour (the usage must be hourly)",
                             file=file, row=int(rows[i]), column=column,
                             hint="aggregating the usage to hours (instance-hours per hour) first.")
        raise InputError(f"'{text.iloc[i]}' is not on the hour", file=file, row=int(rows[i]), column=column,
                         hint="rounding it to the whole hour (commitments are billed by the hour).")
    out = parsed.take(codes).set_axis(raw.index)
    out.name = raw.name
    return out


@dataclass(frozen=True)
class _FirstRow:
    """``rows[i]`` for the i-th distinct value: the row label of its first occurrence."""

    codes: np.ndarray
    labels: pd.Index

    def __getitem__(self, i: int):
        return self.labels[int(np.argmax(self.codes == i))]


def load_usage_csv(path, families=None, *, gaps: str = "error") -> DemandProfile:
    """Read the canonical usage CSV. ``families``: the catalog's family keys, to refuse
    unknown families with a did-you-mean (None skips the check)."""
    file = str(path)
    df = read_text_csv(path, USAGE_COLUMNS, optional=tuple(OPTIONAL_USAGE_COLUMNS), what="usage file")
    out = pd.DataFrame(index=df.index)
    out["timestamp"] = parse_utc_timestamps(df["timestamp"], file=file)
    out["family"] = df["family"]
    empty = out["family"].eq("")
    if empty.any():
        raise InputError("missing family", file=file, row=int(empty.idxmax()), column="family",
                         hint="writing the family as provider/region/instance_type.")
    for col in ["instances", *OPTIONAL_USAGE_COLUMNS]:
        if col not in df.columns:
            continue
        raw = df[col]
        num = pd.to_numeric(raw.replace("", "0" if col != "instances" else np.nan), errors="coerce")
        if num.isna().any():
            r = int(num.isna().idxmax())
            raise InputError(f"'{raw[r]}' is not a number", file=file, row=r, column=col,
                             hint="writing the number of instances in use in that hour (e.g. 2 or 1.5).")
        if (num < 0).any() or np.isinf(num).any():
            r = int(((num < 0) | np.isinf(num)).idxmax())
            raise InputError(f"{raw[r]} is negative or infinite", file=file, row=r, column=col,
                             hint="giving instances in use as a number >= 0.")
        if (num > MAX_INSTANCES).any():
            r = int((num > MAX_INSTANCES).idxmax())
            raise InputError(f"{raw[r]} instances is implausibly large (more than {MAX_INSTANCES:,.0f} in one hour)",
                             file=file, row=r, column=col,
                             hint="checking the unit: the column holds instances in use (instance-hours per "
                                  "hour), not GPU-hours, seconds or dollars.")
        out[col] = num.astype(float)
    for col in OPTIONAL_USAGE_COLUMNS:
        if col in out:
            over = out[col] > out["instances"] * (1 + 1e-9) + 1e-9
            if over.any():
                r = int(over.idxmax())
                raise InputError(f"{col} {out[col][r]:g} is above instances {out['instances'][r]:g}",
                                 file=file, row=r, column=col,
                                 hint=f"keeping {col} between 0 and instances.")
    dup = out.duplicated(["timestamp", "family"], keep="first")
    if dup.any():
        r = int(dup.idxmax())
        raise InputError(f"duplicate row for {out['family'][r]} at {out['timestamp'][r]:%Y-%m-%dT%H:%MZ}",
                         file=file, row=r, column="timestamp",
                         hint="keeping one row per hour and family (sum the instances).")
    if families is not None:
        known = set(families)
        unknown = ~out["family"].isin(known)
        if unknown.any():
            r = int(unknown.idxmax())
            fam = out["family"][r]
            n = int(out.loc[unknown, "family"].nunique())
            raise InputError(f"family '{fam}' is not in the catalog ({n} unknown famil{'y' if n == 1 else 'ies'}).{did_you_mean(fam, known)}",
                             file=file, row=r, column="family",
                             hint="correcting the family key (provider/region/instance_type; "
                                  "`gpuladder catalog show` lists them) or adding it to the catalog; for a file "
                                  "written by `gpuladder usage convert`, converting again with "
                                  "`gpuladder usage convert --catalog embedded` (or your catalog folder), which "
                                  "leaves out the families the catalog lacks.")
    return profile_from_long(out, source=file, gaps=gaps, file=file)
