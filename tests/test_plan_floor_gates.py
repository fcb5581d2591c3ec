"""Savings plans the plan does not buy must not constrain the ones it does.

The model reads a plan's use through lower bounds that subtract the other commitments'
capacity (docs/model.md, floor rows); a floor row of a product with nothing bought then
demanded that the others be fully used. With 1- and 3-year terms allowed, the default
example cost more than with 3-year terms alone: more products, a worse plan."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import pandas as pd
import pytest

from gpuladder.errors import InfeasibleError
from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import forecast_for, load_inputs, problem_for, solver_options
from gpuladder.solver import plan as plan_module
from gpuladder.solver.backends import highs as highs_backend
from gpuladder.solver.plan import _plan_once, plan_problem
from gpuladder.solver.simulate import simulate

EXAMPLE = "scenarios/examples/default.yaml"
SETS = ("horizon.months=3",)


def _problem(*sets):
    sc = load_scenario(EXAMPLE, SETS + sets)
    inputs = load_inputs(sc)
    return problem_for(inputs, forecast_for(inputs)), solver_options(sc)


def _expected(plan) -> float:
    return plan.solver.simulated_objective_usd


def _product_utilization(plan, problem, name: str) -> pd.Series:
    """Simulated utilization per savings-plan product bought, on one forecast path."""
    path = problem.forecast.path(name)
    sim = simulate(plan.book, path.demand_instances, path.interruptible_instances, problem.catalog,
                   plan_module.dispatch_rules(problem))
    origin = plan.book.items.set_index("id")["origin"]
    by = sim.by_commitment.assign(origin=origin.reindex(sim.by_commitment.index).to_numpy())
    sp = by[(by["kind"] == "savings_plan") & (by["origin"] == "purchase")]
    g = sp.groupby("product")[["used_usd", "amortized_fee_usd"]].sum()
    return g["used_usd"] / g["amortized_fee_usd"]


@pytest.fixture(scope="module")
def default_problem():
    return _problem()


def test_more_products_never_make_the_plan_worse(default_problem):
    problem, solver = default_problem
    everything = plan_problem(problem, solver)
    three_year, solver3 = _problem("products.terms_months=[36]")
    only_36 = plan_problem(three_year, solver3)
    assert _expected(everything) <= _expected(only_36) * (1 + 1e-3)
    # the ungated model (before the gates) was the worse of the two: the regression this guards
    ungated = _plan_once(problem, solver, "s", None, ())
    assert _expected(ungated) > _expected(everything) * (1 + 1e-3)


def test_bought_savings_plans_keep_their_floor_on_p50_and_p10(default_problem):
    problem, solver = default_problem
    plan = plan_problem(problem, solver)
    assert (plan.purchases["kind"] == "savings_plan").any()
    for name in ("P50", "P10"):
        util = _product_utilization(plan, problem, name)
        assert (util >= 0.95 - 1e-6).all(), (name, util)


def test_large_models_search_the_product_set(default_problem, monkeypatch):
    """Above GATED_MAX_COLUMNS the products are searched instead (no binaries): never worse
    than the ungated model, and the floors still hold in the simulator."""
    problem, solver = default_problem
    monkeypatch.setattr(plan_module, "GATED_MAX_COLUMNS", 0)
    searched = plan_problem(problem, solver)
    ungated = _plan_once(problem, solver, "s", None, ())
    assert _expected(searched) <= _expected(ungated) + 1e-6
    for name in ("P50", "P10"):
        util = _product_utilization(searched, problem, name)
        assert (util >= 0.95 - 1e-6).all(), (name, util)


def test_the_light_proposal_names_the_products_a_full_plan_buys(default_problem):
    """The proposal solve (1% gap, nothing simulated) names the same savings plans as a full
    plan of the unfloored model at the scenario's gap."""
    problem, solver = default_problem
    plans = plan_module._floored_plan_products(problem)
    unfloored = replace(problem, options=replace(problem.options, unfloored_plans=plans))
    proposed = plan_module._proposed_plans(unfloored, solver)
    full = plan_module._bought_plans(_plan_once(unfloored, solver, "s", None, ()))
    assert proposed and proposed == full


def test_without_a_proposal_the_ungated_plan_is_returned(default_problem, monkeypatch):
    problem, solver = default_problem
    monkeypatch.setattr(plan_module, "GATED_MAX_COLUMNS", 0)
    monkeypatch.setattr(plan_module, "_proposed_plans", lambda *_: None)
    fallback = plan_problem(problem, solver)
    ungated = _plan_once(problem, solver, "s", None, ())
    assert fallback.purchases.equals(ungated.purchases)
    assert _expected(fallback) == pytest.approx(_expected(ungated), rel=1e-9)


def test_background_solve_hands_back_its_result_or_its_error():
    assert plan_module._in_background(lambda a, b: a + b, 2, 3)() == 5

    def fails():
        raise InfeasibleError(("budget",), "context")
    waiting = plan_module._in_background(fails)
    with pytest.raises(InfeasibleError):
        waiting()


def test_concurrent_solver_banners_leave_stdout_in_place():
    """_quiet_highs points fd 1 at /dev/null while HiGHS starts; two threads doing it at
    once must not leave it there (the plan's data goes to stdout)."""
    import highspy

    before = os.fstat(1)
    threads = [threading.Thread(target=lambda: [highs_backend._quiet_highs(highspy) for _ in range(40)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
