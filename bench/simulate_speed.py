"""Time the billing simulator on synthetic books: hours x families x commitments.

Usage: python bench/simulate_speed.py [--repeat 3]

Prints one row per size with the best wall time of ``--repeat`` runs. The catalog,
demand and book are random but seeded, so runs are comparable across machines.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import load_catalog
from gpuladder.solver.book import make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate

SIZES = [(744, 10, 5), (8760, 100, 50), (8760, 200, 100), (26280, 100, 50)]
BUCKETS = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
START = pd.Timestamp("2026-01-01", tz="UTC")


def synthetic_catalog(folder: Path, n_families: int, rng: np.random.Generator):
    """n families with spot on most; a reservation per family, one savings plan per group
    of 10 families and one compute-wide plan."""
    names = [f"aws/us-east-1/g{k:03d}.48xlarge" for k in range(n_families)]
    od = rng.uniform(1.0, 100.0, n_families)
    spot = np.where(rng.random(n_families) < 0.8, od * rng.uniform(0.3, 0.9, n_families), np.nan)
    fam = pd.DataFrame({"family": names, "provider": "aws", "region": "us-east-1",
                        "instance_type": [n.split("/")[-1] for n in names], "gpu_model": "H100",
                        "gpus_per_instance": 8, "on_demand_usd_per_hour": od.round(4),
                        "spot_usd_per_hour": np.round(spot, 4),
                        "interruption_bucket": rng.choice(BUCKETS, n_families), "source": "bench",
                        "as_of": "2026-01-01"})
    rows = []
    for k, n in enumerate(names):
        rows.append(("ri", "reservation", n, od[k] * 0.6))
        rows.append((f"sp-g{k // 10}", "savings_plan", n, od[k] * 0.7))
        rows.append(("sp-all", "savings_plan", n, od[k] * 0.8))
    com = pd.DataFrame(rows, columns=["product", "kind", "family", "rate_usd_per_hour"])
    com = com.assign(provider="aws", term_months=12, payment="no_upfront", upfront_share=0.0,
                     source="bench", as_of="2026-01-01")
    com["rate_usd_per_hour"] = com["rate_usd_per_hour"].round(4)
    fam.to_csv(folder / "families.csv", index=False)
    com[["product", "provider", "kind", "term_months", "payment", "upfront_share", "family",
         "rate_usd_per_hour", "source", "as_of"]].to_csv(folder / "commitments.csv", index=False)
    return load_catalog(folder), names


def synthetic_case(n_hours: int, n_families: int, n_commitments: int, folder: Path):
    rng = np.random.default_rng(n_hours + 7 * n_families + 13 * n_commitments)
    catalog, names = synthetic_catalog(folder, n_families, rng)
    hours = pd.date_range(START, periods=n_hours, freq="h", tz="UTC")
    base = rng.uniform(0, 20, n_families)
    daily = 1 + 0.5 * np.sin(2 * np.pi * np.arange(n_hours) / 24)[:, None]
    demand = np.maximum(base * daily + rng.normal(0, 2, (n_hours, n_families)), 0.0)
    inter = demand * rng.uniform(0, 1, n_families)
    n_sp = max(1, n_commitments // 5)
    groups = sorted({f"sp-g{k // 10}" for k in range(n_families)})
    res_fam = rng.choice(names, n_commitments - n_sp)
    purchases = pd.DataFrame({
        "product": ["ri"] * len(res_fam) + ["sp-all"] + list(rng.choice(groups, n_sp - 1)),
        "family": list(res_fam) + [""] * n_sp,
        "quantity": list(rng.integers(1, 10, len(res_fam)).astype(float)) + list(rng.uniform(10, 200, n_sp)),
        "start": START + pd.to_timedelta(rng.integers(-8000, n_hours, n_commitments), unit="h"),
    })
    book = make_purchases(catalog, purchases)
    return (book, pd.DataFrame(demand, index=hours, columns=names),
            pd.DataFrame(inter, index=hours, columns=names), catalog)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rules = DispatchRules(0.6, {"<5%": 0.02, "5-10%": 0.05, "10-15%": 0.08, "15-20%": 0.12, ">20%": 0.2})
    print(f"{'hours':>6} {'families':>8} {'commitments':>11} {'best_s':>8} {'cost_usd':>16}")
    for n_hours, n_families, n_commitments in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            book, demand, inter, catalog = synthetic_case(n_hours, n_families, n_commitments, Path(folder))
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = simulate(book, demand, inter, catalog, rules)
            times.append(time.perf_counter() - t0)
        print(f"{n_hours:>6} {n_families:>8} {n_commitments:>11} {min(times):>8.3f} {result.kpis.cost_usd:>16,.0f}")


if __name__ == "__main__":
    main()
