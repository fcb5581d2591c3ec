"""Every constraint group of DESIGN.md sections 5 and 7: off when null, hand-checked when on,
and the infeasible ones named (exit code 3).

Unless said otherwise: family f0 with on-demand $4/h, January 2026 (744 h) or a few months
from it, reservations with a one-month term."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from model_instances import (EXACT_SOLVE, NO_OVERHEAD, Product, START, catalog, family, forecast, horizon, problem)
from gpuladder.errors import EXIT_INFEASIBLE, InfeasibleError
from gpuladder.scenarios.schema import Constraints, FrozenMap, ProductFilter
from gpuladder.solver.book import make_purchases
from gpuladder.solver.coupling import greedy_is_optimal
from gpuladder.solver.model import build_model
from gpuladder.solver.modeldata import prepare
from gpuladder.solver.plan import plan_problem
from gpuladder.units import HOUR, add_months

NONE = Constraints(min_utilization=None, spot_cap=None, spot_rework_overhead=0.0)
HOURS = 744


def _cons(**kw) -> Constraints:
    base = dict(min_utilization=None, spot_cap=None, spot_rework_overhead=0.0)
    base.update(kw)
    return Constraints(**base)


def _flat(months: int, level: float, n: int = 1) -> tuple[pd.DatetimeIndex, np.ndarray]:
    idx = horizon(months)
    return idx, np.full((len(idx), n), level)


def _upfront_catalog():
    return catalog([4.0], [None], [
        Product("ri-all", "reservation", 1, {family(0): 2.3}, "all_upfront", 1.0),
        Product("ri-none", "reservation", 1, {family(0): 2.5}, "no_upfront", 0.0)])


# ---------------------------------------------------------------- groups on and off


def test_every_optional_group_is_off_when_null_and_on_when_set():
    idx, d = _flat(3, 2.0)
    cat = _upfront_catalog()
    off = build_model(prepare(problem(forecast(idx, d), cat)), NONE).lp.groups()
    assert not {"utilization_floor", "budget_upfront", "budget_committed", "ladder_expiring",
                "ladder_bought"} & set(off)
    on_cons = _cons(min_utilization=0.9, max_upfront_usd_per_quarter=1e6, max_committed_usd_per_hour=100.0,
                    max_expiring_share_per_quarter=0.6, max_bought_share_per_step=0.6)
    on = build_model(prepare(problem(forecast(idx, d), cat, constraints=on_cons)), on_cons).lp.groups()
    assert {"utilization_floor", "budget_upfront", "budget_committed", "ladder_expiring", "ladder_bought"} <= set(on)


# ---------------------------------------------------------------- spot


def _spot_catalog():
    """Two families at $4/h, spot $1.5; a reservation at on-demand price (never pays)."""
    return catalog([4.0, 4.0], [1.5, 1.5], [Product("ri", "reservation", 1, {family(0): 4.0, family(1): 4.0})])


def test_spot_cap_number_and_map_with_default():
    """Two families, all demand interruptible (4/h each), spot $1.5 < on-demand $4. Cap
    0.5 -> half of each family on spot. Map {f0: 0.2, *: 0.7} -> 20% and 70%."""
    cat = _spot_catalog()
    idx, d = _flat(1, 4.0, 2)
    for cap, shares in ((0.5, (0.5, 0.5)), (FrozenMap({family(0): 0.2, "*": 0.7}), (0.2, 0.7))):
        plan = plan_problem(problem(forecast(idx, d, d), cat, constraints=_cons(spot_cap=cap)), EXACT_SOLVE)
        bf = plan.simulation.by_family
        assert bf["spot_share"].tolist() == pytest.approx(list(shares))
        expected = sum(HOURS * 4 * (s * 1.5 + (1 - s) * 4.0) for s in shares)
        assert plan.simulation.kpis.cost_usd == pytest.approx(expected, rel=1e-12)
        assert plan.solver.model_objective_usd == pytest.approx(expected, rel=1e-12)


def test_only_interruptible_demand_goes_to_spot_and_rework_overhead_by_bucket():
    """f0: 4/h, 1/h of it interruptible, cap 0.5 -> spot 1/h (25%). f1 is in bucket '<5%'
    with overhead 2.0: effective spot 1.5 x 3 = 4.5 >= on-demand, so no spot at all."""
    cat = _spot_catalog()
    idx, d = _flat(1, 4.0, 2)
    inter = np.column_stack([np.full(len(idx), 1.0), np.full(len(idx), 4.0)])
    over = FrozenMap({"<5%": 0.0})
    plan = plan_problem(problem(forecast(idx, d, inter), cat, constraints=_cons(spot_cap=0.5, spot_rework_overhead=over)),
                        EXACT_SOLVE)
    assert plan.simulation.by_family["spot_share"].tolist() == pytest.approx([0.25, 0.5])
    over = FrozenMap({"<5%": 2.0})
    plan = plan_problem(problem(forecast(idx, d, inter), cat, constraints=_cons(spot_cap=0.5, spot_rework_overhead=over)),
                        EXACT_SOLVE)
    assert plan.simulation.by_family["spot_share"].tolist() == pytest.approx([0.0, 0.0])
    assert plan.simulation.kpis.cost_usd == pytest.approx(2 * HOURS * 16.0)


# ---------------------------------------------------------------- budgets


def test_upfront_budget_per_quarter():
    """Demand 2/h. Unconstrained: 2 all-upfront reservations ($2.3/h effective, $1,711.2
    upfront each). With $2,000 per quarter: 1 all-upfront + 1 no-upfront ($2.5/h)."""
    idx, d = _flat(1, 2.0)
    cat = _upfront_catalog()
    free = plan_problem(problem(forecast(idx, d), cat), EXACT_SOLVE)
    assert free.purchases.groupby("product")["quantity"].sum().to_dict() == {"ri-all": 2.0}
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=_cons(max_upfront_usd_per_quarter=2000.0)),
                        EXACT_SOLVE)
    assert plan.purchases.groupby("product")["quantity"].sum().to_dict() == {"ri-all": 1.0, "ri-none": 1.0}
    assert plan.purchases["upfront_usd"].sum() == pytest.approx(2.3 * HOURS)
    assert plan.simulation.kpis.cost_usd == pytest.approx((2.3 + 2.5) * HOURS)


def test_committed_rate_budget():
    """Demand 2/h, cap $3/h of amortized fees in force: one reservation only."""
    idx, d = _flat(2, 2.0)
    cat = _upfront_catalog()
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=_cons(max_committed_usd_per_hour=3.0)), EXACT_SOLVE)
    book = plan.book.items
    rate = book["recurring_usd_per_hour"] + book["upfront_usd"] / ((book["end"] - book["start"]) / HOUR)
    for hour in (idx[0], idx[-1]):
        assert rate[(book["start"] <= hour) & (book["end"] > hour)].sum() <= 3.0 + 1e-9
    assert plan.purchases["quantity"].sum() == 2   # one per month


def _inventory(cat, product, quantity, start, end):
    buy = make_purchases(cat, pd.DataFrame({"product": [product], "family": [family(0)], "quantity": [quantity],
                                            "start": [start]}), origin="inventory", id_prefix="inv")
    items = buy.items.assign(end=pd.Timestamp(end, tz="UTC") if isinstance(end, str) else end)
    return type(buy)(items)


def test_infeasible_committed_rate_below_inventory_names_the_setting():
    idx, d = _flat(1, 2.0)
    cat = _upfront_catalog()
    inv = _inventory(cat, "ri-none", 2.0, START, add_months(START, 1))      # $5/h in force
    with pytest.raises(InfeasibleError) as err:
        plan_problem(problem(forecast(idx, d), cat, inventory=inv, constraints=_cons(max_committed_usd_per_hour=3.0)),
                     EXACT_SOLVE)
    assert err.value.exit_code == EXIT_INFEASIBLE == 3
    assert "constraints.max_committed_usd_per_hour" in str(err.value)
    assert "max_upfront" not in str(err.value)


def test_upfront_budget_used_up_by_inventory_buys_no_upfront_and_says_so():
    """An existing all-upfront commitment (2 instances) that starts inside the horizon pays
    $3,422.4 in 2026Q1, over a $2,000 budget: not infeasible (the inventory is sunk), the
    plan buys the third instance without upfront ($2.5/h) and a warning names the quarter
    and the amounts. With a committed $/h budget below the inventory's it is infeasible, and
    only that setting is named."""
    idx, d = _flat(1, 3.0)
    cat = _upfront_catalog()
    inv = _inventory(cat, "ri-all", 2.0, START, add_months(START, 1))
    cons = _cons(max_upfront_usd_per_quarter=2000.0)
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv, constraints=cons), EXACT_SOLVE)
    assert plan.purchases.groupby("product")["quantity"].sum().to_dict() == {"ri-none": 1.0}
    assert [w for w in plan.warnings if w.startswith("max_upfront")] == [
        "max_upfront_usd_per_quarter: the inventory paid $3,422 upfront in 2026Q1, over the $2,000 budget: "
        "nothing with an upfront payment is bought in 2026Q1"]
    both = _cons(max_upfront_usd_per_quarter=2000.0, max_committed_usd_per_hour=3.0)
    with pytest.raises(InfeasibleError) as err:
        plan_problem(problem(forecast(idx, d), cat, inventory=inv, constraints=both), EXACT_SOLVE)
    assert err.value.groups == ["constraints.max_committed_usd_per_hour"]


# ---------------------------------------------------------------- ladder


def _ladder_catalog():
    return catalog([4.0], [None], [Product("ri-1m", "reservation", 1, {family(0): 2.6}),
                                   Product("ri-3m", "reservation", 3, {family(0): 2.2}),
                                   Product("ri-6m", "reservation", 6, {family(0): 2.0})])


def _shares(book, h_start, key):
    it = book.items[book.items["origin"] == "purchase"]
    rate = it["recurring_usd_per_hour"] + it["upfront_usd"] / ((it["end"] - it["start"]) / HOUR)
    when = it["end"] if key == "end" else it["start"]
    months = (when.dt.year - h_start.year) * 12 + when.dt.month - h_start.month
    group = months // 3 if key == "end" else months
    return rate.groupby(group.to_numpy()).sum() / rate.sum()


def test_expiring_share_per_quarter():
    """Demand 4/h for 6 months. Unconstrained: 4 six-month reservations, all expiring in
    the same quarter. At most 50% may expire in any quarter."""
    idx, d = _flat(6, 4.0)
    cat = _ladder_catalog()
    free = plan_problem(problem(forecast(idx, d), cat), EXACT_SOLVE)
    assert _shares(free.book, START, "end").max() == pytest.approx(1.0)
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=_cons(max_expiring_share_per_quarter=0.5)),
                        EXACT_SOLVE)
    assert _shares(plan.book, START, "end").max() <= 0.5 + 1e-9
    assert plan.simulation.kpis.cost_usd > free.simulation.kpis.cost_usd


def test_bought_share_per_step():
    """Demand 4/h for 6 months: unconstrained everything is bought at the first step; with
    at most 40% of the $/h bought at any one step, purchases spread over steps."""
    idx, d = _flat(6, 4.0)
    cat = _ladder_catalog()
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=_cons(max_bought_share_per_step=0.4)),
                        EXACT_SOLVE)
    shares = _shares(plan.book, START, "start")
    assert shares.max() <= 0.4 + 1e-9
    assert len(shares) >= 3


# ---------------------------------------------------------------- products


def test_allowed_providers_kinds_terms_and_payments():
    cat = catalog([4.0], [None], [
        Product("ri-1m-none", "reservation", 1, {family(0): 2.5}),
        Product("ri-2m-all", "reservation", 2, {family(0): 2.2}, "all_upfront", 1.0),
        Product("sp-1m-none", "savings_plan", 1, {family(0): 2.6})])
    idx, d = _flat(2, 3.0)
    fc = forecast(idx, d)
    for flt, allowed in ((ProductFilter(terms_months=None), {"ri-2m-all"}),
                         (ProductFilter(terms_months=(1,)), {"ri-1m-none"}),
                         (ProductFilter(terms_months=None, payments=("no_upfront",)), {"ri-1m-none"}),
                         (ProductFilter(terms_months=None, kinds=("savings_plan",)), {"sp-1m-none"}),
                         (ProductFilter(terms_months=None, providers=("other",)), set())):
        plan = plan_problem(problem(fc, cat, products=flt), EXACT_SOLVE)
        assert set(plan.purchases["product"]) == allowed, flt


# ---------------------------------------------------------------- inventory


def test_inventory_is_used_first_and_planned_around():
    """Demand 3/h for 2 months; inventory: 2 reservations ending after month 1. The plan
    buys 1 in month 1 and 3 in month 2 (renewing the expiry)."""
    idx, d = _flat(2, 3.0)
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    inv = _inventory(cat, "ri", 2.0, START, add_months(START, 1))
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    got = plan.purchases.groupby("date")["quantity"].sum()
    assert got.to_dict() == {START: 1.0, add_months(START, 1): 3.0}
    assert plan.expiring["renew"].tolist() == [True]
    assert plan.expiring["renewed_quantity"].tolist() == [2.0]
    assert plan.simulation.kpis.cost_usd == pytest.approx(3 * 2.5 * len(idx))


def test_a_partly_replaced_expiry_says_how_much_is_renewed():
    """Inventory of 3 ending after month 1; demand 3/h, then 2/h: the plan buys 2 at the
    expiry. The expiring row reads "renew 2, let 1 expire", not "let expire"."""
    from gpuladder.report.plan import render_plan

    idx = horizon(2)
    d = np.where(idx < add_months(START, 1), 3.0, 2.0)[:, None]
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    inv = _inventory(cat, "ri", 3.0, START, add_months(START, 1))
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases.groupby("date")["quantity"].sum().to_dict() == {add_months(START, 1): 2.0}
    assert plan.expiring[["renew", "renewed_quantity"]].values.tolist() == [[False, 2.0]]
    assert "renew 2, let 1 expire" in render_plan(plan, "table")
    doc = json.loads(render_plan(plan, "json"))
    assert doc["expiring"][0]["renew"] is False and doc["expiring"][0]["renewed_quantity"] == 2.0


def test_floor_applies_to_what_the_plan_adds():
    """Inventory of 3 with demand 2,2,2,1 misses a 0.9 floor on its own (7/12 used); that is
    sunk: the plan is feasible and buys nothing more."""
    idx = horizon(1)
    d = np.tile([2.0, 2, 2, 1], len(idx) // 4)[:, None]
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    inv = _inventory(cat, "ri", 3.0, START, add_months(START, 1))
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv, constraints=_cons(min_utilization=0.9)),
                        EXACT_SOLVE)
    assert plan.purchases.empty


# ---------------------------------------------------------------- plan order


def test_greedy_order_conditions():
    rates = pd.DataFrame({"product": ["a", "a", "b", "b", "b", "c", "c"],
                          "family": ["f0", "f1", "f0", "f1", "f2", "f1", "f2"],
                          "rate_usd_per_hour": [1.0, 2.0, 1.5, 3.0, 1.0, 2.0, 2.0]})

    def plans(names, ranks):
        scope = rates.groupby("product")["family"].agg(lambda s: tuple(sorted(s)))
        return pd.DataFrame({"rank": ranks, "scope": [scope[n] for n in names]}, index=names)

    assert greedy_is_optimal(plans(["a"], [0]), rates)                    # one plan
    assert greedy_is_optimal(plans(["a", "b"], [0, 1]), rates)            # nested, b proportional to a on {f0,f1}
    assert not greedy_is_optimal(plans(["a", "c"], [0, 1]), rates)        # crossing scopes
    r2 = rates.copy()
    r2.loc[(r2["product"] == "b") & (r2["family"] == "f1"), "rate_usd_per_hour"] = 2.5
    assert not greedy_is_optimal(plans(["a", "b"], [0, 1]), r2)           # b not proportional to a


def test_inventory_over_the_committed_cap_is_named():
    """3 existing reservations at $2.50/h hold $7.50/h; a $5/h cap cannot be met even
    buying nothing, and the message says why."""
    idx, d = _flat(1, 3.0)
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    inv = _inventory(cat, "ri", 3.0, START, add_months(START, 1))
    cons = Constraints(min_utilization=None, spot_cap=None, spot_rework_overhead=NO_OVERHEAD,
                       max_committed_usd_per_hour=5.0)
    with pytest.raises(InfeasibleError, match=r"max_committed_usd_per_hour \(the existing commitments alone hold "
                                              r"\$7\.50/h from 2026-01-01T00:00Z, above the cap of \$5\.00/h"):
        plan_problem(problem(forecast(idx, d), cat, inventory=inv, constraints=cons), EXACT_SOLVE)


def test_commitments_expiring_together_share_what_is_renewed():
    """5 instances held to the end, 3 + 2 expiring after month 1; demand 10/h, then 8/h. The
    plan buys 3 at the expiry: 3 of the 5 expiring are renewed, given to the first by id
    ("renew" and "let expire"; counting the other expiring row as capacity that stays
    read 1 renewed in all)."""
    from gpuladder.solver.book import CommitmentBook

    idx = horizon(2)
    d = np.where(idx < add_months(START, 1), 10.0, 8.0)[:, None]
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    stay = _inventory(cat, "ri", 5.0, START, add_months(START, 3))
    first = _inventory(cat, "ri", 3.0, START, add_months(START, 1))
    second = _inventory(cat, "ri", 2.0, START, add_months(START, 1))
    items = pd.concat([stay.items.assign(id="a-stay"), first.items.assign(id="b-first"),
                       second.items.assign(id="c-second")], ignore_index=True)
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=CommitmentBook(items)), EXACT_SOLVE)
    assert plan.purchases.groupby("date")["quantity"].sum().to_dict() == {add_months(START, 1): 3.0}
    got = plan.expiring.set_index("id")[["renew", "renewed_quantity"]]
    assert got.to_dict("index") == {"b-first": {"renew": True, "renewed_quantity": 3.0},
                                    "c-second": {"renew": False, "renewed_quantity": 0.0}}


@pytest.mark.parametrize("later", [3.0, 2.0])
def test_an_expiry_between_ladder_steps_is_renewed_on_its_date(later):
    """3 reserved until 01-11 (real reservations end on their purchase anniversary, off the
    monthly steps); demand 3/h in January, then ``later``/h; a 12-month reservation at
    $2.5 against $4 on demand. The plan buys ``later`` on the expiry date itself, an extra
    step (the 3rd instance's 20 days of January use, $1,920 on demand, do not pay for its
    $2,940 of fees in the horizon), and the row reads "renew" or "renew 2, let 1 expire".
    Before, purchases started on the monthly steps only: the plan bought on 01-01, paying
    twice for 10 days, and the row read "let expire"."""
    idx = horizon(2)
    d = np.where(idx < add_months(START, 1), 3.0, later)[:, None]
    cat = catalog([4.0], [None], [Product("ri", "reservation", 12, {family(0): 2.5})])
    expiry = START + pd.Timedelta(days=10)
    inv = _inventory(cat, "ri", 3.0, expiry - pd.DateOffset(months=12), expiry)
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases.groupby("date")["quantity"].sum().to_dict() == {expiry: later}
    assert plan.expiring[["renew", "renewed_quantity"]].values.tolist() == [[later == 3.0, later]]
    opts = prepare(problem(forecast(idx, d), cat, inventory=inv)).options_
    at_expiry = opts[opts["start"] == expiry]
    assert len(at_expiry) == 1 and at_expiry["ladder_step"].tolist() == [0]   # max_bought_share_per_step: January's
    hours = (add_months(START, 2) - expiry) / pd.Timedelta(hours=1)
    jan_left = (3.0 - later) * 4.0 * 21 * 24                       # the 3rd instance on demand, 01-11 to 02-01
    assert plan.simulation.kpis.cost_usd == pytest.approx(3 * 2.5 * 240 + later * 2.5 * hours + jan_left)


def test_a_purchase_may_overlap_inventory_that_starts_later():
    """A queued reservation of 3 starts on 01-25; demand 3/h; a 1-month reservation at $2.5
    against $4. Buying 3 on 01-01 costs 3 x 2.5 x 744 = $5,580 and saves 24 days on demand,
    3 x 4 x 576 = $6,912, though for 7 days 6 are reserved for 3 used. The model capped the
    reservations in force (inventory included) at the peak of 3, so it could not buy."""
    idx = horizon(1)
    d = np.full((len(idx), 1), 3.0)
    cat = catalog([4.0], [None], [Product("ri", "reservation", 1, {family(0): 2.5})])
    queued = START + pd.Timedelta(days=24)
    inv = _inventory(cat, "ri", 3.0, queued, queued + pd.DateOffset(months=1))
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases[["date", "quantity"]].values.tolist() == [[START, 3.0]]
    inventory_fee = 3 * 2.5 * 7 * 24
    assert plan.simulation.kpis.cost_usd == pytest.approx(5580 + inventory_fee)


@pytest.mark.parametrize("held", [0.0, 2.0])
def test_a_plan_held_is_not_credited_to_what_is_bought_of_it(held):
    """tests/test_model_oracle.py's savings-plan floor case (OD $4, demand 2,2,2,1, a plan at
    $2.5 of commitment per instance-hour, u = 0.9: the best plan is 25/6 $/h, 4.166 bought)
    with ``held`` $/h of the same plan already in force. The plan held is used in full on
    its own, so the floor holds over the plan product as a whole: 4.166 - held is bought.
    Before, the floor row waived the held plan's whole share and credited its use to the
    purchase: 3 $/h was bought (5 in all, the optimum without a floor), used 58% on its
    own."""
    from gpuladder.solver.book import make_purchases as buy

    cat = catalog([4.0], [None], [Product("sp", "savings_plan", 1, {family(0): 2.5})])
    idx = horizon(1)
    d = np.tile([2.0, 2, 2, 1], len(idx) // 4)[:, None]
    cons = Constraints(min_utilization=0.9, spot_cap=None, spot_rework_overhead=0.0)
    inv = None
    if held:
        b = buy(cat, pd.DataFrame({"product": ["sp"], "family": [""], "quantity": [held], "start": [START]}),
                origin="inventory", id_prefix="inv")
        inv = type(b)(b.items.assign(end=add_months(START, 1)))
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=cons, inventory=inv), EXACT_SOLVE)
    assert plan.purchases["quantity"].sum() == pytest.approx(4.166 - held, abs=1.5e-3)
    use = plan.simulation.by_commitment
    assert use["used_usd"].sum() / use["amortized_fee_usd"].sum() >= 0.9 - 1e-3 / 4.166


def test_a_replacement_bought_at_the_next_ladder_step_reads_as_a_renewal():
    """3 reserved until 01-11; no demand from then to 02-01, 3/h from 02-01. The plan buys the
    3 back on 02-01, not on the expiry date (an extra purchase date since d234e66), and the
    row reads "renew": the reading looks up to the first ladder step after the expiry."""
    idx = horizon(2)
    expiry = START + pd.Timedelta(days=10)
    d = np.where((idx >= expiry) & (idx < add_months(START, 1)), 0.0, 3.0)[:, None]
    cat = catalog([4.0], [None], [Product("ri", "reservation", 12, {family(0): 2.5})])
    inv = _inventory(cat, "ri", 3.0, expiry - pd.DateOffset(months=12), expiry)
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases.groupby("date")["quantity"].sum().to_dict() == {add_months(START, 1): 3.0}
    assert plan.expiring[["renew", "renewed_quantity"]].values.tolist() == [[True, 3.0]]


def test_a_plan_of_other_families_does_not_renew_an_expiring_plan():
    """A savings plan for f0 ($5/h) expires after January, when f0's demand ends; f1's demand
    starts in February and the plan buys a savings plan for f1 then. Both plans are the same
    provider's, but the f1 plan cannot cover f0: the f0 plan is let expire (before, any plan
    of the provider counted as its renewal)."""
    from gpuladder.solver.book import make_purchases as buy

    idx = horizon(2)
    jan = (idx < add_months(START, 1))[:, None]
    d = np.where(jan, [[2.0, 0.0]], [[0.0, 3.0]])
    cat = catalog([4.0, 4.0], [None, None], [Product("sp-f0", "savings_plan", 1, {family(0): 2.5}),
                                             Product("sp-f1", "savings_plan", 1, {family(1): 2.5})])
    held = buy(cat, pd.DataFrame({"product": ["sp-f0"], "family": [""], "quantity": [5.0], "start": [START]}),
               origin="inventory", id_prefix="inv")
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=held), EXACT_SOLVE)
    assert plan.purchases[["product", "date"]].values.tolist() == [["sp-f1", add_months(START, 1)]]
    assert plan.expiring[["renew", "renewed_quantity"]].values.tolist() == [[False, 0.0]]


def test_an_expiry_in_the_afternoon_is_renewed_at_the_start_of_its_day():
    """Reservations end at the hour they were bought (14:00 here): the replacement is bought
    at 00:00 that day, so that purchase dates stay dates in the plan JSON, paying twice for
    14 hours rather than running 3 instances on demand until 02-01."""
    idx = horizon(2)
    d = np.full((len(idx), 1), 3.0)
    cat = catalog([4.0], [None], [Product("ri", "reservation", 12, {family(0): 2.5})])
    expiry = START + pd.Timedelta(days=10, hours=14)
    inv = _inventory(cat, "ri", 3.0, expiry - pd.DateOffset(months=12), expiry)
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    day = expiry.floor("D")
    assert plan.purchases.groupby("date")["quantity"].sum().to_dict() == {day: 3.0}
    assert plan.expiring[["renew", "renewed_quantity"]].values.tolist() == [[True, 3.0]]
    hours = (add_months(START, 2) - day) / pd.Timedelta(hours=1)
    assert plan.simulation.kpis.cost_usd == pytest.approx(3 * 2.5 * (240 + 14) + 3 * 2.5 * hours)
