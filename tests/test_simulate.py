"""Billing simulator (solver/simulate.py): each rule alone, rules in combination, STYLE.md's
hand-worked cases, and properties checked against a naive per-hour oracle written here."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gpuladder.errors import DomainError
from gpuladder.pricing.catalog import load_catalog
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate

FAMILY_HEADER = ("family,provider,region,instance_type,gpu_model,gpus_per_instance,"
                 "on_demand_usd_per_hour,spot_usd_per_hour,interruption_bucket,source,as_of")
COMMITMENT_HEADER = "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of"
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def fam(name: str) -> str:
    return f"aws/us-east-1/{name}"


def make_catalog(folder, families, commitments=()):
    """families: (instance_type, on_demand, spot or None, bucket);
    commitments: (product, kind, term_months, payment, upfront_share, instance_type, rate)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [FAMILY_HEADER] + [
        f"{fam(t)},aws,us-east-1,{t},H100,8,{od!r},{'' if spot is None else repr(spot)},{bucket},test,2026-01-01"
        for t, od, spot, bucket in families]
    (folder / "families.csv").write_text("\n".join(rows) + "\n")
    rows = [COMMITMENT_HEADER] + [
        f"{p},aws,{k},{term},{pay},{share!r},{fam(t)},{rate!r},test,2026-01-01"
        for p, k, term, pay, share, t, rate in commitments]
    (folder / "commitments.csv").write_text("\n".join(rows) + "\n")
    return load_catalog(folder)


def frame(columns: dict[str, list[float]], start=T0) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    idx = pd.date_range(start, periods=n, freq="h", tz="UTC")
    return pd.DataFrame({fam(k): np.asarray(v, dtype=float) for k, v in columns.items()}, index=idx)


def buy(catalog, rows) -> CommitmentBook:
    """rows: (product, instance_type or None, quantity, start)."""
    if not rows:
        return CommitmentBook.empty()
    return make_purchases(catalog, pd.DataFrame({
        "id": [f"c{i}" for i in range(len(rows))],
        "product": [r[0] for r in rows],
        "family": ["" if r[1] is None else fam(r[1]) for r in rows],
        "quantity": [float(r[2]) for r in rows],
        "start": [pd.Timestamp(r[3]) for r in rows]}))


def run(catalog, book, demand, interruptible=None, cap=None, overhead=0.0):
    inter = demand * 0.0 if interruptible is None else interruptible
    return simulate(book, demand, inter, catalog, DispatchRules(cap, overhead))


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


# ---------------------------------------------------------------- properties and the naive oracle

BUCKETS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
PAYMENTS = {"no_upfront": 0.0, "partial_upfront": 0.5, "all_upfront": 1.0}
amounts = st.one_of(st.just(0.0), st.integers(0, 5).map(float), st.floats(0.0, 6.0))


@st.composite
def instances(draw):
    """Plain-data description of a random instance: 1-3 families, 1-30 hours, 0-6
    commitments (reservations, a one-family and a compute-wide savings plan, terms of 1
    or 12 months, starts before, on the edges of and inside the horizon), random caps
    and overheads."""
    n_fam = draw(st.integers(1, 3))
    n_hours = draw(st.integers(1, 30))
    names = [f"f{k}.x" for k in range(n_fam)]
    families = []
    for name in names:
        od = draw(st.floats(1.0, 20.0))
        spot = draw(st.one_of(st.none(), st.floats(0.1, 1.3).map(lambda r, od=od: r * od)))
        families.append((name, od, spot, draw(st.sampled_from(BUCKETS))))
    products = []
    for name, od, _, _ in families:
        term, pay = draw(st.sampled_from([1, 12])), draw(st.sampled_from(sorted(PAYMENTS)))
        products.append((f"ri-{name}", "reservation", term, pay, PAYMENTS[pay], name,
                         draw(st.floats(0.3, 1.0)) * od))
    products.append(("sp-one", "savings_plan", 12, "no_upfront", 0.0, names[0],
                     draw(st.floats(0.3, 1.0)) * families[0][1]))
    term, pay = draw(st.sampled_from([1, 12])), draw(st.sampled_from(sorted(PAYMENTS)))
    for name, od, _, _ in families:
        products.append(("sp-all", "savings_plan", term, pay, PAYMENTS[pay], name, draw(st.floats(0.3, 1.0)) * od))
    book = []
    # the edges drawn often: bought on the horizon's first hour (a plan's first ladder step),
    # a one-month term ending on it (bought 2025-12-01), bought on the hour after its end
    edges = st.sampled_from([0, -744, n_hours])
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["ri", "sp-one", "sp-all"]))
        start = T0 + pd.Timedelta(hours=draw(st.one_of(edges, st.integers(-800, n_hours + 2))))
        if kind == "ri":
            name = draw(st.sampled_from(names))
            book.append((f"ri-{name}", name, draw(st.one_of(st.integers(0, 4).map(float), st.floats(0, 4))), start))
        else:
            book.append((kind, None, draw(st.floats(0.0, 30.0)), start))
    demand = [[draw(amounts) for _ in names] for _ in range(n_hours)]
    inter = [[d * draw(st.sampled_from([0.0, 1.0, 0.5, 0.25])) for d in row] for row in demand]
    cap = draw(st.one_of(st.none(), st.floats(0.0, 1.0),
                         st.dictionaries(st.sampled_from([fam(n) for n in names]), st.floats(0.0, 1.0))))
    overhead = draw(st.one_of(st.floats(0.0, 0.5), st.dictionaries(st.sampled_from(BUCKETS), st.floats(0.0, 0.5))))
    return {"families": families, "products": products, "book": book, "demand": demand, "inter": inter,
            "names": names, "rules": DispatchRules(cap, overhead)}


def build(spec, scale=1.0, folder=None):
    """(catalog, book, demand, interruptible) of a spec, with every price scaled."""
    fams = [(n, od * scale, None if s is None else s * scale, b) for n, od, s, b in spec["families"]]
    prods = [p[:6] + (p[6] * scale,) for p in spec["products"]]
    catalog = make_catalog(folder, fams, prods)
    book = buy(catalog, [(p, f, q if f is not None else q * scale, s) for p, f, q, s in spec["book"]])
    cols = [fam(n) for n in spec["names"]]
    idx = pd.date_range(T0, periods=len(spec["demand"]), freq="h", tz="UTC")
    demand = pd.DataFrame(spec["demand"], index=idx, columns=cols)
    inter = pd.DataFrame(spec["inter"], index=idx, columns=cols)
    return catalog, book, demand, inter


def naive(catalog, book, demand, inter, rules):
    """The rules of DESIGN.md section 4 applied hour by hour with plain Python loops."""
    fams = list(demand.columns)
    F = catalog.families
    com = catalog.commitments
    scope = {p: len(set(com.loc[com["product"] == p, "family"])) for p in set(com["product"])}
    rows = book.items.to_dict("records")
    price = {}
    for f in fams:
        od, spot, bucket = F.at[f, "on_demand_usd_per_hour"], F.at[f, "spot_usd_per_hour"], F.at[f, "interruption_bucket"]
        over = rules.rework_overhead.get(bucket, 0.0) if isinstance(rules.rework_overhead, dict) else rules.rework_overhead
        eff = spot * (1 + over) if not np.isnan(spot) else np.inf
        price[f] = (od, eff, eff < od)
    out = {k: np.zeros(demand.shape) for k in ("reserved", "savings_plan", "spot", "on_demand")}
    cost = cash = 0.0
    consumed = {r["id"]: 0.0 for r in rows}
    for t, hour in enumerate(demand.index):
        firm, elig = {}, {}
        for f in fams:
            d, i = float(demand.at[hour, f]), float(inter.at[hour, f])
            cap = rules.spot_cap
            cap = 1.0 if cap is None else (cap.get(f, 1.0) if isinstance(cap, dict) else cap)
            elig[f] = min(i, cap * d) if price[f][2] else 0.0
            firm[f] = d - elig[f]
        live = [r for r in rows if r["start"] <= hour < r["end"]]
        for r in live:
            term_hours = (r["end"] - r["start"]) / pd.Timedelta(hours=1)
            cost += r["recurring_usd_per_hour"] + r["upfront_usd"] / term_hours
            cash += r["recurring_usd_per_hour"]
        for j, f in enumerate(fams):
            count = sum(r["quantity"] for r in live if r["kind"] == "reservation" and r["family"] == f)
            on_firm = min(count, firm[f])
            on_elig = min(count - on_firm, elig[f])
            firm[f] -= on_firm
            elig[f] -= on_elig
            out["reserved"][t, j] = on_firm + on_elig
        plans = sorted((scope[r["product"]], r["product"], r["id"], r["quantity"])
                       for r in live if r["kind"] == "savings_plan")
        for _, product, pid, budget in plans:
            rates = com[com["product"] == product].set_index("family")["rate_usd_per_hour"]
            pieces = []
            for f in fams:
                if f in rates.index:
                    pieces.append((-price[f][0] / rates[f], f, 0))
                    if price[f][2]:
                        pieces.append((-price[f][1] / rates[f], f, 1))
            for _, f, is_elig in sorted(pieces):
                left = elig if is_elig else firm
                spend = min(budget, left[f] * rates[f])
                covered = min(spend / rates[f], left[f])
                left[f] -= covered
                budget -= spend
                consumed[pid] += spend
                out["savings_plan"][t, fams.index(f)] += covered
        for j, f in enumerate(fams):
            out["spot"][t, j] = elig[f]
            out["on_demand"][t, j] = firm[f]
            cost += elig[f] * (price[f][1] if price[f][2] else 0.0) + firm[f] * price[f][0]
            cash += elig[f] * (price[f][1] if price[f][2] else 0.0) + firm[f] * price[f][0]
    end = demand.index[-1] + pd.Timedelta(hours=1)
    cash += sum(r["upfront_usd"] for r in rows if demand.index[0] <= r["start"].floor("h") < end)
    return out, cost, cash, consumed


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(instances())
def test_vectorized_equals_naive_per_hour_oracle(spec):
    with tempfile.TemporaryDirectory() as folder:
        catalog, book, demand, inter = build(spec, folder=folder)
        res = simulate(book, demand, inter, catalog, spec["rules"])
        out, cost, cash, consumed = naive(catalog, book, demand, inter, spec["rules"])
    assert res.kpis.cost_usd == pytest.approx(cost, rel=1e-9, abs=1e-9)
    assert res.kpis.cash_cost_usd == pytest.approx(cash, rel=1e-9, abs=1e-9)
    for source, expected in out.items():
        got = getattr(res.hourly, f"{source}_instances")[list(demand.columns)].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    bc = res.by_commitment
    plans = bc[bc["kind"] == "savings_plan"]
    used = (plans["utilization"].fillna(0.0) * plans["quantity"] * plans["hours_in_horizon"])
    np.testing.assert_allclose(used.to_numpy(), [consumed[i] for i in plans.index], rtol=1e-9, atol=1e-9)


@PROPERTY
@given(instances())
def test_conservation_and_spot_only_on_eligible_demand(spec):
    with tempfile.TemporaryDirectory() as folder:
        catalog, book, demand, inter = build(spec, folder=folder)
        res = simulate(book, demand, inter, catalog, spec["rules"])
    h = res.hourly
    cols = list(demand.columns)
    parts = [getattr(h, f"{s}_instances")[cols].to_numpy() for s in ("reserved", "savings_plan", "spot", "on_demand")]
    np.testing.assert_allclose(sum(parts), demand.to_numpy(), atol=1e-9)
    assert min(p.min() for p in parts) >= -1e-12
    spot = parts[2]
    assert (spot <= h.eligible_instances[cols].to_numpy() + 1e-9).all()
    assert (spot <= inter.to_numpy() + 1e-9).all()
    cap = spec["rules"].spot_cap
    caps = np.array([1.0 if cap is None else (cap.get(c, 1.0) if isinstance(cap, dict) else cap) for c in cols])
    assert (spot <= caps * demand.to_numpy() + 1e-9).all()
    assert res.by_family["demand_instance_hours"].sum() == pytest.approx(float(demand.to_numpy().sum()))


@PROPERTY
@given(instances())
def test_empty_book_is_cheapest_spot_or_on_demand_and_never_above_on_demand(spec):
    """Without commitments each eligible instance pays min(effective spot, on-demand) and
    each firm one on-demand; the cost never exceeds the on-demand-equivalent."""
    with tempfile.TemporaryDirectory() as folder:
        catalog, _, demand, inter = build(spec, folder=folder)
        res = simulate(CommitmentBook.empty(), demand, inter, catalog, spec["rules"])
    elig = res.hourly.eligible_instances[list(demand.columns)].to_numpy()
    F = catalog.families.loc[list(demand.columns)]
    od = F["on_demand_usd_per_hour"].to_numpy()
    over = spec["rules"].rework_overhead
    over = (F["interruption_bucket"].map(lambda b: over.get(b, 0.0)).to_numpy() if isinstance(over, dict)
            else np.full(len(F), over))
    eff = np.minimum(np.nan_to_num(F["spot_usd_per_hour"].to_numpy() * (1 + over), nan=np.inf), od)
    expected = float((elig * eff + (demand.to_numpy() - elig) * od).sum())
    assert res.kpis.cost_usd == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert res.kpis.cost_usd == pytest.approx(res.kpis.spot_usd + res.kpis.on_demand_usd)
    assert res.kpis.cost_usd <= res.kpis.on_demand_equivalent_usd + 1e-9
    assert res.kpis.commitment_utilization == 1.0 and res.kpis.waste_usd == 0.0


@PROPERTY
@given(instances())
def test_adding_a_commitment_never_raises_the_non_fee_cost(spec):
    """Also hour by hour and family by family: one more commitment never puts more
    instances on on-demand or on spot (each source only takes what the ones before it
    left, and a savings plan's budget left at each piece only grows)."""
    assume(spec["book"])
    with tempfile.TemporaryDirectory() as folder:
        catalog, book, demand, inter = build(spec, folder=folder)
        full = simulate(book, demand, inter, catalog, spec["rules"])
        fewer = CommitmentBook(book.items.iloc[:-1].reset_index(drop=True))
        less = simulate(fewer, demand, inter, catalog, spec["rules"])
    k, j = full.kpis, less.kpis
    assert k.spot_usd + k.on_demand_usd <= j.spot_usd + j.on_demand_usd + 1e-9
    cols = list(demand.columns)
    for source in ("on_demand_instances", "spot_instances"):
        more, fewer_frame = getattr(full.hourly, source)[cols], getattr(less.hourly, source)[cols]
        assert (more.to_numpy() <= fewer_frame.to_numpy() + 1e-9).all(), source


@PROPERTY
@given(instances())
def test_kpis_add_up_and_shares_stay_between_zero_and_one(spec):
    """The KPIs are sums of their parts, recomputed here from the price list and the
    dispatch: cost = fees + spot + on-demand, cash cost = cash fees + spot + on-demand,
    the on-demand-equivalent = demand x on-demand price, savings = that - cost; the months
    add up to the totals; coverage, spot share and every utilization lie in [0, 1]."""
    with tempfile.TemporaryDirectory() as folder:
        catalog, book, demand, inter = build(spec, folder=folder)
        res = simulate(book, demand, inter, catalog, spec["rules"])
    k, bc = res.kpis, res.by_commitment
    fees = float(bc["amortized_fee_usd"].sum()) if len(bc) else 0.0
    cash_fees = float(bc["cash_fee_usd"].sum()) if len(bc) else 0.0
    od = catalog.families.loc[list(demand.columns), "on_demand_usd_per_hour"].to_numpy()
    h = res.hourly
    cols = list(demand.columns)
    on_demand_usd = float((h.on_demand_instances[cols].to_numpy() * od).sum())
    assert k.commitment_fees_usd == pytest.approx(fees, rel=1e-9, abs=1e-9)
    assert k.on_demand_usd == pytest.approx(on_demand_usd, rel=1e-9, abs=1e-9)
    assert k.cost_usd == pytest.approx(fees + k.spot_usd + on_demand_usd, rel=1e-9, abs=1e-9)
    assert k.cash_cost_usd == pytest.approx(cash_fees + k.spot_usd + on_demand_usd, rel=1e-9, abs=1e-9)
    ode = float((demand.to_numpy() * od).sum())
    assert k.on_demand_equivalent_usd == pytest.approx(ode, rel=1e-9, abs=1e-9)
    assert k.savings_usd == pytest.approx(ode - k.cost_usd, rel=1e-9, abs=1e-9)
    assert res.monthly["cost_usd"].sum() == pytest.approx(k.cost_usd, rel=1e-9, abs=1e-9)
    assert res.monthly["cash_cost_usd"].sum() == pytest.approx(k.cash_cost_usd, rel=1e-9, abs=1e-9)
    for share in (k.coverage, k.spot_share, k.commitment_utilization):
        assert -1e-12 <= share <= 1 + 1e-9
    used = bc["utilization"].dropna().to_numpy()
    assert ((used >= -1e-12) & (used <= 1 + 1e-9)).all()
    assert k.waste_usd >= -1e-9 and (bc["waste_usd"].to_numpy() >= -1e-9).all()
    assert k.spot_usd <= float((h.spot_instances[cols].to_numpy() * od).sum()) + 1e-9   # spot below on-demand


@PROPERTY
@given(instances(), st.sampled_from([0.5, 2.0, 3.7]))
def test_scaling_all_prices_scales_the_cost(spec, factor):
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        catalog, book, demand, inter = build(spec, folder=a)
        base = simulate(book, demand, inter, catalog, spec["rules"]).kpis
        catalog, book, demand, inter = build(spec, scale=factor, folder=b)
        scaled = simulate(book, demand, inter, catalog, spec["rules"]).kpis
    for name in ("cost_usd", "cash_cost_usd", "on_demand_equivalent_usd", "waste_usd", "spot_usd"):
        assert getattr(scaled, name) == pytest.approx(factor * getattr(base, name), rel=1e-9, abs=1e-9)
    for name in ("spot_share", "coverage", "commitment_utilization"):
        assert getattr(scaled, name) == pytest.approx(getattr(base, name), rel=1e-9, abs=1e-9)


@PROPERTY
@given(instances())
def test_permuting_family_columns_changes_nothing(spec):
    with tempfile.TemporaryDirectory() as folder:
        catalog, book, demand, inter = build(spec, folder=folder)
        res = simulate(book, demand, inter, catalog, spec["rules"])
        cols = list(demand.columns)[::-1]
        rev = simulate(book, demand[cols], inter[cols], catalog, spec["rules"])
    assert res.kpis == rev.kpis
    pd.testing.assert_frame_equal(res.by_family, rev.by_family)
    pd.testing.assert_frame_equal(res.hourly.by_source(), rev.hourly.by_source())
