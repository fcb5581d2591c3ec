"""The optimizer against oracles that share no code with it.

* Brute force (tests/bruteforce.py) on 210 seeded random instances: 2-3 families, 2-3
  monthly ladder steps, a reservation product per family (term 1-3 months), a
  multi-family savings plan on three seeds in four (uniform or per-family discounts),
  spot with caps and rework overhead, utilization floors on about half the seeds and a
  conservative second path on about a third. gpuladder's simulated cost must equal the
  brute-force optimum (relative 1e-6), its plan must meet the floors as the simulator
  measures them, and its model objective must equal its simulated cost.
* The one-family closed form (STYLE.md): reserve the k-th instance iff the share of hours
  with demand >= k is at least reserved rate / on-demand rate; 8 seeds x 40 families
  with random price ratios, one purchase date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bruteforce import brute_force, floors_hold
from model_instances import (EXACT_SOLVE, Product, START, catalog, family, forecast, horizon, problem,
                             random_instance)
from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.plan import plan_problem

SHAPES = [(2, 2, 2), (2, 3, (2, 1)), (3, 2, (2, 1, 1))]   # families, months (= steps), peak demand


def oracle_instance(seed: int):
    n_families, months, peak = SHAPES[seed % len(SHAPES)]
    return random_instance(seed, n_families=n_families, months=months, max_demand=peak,
                           plans="one" if seed % 4 else "none")


@pytest.mark.parametrize("seed", range(210))
def test_simulated_cost_equals_brute_force_optimum(seed):
    inst = oracle_instance(seed)
    plan = plan_problem(inst.problem, EXACT_SOLVE)
    simulated = float((plan.path_costs["weight"] * plan.path_costs["cost_usd"]).sum())
    oracle = brute_force(inst.problem)
    assert simulated == pytest.approx(oracle.cost_usd, rel=1e-6), (inst.info, plan.purchases, oracle.purchases)
    assert oracle.lp_cost_usd == pytest.approx(oracle.cost_usd, rel=1e-5)   # the oracle's own pricing
    assert plan.solver.exact
    assert plan.solver.model_objective_usd == pytest.approx(simulated, rel=1e-5)
    assert floors_hold(inst.problem, plan.book)
    u = inst.problem.constraints.min_utilization
    if u is not None:   # each reservation bought, on its own, on the expected path (README's promise)
        bc = plan.simulation.by_commitment
        bought = bc[bc["kind"].eq("reservation") & bc.index.isin(plan.purchases["id"])]
        assert (bought["utilization"] >= u - 1e-9).all(), bought


MONTH_END_STARTS = ["2026-01-31", "2026-03-31", "2026-08-31", "2026-01-30", "2027-12-31"]


@pytest.mark.parametrize("seed", range(40))
def test_month_end_starts_and_partial_months_against_brute_force(seed):
    """Horizons that start on a 29th-31st (a purchase on 2026-02-28 for one month ends on
    03-28, and the next month window starts on 03-31) or run whole months plus 10 days (a
    short last window of its own): the model, the oracle and the simulator must agree on
    which hours each commitment covers and on each month's floor."""
    start = pd.Timestamp(MONTH_END_STARTS[seed % len(MONTH_END_STARTS)], tz="UTC")
    n_families, months, peak = SHAPES[seed % len(SHAPES)]
    inst = random_instance(1000 + seed, n_families=n_families, months=months, max_demand=peak,
                           plans="one" if seed % 3 else "none", start=start, extra_days=10 * (seed % 2))
    plan = plan_problem(inst.problem, EXACT_SOLVE)
    simulated = float((plan.path_costs["weight"] * plan.path_costs["cost_usd"]).sum())
    oracle = brute_force(inst.problem)
    assert simulated == pytest.approx(oracle.cost_usd, rel=1e-6), (inst.info, plan.purchases, oracle.purchases)
    assert oracle.lp_cost_usd == pytest.approx(oracle.cost_usd, rel=1e-5)
    assert plan.solver.model_objective_usd == pytest.approx(simulated, rel=1e-5)
    assert floors_hold(inst.problem, plan.book)


def test_oracle_segments_follow_each_purchase_date():
    """The oracle's own calendar, by hand: from 2026-01-31 over 2 months + 10 days, ladder
    steps on 01-31 and 02-28; one-month terms end on 02-28 and 03-28; month windows start on
    01-31, 02-28, 03-31 (the 10 days past two whole months end on 04-10 after 03-31)."""
    from bruteforce import _Segments
    start = pd.Timestamp("2026-01-31", tz="UTC")
    seg = _Segments.of(horizon(2, start, 10), 1, {1})
    day = pd.Timedelta(days=1)
    assert [b.strftime("%m-%d") for b in seg.bounds] == ["01-31", "02-28", "03-28", "03-31", "04-10"]
    assert seg.hours.tolist() == [28 * 24, 28 * 24, 3 * 24, 10 * 24]
    assert seg.window.tolist() == [0, 1, 1, 2]
    assert seg.steps == [0, 1]
    assert seg.active(1, 1).tolist() == [False, True, False, False]
    assert seg.active(0, 2).tolist() == [True, True, True, False]
    assert seg.bounds[-1] - seg.bounds[0] == 69 * day


def test_oracle_instances_cover_the_features():
    infos = [oracle_instance(s).info for s in range(210)]
    assert sum(i["plans"] == "one" for i in infos) >= 150
    assert sum(i["floors"] for i in infos) >= 80
    assert sum(i["two_paths"] for i in infos) >= 50
    assert sum(i["floors"] and i["plans"] == "one" for i in infos) >= 60
    assert {(i["families"], i["months"]) for i in infos} == {(2, 2), (2, 3), (3, 2)}


@pytest.mark.parametrize("seed", range(8))
def test_one_family_closed_form(seed):
    """40 independent families in one run, each: on-demand OD, a one-month reservation at
    rate = ratio x OD, random integer demand over January (744 h). Closed form: reserve k
    iff #(hours with demand >= k) / 744 >= ratio; cost = sum_t OD d_t - sum_{reserved k}
    (OD #(d >= k) - rate x 744)."""
    rng = np.random.default_rng(seed)
    nf = 40
    od = np.round(rng.uniform(2.0, 90.0, nf), 3)
    ratio = rng.choice([0.3, 0.45, 0.625, 0.8], nf)
    rate = np.round(od * ratio, 4)
    products = [Product(f"ri-f{i}", "reservation", 1, {family(i): float(rate[i])}) for i in range(nf)]
    cat = catalog(list(od), [None] * nf, products)
    idx = horizon(1)
    demand = rng.integers(0, 7, size=(len(idx), nf)).astype(float) * (rng.random(nf) < 0.9)
    prob = problem(forecast(idx, demand), cat)
    plan = plan_problem(prob, EXACT_SOLVE)
    hours = len(idx)
    bought = plan.purchases.set_index("family")["quantity"].reindex([family(i) for i in range(nf)]).fillna(0.0)
    expected_cost = 0.0
    for i in range(nf):
        levels = np.arange(1, int(demand[:, i].max()) + 1)
        share = np.array([(demand[:, i] >= k).mean() for k in levels])
        take = share >= rate[i] / od[i] - 1e-12
        ties = np.isclose(share, rate[i] / od[i], rtol=0, atol=1e-12)
        if not ties.any():
            assert bought.iloc[i] == take.sum(), (i, share, rate[i] / od[i])
        expected_cost += od[i] * demand[:, i].sum() - sum(od[i] * (demand[:, i] >= k).sum() - rate[i] * hours
                                                          for k in levels[take])
    assert plan.simulation.kpis.cost_usd == pytest.approx(expected_cost, rel=1e-9)
    assert plan.solver.model_objective_usd == pytest.approx(expected_cost, rel=1e-9)
    assert (plan.purchases["date"] == START).all()


def test_floor_on_the_conservative_path_hand_worked():
    """One family, OD $4, reservation $2.5 (1 month), u = 0.9. P50 repeats 2,2,2,2 (weight
    1), P10 repeats 2,2,1,1 (weight 0, floor only). Reserving 2 uses 100% on P50 but 6/8 =
    75% on P10, so the floor allows 1: cost per 4 h on P50 = 4 x 2.5 + 4 x 4 = 26 (instead of
    20 without the conservative path)."""
    products = [Product("ri", "reservation", 1, {family(0): 2.5})]
    cat = catalog([4.0], [None], products)
    idx = horizon(1)
    p50 = np.tile([2.0, 2, 2, 2], len(idx) // 4)[:, None]
    p10 = np.tile([2.0, 2, 1, 1], len(idx) // 4)[:, None]
    cons = Constraints(min_utilization=0.9, spot_cap=None, spot_rework_overhead=0.0)
    plan = plan_problem(problem(forecast(idx, p50, conservative=p10, weights=(1.0, 0.0)), cat, constraints=cons),
                        EXACT_SOLVE)
    assert plan.purchases["quantity"].sum() == 1
    assert plan.simulation.kpis.cost_usd == pytest.approx(26.0 * len(idx) / 4, rel=1e-9)
    free = plan_problem(problem(forecast(idx, p50), cat, constraints=cons), EXACT_SOLVE)
    assert free.purchases["quantity"].sum() == 2


def test_reservations_are_used_before_savings_plans_hand_worked():
    """One family, OD $4, demand 2,2,2,1; reservation $2.5, savings plan at $2.8 of
    commitment per instance-hour, u = 0.9 for both. Without floors: reserve 2 (cost 20
    per 4 h). With them: 2 reserved are used 7/8 < 0.9, so reserve 1 (used 4/4). A plan
    on top of it covers the second instance, used 3 h of 4 = 75% < 0.9, so no plan:
    cost 10 + 3 x 4 = 22. (A model that let the plan take the bottom layer would see the
    plan used 100% and the reservation's own floor met, and buy both for 21.2: wrong.)"""
    products = [Product("ri", "reservation", 1, {family(0): 2.5}),
                Product("sp", "savings_plan", 1, {family(0): 2.8})]
    cat = catalog([4.0], [None], products)
    idx = horizon(1)
    d = np.tile([2.0, 2, 2, 1], len(idx) // 4)[:, None]
    cons = Constraints(min_utilization=0.9, spot_cap=None, spot_rework_overhead=0.0)
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=cons), EXACT_SOLVE)
    got = plan.purchases.groupby("product")["quantity"].sum()
    assert got.to_dict() == {"ri": 1.0}
    assert plan.simulation.kpis.cost_usd == pytest.approx(22.0 * len(idx) / 4, rel=1e-9)
    none = plan_problem(problem(forecast(idx, d), cat), EXACT_SOLVE)
    assert none.simulation.kpis.cost_usd == pytest.approx(20.0 * len(idx) / 4, rel=1e-9)


def test_savings_plan_floor_hand_worked():
    """One family, OD $4, demand 2,2,2,1, a savings plan only ($2.5 of commitment per
    instance-hour), u = 0.9. Use of C $/h over 4 h = 3 min(C, 5) + min(C, 2.5); for C in
    [2.5, 5] the floor 3C + 2.5 >= 0.9 x 4C gives C <= 25/6; cost 4C + 12 (2 - C/2.5) =
    24 - 0.8C, least at C = 25/6 -> 4.166 $/h bought (rounded down to the $0.001 quantum):
    24 - 0.8 x 4.166 per 4 h. Without the floor C = 5: cost 20."""
    products = [Product("sp", "savings_plan", 1, {family(0): 2.5})]
    cat = catalog([4.0], [None], products)
    idx = horizon(1)
    d = np.tile([2.0, 2, 2, 1], len(idx) // 4)[:, None]
    cons = Constraints(min_utilization=0.9, spot_cap=None, spot_rework_overhead=0.0)
    plan = plan_problem(problem(forecast(idx, d), cat, constraints=cons), EXACT_SOLVE)
    assert plan.purchases["quantity"].tolist() == [pytest.approx(4.166)]
    assert plan.simulation.kpis.cost_usd == pytest.approx((24 - 0.8 * 4.166) * len(idx) / 4, rel=1e-9)
    use = plan.simulation.by_commitment
    assert use["used_usd"].sum() / use["amortized_fee_usd"].sum() >= 0.9
    free = plan_problem(problem(forecast(idx, d), cat), EXACT_SOLVE)
    assert free.purchases["quantity"].tolist() == [pytest.approx(5.0)]
    assert free.simulation.kpis.cost_usd == pytest.approx(20.0 * len(idx) / 4, rel=1e-9)


def test_plan_dates_follow_the_ladder():
    """Demand that starts in the second month is covered by a purchase at that step."""
    products = [Product("ri", "reservation", 1, {family(0): 2.5})]
    cat = catalog([4.0], [None], products)
    idx = horizon(2)
    d = np.where(idx >= pd.Timestamp("2026-02-01", tz="UTC"), 3.0, 0.0)[:, None]
    plan = plan_problem(problem(forecast(idx, d), cat), EXACT_SOLVE)
    assert plan.purchases["date"].tolist() == [pd.Timestamp("2026-02-01", tz="UTC")]
    assert plan.purchases["quantity"].tolist() == [3.0]
