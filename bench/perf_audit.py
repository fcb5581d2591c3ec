"""Performance audit (house rule 6): time the code paths whose Python-level loops could grow
with hours, usage rows or commitments, at the scales the rule is about.

    python bench/perf_audit.py                 # every case (about 2 minutes on 2 cores)
    python bench/perf_audit.py --case simulate --profile 20

Cases (each prints wall seconds; ``--profile N`` adds cProfile's top N by cumulative time):
- ``usage``: a canonical usage CSV of 100 families x 3 years hourly (2,628,000 rows):
  ``load_usage_csv`` and ``summarize_usage``;
- ``gaps``: the same hours with every other hour missing (13,140 gap runs), ``gaps='mask'``;
- ``inventory``: an inventory CSV of 5,000 commitments on the embedded catalog;
- ``simulate``: the billing simulator on 100 families x 26,280 hours with a book of 5,000
  commitments (4,000 reservations, 1,000 savings plans; bench/simulate_speed.py's case);
- ``backtest``: ``backtest_scenario`` on the Philly trace at daily re-plans (60 re-plans;
  bench/backtest_traces.py's scenario, the traces in ../shared/data/traces), about 3 minutes;
  not in the default run;
- ``size``: model size (prepare + build_model) of the same 20-family, 12-product fleet over
  1, 12 and 36 months, each month's demand folded onto 24 distinct hours (bench/fleets.py):
  columns and rows per family-month must not grow with the hours.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

START = pd.Timestamp("2026-01-01", tz="UTC")


def _usage_csv(folder: Path, n_families: int, n_hours: int, every: int = 1) -> Path:
    rng = np.random.default_rng(3)
    hours = pd.date_range(START, periods=n_hours, freq="h", tz="UTC")[::every]
    fams = [f"aws/us-east-1/p{k % 6}.{k:03d}xlarge" for k in range(n_families)]
    inst = np.round(rng.uniform(0, 40, (len(hours), n_families)), 3)
    frame = pd.DataFrame({"timestamp": np.repeat(hours.strftime("%Y-%m-%dT%H:%M:%SZ"), n_families),
                          "family": np.tile(fams, len(hours)), "instances": inst.ravel(),
                          "interruptible_instances": np.round(inst.ravel() * 0.3, 3)})
    path = folder / f"usage-{n_families}x{n_hours}-{every}.csv"
    frame.to_csv(path, index=False)
    return path


def case_usage(folder: Path):
    from gpuladder.usage.history import load_usage_csv
    from gpuladder.usage.load import summarize_usage
    path = _usage_csv(folder, 100, 26_280)
    return {"load_usage_csv": lambda: load_usage_csv(path, gaps="error"),
            "summarize_usage": lambda: summarize_usage(path)}


def case_gaps(folder: Path):
    from gpuladder.usage.history import load_usage_csv
    path = _usage_csv(folder, 4, 26_280, every=2)
    return {"load_usage_csv(mask, 13,140 gaps)": lambda: load_usage_csv(path, gaps="mask")}


def _inventory_csv(folder: Path, n: int) -> Path:
    from gpuladder.pricing.catalog import embedded_catalog
    cat = embedded_catalog()
    com = cat.commitments
    res = com[(com["kind"] == "reservation") & (com["provider"] == "aws")].drop_duplicates(["product", "family"])
    rng = np.random.default_rng(5)
    pick = res.iloc[rng.integers(0, len(res), n)]
    start = START - pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    end = [s + pd.DateOffset(months=int(t)) for s, t in zip(start, pick["term_months"])]
    frame = pd.DataFrame({"id": [f"c{k}" for k in range(n)], "product": pick["product"].to_numpy(),
                          "family": pick["family"].to_numpy(), "quantity": rng.integers(1, 9, n),
                          "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "end": pd.DatetimeIndex(end).strftime("%Y-%m-%dT%H:%M:%SZ")})
    path = folder / f"inventory-{n}.csv"
    frame.to_csv(path, index=False)
    return path, cat


def case_inventory(folder: Path):
    from gpuladder.usage.inventory import load_inventory
    path, cat = _inventory_csv(folder, 5_000)
    return {"load_inventory(5,000)": lambda: load_inventory(path, cat)}


def case_simulate(folder: Path):
    from simulate_speed import synthetic_case
    from gpuladder.solver.simulate import DispatchRules, simulate
    book, demand, inter, catalog = synthetic_case(26_280, 100, 5_000, folder)
    rules = DispatchRules(0.6, {"<5%": 0.02, "5-10%": 0.05, "10-15%": 0.08, "15-20%": 0.12, ">20%": 0.2})
    return {"simulate(26,280 h x 100 fam x 5,000 commitments)": lambda: simulate(book, demand, inter, catalog, rules)}


def size_table() -> None:
    from fleets import fleet
    from gpuladder.solver.model import build_model
    from gpuladder.solver.modeldata import prepare
    print(f"{'months':>6} {'hours':>6} {'periods':>7} {'layers':>6} {'variables':>9} {'rows':>6} "
          f"{'vars/family-month':>17} {'rows/family-month':>17} {'build_s':>7}")
    for months in (1, 12, 36):
        prob = fleet(20, months, 12, hours_per_month=24)
        t0 = time.perf_counter()
        data = prepare(prob)
        lp = build_model(data, prob.constraints).lp
        per = 20 * months
        print(f"{months:>6} {len(prob.forecast.index):>6} {len(data.periods):>7} {len(data.layers):>6} "
              f"{lp.n_cols:>9} {lp.n_rows:>6} {lp.n_cols / per:>17.1f} {lp.n_rows / per:>17.1f} "
              f"{time.perf_counter() - t0:>7.2f}", flush=True)


def case_backtest(folder: Path):
    from backtest_traces import ROOT, span_start, write_inputs
    from gpuladder.scenarios.loader import load_scenario
    from gpuladder.solver.backtest import BacktestOptions, backtest_scenario
    path = write_inputs(ROOT.parent / "shared" / "data" / "traces", folder)["philly"]
    start = span_start(path)
    return {"backtest(philly, 1D, 60 re-plans)": lambda: backtest_scenario(
        load_scenario(path), BacktestOptions(start=start, replan_every="1D"))}


CASES = {"usage": case_usage, "gaps": case_gaps, "inventory": case_inventory, "simulate": case_simulate, "backtest": case_backtest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=sorted([*CASES, "size"]), action="append")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's top N by cumtime")
    ap.add_argument("--profile-out", metavar="FILE", help="also save the last case's profile (pstats) to FILE")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.case or [*(c for c in CASES if c != "backtest"), "size"]:
            if name == "size":
                size_table()
                continue
            for label, run in CASES[name](Path(tmp)).items():
                prof = cProfile.Profile() if args.profile else None
                t0 = time.perf_counter()
                if prof:
                    prof.enable()
                run()
                if prof:
                    prof.disable()
                print(f"{label:<55} {time.perf_counter() - t0:8.2f} s", flush=True)
                if prof:
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats("cumtime").print_stats(args.profile)
                    print(out.getvalue())
                    if args.profile_out:
                        prof.dump_stats(args.profile_out)


if __name__ == "__main__":
    main()
