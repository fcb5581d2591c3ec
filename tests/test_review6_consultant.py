"""Review 6, a consultant comparing what-if scenarios: bugs found by walking `gpuladder
compare` / `backtest` on a client base scenario and its `extends:` children."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import unicodedata

from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.report.compare import render_comparison
from gpuladder.report.text import text_table
from gpuladder.scenarios.compare import compare_scenarios
from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import run_scenario
from tiny_catalog import write_tiny_case


def run(args):
    return CliRunner().invoke(main, args)


def display_width(text: str) -> int:
    """Terminal cells: East Asian wide / fullwidth characters (CJK, most emoji) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_text_table_aligns_wide_characters_by_display_width():
    """A scenario named in Chinese, or with an emoji, pushed its column out of line in a
    terminal: widths were counted in characters, not in the cells they take."""
    lines = text_table(["", "增长 🚀", "base"], [["cost $", "1,000", "2,000,000"]], [False, True, True])
    widths = {display_width(line) for line in lines}
    assert len(widths) == 1, lines
    header, rule, row = lines
    assert header.endswith("增长 🚀  " + " " * (len("2,000,000") - len("base")) + "base")
    assert rule.split("  ")[1] == "-" * 7      # the column is 7 cells wide: "增长 🚀" takes 7
    assert row.split("  ")[-2].strip() == "1,000"


def _case(tmp_path):
    base = write_tiny_case(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "base.yaml").write_text("name: client\n" + base + "constraints: {min_utilization: null}\n")
    # two what-ifs left without a name: each is named after its file, and both files are whatif.yaml
    (tmp_path / "a" / "whatif.yaml").write_text("extends: ../base.yaml\nproducts: {payments: [no_upfront]}\n")
    (tmp_path / "b" / "whatif.yaml").write_text("extends: ../base.yaml\n")
    return tmp_path


def test_compare_tells_apart_two_scenarios_of_the_same_name(tmp_path):
    """Two scenarios of one name (two what-ifs in two folders named after their file, or a
    copy whose name: was not changed) gave two columns of the same heading: the table did
    not say which was which."""
    case = _case(tmp_path)
    a, b = str(case / "a" / "whatif.yaml"), str(case / "b" / "whatif.yaml")
    for fmt in ("table", "md", "html"):
        res = run(["compare", a, str(case / "base.yaml"), b, "--format", fmt])
        assert res.exit_code == 0, res.output
        assert f"whatif ({a})" in res.stdout and f"whatif ({b})" in res.stdout, res.stdout
        assert "client (" not in res.stdout          # a name used once keeps its plain label
    doc = json.loads(run(["compare", a, b, "--format", "json"]).stdout)
    assert [(s["name"], s["file"]) for s in doc["scenarios"]] == [("whatif", a), ("whatif", b)]


def test_a_list_where_a_mapping_is_expected_says_how_to_fix_it(tmp_path):
    """`constraints:` written as a YAML list (`- min_utilization: 0.9`, as in a list of
    rules) was refused without saying what to write instead."""
    case = _case(tmp_path)
    (case / "listy.yaml").write_text("extends: base.yaml\nname: listy\nconstraints:\n  - min_utilization: 0.9\n")
    res = run(["validate", str(case / "listy.yaml")])
    assert res.exit_code == 1
    assert "listy.yaml, line 3: constraints: expected a mapping of min_utilization" in res.output
    assert "got a list" in res.output
    assert "You can fix this by writing its settings as `key: value` lines indented under it, without a " \
           "leading '- ' (or inline: constraints: {min_utilization: ...})." in res.output, res.output


def test_extends_of_two_bases_says_to_chain_them(tmp_path):
    """Combining two what-ifs (`extends: [growth.yaml, spot.yaml]`) read 'expected text, got a
    list' with no way forward."""
    case = _case(tmp_path)
    (case / "both.yaml").write_text("extends: [base.yaml, a/whatif.yaml]\nname: both\n")
    res = run(["validate", str(case / "both.yaml")])
    assert res.exit_code == 1
    assert "both.yaml, line 1: extends: takes one base file, got a list of 2" in res.output, res.output
    assert "You can fix this by chaining them: extend one base, and write `extends:` to the other in that " \
           "base (or in a copy of it)" in res.output


def _plan_json(path, *sets):
    args = ["plan", str(path), "--format", "json"]
    for s in sets:
        args += ["--set", s]
    res = run(args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_a_ladder_limit_that_allows_no_purchase_is_named(tmp_path):
    """A 'staggered' what-if (max_bought_share_per_step 0.1 over a 6-month horizon, or
    max_expiring_share_per_quarter 0.3 when every term ends in two quarters) bought nothing,
    and neither the plan nor compare said why: ten steps of at most 10% each are needed, and
    2 quarters x 30% < 100%."""
    case = _case(tmp_path)
    bought = _plan_json(case / "base.yaml")
    assert len(bought["purchases"]) == 1 and not any("ladder" in w for w in bought["warnings"])

    doc = _plan_json(case / "base.yaml", "constraints.max_bought_share_per_step=0.4")
    assert doc["purchases"] == []
    assert ("constraints.max_bought_share_per_step 0.4 lets one ladder step buy at most 40% of what the plan "
            "buys, so buying needs at least 3 ladder steps; this horizon has 1 (horizon.months 1, "
            "constraints.ladder_step_months 1), so the plan can buy nothing; you can fix this by raising it to "
            "1 or by planning at least 3 ladder steps") in doc["warnings"], doc["warnings"]

    doc = _plan_json(case / "base.yaml", "constraints.max_expiring_share_per_quarter=0.5")
    assert doc["purchases"] == []
    assert ("constraints.max_expiring_share_per_quarter 0.5 lets at most 50% of the commitments expire in one "
            "quarter, but whatever this plan buys expires in 1 quarter (1 ladder step x terms of 12 months), so "
            "the plan can buy nothing; you can fix this by raising it to 1, or by more ladder steps or "
            "products.terms_months") in doc["warnings"], doc["warnings"]

    # enough steps: no note (6 monthly steps of a 6-month horizon, at most 1/6 + a little each)
    (case / "six.yaml").write_text("extends: base.yaml\nname: six\nhorizon: {months: 6}\n")
    doc = _plan_json(case / "six.yaml", "constraints.max_bought_share_per_step=0.17",
                     "constraints.max_expiring_share_per_quarter=0.5")
    assert not any("can buy nothing" in w for w in doc["warnings"]), doc["warnings"]


def test_compare_flags_a_plan_the_solver_stopped_on_its_time_limit(tmp_path):
    """A what-if whose solver stopped on its time limit (gap 30% on the growth what-if at
    --set solver.time_limit_s=0.5) stood beside optimal plans in the table, Markdown and CSV
    with nothing to say its figures are not the optimum's; only the JSON's warnings said so."""

    def run_stopping_one(scenario):
        plan = run_scenario(scenario)
        if scenario.name != "stopped":
            return plan
        return dataclasses.replace(plan, solver=dataclasses.replace(plan.solver, status="time_limit", gap=0.3044))

    case = _case(tmp_path)
    (case / "stopped.yaml").write_text("extends: base.yaml\nname: stopped\n")
    (case / "bad.yaml").write_text("extends: nowhere.yaml\nname: bad\n")
    files = [str(case / "base.yaml"), str(case / "stopped.yaml"), str(case / "bad.yaml")]
    cmp = compare_scenarios(files, load=load_scenario, run=run_stopping_one)
    table = render_comparison(cmp, "table")
    solver_row = next(line for line in table.splitlines() if line.startswith("solver"))
    assert solver_row.split() == ["solver", "optimal", "time", "limit,", "gap", "30.44%", "-"], table
    assert "| solver | optimal | time limit, gap 30.44% | - |" in render_comparison(cmp, "md")
    assert "<td class='r'>time limit, gap 30.44%</td>" in render_comparison(cmp, "html")
    rows = list(csv.DictReader(io.StringIO(render_comparison(cmp, "csv"))))
    assert [(r["solver_status"], r["solver_gap"]) for r in rows] == [("optimal", ""), ("time_limit", "0.3044"),
                                                                      ("", "")]


def test_compare_table_shows_each_plans_notes_once(tmp_path):
    """The table and Markdown dropped every plan warning: a stricter what-if that could buy
    nothing (and the note saying why) or a risk weight that changes nothing read as plain
    results. Each distinct note is listed once, with the scenarios it concerns."""
    case = _case(tmp_path)
    (case / "stagger.yaml").write_text("extends: base.yaml\nname: stagger\n"
                                       "constraints: {max_bought_share_per_step: 0.5}\n")
    (case / "risky.yaml").write_text("extends: base.yaml\nname: risky\nforecast: {risk_weight: 1}\n")
    files = [str(case / f) for f in ("base.yaml", "stagger.yaml", "risky.yaml")]
    for fmt, prefix in (("table", "note: "), ("md", "- note: ")):
        res = run(["compare", *files, "--format", fmt])
        assert res.exit_code == 0, res.output
        notes = [line for line in res.stdout.splitlines() if line.startswith(prefix)]
        assert any(line.startswith(f"{prefix}stagger: constraints.max_bought_share_per_step 0.5 lets one ladder")
                   for line in notes), res.stdout
        assert any(line.startswith(f"{prefix}risky: forecast.risk_weight 1 changes nothing") for line in notes)
        doc = json.loads(run(["compare", *files, "--format", "json"]).stdout)
        shared = set(doc["scenarios"][0]["warnings"]) & set(doc["scenarios"][1]["warnings"]) \
            & set(doc["scenarios"][2]["warnings"])
        for w in shared:      # a note every plan carries is listed once, for all
            assert f"{prefix}all: {w}" in notes
        assert len(notes) == len(set().union(*(s["warnings"] for s in doc["scenarios"])))


def test_an_infeasible_backtest_keeps_the_plans_reason(tmp_path):
    """`plan` says why a scenario is infeasible (the inventory alone holds more $/h than
    max_committed_usd_per_hour); `backtest` of the same scenario kept only the setting's name."""
    case = _case(tmp_path)
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  "ri-1,test-ri-1y,test/r1/g1,2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    (case / "capped.yaml").write_text("extends: base.yaml\nname: capped\ninventory: inv.csv\n"
                                      "forecast: {method: seasonal, lookback_days: 14}\n"
                                      "constraints: {max_committed_usd_per_hour: 1}\n")
    plan = run(["plan", str(case / "capped.yaml")])
    assert plan.exit_code == 3
    reason = "the existing commitments alone hold $5.00/h from"
    assert reason in plan.output, plan.output
    res = run(["backtest", str(case / "capped.yaml"), "--start", "2026-01-20"])
    assert res.exit_code == 3, res.output
    assert "relax constraints.max_committed_usd_per_hour" in res.output
    assert reason in res.output and "backtest re-plan at 2026-01-20T00:00Z" in res.output, res.output


def _validate_error(case, body: str) -> str:
    (case / "t.yaml").write_text("extends: base.yaml\nname: t\n" + body)
    res = run(["validate", str(case / "t.yaml")])
    assert res.exit_code == 1, res.output
    return res.output


def test_a_number_written_with_a_unit_gets_a_hint_that_fits(tmp_path):
    """`terms_months: [1y, 3y]` was told 'You can fix this by writing the value without
    quotes' (there were none); a unit on a number needs the number alone, terms in months."""
    case = _case(tmp_path)
    out = _validate_error(case, "products: {terms_months: [1y, 3y]}\n")
    assert "products.terms_months[0]: expected a whole number, got the text '1y'" in out
    assert "You can fix this by writing the term in months (12 for one year, 36 for three)." in out, out
    out = _validate_error(case, "forecast: {lookback_days: 30d}\n")
    assert "forecast.lookback_days: expected a whole number, got the text '30d'" in out
    assert "You can fix this by writing the number alone, without a unit or other text." in out, out
    out = _validate_error(case, "forecast: {lookback_days: '30'}\n")     # quoted: the old hint fits
    assert "You can fix this by writing the value without quotes." in out, out


def test_a_provider_in_capitals_is_pointed_to_its_catalog_name(tmp_path):
    """`providers: [AWS]` (as the consoles write it) was refused with no suggestion."""
    case = _case(tmp_path)
    out = _validate_error(case, "products: {providers: [TEST]}\n")
    assert "products.providers: 'TEST' is not in the catalog. Did you mean 'test'?" in out, out


def _set_error(case, base_body: str, item: str) -> str:
    (case / "s.yaml").write_text("extends: base.yaml\nname: s\n" + base_body)
    res = run(["validate", str(case / "s.yaml"), "--set", item])
    assert res.exit_code == 1, res.output
    return res.output


def test_setting_one_family_inside_a_number_keeps_the_number_for_the_others(tmp_path):
    """--set constraints.spot_cap.FAMILY=0.3 on a scenario whose spot_cap is 0.8 was told to
    --set 'constraints.spot_cap={FAMILY: 0.3}': following the hint silently cut every other
    family from 0.8 to the built-in 0.6 (and a rework overhead of 0.1 to the built-in table)."""
    case = _case(tmp_path)
    out = _set_error(case, "constraints: {spot_cap: 0.8}\n", "constraints.spot_cap.test/r1/g1=0.3")
    assert "You can fix this by setting it whole as a mapping: " \
           "--set 'constraints.spot_cap={test/r1/g1: 0.3, default: 0.8}'." in out, out
    out = _set_error(case, "constraints: {spot_rework_overhead: 0.1}\n", "constraints.spot_rework_overhead.>20%=0.3")
    hint = ("--set 'constraints.spot_rework_overhead={\"<5%\": 0.1, \"5-10%\": 0.1, \"10-15%\": 0.1, "
            "\"15-20%\": 0.1, \">20%\": 0.3}'.")
    assert hint in out, out
    out = _set_error(case, "usage: {interruptible_share: 0.5}\n", "usage.interruptible_share.test/r1/g1=0.3")
    assert "--set 'usage.interruptible_share={test/r1/g1: 0.3}' (the families it does not list then keep " \
           "their history's split, not 0.5)." in out, out

    # the hints do what they say
    res = run(["validate", str(case / "s.yaml"), "--set", "constraints.spot_cap={test/r1/g1: 0.3, default: 0.8}"])
    assert res.exit_code == 0, res.output
    res = run(["validate", str(case / "s.yaml"), "--set", hint[len("--set '"):-2]])
    assert res.exit_code == 0, res.output


def test_backtest_says_when_a_ladder_limit_leaves_gpuladder_nothing_to_buy(tmp_path):
    """fast-growth (max_bought_share_per_step 0.4) backtested weekly over its 45-day span:
    every re-plan plans the rest of the span, two monthly ladder steps at most, so no re-plan
    could buy (2 x 40% < 100%); gpuladder saved $0 against $3.3M without the limit, and the
    backtest said nothing (the hindsight, re-planned at the weekly dates, could buy)."""
    case = _case(tmp_path)
    (case / "bt.yaml").write_text("extends: base.yaml\nname: bt\nforecast: {method: seasonal, lookback_days: 14, "
                                  "conservative_quantile: null}\n")
    free = run(["backtest", str(case / "bt.yaml"), "--replan-every", "7D", "--format", "json"])
    assert free.exit_code == 0, free.output
    gp = next(p for p in json.loads(free.stdout)["policies"] if p["name"] == "gpuladder")
    assert gp["savings_usd"] > 0 and gp["purchases"], gp

    res = run(["backtest", str(case / "bt.yaml"), "--replan-every", "7D", "--format", "json",
               "--set", "constraints.max_bought_share_per_step=0.5"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    gp = next(p for p in doc["policies"] if p["name"] == "gpuladder")
    assert gp["purchases"] == []
    assert ("gpuladder buys nothing: constraints.max_bought_share_per_step 0.5 needs at least 2 ladder steps in a "
            "plan, and each re-plan plans only the rest of the span (1 step of 1 month at most); --plan-months 2 "
            "plans far enough ahead, or backtest with --set constraints.max_bought_share_per_step=null") \
        in doc["span"]["notes"], doc["span"]["notes"]
