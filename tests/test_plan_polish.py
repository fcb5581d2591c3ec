"""The exactness check judges the model at its best dispatch for the purchases.

A MIP stops within its gap, and the incumbent's continuous part (which layers cover the
demand) need not be the best for its purchases. The plan re-optimizes that part with the
purchases fixed before comparing the model with the simulator. Here the solver is made to
return the worst cover for the right purchase (STYLE.md's case 2,2,1,1: reserve 1, $18 per
4-hour pattern)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpuladder.solver.plan as plan_mod
from gpuladder.errors import ModelMismatchError
from gpuladder.pricing.catalog import load_catalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import replay
from gpuladder.solver.lp import SolverOptions, SolveStatus
from gpuladder.solver.model import PURCHASES
from gpuladder.solver.modeldata import PlanningProblem
from gpuladder.units import hourly_index
from gpuladder.usage.history import profile_from_frames

FAMILY = "test/r1/g1"
START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC")
PATTERNS = 744 // 4


@pytest.fixture()
def problem(tmp_path):
    (tmp_path / "families.csv").write_text(
        "family,provider,region,instance_type,gpu_model,gpus_per_instance,on_demand_usd_per_hour,"
        "spot_usd_per_hour,interruption_bucket,source,as_of\n"
        f"{FAMILY},test,r1,g1,H100,8,4.0,1.5,<5%,hand-worked (STYLE.md),2026-01-01\n")
    (tmp_path / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        f"test-ri-1y,test,reservation,12,no_upfront,0,{FAMILY},2.5,hand-worked (STYLE.md),2026-01-01\n")
    idx = hourly_index(START, END)
    demand = pd.DataFrame({FAMILY: np.tile([2.0, 2.0, 1.0, 1.0], PATTERNS)}, index=idx)
    profile = profile_from_frames(demand, demand * 0.0)
    return PlanningProblem(replay(profile, idx), load_catalog(tmp_path), CommitmentBook.empty(),
                           ProductFilter(terms_months=None), Constraints(min_utilization=None, spot_cap=None))


@pytest.fixture()
def worst_cover_first(monkeypatch):
    """The first solve returns its purchases with the worst cover (cover costs negated)."""
    real = plan_mod.solve
    calls = []

    def fake(lp, options):
        sol = real(lp, options)
        calls.append(lp.n_cols)
        if len(calls) > 1 or sol.x is None:
            return sol
        lb, ub = lp.col_lb.copy(), lp.col_ub.copy()
        cols = lp.cols(PURCHASES)
        lb[cols] = ub[cols] = sol.x[cols]
        cost = lp.cost.copy()
        cost[lp.cols("cover")] *= -1.0
        worst = real(lp.with_columns(lb, ub, cost=cost), options)
        assert worst.status == SolveStatus.OPTIMAL
        return type(sol)(sol.status, worst.x, float(lp.cost @ worst.x + lp.constant), sol.gap, sol.seconds,
                         sol.backend)

    monkeypatch.setattr(plan_mod, "solve", fake)
    return calls


def test_the_check_rates_the_purchases_at_their_best_cover(problem, worst_cover_first):
    plan = plan_mod.plan_problem(problem, SolverOptions())
    assert len(worst_cover_first) == 2            # the solve, then the re-optimized cover
    assert plan.purchases["quantity"].sum() == 1
    assert plan.simulation.kpis.cost_usd == pytest.approx(18.0 * PATTERNS, rel=1e-9)
    assert plan.solver.exact
    assert plan.solver.model_objective_usd == pytest.approx(18.0 * PATTERNS, rel=1e-6)


def test_without_the_re_optimization_the_worst_cover_is_a_mismatch(problem, worst_cover_first, monkeypatch):
    monkeypatch.setattr(plan_mod, "_best_cover_at", lambda built, x, solver: None)
    with pytest.raises(ModelMismatchError, match="differ by"):
        plan_mod.plan_problem(problem, SolverOptions())
