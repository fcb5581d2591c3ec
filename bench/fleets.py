"""Synthetic fleets for bench/model_speed.py: F families x S monthly steps x P products.

Families ``b/r1/fNNN`` with on-demand $1-$100/h, spot for two thirds of them; products:
reservations (1y, 3y) x (no, partial, all upfront) per family and compute-wide savings
plans (1y, 3y) x (no, partial, all upfront) covering every family at a uniform discount,
i.e. the structure of AWS's catalog. ``products`` picks the first P of those 12. Demand:
integer instances with a daily and weekly cycle, a trend and noise, over the horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import catalog_from_frames
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import DemandPath, Forecast
from gpuladder.solver.modeldata import ModelOptions, PlanningProblem
from gpuladder.units import add_months, hourly_index

START = pd.Timestamp("2026-01-01", tz="UTC")
PRODUCTS = [(kind, term, pay) for kind in ("reservation", "savings_plan") for term in (12, 36)
            for pay in ("no_upfront", "partial_upfront", "all_upfront")]
UPFRONT = {"no_upfront": 0.0, "partial_upfront": 0.5, "all_upfront": 1.0}
DISCOUNT = {("reservation", 12): 0.62, ("reservation", 36): 0.42, ("savings_plan", 12): 0.68,
            ("savings_plan", 36): 0.50}
PAY_DISCOUNT = {"no_upfront": 1.0, "partial_upfront": 0.96, "all_upfront": 0.93}


def fleet(n_families: int, n_steps: int, n_products: int = 12, *, seed: int = 0, hours_per_month=None,
          paths: int = 1, min_utilization: float | None = 0.95, options: ModelOptions | None = None):
    """A planning problem over ``n_steps`` months. ``hours_per_month`` (None = calendar)
    squeezes each month's demand pattern into fewer distinct hours to show that the model
    size does not depend on it."""
    rng = np.random.default_rng(seed)
    fams = [f"b/r1/f{i:03d}" for i in range(n_families)]
    od = np.round(rng.uniform(1.0, 100.0, n_families), 3)
    has_spot = rng.random(n_families) < 0.67
    spot = np.where(has_spot, np.round(od * rng.uniform(0.3, 0.6, n_families), 3), np.nan)
    fam_df = pd.DataFrame({"family": fams, "provider": "b", "region": "r1",
                           "instance_type": [f.split("/")[-1] for f in fams], "gpu_model": "X",
                           "gpus_per_instance": 8, "on_demand_usd_per_hour": od, "spot_usd_per_hour": spot,
                           "interruption_bucket": rng.choice(["<5%", "5-10%", "10-15%"], n_families),
                           "source": "bench", "as_of": "2026-01-01"})
    rows = []
    for kind, term, pay in PRODUCTS[:n_products]:
        disc = DISCOUNT[(kind, term)] * PAY_DISCOUNT[pay]
        name = f"{'ri' if kind == 'reservation' else 'csp'}-{term}m-{pay}"
        rows += [{"product": name, "provider": "b", "kind": kind, "term_months": term, "payment": pay,
                  "upfront_share": UPFRONT[pay], "family": f, "rate_usd_per_hour": float(np.round(o * disc, 4)),
                  "source": "bench", "as_of": "2026-01-01"} for f, o in zip(fams, od)]
    cat = catalog_from_frames(fam_df, pd.DataFrame(rows), origin="bench")
    index = hourly_index(START, add_months(START, n_steps))
    base = rng.uniform(2, 30, n_families)
    t = np.arange(len(index))[:, None]
    if hours_per_month is not None:   # fold each month onto hours_per_month distinct hours
        month_start = np.searchsorted(index, pd.DatetimeIndex([add_months(START, m) for m in range(n_steps)]),
                                      side="right") - 1
        t = (t - month_start[np.searchsorted(month_start, t[:, 0], side="right") - 1][:, None]) % hours_per_month
    daily = 1 + 0.3 * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6, n_families))
    weekly = 1 + 0.15 * np.sin(2 * np.pi * t / 168 + rng.uniform(0, 6, n_families))
    trend = 1 + rng.uniform(-0.01, 0.03, n_families) * np.arange(len(index))[:, None] / 730
    noise_rng = np.random.default_rng(seed + 1)
    noise = noise_rng.normal(0, 0.08, (hours_per_month or len(index), n_families))
    noise = noise[t[:, 0] % len(noise)] if hours_per_month else noise
    demand = np.maximum(np.round(base * daily * weekly * trend * (1 + noise)), 0.0)
    inter = np.where(has_spot, np.floor(demand * rng.uniform(0, 0.5, n_families)), 0.0)
    fc = _paths(index, fams, demand, inter, paths)
    cons = Constraints(min_utilization=min_utilization, spot_cap=0.6, spot_rework_overhead=0.05)
    return PlanningProblem(fc, cat, CommitmentBook.empty(), ProductFilter(terms_months=None), cons,
                           options or ModelOptions())


def _paths(index, fams, demand, inter, paths: int) -> Forecast:
    def frame(a):
        return pd.DataFrame(a, index=index, columns=fams)

    if paths == 1:
        return Forecast("bench", (DemandPath("P50", 1.0, frame(demand), frame(inter)),), expected="P50")
    low, high = np.floor(demand * 0.85), np.ceil(demand * 1.15)
    return Forecast("bench", (DemandPath("P10", 0.3, frame(low), frame(np.minimum(inter, low))),
                              DemandPath("P50", 0.4, frame(demand), frame(inter)),
                              DemandPath("P90", 0.3, frame(high), frame(inter))),
                    expected="P50", conservative="P10")
