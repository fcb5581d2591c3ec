"""Backtest gpuladder on the real GPU traces (Helios 31 days, Philly 74 days) and print the
tables of bench/README.md (section "Backtest on real traces").

Each trace becomes one family, AWS p3.16xlarge in us-east-1 (8 V100 GPUs): Helios GPUs / 8
(all 16 tenants), Philly one server = one instance. The logging gaps the traces' README
names are left out and masked (as in scenarios/examples/build_examples.py). The scenario is
the product's defaults (seasonal forecast, 95% utilization floor on P50 and P10, AWS
reservations and savings plans, 1- and 3-year terms, every payment option) with the
shortest lookback the forecast accepts for Helios (7 days: span 24 days) and 14 days for
Philly (span 60 days).

Run: python bench/backtest_traces.py [../shared/data/traces]          (40 backtests, about 11 minutes: the daily rows)
     python bench/backtest_traces.py --grid [../shared/data/traces]   (sensitivity, about 90 s)
     python bench/backtest_traces.py --stages philly [...]            (the daily row, time per stage)
     python bench/backtest_traces.py --help

--grid prints gpuladder's capture for every utilization floor (none, 0.8, 0.9, 0.95) x
conservative quantile (none, 0.10) x re-plan cadence (1M, 7D): a sensitivity table, reported
whole; no setting is picked from it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import load_inputs
from gpuladder.solver.backtest import (BacktestOptions, backtest_scenario, forecast_between, parse_replan_every,
                                       replan_dates, span_of)
from gpuladder.solver.forecast import replay
from gpuladder.units import hourly_index

ROOT = Path(__file__).resolve().parents[1]
TIE_SHARE = 1e-4  # savings within 0.01% of each other: a tie
FAMILY = "aws/us-east-1/p3.16xlarge"
TRACES = {  # name: (file, groups divided by, lookback days)
    "helios": ("helios-earth-by-vc.csv", 8, 7),
    "philly": ("philly-nodes.csv", 1, 14),
}
VARIANTS = [  # label, --set items, re-plan interval[, months each re-plan plans ahead]
    ("defaults, re-plan monthly", (), "1M"),
    ("defaults, re-plan weekly", (), "7D"),
    ("floor on P50 only, monthly", ("forecast.conservative_quantile=null",), "1M"),
    ("floor on P50 only, weekly", ("forecast.conservative_quantile=null",), "7D"),
    ("no utilization floor, monthly", ("constraints.min_utilization=null",), "1M"),
    ("no floor, risk weight 1, monthly", ("constraints.min_utilization=null", "forecast.risk_weight=1"), "1M"),
    ("no floor, risk weight 1, weekly", ("constraints.min_utilization=null", "forecast.risk_weight=1"), "7D"),
    ("defaults, planning 36 months ahead, weekly", (), "7D", 36),
    ("no floor, risk weight 1, planning 36 months ahead, weekly",
     ("constraints.min_utilization=null", "forecast.risk_weight=1"), "7D", 36),
    ("defaults, 1-year terms only, monthly", ("products.terms_months=[12]",), "1M"),
    ("defaults, lookback 90 days, monthly", ("forecast.lookback_days=90",), "1M"),
    ("defaults, lookback 90 days, weekly", ("forecast.lookback_days=90",), "7D"),
    ("no floor, risk weight 1, lookback 90 days, monthly",
     ("constraints.min_utilization=null", "forecast.risk_weight=1", "forecast.lookback_days=90"), "1M"),
    ("no floor, risk weight 1, lookback 90 days, weekly",
     ("constraints.min_utilization=null", "forecast.risk_weight=1", "forecast.lookback_days=90"), "7D"),
    ("defaults, re-plan daily", (), "1D"),
    ("defaults, lookback 90 days, daily", ("forecast.lookback_days=90",), "1D"),
    ("no floor, risk weight 1, daily", ("constraints.min_utilization=null", "forecast.risk_weight=1"), "1D"),
    ("no floor, risk weight 1, lookback 90 days, daily",
     ("constraints.min_utilization=null", "forecast.risk_weight=1", "forecast.lookback_days=90"), "1D"),
    ("trend forecast, re-plan weekly", ("forecast.method=trend",), "7D"),
    ("trend forecast, re-plan daily", ("forecast.method=trend",), "1D"),
    ("no utilization floor, weekly", ("constraints.min_utilization=null",), "7D"),
    ("no utilization floor, daily", ("constraints.min_utilization=null",), "1D"),
    ("floor on P50 only, daily", ("forecast.conservative_quantile=null",), "1D"),
    ("trend forecast, no floor, weekly", ("constraints.min_utilization=null", "forecast.method=trend"), "7D"),
    ("trend forecast, no floor, daily", ("constraints.min_utilization=null", "forecast.method=trend"), "1D"),
]
SCENARIO = """name: {name}
catalog: embedded
usage: {{path: {name}.csv, gaps: mask}}
forecast: {{method: seasonal, lookback_days: {lookback}, conservative_quantile: 0.10}}
products: {{providers: [aws], terms_months: [12, 36]}}
constraints: {{min_utilization: 0.95}}
"""


def _build_examples_module():
    spec = importlib.util.spec_from_file_location("build_examples", ROOT / "scenarios" / "examples" / "build_examples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_inputs(traces: Path, folder: Path) -> dict[str, Path]:
    build = _build_examples_module()
    out = {}
    for name, (file, per_instance, lookback) in TRACES.items():
        raw = build.read_trace(traces, file)
        g = raw.groupby("timestamp", as_index=False)["gpus"].sum()
        pd.DataFrame({"timestamp": g["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                      "instances": (g["gpus"] / per_instance).round(3)}).to_csv(folder / f"{name}.csv", index=False)
        path = folder / f"{name}.yaml"
        path.write_text(SCENARIO.format(name=name, lookback=lookback))
        out[name] = path
    return out


def span_start(path: Path) -> pd.Timestamp:
    """The span's start at the trace's own lookback (first hour + lookback days), kept for
    every variant so that a variant with a longer lookback scores the same span."""
    sc = load_scenario(path)
    return span_of(load_inputs(sc).profile, sc.forecast, None)[0]


def policy_table(results) -> list[str]:
    lines = ["| trace | variant | policy | cost $ | savings $ | eff. savings rate | utilization | waste $ | capture "
             "| capture (rules) | fees after span $M |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for trace, label, bt in results:
        for p in bt.policies:
            k = p.kpis.__class__(**{f: round(v, 6) + 0.0 for f, v in p.kpis.as_dict().items()})
            util = f"{k.commitment_utilization:.1%}" if k.commitment_fees_usd > 0 else "-"
            cap = "-" if p.capture is None else f"{round(p.capture, 6) + 0.0:.1%}"
            rules = "-" if p.capture_within_rules is None else f"{round(p.capture_within_rules, 6) + 0.0:.1%}"
            name = f"**{p.name}**" if p.name == "gpuladder" else p.name
            lines.append(f"| {trace} | {label} | {name} | {k.cost_usd:,.0f} | {k.savings_usd:,.0f} | "
                         f"{k.effective_savings_rate:.1%} | {util} | {k.waste_usd:,.0f} | {cap} | {rules} | "
                         f"{p.fees_after_span_usd / 1e6:,.1f} |")
    return lines


def summary_table(results) -> list[str]:
    lines = ["| trace | variant | gpuladder capture | capture (rules) | best provider_lookback (window) | >= 85%? "
             "| beats every window? | fees after span $M: gpuladder / that window |",
             "|---|---|---:|---:|---:|---|---|---:|"]
    for trace, label, bt in results:
        g = bt.policy("gpuladder")
        hind = bt.policy("hindsight").kpis.savings_usd
        top = max((p for p in bt.policies if p.name.startswith("provider")), key=lambda p: p.kpis.savings_usd)
        best, window, tail = top.kpis.savings_usd, top.name.rsplit("_", 1)[1], top.fees_after_span_usd
        margin = TIE_SHARE * abs(best)
        s = g.kpis.savings_usd
        beats = "yes" if s > best + margin else ("tie" if s >= best - margin else "no")
        lines.append(f"| {trace} | {label} | {s / hind:.1%} | {g.capture_within_rules:.1%} | {best / hind:.1%} ({window}) | "
                     f"{'yes' if s >= 0.85 * hind else 'no'} | {beats} | "
                     f"{g.fees_after_span_usd / 1e6:,.1f} / {tail / 1e6:,.1f} |")
    return lines


def forecast_table(paths: dict[str, Path]) -> list[str]:
    """At each monthly re-plan: P50 bias over the rest of the span, and where the actual
    hours fall relative to the P10-P90 band."""
    lines = ["| trace | re-plan | hours ahead | mean actual | mean P50 | P50 bias | actual < P10 | actual in P10-P90 | actual > P90 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for trace, path in paths.items():
        sc = load_scenario(path)
        profile = load_inputs(sc).profile
        start, end = span_of(profile, sc.forecast, None)
        actual = replay(profile, hourly_index(start, end)).paths[0].demand_instances[FAMILY]
        for t in replan_dates(start, end, parse_replan_every("1M")):
            fc = forecast_between(profile.window(profile.index[0], t), sc.forecast, t, end)
            a = actual.loc[t:].to_numpy()
            p10, p50, p90 = (fc.path(n).demand_instances[FAMILY].to_numpy() for n in ("P10", "P50", "P90"))
            lines.append(f"| {trace} | {t:%Y-%m-%d} | {len(a)} | {a.mean():.1f} | {p50.mean():.1f} | "
                         f"{p50.mean() / a.mean() - 1:+.1%} | {np.mean(a < p10):.0%} | "
                         f"{np.mean((a >= p10) & (a <= p90)):.0%} | {np.mean(a > p90):.0%} |")
    return lines


def calibration_table(paths: dict[str, Path]) -> list[str]:
    """At every daily origin from the span's start to a week before the trace's end: where
    the actual mean of the next 7 days falls relative to the forecast's P10-P90 band over
    those days, with the bench's lookback and with the product's default (90 days), next to
    the error of the naive forecast (the last 7 days' mean)."""
    lines = ["| trace | lookback days | origins | next-7-day mean < P10 | > P90 | mean abs P50 error "
             "| band width (P90-P10)/P50 | naive last-7-day abs error |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    week = pd.Timedelta(days=7)
    for trace, path in paths.items():
        for lookback in (TRACES[trace][2], 90):
            sc = load_scenario(path, (f"forecast.lookback_days={lookback}",))
            profile = load_inputs(sc).profile
            first, end = profile.index[0], profile.index[-1] + pd.Timedelta(hours=1)
            actual = replay(profile, hourly_index(first, end)).paths[0].demand_instances[FAMILY]
            origins = pd.date_range(first + pd.Timedelta(days=TRACES[trace][2]), end - week, freq="1D")
            rows = []
            for t in origins:
                fc = forecast_between(profile.window(first, t), sc.forecast, t, t + week)
                band = [fc.path(n).demand_instances[FAMILY].mean() for n in ("P10", "P50", "P90")]
                rows.append([actual.loc[t:t + week - pd.Timedelta(hours=1)].mean(), *band,
                             actual.loc[t - week:t - pd.Timedelta(hours=1)].mean()])
            a, p10, p50, p90, naive = np.array(rows).T
            lines.append(f"| {trace} | {lookback} | {len(origins)} | {np.mean(a < p10):.0%} | {np.mean(a > p90):.0%} | "
                         f"{np.mean(abs(a / p50 - 1)):.1%} | {np.mean((p90 - p10) / p50):.1%} | "
                         f"{np.mean(abs(a / naive - 1)):.1%} |")
    return lines


GRID = [(u, cq, every) for u in ("null", "0.8", "0.9", "0.95") for cq in ("null", "0.10") for every in ("1M", "7D")]


def grid_table(paths: dict[str, Path]) -> list[str]:
    lines = ["| trace | min_utilization | conservative_quantile | re-plan | gpuladder capture | capture (rules) "
             "| best provider_lookback (window) | gpuladder - best window | fees after span $M: gpuladder / that window |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for trace, path in paths.items():
        for u, cq, every in GRID:
            sets = (f"constraints.min_utilization={u}", f"forecast.conservative_quantile={cq}")
            bt = backtest_scenario(load_scenario(path, sets), BacktestOptions(replan_every=every))
            g = bt.policy("gpuladder")
            prov = max((p for p in bt.policies if p.name.startswith("provider")), key=lambda p: p.kpis.savings_usd)
            lines.append(f"| {trace} | {u} | {cq} | {every} | {g.capture:.1%} | {g.capture_within_rules:.1%} | "
                         f"{prov.capture:.1%} ({prov.name.rsplit('_', 1)[1]}) | "
                         f"{(g.capture - prov.capture) * 100:+.1f} pt | "
                         f"{g.fees_after_span_usd / 1e6:,.1f} / {prov.fees_after_span_usd / 1e6:,.1f} |")
    return lines


STAGES = (  # (module, function, label): wrapped by --stages, timed on the main thread
    ("backtest", "_receding", "re-plans (3 policies)"), ("plan", "_search_products", "product-set search"),
    ("plan", "solve", "HiGHS solves"), ("plan", "build_model", "build_model"), ("plan", "prepare", "prepare"),
    ("plan", "sunk_floor_shortfall", "sunk_floor_shortfall"), ("plan", "simulate", "simulate (plan paths)"),
    ("modeldata", "simulate", "simulate (inventory floor use)"), ("backtest", "forecast_between", "forecast"))


def stage_times(paths: dict[str, Path], trace: str) -> list[str]:
    """The daily defaults row of ``trace`` with the wall time of each stage (the solver
    threads of the product-set search overlap the main thread: stages do not add up)."""
    import importlib
    import threading

    spent: dict[str, list[float]] = {label: [0.0, 0] for _, _, label in STAGES}

    def timed(fn, label):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if threading.current_thread() is threading.main_thread():
                    spent[label][0] += time.perf_counter() - t0
                    spent[label][1] += 1
        return run

    for mod, name, label in STAGES:
        module = importlib.import_module(f"gpuladder.solver.{mod}")
        setattr(module, name, timed(getattr(module, name), label))
    t0 = time.perf_counter()
    bt = backtest_scenario(load_scenario(paths[trace]), BacktestOptions(start=span_start(paths[trace]),
                                                                        replan_every="1D"))
    lines = [f"{trace}, defaults, re-plan daily: {len(bt.replan_dates)} re-plans in {time.perf_counter() - t0:.1f} s",
             "| stage | s | calls |", "|---|---:|---:|"]
    lines += [f"| {label} | {s:.1f} | {n} |" for label, (s, n) in spent.items()]
    return lines


def main(traces: Path, grid: bool = False, stages: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_inputs(traces, Path(tmp))
        t0 = time.perf_counter()
        if stages:
            print("\n".join(stage_times(paths, stages)))
            return
        if grid:
            print("\n".join(grid_table(paths)))
            print(f"\n({len(GRID) * len(paths)} backtests in {time.perf_counter() - t0:.0f} s)")
            return
        results = []
        for trace, path in paths.items():
            start = span_start(path)
            for label, sets, every, *ahead in VARIANTS:
                t1 = time.perf_counter()
                bt = backtest_scenario(load_scenario(path, sets), BacktestOptions(
                    start=start, replan_every=every, plan_months=(ahead or [None])[0]))
                results.append((trace, label, bt))
                print(f"{trace} / {label}: {bt.start:%Y-%m-%d} to {bt.end:%Y-%m-%d}, {len(bt.replan_dates)} re-plans, "
                      f"{time.perf_counter() - t1:.1f} s", file=sys.stderr)
                for note in bt.notes:
                    print(f"  note: {note}", file=sys.stderr)
        seconds = time.perf_counter() - t0
        print("\n".join(summary_table(results)))
        print()
        print("\n".join(policy_table(results)))
        print()
        print("\n".join(forecast_table(paths)))
        print()
        print("\n".join(calibration_table(paths)))
        print(f"\n({len(results)} backtests in {seconds:.0f} s)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="backtest_traces.py", description="Backtest gpuladder on the Helios and Philly GPU traces and print "
                                               "the tables of bench/README.md.")
    parser.add_argument("traces", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "traces",
                        help="folder with helios-earth-by-vc.csv and philly-nodes.csv (default: %(default)s)")
    parser.add_argument("--grid", action="store_true",
                        help="the sensitivity grid (utilization floor x conservative quantile x re-plan cadence) "
                             "instead of the tables")
    parser.add_argument("--stages", choices=sorted(TRACES),
                        help="only the daily defaults row of one trace, with the wall time of each stage")
    args = parser.parse_args(argv)
    missing = [file for file, _, _ in TRACES.values() if not (args.traces / file).is_file()]
    if missing:
        parser.error(f"{args.traces} has no {', '.join(missing)}; pass the traces folder (shared/data/traces)")
    return args


if __name__ == "__main__":
    cli_args = parse_args(sys.argv[1:])
    main(cli_args.traces, grid=cli_args.grid, stages=cli_args.stages)
