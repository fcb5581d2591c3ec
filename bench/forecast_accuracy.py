"""Hold-out accuracy of the seasonal and trend forecasts on the real traces, and their speed.

Usage: python bench/forecast_accuracy.py [--traces ../shared/data/traces] [--lookback 28] [--seeds 200]

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
- hour in P10-P90 / hour >= P10: the same over single hours;
- week / month in P10-P90, >= P10: the same for the mean of each whole week after the cut
  (168 hours, at least half observed) and for the mean of the first 28 days after it
  (scored when at least 21 days are left in the trace: Philly cuts 14-49, Helios 8-10).
  The P10/P90 paths are level trajectories with the day-to-day variation replayed around
  the level, so week and month means are what their band is meant to cover (80% / 90%);
  days and hours fall outside it more often, by design;
- band: mean (P90 - P10) of the daily means over mean actual.

Horizon table: each Helios tenant fitted on the whole trace, what the forecast says: the
last week's mean, P50 over month 1, and P10 / P50 / P90 over month 12; day sd: the standard
deviation of the day means (days with >= 12 observed hours, each weekday's mean removed) in
the history and in P10's month 12.

Synthetic table: the seeded random walk of tests/test_forecast.py (level 40 + day steps of
sd 1, weekly profile, hourly noise of sd 1; 8 weeks of history, the next 4 weeks scored)
and its steady twin (i.i.d. day levels of sd 1 instead of a walk), pooled over seeds.

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
    week_in: list
    week_above: list
    month_in: list
    month_above: list
    band: list
    calibrated: int = 0

    @classmethod
    def empty(cls) -> Scores:
        return cls([], [], [], [], [], [], [], [], [], [], [], [])

    def row(self) -> str:
        if not self.bias:
            return "| - |" + " - |" * 13
        diff, act = np.array(self.bias).T
        mape = np.mean(np.concatenate(self.day_err)) / np.mean(np.concatenate(self.day_mean))

        def pct(x):
            x = np.concatenate(x) if x else np.zeros(0)
            return f"{np.mean(x):.0%}" if len(x) else "-"

        months = sum(len(m) for m in self.month_in)
        return (f"| {len(diff)} | {diff.sum() / act.sum():+.1%} | {np.abs(diff).sum() / act.sum():.1%} | {mape:.1%} | {pct(self.day_in)} | "
                f"{pct(self.day_above)} | {pct(self.hour_in)} | {pct(self.hour_above)} | {pct(self.week_in)} | "
                f"{pct(self.week_above)} | {pct(self.month_in)} | {pct(self.month_above)} | {months} | "
                f"{np.mean(self.band):.0%} |")


HEADER = ("| cuts | bias | abs bias | day MAPE | day in P10-P90 | day >= P10 | hour in P10-P90 | hour >= P10 "
          "| week in P10-P90 | week >= P10 | month in P10-P90 | month >= P10 | months | band |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
FIELDS = ("bias", "day_err", "day_mean", "day_in", "day_above", "hour_in", "hour_above", "week_in", "week_above",
          "month_in", "month_above", "band")
WEEK_HOURS = 168
MONTH_DAYS, MONTH_MIN_DAYS = 28, 21


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
    frame["week"] = np.arange(n)[ok] // WEEK_HOURS
    g = frame.groupby("week")
    weekly = g.mean()[(g.size() >= WEEK_HOURS // 2) & (g.size().index < n // WEEK_HOURS)]
    scores.week_in.append(((weekly["a"] >= weekly["p10"]) & (weekly["a"] <= weekly["p90"])).to_numpy())
    scores.week_above.append((weekly["a"] >= weekly["p10"]).to_numpy())
    month = frame[frame.index < MONTH_DAYS * 24]
    if n >= MONTH_MIN_DAYS * 24 and len(month) >= MONTH_MIN_DAYS * 12:
        m = month.mean()
        scores.month_in.append(np.array([m["p10"] <= m["a"] <= m["p90"]]))
        scores.month_above.append(np.array([m["a"] >= m["p10"]]))


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
        for field in FIELDS:
            getattr(pooled, field).extend(getattr(s, field))
        pooled.calibrated += s.calibrated
        lines.append(f"| {tenant} | {tenants[tenant].mean():.1f} | {s.calibrated} {s.row()}")
    lines.append(f"| all tenants | | {pooled.calibrated} {pooled.row()}")
    return lines


def horizon_table(traces: Path, lookback: int) -> list[str]:
    _, wide = read_wide(traces / TRACES["helios"])
    lines = [f"Helios tenants fitted on all 31 days (lookback {lookback} days), 12-month horizon (GPUs):", "",
             "| tenant | last week mean | P50 month 1 | P50 month 12 | P10 month 12 | P90 month 12 | P10 / P50 month 12 "
             "| day sd history | day sd P10 month 12 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    month = int(MEAN_MONTH_HOURS)
    for tenant in wide.columns:
        y = wide[[tenant]]
        fc = make_forecast(profile_from_frames(y), ForecastSpec("seasonal", lookback, 0.0, 0.1), Horizon(None, 12))
        p10, p50, p90 = (fc.path(n).demand_instances[tenant].to_numpy()[-month:].mean() for n in ("P10", "P50", "P90"))
        first = fc.path("P50").demand_instances[tenant].to_numpy()[:month].mean()
        ratio = f"{p10 / p50:.2f}" if p50 >= MIN_MEAN else "-"
        p10_month = fc.path("P10").demand_instances[tenant].iloc[-month:]
        lines.append(f"| {tenant} | {np.nanmean(y.to_numpy()[-168:]):.1f} | {first:.1f} | {p50:.1f} | {p10:.1f} | "
                     f"{p90:.1f} | {ratio} | {day_sd(y[tenant]):.1f} | {day_sd(p10_month):.1f} |")
    return lines


def day_sd(series: pd.Series) -> float:
    """Standard deviation of the day means (days with >= MIN_DAY_HOURS observed hours)
    around their weekday's mean."""
    g = series.groupby(series.index.floor("D"))
    days = g.mean()[g.count() >= MIN_DAY_HOURS]
    return float((days - days.groupby(days.index.day_of_week).transform("mean")).std())


def synthetic_table(seeds: int) -> list[str]:
    lines = [f"Synthetic histories, 8 weeks of history, next 4 weeks scored, seeds 0-{seeds - 1}:", "",
             "| day levels | day in P10-P90 | day >= P10 | week in P10-P90 | week >= P10 | month in P10-P90 "
             "| month >= P10 | day sd history | day sd P10 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    hist, ahead = 56 * 24, 28 * 24
    idx = pd.date_range("2025-11-03", periods=hist + ahead, freq="h", tz="UTC")  # a Monday
    how = (idx.day_of_week * 24 + idx.hour).to_numpy()
    pattern = 10 + 3 * np.sin(2 * np.pi * (how % 24) / 24) - 6 * (how // 24 >= 5)
    for kind in ("random walk", "i.i.d."):
        hits = {k: [] for k in ("day", "week", "month")}
        above = {k: [] for k in ("day", "week", "month")}
        sd_hist, sd_p10 = [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            steps = rng.normal(0, 1.0, (hist + ahead) // 24)
            level = 40 + np.repeat(np.cumsum(steps) if kind == "random walk" else steps, 24)
            y = level + pattern + rng.normal(0, 1.0, len(idx))
            history = pd.DataFrame({"f": y[:hist]}, index=idx[:hist])
            fc = make_forecast(profile_from_frames(history), ForecastSpec("seasonal", 90, 0.0, 0.1), Horizon(None, 1))
            p10, p90 = (fc.path(n).demand_instances["f"].to_numpy()[:ahead] for n in ("P10", "P90"))
            a = y[hist:]
            for label, width in (("day", 24), ("week", WEEK_HOURS), ("month", ahead)):
                am, lo, hi = (v.reshape(-1, width).mean(axis=1) for v in (a, p10, p90))
                hits[label].append((am >= lo) & (am <= hi))
                above[label].append(am >= lo)
            sd_hist.append(day_sd(history["f"] - pattern[:hist]))
            sd_p10.append(day_sd(pd.Series(p10 - pattern[hist:], index=idx[hist:])))
        cells = " | ".join(f"{np.mean(np.concatenate(hits[k])):.0%} | {np.mean(np.concatenate(above[k])):.0%}"
                           for k in ("day", "week", "month"))
        lines.append(f"| {kind} | {cells} | {np.mean(sd_hist):.2f} | {np.mean(sd_p10):.2f} |")
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
    parser.add_argument("--seeds", type=int, default=200, help="seeds of the synthetic table")
    args = parser.parse_args()
    missing = [f for f in TRACES.values() if not (args.traces / f).is_file()]
    if missing:
        parser.error(f"{args.traces} lacks {', '.join(missing)}: give the traces' folder with --traces DIR "
                     "(the shared data's traces/, see its README; they are not in this repository)")
    print("\n".join(rolling_tables(args.traces, args.lookback)))
    print()
    print("\n".join(horizon_table(args.traces, args.lookback)))
    print()
    print("\n".join(synthetic_table(args.seeds)))
    print(f"\nseasonal forecast, 200 families, 180-day history, 36-month horizon: {speed():.2f} s")


if __name__ == "__main__":
    main()
