"""`gpuladder compare`: scenarios side by side, failures kept, lock-in worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InfeasibleError, InputError
from gpuladder.pricing.catalog import catalog_from_frames
from gpuladder.scenarios.compare import (calendar_months, committed_usd_per_hour_at, compare_scenarios,
                                         lock_in_months)
from gpuladder.scenarios.schema import Scenario
from gpuladder.solver.book import make_purchases
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog

T0 = pd.Timestamp("2026-01-01T00:00Z")


@pytest.fixture()
def case(tmp_path):
    """One family at $4/h on-demand; 12-month reservations at $2.50 (no upfront) and $2.40
    (all upfront); January 2026 demand 3,3,2,1 repeated (see tests/test_plan_cli.py)."""
    write_tiny_catalog(tmp_path / "cat")
    idx = hourly_index(T0, pd.Timestamp("2026-02-01T00:00Z"))
    d = np.tile([3.0, 3.0, 2.0, 1.0], len(idx) // 4)
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": d}).to_csv(
        tmp_path / "usage.csv", index=False)
    base = ("catalog: cat\nusage: usage.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
            "forecast: {method: replay}\nproducts: {terms_months: [12]}\n")
    (tmp_path / "a.yaml").write_text("name: all-payments\n" + base + "constraints: {min_utilization: null}\n")
    (tmp_path / "b.yaml").write_text("name: no-upfront\n" + base.replace("terms_months: [12]", "terms_months: [12], payments: [no_upfront]")
                                     + "constraints: {min_utilization: null}\n")
    (tmp_path / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                      f"ri-1,test-ri-1y,{FAMILY},2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    (tmp_path / "infeasible.yaml").write_text(
        "name: infeasible\n" + base + "inventory: inv.csv\nconstraints: {max_committed_usd_per_hour: 1}\n")
    return tmp_path


def run(args):
    return CliRunner().invoke(main, args)


def test_side_by_side_json_with_a_failing_scenario(case):
    res = run(["compare", str(case / "a.yaml"), str(case / "infeasible.yaml"), str(case / "b.yaml"),
               "--format", "json"])
    assert res.exit_code == 3, res.output          # the worst (only) failure: infeasible
    doc = json.loads(res.stdout)
    assert doc["schema"] == "gpuladder.compare/1" and doc["exit_code"] == 3
    a, bad, b = doc["scenarios"]
    assert [s["status"] for s in doc["scenarios"]] == ["ok", "failed", "ok"]
    assert bad["exit_code"] == 3 and "max_committed_usd_per_hour" in bad["error"] and bad["figures"] is None
    assert set(a) == {"file", "name", "status", "exit_code", "error", "horizon", "forecast_method",
                      "figures", "warnings"}
    assert set(a["figures"]) == {"cost_usd", "on_demand_equivalent_usd", "savings_usd", "effective_savings_rate",
                                 "commitment_utilization", "coverage", "spot_share", "upfront_usd",
                                 "committed_usd", "committed_usd_per_hour_at_start", "lock_in_months",
                                 "purchases", "expected_cost_usd", "fees_after_horizon_usd",
                                 "solver_status", "solver_gap"}
    assert (a["figures"]["solver_status"], a["figures"]["solver_gap"]) == ("optimal", None)
    # a: reserve 2 all-upfront at $2.40: per 4 h fees 19.2 + on-demand 1 x 2 h x $4 = 27.2
    fa = a["figures"]
    assert fa["cost_usd"] == pytest.approx(27.2 * 186, abs=0.01)
    assert fa["savings_usd"] == pytest.approx((36.0 - 27.2) * 186, abs=0.01)
    assert fa["committed_usd"] == pytest.approx(2 * 2.4 * 744, abs=0.01)
    assert fa["committed_usd_per_hour_at_start"] == pytest.approx(4.8)
    assert fa["upfront_usd"] == pytest.approx(2 * 2.4 * 8760, abs=0.01)   # the whole year, paid on 2026-01-01
    assert fa["lock_in_months"] == pytest.approx(12.0)
    assert fa["expected_cost_usd"] == pytest.approx(fa["cost_usd"])        # replay: one path
    assert fa["fees_after_horizon_usd"] == pytest.approx(2 * 2.4 * (8760 - 744), abs=0.01)
    assert fa["commitment_utilization"] == pytest.approx(7 / 8) and fa["purchases"] == 1
    # b: same count at $2.50, no upfront
    fb = b["figures"]
    assert fb["cost_usd"] == pytest.approx((2 * 2.5 * 4 + 8) * 186, abs=0.01)
    assert fb["upfront_usd"] == 0 and fb["committed_usd_per_hour_at_start"] == pytest.approx(5.0)
    assert "max_committed_usd_per_hour" in res.stderr


def test_missing_file_is_a_failed_column_in_the_table(case):
    res = run(["compare", str(case / "a.yaml"), str(case / "nope.yaml")])
    assert res.exit_code == 1
    out = res.stdout
    assert "all-payments" in out and "failed (exit 1)" in out and "nope.yaml" in out
    assert "scenario file not found" in out
    for label in ("total cost (amortized) $", "lock-in (months to half expired)", "committed $/h at start"):
        assert label in out


@pytest.mark.parametrize("fmt,marker", [("csv", "scenario,file,status,exit_code,error,cost_usd"),
                                        ("md", "| status |")])
def test_csv_and_markdown(case, fmt, marker):
    out = case / f"cmp.{fmt}"
    res = run(["compare", str(case / "a.yaml"), str(case / "b.yaml"), "--format", fmt, "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert marker in text
    if fmt == "csv":
        df = pd.read_csv(out)
        assert list(df["scenario"]) == ["all-payments", "no-upfront"]
        assert df["cost_usd"].iloc[0] == pytest.approx(27.2 * 186, abs=0.01)


def test_set_applies_to_every_scenario(case):
    res = run(["compare", str(case / "a.yaml"), str(case / "b.yaml"), "--format", "json",
               "--set", "products.payments=[no_upfront]"])
    assert res.exit_code == 0, res.output
    costs = [s["figures"]["cost_usd"] for s in json.loads(res.stdout)["scenarios"]]
    assert costs[0] == pytest.approx(costs[1])


def test_worst_exit_code_and_others_still_run():
    def load(src):
        if src == "broken":
            raise InputError("bad key", file="broken")
        return Scenario(name=src)

    def plan(sc):
        if sc.name == "tight":
            raise InfeasibleError(["budget"])
        raise RuntimeError("boom")

    cmp = compare_scenarios(["broken", "tight", "buggy"], load, run=plan)
    assert [o.exit_code for o in cmp.outcomes] == [1, 3, 1]
    assert cmp.exit_code == 3
    assert cmp.outcomes[0].name == "broken" and cmp.outcomes[1].name == "tight"  # the stem when unread
    assert "internal error" in cmp.outcomes[2].error and "boom" in cmp.outcomes[2].error


def _catalog():
    fam = pd.DataFrame({"family": [FAMILY], "provider": ["test"], "region": ["r1"], "instance_type": ["g1"],
                        "gpu_model": ["H100"], "gpus_per_instance": [8], "on_demand_usd_per_hour": [4.0],
                        "spot_usd_per_hour": [np.nan], "interruption_bucket": ["<5%"], "source": ["ours"],
                        "as_of": ["2026-01-01"]})
    com = pd.DataFrame({"product": ["p6", "p12", "p36"], "provider": "test", "kind": "reservation",
                        "term_months": [6, 12, 36], "payment": "no_upfront", "upfront_share": 0.0,
                        "family": FAMILY, "rate_usd_per_hour": [1.0, 1.0, 1.0], "source": "ours",
                        "as_of": "2026-01-01"})
    return catalog_from_frames(fam, com, origin="test")


def test_lock_in_is_the_dollar_weighted_median_expiry():
    """$/h in force: 19 ending 2026-07-01 (bought 2025-07-01, a 12-month term), 10 ending
    2027-01-01, 10 ending 2029-01-01, 5 bought 2026-03-01 ending 2026-09-01. Total 44, half
    22: by expiry 19 (Jul 2026) < 22, then +5 (Sep 2026) = 24 >= 22 -> lock-in = 8 months.
    A commitment that ended before the horizon does not count."""
    cat = _catalog()
    buys = pd.DataFrame({"product": ["p12", "p12", "p36", "p6", "p6"], "family": FAMILY,
                         "quantity": [19.0, 10.0, 10.0, 5.0, 7.0],
                         "start": pd.to_datetime(["2025-07-01", "2026-01-01", "2026-01-01", "2026-03-01",
                                                  "2025-01-01"], utc=True)})
    book = make_purchases(cat, buys)
    end = pd.Timestamp("2027-01-01T00:00Z")
    assert lock_in_months(book, T0, end) == pytest.approx(8.0)
    assert committed_usd_per_hour_at(book, T0) == pytest.approx(19 + 10 + 10)
    # 10 more ending 2029: total 54, half 27: 19, 24, 34 (Jan 2027) -> 12 months
    more = make_purchases(cat, pd.DataFrame({"product": ["p36"], "family": [FAMILY], "quantity": [10.0],
                                             "start": [T0]}), id_prefix="more")
    assert lock_in_months(book.concat(more), T0, end) == pytest.approx(12.0)


def test_calendar_months():
    assert calendar_months(T0, pd.Timestamp("2027-01-01T00:00Z")) == 12.0
    assert calendar_months(T0, pd.Timestamp("2026-01-16T12:00Z")) == pytest.approx(15.5 / 31)
    assert calendar_months(pd.Timestamp("2026-01-31T00:00Z"), pd.Timestamp("2026-02-28T00:00Z")) == 1.0
    assert calendar_months(T0, T0) == 0.0


def test_html_side_by_side_with_a_ladder_chart_per_plan_and_the_failure(case):
    import xml.etree.ElementTree as ET

    res = run(["compare", str(case / "a.yaml"), str(case / "infeasible.yaml"), str(case / "b.yaml"),
               "--format", "html"])
    assert res.exit_code == 3
    page = res.stdout
    assert page.startswith("<!doctype html>") and "<th>all-payments</th><th>infeasible</th><th>no-upfront</th>" in page
    assert "<td>status</td><td class='r'>ok</td><td class='r'>failed (exit 3)</td>" in page
    assert "<b>failed:</b>" in page and "max_committed_usd_per_hour" in page
    charts = [ET.fromstring(p[p.index("<svg"):] + "</svg>") for p in page.split("</svg>")[:-1]]
    assert [h for h in ("all-payments", "no-upfront") if f"<h2>{h}: commitments in force by month</h2>" in page] == [
        "all-payments", "no-upfront"] and len(charts) == 2
    svg = "{http://www.w3.org/2000/svg}"
    first = [g.find(f"{svg}title").text for g in charts[0].findall(f"{svg}g")]
    # a: 2 all-upfront reservations at $2.40 in force for 12 months
    assert len(first) == 12 and all(t.split(" in force")[0].endswith("$4.80/h") for t in first)


def test_compare_says_which_plans_came_from_the_product_set_search():
    """A plan of the product-set search is the best of its candidates, not a proven optimum
    over every product set: the solver cell says how many it compared; the CSV keeps the
    candidate's status for scripts."""
    import dataclasses

    from gpuladder.report.compare import render_comparison
    from gpuladder.scenarios.loader import load_scenario
    from gpuladder.scenarios.runner import run_scenario

    def run(scenario):
        plan = run_scenario(scenario)
        return dataclasses.replace(plan, solver=dataclasses.replace(plan.solver, search_candidates=3,
                                                                    search_seconds=4.2))

    path = "scenarios/examples/steady-inference.yaml"
    searched = compare_scenarios([path], load=load_scenario, run=run)
    whole = compare_scenarios([path], load=load_scenario)
    row = next(line for line in render_comparison(searched, "table").splitlines() if line.startswith("solver"))
    assert row.split()[1:] == ["optimal", "(best", "of", "3", "product", "sets)"], row
    assert "| solver | optimal |" in render_comparison(whole, "md")
    assert json.loads(render_comparison(searched, "json"))["scenarios"][0]["figures"]["solver_status"] == "optimal"
