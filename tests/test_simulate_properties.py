"""Billing simulator properties (hypothesis): the vectorized simulator against a naive
per-hour oracle written here, conservation, bounds, the sum of the KPIs' parts, price
scaling and family permutation."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.simulate import DispatchRules, simulate
from simulate_cases import T0, buy, fam, make_catalog


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



def simulated(spec, book=None):
    """(catalog, book, demand, interruptible, the simulation) of a spec; ``book`` instead of
    the spec's own when given."""
    with tempfile.TemporaryDirectory() as folder:
        catalog, own, demand, inter = build(spec, folder=folder)
    book = own if book is None else book
    return catalog, book, demand, inter, simulate(book, demand, inter, catalog, spec["rules"])

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
    catalog, book, demand, inter, res = simulated(spec)
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
    catalog, book, demand, inter, res = simulated(spec)
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
    catalog, _, demand, inter, res = simulated(spec, CommitmentBook.empty())
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
    catalog, book, demand, inter, full = simulated(spec)
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
    catalog, book, demand, inter, res = simulated(spec)
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
    catalog, book, demand, inter, res = simulated(spec)
    cols = list(demand.columns)[::-1]
    rev = simulate(book, demand[cols], inter[cols], catalog, spec["rules"])
    assert res.kpis == rev.kpis
    pd.testing.assert_frame_equal(res.by_family, rev.by_family)
    pd.testing.assert_frame_equal(res.hourly.by_source(), rev.hourly.by_source())
