"""The compressed model against the independent exact hourly formulation
(tests/hourly_reference.py: one set of variables per hour and family, written directly
against highspy) on medium instances: same optimum. Where the model uses its documented
split compression it is never optimistic."""

from __future__ import annotations

import numpy as np
import pytest

from hourly_reference import solve_hourly
from model_instances import EXACT_SOLVE, Product, catalog, family, forecast, horizon, patterned, problem
from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.plan import plan_problem


def _medium(seed: int, *, plans: str, hourly_noise: bool, n_families: int = 3, months: int = 2,
            floors: float | None = None, two_paths: bool = False):
    rng = np.random.default_rng(seed)
    od = np.round(rng.uniform(5.0, 60.0, n_families), 3)
    has_spot = rng.random(n_families) < 0.5
    spot = [float(np.round(o * 0.45, 3)) if h else None for o, h in zip(od, has_spot)]
    products = []
    for i in range(n_families):
        products.append(Product(f"ri-f{i}-1m", "reservation", 1, {family(i): float(np.round(od[i] * 0.6, 3))}))
        products.append(Product(f"ri-f{i}-2m", "reservation", 2, {family(i): float(np.round(od[i] * 0.5, 3))}))
    if plans in ("multi", "both"):
        products.append(Product("sp-all-2m", "savings_plan", 2,
                                {family(i): float(np.round(od[i] * 0.45, 3)) for i in range(n_families)}))
    if plans in ("single", "both"):
        products.append(Product("sp-f0-1m", "savings_plan", 1, {family(0): float(np.round(od[0] * 0.40, 3))}))
        products.append(Product("sp-f1-2m", "savings_plan", 2, {family(1): float(np.round(od[1] * 0.38, 3))}))
    cat = catalog(list(od), spot, products)
    idx = horizon(months)
    if hourly_noise:   # every hour its own level: hundreds of distinct hours per month
        base = rng.uniform(3, 12, n_families)
        demand = np.maximum(np.round(base * (1 + 0.5 * np.sin(np.arange(len(idx))[:, None] / 9.0 + base))
                                     + rng.normal(0, 1.5, (len(idx), n_families))), 0.0)
    else:              # 12 joint patterns per month
        demand = patterned(idx, [rng.integers(0, 6, size=(12, n_families)).astype(float) for _ in range(months)])
    inter = np.floor(demand * 0.4)
    low = np.maximum(demand - 1.0, 0.0) if two_paths else None
    cons = Constraints(min_utilization=floors, spot_cap=0.7, spot_rework_overhead=0.05)
    return problem(forecast(idx, demand, inter, low, weights=(0.6, 0.4)), cat, constraints=cons)


@pytest.mark.parametrize("seed,plans,noise,floors,two_paths", [
    (0, "none", True, 0.9, False),      # reservations + spot + floors, every hour distinct
    (1, "none", True, 0.8, True),       # ... with a conservative path
    (2, "single", True, None, False),   # single-family plans: exact layers
    (3, "multi", False, None, False),   # a multi-family plan over 12 joint patterns: hour types
    (4, "both", False, None, True),     # both kinds of plans, two paths
])
def test_same_optimum_as_the_hourly_formulation(seed, plans, noise, floors, two_paths):
    prob = _medium(seed, plans=plans, hourly_noise=noise, floors=floors, two_paths=two_paths)
    plan = plan_problem(prob, EXACT_SOLVE)
    ref = solve_hourly(prob)
    assert ref.status == "Optimal"
    simulated = float((plan.path_costs["weight"] * plan.path_costs["cost_usd"]).sum())
    assert plan.solver.exact
    assert plan.solver.model_objective_usd == pytest.approx(ref.objective_usd, rel=1e-6)
    assert simulated == pytest.approx(ref.objective_usd, rel=1e-6)
    assert plan.solver.n_variables < ref.n_variables / 20   # the compression is the point


def test_split_compression_is_conservative():
    """A multi-family plan over hours that are all distinct: the model splits the plan's $/h
    among families once per period. It says so (not exact), its objective is never below
    the simulated cost of its own plan, and that cost is never below the true optimum."""
    prob = _medium(5, plans="multi", hourly_noise=True)
    plan = plan_problem(prob, EXACT_SOLVE)
    ref = solve_hourly(prob)
    simulated = float((plan.path_costs["weight"] * plan.path_costs["cost_usd"]).sum())
    assert not plan.solver.exact
    assert plan.solver.model_objective_usd >= simulated * (1 - 1e-9)
    assert simulated >= ref.objective_usd * (1 - 1e-9)
    assert simulated <= ref.objective_usd * 1.01    # and close: within 1% here
