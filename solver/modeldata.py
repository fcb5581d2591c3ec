"""Model data: everything the MILP needs, computed once, vectorized, as pandas tables.

``prepare(problem)`` turns a planning problem (forecast, catalog, inventory, allowed
products, constraints) into ``ModelData``: periods (spans in which the set of
commitments in force does not change), purchase options (product x family x ladder
step), and the demand of every (family, period, path) compressed either into layers
(solver/layers.py, paths merged) or, for families coupled by savings plans, into hour types
(solver/coupling.py). The model (solver/model.py) only reads these tables; the
notation is in docs/model.md.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.scenarios.schema import Constraints, ProductFilter, Scenario
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.coupling import components, plan_table
from gpuladder.solver.demand import (LAYERS, SPLIT, TYPES, DemandArrays, build_cells, demand_arrays,
                                     overhead_map, spot_cap_series)
from gpuladder.solver.forecast import Forecast
from gpuladder.solver.layers import sum_min
from gpuladder.solver.quarters import inventory_upfront_by_quarter, quarter_ids
from gpuladder.solver.simulate import DispatchRules, simulate
from gpuladder.units import HOUR, add_months

RES, SP = "reservation", "savings_plan"

__all__ = ["ModelData", "ModelOptions", "PlanningProblem", "prepare", "scenario_problem", "spot_cap_series", "overhead_map",
           "LAYERS", "TYPES", "SPLIT", "RES", "SP"]


@dataclass(frozen=True)
class ModelOptions:
    max_layers: int = 48            # segments per (family, period, path) before falling back
    max_hour_types: int = 64        # distinct joint hours per (component, period, path) for exact plans
    tie_break_share: float = 1e-7   # relative cost nudge: shorter terms, then later purchases
    prune_options: bool = True      # drop purchase options that are dominated or can never pay
    # (kind, key, floor path) -> extra allowance: what sunk commitments miss the utilization
    # floor by even when nothing is bought (plan.py measures it when a plan is infeasible)
    sunk_floor_shortfall: tuple = ()
    excluded_products: frozenset = frozenset()   # purchase options of these products left out
    unfloored_plans: frozenset = frozenset()     # savings plans whose utilization floor rows are left out
    gate_floors: bool = False                    # gate floor rows with binaries (model_cover.py)
    risk_weight: float = 0.0   # objective weights: (forecast weight + w on the conservative path) / (1 + w)
    # ladder steps at these dates (those inside the horizon) instead of every
    # ladder_step_months: the backtest's hindsight buys when the policies it bounds re-plan
    step_dates: tuple = ()
    # the floor in each month on the expected path (docs/model.md); off: over the horizon,
    # for the product-set search's proposal, which only names products and solves far faster
    monthly_floor: bool = True


@dataclass(frozen=True)
class PlanningProblem:
    forecast: Forecast
    catalog: PriceCatalog
    inventory: CommitmentBook
    products: ProductFilter
    constraints: Constraints
    options: ModelOptions = field(default_factory=ModelOptions)


def scenario_problem(scenario: Scenario, forecast: Forecast, catalog: PriceCatalog, inventory: CommitmentBook,
                     constraints: Constraints | None = None) -> PlanningProblem:
    """The planning problem a scenario poses on ``forecast``: its products, its constraints
    (or ``constraints``), and the model options it sets (``forecast.risk_weight``)."""
    return PlanningProblem(forecast, catalog, inventory, scenario.products,
                           scenario.constraints if constraints is None else constraints,
                           ModelOptions(risk_weight=scenario.forecast.risk_weight))


@dataclass(frozen=True)
class ModelData:
    families: pd.Index
    horizon_start: pd.Timestamp
    horizon_end: pd.Timestamp
    periods: pd.DataFrame      # q -> start, end, hours, i0, i1, quarter
    steps: pd.DatetimeIndex    # ladder purchase dates
    paths: pd.DataFrame        # w -> name, forecast_weight, weight (the objective's), floor (the utilization floor holds there)
    prices: pd.DataFrame       # family -> od_usd_per_hour, spot_usd_per_hour (effective), peak_instances
    options_: pd.DataFrame     # purchase options o -> product, family, kind, step, start, end, fee_usd, ub, ...
    active: pd.DataFrame       # (o, q) pairs where option o is in force during period q
    plans: pd.DataFrame        # plan product -> rank, n_catalog_families, scope, purchasable, component
    plan_rates: pd.DataFrame   # product, family, rate_usd_per_hour (model scope only)
    component: pd.Series       # family -> component id
    cells: pd.DataFrame        # (component, q, w) -> mode (layers | types | split)
    layers: pd.DataFrame       # (family, q, k) -> width, saving_usd (paths merged, weights applied), resolution
    layer_use: pd.DataFrame    # (family, q, k, w) -> used_hours per unit of width, on floor paths
    types: pd.DataFrame        # (component, q, w, t, family) -> hours, firm, eligible
    inv_reserved: pd.DataFrame  # (family, q) -> instances reserved by inventory
    inv_plans: pd.DataFrame     # (product, q) -> $/h of inventory savings plans
    floor_allowance: pd.Series  # (kind, key, w, window) -> what inventory alone misses the floor by
    floor_window: np.ndarray   # (w, month g) -> the window of path w's floor rows that month g is in
    baseline_usd: float        # expected cost of the demand with nothing covered (weights applied)
    inventory_fee_usd: float   # amortized inventory fees inside the horizon
    inv_usd_per_hour: np.ndarray  # q -> amortized inventory fees in force [$/h]
    inv_upfront_usd: pd.Series     # quarter id -> inventory upfront paid in it (quarters the horizon touches) [$]
    inv_expiring_usd_per_hour: pd.Series  # expiry quarter id -> amortized $/h of inventory ending then
    inv_ladder_usd_per_hour: float  # amortized $/h of inventory in force at some hour of the horizon
    resolution: str = "exact"
    compressions: tuple[str, ...] = ()
    pruned_options: int = 0
    gate_floors: bool = False
    ladder_steps: pd.DatetimeIndex | None = None   # ``steps`` without the inventory expiry dates
    fiscal_year_start_month: int = 1   # the year whose quarters the budget and ladder rows hold on (solver/quarters.py)
    # (product, w, q) -> $ the inventory's plans of a product use in period q when nothing is bought
    # (the billing simulator on the inventory alone), every held product, on floor paths
    held_plan_use_usd: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


# ---------------------------------------------------------------- products


class _Memo:
    """Results of pure functions of a catalog, forecast, inventory or constraints, which a
    backtest's re-plans and plan.py's retries pass again unchanged: keyed on the identity of
    those objects (weak references: an entry whose object is gone never matches) and on the
    value of the other arguments; the ``size`` most recently used entries are kept. Values
    are shared: the callers only read them."""

    def __init__(self, size: int):
        self._size = size
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, objects: tuple, key, compute):
        full = (tuple(id(o) for o in objects), key)
        with self._lock:
            hit = self._entries.pop(full, None)
            if hit is not None and all(ref() is o for ref, o in zip(hit[0], objects)):
                self._entries[full] = hit
                return hit[1]
        value = compute()
        with self._lock:
            self._entries[full] = (tuple(weakref.ref(o) for o in objects), value)
            while len(self._entries) > self._size:
                self._entries.pop(next(iter(self._entries)))
        return value


_CATALOG_TABLES = _Memo(32)   # allowed products, offers, plan rates and plan tables of a catalog
_PREPARED = _Memo(2)          # prepare's tables before the sunk floor shortfall (a plan's retries)


def allowed_products(catalog: PriceCatalog, flt: ProductFilter) -> pd.DataFrame:
    """product -> provider, kind, term_months, payment, upfront_share, for the products the
    filter allows."""
    return _CATALOG_TABLES.get((catalog,), ("allowed", flt), lambda: _allowed_products(catalog, flt)).copy()


def _allowed_products(catalog: PriceCatalog, flt: ProductFilter) -> pd.DataFrame:
    com = catalog.commitments
    prod = com.drop_duplicates("product").set_index("product")[
        ["provider", "kind", "term_months", "payment", "upfront_share"]]
    keep = np.ones(len(prod), bool)
    for attr, col in (("providers", "provider"), ("terms_months", "term_months"), ("payments", "payment"),
                      ("kinds", "kind")):
        allowed = getattr(flt, attr)
        if allowed is not None:
            keep &= prod[col].isin(allowed).to_numpy()
    if flt.ids is not None:
        keep &= prod.index.isin(flt.ids)
    return prod[keep]


def _offers(catalog: PriceCatalog, prods: pd.DataFrame, peak: pd.Series, cons: Constraints,
            prune: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(offers, plan rates): one offer per reservation product x family with demand and
    per savings-plan product covering a family with demand. With pruning and no upfront
    budget or ladder share, an offer whose rate is no lower than another offer's of the
    same provider, kind and term on every covered family (and whose scope is no larger)
    is dominated and dropped: the other one does the same for no more money."""
    with_demand = peak.index[peak.to_numpy() > 0]
    free = (cons.max_upfront_usd_per_quarter is None and cons.max_expiring_share_per_quarter is None
            and cons.max_bought_share_per_step is None)
    key = ("offers", tuple(prods.index), tuple(with_demand), prune and free)
    return _CATALOG_TABLES.get((catalog,), key, lambda: _offers_of(catalog, prods, with_demand, prune and free))


def _offers_of(catalog: PriceCatalog, prods: pd.DataFrame, with_demand: pd.Index,
               prune: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    com = catalog.commitments[catalog.commitments["product"].isin(prods.index)
                              & catalog.commitments["family"].isin(with_demand)]
    meta = prods[["provider", "term_months", "payment", "upfront_share"]]
    res = com[com["kind"] == RES][["product", "family", "rate_usd_per_hour"]].join(meta, on="product")
    rates = com[com["kind"] == SP][["product", "family", "rate_usd_per_hour"]].reset_index(drop=True)
    sp = pd.DataFrame({"product": pd.Series(sorted(set(rates["product"])), dtype=object)}).join(meta, on="product")
    sp["family"], sp["rate_usd_per_hour"] = "", 1.0
    if prune:
        res = res.sort_values(["family", "provider", "term_months", "rate_usd_per_hour", "upfront_share", "product"])
        res = res.drop_duplicates(["family", "provider", "term_months"], keep="first")
        sp = sp[~sp["product"].isin(_dominated_plans(rates, sp))]
        rates = rates[rates["product"].isin(sp["product"])]
    res = res.assign(kind=RES)
    sp = sp.assign(kind=SP)
    return pd.concat([res, sp], ignore_index=True), rates.reset_index(drop=True)


def _dominated_plans(rates: pd.DataFrame, sp: pd.DataFrame) -> set[str]:
    """Plans b for which another plan a of the same provider and term covers every family
    of b at a rate no higher (strictly lower somewhere, or equal with a smaller id)."""
    out: set[str] = set()
    key = sp.set_index("product")[["provider", "term_months"]]
    if not key.duplicated().any():
        return out
    wide = rates.pivot(index="product", columns="family", values="rate_usd_per_hour")
    for _, grp in key.groupby(["provider", "term_months"]):
        names = list(grp.index)
        if len(names) < 2:
            continue
        r = wide.loc[names].to_numpy(float)
        for bi, b in enumerate(names):
            cov_b = ~np.isnan(r[bi])
            for ai, a in enumerate(names):
                if a == b or a in out:
                    continue
                ra = r[ai][cov_b]
                if np.isnan(ra).any() or (ra > r[bi][cov_b] * (1 + 1e-12)).any():
                    continue
                if (ra < r[bi][cov_b] * (1 - 1e-12)).any() or a < b:
                    out.add(b)
                    break
    return out


def _options(offers: pd.DataFrame, steps: pd.DatetimeIndex, h_end: pd.Timestamp) -> pd.DataFrame:
    if offers.empty:
        stamp = pd.Series(pd.DatetimeIndex([], tz="UTC"))
        num = pd.Series(dtype=float)
        return pd.DataFrame({"product": pd.Series(dtype=object), "family": pd.Series(dtype=object),
                             "rate_usd_per_hour": num, "provider": pd.Series(dtype=object),
                             "term_months": pd.Series(dtype=int), "payment": pd.Series(dtype=object),
                             "upfront_share": num, "kind": pd.Series(dtype=object), "step": pd.Series(dtype=int),
                             "start": stamp, "end": stamp, "unit_usd_per_hour": num, "hours_in_horizon": num,
                             "term_hours": num, "fee_usd": num, "upfront_usd": num})
    opts = offers.merge(pd.DataFrame({"step": np.arange(len(steps))}), how="cross")
    pairs = opts[["step", "term_months"]].drop_duplicates()
    ends = pd.Series([add_months(steps[s], t) for s, t in zip(pairs["step"], pairs["term_months"])],
                     index=pd.MultiIndex.from_frame(pairs))
    opts["start"] = steps[opts["step"].to_numpy()]
    opts["end"] = pd.to_datetime(ends.reindex(pd.MultiIndex.from_frame(opts[["step", "term_months"]])).to_numpy(),
                                 utc=True) if len(opts) else opts["start"]
    opts["unit_usd_per_hour"] = opts["rate_usd_per_hour"]
    opts["hours_in_horizon"] = ((np.minimum(opts["end"], h_end) - opts["start"]) / HOUR).clip(lower=0)
    opts["term_hours"] = (opts["end"] - opts["start"]) / HOUR
    opts["fee_usd"] = opts["unit_usd_per_hour"] * opts["hours_in_horizon"]
    opts["upfront_usd"] = opts["unit_usd_per_hour"] * opts["term_hours"] * opts["upfront_share"]
    return opts


def _renewals_between_steps(opts: pd.DataFrame, inv: pd.DataFrame, ladder: pd.DatetimeIndex) -> pd.DataFrame:
    """At an existing commitment's expiry that is not a ladder step, only the options that
    can replace it (reservations of its family, savings plans of its provider); each
    option's ``ladder_step``: the ladder step it falls in (max_bought_share_per_step holds
    per ladder step)."""
    off = ~opts["start"].isin(ladder)
    if off.any():
        when = inv["end"].dt.floor("D")
        res = set(zip(inv.loc[inv["kind"] == RES, "family"], when[inv["kind"] == RES]))
        sp = set(zip(inv.loc[inv["kind"] == SP, "provider"], when[inv["kind"] == SP]))
        is_res = opts["kind"].eq(RES).to_numpy()
        ok = [(f, t) in res if r else (p, t) in sp
              for r, f, p, t in zip(is_res[off], opts.loc[off, "family"], opts.loc[off, "provider"],
                                    opts.loc[off, "start"])]
        keep = ~off.to_numpy()
        keep[np.flatnonzero(off.to_numpy())] = ok
        opts = opts[keep].reset_index(drop=True)
    opts["ladder_step"] = ladder.searchsorted(pd.DatetimeIndex(opts["start"]), side="right") - 1
    return opts


# ---------------------------------------------------------------- prepare


def steps_to_buy(share: float) -> int:
    """Ladder steps ``max_bought_share_per_step`` = ``share`` needs before anything can be
    bought (each step buys at most ``share`` of the whole): ceil(1 / share)."""
    return int(np.ceil(1 / share - 1e-9))


def horizon_months(h_start: pd.Timestamp, h_end: pd.Timestamp) -> int:
    m = 0
    while add_months(h_start, m + 1) <= h_end:
        m += 1
    return m


def prepare(problem: PlanningProblem) -> ModelData:
    """The model data of ``problem``. Everything but the floor allowance's sunk shortfall and
    the gate flag is computed once per (forecast, catalog, inventory, constraints) objects,
    products and other options (_PREPARED): plan.py prepares a problem whose first solve is
    infeasible again to measure that shortfall, and once more with it."""
    mo = problem.options
    base_options = replace(mo, sunk_floor_shortfall=(), gate_floors=False)
    data, allowance = _PREPARED.get((problem.forecast, problem.catalog, problem.inventory, problem.constraints),
                                    (problem.products, base_options),
                                    lambda: _prepare(replace(problem, options=base_options)))
    return replace(data, floor_allowance=_with_shortfall(allowance, problem.constraints.min_utilization,
                                                         mo.sunk_floor_shortfall, data.floor_window),
                   gate_floors=mo.gate_floors)


def _prepare(problem: PlanningProblem) -> tuple[ModelData, dict]:
    fc, cat, cons, mo = problem.forecast, problem.catalog, problem.constraints, problem.options
    index = fc.index
    h_start, h_end = index[0], index[-1] + HOUR
    families = pd.Index(sorted(fc.families))
    arrays = demand_arrays(fc, cat, cons, families, mo.risk_weight, mo.monthly_floor)
    peak = pd.Series(arrays.peak, index=families)
    prices = pd.DataFrame({"od_usd_per_hour": arrays.od, "spot_usd_per_hour": arrays.spot,
                           "peak_instances": arrays.peak}, index=families)

    # ---- ladder steps and purchase options
    months = horizon_months(h_start, h_end)
    step_months = max(1, int(cons.ladder_step_months))
    steps = pd.DatetimeIndex([add_months(h_start, k) for k in range(0, max(months, 1), step_months)])
    if mo.step_dates:
        steps = pd.DatetimeIndex(sorted(set(mo.step_dates))).as_unit(steps.unit)
        steps = steps[steps >= h_start]
    steps = steps[steps < h_end]
    ladder = steps
    # existing commitments can be replaced on the day they expire (real reservations end on
    # their anniversaries, off the monthly steps), not only at the next ladder step; at the
    # day's start, so that purchase dates stay dates (plan JSON, DESIGN section 6)
    expiries = problem.inventory.items["end"].dt.floor("D")
    if len(ladder) and len(expiries):
        extra = pd.DatetimeIndex(sorted(e for e in set(expiries) if ladder[0] < e < h_end), tz="UTC")
        steps = ladder.union(extra.as_unit(ladder.unit))
    allowed = allowed_products(cat, problem.products)
    allowed = allowed[~allowed.index.isin(mo.excluded_products)]
    offers, rates = _offers(cat, allowed, peak, cons, mo.prune_options)
    opts = _renewals_between_steps(_options(offers, steps, h_end), problem.inventory.items, ladder)

    # ---- periods: spans with a constant set of commitments in force
    inv = problem.inventory.items
    cuts = {h_start, h_end, *steps, *[add_months(h_start, k) for k in range(months + 1)], *set(opts["end"])}
    cuts |= set(inv["start"].dt.floor("h")) | set(inv["end"].dt.floor("h"))
    cuts = sorted(c for c in cuts if h_start <= c <= h_end)
    periods = pd.DataFrame({"start": cuts[:-1], "end": cuts[1:]})
    periods["hours"] = ((periods["end"] - periods["start"]) / HOUR).astype(int)
    periods = periods[periods["hours"] > 0].reset_index(drop=True)
    periods["i0"] = index.get_indexer(periods["start"])
    periods["i1"] = periods["i0"] + periods["hours"]
    periods["quarter"] = quarter_ids(periods["start"], cons.fiscal_year_start_month)
    # the utilization floor's windows: the months from the horizon's start (periods never
    # straddle them, the month starts are cuts)
    month_starts = pd.DatetimeIndex([add_months(h_start, k) for k in range(months + 1)]).as_unit(periods["start"].dt.unit)
    periods["window"] = month_starts.searchsorted(pd.DatetimeIndex(periods["start"]), side="right") - 1
    floor_window = floor_windows(arrays.paths, int(periods["window"].max()) + 1)

    opts, rates, pruned = _bound_and_prune(opts, rates, arrays, periods, cons, mo.prune_options)
    s_o, e_o = opts["start"].to_numpy(), opts["end"].to_numpy()
    s_q, e_q = periods["start"].to_numpy(), periods["end"].to_numpy()
    o_idx, q_idx = np.nonzero((s_o[:, None] <= s_q[None, :]) & (e_q[None, :] <= e_o[:, None]))
    active = pd.DataFrame({"o": o_idx, "q": q_idx})

    # ---- inventory in force per period
    inv_res, inv_sp, inv_fee, inv_rate = _inventory_tables(inv, periods, families, h_start, h_end)
    inv_sp_products = tuple(sorted(set(inv_sp["product"]))) if len(inv_sp) else ()
    with_demand = peak.index[peak > 0]
    inv_rates = _CATALOG_TABLES.get((cat,), ("rates", inv_sp_products, tuple(with_demand)),
                                    lambda: _plan_rates(cat, inv_sp_products, with_demand))
    rates = pd.concat([rates, inv_rates]).drop_duplicates(
        ["product", "family"]).sort_values(["product", "family"]).reset_index(drop=True)

    # ---- savings-plan structure, cells, layers and hour types
    plan_products = frozenset(rates["product"])
    od = prices["od_usd_per_hour"]
    plans = _CATALOG_TABLES.get((cat,), ("plans", plan_products, tuple(with_demand), tuple(od[with_demand])),
                                lambda: plan_table(cat, plan_products, with_demand, od)).copy()
    plans["purchasable"] = plans.index.isin(opts.loc[opts["kind"] == SP, "product"])
    plans["floored"] = plans["purchasable"] & ~plans.index.isin(mo.unfloored_plans)
    comp = components(families, plans)
    plans["component"] = [int(comp[s[0]]) if s else -1 for s in plans["scope"]]
    res_families = set(opts.loc[opts["kind"] == RES, "family"]) | set(inv_res["family"])
    cells, layers, layer_use, types, resolution, notes = build_cells(arrays, periods, comp, plans, res_families,
                                                                     cons, mo)

    plan_use = _inventory_plan_use(problem, arrays, inv_sp, periods, set(opts.loc[opts["kind"] == SP, "product"]))
    allowance = _floor_allowance(inv_res, inv_sp, periods, floor_window, arrays, opts, cons, plan_use)
    upfront_q, expiring_q, ladder_rate = _inventory_ladder(inv, h_start, h_end, cons.fiscal_year_start_month)
    data = ModelData(families, h_start, h_end, periods, steps, arrays.paths, prices, opts, active, plans,
                     rates, comp, cells, layers, layer_use, types, inv_res, inv_sp,
                     _with_shortfall(allowance, cons.min_utilization, (), floor_window), floor_window,
                     arrays.baseline_usd,
                     inv_fee, inv_rate, upfront_q, expiring_q, ladder_rate, resolution, notes, pruned,
                     mo.gate_floors, ladder, cons.fiscal_year_start_month,
                     pd.Series({(j, w, q): v for (j, w), used in plan_use.items() for q, v in enumerate(used)},
                               dtype=float))
    return data, allowance


def _plan_rates(catalog: PriceCatalog, products: tuple, families: pd.Index) -> pd.DataFrame:
    com = catalog.commitments
    rows = com[com["product"].isin(products) & com["family"].isin(families)]
    return rows[["product", "family", "rate_usd_per_hour"]]


def _bound_and_prune(opts: pd.DataFrame, rates: pd.DataFrame, arrays: DemandArrays, periods: pd.DataFrame,
                     cons: Constraints, prune: bool):
    """Upper bound per option (never more than the peak demand can use) and, when the
    ladder-share limits are off (they can make a useless purchase worth buying as filler),
    drop options whose fee is at least the most their first unit could ever save."""
    peak = pd.Series(arrays.peak, index=arrays.families)
    res = (opts["kind"] == RES).to_numpy()
    ub = np.zeros(len(opts))
    ub[res] = np.ceil(peak.reindex(opts.loc[res, "family"]).to_numpy() - 1e-9)
    cap = (rates["rate_usd_per_hour"] * peak.reindex(rates["family"]).to_numpy()).groupby(rates["product"]).sum()
    ub[~res] = cap.reindex(opts.loc[~res, "product"]).fillna(0.0).to_numpy()
    opts = opts.assign(ub=ub)
    keep = ub > 0
    if prune and len(opts) and cons.max_expiring_share_per_quarter is None and cons.max_bought_share_per_step is None:
        first_unit = arrays.first_unit_saving_cumsum   # hours+1 x families, expected $ of one instance
        fam_pos = arrays.families.get_indexer(opts["family"].where(res, arrays.families[0]))
        i0 = arrays.hour_position(opts["start"])
        i1 = arrays.hour_position(opts["end"].clip(upper=arrays.horizon_end))
        bound = first_unit[i1, fam_pos] - first_unit[i0, fam_pos]
        keep &= ~(res & (opts["fee_usd"].to_numpy() >= bound))
    pruned = int((~keep).sum())
    opts = opts[keep].sort_values(["kind", "product", "family", "step"]).reset_index(drop=True)
    return opts, rates, pruned


def _inventory_tables(inv: pd.DataFrame, periods: pd.DataFrame, families, h_start, h_end):
    """Inventory instances (reservations) and $/h (savings plans) in force per period, and
    the amortized inventory fees inside the horizon."""
    empty_r = pd.DataFrame({"family": pd.Series(dtype=str), "q": pd.Series(dtype=int),
                            "instances": pd.Series(dtype=float)})
    empty_s = pd.DataFrame({"product": pd.Series(dtype=str), "q": pd.Series(dtype=int),
                            "usd_per_hour": pd.Series(dtype=float)})
    if inv.empty:
        return empty_r, empty_s, 0.0, np.zeros(len(periods))
    s_i, e_i = inv["start"].to_numpy(), inv["end"].to_numpy()
    s_q, e_q = periods["start"].to_numpy(), periods["end"].to_numpy()
    i_idx, q_idx = np.nonzero((s_i[:, None] <= s_q[None, :]) & (e_q[None, :] <= e_i[:, None]))
    act = inv.iloc[i_idx].assign(q=q_idx)
    res = act[(act["kind"] == RES) & act["family"].isin(families)]
    res = res.groupby(["family", "q"], as_index=False)["quantity"].sum().rename(columns={"quantity": "instances"})
    sp = act[act["kind"] == SP].groupby(["product", "q"], as_index=False)["quantity"].sum()
    sp = sp.rename(columns={"quantity": "usd_per_hour"})
    term_h = (inv["end"] - inv["start"]) / HOUR
    amort = inv["recurring_usd_per_hour"] + inv["upfront_usd"] / term_h
    inside = ((np.minimum(inv["end"], h_end) - np.maximum(inv["start"], h_start)) / HOUR).clip(lower=0)
    rate = np.zeros(len(periods))
    np.add.at(rate, q_idx, amort.to_numpy()[i_idx])
    res = res if len(res) else empty_r
    sp = sp if len(sp) else empty_s
    return res, sp, float((amort * inside).sum()), rate


def _inventory_ladder(inv: pd.DataFrame, h_start, h_end, fiscal_year_start_month: int):
    """Inventory's upfront paid per quarter the horizon touches (before its start too), its
    amortized $/h per expiry quarter, and the amortized $/h of all inventory in force at some
    hour of the horizon. Quarters: ids on the (fiscal) year, solver/quarters.py."""
    if inv.empty:
        return pd.Series(dtype=float), pd.Series(dtype=float), 0.0
    up = inventory_upfront_by_quarter(inv, h_start, h_end, fiscal_year_start_month)
    live = inv[(inv["end"] > h_start) & (inv["start"] < h_end)]
    amort = live["recurring_usd_per_hour"] + live["upfront_usd"] / ((live["end"] - live["start"]) / HOUR)
    expiring = amort.groupby(quarter_ids(live["end"], fiscal_year_start_month)).sum()
    return up, expiring, float(amort.sum())


def floor_windows(paths: pd.DataFrame, n_months: int) -> np.ndarray:
    """(path, month from the horizon's start) -> the window its utilization floor holds over:
    the month itself on a path held month by month (``monthly_floor``), else 0, the horizon."""
    monthly = paths["monthly_floor"].to_numpy(bool)[:, None]
    return np.where(monthly, np.arange(n_months)[None, :], 0)


def dispatch_rules(problem: PlanningProblem) -> DispatchRules:
    """The simulator's rules, with the spot cap spelled out per family (so the simulator and
    the model read the same caps whatever shorthand the scenario used)."""
    c = problem.constraints
    cap = None if c.spot_cap is None else dict(spot_cap_series(c, problem.forecast.families))
    return DispatchRules(spot_cap=cap, rework_overhead=c.spot_rework_overhead)


def _inventory_plan_use(problem: PlanningProblem, arrays: DemandArrays, inv_sp: pd.DataFrame, periods: pd.DataFrame,
                        floored: set) -> dict:
    """(plan product, floor path) -> $ used by the inventory's plans of that product in each
    period when nothing is bought, for every held product when some plan product is in
    ``floored`` (the billing simulator on the inventory alone, one run per period: billing is
    hour by hour, so the periods add up to any window). The allowance reads the floored ones
    per window; the floor rows of the other plans read what a held plan covering one family
    leaves idle, per period (model_cover._held_idle_usd)."""
    if problem.constraints.min_utilization is None or inv_sp.empty or not floored:
        return {}
    fc = problem.forecast
    rules = dispatch_rules(problem)
    out = {}
    spans = list(zip(periods["i0"].to_numpy(), periods["i1"].to_numpy()))
    for w in np.flatnonzero(arrays.paths["floor"].to_numpy()):
        path = fc.path(arrays.paths["name"].iat[w])
        for q, (i0, i1) in enumerate(spans):
            bc = simulate(problem.inventory, path.demand_instances.iloc[i0:i1],
                          path.interruptible_instances.iloc[i0:i1], problem.catalog, rules).by_commitment
            used = bc[bc["kind"].eq(SP)].groupby("product")["used_usd"].sum()
            for j, v in used.items():
                out.setdefault((j, int(w)), np.zeros(len(periods)))[q] = float(v)
    return out


def _floor_allowance(inv_res: pd.DataFrame, inv_sp: pd.DataFrame, periods: pd.DataFrame, floor_window: np.ndarray,
                     arrays: DemandArrays, opts: pd.DataFrame, cons: Constraints,
                     plan_use: dict | None = None) -> dict:
    """What existing commitments alone miss the utilization floor by, per (kind, key, floor
    path, window): the floor applies to what the plan adds, not to sunk inventory.
    Reservations: u x reserved hours - sum_t min(R_inv, d_t) [instance-hours]; savings
    plans: u x commitment $ of the inventory - the $ it uses on its own [$]."""
    u = cons.min_utilization
    out: dict = {}
    if u is None:
        return out
    res_f = set(opts.loc[opts["kind"] == RES, "family"])
    sp_p = set(opts.loc[opts["kind"] == SP, "product"])
    fpos = {f: i for i, f in enumerate(arrays.families)}
    hours = periods["hours"].to_numpy(float)
    for w in np.flatnonzero(arrays.paths["floor"].to_numpy()):
        d = arrays.demand[w]
        window = floor_window[w, periods["window"].to_numpy()]
        for f, grp in inv_res[inv_res["family"].isin(res_f)].groupby("family"):
            miss: dict = {}
            for q, r in zip(grp["q"], grp["instances"]):
                v = np.sort(d[periods["i0"][q]:periods["i1"][q], fpos[f]])
                used = float(sum_min(v, np.cumsum(v), np.array([r]))[0])
                miss[window[q]] = miss.get(window[q], 0.0) + u * r * hours[q] - used
            for g, m in miss.items():
                out[(RES, f, w, int(g))] = max(0.0, m)
        for j, grp in inv_sp[inv_sp["product"].isin(sp_p)].groupby("product"):
            # As for reservations: what the inventory's plans of the product miss the floor
            # by on their own (their $ used when nothing is bought, from the billing
            # simulator). Waiving their whole share instead credited their use to what the
            # plan buys: 4 $/h held of a plan made the plan buy 23 $/h of it, where it bought
            # 8.8 without, used 85% on P10. Where the model reads the inventory's use lower
            # than the simulator (through bounds), plan.py measures and adds the shortfall.
            q = grp["q"].to_numpy()
            dollars = pd.Series(grp["usd_per_hour"].to_numpy(float) * hours[q]).groupby(window[q]).sum()
            by_period = (plan_use or {}).get((j, w), np.zeros(len(periods)))
            used = np.bincount(window, weights=by_period, minlength=window.max() + 1)
            for g, m in dollars.items():
                out[(SP, j, w, int(g))] = max(0.0, u * float(m) - float(used[g]))
    return out


def _with_shortfall(allowance: dict, min_utilization: float | None, shortfall: tuple,
                    floor_window: np.ndarray) -> pd.Series:
    """The floor allowance plus ``shortfall``: what the inventory misses the floor by even
    when nothing is bought, as the model reads its use (measured by plan.py when a plan with
    inventory is infeasible). Without a utilization floor there is neither."""
    out = dict(allowance)
    if min_utilization is None:
        return pd.Series(out, dtype=float)
    for (kind, k, w, g), extra in shortfall:   # g: a month where measured monthly; summed where held over the horizon
        key = (kind, k, w, int(floor_window[w, g]))
        out[key] = out.get(key, 0.0) + float(extra)
    return pd.Series(out, dtype=float)
