"""plan.py builds each model of a problem once (session 9, bench/README.md "Backtest on real
traces"): a floored plan used to build the ungated model only to count its columns, build
again to solve, and once more in sunk_floor_shortfall after an infeasible first solve.

- the ungated column count read off a gated build (its columns less the gates) is exactly
  ``build_model(...).lp.n_cols`` of the ungated model, on synthetic fleets, the examples
  and held inventory;
- on a floored plan whose held inventory takes the sunk-shortfall retry, the gated path
  builds 2 models instead of 5, the product-set search 4 fewer than before, a plan with
  no savings plans 1 instead of 3; the plan is the same to the bit as with every model
  built afresh (the builds the code made before: a ``_Builds`` that keeps nothing);
- the retry's models, the first try's with the waived floor rows' lower bounds
  (sunk_shortfall.waived_models), are the retry's fresh builds to the bit: matrix, row
  and column bounds, costs, integrality, blocks, on held inventory of both test modules
  whose plans take that path, gated and not.
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
from test_held_family_plan_floor import _problem as held_family_problem  # noqa: E402
from test_plan_sunk_shortfall import _noisy  # noqa: E402
from test_plan_sunk_shortfall import _problem as sunk_problem  # noqa: E402

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
    timing = {"seconds": 0.0, "build_seconds": 0.0, "search_seconds": 0.0}
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


def test_the_gated_path_builds_two_models_instead_of_five(catalog, monkeypatch):
    problem, solver = _held(catalog), SolverOptions()
    built = _counting(monkeypatch)
    plan = plan_module.plan_problem(problem, solver)
    assert any("miss the utilization floor" in w for w in plan.warnings)   # the retry ran
    assert built == [True, False]   # gated (infeasible), ungated (shortfall); the retry's is derived
    built.clear()
    monkeypatch.setattr(plan_module, "_Builds", _Afresh)
    before = plan_module.plan_problem(problem, solver)
    assert built == [False, True, False, False, True]
    _same(plan, before)


def test_the_product_set_search_builds_four_fewer(catalog, monkeypatch):
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
    # the count's build twice (first try and retry), the shortfall's, the retry's ungated candidate
    assert len(built) == reused + 4
    _same(plan, before)


def test_without_savings_plans_the_shortfall_reads_the_first_build(catalog, monkeypatch):
    problem, solver = _held(catalog, kinds=("reservation",)), SolverOptions()
    built = _counting(monkeypatch)
    plan = plan_module.plan_problem(problem, solver)
    assert any("miss the utilization floor" in w for w in plan.warnings)
    assert built == [False]   # first try (infeasible, read by the shortfall); the retry's is derived
    built.clear()
    monkeypatch.setattr(plan_module, "_Builds", _Afresh)
    before = plan_module.plan_problem(problem, solver)
    assert built == [False, False, False]
    _same(plan, before)


def _waived(problem: PlanningProblem) -> PlanningProblem:
    shortfall = sunk_shortfall.sunk_floor_shortfall(problem, SolverOptions())
    assert shortfall is not None   # the problem takes the retry
    return replace(problem, options=replace(problem.options, sunk_floor_shortfall=tuple(shortfall.items())))


def _assert_same_model(derived, fresh) -> None:
    a, b = derived.lp, fresh.lp
    assert (a.n_rows, a.n_cols) == (b.n_rows, b.n_cols)
    for x, y in zip(a.csr(), b.csr()):
        np.testing.assert_array_equal(x, y)
    for name in ("row_lb", "row_ub", "col_lb", "col_ub", "cost", "integrality", "col_group"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.row_groups(), b.row_groups())
    assert a.constant == b.constant
    assert list(a.blocks) == list(b.blocks)
    assert all(a.blocks[k][0] == b.blocks[k][0] and a.blocks[k][1].equals(b.blocks[k][1]) for k in a.blocks)
    np.testing.assert_array_equal(derived.true_cost, fresh.true_cost)
    assert derived.data.gate_floors == fresh.data.gate_floors
    pd.testing.assert_series_equal(derived.data.floor_allowance, fresh.data.floor_allowance)


HELD_CASES = [("reuse", None), ("reuse, reservations only", None), ("sunk, 14 days", None), ("sunk, 92 days", None)] + [
    (f"held family plan, seed {seed}, {usd:.0f} $/h", (seed, usd)) for seed in range(4) for usd in (60.0, 150.0)]


def _held_case(catalog, name: str, args) -> PlanningProblem:
    if args is not None:
        return held_family_problem(catalog, *args)
    return {"reuse": lambda: _held(catalog), "reuse, reservations only": lambda: _held(catalog, kinds=("reservation",)),
            "sunk, 14 days": lambda: sunk_problem(catalog, _noisy(12.0, 20.0), 12, 300.0),
            "sunk, 92 days": lambda: sunk_problem(catalog, _noisy(12.0, 20.0, hours=24 * 92), 12, 300.0)}[name]()


@pytest.mark.parametrize("name,args", HELD_CASES, ids=[n for n, _ in HELD_CASES])
def test_the_retrys_models_are_its_fresh_builds_to_the_bit(catalog, name, args):
    problem = _held_case(catalog, name, args)
    waived = _waived(problem)
    first = {g: build_model(replace(prepare(problem), gate_floors=g), problem.constraints) for g in (False, True)}
    before = {g: m.lp.row_lb for g, m in first.items()}
    derived = sunk_shortfall.waived_models(first, prepare(waived))
    assert set(derived) == {False, True}
    for gated, model in derived.items():
        fresh = build_model(replace(prepare(waived), gate_floors=gated), waived.constraints)
        _assert_same_model(model, fresh)
        changed = np.flatnonzero(fresh.lp.row_lb != before[gated])
        assert len(changed) and set(fresh.lp.row_groups()[changed]) == {"utilization_floor"}
        np.testing.assert_array_equal(first[gated].lp.row_lb, before[gated])   # the first try's is left alone


def test_a_gated_model_alone_is_derived_too(catalog):
    """The bound without the allowance is kept by the build (model_cover.FloorRows), so the
    retry needs no ungated model to read the rows' other terms from."""
    problem = _held(catalog)
    waived = _waived(problem)
    gated_only = {True: build_model(replace(prepare(problem), gate_floors=True), problem.constraints)}
    derived = sunk_shortfall.waived_models(gated_only, prepare(waived))
    assert set(derived) == {True}
    _assert_same_model(derived[True], build_model(replace(prepare(waived), gate_floors=True), waived.constraints))
