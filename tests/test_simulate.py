"""Billing simulator (solver/simulate.py): each rule alone, rules in combination, STYLE.md's
hand-worked cases and bad input. The properties against a naive per-hour oracle are in
tests/test_simulate_properties.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpuladder.errors import DomainError
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.simulate import DispatchRules, simulate
from simulate_cases import T0, buy, fam, frame, make_catalog, run


@pytest.fixture
def one(tmp_path):
    """STYLE.md's family: on-demand $4.00/h, spot $1.50/h, reservation $2.50/h effective."""
    return make_catalog(tmp_path, [("a.x", 4.0, 1.5, "<5%")],
                        [("ri", "reservation", 12, "no_upfront", 0.0, "a.x", 2.5),
                         ("sp", "savings_plan", 12, "no_upfront", 0.0, "a.x", 2.0)])


# ---------------------------------------------------------------- STYLE.md's six cases

STYLE_CASES = [
    # pattern, interruptible, spot cap, reserved, cost, all on-demand
    ([2, 2, 2, 2], False, None, 2, 20.0, 32.0),
    ([4, 0, 0, 0], False, None, 0, 16.0, 16.0),
    ([2, 2, 1, 1], False, None, 1, 18.0, 24.0),
    ([2, 2, 2, 2], True, 0.5, 1, 16.0, 32.0),
    ([2, 2, 2, 1], False, None, 2, 20.0, 28.0),
    ([2, 2, 2, 1], False, None, 1, 22.0, 28.0),
]


@pytest.mark.parametrize("repeat", [1, 186])
@pytest.mark.parametrize("pattern,interruptible,cap,reserved,cost,all_on_demand", STYLE_CASES)
def test_style_cases(one, repeat, pattern, interruptible, cap, reserved, cost, all_on_demand):
    """Per 4 hours, fee 2.50 per reserved instance-hour, on-demand 4.00, spot 1.50:
    2,2,2,2 reserve 2: 2*2.5*4 = 20 (OD 8*4 = 32).  4,0,0,0 reserve 0: 4*4 = 16.
    2,2,1,1 reserve 1: 1*2.5*4 + (1+1)*4 = 18 (OD 24).
    2,2,2,2 interruptible, cap 0.5, reserve 1: eligible 1/h; the reservation takes the
    firm instance: 2.5*4 + 1.5*4 = 16 (OD 32).  2,2,2,1 reserve 2: 20 (OD 28);
    reserve 1: 10 + 3*4 = 22.  repeat=186 is the month-long series (744 hours)."""
    demand = frame({"a.x": pattern * repeat})
    inter = demand if interruptible else demand * 0.0
    book = buy(one, [("ri", "a.x", reserved, T0)] if reserved else [])
    res = run(one, book, demand, inter, cap=cap)
    assert res.kpis.cost_usd == pytest.approx(cost * repeat, rel=1e-12)
    assert res.kpis.cash_cost_usd == pytest.approx(cost * repeat, rel=1e-12)
    assert res.kpis.on_demand_equivalent_usd == pytest.approx(all_on_demand * repeat)
    baseline = run(one, CommitmentBook.empty(), demand, inter, cap=0.0)
    assert baseline.kpis.cost_usd == pytest.approx(all_on_demand * repeat)
    assert res.kpis.savings_usd == pytest.approx((all_on_demand - cost) * repeat)


def test_style_case_utilization(one):
    """2,2,2,1 with 2 reserved: 7 of 8 reserved instance-hours used -> 0.875, waste 2.50;
    coverage = 7 covered instance-hours * 4 / 28 = 1.0; effective savings 1 - 20/28."""
    res = run(one, buy(one, [("ri", "a.x", 2, T0)]), frame({"a.x": [2, 2, 2, 1]}))
    k = res.kpis
    assert k.commitment_utilization == pytest.approx(0.875)
    assert k.waste_usd == pytest.approx(2.5)
    assert k.coverage == pytest.approx(1.0)
    assert k.effective_savings_rate == pytest.approx(1 - 20 / 28)
    row = res.by_commitment.loc["c0"]
    assert (row.hours_in_horizon, row.amortized_fee_usd, row.used_usd) == pytest.approx((4, 20.0, 17.5))
    assert res.by_family.loc[fam("a.x"), "avg_reserved_instances"] == pytest.approx(2.0)


# ---------------------------------------------------------------- each rule alone

def test_reservation_covers_firm_first(one):
    """Demand 3 of which 2 interruptible (no cap), 1 reserved. Firm first: the firm
    instance is reserved, 2 eligible on spot: 2.5 + 2*1.5 = 5.5/h. Eligible-first would
    leave the firm one on-demand: 2.5 + 4 + 1.5 = 8.0/h."""
    res = run(one, buy(one, [("ri", "a.x", 1, T0)]), frame({"a.x": [3, 3]}), frame({"a.x": [2, 2]}))
    assert res.kpis.cost_usd == pytest.approx(11.0)
    assert res.hourly.spot_instances.iloc[:, 0].tolist() == [2.0, 2.0]
    assert res.hourly.on_demand_instances.iloc[:, 0].tolist() == [0.0, 0.0]


def test_reservation_then_covers_eligible(one):
    """Demand 3, 2 interruptible, 2 reserved: firm 1 + 1 eligible reserved, 1 on spot:
    2*2.5 + 1.5 = 6.5/h."""
    res = run(one, buy(one, [("ri", "a.x", 2, T0)]), frame({"a.x": [3]}), frame({"a.x": [2]}))
    assert res.kpis.cost_usd == pytest.approx(6.5)
    assert res.hourly.reserved_instances.iloc[0, 0] == pytest.approx(2.0)


def test_several_reservation_rows_add_up(one):
    """Two rows of 1 = one of 2: demand 2 fully reserved, 2*2.5 = 5/h; each row used 100%."""
    res = run(one, buy(one, [("ri", "a.x", 1, T0), ("ri", "a.x", 1, T0)]), frame({"a.x": [2, 2]}))
    assert res.kpis.cost_usd == pytest.approx(10.0)
    assert res.by_commitment["utilization"].tolist() == pytest.approx([1.0, 1.0])


def test_spot_cap_number_and_mapping(tmp_path):
    """Demand 4, all interruptible. Cap 0.25: 1 spot + 3 OD = 1.5 + 12 = 13.5/h.
    Mapping {a: 0.5}: a has 2 spot + 2 OD = 11; b omitted = no cap: 4 spot = 6 -> 17."""
    cat = make_catalog(tmp_path, [("a.x", 4.0, 1.5, "<5%"), ("b.x", 4.0, 1.5, "<5%")])
    demand = frame({"a.x": [4.0], "b.x": [4.0]})
    assert run(cat, CommitmentBook.empty(), demand, demand, cap=0.25).kpis.cost_usd == pytest.approx(27.0)
    res = run(cat, CommitmentBook.empty(), demand, demand, cap={fam("a.x"): 0.5})
    assert res.kpis.cost_usd == pytest.approx(17.0)
    assert res.kpis.spot_share == pytest.approx(6 / 8)


def test_rework_overhead_by_bucket_and_single_number(tmp_path):
    """a: spot 1.5 in '<5%', b: spot 2.0 in '>20%', both on-demand 4, 1 eligible instance.
    By bucket {<5%: 0.1, >20%: 0.5}: 1.65 + 3.0 = 4.65. One number 0.2: 1.8 + 2.4 = 4.2.
    Buckets left out have no overhead: {'>20%': 0.5} -> 1.5 + 3.0 = 4.5."""
    cat = make_catalog(tmp_path, [("a.x", 4.0, 1.5, "<5%"), ("b.x", 4.0, 2.0, ">20%")])
    demand = frame({"a.x": [1.0], "b.x": [1.0]})
    by_bucket = run(cat, CommitmentBook.empty(), demand, demand, overhead={"<5%": 0.1, ">20%": 0.5})
    assert by_bucket.kpis.cost_usd == pytest.approx(4.65)
    assert run(cat, CommitmentBook.empty(), demand, demand, overhead=0.2).kpis.cost_usd == pytest.approx(4.2)
    assert run(cat, CommitmentBook.empty(), demand, demand, overhead={">20%": 0.5}).kpis.cost_usd == pytest.approx(4.5)


def test_spot_not_cheaper_than_on_demand_runs_on_demand(tmp_path):
    """Spot 3.5 with overhead 0.2 = 4.2 > on-demand 4: the eligible instance runs on-demand
    (4.0, reported as on-demand, spot share 0)."""
    cat = make_catalog(tmp_path, [("a.x", 4.0, 3.5, "<5%")])
    demand = frame({"a.x": [1.0]})
    res = run(cat, CommitmentBook.empty(), demand, demand, overhead=0.2)
    assert res.kpis.cost_usd == pytest.approx(4.0)
    assert res.kpis.spot_share == 0.0


def test_no_spot_market_runs_on_demand(tmp_path):
    """No spot price: 2 interruptible instances still pay on-demand 2*4 = 8."""
    cat = make_catalog(tmp_path, [("a.x", 4.0, None, "<5%")])
    demand = frame({"a.x": [2.0]})
    res = run(cat, CommitmentBook.empty(), demand, demand)
    assert res.kpis.cost_usd == pytest.approx(8.0)
    assert res.hourly.spot_instances.iloc[0, 0] == 0.0


def test_savings_plan_single_family(one):
    """SP of $3/h at rate 2.0 (on-demand 4). Demand 2: covers 1.5 instances, 0.5 on-demand:
    3 + 2 = 5. Demand 1: consumes $2 of 3 -> cost 3, utilization 2/3, waste $1."""
    book = buy(one, [("sp", None, 3.0, T0)])
    res = run(one, book, frame({"a.x": [2.0]}))
    assert res.kpis.cost_usd == pytest.approx(5.0)
    assert res.hourly.savings_plan_instances.iloc[0, 0] == pytest.approx(1.5)
    res = run(one, book, frame({"a.x": [1.0]}))
    assert res.kpis.cost_usd == pytest.approx(3.0)
    assert res.kpis.commitment_utilization == pytest.approx(2 / 3)
    assert res.kpis.waste_usd == pytest.approx(1.0)


def test_unused_savings_plan_commitment_is_lost_each_hour(one):
    """SP $3/h, demand 0 then 2. Hour 1 wastes $3; hour 2 covers 1.5, 0.5 on-demand ($2):
    3 + 3 + 2 = 8 (banking the unused $3 would give 6)."""
    res = run(one, buy(one, [("sp", None, 3.0, T0)]), frame({"a.x": [0.0, 2.0]}))
    assert res.kpis.cost_usd == pytest.approx(8.0)
    assert res.kpis.waste_usd == pytest.approx(3.0)


@pytest.fixture
def quarter(tmp_path):
    cat = make_catalog(tmp_path, [("a.x", 4.0, 1.5, "<5%")],
                       [("ri", "reservation", 12, "no_upfront", 0.0, "a.x", 2.5),
                        ("ri-pu", "reservation", 12, "partial_upfront", 0.5, "a.x", 2.0)])
    return cat, frame({"a.x": [0.0] * 2160})  # 2026-01-01 .. 2026-04-01, 90 days


def test_fees_only_inside_the_horizon(quarter):
    """Horizon Q1 2026 (2160 h), no demand. A 12-month reservation starting 2026-03-01 is
    charged March only: 744 h * 2.5 = 1860. One started 2025-06-01 (ends 2026-06-01) is
    charged from the horizon start: 2160 * 2.5 = 5400."""
    cat, demand = quarter
    late = run(cat, buy(cat, [("ri", "a.x", 1, "2026-03-01T00:00Z")]), demand)
    assert late.kpis.cost_usd == pytest.approx(1860.0)
    assert late.by_commitment["hours_in_horizon"].iloc[0] == 744
    early = run(cat, buy(cat, [("ri", "a.x", 1, "2025-06-01T00:00Z")]), demand)
    assert early.kpis.cost_usd == pytest.approx(5400.0)
    assert early.kpis.commitment_utilization == 0.0
    outside = run(cat, buy(cat, [("ri", "a.x", 1, "2024-01-01T00:00Z")]), demand)
    assert outside.kpis.cost_usd == 0.0


def test_cash_and_amortized_views_differ_by_upfront_timing(quarter):
    """Partial upfront (0.5) at effective 2.0/h, 12 months from 2026-03-01 (8760 h): upfront
    0.5*2.0*8760 = 8760 paid on 2026-03-01, recurring 1.0/h. Amortized in the horizon:
    744 * 2.0 = 1488; cash: 8760 + 744 * 1.0 = 9504, all in March. Bought 2025-06-01
    (8760 h term): amortized 2160 * 2.0 = 4320; cash 2160 * 1.0 (upfront before the horizon)."""
    cat, demand = quarter
    res = run(cat, buy(cat, [("ri-pu", "a.x", 1, "2026-03-01T00:00Z")]), demand)
    assert res.kpis.cost_usd == pytest.approx(1488.0)
    assert res.kpis.cash_cost_usd == pytest.approx(9504.0)
    assert res.kpis.upfront_usd == pytest.approx(8760.0)
    assert res.by_commitment["cash_fee_usd"].iloc[0] == pytest.approx(9504.0)
    assert res.monthly["cash_cost_usd"].tolist() == pytest.approx([0.0, 0.0, 9504.0])
    assert res.monthly["cost_usd"].tolist() == pytest.approx([0.0, 0.0, 1488.0])
    assert res.cash_flow("quarter")["cash_cost_usd"].tolist() == pytest.approx([9504.0])
    old = run(cat, buy(cat, [("ri-pu", "a.x", 1, "2025-06-01T00:00Z")]), demand)
    assert old.kpis.cost_usd == pytest.approx(4320.0)
    assert old.kpis.cash_cost_usd == pytest.approx(2160.0)
    assert old.kpis.upfront_usd == 0.0


@pytest.mark.parametrize("start_month, starts, cash", [
    (1, ["2026-01-01"], [5400.0]),
    (2, ["2025-11-01", "2026-02-01"], [744 * 2.5, 1416 * 2.5]),   # Nov-Jan holds January
    (3, ["2025-12-01", "2026-03-01"], [1416 * 2.5, 744 * 2.5]),   # Dec-Feb holds Jan, Feb
    (4, ["2026-01-01"], [5400.0]),
])
def test_cash_flow_by_fiscal_quarter(quarter, start_month, starts, cash):
    """No demand in Q1 2026 (Jan 744 h, Feb 672 h, Mar 744 h); a no-upfront reservation at
    2.5/h from 2026-01-01 costs 2.5 every hour. Quarters of a year starting in February
    begin in Nov, Feb, May, Aug; of one starting in March in Dec, Mar, Jun, Sep: the plan's
    budget quarters (solver/quarters.py), which the cash view now shares."""
    cat, demand = quarter
    res = run(cat, buy(cat, [("ri", "a.x", 1, "2026-01-01T00:00Z")]), demand)
    flow = res.cash_flow("quarter", fiscal_year_start_month=start_month)
    assert [t.strftime("%Y-%m-%d") for t in flow.index] == starts
    assert str(flow.index.tz) == "UTC" and flow.index.name == "quarter_start"
    assert flow["cash_cost_usd"].tolist() == pytest.approx(cash)
    assert res.cash_flow("month", fiscal_year_start_month=start_month)["cash_cost_usd"].tolist() == pytest.approx(
        [744 * 2.5, 672 * 2.5, 744 * 2.5])


@pytest.mark.parametrize("period, month", [("week", 1), ("quarter", 0), ("quarter", 13), ("quarter", True),
                                           ("quarter", 4.0), ("quarter", "4")])
def test_cash_flow_refuses_bad_periods(quarter, period, month):
    cat, demand = quarter
    res = run(cat, buy(cat, [("ri", "a.x", 1, "2026-01-01T00:00Z")]), demand)
    with pytest.raises(DomainError, match="period must be|whole month number 1-12"):
        res.cash_flow(period, fiscal_year_start_month=month)


# ---------------------------------------------------------------- rules in combination

def test_reservation_and_savings_plan_on_same_family(one):
    """Demand 3: 1 reserved (2.5), SP $2/h at rate 2 covers 1, 1 on-demand (4): 8.5/h."""
    res = run(one, buy(one, [("ri", "a.x", 1, T0), ("sp", None, 2.0, T0)]), frame({"a.x": [3.0]}))
    assert res.kpis.cost_usd == pytest.approx(8.5)
    h = res.hourly
    assert [h.reserved_instances.iloc[0, 0], h.savings_plan_instances.iloc[0, 0],
            h.on_demand_instances.iloc[0, 0]] == pytest.approx([1.0, 1.0, 1.0])


@pytest.fixture
def two(tmp_path):
    """a: on-demand 4; b: on-demand 3. 'sp-a' covers a only (rate 2.0); 'sp-all' covers
    a (rate 3.0) and b (rate 2.4)."""
    return make_catalog(tmp_path, [("a.x", 4.0, None, "<5%"), ("b.x", 3.0, None, "<5%")],
                        [("sp-a", "savings_plan", 12, "no_upfront", 0.0, "a.x", 2.0),
                         ("sp-all", "savings_plan", 12, "no_upfront", 0.0, "a.x", 3.0),
                         ("sp-all", "savings_plan", 12, "no_upfront", 0.0, "b.x", 2.4)])


def test_family_scoped_plan_before_compute_wide(two):
    """Demand a 1, b 1; sp-a $2/h, sp-all $3/h (fees 5/h). Narrowest first: sp-a covers a,
    sp-all covers b ($2.4) -> no on-demand, cost 5. The other way round sp-all would take
    a (value 4/3 > 3/2.4), sp-a would find nothing, b on-demand: 8."""
    book = buy(two, [("sp-all", None, 3.0, T0), ("sp-a", None, 2.0, T0)])
    res = run(two, book, frame({"a.x": [1.0], "b.x": [1.0]}))
    assert res.kpis.cost_usd == pytest.approx(5.0)
    assert res.by_commitment.loc[["c0", "c1"], "used_usd"].tolist() == pytest.approx([2.4, 2.0])


def test_savings_plan_orders_families_by_value_per_commitment_dollar(tmp_path):
    """Compute-wide plan $2.4/h over 'z.big' (OD 4, rate 2: value 2.0) and 'a.small' (OD 3,
    rate 2.4: value 1.25); demand 1 each. z.big first: $2 covers it, $0.4 covers 1/6 of
    a.small, 5/6 * 3 = 2.5 on-demand -> 2.4 + 2.5 = 4.9. By name (a.small first) it
    would be 2.4 + 4 = 6.4."""
    cat = make_catalog(tmp_path, [("z.big", 4.0, None, "<5%"), ("a.small", 3.0, None, "<5%")],
                       [("sp", "savings_plan", 12, "no_upfront", 0.0, "z.big", 2.0),
                        ("sp", "savings_plan", 12, "no_upfront", 0.0, "a.small", 2.4)])
    res = run(cat, buy(cat, [("sp", None, 2.4, T0)]), frame({"z.big": [1.0], "a.small": [1.0]}))
    assert res.kpis.cost_usd == pytest.approx(4.9)
    assert res.hourly.savings_plan_instances[fam("a.small")].iloc[0] == pytest.approx(1 / 6)


def test_savings_plan_values_eligible_at_effective_spot(tmp_path):
    """x: OD 10, spot 6, 1 eligible instance, rate 3 (value 6/3 = 2); y: OD 4, 1 firm,
    rate 2.5 (value 1.6). Plan $3/h covers x's eligible instance, y on-demand:
    3 + 4 = 7 (covering y first: 3 + 0.8*4 + 6 = 12.2)."""
    cat = make_catalog(tmp_path, [("x.big", 10.0, 6.0, "<5%"), ("y.small", 4.0, None, "<5%")],
                       [("sp", "savings_plan", 12, "no_upfront", 0.0, "x.big", 3.0),
                        ("sp", "savings_plan", 12, "no_upfront", 0.0, "y.small", 2.5)])
    demand = frame({"x.big": [1.0], "y.small": [1.0]})
    res = run(cat, buy(cat, [("sp", None, 3.0, T0)]), demand, frame({"x.big": [1.0], "y.small": [0.0]}))
    assert res.kpis.cost_usd == pytest.approx(7.0)


def test_by_family_costs_add_up(two):
    """Fees allocated to families (SP fee by consumed $) make by_family sum to the total."""
    book = buy(two, [("sp-all", None, 3.0, T0), ("sp-a", None, 2.0, T0)])
    res = run(two, book, frame({"a.x": [1.0, 2.0, 0.5], "b.x": [1.0, 0.0, 3.0]}))
    assert res.by_family["cost_usd"].sum() == pytest.approx(res.kpis.cost_usd)
    assert res.by_family["savings_usd"].sum() == pytest.approx(res.kpis.savings_usd)
    assert res.unallocated_fees_usd == 0.0


# ---------------------------------------------------------------- bad input

def test_unknown_family_is_refused(one):
    with pytest.raises(DomainError, match="Did you mean 'aws/us-east-1/a.x'"):
        run(one, CommitmentBook.empty(), pd.DataFrame({fam("a.y"): [1.0]}, index=frame({"a.x": [0]}).index))


@pytest.mark.parametrize("change,message", [
    (lambda d, i: (d.set_axis(d.index.tz_localize(None)), i), "naive"),
    (lambda d, i: (d.iloc[[0, 2]], i.iloc[[0, 2]]), "consecutive"),
    (lambda d, i: (d * -1.0, i * 0.0), ">= 0"),
    (lambda d, i: (d, i * 3.0), "exceed demand"),
    (lambda d, i: (d.replace(2.0, np.nan), i), "masked"),
])
def test_bad_demand_is_refused(one, change, message):
    demand = frame({"a.x": [1.0, 2.0, 3.0]})
    d, i = change(demand, demand * 0.5)
    with pytest.raises(DomainError, match=message):
        run(one, CommitmentBook.empty(), d, i)


@pytest.mark.parametrize("rules,message", [
    (DispatchRules(1.5, 0.0), "between 0 and 1"),
    (DispatchRules(None, -0.1), ">= 0"),
    (DispatchRules(None, {"<6%": 0.1}), "Did you mean '<5%'"),
])
def test_bad_rules_are_refused(one, rules, message):
    demand = frame({"a.x": [1.0]})
    with pytest.raises(DomainError, match=message):
        simulate(CommitmentBook.empty(), demand, demand, one, rules)
