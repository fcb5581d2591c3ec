"""What to let expire (review 10): the plan's ``expiring`` rows read as a FinOps team acts on
them. ``renew`` / ``renewed_quantity`` must agree with the purchases that replace the
commitment (not with inventory already queued to), in the commitment's own unit, and an
expiry on the horizon's edge is listed by the plan that can replace it.

Unless said otherwise: family f0 at $4/h on demand, from 2026-01-01, a 12-month
reservation at $2.5/h, an existing commitment ending on 01-11."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli_cases import write_flat_case
from model_instances import EXACT_SOLVE, Product, START, catalog, family, forecast, horizon, problem
from gpuladder.cli import main
from gpuladder.report.plan import render_plan
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.plan import plan_problem
from gpuladder.units import add_months

EXPIRY = START + pd.Timedelta(days=10)
YEAR = pd.DateOffset(months=12)


def _held(cat, rows) -> CommitmentBook:
    """Inventory rows (id, product, family, quantity, start, end)."""
    frame = pd.DataFrame(rows, columns=["id", "product", "family", "quantity", "start", "end"])
    book = make_purchases(cat, frame.drop(columns="end"), origin="inventory")
    return CommitmentBook(book.items.assign(end=pd.to_datetime(frame["end"], utc=True)))


def _decisions(plan) -> dict:
    return {r.id: (r.renew, r.renewed_quantity) for r in plan.expiring.itertuples(index=False)}


def _ri_catalog():
    return catalog([4.0], [None], [Product("ri", "reservation", 12, {family(0): 2.5})])


@pytest.mark.parametrize("queued", [3.0, 1.0])
def test_inventory_queued_to_replace_an_expiry_is_not_the_plans_renewal(queued):
    """3 reserved until 01-11 and ``queued`` more bought to start on 01-11; demand 3/h. The
    plan buys 3 - queued on 01-11 and the row says it renews that much: with 3 queued,
    "let expire" (before, "renew" with nothing bought: a team following it would have
    bought 3 more reservations on top of the queued ones)."""
    idx = horizon(2)
    cat = _ri_catalog()
    inv = _held(cat, [("old", "ri", family(0), 3.0, EXPIRY - YEAR, EXPIRY),
                      ("queued", "ri", family(0), queued, EXPIRY, EXPIRY + YEAR)])
    plan = plan_problem(problem(forecast(idx, np.full((len(idx), 1), 3.0)), cat, inventory=inv), EXACT_SOLVE)
    bought = plan.purchases.groupby("date")["quantity"].sum().to_dict()
    assert bought == ({} if queued == 3.0 else {EXPIRY: 3.0 - queued})
    assert _decisions(plan) == {"old": (False, 3.0 - queued)}
    assert ("let expire" if queued == 3.0 else "renew 2, let 1 expire") in render_plan(plan, "table")
    # every hour served once by a reservation: no on-demand, no fee paid twice
    assert plan.simulation.kpis.cost_usd == pytest.approx(3 * 2.5 * len(idx))


def test_expiries_on_the_horizons_edges():
    """Demand 6/h in January-February. A (3) ends on the horizon's first hour, C (3) an hour
    later, B (3) on its end. The plan buys 3 on 01-01, which replaces one of A and C: the
    rows say so once (3 renewed in all), and B, which the plan cannot replace (its next
    hour is outside the horizon), is not listed; before, A was not listed, C read "renew"
    and B "let expire". The plan from B's expiry lists B and renews it."""
    idx = horizon(2)
    end = add_months(START, 2)
    cat = _ri_catalog()
    inv = _held(cat, [("A", "ri", family(0), 3.0, START - YEAR, START),
                      ("C", "ri", family(0), 3.0, START - YEAR + pd.Timedelta(hours=1), START + pd.Timedelta(hours=1)),
                      ("B", "ri", family(0), 3.0, end - YEAR, end)])
    plan = plan_problem(problem(forecast(idx, np.full((len(idx), 1), 6.0)), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases[["date", "quantity"]].values.tolist() == [[START, 3.0]]
    assert _decisions(plan) == {"A": (True, 3.0), "C": (False, 0.0)}
    assert plan.simulation.kpis.cost_usd == pytest.approx(6 * 2.5 * len(idx) + 3 * 2.5 * 1)   # C's hour twice

    nxt = horizon(1, start=end)
    after = plan_problem(problem(forecast(nxt, np.full((len(nxt), 1), 3.0)), cat, inventory=inv), EXACT_SOLVE)
    assert after.purchases[["date", "quantity"]].values.tolist() == [[end, 3.0]]
    assert _decisions(after) == {"B": (True, 3.0)}


def test_a_savings_plan_renewed_within_the_quantum_reads_renew():
    """A plan at $2.3333 of commitment per f0 hour: $7.000/h held, demand 3/h needs
    $6.9999/h, bought as $6.999/h (plans are bought in $0.001/h steps, rounded down). That
    is the renewal, not "renew 6.999, let 0.001 expire"."""
    idx = horizon(2)
    cat = catalog([4.0], [None], [Product("sp", "savings_plan", 12, {family(0): 2.3333})])
    inv = _held(cat, [("sp-old", "sp", "", 7.0, EXPIRY - YEAR, EXPIRY)])
    plan = plan_problem(problem(forecast(idx, np.full((len(idx), 1), 3.0)), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases[["date", "quantity"]].values.tolist() == [[EXPIRY, pytest.approx(6.999)]]
    (renew, renewed), = _decisions(plan).values()
    assert renew is True and renewed == pytest.approx(6.999)
    row = next(line for line in render_plan(plan, "table").splitlines() if line.startswith("sp-old"))
    assert "$7.000/h" in row and row.endswith("renew")


@pytest.mark.parametrize("later", [3.0, 2.0])
def test_a_savings_plan_replaced_by_another_plan_product_is_counted_in_its_own_dollars(later):
    """A wide plan ($2.6 of commitment per f0 hour) of $7.8/h ends on 01-11, covering the 3
    f0 instances; a narrower plan covers f0 at $2.4. The plan buys $2.4 x ``later`` of the
    narrow one on 01-11: ``later`` instances, $2.6 x ``later`` of the wide plan's $. Before,
    $7.2 of narrow plan read as "renew 7.200, let 0.600 expire" of a plan replaced whole."""
    idx = horizon(2)
    cat = catalog([4.0, 4.0], [None, None], [Product("sp-wide", "savings_plan", 12, {family(0): 2.6, family(1): 2.6}),
                                             Product("sp-f0", "savings_plan", 12, {family(0): 2.4})])
    inv = _held(cat, [("wide", "sp-wide", "", 7.8, EXPIRY - YEAR, EXPIRY)])
    d = np.where(idx < EXPIRY, 3.0, later)[:, None]
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases[["date", "product", "quantity"]].values.tolist() == [
        [EXPIRY, "sp-f0", pytest.approx(2.4 * later)]]
    assert _decisions(plan) == {"wide": (later == 3.0, pytest.approx(2.6 * later))}
    table = render_plan(plan, "table")
    assert ("renew\n" if later == 3.0 else "renew $5.200/h, let $2.600/h expire") in table
    doc = json.loads(render_plan(plan, "json"))
    assert doc["expiring"] == [{"id": "wide", "product": "sp-wide", "family": None, "quantity": 7.8,
                                "expires": "2026-01-11T00:00Z", "renew": later == 3.0,
                                "renewed_quantity": pytest.approx(2.6 * later),
                                "renewed_by": ["gl-2026-01-11-sp-f0"]}]
    hours_after = (add_months(START, 2) - EXPIRY) / pd.Timedelta(hours=1)
    assert plan.simulation.kpis.cost_usd == pytest.approx(7.8 * 240 + 2.4 * later * hours_after)


def test_a_plan_of_a_family_without_demand_is_not_renewed_by_another_familys_plan():
    """The f1 plan ($5/h) ends on 01-11; f1 has no demand, f0 starts then (3/h) and the plan
    buys an f0 plan on 01-11. The f0 plan cannot cover f1: let expire. Before, a plan
    covering no family with demand counted any plan as its renewal ("renew")."""
    idx = horizon(2)
    cat = catalog([4.0, 4.0], [None, None], [Product("sp-f0", "savings_plan", 12, {family(0): 2.5}),
                                             Product("sp-f1", "savings_plan", 12, {family(1): 2.5})])
    inv = _held(cat, [("f1-plan", "sp-f1", "", 5.0, EXPIRY - YEAR, EXPIRY)])
    d = np.column_stack([np.where(idx < EXPIRY, 0.0, 3.0), np.zeros(len(idx))])
    plan = plan_problem(problem(forecast(idx, d), cat, inventory=inv), EXACT_SOLVE)
    assert plan.purchases[["date", "product", "quantity"]].values.tolist() == [[EXPIRY, "sp-f0", 7.5]]
    assert _decisions(plan) == {"f1-plan": (False, 0.0)}


G5 = "aws/us-east-1/g5.12xlarge"
RI = "aws-ri-1y-no_upfront"


def test_the_monthly_reladder_renews_an_expiry_on_the_month_boundary(tmp_path):
    """The re-ladder loop on the command line (embedded catalog, replay of 10 g5 instances):
    a reservation bought on a month's first hour ends on a later month's first hour. The
    January plan does not list it (it ends on its horizon's end); February's lists it as
    renewed on 02-01 by the 10 it buys then. Before, January's plan said "let expire"
    and February's did not list it: no plan ever said to renew it."""
    write_flat_case(tmp_path, G5, 10.0, "2026-12-01", 14, [f"m1-1,{RI},{G5},10,2026-02-01,2027-02-01"],
                    "usage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2027-01-01', months: 1}\n"
                    "forecast: {method: replay}\nproducts: {providers: [aws], terms_months: [12], "
                    "payments: [no_upfront], kinds: [reservation]}\nconstraints: {spot_cap: 0}\n")
    docs = []
    for start in ("2027-01-01", "2027-02-01"):
        res = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json",
                                        "--set", f"horizon.start={start}"])
        assert res.exit_code == 0, res.output
        docs.append(json.loads(res.stdout))
    jan, feb = docs
    assert jan["purchases"] == [] and jan["expiring"] == []
    assert [(p["date"], p["quantity"]) for p in feb["purchases"]] == [("2027-02-01", 10.0)]
    assert feb["expiring"] == [{"id": "m1-1", "product": RI, "family": G5, "quantity": 10.0,
                                "expires": "2027-02-01T00:00Z", "renew": True, "renewed_quantity": 10.0,
                                "renewed_by": [f"gl-2027-02-01-{RI}-us-east-1-g5.12xlarge"]}]
