"""Sunk commitments that miss the utilization floor even when nothing is bought: the plan
lowers each floor by exactly that shortfall (measured with every purchase fixed at 0), says
so, and still holds what it buys to the floor. Regression: weekly backtest re-plans on the
Philly trace came back infeasible once earlier purchases (reservations plus a savings plan
covering the same family) exceeded the falling demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import make_purchases
from gpuladder.solver.forecast import replay
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import PlanningProblem
from gpuladder.solver.plan import plan_problem, sunk_floor_shortfall
from gpuladder.units import hourly_index
from gpuladder.usage.history import DemandProfile

P5 = "aws/us-east-1/p5.48xlarge"
RI = "aws-ri-3y-all_upfront"
SP = "aws-ec2sp-us-east-1-p5-3y-all_upfront"
START = pd.Timestamp("2026-01-01", tz="UTC")


@pytest.fixture(scope="module")
def catalog():
    return embedded_catalog()


def _problem(catalog, demand: np.ndarray, reserved: float, plan_usd: float, u: float = 0.95) -> PlanningProblem:
    idx = hourly_index(START, START + pd.Timedelta(hours=len(demand)))
    frame = pd.DataFrame({P5: demand}, index=idx)
    zero = pd.DataFrame({P5: 0.0}, index=idx)
    profile = DemandProfile(frame, zero, zero)
    forecast = replay(profile, idx)
    rows = [{"product": RI, "family": P5, "quantity": reserved, "start": START - pd.Timedelta(days=30)}]
    if plan_usd:
        rows.append({"product": SP, "family": "", "quantity": plan_usd, "start": START - pd.Timedelta(days=30)})
    inv = make_purchases(catalog, pd.DataFrame(rows), origin="inventory", id_prefix="inv")
    return PlanningProblem(forecast, catalog, inv, ProductFilter(providers=("aws",)), Constraints(min_utilization=u))


def _noisy(low: float, high: float, hours: int = 24 * 14, seed: int = 0) -> np.ndarray:
    """Fractional demand with many distinct levels (the model compresses it into layers,
    where it reads the use of a commitment through lower bounds)."""
    return low + np.random.default_rng(seed).uniform(0.0, high - low, hours).round(2)


def test_sunk_reservations_and_plan_plan_instead_of_infeasible(catalog):
    # 12 reserved + a $300/h savings plan cover all of the 12-20 instances; the model's lower
    # bound on their use misses the floor even when nothing is bought
    problem = _problem(catalog, _noisy(12.0, 20.0), reserved=12, plan_usd=300.0)
    shortfall = sunk_floor_shortfall(problem, SolverOptions())
    assert shortfall is not None and (shortfall > 0).all()
    assert ("reservation", P5) in {k[:2] for k in shortfall.index}
    plan = plan_problem(problem, SolverOptions())
    assert any("miss the utilization floor" in w for w in plan.warnings)
    assert plan.purchases.empty                      # everything is covered already
    assert plan.simulation.kpis.coverage > 0.999


def test_the_waiver_is_the_least_that_makes_buying_nothing_feasible(catalog):
    # 70-80 instances against 30 reserved + a $1200/h plan: the plan's capacity is subtracted
    # from the reservations' use in the model's bound, which then misses the floor; lowering
    # the floor by 99% of the measured shortfall is not enough
    from dataclasses import replace

    from gpuladder.errors import InfeasibleError
    from gpuladder.solver.plan import _plan_once

    problem = _problem(catalog, _noisy(70.0, 80.0, seed=1), reserved=30, plan_usd=1200.0)
    with pytest.raises(InfeasibleError):
        _plan_once(problem, SolverOptions(), "s", None, ())
    shortfall = sunk_floor_shortfall(problem, SolverOptions())
    assert shortfall is not None
    plan = plan_problem(problem, SolverOptions())
    assert any("miss the utilization floor" in w for w in plan.warnings)
    short = replace(problem, options=replace(problem.options, sunk_floor_shortfall=tuple((shortfall * 0.99).items())))
    with pytest.raises(InfeasibleError):
        _plan_once(short, SolverOptions(), "s", None, ())


def test_no_shortfall_when_inventory_is_used(catalog):
    demand = np.full(24 * 14, 20.0)
    problem = _problem(catalog, demand, reserved=12, plan_usd=0.0)
    assert sunk_floor_shortfall(problem, SolverOptions()) is None
    plan = plan_problem(problem, SolverOptions())
    assert not any("miss the utilization floor" in w for w in plan.warnings)


def test_a_three_month_shortfall_is_named_whole_and_the_proposal_stays_feasible(catalog):
    """Over 92 days the floor on the expected path holds per month: the shortfall is measured
    per month, the warning names the months' sum (the worst path), and the product-set
    search's proposal, which holds the floor over the horizon, gets the sum too (with one
    month's share only it was infeasible and the search silently ran no trial)."""
    from dataclasses import replace

    import gpuladder.solver.plan as plan_module

    problem = _problem(catalog, _noisy(12.0, 20.0, hours=24 * 92), reserved=12, plan_usd=300.0)
    shortfall = sunk_floor_shortfall(problem, SolverOptions())
    assert shortfall is not None and shortfall.index.get_level_values(3).nunique() == 3   # three months
    res = shortfall.loc["reservation"].groupby(level=[0, 1]).sum().max()
    plan = plan_problem(problem, SolverOptions())
    (note,) = [w for w in plan.warnings if "miss the utilization floor" in w]
    assert f"reservations of {P5}: {res:,.0f} instance-hours" in note
    waived = replace(problem, options=replace(problem.options, sunk_floor_shortfall=tuple(shortfall.items())))
    assert plan_module._proposed_plans(waived, SolverOptions()) is not None


def test_the_note_names_apart_the_floors_of_what_is_not_held():
    """A monthly re-ladder holding two EC2 savings plans was told that "existing commitments
    miss the floor" of p5 reservations and a compute plan it did not hold (helper 32): the
    model reads those products' use net of the held plans' capacity. Held keys and the others
    are now named apart; the amounts are each key's worst path, summed over its windows."""
    from gpuladder.solver.plan_warnings import shortfall_note

    idx = pd.MultiIndex.from_tuples([
        ("savings_plan", "ec2sp-p5", "P10", 0), ("savings_plan", "ec2sp-p5", "P10", 1),
        ("savings_plan", "ec2sp-p5", "P50", 0), ("reservation", "aws/p5", "P10", 0),
        ("savings_plan", "csp-1y", "P50", 0)])
    shortfall = pd.Series([100.0, 50.0, 120.0, 2000.0, 404177.0], index=idx)
    both = shortfall_note(shortfall, {("savings_plan", "ec2sp-p5")})
    assert both == ("existing commitments miss the utilization floor on the forecast even if nothing is bought "
                    "(savings plan ec2sp-p5: $150 of commitment); the floors of products not held are lowered too, "
                    "since the model reads their use net of the held commitments' capacity (reservations of aws/p5: "
                    "2,000 instance-hours; savings plan csp-1y: $404,177 of commitment); each floor was lowered by "
                    "exactly that much, so what the plan buys is still held to it")
    held_only = shortfall_note(shortfall.iloc[:3], {("savings_plan", "ec2sp-p5")})
    assert held_only.startswith("existing commitments miss the utilization floor on the forecast even if nothing "
                                "is bought (savings plan ec2sp-p5: $150 of commitment); each floor")
    others_only = shortfall_note(shortfall.iloc[3:], {("savings_plan", "ec2sp-p5")})
    assert others_only.startswith("existing commitments make the model miss the utilization floor even if nothing "
                                  "is bought, through products they do not hold")
    assert "reservations of aws/p5: 2,000 instance-hours; savings plan csp-1y" in others_only
