"""Hold-out accuracy of the seasonal and trend forecasts on the real traces, and their speed.

Usage: python bench/forecast_accuracy.py [--traces ../shared/data/traces]

For each trace (total GPUs over its families; hours with no rows or where every family
reads zero are masked, as `--gaps mask` would) and each cut day, the forecast is fitted on
the days before the cut and compared with the actual days after it (up to 31 days):

- bias: mean P50 / mean actual - 1 (the level error that matters to a committed floor);
- MAE: mean |P50 - actual| / mean actual, hourly;
- cover: share of days whose actual mean lies in [P10, P90] of that day (nominal 0.80).

Then the wall time of a 200-family, 180-day history forecast over 36 months.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.solver.forecast import make_forecast
from gpuladder.usage.history import profile_from_frames

CUTS = {"philly-nodes.csv": (21, 35, 49), "helios-earth-by-vc.csv": (14, 21)}
HORIZON_DAYS = 31


def total_series(path: Path) -> pd.DataFrame:
    rows = pd.read_csv(path)
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True)
    wide = rows.pivot_table(index="timestamp", columns="family", values="gpus", aggfunc="sum")
    full = pd.date_range(wide.index[0], wide.index[-1], freq="h", tz="UTC")
    wide = wide.reindex(full)
    total = wide.sum(axis=1, min_count=1)
    return total.where(total > 0).to_frame("total")


def holdout(total: pd.DataFrame, cut_days: int, method: str) -> dict:
    cut = total.index[0] + pd.Timedelta(days=cut_days)
    history, future = total[total.index < cut], total[total.index >= cut].iloc[:HORIZON_DAYS * 24]
    fc = make_forecast(profile_from_frames(history), ForecastSpec(method, 90, 0.0, 0.1), Horizon(None, 2))
    n = len(future)
    actual = future["total"].to_numpy()
    ok = ~np.isnan(actual)
    path = {name: fc.path(name).demand_instances["total"].to_numpy()[:n] for name in ("P10", "P50", "P90")}
    day = np.arange(n)[ok] // 24

    def daily(x):
        return pd.Series(x[ok]).groupby(day).mean().to_numpy()

    act, lo, hi = daily(actual), daily(path["P10"]), daily(path["P90"])
    return {"hours": n, "bias": path["P50"][ok].mean() / actual[ok].mean() - 1,
            "mae": np.abs(path["P50"][ok] - actual[ok]).mean() / actual[ok].mean(),
            "cover": float(np.mean((act >= lo) & (act <= hi))),
            "band": float(np.mean(hi - lo) / actual[ok].mean())}


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
    args = parser.parse_args()
    print(f"{'trace':24s} {'cut':>4s} {'method':8s} {'hours':>5s} {'bias':>7s} {'MAE':>6s} "
          f"{'band/mean':>9s} {'cover':>5s}")
    for name, cuts in CUTS.items():
        total = total_series(args.traces / name)
        for cut in cuts:
            for method in ("seasonal", "trend"):
                r = holdout(total, cut, method)
                print(f"{name:24s} {cut:3d}d {method:8s} {r['hours']:5d} {r['bias']:+7.1%} {r['mae']:6.1%} "
                      f"{r['band']:9.1%} {r['cover']:5.2f}")
    print(f"seasonal forecast, 200 families, 180-day history, 36-month horizon: {speed():.2f} s")


if __name__ == "__main__":
    main()
