"""Property tests (hypothesis) on small random instances (tests/model_instances.py).

Costs compared between two runs are the model objectives (exact on these instances,
which the oracle tests check against the simulator) or simulated costs, solved to a 1e-9
gap; "never raises" allows 1e-7 relative for the tie-break nudge."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model_instances import EXACT_SOLVE, family, random_instance
from gpuladder.pricing.catalog import catalog_from_frames
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import make_purchases
from gpuladder.solver.layers import build_layers, build_layers_paths, sum_min
from gpuladder.solver.modeldata import PlanningProblem
from gpuladder.solver.plan import plan_problem
from gpuladder.units import add_months

PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
SEEDS = st.integers(0, 10_000)
TOL = 1e-7


def _cost(prob: PlanningProblem) -> float:
    return plan_problem(prob, EXACT_SOLVE).solver.model_objective_usd


def _replace(prob: PlanningProblem, **kw) -> PlanningProblem:
    fields = dict(forecast=prob.forecast, catalog=prob.catalog, inventory=prob.inventory, products=prob.products,
                  constraints=prob.constraints, options=prob.options)
    fields.update(kw)
    return PlanningProblem(**fields)


def _constraints(c: Constraints, **kw) -> Constraints:
    base = {f: getattr(c, f) for f in Constraints.__dataclass_fields__}
    base.update(kw)
    return Constraints(**base)


@PROPERTY
@given(SEEDS, st.sampled_from(["none", "one", "mixed"]))
def test_plan_cost_never_above_all_on_demand(seed, plans):
    plan = plan_problem(random_instance(seed, plans=plans).problem, EXACT_SOLVE)
    k = plan.simulation.kpis
    assert k.cost_usd <= k.on_demand_equivalent_usd * (1 + 1e-9)


def _with_all_upfront_copies(prob: PlanningProblem) -> PlanningProblem:
    """Each product also sold all upfront, 5% cheaper (the random instances sell no upfront
    products, so an upfront budget had nothing to limit)."""
    cat = prob.catalog
    com = cat.commitments
    copies = com.assign(product=com["product"] + "-au", payment="all_upfront", upfront_share=1.0,
                        rate_usd_per_hour=com["rate_usd_per_hour"] * 0.95)
    both = catalog_from_frames(cat.families.reset_index(), pd.concat([com, copies], ignore_index=True), origin="test")
    return _replace(prob, catalog=both)


@PROPERTY
@given(SEEDS, st.sampled_from(["floor", "spot_cap", "committed", "upfront", "expiring", "bought"]))
def test_relaxing_a_limit_never_raises_cost(seed, which):
    inst = random_instance(seed, plans="one", max_demand=2, floors=True)
    if which == "upfront":
        inst = replace(inst, problem=_with_all_upfront_copies(inst.problem))
    c = inst.problem.constraints
    tight, loose = {
        "floor": ({"min_utilization": 0.95}, {"min_utilization": 0.7}),
        "spot_cap": ({"spot_cap": 0.2}, {"spot_cap": 0.8}),
        "committed": ({"max_committed_usd_per_hour": 60.0}, {"max_committed_usd_per_hour": 200.0}),
        "upfront": ({"max_upfront_usd_per_quarter": 0.0}, {"max_upfront_usd_per_quarter": None}),
        "expiring": ({"max_expiring_share_per_quarter": 0.4}, {"max_expiring_share_per_quarter": 0.9}),
        "bought": ({"max_bought_share_per_step": 0.4}, {"max_bought_share_per_step": None}),
    }[which]
    a = _cost(_replace(inst.problem, constraints=_constraints(c, **tight)))
    b = _cost(_replace(inst.problem, constraints=_constraints(c, **loose)))
    assert b <= a * (1 + TOL)


@PROPERTY
@given(SEEDS)
def test_a_zero_upfront_budget_pays_nothing_upfront(seed):
    """Every product also sold all upfront 5% cheaper: without a budget the plan buys
    upfront wherever it buys; with max_upfront_usd_per_quarter 0 it pays nothing upfront,
    and costs more whenever it commits."""
    prob = _with_all_upfront_copies(random_instance(seed, plans="one", max_demand=2).problem)
    c = prob.constraints
    free = plan_problem(_replace(prob, constraints=_constraints(c, max_upfront_usd_per_quarter=None)), EXACT_SOLVE)
    none = plan_problem(_replace(prob, constraints=_constraints(c, max_upfront_usd_per_quarter=0.0)), EXACT_SOLVE)
    assert none.book.items["upfront_usd"].sum() == 0.0
    assert not none.purchases["product"].str.endswith("-au").any()
    assert free.purchases["product"].str.endswith("-au").all()
    if len(none.purchases):   # the same purchases upfront would cost 5% less in fees
        assert none.solver.simulated_objective_usd > free.solver.simulated_objective_usd


@PROPERTY
@given(SEEDS, st.sampled_from([0.5, 2.5, 7.0]))
def test_scaling_prices_scales_cost(seed, factor):
    """Costs scale with prices; the same reservations are bought and plan $/h scale too
    (up to the $0.001/h quantum plans are bought in, hence 1e-5)."""
    base = plan_problem(random_instance(seed, plans="one").problem, EXACT_SOLVE)
    scaled = plan_problem(random_instance(seed, plans="one", price_scale=factor).problem, EXACT_SOLVE)
    assert scaled.simulation.kpis.cost_usd == pytest.approx(factor * base.simulation.kpis.cost_usd, rel=1e-5)
    assert scaled.solver.model_objective_usd == pytest.approx(factor * base.solver.model_objective_usd, rel=1e-5)
    key = ["date", "product"]
    a = base.purchases.groupby(key)["quantity"].sum()
    b = scaled.purchases.groupby(key)["quantity"].sum()
    plans = a.index.get_level_values("product").str.startswith("sp-")
    assert a[~plans].equals(b.reindex(a.index)[~plans])
    assert np.allclose(b.reindex(a.index)[plans], factor * a[plans], rtol=1e-3, atol=0.002)


@PROPERTY
@given(SEEDS, st.permutations([7, 3, 5]))
def test_permuting_families_changes_nothing(seed, names):
    base = random_instance(seed, n_families=3, plans="mixed")
    renamed = random_instance(seed, n_families=3, plans="mixed", names=list(names))
    a = plan_problem(base.problem, EXACT_SOLVE)
    b = plan_problem(renamed.problem, EXACT_SOLVE)
    assert b.simulation.kpis.cost_usd == pytest.approx(a.simulation.kpis.cost_usd, rel=1e-9)
    back = {family(i, names): family(i) for i in range(3)}
    got = b.purchases.assign(family=b.purchases["family"].map(lambda f: back.get(f, f)).fillna(""))
    want = a.purchases.assign(family=a.purchases["family"].fillna(""))
    def rows(df):
        return sorted(zip(df["date"], df["family"].astype(str), np.round(df["quantity"].astype(float), 9)))

    assert rows(got) == rows(want)


@PROPERTY
@given(SEEDS)
def test_spot_only_serves_interruptible_demand_within_the_cap(seed):
    inst = random_instance(seed, plans="one")
    plan = plan_problem(inst.problem, EXACT_SOLVE)
    h = plan.simulation.hourly
    path = inst.problem.forecast.path(inst.problem.forecast.expected)
    cons = inst.problem.constraints
    cap = np.array([1.0 if cons.spot_cap_share(f) is None else cons.spot_cap_share(f) for f in h.demand_instances])
    spot = h.spot_instances.to_numpy()
    assert (spot <= path.interruptible_instances[h.demand_instances.columns].to_numpy() + 1e-9).all()
    assert (spot <= cap * h.demand_instances.to_numpy() + 1e-9).all()


@PROPERTY
@given(SEEDS)
def test_adding_an_allowed_product_never_raises_cost(seed):
    inst = random_instance(seed, plans="mixed")
    products = sorted(set(inst.problem.catalog.commitments["product"]))
    dropped = products[seed % len(products)]
    fewer = _replace(inst.problem, products=ProductFilter(terms_months=None,
                                                          ids=tuple(p for p in products if p != dropped)))
    assert _cost(inst.problem) <= _cost(fewer) * (1 + TOL)


@PROPERTY
@given(SEEDS)
def test_an_existing_commitment_is_never_duplicated_by_a_same_day_purchase(seed):
    """Precisely: when reservations in the inventory cover family f's peak demand (every
    path) throughout the month after ladder step s, the plan buys no reservation of f at
    s. (Such a purchase is unused that month; buying it one step later is never worse, and
    the tie-break prefers later purchases.) f and s are those of a reservation the plan
    buys without that inventory, so a plan blind to the inventory would buy there."""
    prob = random_instance(seed, months=3, plans="one").problem
    plain = plan_problem(prob, EXACT_SOLVE).purchases
    reserved = plain[plain["kind"] == "reservation"]
    assume(len(reserved))
    f, start = reserved["family"].iloc[seed % len(reserved)], reserved["date"].iloc[seed % len(reserved)]
    end = add_months(start, 1)
    window = (prob.forecast.index >= start) & (prob.forecast.index < end)
    peak = max(float(p.demand_instances[f].to_numpy()[window].max()) for p in prob.forecast.paths)
    product = prob.catalog.commitments.loc[(prob.catalog.commitments["kind"] == "reservation")
                                           & (prob.catalog.commitments["family"] == f), "product"].iloc[0]
    inv = make_purchases(prob.catalog, pd.DataFrame({"product": [product], "family": [f], "quantity": [max(peak, 1.0)],
                                                     "start": [prob.forecast.index[0]]}),
                         origin="inventory", id_prefix="inv")
    inv = type(inv)(inv.items.assign(end=end))
    plan = plan_problem(_replace(prob, inventory=inv), EXACT_SOLVE)
    same_day = plan.purchases[(plan.purchases["family"] == f) & (plan.purchases["date"] == start)]
    assert same_day.empty


@PROPERTY
@given(SEEDS, st.integers(0, 2))
def test_no_purchase_for_a_family_with_zero_forecast_demand(seed, zero):
    inst = random_instance(seed, n_families=3, plans="mixed", zero_family=zero)
    plan = plan_problem(inst.problem, EXACT_SOLVE)
    assert not (plan.purchases["family"] == family(zero)).any()
    assert plan.simulation.by_family.loc[family(zero), "cost_usd"] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=200), st.lists(st.floats(0, 1), min_size=1, max_size=200),
       st.floats(0.5, 10.0), st.floats(0.0, 1.0), st.floats(0.0, 35.0), st.sampled_from([48, 8]))
def test_layer_compression_equals_the_hourly_evaluation(total, firm_share, od, spot_share, x, max_layers):
    d = np.asarray(total, float) / 3.0
    share = np.resize(np.asarray(firm_share), len(d))
    n = np.round(d * share, 6)
    spot = od * spot_share
    lay = build_layers(n, d, od, spot, max_layers)
    starts = np.concatenate([[0.0], np.cumsum(lay.width)[:-1]])
    fill = np.clip(x - starts, 0.0, lay.width)
    saving = float((fill * lay.saving_usd).sum())
    used = float((fill * lay.used_hours).sum())
    hourly_saving = float(((od - spot) * np.minimum(x, n) + spot * np.minimum(x, d)).sum())
    hourly_used = float(np.minimum(x, d).sum())
    exact_here = lay.resolution == "exact" or (lay.resolution == "integer" and float(x).is_integer())
    if exact_here:
        assert saving == pytest.approx(hourly_saving, rel=1e-9, abs=1e-7)
        assert used == pytest.approx(hourly_used, rel=1e-9, abs=1e-7)
    else:   # coarse: chords of concave curves, never above them
        assert saving <= hourly_saving + 1e-7
        assert used <= hourly_used + 1e-7
    ds = np.sort(d)
    assert float(sum_min(ds, np.cumsum(ds), np.array([x]))[0]) == pytest.approx(hourly_used, rel=1e-12, abs=1e-9)


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.lists(st.integers(0, 20), min_size=1, max_size=60), min_size=2, max_size=3),
       st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3), st.floats(0.0, 25.0), st.floats(0.0, 0.9))
def test_merged_path_layers_equal_the_weighted_hourly_evaluation(paths, weights, x, eligible_share):
    """Paths that see the same capacity merge into one set of layers: the expected saving
    sum_w pi_w Sav_w(x) and each path's use U_w(x) are exact at every capacity."""
    od, spot = 5.0, 2.0
    ds = [np.asarray(p, float) for p in paths]
    ns = [np.floor(d * (1 - eligible_share)) for d in ds]
    w = np.asarray(weights[:len(ds)])
    lay = build_layers_paths([np.sort(n) for n in ns], [np.sort(d) for d in ds], w, od, spot, 200)
    starts = np.concatenate([[0.0], np.cumsum(lay.width)[:-1]])
    fill = np.clip(x - starts, 0.0, lay.width)
    expected = sum(wi * float(((od - spot) * np.minimum(x, n) + spot * np.minimum(x, d)).sum())
                   for wi, n, d in zip(w, ns, ds))
    assert float(fill @ lay.saving_usd) == pytest.approx(expected, rel=1e-9, abs=1e-7)
    for r, d in enumerate(ds):
        assert float(fill @ lay.used_hours[r]) == pytest.approx(float(np.minimum(x, d).sum()), rel=1e-9, abs=1e-7)
