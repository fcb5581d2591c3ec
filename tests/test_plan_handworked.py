"""STYLE.md's six hand-worked cases, as month-long series, through the API and the CLI.

One family, on-demand $4.00/h, a reservation at $2.50/h effective (break-even 62.5%),
spot $1.50/h where allowed, no rework overhead. Each 4-hour pattern repeats over January
2026 (744 hours = 186 patterns); costs below are per pattern, so the month costs 186x:

| demand      | extra                    | optimum              | cost | all on-demand |
| 2,2,2,2     |                          | reserve 2: 4x2x2.5   | 20   | 32            |
| 4,0,0,0     |                          | reserve 0: 4x4       | 16   | 16            |
| 2,2,1,1     |                          | reserve 1: 10+2x4    | 18   | 24            |
| 2,2,2,2 int | spot 1.50, cap 0.5       | reserve 1, spot 1/h  | 16   | 32            |
| 2,2,2,1     |                          | reserve 2: 20 (unused 1 h) | 20 | 28          |
| 2,2,2,1     | min utilization 0.9      | reserve 1: 10+3x4    | 22   | 28            |

(2,2,2,1 with 2 reserved uses 7 of 8 reserved hours = 87.5% < 90%, so the floor forces 1.)
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import load_catalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import replay
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import PlanningProblem
from gpuladder.solver.plan import plan_problem
from gpuladder.units import hourly_index
from gpuladder.usage.history import profile_from_frames

FAMILY = "test/r1/g1"
START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC")
PATTERNS = 744 // 4
NO_OVERHEAD = {b: 0.0 for b in ("<5%", "5-10%", "10-15%", "15-20%", ">20%")}

CASES = [  # pattern, interruptible, spot cap, min utilization, reserved, cost, on-demand cost (per pattern)
    ((2, 2, 2, 2), False, None, None, 2, 20.0, 32.0),
    ((4, 0, 0, 0), False, None, None, 0, 16.0, 16.0),
    ((2, 2, 1, 1), False, None, None, 1, 18.0, 24.0),
    ((2, 2, 2, 2), True, 0.5, None, 1, 16.0, 32.0),
    ((2, 2, 2, 1), False, None, None, 2, 20.0, 28.0),
    ((2, 2, 2, 1), False, None, 0.9, 1, 22.0, 28.0),
]
IDS = ["2222", "4000", "2211", "2222-spot", "2221", "2221-floor"]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("catalog")
    (d / "families.csv").write_text(
        "family,provider,region,instance_type,gpu_model,gpus_per_instance,on_demand_usd_per_hour,"
        "spot_usd_per_hour,interruption_bucket,source,as_of\n"
        f"{FAMILY},test,r1,g1,H100,8,4.0,1.5,<5%,hand-worked (STYLE.md),2026-01-01\n")
    (d / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        f"test-ri-1y,test,reservation,12,no_upfront,0,{FAMILY},2.5,hand-worked (STYLE.md),2026-01-01\n")
    return d


def _series(pattern):
    idx = hourly_index(START, END)
    return idx, np.tile(np.asarray(pattern, float), PATTERNS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hand_worked_case_api(case, catalog_dir):
    pattern, interruptible, cap, umin, reserved, cost, od_cost = case
    idx, d = _series(pattern)
    demand = pd.DataFrame({FAMILY: d}, index=idx)
    profile = profile_from_frames(demand, demand if interruptible else demand * 0.0)
    cons = Constraints(min_utilization=umin, spot_cap=cap, spot_rework_overhead=NO_OVERHEAD)
    problem = PlanningProblem(replay(profile, idx), load_catalog(catalog_dir), CommitmentBook.empty(),
                              ProductFilter(terms_months=None), cons)
    plan = plan_problem(problem, SolverOptions())
    bought = plan.purchases["quantity"].sum()
    assert bought == reserved
    if reserved:
        assert list(plan.purchases["date"]) == [START]
    k = plan.simulation.kpis
    assert k.cost_usd == pytest.approx(cost * PATTERNS, rel=1e-9)
    assert k.on_demand_equivalent_usd == pytest.approx(od_cost * PATTERNS, rel=1e-9)
    # the model's objective and the simulator agree exactly on these instances
    assert plan.solver.exact
    assert plan.solver.model_objective_usd == pytest.approx(k.cost_usd, rel=1e-6)
    if interruptible:
        assert k.spot_share == pytest.approx(0.5)


def _write_case(tmp_path, catalog_dir, case):
    pattern, interruptible, cap, umin, *_ = case
    idx, d = _series(pattern)
    rows = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": d,
                         "interruptible_instances": d if interruptible else 0.0})
    rows.to_csv(tmp_path / "usage.csv", index=False)
    cap_txt = "null" if cap is None else cap
    umin_txt = "null" if umin is None else umin
    (tmp_path / "case.yaml").write_text(f"""
name: hand-case
catalog: {catalog_dir}
usage: usage.csv
horizon: {{start: "2026-01-01", months: 1}}
forecast: {{method: replay}}
products: {{terms_months: [12]}}
constraints:
  min_utilization: {umin_txt}
  spot_cap: {cap_txt}
  spot_rework_overhead: 0
""")
    return tmp_path / "case.yaml"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hand_worked_case_cli(case, catalog_dir, tmp_path):
    pattern, interruptible, cap, umin, reserved, cost, od_cost = case
    scen = _write_case(tmp_path, catalog_dir, case)
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(main, ["plan", str(scen), "--format", "json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "gpuladder.plan/1"
    assert sum(p["quantity"] for p in doc["purchases"]) == reserved
    assert doc["kpis"]["cost_usd"] == pytest.approx(cost * PATTERNS, abs=0.01)
    assert doc["kpis"]["on_demand_equivalent_usd"] == pytest.approx(od_cost * PATTERNS, abs=0.01)
    assert doc["solver"]["status"] == "optimal"
    assert abs(doc["solver"]["difference_share"]) < 1e-3
