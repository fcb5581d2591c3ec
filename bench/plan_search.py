"""What the savings-plan floor fix buys and costs (docs/model.md, floor rows): one synthetic
fleet (bench/fleets.py) planned three ways, each simulated.

- ungated: the model as before the fix (solver.plan._plan_once: one build, one solve);
- product-set search: ``plan_problem`` as shipped for models above GATED_MAX_COLUMNS;
- gated MIP: the floor rows gated with binaries (what small models get), forced here.

Run: python bench/plan_search.py [--headline]     (30 x 12 x 12: about 30 s; --headline adds
100 x 36 x 12: about 3 minutes more)
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleets import fleet  # noqa: E402

from gpuladder.solver import plan as plan_module  # noqa: E402
from gpuladder.solver.lp import SolverOptions  # noqa: E402

SOLVER = SolverOptions(time_limit_s=120, mip_gap=1e-3)


def run(families: int, steps: int, products: int, gated: bool = True) -> list[str]:
    prob = fleet(families, steps, products, seed=0, paths=1, min_utilization=0.95)
    rows = []
    ways = [("ungated (before)", lambda: plan_module._plan_once(prob, SOLVER, "fleet", None, ())),
            ("product-set search", lambda: plan_module.plan_problem(prob, SOLVER))]
    if gated:
        ways.append(("gated MIP (binaries)", lambda: plan_module._plan_once(
            replace(prob, options=replace(prob.options, gate_floors=True)), SOLVER, "fleet", None, ())))
    for label, how in ways:
        t0 = time.perf_counter()
        plan = how()
        r = plan.solver
        rows.append(f"| {families} x {steps} x {products} | {label} | {time.perf_counter() - t0:.1f} | "
                    f"{r.simulated_objective_usd:,.0f} | {r.difference_share:+.2%} |")
    return rows


def main(headline: bool) -> None:
    old = plan_module.GATED_MAX_COLUMNS
    plan_module.GATED_MAX_COLUMNS = 0          # the fleets' product-set path, whatever their size
    try:
        lines = ["| fleet | plan | seconds | simulated cost $ | model vs simulated |", "|---|---|---:|---:|---:|"]
        lines += run(30, 12, 12)
        if headline:
            lines += run(100, 36, 12, gated=False)
    finally:
        plan_module.GATED_MAX_COLUMNS = old
    print("\n".join(lines))


if __name__ == "__main__":
    main("--headline" in sys.argv[1:])
