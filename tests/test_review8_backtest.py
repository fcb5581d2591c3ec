"""Review of the backtest path as a consultant uses it (session 6): budgets and ladder limits
kept across re-plans, worked by hand on the tiny catalog ($4/h on-demand; 12-month
reservations at $2.50/h no upfront and $2.40/h all upfront, i.e. $21,024 paid on the day)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.scenarios.loader import load_scenario
from gpuladder.solver.backtest import BacktestOptions, backtest_scenario
from gpuladder.units import add_months, hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog

T0 = pd.Timestamp("2026-01-05T00:00Z")
START = T0 + pd.Timedelta(days=14)            # first usage hour + lookback_days
ALL_UPFRONT_USD = 2.4 * 8760                  # one all-upfront instance, 2026-01-19 + 12 months = 8,760 h


def write_case(folder, demand, constraints: str, days: int = 60):
    write_tiny_catalog(folder / "cat")
    idx = hourly_index(T0, T0 + pd.Timedelta(days=days))
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                  "instances": demand(np.arange(len(idx)) / 24)}).to_csv(folder / "u.csv", index=False)
    path = folder / "s.yaml"
    path.write_text("name: s\ncatalog: cat\nusage: u.csv\nforecast: {method: seasonal, lookback_days: 14}\n"
                    f"products: {{terms_months: [12]}}\nconstraints: {constraints}\n")
    return path


def two_then_six(days):
    return np.where(days < 21, 2.0, 6.0)


def upfront_by_span_quarter(policy, span_start) -> dict[int, float]:
    it = policy.purchases.items
    q = [next(k for k in range(8) if s < add_months(span_start, 3 * (k + 1))) for s in it["start"]]
    return it.groupby(np.asarray(q))["upfront_usd"].sum().to_dict()


def test_the_upfront_budget_per_quarter_holds_across_weekly_replans(tmp_path):
    """Budget $30,000 a quarter: one all-upfront instance ($21,024) fits, two do not. Demand 2
    until 2026-01-26, then 6. Each re-plan's own quarters start on its date and counted only
    what it paid itself, so the re-plan of 2026-02-09 paid another $21,024 in the span's first
    quarter ($42,048 in all; hindsight_within_rules the same on 2026-01-26). Now the second
    purchase is no-upfront. gpuladder: 1 all-upfront + 1 no-upfront on 01-19, 4 no-upfront on
    02-09 (the first re-plan that sees a week of 6): savings 2 x 1.5 x 1104 + 0.1 x 1104 +
    4 x 1.5 x 600 = $7,022.40 over the 1,104-hour span."""
    bt = backtest_scenario(load_scenario(write_case(tmp_path, two_then_six, "{max_upfront_usd_per_quarter: 30000}")),
                           BacktestOptions(replan_every="7D"))
    assert bt.start == START and bt.hours == 1104
    for name in ("gpuladder", "hindsight_within_rules"):
        spent = upfront_by_span_quarter(bt.policy(name), bt.start)
        assert max(spent.values()) <= 30000 + 1e-6, (name, spent)
    g = bt.policy("gpuladder").purchases.items
    assert g.groupby(["start", "product"])["quantity"].sum().to_dict() == {
        (START, "test-ri-1y"): 1.0, (START, "test-ri-1y-all"): 1.0,
        (pd.Timestamp("2026-02-09T00:00Z"), "test-ri-1y"): 4.0}
    assert g["upfront_usd"].sum() == pytest.approx(ALL_UPFRONT_USD)
    assert bt.policy("gpuladder").kpis.savings_usd == pytest.approx(2 * 1.5 * 1104 + 0.1 * 1104 + 4 * 1.5 * 600)
    # within the rules the limit buys the 4 a week earlier, on 01-26, no-upfront:
    # 2 x 1.5 x 1104 + 0.1 x 1104 + 4 x 1.5 x 936
    assert bt.policy("hindsight_within_rules").kpis.savings_usd == pytest.approx(
        2 * 1.5 * 1104 + 0.1 * 1104 + 4 * 1.5 * 936)
    # hindsight has no budget: all six all-upfront, $126,144 in the quarter
    assert bt.policy("hindsight").purchases.items["upfront_usd"].sum() == pytest.approx(6 * ALL_UPFRONT_USD)


def test_the_budget_is_fresh_in_the_next_quarter_of_the_span(tmp_path):
    """150 days of history, demand 2 then 6 from day 21: the span starts 2026-01-19, its second
    quarter on 2026-04-19. A re-plan in that quarter may pay one all-upfront instance again;
    what earlier re-plans paid in the first quarter does not count against it."""
    def two_six_ten(days):
        return np.select([days < 21, days < 100], [2.0, 6.0], 10.0)

    bt = backtest_scenario(load_scenario(write_case(tmp_path, two_six_ten, "{max_upfront_usd_per_quarter: 30000}",
                                                    days=150)), BacktestOptions(replan_every="1M"))
    spent = upfront_by_span_quarter(bt.policy("gpuladder"), bt.start)
    assert spent == pytest.approx({0: ALL_UPFRONT_USD, 1: ALL_UPFRONT_USD})


def three_then_idle(days):
    return np.where(days < 14, 3.0, 0.0)


def test_a_span_without_demand_has_no_savings_rate(tmp_path):
    """3 instances for the 14 days of lookback, then none: every console and gpuladder reserve
    3 at $2.40/h all upfront (cheapest) and pay 3 x 2.4 x 624 = $4,492.80 for nothing over the
    624-hour span. savings / on-demand equivalent is -4,492.80 / 0: no rate (it read 0.0%, the
    rate of on_demand, which lost nothing); capture is null (hindsight saves nothing)."""
    path = write_case(tmp_path, three_then_idle, "{}", days=40)
    result = CliRunner().invoke(main, ["backtest", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    policies = {p["name"]: p for p in doc["policies"]}
    g = policies["gpuladder"]
    assert g["cost_usd"] == pytest.approx(3 * 2.4 * 624) and g["savings_usd"] == pytest.approx(-3 * 2.4 * 624)
    assert g["waste_usd"] == pytest.approx(3 * 2.4 * 624) and g["commitment_utilization"] == 0.0
    assert all(p["effective_savings_rate"] is None and p["capture"] is None for p in doc["policies"])
    table = CliRunner().invoke(main, ["backtest", str(path)]).stdout
    row = next(line for line in table.splitlines() if line.startswith("gpuladder   "))
    assert "0.0%" in row and row.split()[3] == "-"    # utilization 0.0%, savings rate '-'


def test_purchases_name_a_savings_plans_scope_as_the_plan_json_does(tmp_path):
    """The backtest's purchase rows carry ``scope`` like ``gpuladder plan``'s: the product for
    a savings plan, null for a reservation."""
    from gpuladder.pricing.catalog import embedded_catalog
    from gpuladder.report.backtest import purchase_list
    from gpuladder.solver.book import make_purchases

    cat = embedded_catalog()
    day = pd.Timestamp("2026-11-08T00:00Z")
    book = make_purchases(cat, pd.DataFrame([
        {"product": "aws-ec2sp-us-east-1-p5-3y-all_upfront", "family": "", "quantity": 10.0, "start": day},
        {"product": "gcp-cud-3y", "family": "gcp/us-central1/a3-highgpu-8g", "quantity": 2.0, "start": day}]))
    rows = {r["product"]: r for r in purchase_list(SimpleNamespace(purchases=book))}
    assert rows["aws-ec2sp-us-east-1-p5-3y-all_upfront"]["scope"] == "aws-ec2sp-us-east-1-p5-3y-all_upfront"
    assert rows["aws-ec2sp-us-east-1-p5-3y-all_upfront"]["family"] is None
    assert rows["gcp-cud-3y"]["scope"] is None and rows["gcp-cud-3y"]["family"] == "gcp/us-central1/a3-highgpu-8g"


def test_the_expiring_share_holds_across_replans_on_calendar_quarters(tmp_path):
    """12- and 36-month reservations at the same $2.50/h, max_expiring_share_per_quarter 0.5,
    demand 2 then 6 from 2026-01-26, weekly re-plans. gpuladder buys 1 + 1 on 01-19 (50/50).
    When quarters counted from each re-plan's date, the re-plan of 02-09 put the 1-year of
    01-19 (expiring 2027-01-19) and its own (2027-02-09) in two quarters and bought three
    1-year and one 3-year: 4 of 6 expired in one quarter of the span (67%). On calendar
    quarters both expire in 2027Q1 for every re-plan, and the span ends 3 + 3 like
    hindsight_within_rules, and no note is needed."""
    path = write_case(tmp_path, two_then_six, "{max_expiring_share_per_quarter: 0.5}")
    (tmp_path / "cat" / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        f"test-ri-1y,test,reservation,12,no_upfront,0,{FAMILY},2.5,test fixture (ours),2026-01-01\n"
        f"test-ri-3y,test,reservation,36,no_upfront,0,{FAMILY},2.5,test fixture (ours),2026-01-01\n")
    path.write_text(path.read_text().replace("terms_months: [12]", "terms_months: [12, 36]"))
    bt = backtest_scenario(load_scenario(path), BacktestOptions(replan_every="7D"))
    by_term = bt.policy("gpuladder").purchases.items.groupby("term_months")["quantity"].sum().to_dict()
    assert by_term == {12: 3.0, 36: 3.0}
    within = bt.policy("hindsight_within_rules").purchases.items.groupby("term_months")["quantity"].sum()
    assert within.to_dict() == {12: 3.0, 36: 3.0}
    assert [n for n in bt.notes if "max_expiring_share_per_quarter" in n] == []


def test_an_expiring_share_broken_by_the_kept_purchases_is_said(tmp_path):
    """The note's check on books by hand ($2.50/h reservations): 1-year x2 bought 2026-01-19
    and x2 2026-02-09 (ending 2027-01-19 and 2027-02-09, both 2027Q1) with 3-year x2 is 4 of
    6 = 67% against 0.5, named on the calendar quarter; 1-year 1 + 2 with 3-year 1 + 2 is 50%,
    not over."""
    from gpuladder.pricing.catalog import load_catalog
    from gpuladder.scenarios.schema import Constraints
    from gpuladder.solver.backtest import _expiring_share_note
    from gpuladder.solver.book import CommitmentBook, make_purchases

    write_tiny_catalog(tmp_path)
    (tmp_path / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        f"test-ri-1y,test,reservation,12,no_upfront,0,{FAMILY},2.5,test fixture (ours),2026-01-01\n"
        f"test-ri-3y,test,reservation,36,no_upfront,0,{FAMILY},2.5,test fixture (ours),2026-01-01\n")
    cat = load_catalog(tmp_path)
    feb = pd.Timestamp("2026-02-09T00:00Z")

    def book(rows) -> CommitmentBook:
        return make_purchases(cat, pd.DataFrame(rows, columns=["product", "quantity", "start"]).assign(family=FAMILY))

    cons = Constraints(max_expiring_share_per_quarter=0.5)
    end = START + pd.Timedelta(hours=1104)
    broken = book([("test-ri-1y", 2.0, START), ("test-ri-1y", 2.0, feb), ("test-ri-3y", 2.0, feb)])
    (note,) = _expiring_share_note(cons, CommitmentBook.empty(), broken, START, end, "gpuladder")
    assert note.startswith("gpuladder: 67% of the committed $/h (inventory in force included) expires in 2027Q1, "
                           "above constraints.max_expiring_share_per_quarter 0.5")
    kept = book([("test-ri-1y", 1.0, START), ("test-ri-3y", 1.0, START), ("test-ri-1y", 2.0, feb),
                 ("test-ri-3y", 2.0, feb)])
    assert _expiring_share_note(cons, CommitmentBook.empty(), kept, START, end, "gpuladder") == []
