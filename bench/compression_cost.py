"""What the model's compression costs (session 10): each case planned twice, with the default
``ModelOptions`` and with ``max_hour_types`` / ``max_layers`` large enough that every cell is
exact (hour types for coupled families, every kink kept in layers), and both plans priced by
the billing simulator on every forecast path.

    python bench/compression_cost.py            # the grid (about 8 minutes on 2 cores)
    python bench/compression_cost.py --quick    # four cases

Cases: 2-6 AWS us-east-1 families of the embedded catalog coupled by the compute savings
plan, demand with daily and weekly cycles and noise (so a month has more than 64 distinct
joint hours), 1 or 3 forecast paths, utilization floor 0.95 or none, 1-3 months, product
filters ``csp`` (compute plans only), ``csp+ri`` (compute plans and reservations), ``all``
(every AWS product: instance-family savings plans too), and a held p5 plan (the case of
tests/test_held_family_plan_floor.py). Prints a markdown table and a summary.

The exact model is larger than 5,000 columns in most cases, so ``plan_problem`` runs its
product-set search there (a heuristic under the time limit) where the default model gets the
gated MIP: when the exact plan costs more than the default one, the exact model is planned
again on the default plan's products alone and the cheaper of its two plans is kept (the
row says so), so that the comparison measures the compression, not the search.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.forecast import DemandPath, Forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.model import build_model
from gpuladder.solver.modeldata import ModelOptions, PlanningProblem, dispatch_rules, prepare
from gpuladder.solver.plan import GATED_MAX_COLUMNS, plan_problem
from gpuladder.solver.plan_warnings import floor_keys
from gpuladder.solver.simulate import simulate
from gpuladder.units import add_months, hourly_index

FAMILIES = ("aws/us-east-1/g6e.12xlarge", "aws/us-east-1/p5.48xlarge", "aws/us-east-1/g5.48xlarge",
            "aws/us-east-1/p4d.24xlarge", "aws/us-east-1/inf2.48xlarge", "aws/us-east-1/g6.12xlarge")
START = pd.Timestamp("2027-01-01", tz="UTC")
PAYMENTS = ("all_upfront", "no_upfront", "partial_upfront")
CSP = tuple(f"aws-csp-{t}-{p}" for t in ("1y", "3y") for p in PAYMENTS)
RI = tuple(f"aws-ri-{t}-{p}" for t in ("1y", "3y") for p in PAYMENTS)
FILTERS = {"csp": ProductFilter(providers=("aws",), ids=CSP),
           "csp+ri": ProductFilter(providers=("aws",), ids=CSP + RI),
           "all": ProductFilter(providers=("aws",))}
HELD_PLAN = "aws-ec2sp-us-east-1-p5-3y-all_upfront"
EXACT = ModelOptions(max_hour_types=10**7, max_layers=10**7)
FLOOR_TOLERANCE = 1e-3   # plan_warnings.FLOOR_CHECK_TOLERANCE: what rounding the purchases may cost
U = 0.95


@dataclass(frozen=True)
class Case:
    families: int
    filter: str
    months: int = 1
    paths: int = 1
    floor: bool = True
    seed: int = 0
    held_usd_per_hour: float = 0.0

    @property
    def name(self) -> str:
        held = f" held p5 {self.held_usd_per_hour:g}$/h" if self.held_usd_per_hour else ""
        return (f"{self.families}f {self.filter} {self.months}mo {self.paths}p "
                f"floor {'0.95' if self.floor else 'off'} s{self.seed}{held}")


def problem(case: Case, catalog) -> PlanningProblem:
    rng = np.random.default_rng(case.seed)
    nf = case.families
    index = hourly_index(START, add_months(START, case.months))
    t = np.arange(len(index))[:, None]
    base = rng.uniform(6.0, 30.0, nf)
    daily = 1 + 0.35 * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6, nf))
    weekly = 1 + 0.2 * np.sin(2 * np.pi * t / 168 + rng.uniform(0, 6, nf))
    noise = rng.normal(0.0, 0.15, (len(index), nf))
    demand = np.maximum(np.round(base * daily * weekly * (1 + noise)), 0.0)
    inter = np.floor(demand * rng.uniform(0.0, 0.4, nf))
    fams = list(FAMILIES[:nf])

    def frame(a):
        return pd.DataFrame(a, index=index, columns=fams)

    if case.paths == 1:
        fc = Forecast("bench", (DemandPath("P50", 1.0, frame(demand), frame(inter)),), expected="P50")
    else:
        low, high = np.floor(demand * 0.85), np.ceil(demand * 1.15)
        fc = Forecast("bench", (DemandPath("P10", 0.3, frame(low), frame(np.minimum(inter, low))),
                                DemandPath("P50", 0.4, frame(demand), frame(inter)),
                                DemandPath("P90", 0.3, frame(high), frame(inter))),
                      expected="P50", conservative="P10")
    inventory = CommitmentBook.empty()
    if case.held_usd_per_hour:
        inventory = make_purchases(catalog, pd.DataFrame([{
            "product": HELD_PLAN, "family": "", "quantity": case.held_usd_per_hour,
            "start": START - pd.Timedelta(days=30)}]), origin="inventory", id_prefix="inv")
    return PlanningProblem(fc, catalog, inventory, FILTERS[case.filter],
                           Constraints(min_utilization=U if case.floor else None))


def _short(product: str) -> str:
    return (product.replace("aws-ec2sp-us-east-1-", "sp-").replace("aws-", "").replace("_upfront", "")
            .replace("partial", "pu").replace("all", "au").replace("no", "nu"))


def measure(prob: PlanningProblem, solver: SolverOptions) -> dict:
    """Plan ``prob`` and price it on every path with the billing simulator."""
    data = prepare(prob)
    modes = data.cells["mode"].value_counts()
    resolution = "/".join(f"{m} {modes[m]}" for m in sorted(modes.index))
    if data.resolution != "exact":
        resolution += f", layers {data.resolution}"
    lp = build_model(data, prob.constraints).lp
    t0 = time.perf_counter()
    plan = plan_problem(prob, solver)
    seconds = time.perf_counter() - t0
    rules = dispatch_rules(prob)
    sims = {p.name: simulate(plan.book, p.demand_instances, p.interruptible_instances, prob.catalog, rules)
            for p in prob.forecast.paths}
    it = plan.book.items
    mine = it["origin"] == "purchase"
    violations = []
    floor_paths = (prob.forecast.expected, prob.forecast.conservative) if prob.constraints.min_utilization else ()
    for name in (p for p in floor_paths if p is not None):
        bc = sims[name].by_commitment.loc[it.loc[mine, "id"]]
        use = bc.groupby([it.loc[mine, "kind"].to_numpy(), floor_keys(it)[mine].to_numpy()])[
            ["used_usd", "amortized_fee_usd"]].sum()
        for (_, key), r in use.iterrows():
            if r.amortized_fee_usd > 0 and r.used_usd < (U - FLOOR_TOLERANCE) * r.amortized_fee_usd:
                violations.append(f"{_short(key)} {r.used_usd / r.amortized_fee_usd:.1%} on {name}")
    bought = plan.purchases.groupby("product")["quantity"].sum()
    return dict(products=frozenset(bought.index), resolution=resolution, vars=lp.n_cols, rows=lp.n_rows,
                strategy="search" if lp.n_cols > GATED_MAX_COLUMNS and prob.constraints.min_utilization else "MIP",
                seconds=seconds, status=plan.solver.status, gap=plan.solver.gap,
                cost=plan.solver.simulated_objective_usd,
                util={n: s.kpis.commitment_utilization for n, s in sims.items()},
                violations=violations,
                bought=", ".join(f"{_short(p)} {q:g}" for p, q in bought.items()) or "nothing")


def run(case: Case, catalog, time_limit_s: float) -> dict:
    prob = problem(case, catalog)
    solver = SolverOptions(time_limit_s=time_limit_s)
    default = measure(prob, solver)
    exact = measure(replace(prob, options=EXACT), solver)
    if exact["cost"] > default["cost"] * (1 + 1e-3):
        # the exact model's own search (or time limit) lost the default's products: plan the
        # exact model on those products alone, and keep the cheaper exact plan
        others = frozenset(catalog.commitments["product"]) - default["products"]
        again = measure(replace(prob, options=replace(EXACT, excluded_products=others)), solver)
        if again["cost"] < exact["cost"]:
            exact = {**exact, **{k: again[k] for k in ("cost", "util", "violations", "bought", "status", "gap")},
                     "resolution": exact["resolution"] + "; won by a re-plan on the default's products"}
        exact["seconds"] += again["seconds"]
    return dict(case=case, default=default, exact=exact, hours=len(prob.forecast.index),
                cost_share=default["cost"] / exact["cost"] - 1)


def _util(m: dict) -> str:
    return "/".join(f"{m['util'][p]:.1%}" if p in m["util"] else "-" for p in ("P10", "P50"))


def _gap(m: dict) -> str:
    return "-" if m["gap"] is None else f"{m['gap']:.1e}"


def table(results: list[dict]) -> str:
    head = ("case", "families", "hours", "resolution default / exact", "variables", "rows", "build+solve s",
            "status (gap)", "simulated cost $ default / exact", "default vs exact", "utilization P10/P50",
            "floor violations", "bought default / exact ($/h of plans, reserved instances)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        d, e = r["default"], r["exact"]
        lines.append("| " + " | ".join((
            r["case"].name, str(r["case"].families), f"{r['hours']:,}",
            f"{d['resolution']} / {e['resolution']}", f"{d['vars']:,} / {e['vars']:,}", f"{d['rows']:,} / {e['rows']:,}",
            f"{d['seconds']:.1f} ({d['strategy']}) / {e['seconds']:.1f} ({e['strategy']})",
            f"{d['status']} ({_gap(d)}) / {e['status']} ({_gap(e)})",
            f"{d['cost']:,.0f} / {e['cost']:,.0f}", f"{r['cost_share']:+.2%}",
            f"{_util(d)} / {_util(e)}", f"{len(d['violations'])} / {len(e['violations'])}"
            + ("".join(f"; {v}" for v in d["violations"] + e["violations"])),
            f"{d['bought']} / {e['bought']}")) + " |")
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    share = pd.Series([r["cost_share"] for r in results])
    by_filter = pd.DataFrame({"filter": [r["case"].filter for r in results], "share": share})
    compressed = [r for r in results if "split" in r["default"]["resolution"]]
    out = [f"cases {len(results)}, split cells in the default model: {len(compressed)}",
           f"default dearer than exact by more than 0.1%: {(share > 1e-3).sum()}, cheaper by more than 0.1%: "
           f"{(share < -1e-3).sum()}; median {share.median():+.2%}, worst {share.max():+.2%}, best {share.min():+.2%}"]
    for f, grp in by_filter.groupby("filter"):
        out.append(f"  {f}: n {len(grp)}, median {grp['share'].median():+.2%}, worst {grp['share'].max():+.2%}")
    ratio_v = pd.Series([r["exact"]["vars"] / r["default"]["vars"] for r in results])
    ratio_t = pd.Series([r["exact"]["seconds"] / max(r["default"]["seconds"], 1e-3) for r in results])
    out.append(f"exact model: variables x{ratio_v.median():.1f} median (x{ratio_v.max():.0f} max), "
               f"plan time x{ratio_t.median():.1f} median (x{ratio_t.max():.0f} max)")
    viol = sum(bool(r["default"]["violations"]) for r in results), sum(bool(r["exact"]["violations"]) for r in results)
    out.append(f"cases with a floor violation (simulator): default {viol[0]}, exact {viol[1]}")
    return "\n".join(out)


GRID = ([Case(f, flt, seed=s) for f in (2, 4, 6) for flt in ("csp", "csp+ri", "all") for s in (0, 1)]
        + [Case(f, "csp", paths=3) for f in (2, 4)]
        + [Case(f, "csp", floor=False) for f in (2, 4)]
        + [Case(2, "csp", months=3), Case(2, "csp+ri", months=3, paths=3)]
        + [Case(2, "csp", paths=3, seed=3, held_usd_per_hour=60.0)])
QUICK = [Case(2, "csp"), Case(2, "csp+ri"), Case(4, "all"), Case(2, "csp", paths=3, seed=3, held_usd_per_hour=60.0)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds per plan (solver.time_limit_s)")
    args = ap.parse_args()
    catalog = embedded_catalog()
    t0 = time.perf_counter()
    results = []
    for case in QUICK if args.quick else GRID:
        results.append(run(case, catalog, args.time_limit))
        print(f"done {case.name} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(table(results))
    print()
    print(summary(results))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s, time limit {args.time_limit:g} s per plan")


if __name__ == "__main__":
    main()
