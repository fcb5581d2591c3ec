"""forecast.risk_weight: the objective leans toward the conservative path, worked by hand.

One family, on-demand $4.00/h, a 12-month reservation at $2.50/h (no upfront), no floor,
January 2026 (744 h). Three flat paths: P10 = 2, P50 = 4, P90 = 6 instances, weights
0.3 / 0.4 / 0.3, conservative path P10. Cost per hour of reserving k:

| k | P10        | P50             | P90              | expected |
| 2 | 2x2.5 = 5  | 5 + 2x4 = 13    | 5 + 4x4 = 21     | 13.0     |
| 3 | 7.5        | 7.5 + 1x4 = 11.5| 7.5 + 3x4 = 19.5 | 12.7     |
| 4 | 10         | 10              | 10 + 2x4 = 18    | 12.4     |

The objective is (expected + w x P10) / (1 + w): k = 4 wins while 12.4 + 10 w <= 13 + 5 w,
i.e. w <= 0.12; above that k = 2 (k = 3 never: at w = 0.15, 12.02 against 11.96 for k = 2).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import load_catalog
from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import run_scenario
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.demand import objective_weights
from gpuladder.solver.forecast import DemandPath, Forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import ModelOptions, PlanningProblem
from gpuladder.solver.plan import plan_problem
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog

HOURS = 744
LEVELS = {"P10": 2.0, "P50": 4.0, "P90": 6.0}
WEIGHTS = {"P10": 0.3, "P50": 0.4, "P90": 0.3}
PER_HOUR = {  # reserved -> cost per hour on P10, P50, P90
    2: (5.0, 13.0, 21.0),
    4: (10.0, 10.0, 18.0),
}


def _forecast(conservative: str | None = "P10") -> Forecast:
    idx = hourly_index(pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-02-01T00:00Z"))
    paths = tuple(DemandPath(n, WEIGHTS[n], pd.DataFrame({FAMILY: np.full(len(idx), LEVELS[n])}, index=idx),
                             pd.DataFrame({FAMILY: np.zeros(len(idx))}, index=idx)) for n in LEVELS)
    return Forecast("seasonal", paths, "P50", conservative)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return load_catalog(write_tiny_catalog(tmp_path_factory.mktemp("cat"), all_upfront=False))


def _plan(catalog, risk_weight: float, conservative: str | None = "P10"):
    problem = PlanningProblem(_forecast(conservative), catalog, CommitmentBook.empty(), ProductFilter(),
                              Constraints(min_utilization=None, spot_cap=None), ModelOptions(risk_weight=risk_weight))
    return plan_problem(problem, SolverOptions())


@pytest.mark.parametrize("risk_weight, reserved", [(0.0, 4), (0.1, 4), (0.15, 2), (1.0, 2), (100.0, 2)])
def test_the_reserved_level_follows_the_hand_worked_threshold(catalog, risk_weight, reserved):
    plan = _plan(catalog, risk_weight)
    assert plan.purchases["quantity"].sum() == reserved
    p10, p50, p90 = (c * HOURS for c in PER_HOUR[reserved])
    costs = plan.path_costs["cost_usd"]
    assert costs.to_dict() == pytest.approx({"P10": p10, "P50": p50, "P90": p90})
    expected = 0.3 * p10 + 0.4 * p50 + 0.3 * p90
    assert plan.expected_cost_usd == pytest.approx(expected)
    # the simulator is held to the objective the model minimized
    assert plan.solver.simulated_objective_usd == pytest.approx((expected + risk_weight * p10) / (1 + risk_weight))
    assert abs(plan.solver.difference_share) < 1e-6


def test_without_a_conservative_path_the_weight_changes_nothing(catalog):
    assert _plan(catalog, 5.0, conservative=None).purchases["quantity"].sum() == 4
    w = objective_weights(_forecast(None), 5.0)
    assert w["weight"].tolist() == pytest.approx([0.3, 0.4, 0.3])


def test_objective_weights_sum_to_one_and_keep_the_forecast_weights():
    w = objective_weights(_forecast(), 1.0).set_index("name")
    assert w["forecast_weight"].to_dict() == pytest.approx(WEIGHTS)
    assert w["weight"].to_dict() == pytest.approx({"P10": 0.65, "P50": 0.2, "P90": 0.15})


def test_a_higher_weight_never_commits_more_on_the_default_example():
    """Property on the bundled default scenario with the floor off (3 months): fees of what
    the plan commits do not grow with the weight, and the P10 cost does not either."""
    fees, p10 = [], []
    for w in (0.0, 0.5, 2.0):
        sc = load_scenario("scenarios/examples/default.yaml",
                           ("horizon.months=3", "constraints.min_utilization=null", f"forecast.risk_weight={w}"))
        plan = run_scenario(sc)
        fees.append(plan.simulation.kpis.commitment_fees_usd)
        p10.append(float(plan.path_costs.loc["P10", "cost_usd"]))
    assert fees[0] >= fees[1] - 1.0 >= fees[2] - 2.0
    assert p10[0] >= p10[1] - 1.0 >= p10[2] - 2.0
    assert fees[0] > fees[2] * 1.05   # and it does bite


def _run(args):
    return CliRunner().invoke(main, args)


def test_cli_json_reports_both_weights_and_bad_values_are_refused():
    res = _run(["plan", "--set", "horizon.months=3", "--set", "forecast.risk_weight=1", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    paths = {p["name"]: p for p in doc["forecast"]["paths"]}
    assert paths["P10"]["weight"] == 0.3 and paths["P10"]["objective_weight"] == pytest.approx(0.65)
    expected = sum(p["weight"] * p["cost_usd"] for p in paths.values())
    objective = sum(p["objective_weight"] * p["cost_usd"] for p in paths.values())
    assert doc["kpis"]["expected_cost_usd"] == pytest.approx(expected, abs=0.05)
    assert doc["solver"]["simulated_objective_usd"] == pytest.approx(objective, abs=0.05)
    for value, words in (("-1", "out of range"), ("101", "out of range"), ("lots", "forecast.risk_weight"),
                         ("null", "cannot be null")):
        res = _run(["validate", "scenarios/examples/default.yaml", "--set", f"forecast.risk_weight={value}"])
        assert res.exit_code == 1 and "risk_weight" in res.stderr and words in res.stderr, (value, res.stderr)
    res = _run(["validate", "scenarios/examples/default.yaml", "--set", "forecast.risk_weight=1",
                "--set", "forecast.conservative_quantile=null"])
    assert res.exit_code == 1 and "conservative_quantile" in res.stderr and "risk_weight" in res.stderr


def test_the_table_shows_each_paths_cost_and_the_objective_weights_only_when_leaned():
    plain = _run(["plan", "--set", "horizon.months=3"])
    leaned = _run(["plan", "--set", "horizon.months=3", "--set", "forecast.risk_weight=1"])
    assert plain.exit_code == 0 and leaned.exit_code == 0
    for out in (plain.stdout, leaned.stdout):
        section = out.split("Cost per forecast path (simulated)")[1].split("\n\n")[0]
        assert [line.split()[0] for line in section.strip().splitlines()[2:]] == ["P10", "P50", "P90", "expected"]
    assert "objective weight" not in plain.stdout
    p10 = next(line for line in leaned.stdout.split("Cost per forecast path")[1].splitlines() if line.startswith("P10"))
    assert p10.split()[1:3] == ["0.3", "0.65"]


def test_a_risk_weight_on_a_replay_forecast_is_warned_about():
    res = _run(["plan", "--set", "forecast.method=replay", "--set", "horizon.start=null", "--set", "horizon.months=1",
                "--set", "forecast.risk_weight=1"])
    assert res.exit_code == 0, res.output
    assert "forecast.risk_weight 1 changes nothing: the replay forecast has one path" in res.stdout
    plain = _run(["plan", "--set", "forecast.method=replay", "--set", "horizon.start=null", "--set", "horizon.months=1"])
    assert plain.exit_code == 0 and "risk_weight" not in plain.output


def test_a_zero_weight_conservative_path_gets_the_risk_weight():
    """conservative_quantile 0.05 adds a P5 path with forecast weight 0 (it only serves the
    floor); a risk weight of 1 gives it half the objective."""
    base = _forecast()
    p5 = DemandPath("P5", 0.0, base.paths[0].demand_instances * 0.5, base.paths[0].interruptible_instances)
    fc = Forecast("seasonal", base.paths + (p5,), "P50", "P5")
    w = objective_weights(fc, 1.0).set_index("name")
    assert w["forecast_weight"].to_dict() == pytest.approx({"P10": 0.3, "P50": 0.4, "P90": 0.3, "P5": 0.0})
    assert w["weight"].to_dict() == pytest.approx({"P10": 0.15, "P50": 0.2, "P90": 0.15, "P5": 0.5})
