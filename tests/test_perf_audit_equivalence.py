"""Performance audit (session 7, bench/README.md "Performance audit"): the vectorized code
gives the results of the code before it on fixed inputs.

- the simulator on a book of many reservations and savings plans (several rows of one
  product, plans of two widths): figures recorded from the code before the change;
- ``parse_utc_timestamps`` (now checks each distinct text once) against parsing each row
  alone: the same values, or the error of the first row failing the earliest check;
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
from gpuladder.units import HOUR
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

# the checks parse_utc_timestamps makes, in its order: the whole column is checked for
# the first, then the second ..., so an error names the first row failing the earliest check
STAGES = ("is not an ISO 8601 timestamp", "is outside the supported dates", "has no time zone",
          "is not in UTC", "is not on the hour")


def _per_row_reference(raw: pd.Series, **kw):
    """What parsing ``raw`` must give, from parsing each row alone: every value, or the
    error of the row that fails the earliest check (the first such row)."""
    outs = [_outcome(parse_utc_timestamps, raw.iloc[[k]], **kw) for k in range(len(raw))]
    errors = [(next(n for n, stage in enumerate(STAGES) if stage in o[1]), k) for k, o in enumerate(outs)
              if o[0] == "error"]
    if errors:
        return outs[min(errors)[1]]
    return ("ok", raw.name, list(raw.index), [o[3][0] for o in outs])


GOOD = ["2026-03-01T04:00:00Z", "2026-03-01T05:00:00+00:00", " 2026-03-01T06:00:00+0000", "2026-03-01 07:00+00",
        "2026-03-01T04:00:00Z"]
BAD = ["2026-03-01T04:00:00", "2026-03-01T04:00:00+01:00", "2026-03-01T04:30:00Z", "not a time", "1850-01-01T00:00:00Z",
       "2026-03-01T04:00:00-05", "2026-03-01", "2026-13-01T00:00:00Z", "nan"]


def _outcome(fn, raw, **kw):
    try:
        out = fn(raw, file="u.csv", **kw)
    except InputError as exc:
        return ("error", str(exc), exc.row, exc.column)
    assert str(out.dtype).startswith("datetime64[") and str(out.dtype).endswith(", UTC]")
    return ("ok", out.name, list(out.index), list(out))


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
            _per_row_reference(raw, column=column, dates=dates)


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
