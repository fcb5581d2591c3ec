"""Performance audit (session 7, bench/README.md "Performance audit"): the vectorized code
gives the results of the code before it on fixed inputs.

- the simulator on a book of many reservations and savings plans (several rows of one
  product, plans of two widths): figures recorded from the code before the change;
- ``parse_utc_timestamps`` (now checks each distinct text once) against the pre-audit
  implementation kept below as the oracle: same values, or the same error naming the same row;
- ``summarize_usage`` of a canonical CSV (GPU flag per family, not per row), ``_runs`` and
  ``PriceCatalog.products()['estimate']`` against their per-element definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import ESTIMATE_PREFIX, catalog_from_frames, embedded_catalog
from gpuladder.solver.book import make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate
from gpuladder.units import DATE_RANGE_TEXT, HOUR, out_of_range
from gpuladder.usage.history import Gap, _runs, parse_utc_timestamps
from gpuladder.usage.load import summarize_usage

T0 = pd.Timestamp("2026-01-01", tz="UTC")
BUCKETS = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]


# ------------------------------------------------------------------ simulator

def _case(n_hours=1500, n_fam=12, n_res=80, n_sp=40, seed=11):
    rng = np.random.default_rng(seed)
    names = [f"aws/us-east-1/g{k:02d}.xlarge" for k in range(n_fam)]
    od = np.round(rng.uniform(1.0, 40.0, n_fam), 3)
    spot = np.where(rng.random(n_fam) < 0.7, np.round(od * rng.uniform(0.3, 0.9, n_fam), 3), np.nan)
    fam = pd.DataFrame({"family": names, "provider": "aws", "region": "us-east-1",
                        "instance_type": [n.split("/")[-1] for n in names], "gpu_model": "H100",
                        "gpus_per_instance": 8, "on_demand_usd_per_hour": od, "spot_usd_per_hour": spot,
                        "interruption_bucket": rng.choice(BUCKETS, n_fam), "source": "test", "as_of": "2026-01-01"})
    rows = []
    for k, n in enumerate(names):
        rows += [("ri-1y", "reservation", 12, "no_upfront", 0.0, n, od[k] * 0.6),
                 ("ri-3y", "reservation", 36, "all_upfront", 1.0, n, od[k] * 0.45),
                 (f"sp-g{k // 4}", "savings_plan", 12, "partial_upfront", 0.5, n, od[k] * 0.7),
                 ("sp-all", "savings_plan", 12, "no_upfront", 0.0, n, od[k] * 0.8)]
    com = pd.DataFrame(rows, columns=["product", "kind", "term_months", "payment", "upfront_share", "family",
                                      "rate_usd_per_hour"])
    com = com.assign(provider="aws", rate_usd_per_hour=com["rate_usd_per_hour"].round(4), source="test",
                     as_of="2026-01-01")
    cat = catalog_from_frames(fam, com, origin="test")
    hours = pd.date_range(T0, periods=n_hours, freq="h", tz="UTC")
    base = rng.uniform(5, 40, n_fam)
    daily = 1 + 0.5 * np.sin(2 * np.pi * np.arange(n_hours) / 24)[:, None]
    demand = np.maximum(base * daily + rng.normal(0, 2, (n_hours, n_fam)), 0.0)
    inter = demand * rng.uniform(0, 1, n_fam)
    res_products = rng.choice(["ri-1y", "ri-3y"], n_res)
    sp_products = rng.choice(["sp-all", "sp-g0", "sp-g1", "sp-g2"], n_sp)
    book = make_purchases(cat, pd.DataFrame({
        "product": list(res_products) + list(sp_products),
        "family": list(rng.choice(names, n_res)) + [""] * n_sp,
        "quantity": list(rng.integers(1, 4, n_res).astype(float)) + list(np.round(rng.uniform(1, 40, n_sp), 3)),
        "start": T0 + pd.to_timedelta(rng.integers(-9000, n_hours, n_res + n_sp), unit="h")}))
    frame = lambda a: pd.DataFrame(a, index=hours, columns=names)  # noqa: E731
    return book, frame(demand), frame(inter), cat


def test_simulator_matches_the_code_before_the_audit():
    book, demand, inter, cat = _case()
    rules = DispatchRules(0.6, {"<5%": 0.02, "5-10%": 0.05, "10-15%": 0.08, "15-20%": 0.12, ">20%": 0.2})
    sim = simulate(book, demand, inter, cat, rules)
    k = sim.kpis
    weights = np.arange(1, len(sim.by_commitment) + 1)
    got = {"cost": k.cost_usd, "cash": k.cash_cost_usd, "savings": k.savings_usd,
           "used_by_row": float(sim.by_commitment["used_usd"].to_numpy() @ weights),
           "fee_by_family": float(sim.by_family["commitment_fees_usd"].to_numpy() @ np.arange(1, len(sim.by_family) + 1)),
           "hourly_cost": float(sim.hourly.cost["cost_usd"].to_numpy() @ np.arange(len(sim.hours))),
           "plan_instances": float(sim.hourly.savings_plan_instances.to_numpy().sum()),
           "unallocated": sim.unallocated_fees_usd}
    before = EXPECTED_BEFORE_AUDIT
    assert got.keys() == before.keys()
    for key, value in before.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key


# simulate() at d35aef6, before the audit, on _case()
EXPECTED_BEFORE_AUDIT = {"cost": 4370653.110231273, "cash": 6752217.952931272, "savings": 1462568.5270711696,
                         "used_by_row": 145500611.77386355, "fee_by_family": 20578307.963879913,
                         "hourly_cost": 3281020913.9009933, "plan_instances": 98376.38337197706,
                         "unallocated": 0.0}


# ------------------------------------------------------------------ timestamps

_TIME_THEN_ZONE = r"[T ][\d:.,]+"


def _reference_parse(raw: pd.Series, *, file: str, column: str = "timestamp", dates: bool = False):
    """usage/history.py's parse_utc_timestamps before the audit (every row checked)."""
    rows = raw.index
    shown = raw.astype(str).str.strip()
    is_date = shown.str.fullmatch(r"\d{4}-\d\d-\d\d") if dates else pd.Series(False, index=shown.index)
    text = shown.where(~is_date, shown + "T00:00:00Z")
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputError(f"'{shown.iloc[i]}' is not an ISO 8601 timestamp", file=file, row=int(rows[i]),
                         column=column, hint="writing timestamps like 2026-01-01T00:00:00Z"
                         + (" or dates like 2026-01-01." if dates else "."))
    far = out_of_range(parsed)
    if far.any():
        i = int(np.argmax(far))
        raise InputError(f"'{shown.iloc[i]}' is outside the supported dates ({DATE_RANGE_TEXT})", file=file,
                         row=int(rows[i]), column=column, hint="checking the year.")
    has_zone = text.str.contains(_TIME_THEN_ZONE + r"(?:Z|[+-]\d\d(?::?\d\d)?)$", regex=True)
    if not has_zone.all():
        i = int(np.argmax(~has_zone.to_numpy()))
        raise InputError(f"timestamp '{text.iloc[i]}' has no time zone (naive)", file=file, row=int(rows[i]),
                         column=column, hint="writing it in UTC with a Z suffix, e.g. 2026-01-01T00:00:00Z "
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
    return parsed


GOOD = ["2026-03-01T04:00:00Z", "2026-03-01T05:00:00+00:00", " 2026-03-01T06:00:00+0000", "2026-03-01 07:00+00",
        "2026-03-01T04:00:00Z"]
BAD = ["2026-03-01T04:00:00", "2026-03-01T04:00:00+01:00", "2026-03-01T04:30:00Z", "not a time", "1850-01-01T00:00:00Z",
       "2026-03-01T04:00:00-05", "2026-03-01", "2026-13-01T00:00:00Z", "nan"]


def _outcome(fn, raw, **kw):
    try:
        out = fn(raw, file="u.csv", **kw)
    except InputError as exc:
        return ("error", str(exc), exc.row, exc.column)
    return ("ok", out.dtype, out.name, list(out.index), list(out))


@pytest.mark.parametrize("seed", range(40))
def test_timestamps_match_the_reference_on_repeated_values(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    values = list(rng.choice(GOOD, n))
    for _ in range(int(rng.integers(0, 3))):      # 0-2 bad values, each possibly repeated
        bad = str(rng.choice(BAD))
        for pos in rng.integers(0, n, int(rng.integers(1, 4))):
            values[int(pos)] = bad
    raw = pd.Series(values, index=pd.RangeIndex(2, 2 + n), name="start", dtype="str")
    column = "timestamp" if seed % 2 else "start"
    for dates in (False, True):
        assert _outcome(parse_utc_timestamps, raw, column=column, dates=dates) == \
            _outcome(_reference_parse, raw, column=column, dates=dates)


def test_timestamps_keep_a_sparse_index_and_name_the_first_bad_row():
    raw = pd.Series(["2026-03-01T04:00:00Z", "2026-03-01T04:00:00", "2026-03-01T05:00:00Z", "2026-03-01T04:00:00"],
                    index=[7, 3, 12, 5], name="timestamp")
    with pytest.raises(InputError) as exc:
        parse_utc_timestamps(raw, file="u.csv")
    assert exc.value.row == 3 and "no time zone" in str(exc.value)
    ok = raw.iloc[[0, 2, 0]]
    got = parse_utc_timestamps(ok, file="u.csv")
    assert list(got.index) == [7, 12, 7] and got.name == "timestamp"
    assert list(got) == [pd.Timestamp("2026-03-01T04:00Z"), pd.Timestamp("2026-03-01T05:00Z"),
                         pd.Timestamp("2026-03-01T04:00Z")]


# ------------------------------------------------------------------ usage and catalog

def test_summary_of_canonical_usage_flags_gpu_per_family(tmp_path):
    hours = pd.date_range(T0, periods=5, freq="h", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    fams = ["aws/us-east-1/p5.48xlarge", "aws/us-east-1/m5.xlarge", "gcp/us-central1/a2-highgpu-8g"]
    inst = np.arange(15, dtype=float).reshape(5, 3)
    path = tmp_path / "u.csv"
    pd.DataFrame({"timestamp": np.repeat(hours, 3), "family": np.tile(fams, 5),
                  "instances": inst.ravel()}).to_csv(path, index=False)
    s = summarize_usage(path)
    got = {f.family: (f.gpu, f.instance_hours) for f in s.families}
    assert got == {fams[0]: (True, 30.0), fams[1]: (False, 35.0), fams[2]: (True, 40.0)}


@pytest.mark.parametrize("seed", range(10))
def test_runs_are_the_maximal_runs_of_true(seed):
    rng = np.random.default_rng(seed)
    flags = rng.random(80) < rng.uniform(0.1, 0.9)
    index = pd.date_range(T0, periods=80, freq="h", tz="UTC")
    expected, start = [], None
    for h, f in enumerate([*flags, False]):
        if f and start is None:
            start = h
        if not f and start is not None:
            expected.append(Gap(index[start], index[start] + (h - start) * HOUR, "missing"))
            start = None
    assert _runs(flags, index, "missing") == expected


def test_catalog_products_estimate_flag_per_product():
    cat = embedded_catalog()
    com = cat.commitments
    expected = {p: any(str(s).startswith(ESTIMATE_PREFIX) for s in g) for p, g in com.groupby("product")["source"]}
    got = cat.products()["estimate"]
    assert got.dtype == bool and got.to_dict() == expected
    assert 0 < got.sum() < len(got)
