"""Hold-out accuracy of the seasonal and trend forecasts on the real traces, and their speed.

Usage: python bench/forecast_accuracy.py [--traces ../shared/data/traces] [--lookback 28]

Series: each trace's total GPUs (hours with no rows or where every family reads zero are
the traces' logging gaps: masked, as ``--gaps mask`` would), and each Helios tenant (the
same hours masked; a tenant reading zero is real). At each cut the forecast is fitted on
the hours before the cut and compared with the actual hours after it (up to 31 days).
Rolling cuts: Philly every 7 days from day 14 to day 63, Helios every 2 days from day 8 to
day 24 (at least 7 days are left to score). Pooled over cuts:

- bias: sum(P50 - actual) / sum(actual) per cut, pooled over cuts weighted by their
  actual usage (signed; abs bias pools |sum(P50 - actual)| per cut the same way);
- day MAPE: mean |P50 - actual| of the daily means over mean actual (scaled by the mean,
  as tenants have days at zero where a per-day percentage is undefined);
- day in P10-P90 / day >= P10: share of days (>= 12 observed hours) whose actual mean
  lies inside the band of that day / at or above the P10 path's mean (nominal 80% / 90%);
- hour in P10-P90 / hour >= P10: the same over single hours (the paths replay hourly
  residuals; their band is a band of the level, so hours fall outside it more often);
- band: mean (P90 - P10) of the daily means over mean actual.

Horizon table: each Helios tenant fitted on the whole trace, what the forecast says: the
last week's mean, P50 over month 1, and P10 / P50 / P90 over month 12.

Then the wall time of a 200-family, 180-day history forecast over 36 months.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.solver.forecast import MEAN_MONTH_HOURS, make_forecast
from gpuladder.usage.history import profile_from_frames

TRACES = {"philly": "philly-nodes.csv", "helios": "helios-earth-by-vc.csv"}
ROLLING_CUTS = {"philly": range(14, 64, 7), "helios": range(8, 25, 2)}
HORIZON_DAYS = 31
MIN_DAY_HOURS = 12
MIN_MEAN = 0.5  # a window whose actual mean is below this many GPUs is not scored (bias undefined)


def read_wide(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(total, per-family frame), hourly, logging gaps masked in both."""
    rows = pd.read_csv(path)
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True)
    wide = rows.pivot_table(index="timestamp", columns="family", values="gpus", aggfunc="sum")
    full = pd.date_range(wide.index[0], wide.index[-1], freq="h", tz="UTC")
    wide = wide.reindex(full)
    total = wide.sum(axis=1, min_count=1)
    gap = ~(total > 0)
    return total.where(~gap).to_frame("total"), wide.fillna(0.0).where(~gap, np.nan, axis=0)


@dataclass
class Scores:
    """Per cut and per scored day/hour, pooled over the cuts of one row of a table."""

    bias: list  # (sum of P50 - actual, sum of actual) per cut
    day_err: list
    day_mean: list
    day_in: list
    day_above: list
    hour_in: list
    hour_above: list
    band: list
    calibrated: int = 0

    @classmethod
    def empty(cls) -> Scores:
        return cls([], [], [], [], [], [], [], [])

    def row(self) -> str:
        if not self.bias:
            return "| - | - | - | - | - | - | - | - |"
        diff, act = np.array(self.bias).T
        mape = np.mean(np.concatenate(self.day_err)) / np.mean(np.concatenate(self.day_mean))
        pct = lambda x: f"{np.mean(np.concatenate(x)):.0%}"  # noqa: E731
        return (f"| {len(diff)} | {diff.sum() / act.sum():+.1%} | {np.abs(diff).sum() / act.sum():.1%} | {mape:.1%} | {pct(self.day_in)} | "
                f"{pct(self.day_above)} | {pct(self.hour_in)} | {pct(self.hour_above)} | "
                f"{np.mean(self.band):.0%} |")


HEADER = ("| cuts | bias | abs bias | day MAPE | day in P10-P90 | day >= P10 | hour in P10-P90 | hour >= P10 "
          "| band |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def score_cut(series: pd.Series, cut_days: int, method: str, lookback: int, scores: Scores) -> None:
    cut = series.index[0] + pd.Timedelta(days=cut_days)
    history = series[series.index < cut].to_frame("f")
    future = series[series.index >= cut].iloc[:HORIZON_DAYS * 24]
    actual = future.to_numpy()
    ok = ~np.isnan(actual)
    if np.nanmean(actual) < MIN_MEAN or history["f"].notna().sum() < 7 * 24:
        return
    fc = make_forecast(profile_from_frames(history), ForecastSpec(method, lookback, 0.0, 0.1), Horizon(None, 2))
    n = len(future)
    p10, p50, p90 = (fc.path(name).demand_instances["f"].to_numpy()[:n] for name in ("P10", "P50", "P90"))
    scores.calibrated += not any("rolling-origin" in note for note in fc.notes)
    day = np.arange(n) // 24
    frame = pd.DataFrame({"a": actual, "p10": p10, "p50": p50, "p90": p90, "day": day})[ok]
    g = frame.groupby("day")
    daily = g.mean()[g.size() >= MIN_DAY_HOURS]
    mean_actual = actual[ok].mean()
    scores.bias.append((p50[ok].sum() - actual[ok].sum(), actual[ok].sum()))
    scores.day_err.append(np.abs(daily["p50"] - daily["a"]).to_numpy())
    scores.day_mean.append(daily["a"].to_numpy())
    scores.day_in.append(((daily["a"] >= daily["p10"]) & (daily["a"] <= daily["p90"])).to_numpy())
    scores.day_above.append((daily["a"] >= daily["p10"]).to_numpy())
    a = actual[ok]
    scores.hour_in.append((a >= p10[ok]) & (a <= p90[ok]))
    scores.hour_above.append(a >= p10[ok])
    scores.band.append(float((daily["p90"] - daily["p10"]).mean() / mean_actual))


def rolling_tables(traces: Path, lookback: int) -> list[str]:
    lines = [f"Totals, rolling cuts (lookback {lookback} days):", "",
             "| trace | method | calibrated cuts " + HEADER.split("\n")[0],
             "|---|---|---:" + HEADER.split("\n")[1]]
    tenants = None
    for trace, file in TRACES.items():
        total, wide = read_wide(traces / file)
        if trace == "helios":
            tenants = wide
        for method in ("seasonal", "trend"):
            s = Scores.empty()
            for cut in ROLLING_CUTS[trace]:
                score_cut(total["total"], cut, method, lookback, s)
            lines.append(f"| {trace} | {method} | {s.calibrated} {s.row()}")
    lines += ["", f"Helios tenants, seasonal, rolling cuts (lookback {lookback} days):", "",
              "| tenant | mean GPUs | calibrated cuts " + HEADER.split("\n")[0],
              "|---|---:|---:" + HEADER.split("\n")[1]]
    pooled = Scores.empty()
    for tenant in tenants.columns:
        s = Scores.empty()
        for cut in ROLLING_CUTS["helios"]:
            score_cut(tenants[tenant], cut, "seasonal", lookback, s)
        for field in ("bias", "day_err", "day_mean", "day_in", "day_above", "hour_in", "hour_above", "band"):
            getattr(pooled, field).extend(getattr(s, field))
        pooled.calibrated += s.calibrated
        lines.append(f"| {tenant} | {tenants[tenant].mean():.1f} | {s.calibrated} {s.row()}")
    lines.append(f"| all tenants | | {pooled.calibrated} {pooled.row()}")
    return lines


def horizon_table(traces: Path, lookback: int) -> list[str]:
    _, wide = read_wide(traces / TRACES["helios"])
    lines = [f"Helios tenants fitted on all 31 days (lookback {lookback} days), 12-month horizon (GPUs):", "",
             "| tenant | last week mean | P50 month 1 | P50 month 12 | P10 month 12 | P90 month 12 | P10 / P50 month 12 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    month = int(MEAN_MONTH_HOURS)
    for tenant in wide.columns:
        y = wide[[tenant]]
        fc = make_forecast(profile_from_frames(y), ForecastSpec("seasonal", lookback, 0.0, 0.1), Horizon(None, 12))
        p10, p50, p90 = (fc.path(n).demand_instances[tenant].to_numpy()[-month:].mean() for n in ("P10", "P50", "P90"))
        first = fc.path("P50").demand_instances[tenant].to_numpy()[:month].mean()
        ratio = f"{p10 / p50:.2f}" if p50 >= MIN_MEAN else "-"
        lines.append(f"| {tenant} | {np.nanmean(y.to_numpy()[-168:]):.1f} | {first:.1f} | {p50:.1f} | {p10:.1f} | "
                     f"{p90:.1f} | {ratio} |")
    return lines


def speed() -> float:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2025-01-01", periods=180 * 24, freq="h", tz="UTC")
    demand = pd.DataFrame(rng.gamma(2, 5, (len(idx), 200)), index=idx,
                          columns=[f"aws/us-east-1/f{i}" for i in range(200)])
    profile = profile_from_frames(demand, demand * 0.2)
    t0 = time.perf_counter()
    make_forecast(profile, ForecastSpec("seasonal", 90, 0.01, 0.05), Horizon(None, 36))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data" / "traces")
    parser.add_argument("--lookback", type=int, default=28)
    args = parser.parse_args()
    print("\n".join(rolling_tables(args.traces, args.lookback)))
    print()
    print("\n".join(horizon_table(args.traces, args.lookback)))
    print(f"\nseasonal forecast, 200 families, 180-day history, 36-month horizon: {speed():.2f} s")


if __name__ == "__main__":
    main()
