"""plan.py builds each model of a problem once (session 9, bench/README.md "Backtest on real
traces"): a floored plan used to build the ungated model only to count its columns, build
again to solve, and once more in sunk_floor_shortfall after an infeasible first solve.

- the ungated column count read off a gated build (its columns less the gates) is exactly
  ``build_model(...).lp.n_cols`` of the ungated model, on synthetic fleets, the examples
  and held inventory;
- on a floored plan whose held inventory takes the sunk-shortfall retry, the gated path
  builds 3 models instead of 5, the product-set search 3 fewer than before, a plan with
  no savings plans 2 instead of 3; the plan is the same to the bit as with every model
  built afresh (the builds the code made before: a ``_Builds`` that keeps nothing).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import forecast_for, load_inputs, problem_for
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver import plan as plan_module
from gpuladder.solver import sunk_shortfall
from gpuladder.solver.book import make_purchases
from gpuladder.solver.forecast import replay
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.model import build_model
from gpuladder.solver.model_cover import FLOOR_GATE
from gpuladder.solver.modeldata import PlanningProblem, prepare
from gpuladder.units import hourly_index
from gpuladder.usage.history import DemandProfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from fleets import fleet as bench_fleet  # noqa: E402  (bench/fleets.py)

P5 = "aws/us-east-1/p5.48xlarge"
RI = "aws-ri-3y-all_upfront"
SP = "aws-ec2sp-us-east-1-p5-3y-all_upfront"
START = pd.Timestamp("2026-01-01", tz="UTC")
EXAMPLES = Path(__file__).resolve().parents[1] / "scenarios" / "examples"


@pytest.fixture(scope="module")
def catalog():
    return embedded_catalog()


def _held(catalog, kinds: tuple[str, ...] | None = None) -> PlanningProblem:
    """12-20 p5 instances against 12 reserved and a $300/h plan held: buying nothing misses
    the floor in the model (tests/test_plan_sunk_shortfall.py), so the first solve is
    infeasible and the plan retries with the shortfall waived."""
    demand = 12.0 + np.random.default_rng(0).uniform(0.0, 8.0, 24 * 14).round(2)
    idx = hourly_index(START, START + pd.Timedelta(hours=len(demand)))
    zero = pd.DataFrame({P5: 0.0}, index=idx)
    forecast = replay(DemandProfile(pd.DataFrame({P5: demand}, index=idx), zero, zero), idx)
    rows = pd.DataFrame([{"product": RI, "family": P5, "quantity": 12, "start": START - pd.Timedelta(days=30)},
                         {"product": SP, "family": "", "quantity": 300.0, "start": START - pd.Timedelta(days=30)}])
    inv = make_purchases(catalog, rows, origin="inventory", id_prefix="inv")
    return PlanningProblem(forecast, catalog, inv, ProductFilter(providers=("aws",), kinds=kinds),
                           Constraints(min_utilization=0.95))


class _Afresh(plan_module._Builds):
    """Every model built anew whenever asked for, the count from its own ungated build:
    the builds plan.py made before the reuse."""

    def model(self, gated: bool):
        self._models.clear()
        return super().model(gated)

    def ungated_columns(self) -> int:
        return self.model(gated=False).built.lp.n_cols


def _counting(monkeypatch) -> list[bool]:
    """Patches build_model where plan.py and sunk_shortfall.py call it; the list gets each
    build's gate flag."""
    built: list[bool] = []

    def counted(data, cons, tie_break_share=1e-7):
        built.append(bool(data.gate_floors))
        return build_model(data, cons, tie_break_share)

    monkeypatch.setattr(plan_module, "build_model", counted)
    monkeypatch.setattr(sunk_shortfall, "build_model", counted)
    return built


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.purchases, b.purchases)
    pd.testing.assert_frame_equal(a.path_costs, b.path_costs)
    pd.testing.assert_frame_equal(a.expiring, b.expiring)
    assert a.warnings == b.warnings
    timing = {"seconds": 0.0, "build_seconds": 0.0}
    assert replace(a.solver, **timing) == replace(b.solver, **timing)


def _ungated_count_from_gated(problem: PlanningProblem) -> int:
    builds = plan_module._Builds(problem)
    builds.model(gated=True)
    return builds.ungated_columns()


@pytest.mark.parametrize("args", [(6, 6, 12, 1), (4, 12, 12, 2), (3, 3, 9, 3), (8, 2, 12, 4)])
def test_the_column_count_from_a_gated_build_is_the_ungated_builds(args):
    families, months, products, seed = args
    problem = bench_fleet(families, months, products, seed=seed)
    data = prepare(problem)
    gated = build_model(replace(data, gate_floors=True), problem.constraints).lp
    assert FLOOR_GATE in gated.blocks   # the fleets' compute-wide plans are gated
    assert _ungated_count_from_gated(problem) == build_model(data, problem.constraints).lp.n_cols


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_the_column_count_from_a_gated_build_is_the_ungated_builds_on_the_examples(name):
    inputs = load_inputs(load_scenario(EXAMPLES / f"{name}.yaml"))
    problem = problem_for(inputs, forecast_for(inputs))
    data = prepare(problem)
    assert _ungated_count_from_gated(problem) == build_model(data, problem.constraints,
                                                             problem.options.tie_break_share).lp.n_cols


def test_the_column_count_with_held_inventory_and_after_the_waiver(catalog):
    problem = _held(catalog)
    plain = build_model(prepare(problem), problem.constraints).lp.n_cols
    assert _ungated_count_from_gated(problem) == plain
    shortfall = sunk_shortfall.sunk_floor_shortfall(problem, SolverOptions())
    waived = replace(problem, options=replace(problem.options, sunk_floor_shortfall=tuple(shortfall.items())))
    assert _ungated_count_from_gated(waived) == build_model(prepare(waived), waived.constraints).lp.n_cols


def test_the_gated_path_builds_three_models_instead_of_five(catalog, monkeypatch):
    problem, solver = _held(catalog), SolverOptions()
    built = _counting(monkeypatch)
    plan = plan_module.plan_problem(problem, solver)
    assert any("miss the utilization floor" in w for w in plan.warnings)   # the retry ran
    assert built == [True, False, True]   # gated (infeasible), ungated (shortfall), gated (retry)
    built.clear()
    monkeypatch.setattr(plan_module, "_Builds", _Afresh)
    before = plan_module.plan_problem(problem, solver)
    assert built == [False, True, False, False, True]
    _same(plan, before)


def test_the_product_set_search_builds_three_fewer(catalog, monkeypatch):
    problem, solver = _held(catalog), SolverOptions()
    monkeypatch.setattr(plan_module, "GATED_MAX_COLUMNS", 0)
    built = _counting(monkeypatch)
    plan = plan_module.plan_problem(problem, solver)
    assert any("miss the utilization floor" in w for w in plan.warnings)
    reused = len(built)
    assert not any(built)
    built.clear()
    monkeypatch.setattr(plan_module, "_Builds", _Afresh)
    before = plan_module.plan_problem(problem, solver)
    # the count's build twice (first try and retry) and the shortfall's
    assert len(built) == reused + 3
    _same(plan, before)


def test_without_savings_plans_the_shortfall_reads_the_first_build(catalog, monkeypatch):
    problem, solver = _held(catalog, kinds=("reservation",)), SolverOptions()
    built = _counting(monkeypatch)
    plan = plan_module.plan_problem(problem, solver)
    assert any("miss the utilization floor" in w for w in plan.warnings)
    assert built == [False, False]   # first try (infeasible, read by the shortfall), retry
    built.clear()
    monkeypatch.setattr(plan_module, "_Builds", _Afresh)
    before = plan_module.plan_problem(problem, solver)
    assert built == [False, False, False]
    _same(plan, before)
