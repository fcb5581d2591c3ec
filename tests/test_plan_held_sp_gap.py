"""A held savings plan short of the utilization floor: what the plan buys on top of it is
still held to the floor (session 6).

With inventory whose use the model reads through bounds, ``sunk_floor_shortfall`` measures
what "buy nothing" misses the floor by and lowers the floors by it. It minimized the total
waiver of all rows at once; in split cells the $/h a held plan gives its family is free
below its capacity, and every other row (the compute-wide plans, the family's
reservations, the plan of the other term) subtracts it, so the least total put their
shortfall on the held plan's row, whose slack then bought more of it: 12 $/h held of the
g6e plan bought 4.06 more, used 38% on P10 on its own (the default example with 12.7 $/h
held: 3.2 more, 82%). Held rows are now measured first.

Two forecast paths (P10 = 0.8 x P50) over 14 days, g6e and p5 coupled by the compute
savings plans, noisy demand (split cells, coarse layers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.backends import solve
from gpuladder.solver.book import make_purchases
from gpuladder.solver.forecast import DemandPath, Forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.model import PURCHASES, build_model
from gpuladder.solver.model_cover import FLOOR_WAIVER
from gpuladder.solver.modeldata import PlanningProblem, dispatch_rules, prepare
from gpuladder.solver.plan import SP_QUANTUM_USD_PER_HOUR, plan_problem, sunk_floor_shortfall
from gpuladder.solver.simulate import simulate
from gpuladder.units import hourly_index

G6E, P5 = "aws/us-east-1/g6e.12xlarge", "aws/us-east-1/p5.48xlarge"
G6E_PLAN = "aws-ec2sp-us-east-1-g6e-3y-all_upfront"
CSP = "aws-csp-3y-all_upfront"
RI = "aws-ri-3y-all_upfront"
START = pd.Timestamp("2026-01-01", tz="UTC")
HOURS = 24 * 14
U = 0.95


@pytest.fixture(scope="module")
def catalog():
    return embedded_catalog()


def _problem(catalog, seed: int, g6e: tuple[float, float], held: list[tuple[str, str, float]],
             p10_share: float) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    idx = hourly_index(START, START + pd.Timedelta(hours=HOURS))
    g = (g6e[0] + rng.uniform(0.0, g6e[1] - g6e[0], HOURS)).round(2)
    p = (3.0 + rng.uniform(0.0, 5.0, HOURS)).round(2)
    p50 = pd.DataFrame({G6E: g, P5: p}, index=idx)
    none = p50 * 0.0
    forecast = Forecast("test", (DemandPath("P10", 0.5, p50 * p10_share, none), DemandPath("P50", 0.5, p50, none)),
                        expected="P50", conservative="P10")
    rows = [{"product": prod, "family": fam, "quantity": q, "start": START - pd.Timedelta(days=30)}
            for prod, fam, q in held]
    inv = make_purchases(catalog, pd.DataFrame(rows), origin="inventory", id_prefix="inv")
    return PlanningProblem(forecast, catalog, inv, ProductFilter(providers=("aws",)), Constraints(min_utilization=U))


def _used_usd(problem, book, path: str, product: str) -> float:
    p = problem.forecast.path(path)
    bc = simulate(book, p.demand_instances, p.interruptible_instances, problem.catalog,
                  dispatch_rules(problem)).by_commitment
    return float(bc.loc[bc["product"] == product, "used_usd"].sum())


def _with(problem, product: str, usd_per_hour: float):
    extra = pd.DataFrame([{"product": product, "family": "", "quantity": usd_per_hour, "start": START}])
    return problem.inventory.concat(make_purchases(problem.catalog, extra, id_prefix="buy"))


HELD_PLAN = dict(seed=5, g6e=(2.0, 6.0), held=[(G6E_PLAN, "", 12.0)], p10_share=0.8)
HELD_RI_AND_CSP = dict(seed=4, g6e=(4.0, 9.0), held=[(RI, G6E, 4.0), (CSP, "", 100.0)], p10_share=0.7)


@pytest.mark.parametrize("case, product", [(HELD_PLAN, G6E_PLAN), (HELD_RI_AND_CSP, CSP)],
                         ids=["held-g6e-plan", "held-reservations-and-compute-plan"])
def test_no_top_up_of_a_held_plan_that_no_top_up_could_keep_at_the_floor(catalog, case, product):
    """Oracle (the billing simulator): on P10, the first $0.001/h above what is held is used
    less than the floor, and a plan's use is concave in its $/h (each hour uses min(C,
    need)), so no quantity bought on top holds the floor: the plan must buy none of it.
    The old measurement bought 4.062 of the g6e plan (used 38% on P10) and 19.95 of the
    compute plan (32%)."""
    problem = _problem(catalog, **case)
    held_usd = sum(q for prod, _, q in case["held"] if prod == product)
    step = SP_QUANTUM_USD_PER_HOUR
    first = (_used_usd(problem, _with(problem, product, step), "P10", product)
             - _used_usd(problem, problem.inventory, "P10", product)) / (step * HOURS)
    assert first < U
    held_use = _used_usd(problem, problem.inventory, "P10", product) / (held_usd * HOURS)
    assert held_use < U                                   # the held plan misses the floor on its own
    plan = plan_problem(problem, SolverOptions())
    assert any("miss the utilization floor" in w for w in plan.warnings)   # the shortfall path ran
    assert product not in set(plan.purchases["product"])


def test_every_product_bought_holds_the_floor_on_its_own(catalog):
    """What is bought of each savings-plan product, dispatched after what is held, is used at
    least the floor on P10 over the horizon and on P50 (one 14-day month), up to the $/h
    quantum."""
    problem = _problem(catalog, **HELD_PLAN)
    plan = plan_problem(problem, SolverOptions())
    bought = plan.purchases[plan.purchases["kind"] == "savings_plan"].groupby("product")["quantity"].sum()
    assert len(bought)                                     # p5 is worth a plan: the check is not empty
    for product, qty in bought.items():
        for path in ("P10", "P50"):
            added = _used_usd(problem, plan.book, path, product) - _used_usd(problem, problem.inventory, path, product)
            assert added >= (U * qty - SP_QUANTUM_USD_PER_HOUR) * HOURS, (product, path, added / (qty * HOURS))


def test_a_held_plan_is_waived_only_what_the_model_misreads_of_its_own_use(catalog):
    """The held plan's waiver is the least its own row needs with every other row free (the
    model's misreading of the held plan alone, coarse layers here), not what the other
    rows' shortfall pushes onto it; and with all the measured waivers "buy nothing" holds."""
    problem = _problem(catalog, **HELD_PLAN)
    shortfall = sunk_floor_shortfall(problem, SolverOptions())
    assert shortfall is not None
    own = shortfall.loc[("savings_plan", G6E_PLAN)].sum()
    lp = build_model(prepare(problem), problem.constraints).lp
    keys = lp.index(FLOOR_WAIVER)
    ub, cost = lp.col_ub.copy(), np.zeros(lp.n_cols)
    ub[lp.cols(PURCHASES)] = 0.0
    ub[lp.cols(FLOOR_WAIVER)] = np.inf
    cost[lp.cols(FLOOR_WAIVER)] = [1.0 if k[:2] == ("savings_plan", G6E_PLAN) else 0.0 for k in keys]
    least = solve(lp.with_columns(ub=ub, cost=cost), SolverOptions())
    assert own == pytest.approx(float(cost @ least.x), rel=1e-4, abs=1e-3)
    # the model's misreading is small against the held plan's $ (a coarse-layer chord)
    assert own < 0.01 * 12.0 * HOURS
    ub = lp.col_ub.copy()
    ub[lp.cols(PURCHASES)] = 0.0
    ub[lp.cols(FLOOR_WAIVER)] = shortfall.reindex(keys).fillna(0.0).to_numpy()
    assert solve(lp.with_columns(ub=ub), SolverOptions()).has_solution
