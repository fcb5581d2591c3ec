"""Output rough edges a script author hits (session 9, helper 35's review): a canonical
usage CSV missing a column named as such; compare JSON with the solver's status and gap;
backtest JSON purchases with the plan JSON's id and estimate; -o FILE's extension picking
the format; inventory from-export saying why it found nothing."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import open_catalog
from gpuladder.report.compare import comparison_document, comparison_frame
from gpuladder.scenarios.compare import Comparison
from gpuladder.solver.plan_warnings import estimated_products
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_case

HERE = Path(__file__).parent
SAMPLE_USAGE = HERE.parent / "scenarios" / "examples" / "sample_usage.csv"
SP_NO_ARN = HERE / "fixtures" / "billing" / "2023-06-01.csv"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def tiny(tmp_path):
    (tmp_path / "s.yaml").write_text("name: tiny\n" + write_tiny_case(tmp_path) + "constraints: {min_utilization: null}\n")
    (tmp_path / "b.yaml").write_text("name: tiny-no-upfront\n" + write_tiny_case(tmp_path).replace(
        "terms_months: [12]", "terms_months: [12], payments: [no_upfront]") + "constraints: {min_utilization: null}\n")
    return tmp_path


# ---------------------------------------------------------------- 1. near-miss usage headers

def _cut(tmp_path, columns) -> Path:
    frame = pd.read_csv(SAMPLE_USAGE, nrows=48)
    path = tmp_path / "cut.csv"
    frame[columns].to_csv(path, index=False)
    return path


@pytest.mark.parametrize("columns, lacks", [
    (["timestamp", "family", "interruptible_instances"], ["instances"]),   # cut -d, -f1,2,4
    (["timestamp", "instances", "interruptible_instances"], ["family"]),
    (["family", "instances"], ["timestamp"]),
    (["timestamp", "interruptible_instances"], ["family", "instances"]),
])
def test_a_canonical_csv_missing_a_column_names_it(tmp_path, columns, lacks):
    path = _cut(tmp_path, columns)
    res = run("validate", "--usage", path)
    assert res.exit_code == 1
    assert "matches no supported usage format" not in res.stderr
    named = " and ".join(f"'{c}'" for c in lacks)
    assert (f"{path}, row 1, column '{lacks[0]}': the header looks like a canonical usage CSV but lacks the "
            f"column{'s' if len(lacks) > 1 else ''} {named}") in res.stderr
    assert "timestamp,family,instances" in res.stderr and "--usage-format" in res.stderr


def test_a_focus_header_missing_charge_period_start_names_it(tmp_path):
    path = tmp_path / "focus.csv"
    path.write_text("ChargeCategory,ConsumedQuantity,ServiceName,ResourceId\nUsage,1,EC2,i-1\n")
    res = run("usage", "summarize", path)
    assert res.exit_code == 1
    assert (f"{path}, row 1, column 'ChargePeriodStart': the header looks like a FOCUS export but lacks the "
            "column 'ChargePeriodStart'") in res.stderr


@pytest.mark.parametrize("header", ["a,b,timestamp", "time,host,gpus", "timestamp,value,cost"])
def test_an_unrelated_header_keeps_the_generic_message(tmp_path, header):
    path = tmp_path / "other.csv"
    path.write_text(header + "\n1,2,3\n")
    res = run("validate", "--usage", path)
    assert res.exit_code == 1
    assert "an unrecognised file" in res.stderr and "matches no supported usage format" in res.stderr
    assert "looks like" not in res.stderr


# ---------------------------------------------------------------- 2. compare JSON solver keys

def test_compare_json_figures_carry_the_csvs_solver_status_and_gap(tiny):
    paths = [tiny / "s.yaml", tiny / "b.yaml", tiny / "missing.yaml"]
    as_json = run("compare", *paths, "--format", "json")
    as_csv = run("compare", *paths, "--format", "csv")
    assert as_json.exit_code == as_csv.exit_code == 1
    doc = json.loads(as_json.stdout)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [s["status"] for s in doc["scenarios"]] == ["ok", "ok", "failed"]
    for s, row in zip(doc["scenarios"][:2], rows):
        assert s["figures"]["solver_status"] == row["solver_status"] == "optimal"
        assert s["figures"]["solver_gap"] is None and row["solver_gap"] == ""
        assert s["figures"]["cost_usd"] == pytest.approx(float(row["cost_usd"]))
    assert doc["scenarios"][2]["figures"] is None and rows[2]["solver_status"] == ""


def test_a_plan_stopped_on_its_time_limit_shows_its_gap_in_json_as_in_csv(tiny):
    from gpuladder.cli import build_scenario
    from gpuladder.scenarios.compare import compare_scenarios

    cmp = compare_scenarios([str(tiny / "s.yaml")], build_scenario)
    o = cmp.outcomes[0]
    stopped = replace(o, plan=replace(o.plan, solver=replace(o.plan.solver, status="time_limit", gap=0.0125)))
    cmp = Comparison((stopped,))
    figures = comparison_document(cmp)["scenarios"][0]["figures"]
    row = comparison_frame(cmp).iloc[0]
    assert (figures["solver_status"], figures["solver_gap"]) == ("time_limit", 0.0125)
    assert (row["solver_status"], row["solver_gap"]) == ("time_limit", 0.0125)


# ---------------------------------------------------------------- 3. backtest purchase id and estimate

T0 = pd.Timestamp("2026-01-05T00:00Z")
G2 = "test/r1/g2"


def _backtest_case(folder: Path) -> Path:
    """Two families, 3 instances of each every hour for 60 days; g1's all-upfront
    reservation is an estimate, g2's reservation is published. The inventory holds one g1
    reservation whose id is the one the plan would give gpuladder's first g1 purchase."""
    cat = folder / "cat"
    cat.mkdir()
    (cat / "families.csv").write_text(
        "family,provider,region,instance_type,gpu_model,gpus_per_instance,on_demand_usd_per_hour,"
        "spot_usd_per_hour,interruption_bucket,source,as_of\n"
        f"{FAMILY},test,r1,g1,H100,8,4.0,1.5,<5%,test fixture (ours),2026-01-01\n"
        f"{G2},test,r1,g2,H100,8,4.0,1.5,<5%,test fixture (ours),2026-01-01\n")
    (cat / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        f"test-ri-1y-all,test,reservation,12,all_upfront,1,{FAMILY},2.4,estimate: test fixture,2026-01-01\n"
        f"test-ri-g2,test,reservation,12,no_upfront,0,{G2},2.5,test fixture (ours),2026-01-01\n")
    idx = hourly_index(T0, T0 + pd.Timedelta(days=60))
    pd.DataFrame({"timestamp": np.repeat(idx.strftime("%Y-%m-%dT%H:%M:%SZ"), 2),
                  "family": np.tile([FAMILY, G2], len(idx)), "instances": 3.0}).to_csv(folder / "u.csv", index=False)
    (folder / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                    f"gl-2026-01-19-test-ri-1y-all-r1-g1,test-ri-1y-all,{FAMILY},1,"
                                    "2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    path = folder / "bt.yaml"
    path.write_text("name: bt\ncatalog: cat\nusage: u.csv\ninventory: inv.csv\n"
                    "forecast: {method: seasonal, lookback_days: 14}\nproducts: {terms_months: [12]}\n")
    return path


def test_backtest_json_purchases_have_the_plan_jsons_id_and_estimate(tmp_path):
    path = _backtest_case(tmp_path)
    out = tmp_path / "backtest.json"
    res = run("backtest", path, "-o", out)          # no --format: the .json extension picks JSON
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "gpuladder.backtest/1"
    estimated = estimated_products(open_catalog((str(tmp_path / "cat"),)).products())
    assert estimated == {"test-ri-1y-all"}
    plan_id = re.compile(r"^gl-\d{4}-\d\d-\d\d(T\d{4}Z)?-[A-Za-z0-9._-]+$")
    gpuladder = {(p["date"], p["product"]): p for p in doc["policies"][0]["purchases"]}
    assert doc["policies"][0]["name"] == "gpuladder"
    # the start (2026-01-19, first hour + lookback_days) buys 2 g1 (1 held) and 3 g2
    first_g1, first_g2 = gpuladder[("2026-01-19", "test-ri-1y-all")], gpuladder[("2026-01-19", "test-ri-g2")]
    assert (first_g1["quantity"], first_g2["quantity"]) == (2, 3)
    assert first_g1["id"] == "gl-2026-01-19-test-ri-1y-all-r1-g1-2"   # the held id taken, as in a plan
    assert first_g2["id"] == "gl-2026-01-19-test-ri-g2-r1-g2"
    assert (first_g1["estimate"], first_g2["estimate"]) == (True, False)
    for policy in doc["policies"]:
        ids = [p["id"] for p in policy["purchases"]]
        assert len(set(ids)) == len(ids)
        for p in policy["purchases"]:
            assert plan_id.match(p["id"]) and p["id"].startswith(f"gl-{p['date']}-{p['product']}")
            assert p["estimate"] is (p["product"] in estimated)


def test_backtest_ids_are_what_plan_gives_the_same_purchase(tmp_path):
    """Plan on the same history from the backtest's start: the first step's purchases
    carry the ids the backtest gives them."""
    path = _backtest_case(tmp_path)
    bt = json.loads(run("backtest", path, "--format", "json").stdout)
    plan = run("plan", path, "--set", "horizon.start=2026-01-19", "--set", "horizon.months=1",
               "--set", "usage.until=2026-01-19", "--format", "json")
    assert plan.exit_code == 0, plan.output
    planned = {(p["product"], p["id"], p["estimate"]) for p in json.loads(plan.stdout)["purchases"]
               if p["date"] == "2026-01-19"}
    kept = {(p["product"], p["id"], p["estimate"]) for p in bt["policies"][0]["purchases"]
            if p["date"] == "2026-01-19"}
    assert planned == kept and len(kept) == 2


# ---------------------------------------------------------------- 4. -o FILE's extension picks the format

def test_plan_o_json_writes_json_and_o_csv_writes_the_csv(tiny):
    as_json, as_csv, as_md = tiny / "plan.json", tiny / "plan.csv", tiny / "plan.md"
    assert run("plan", tiny / "s.yaml", "-o", as_json).exit_code == 0
    doc = json.loads(as_json.read_text())
    assert doc["schema"] == "gpuladder.plan/1" and doc["scenario"] == "tiny"
    assert run("plan", tiny / "s.yaml", "-o", as_csv).exit_code == 0
    header = as_csv.read_text().splitlines()[0].split(",")
    assert header[:3] == ["date", "provider", "product"] and header[-1] == "id"
    assert run("plan", tiny / "s.yaml", "-o", as_md).exit_code == 0
    assert as_md.read_text().startswith("# ")


def test_compare_o_json_and_o_csv(tiny):
    out = tiny / "cmp.json"
    res = run("compare", tiny / "s.yaml", tiny / "b.yaml", "-o", out)
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["schema"] == "gpuladder.compare/1"
    out = tiny / "cmp.CSV"
    assert run("compare", tiny / "s.yaml", tiny / "b.yaml", "-o", out).exit_code == 0
    assert out.read_text().startswith("scenario,file,status,exit_code,error,cost_usd")


def test_an_explicit_format_is_kept_and_the_mismatch_noted(tiny):
    out = tiny / "plan.json"
    res = run("plan", tiny / "s.yaml", "--format", "table", "-o", out)
    assert res.exit_code == 0
    text = out.read_text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "tiny" in text
    assert f"note: writing table (--format table) to {out}, whose extension says json" in res.stderr
    agree = run("plan", tiny / "s.yaml", "--format", "json", "-o", out)
    assert "note:" not in agree.stderr and json.loads(out.read_text())["scenario"] == "tiny"


def test_an_extension_the_command_does_not_write_falls_back_to_table_with_a_note(tmp_path):
    out = tmp_path / "summary.csv"
    res = run("usage", "summarize", SAMPLE_USAGE, "-o", out)
    assert res.exit_code == 0
    assert out.read_text().startswith("file:")
    assert f"note: {out}: this command does not write csv; writing table" in res.stderr


def test_help_says_the_extension_picks_the_format():
    for command in ("plan", "compare", "backtest"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "[default: -o FILE's extension (.json" in text and "else table]" in text


# ---------------------------------------------------------------- 5. from-export finding nothing

def test_from_export_says_a_savings_plan_covers_rows_without_its_arn(tmp_path):
    out = tmp_path / "inv.csv"
    res = run("inventory", "from-export", SP_NO_ARN, "-o", out)
    assert res.exit_code == 0
    assert out.read_text() == "id,product,family,quantity,start,end\n"
    assert (f"note: no commitment found in {SP_NO_ARN}: 3 rows are covered by a savings plan whose ARN the export "
            "does not carry (its savingsPlan/SavingsPlanArn is empty); the inventory has its header only") in res.stderr


def test_from_export_of_a_cur_without_commitment_rows_says_so(tmp_path):
    path = tmp_path / "cur.csv"
    path.write_text("lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UsageType,"
                    "lineItem/UsageAmount,product/instanceType\n"
                    "Usage,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,BoxUsage:p5.48xlarge,1,p5.48xlarge\n"
                    "DiscountedUsage,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,BoxUsage:p5.48xlarge,1,p5.48xlarge\n"
                    "DiscountedUsage,2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,BoxUsage:p5.48xlarge,1,p5.48xlarge\n")
    res = run("inventory", "from-export", path)
    assert res.exit_code == 0 and res.stdout == "id,product,family,quantity,start,end\n"
    assert ("2 rows are covered by a reservation whose ARN the export does not carry "
            "(it has no reservation/ReservationARN column)") in res.stderr
    path.write_text(path.read_text().replace("DiscountedUsage", "Usage"))
    res = run("inventory", "from-export", path)
    assert res.exit_code == 0
    assert "no commitment found" in res.stderr and "no reservation or savings plan rows" in res.stderr


def test_from_export_of_a_focus_export_without_commitment_ids_says_so(tmp_path):
    path = tmp_path / "focus.csv"
    head = "ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ConsumedQuantity,BilledCost"
    row = "2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,Usage,1,4.0"
    path.write_text(f"{head}\n{row}\n")
    res = run("inventory", "from-export", path)
    assert res.exit_code == 0 and "it has no CommitmentDiscountId column" in res.stderr
    path.write_text(f"{head},CommitmentDiscountId\n{row},\n")
    res = run("inventory", "from-export", path)
    assert res.exit_code == 0 and "no row names a CommitmentDiscountId" in res.stderr


def test_from_export_that_finds_a_commitment_adds_no_note(tmp_path):
    res = run("inventory", "from-export", HERE / "fixtures" / "ours" / "cur_legacy_ours.csv", "--skip-unmatched",
              "--catalog", HERE / "fixtures" / "ours" / "catalog")
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 4 and "no commitment found" not in res.stderr
