"""The top-up of savings plans the split compression under-buys (solver/split_topup.py).

Cases from bench/compression_cost.py: AWS us-east-1 families coupled by the compute savings
plan, daily and weekly cycles and noise (more than 64 distinct joint hours: split cells).
The simulator's use is measured here on its own: on every floor path over the horizon, and
on the expected path month by month (slices of the demand; billing is hour by hour)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.solver import plan as plan_module
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import dispatch_rules, prepare
from gpuladder.solver.plan import plan_problem
from gpuladder.solver.simulate import simulate
from gpuladder.solver.split_topup import TopUp, top_up_split_plans
from gpuladder.units import add_months

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from compression_cost import U, Case, problem  # noqa: E402  (bench/compression_cost.py)

CATALOG = embedded_catalog()
SOLVER = SolverOptions(time_limit_s=20)
TOPPED = "after the solve, the billing simulator topped up"


@contextmanager
def top_up_off():
    with mock.patch.object(plan_module, "top_up_split_plans", lambda prob, data, purchases, prefix="buy":
                           TopUp(purchases)):
        yield


def plan_pair(prob):
    with top_up_off():
        before = plan_problem(prob, SOLVER)
    return before, plan_problem(prob, SOLVER)


def floor_shares(plan, prob) -> pd.Series:
    """(product, path, month) -> used $ / fee $ of the plan's savings-plan purchases, from the
    simulator: the expected path month by month, the conservative path over the horizon."""
    fc = prob.forecast
    rules = dispatch_rules(prob)
    it = plan.book.items
    bought = it[(it["origin"] == "purchase") & (it["kind"] == "savings_plan")]
    out = {}
    for name in (n for n in (fc.expected, fc.conservative) if n is not None):
        path = fc.path(name)
        idx = path.demand_instances.index
        if name == fc.expected:
            start, n = idx[0], 0
            bounds = []
            while start <= idx[-1]:
                end = add_months(idx[0], n + 1)
                bounds.append((n, (idx >= start) & (idx < end)))
                start, n = end, n + 1
        else:
            bounds = [(0, np.ones(len(idx), bool))]
        for g, mask in bounds:
            sim = simulate(plan.book, path.demand_instances[mask], path.interruptible_instances[mask],
                           prob.catalog, rules)
            bc = sim.by_commitment.loc[bought["id"]].groupby(bought["product"].to_numpy())[
                ["used_usd", "amortized_fee_usd"]].sum()
            for product, r in bc[bc["amortized_fee_usd"] > 0].iterrows():
                out[(product, name, g)] = r.used_usd / r.amortized_fee_usd
    return pd.Series(out, dtype=float)


def test_four_families_topped_up_cheaper_and_floor_held_everywhere():
    """4 families, compute plans only, 2 months, P10/P50/P90: the model reads the 3-year
    compute plan per family and under-buys it; the top-up scales its purchases by one factor,
    is cheaper in the simulator, and holds the floor on P10 over the horizon and on P50 in
    each month. The model's own objective is reported unchanged."""
    prob = problem(Case(4, "csp", months=2, paths=3), CATALOG)
    before, after = plan_pair(prob)
    assert after.solver.simulated_objective_usd < before.solver.simulated_objective_usd * (1 - 0.01)
    assert after.solver.model_objective_usd == pytest.approx(before.solver.model_objective_usd, rel=1e-9)
    notes = [w for w in after.warnings if w.startswith(TOPPED)]
    assert len(notes) == 1 and "aws-csp-" in notes[0] and "(floor 95%)" in notes[0]
    assert not any(w.startswith(TOPPED) for w in before.warnings)
    compression = [w for w in after.warnings if w.startswith("model compression in play")]
    assert len(compression) == 1 and "its saving is in this difference" in compression[0]
    assert not any("its saving is in this difference" in w for w in before.warnings)
    assert not any("billing simulator measures less use" in w for w in after.warnings)

    p0 = before.purchases.set_index(["date", "product"])["quantity"]
    p1 = after.purchases.set_index(["date", "product"])["quantity"]
    assert list(p0.index) == list(p1.index)   # same products and dates
    ratio = (p1 / p0).to_numpy()
    assert ratio.min() > 1.01
    assert np.allclose(p1.to_numpy(), np.floor(p0.to_numpy() * ratio.max() / 1e-3 + 1e-6) * 1e-3, atol=1.5e-3)

    shares = floor_shares(after, prob)
    assert {(p, n) for p, n, _ in shares.index} >= {(p, n) for p in p1.index.get_level_values(1) for n in ("P10", "P50")}
    assert set(shares.xs("P50", level=1).index.get_level_values(1)) == {0, 1}
    assert (shares >= U - 1e-9).all(), shares
    assert shares.min() < U + 0.005   # the floor binds somewhere: nothing left on the table
    assert (floor_shares(before, prob) > shares.min()).any()


def _solver_purchases(prob):
    with top_up_off():
        plan = plan_problem(prob, SOLVER)
    p = plan.purchases
    return plan, pd.DataFrame({"product": p["product"], "family": p["family"].fillna(""),
                               "quantity": p["quantity"], "start": p["date"]})


@pytest.fixture(scope="module")
def four_families():
    """The 4-family case, its model data and the solver's purchases, which the top-up scales."""
    prob = problem(Case(4, "csp"), CATALOG)
    _, bought = _solver_purchases(prob)
    data = prepare(prob)
    assert top_up_split_plans(prob, data, bought).warnings
    return prob, data, bought


@pytest.mark.parametrize("limit", [dict(max_upfront_usd_per_quarter=1e9), dict(max_committed_usd_per_hour=1e6),
                                   dict(max_expiring_share_per_quarter=1.0), dict(max_bought_share_per_step=1.0),
                                   dict(min_utilization=None)])
def test_no_top_up_with_a_budget_or_ladder_limit_or_without_the_floor(four_families, limit):
    prob, data, bought = four_families
    limited = replace(prob, constraints=replace(prob.constraints, **limit))
    out = top_up_split_plans(limited, data, bought)
    assert out.warnings == () and out.purchases is bought


def test_no_top_up_on_a_single_family():
    prob = problem(Case(1, "csp"), CATALOG)
    plan, bought = _solver_purchases(prob)
    assert (plan.purchases["kind"] == "savings_plan").any()
    out = top_up_split_plans(prob, prepare(prob), bought)
    assert out.warnings == () and out.purchases is bought
    assert plan_problem(prob, SOLVER).solver.simulated_objective_usd == plan.solver.simulated_objective_usd


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(families=st.integers(2, 3), paths=st.sampled_from([1, 3]), seed=st.integers(0, 50))
def test_property_never_dearer_never_under_the_floor(families, paths, seed):
    prob = problem(Case(families, "csp", paths=paths, seed=seed), CATALOG)
    before, after = plan_pair(prob)
    assert after.solver.simulated_objective_usd <= before.solver.simulated_objective_usd + 1e-6
    s0, s1 = floor_shares(before, prob), floor_shares(after, prob)
    assert list(s0.index) == list(s1.index)
    assert (s1 >= np.minimum(U, s0) - 1e-9).all(), (s0, s1)
    topped = any(w.startswith(TOPPED) for w in after.warnings)
    assert topped == (after.solver.simulated_objective_usd < before.solver.simulated_objective_usd)


def test_too_many_family_hours_are_not_tried_and_the_plan_says_so(four_families, monkeypatch):
    """Above MAX_TOPUP_CELLS (hours x families) the top-up would simulate too long: the
    purchases stay the solver's and a warning names the products left as the model read them."""
    from gpuladder.solver import split_topup

    prob, data, bought = four_families
    cells = len(prob.forecast.index) * len(data.families)
    monkeypatch.setattr(split_topup, "MAX_TOPUP_CELLS", cells - 1)
    out = top_up_split_plans(prob, data, bought)
    assert out.purchases is bought
    assert len(out.warnings) == 1 and out.warnings[0].startswith("not topped up: aws-csp-")
    assert f"{cells:,} family-hours" in out.warnings[0]
    monkeypatch.setattr(split_topup, "MAX_TOPUP_CELLS", cells)
    assert top_up_split_plans(prob, data, bought).warnings[0].startswith("after the solve")
