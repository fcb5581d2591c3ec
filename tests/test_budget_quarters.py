"""Budget and ladder quarters on the calendar (or fiscal) year (constraints.fiscal_year_start_month).

The upfront budget and the expiring share hold per quarter of the year, not per quarter
counted from the horizon's start: a monthly re-ladder's earlier purchases in the same
quarter count against its budget. Hand-worked cases use family f0 (on-demand $4/h) with
one-month reservations: all upfront at $2.3/h (a month's upfront: 2.3 x its hours, $1,656
for November's 720 h, $1,711.2 for a 744 h month) or no upfront at $2.5/h; every
instance bought all upfront saves $0.2/h, so under a budget the plan fills as much of it
as it can, the longer months first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_instances import EXACT_SOLVE, Product, catalog, family, forecast, horizon, problem
from gpuladder.cli import main
from gpuladder.errors import EXIT_INPUT
from gpuladder.scenarios.loader import ScenarioError, load_scenario
from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.plan import plan_problem
from gpuladder.solver.quarters import quarter_ids, quarter_name, quarter_start

OCT_01, OCT_05 = pd.Timestamp("2026-10-01", tz="UTC"), pd.Timestamp("2026-10-05", tz="UTC")
NOV, DEC, JAN = (pd.Timestamp(d, tz="UTC") for d in ("2026-11-01", "2026-12-01", "2027-01-01"))
UPFRONT_MONTH_USD = 2.3 * 744    # $1,711.2: one instance all upfront for a 744 h month
UPFRONT_NOV_USD = 2.3 * 720      # $1,656
EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "examples" / "default.yaml"


def _catalog():
    return catalog([4.0], [None], [
        Product("ri-all", "reservation", 1, {family(0): 2.3}, "all_upfront", 1.0),
        Product("ri-none", "reservation", 1, {family(0): 2.5}, "no_upfront", 0.0)])


def _cons(**kw) -> Constraints:
    return Constraints(min_utilization=None, spot_cap=None, spot_rework_overhead=0.0, **kw)


def _inventory(cat, quantity: float, start: pd.Timestamp) -> CommitmentBook:
    """``quantity`` all-upfront instances bought at ``start`` and already ended a day later
    (their upfront was paid; they cover no hour of the horizons below)."""
    book = make_purchases(cat, pd.DataFrame({"product": ["ri-all"], "family": [family(0)], "quantity": [quantity],
                                             "start": [start]}), origin="inventory", id_prefix="inv")
    return CommitmentBook(book.items.assign(end=start + pd.Timedelta(days=1)))


def _plan(start: pd.Timestamp, months: int, budget: float, inventory: CommitmentBook, fiscal: int = 1,
          level: float = 2.0):
    idx = horizon(months, start)
    cons = _cons(max_upfront_usd_per_quarter=budget, fiscal_year_start_month=fiscal)
    return plan_problem(problem(forecast(idx, np.full((len(idx), 1), level)), _catalog(), constraints=cons,
                                inventory=inventory), EXACT_SOLVE)


def _all_upfront_by_month(plan) -> dict:
    p = plan.purchases[plan.purchases["product"] == "ri-all"]
    return {f"{d:%Y-%m}": q for d, q in zip(pd.to_datetime(p["date"]), p["quantity"]) if q > 0}


def _budget_lines(plan) -> list[str]:
    return [w for w in plan.warnings if w.startswith("max_upfront_usd_per_quarter")]


# ---------------------------------------------------------------- the grid


def test_quarter_names_and_starts_on_calendar_and_fiscal_years():
    assert quarter_name(quarter_ids([NOV])[0]) == "2026Q4"
    assert quarter_start(quarter_ids([NOV])[0]) == pd.Timestamp("2026-10-01", tz="UTC")
    april = pd.Timestamp("2026-04-01", tz="UTC")
    assert quarter_name(quarter_ids([april], 4)[0], 4) == "FY2027Q1 (from 2026-04-01)"
    assert quarter_name(quarter_ids([april - pd.Timedelta(hours=1)], 4)[0], 4) == "FY2026Q4 (from 2026-01-01)"
    assert quarter_name(quarter_ids([NOV], 10)[0], 10) == "FY2027Q1 (from 2026-10-01)"
    assert quarter_name(quarter_ids([NOV], 12)[0], 12) == "FY2026Q4 (from 2026-09-01)"


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("2090-12-31").to_pydatetime()),
       st.integers(1, 12))
def test_quarters_agree_with_pandas_fiscal_periods(when, fiscal):
    """pandas' quarterly periods ending in the month before the fiscal start (Q-MAR for a
    year from April) are an independent oracle: the same quarter, start and fiscal year."""
    t = pd.Timestamp(when, tz="UTC")
    period = pd.Timestamp(when).to_period(f"Q-{pd.Timestamp(2000, (fiscal - 2) % 12 + 1, 1):%b}".upper())
    k = int(quarter_ids([t], fiscal)[0])
    assert quarter_start(k, fiscal) == period.start_time.tz_localize("UTC")
    assert quarter_ids([quarter_start(k, fiscal)], fiscal)[0] == k
    name = f"{period.qyear}Q{period.quarter}"
    assert quarter_name(k, fiscal) == (name if fiscal == 1 else f"FY{name} (from {period.start_time:%Y-%m-%d})")


# ---------------------------------------------------------------- the upfront budget


def test_inventory_bought_before_a_mid_quarter_horizon_is_charged_to_its_quarter():
    """Horizon 2026-11-01 + 3 months, $5,000 a quarter, 1 instance bought 2026-10-05 all
    upfront ($1,711.2). 2026Q4 (November and December) has $3,288.8 left: one instance all
    upfront (two in November, $3,312, do not fit), in December (744 h). 2027Q1 has the whole
    $5,000: both of January's ($3,422.4). Quarters from the horizon's start (the old rule)
    gave November-January one $5,000 with nothing charged: two in November."""
    inv = _inventory(_catalog(), 1.0, OCT_05)
    plan = _plan(NOV, 3, 5000.0, inv)
    assert _all_upfront_by_month(plan) == {"2026-12": 1.0, "2027-01": 2.0}
    none = plan.purchases[plan.purchases["product"] == "ri-none"]
    assert dict(zip(pd.to_datetime(none["date"]).dt.strftime("%Y-%m"), none["quantity"])) == {"2026-11": 2.0,
                                                                                               "2026-12": 1.0}
    assert _budget_lines(plan) == [
        "max_upfront_usd_per_quarter: 2026Q4 has $3,289 of its $5,000 budget left for this plan: the inventory "
        "paid $1,711 upfront in it before the horizon's start (1 commitment(s) from 2026-10-05)"]


@pytest.mark.parametrize("fiscal, bought, quarter", [
    (1, {"2026-12": 1.0}, "2026Q4"),                                  # Oct-Dec: the inventory's quarter
    (4, {"2026-12": 1.0}, "FY2027Q3 (from 2026-10-01)"),              # the same windows, fiscal names
    (12, {"2026-11": 1.0, "2026-12": 2.0}, "FY2026Q4 (from 2026-09-01)"),  # Sep-Nov with it, Dec-Feb free
    (2, {"2026-12": 2.0}, None),                                      # Nov-Jan: the inventory is in Aug-Oct
])
def test_the_fiscal_year_start_moves_the_budget_windows(fiscal, bought, quarter):
    """Horizon November-December 2026, $5,000 a quarter, $1,711.2 paid 2026-10-05. A year
    from April has the calendar's windows (named FY2027Q3 for October-December); one from
    December puts November with October (budget $3,288.8: one instance) and December in a
    fresh quarter (both); one from February puts November and December in one quarter
    without the inventory: three instances need $5,023.2 at least, so $5,000 buys two, both
    in December (the longer month fills more of it)."""
    plan = _plan(NOV, 2, 5000.0, _inventory(_catalog(), 1.0, OCT_05), fiscal)
    assert _all_upfront_by_month(plan) == bought
    lines = _budget_lines(plan)
    assert (lines == []) if quarter is None else (len(lines) == 1 and f"max_upfront_usd_per_quarter: {quarter} has "
                                                  f"$3,289 of its $5,000 budget left" in lines[0])


def test_a_quarter_aligned_horizon_plans_as_before():
    """Horizon 2027-01-01 + 2 months: the inventory's 2026Q4 payment is outside the
    horizon's quarters, so the plan is the one without inventory, as before: $5,000 for
    2027Q1 buys three instances (two in January and one in February, $4,968; one in January
    and two in February fill less, four pass it), and nothing is said."""
    plan = _plan(JAN, 2, 5000.0, _inventory(_catalog(), 1.0, OCT_05))
    assert _all_upfront_by_month(plan) == {"2027-01": 2.0, "2027-02": 1.0}
    assert _budget_lines(plan) == []
    bare = _plan(JAN, 2, 5000.0, CommitmentBook.empty())
    assert bare.purchases.drop(columns="id", errors="ignore").equals(plan.purchases.drop(columns="id", errors="ignore"))


def test_monthly_re_ladder_keeps_the_quarter_within_budget():
    """The re-ladder loop: plan from 2026-11-01, keep its 11-01 purchases as inventory, plan
    from 2026-12-01. Budget $5,050; $1,711.2 paid 10-05. The first plan has $3,338.8 in
    2026Q4: two instances in November ($3,312). The second has $26.8 left of 2026Q4: none
    all upfront in December. The quarter's total, summed from the commitment book (not the
    solver), stays within $5,050; the old rule gave the second plan a fresh $5,050 and
    2026Q4 paid $8,445.6."""
    cat = _catalog()
    inv = _inventory(cat, 1.0, OCT_05)
    first = _plan(NOV, 3, 5050.0, inv)
    kept = first.book.items[(first.book.items["origin"] == "purchase") & (first.book.items["start"] == NOV)]
    assert kept.loc[kept["product"] == "ri-all", "quantity"].sum() == 2.0
    inv2 = inv.concat(CommitmentBook(kept.assign(origin="inventory", id=[f"m1-{i}" for i in range(len(kept))])))
    second = _plan(DEC, 3, 5050.0, inv2)
    everything = inv2.concat(second.book.of_origin("purchase"))
    q4 = float(everything.upfront_paid(OCT_01, JAN).sum())
    assert q4 == pytest.approx(UPFRONT_MONTH_USD + 2 * UPFRONT_NOV_USD)
    assert q4 <= 5050.0
    assert _all_upfront_by_month(second).get("2026-12", 0.0) == 0.0
    assert _budget_lines(second) == [
        "max_upfront_usd_per_quarter: 2026Q4 has $27 of its $5,050 budget left for this plan: the inventory paid "
        "$5,023 upfront in it before the horizon's start (2 commitment(s) from 2026-10-05)"]


def test_inventory_over_the_budget_buys_no_upfront_in_its_quarter():
    """$3,422.4 paid 2026-10-05 (two instances) against $3,000: 2026Q4 buys nothing all
    upfront (not infeasible) and says so; 2027Q1's $3,000 holds one of January's two."""
    plan = _plan(NOV, 3, 3000.0, _inventory(_catalog(), 2.0, OCT_05))
    assert _all_upfront_by_month(plan) == {"2027-01": 1.0}
    assert _budget_lines(plan) == [
        "max_upfront_usd_per_quarter: the inventory paid $3,422 upfront in 2026Q4 ($3,422 of it before the "
        "horizon's start, 2026-11-01), over the $3,000 budget: nothing with an upfront payment is bought in 2026Q4"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.floats(0.0, 9000.0),
       bought=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 3)), max_size=3),
       start=st.sampled_from([NOV, DEC]), fiscal=st.sampled_from([1, 2, 12]))
def test_upfront_per_quarter_over_plan_and_inventory_stays_within_the_budget(budget, bought, start, fiscal):
    """Random budgets and inventories bought in the 61 days before 2026-12-01: summed from
    the book per quarter (pandas' fiscal periods), plan + inventory pay at most the budget
    wherever the inventory alone is within it, and the plan pays nothing upfront where it
    is not."""
    cat = _catalog()
    inv = CommitmentBook.empty()
    for day, quantity in bought:
        inv = inv.concat(_inventory(cat, float(quantity), OCT_01 + pd.Timedelta(days=day)))
    inv = CommitmentBook(inv.items.assign(id=[f"inv-{i}" for i in range(len(inv))]))
    plan = _plan(start, 3, budget, inv, fiscal, level=3.0)
    freq = f"Q-{pd.Timestamp(2000, (fiscal - 2) % 12 + 1, 1):%b}".upper()

    def per_quarter(book: CommitmentBook) -> pd.Series:
        it = book.items
        return it["upfront_usd"].groupby(it["start"].dt.tz_localize(None).dt.to_period(freq)).sum()

    inv_q = per_quarter(inv)
    bought_q = per_quarter(plan.book.of_origin("purchase"))
    for k, paid in bought_q.items():
        held = float(inv_q.get(k, 0.0))
        if held <= budget:
            assert held + paid <= budget + 1e-6
        else:
            assert paid == 0.0


# ---------------------------------------------------------------- the expiring share


def _ladder_catalog():
    return catalog([4.0], [None], [Product("ri-1m", "reservation", 1, {family(0): 2.6}),
                                   Product("ri-3m", "reservation", 3, {family(0): 2.2})])


def test_expiring_share_holds_on_calendar_quarters():
    """Demand 4/h from 2026-11-01 for 3 months (720, 744, 744 h), one- and three-month
    reservations, at most 50% of the $/h expiring in a quarter. Quarters from the horizon's
    start (the old rule) put the expiries of 2027-01-01 and 2027-02-01 in two quarters and
    bought four one-month reservations in December and four in January, all ending in
    2027Q1 ($26,995.2). On the calendar the plan spreads them: 3 one-month in November
    (7.8 $/h ending 2026Q4), 1 one-month in December and three-month 1 in November and 2 in
    December (9.2 $/h ending 2027Q1, 48%), 1 three-month in January (2027Q2): by hand,
    7,200 + 6,844.8 + 6,547.2 = $20,592. Shares checked on pandas' calendar periods of the
    book's expiries."""
    idx = horizon(3, NOV)
    cons = _cons(max_expiring_share_per_quarter=0.5)
    plan = plan_problem(problem(forecast(idx, np.full((len(idx), 1), 4.0)), _ladder_catalog(), constraints=cons),
                        EXACT_SOLVE)
    it = plan.book.of_origin("purchase").items
    rate = CommitmentBook(it).amortized_usd_per_hour()
    share = rate.groupby(it["end"].dt.tz_localize(None).dt.to_period("Q")).sum() / rate.sum()
    assert share.max() <= 0.5 + 1e-9
    assert plan.simulation.kpis.cost_usd == pytest.approx(20592.0)


# ---------------------------------------------------------------- the key


def test_fiscal_year_start_month_is_read_and_defaults_to_calendar_quarters():
    assert load_scenario(None).constraints.fiscal_year_start_month == 1
    sc = load_scenario(None, ["constraints.fiscal_year_start_month=4"])
    assert sc.constraints.fiscal_year_start_month == 4


@pytest.mark.parametrize("value, words", [
    ("0", "0 is not a month number (1-12)"), ("13", "13 is not a month number (1-12)"),
    ("2.5", "2.5 is not a month number (1-12)"), ("april", "expected a whole number, got the text 'april'"),
    ("null", "cannot be null"), ("true", "reads the unquoted true as the boolean true")])
def test_bad_fiscal_year_start_month_names_the_key_and_the_fix(value, words):
    with pytest.raises(ScenarioError) as err:
        load_scenario(None, [f"constraints.fiscal_year_start_month={value}"])
    assert err.value.exit_code == EXIT_INPUT
    assert err.value.key == "constraints.fiscal_year_start_month"
    assert words in str(err.value)
    if value in ("0", "13", "2.5"):
        assert "1 for calendar quarters" in str(err.value)


def test_cli_refuses_a_bad_month_with_exit_1():
    out = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--set", "constraints.fiscal_year_start_month=13"])
    assert out.exit_code == 1
    assert "constraints.fiscal_year_start_month" in out.output
