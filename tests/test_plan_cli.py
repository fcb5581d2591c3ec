"""`gpuladder plan` as scripts use it: the JSON contract, exit codes, atomic output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog



@pytest.fixture()
def case(tmp_path):
    write_tiny_catalog(tmp_path / "cat")
    idx = hourly_index(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC"))
    d = np.tile([3.0, 3.0, 2.0, 1.0], len(idx) // 4)
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": d}).to_csv(
        tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: t\ncatalog: cat\nusage: usage.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
        "forecast: {method: replay}\nproducts: {terms_months: [12]}\nconstraints: {min_utilization: null}\n")
    return tmp_path


def run(args):
    return CliRunner().invoke(main, args)


def test_json_contract(case):
    res = run(["plan", str(case / "s.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) >= {"schema", "scenario", "horizon", "purchases", "expiring", "mix", "kpis", "solver"}
    assert doc["horizon"] == {"start": "2026-01-01T00:00Z", "months": 1, "end": "2026-02-01T00:00Z",
                              "next_step": "2026-02-01T00:00Z"}   # one step: the horizon's end
    # 3,3,2,1 at $4 vs $2.40 all-upfront: 1st unit 100% used, 2nd 75% (>60%), 3rd 50% (<60%) -> reserve 2
    (p,) = doc["purchases"]
    assert (p["product"], p["quantity"], p["kind"], p["family"], p["payment"]) == (
        "test-ri-1y-all", 2, "reservation", FAMILY, "all_upfront")
    assert p["date"] == "2026-01-01" and p["expires"] == "2027-01-01"
    assert p["upfront_usd"] == pytest.approx(2 * 2.4 * 8760, abs=0.01)
    assert p["recurring_usd_per_hour"] == 0
    k = doc["kpis"]
    # cost per 4 h: fees 2 x 2.4 x 4 = 19.2 (amortized) + on-demand 1 instance in 2 hours = 8 -> 27.2
    assert k["cost_usd"] == pytest.approx(27.2 * 186, abs=0.01)
    assert k["on_demand_equivalent_usd"] == pytest.approx(36.0 * 186, abs=0.01)
    assert k["commitment_utilization"] == pytest.approx(7 / 8)
    assert k["effective_savings_rate"] == pytest.approx(1 - 27.2 / 36, abs=1e-6)
    # the lock-in past the 744-hour horizon: 2 x $2.40/h for the other 8,016 hours of the year
    assert k["fees_after_horizon_usd"] == pytest.approx(2 * 2.4 * (8760 - 744), abs=0.01)
    (m,) = doc["mix"]
    assert m["family"] == FAMILY and m["committed_instances"] == 2
    assert m["on_demand_share"] == pytest.approx(2 / 9)
    assert doc["solver"]["backend"] == "highs" and doc["solver"]["status"] == "optimal"


def test_table_shows_ladder_mix_kpis_and_baseline(case):
    res = run(["plan", str(case / "s.yaml")])
    assert res.exit_code == 0, res.output
    out = res.stdout
    for heading in ("Purchase ladder", "Mix per family", "KPIs", "all on-demand"):
        assert heading in out
    assert "test-ri-1y-all" in out and "2027-01-01" in out


@pytest.mark.parametrize("fmt,marker", [("csv", "date,provider,product"), ("md", "| date |"),
                                        ("html", "<table>")])
def test_other_formats(case, fmt, marker):
    res = run(["plan", str(case / "s.yaml"), "--format", fmt])
    assert res.exit_code == 0, res.output
    assert marker in res.stdout


def test_set_overrides_apply(case):
    res = run(["plan", str(case / "s.yaml"), "--format", "json", "--set", "products.payments=[no_upfront]"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {p["product"] for p in doc["purchases"]} == {"test-ri-1y"}


def test_bad_usage_exit_1_names_place_and_keeps_output(case):
    target = case / "plan.json"
    target.write_text("previous plan\n")
    bad = case / "bad.csv"
    bad.write_text("timestamp,family,instances\n2026-01-01T00:00:00Z,test/r1/g1,1\n2026-01-01 01:00:00,test/r1/g1,1\n")
    res = run(["plan", str(case / "s.yaml"), "--usage", str(bad), "--format", "json", "-o", str(target)])
    assert res.exit_code == 1
    assert "bad.csv" in res.stderr and "row 3" in res.stderr and "column 'timestamp'" in res.stderr
    assert "no time zone" in res.stderr
    assert target.read_text() == "previous plan\n"  # nothing half-written, nothing lost
    assert not [p for p in case.iterdir() if p.name.startswith(".plan.json")]


def test_unknown_family_did_you_mean(case):
    bad = case / "bad.csv"
    bad.write_text("timestamp,family,instances\n2026-01-01T00:00:00Z,test/r1/g2,1\n")
    res = run(["plan", str(case / "s.yaml"), "--usage", str(bad)])
    assert res.exit_code == 1
    assert "Did you mean 'test/r1/g1'" in res.stderr


def test_bad_catalog_exit_1(case):
    fam = case / "cat" / "families.csv"
    fam.write_text(fam.read_text().replace(",4.0,", ",-4.0,"))
    out = case / "p.json"
    res = run(["plan", str(case / "s.yaml"), "-o", str(out)])
    assert res.exit_code == 1
    assert "families.csv" in res.stderr and "on_demand_usd_per_hour" in res.stderr and "row 2" in res.stderr
    assert not out.exists()


def test_bad_set_is_usage_error(case):
    res = run(["plan", str(case / "s.yaml"), "--set", "constraints.spot_cap"])
    assert res.exit_code == 2


def test_infeasible_exit_3_names_group(case):
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"ri-1,test-ri-1y,{FAMILY},2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    res = run(["plan", str(case / "s.yaml"), "--inventory", str(case / "inv.csv"),
               "--set", "constraints.max_committed_usd_per_hour=1"])
    assert res.exit_code == 3, res.output
    assert "max_committed_usd_per_hour" in res.stderr


def test_inventory_is_used_first_and_not_duplicated(case):
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"ri-1,test-ri-1y,{FAMILY},2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    res = run(["plan", str(case / "s.yaml"), "--inventory", str(case / "inv.csv"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["purchases"] == []  # two reserved already in force: nothing more pays
    assert doc["mix"][0]["committed_instances"] == 2


def test_no_commitment_shows_no_utilization(case):
    """A plan that commits nothing has no commitment utilization to show (the simulator's
    KPI reads 1.0 there): the table and compare print '-', not 100%."""
    res = run(["plan", str(case / "s.yaml"), "--set", "products.kinds=[savings_plan]"])
    assert res.exit_code == 0, res.output
    (line,) = [ln for ln in res.stdout.splitlines() if ln.startswith("commitment utilization")]
    assert line.split()[2:] == ["-", "-"]
    res = run(["compare", str(case / "s.yaml"), "--set", "products.kinds=[savings_plan]"])
    assert res.exit_code == 0, res.output
    (line,) = [ln for ln in res.stdout.splitlines() if ln.startswith("commitment utilization")]
    assert line.split()[2:] == ["-"] and "100.0%" not in line
    committed = run(["plan", str(case / "s.yaml")])
    (line,) = [ln for ln in committed.stdout.splitlines() if ln.startswith("commitment utilization")]
    assert line.split()[2].endswith("%")


def test_lock_in_past_the_horizon_is_warned_about(case):
    """1-month horizon, 12-month all-upfront reservations: 11 of their 12 months of fees
    (8016 of 8760 hours: 92%) fall after the horizon; over 12 months, none does."""
    res = run(["plan", str(case / "s.yaml"), "--format", "json"])
    (said,) = [w for w in json.loads(res.stdout)["warnings"] if "fall after the horizon" in w]
    assert said.startswith(f"92% of the purchases' amortized fees (${2 * 2.4 * (8760 - 744):,.0f})")
    assert said.endswith("--set horizon.months=12")
    res = run(["plan", str(case / "s.yaml"), "--set", "horizon.months=12", "--format", "json"])
    assert res.exit_code == 0 and not [w for w in json.loads(res.stdout)["warnings"] if "fall after" in w]


@pytest.mark.parametrize("sets, expected, conservative, paths", [
    (("forecast.method=seasonal",), "P50", "P10", ["P10", "P50", "P90"]),
    (("forecast.method=seasonal", "forecast.conservative_quantile=null"), "P50", None, ["P10", "P50", "P90"]),
    (("forecast.method=seasonal", "forecast.conservative_quantile=0.25"), "P50", "P25", ["P10", "P50", "P90", "P25"]),
    ((), "replay", None, ["replay"]),
])
def test_forecast_block_names_the_expected_and_the_conservative_path(case, sets, expected, conservative, paths):
    """A script could not tell from the path list whether P10 bound the plan or there was no
    conservative path at all (helper 24's review). Seasonal plans February on January."""
    args = ["plan", str(case / "s.yaml"), "--format", "json", "--set", "horizon.start=2026-02-01"]
    for s in sets:
        args += ["--set", s]
    res = run(args)
    assert res.exit_code == 0, res.output
    fc = json.loads(res.stdout)["forecast"]
    assert (fc["expected"], fc["conservative"]) == (expected, conservative)
    assert [p["name"] for p in fc["paths"]] == paths


@pytest.mark.parametrize("fmt, legend", [
    ("table", "* estimated rate, not a published one"),
    ("md", "\\* estimated rate, not a published one"),
    ("html", "<p>* estimated rate, not a published one"),
])
def test_every_human_format_says_what_the_star_means(case, fmt, legend):
    """The all-upfront rate of the tiny catalog marked as an estimate: the ladder stars the
    product it buys (2 reserved, as in the JSON contract above) in every human format, and
    each says what the star means (md and html said nothing: helper 27's walk)."""
    com = case / "cat" / "commitments.csv"
    com.write_text(com.read_text().replace("2.4,test fixture (ours)", "2.4,estimate: test fixture (ours)"))
    res = run(["plan", str(case / "s.yaml"), "--format", fmt])
    assert res.exit_code == 0, res.output
    assert "test-ri-1y-all*" in res.stdout
    assert res.stdout.count(legend) == 1
    plain = run(["plan", str(case / "s.yaml"), "--format", fmt, "--set", "products.payments=[no_upfront]"])
    assert "estimated rate" not in plain.stdout
