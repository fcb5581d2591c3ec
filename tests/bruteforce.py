"""Brute-force oracle for small planning instances (no code shared with solver/model*.py).

Every integer combination of reservation purchases (each reservation product x family x
monthly ladder step, 0..peak demand instances) is enumerated. For each combination the
savings-plan $/h (at most one savings-plan product, bought at any step) is chosen by an
exact LP written here over the period's distinct hours: with the reservations fixed,
what a single plan covers in an hour is a fractional knapsack of the pieces left over
(firm at on-demand, eligible at effective spot, each consuming its rate), so the LP is
exact. Reservation floors are checked in closed form, the plan floor is a row of the LP.
The cheapest feasible combination is then bought and evaluated by the billing simulator
(which must agree with the LP's price); its simulated cost is the oracle's optimum.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.book import make_purchases
from gpuladder.solver.modeldata import dispatch_rules
from gpuladder.solver.simulate import simulate
from gpuladder.units import HOUR, add_months

QUANTUM = 0.001


@dataclass(frozen=True)
class OracleResult:
    cost_usd: float          # simulated, weighted over the paths
    lp_cost_usd: float       # the oracle's own price of the same purchases
    purchases: pd.DataFrame
    n_combinations: int


def _setup(problem):
    fc, cat, cons = problem.forecast, problem.catalog, problem.constraints
    fams = sorted(fc.families)
    fam = cat.families.loc[fams]
    od = fam["on_demand_usd_per_hour"].to_numpy(float)
    over = cons.spot_rework_overhead
    over_f = (fam["interruption_bucket"].map(dict(over)).fillna(0.0).to_numpy(float)
              if isinstance(over, Mapping) else np.full(len(fams), float(over)))
    spot = fam["spot_usd_per_hour"].to_numpy(float) * (1 + over_f)
    usable = np.isfinite(spot) & (spot < od)
    spot = np.where(usable, spot, od)
    caps = np.array([1.0 if cons.spot_cap_share(f) is None else float(cons.spot_cap_share(f)) for f in fams])
    weights = np.array([p.weight for p in fc.paths], float)
    weights /= weights.sum()
    floor = np.array([p.name in {fc.expected, fc.conservative} for p in fc.paths])
    monthly = np.array([p.name == fc.expected for p in fc.paths])   # floor in each month, else over the horizon
    D = [p.demand_instances[fams].to_numpy(float) for p in fc.paths]
    E = [np.where(usable, np.minimum(np.minimum(p.interruptible_instances[fams].to_numpy(float), d), caps * d), 0.0)
         for p, d in zip(fc.paths, D)]
    return fams, od, spot, weights, floor, monthly, D, E


def brute_force(problem) -> OracleResult:
    fc, cat, cons = problem.forecast, problem.catalog, problem.constraints
    fams, od, spot, weights, floor, monthly, D, E = _setup(problem)
    index = fc.index
    prods = cat.products()
    com = cat.commitments
    seg = _Segments.of(index, cons.ladder_step_months, set(prods.loc[list(set(com["product"])), "term_months"]))
    n_seg, steps, hours_m, seg_of = seg.n, seg.steps, seg.hours, seg.of_hour
    peak = np.max([d.max(axis=0) for d in D], axis=0)
    res = [(r.product, r.family, s, r.rate_usd_per_hour) for r in com[com["kind"] == "reservation"].itertuples()
           if peak[fams.index(r.family)] > 0 for s in steps]
    plan_products = sorted(set(com.loc[com["kind"] == "savings_plan", "product"]))
    assert len(plan_products) <= 1, "the oracle handles one savings-plan product"

    def active(product, s):
        return seg.active(s, int(prods.loc[product, "term_months"]))

    res_act = np.array([active(p, s) for p, _, s, _ in res]).reshape(len(res), n_seg)
    res_fam = np.array([fams.index(f) for _, f, _, _ in res], int)
    res_fee = np.array([rate * hours_m[res_act[i]].sum() for i, (_, _, _, rate) in enumerate(res)])
    ubs = [int(np.ceil(peak[k] - 1e-9)) for k in res_fam]
    combos = np.array(list(itertools.product(*[range(u + 1) for u in ubs])), float).reshape(-1, len(res))
    K = len(combos)
    R = np.zeros((K, n_seg, len(fams)))
    for i in range(len(res)):
        R[:, res_act[i], res_fam[i]] += combos[:, [i]]

    types = []   # (w, segment, hours, firm[F], elig[F])
    for w, (d, e) in enumerate(zip(D, E)):
        for m in range(n_seg):
            sel = seg_of == m
            block = np.hstack([d[sel] - e[sel], e[sel]])
            block = block[block.any(axis=1)]
            if len(block) == 0:
                continue
            uniq, cnt = np.unique(block, axis=0, return_counts=True)
            for row, c in zip(uniq, cnt):
                types.append((w, m, float(c), row[:len(fams)], row[len(fams):]))
    # reservations dispatched firm first, per combination and type
    cost = combos @ res_fee
    used = np.zeros((K, len(weights), n_seg, len(fams)))
    left = []
    for w, m, h, n, e in types:
        rf = np.minimum(R[:, m, :], n)
        re = np.minimum(R[:, m, :] - rf, e)
        nl, el = n - rf, e - re
        cost += weights[w] * h * (nl @ od + el @ spot)
        used[:, w, m, :] += h * (rf + re)
        left.append((nl, el))
    feasible = np.ones(K, bool)
    u = cons.min_utilization
    if u is not None:   # per family: in each month on the expected path, over the horizon on the other
        cap_h = R * hours_m[None, :, None]
        has_res = np.isin(np.arange(len(fams)), res_fam)
        for w in np.flatnonzero(floor):
            windows = seg.windows(monthly[w])
            use_w = np.stack([used[:, w][:, win].sum(axis=1) for win in windows], axis=1)
            cap_w = np.stack([cap_h[:, win].sum(axis=1) for win in windows], axis=1)
            feasible &= ((use_w >= u * cap_w - 1e-7) | ~has_res[None, None, :]).all(axis=(1, 2))
    plan_c = np.zeros((K, len(steps)))
    if plan_products:
        j = plan_products[0]
        rates = com[com["product"] == j].set_index("family")["rate_usd_per_hour"].reindex(fams).to_numpy(float)
        plan_cost, plan_c = _plan_lp(j, rates, active, steps, seg, types, left, weights, floor, monthly,
                                     od, spot, u, peak, feasible)
        cost = cost + plan_cost
    cost = np.where(feasible, cost, np.inf)
    best = int(np.argmin(cost))
    buys = [{"product": p, "family": f, "quantity": combos[best, i], "start": seg.step_start(s)}
            for i, (p, f, s, _) in enumerate(res) if combos[best, i] > 0]
    for si, s in enumerate(steps):
        qty = np.floor(plan_c[best, si] / QUANTUM + 1e-6) * QUANTUM
        if qty > 1e-9:
            buys.append({"product": plan_products[0], "family": "", "quantity": qty, "start": seg.step_start(s)})
    purchases = pd.DataFrame(buys, columns=["product", "family", "quantity", "start"])
    sim_cost = simulated_cost(problem, purchases)
    return OracleResult(sim_cost, float(cost[best]), purchases, K)


@dataclass(frozen=True)
class _Segments:
    """The horizon cut at every month boundary (from its first hour) and at every instant a
    commitment bought at a ladder step ends, so that each segment lies in one month and
    every purchase is either active over all of it or not at all. A purchase lasts its
    term in calendar months from its own date (2026-01-31 + 1 month + 1 month ends on
    2026-03-28, not 03-31); a horizon that is not a whole number of months ends with a
    short window of its own."""

    start: pd.Timestamp
    bounds: pd.DatetimeIndex     # segment starts, then the horizon's end
    window: np.ndarray           # month (window) of each segment
    of_hour: np.ndarray          # segment of each hour of the horizon
    steps: list                  # ladder steps, in months from the start

    @classmethod
    def of(cls, index: pd.DatetimeIndex, step_months: int, terms_months) -> "_Segments":
        start, end = index[0], index[-1] + HOUR
        months = 0
        while add_months(start, months + 1) <= end:
            months += 1
        steps = list(range(0, max(months, 1), max(1, step_months)))
        month_starts = [add_months(start, k) for k in range(months + 1)]
        ends = [add_months(add_months(start, s), int(t)) for s in steps for t in terms_months]
        bounds = pd.DatetimeIndex(sorted({start, end, *[c for c in month_starts + ends if start < c < end]}))
        window = np.searchsorted(pd.DatetimeIndex(month_starts), bounds[:-1], side="right") - 1
        return cls(start, bounds, window, np.searchsorted(bounds, index, side="right") - 1, steps)

    @property
    def n(self) -> int:
        return len(self.bounds) - 1

    @property
    def hours(self) -> np.ndarray:
        return ((self.bounds[1:] - self.bounds[:-1]) / HOUR).to_numpy(float)

    def step_start(self, step: int) -> pd.Timestamp:
        return add_months(self.start, step)

    def active(self, step: int, term_months: int) -> np.ndarray:
        bought = self.step_start(step)
        return (self.bounds[:-1] >= bought) & (self.bounds[:-1] < add_months(bought, term_months))

    def windows(self, monthly: bool) -> list[np.ndarray]:
        """Masks over segments: one per month, or one for the whole horizon."""
        if not monthly:
            return [np.ones(self.n, bool)]
        return [self.window == w for w in np.unique(self.window)]


def simulated_cost(problem, purchases: pd.DataFrame) -> float:
    book = problem.inventory.concat(make_purchases(problem.catalog, purchases)) if len(purchases) else problem.inventory
    rules = dispatch_rules(problem)
    total = 0.0
    weights = np.array([p.weight for p in problem.forecast.paths], float)
    weights /= weights.sum()
    for w, p in zip(weights, problem.forecast.paths):
        total += w * simulate(book, p.demand_instances, p.interruptible_instances, problem.catalog, rules).kpis.cost_usd
    return total


def floors_hold(problem, book, tol: float = 1e-9) -> bool:
    """The utilization floors as the billing simulator measures them, in each month from the
    horizon's start on the expected path (each month simulated on its own hours) and over
    the horizon on the conservative path: per family, reserved
    instance-hours used / reserved instance-hours; per savings-plan product bought by the
    plan, $ used / $ committed; on the expected and conservative paths. Plans are bought
    in $0.001/h steps, so a binding plan floor holds up to one quantum per hour of each
    commitment."""
    u = problem.constraints.min_utilization
    if u is None:
        return True
    fc = problem.forecast
    rules = dispatch_rules(problem)
    bought = book.items[book.items["origin"] == "purchase"]
    index = fc.index
    start, end = index[0], index[-1] + HOUR
    bounds, m = [start], 1
    while add_months(start, m) < end:
        bounds.append(add_months(start, m))
        m += 1
    bounds.append(end)
    windows = [(index >= a) & (index < b) for a, b in zip(bounds[:-1], bounds[1:])]
    for p in fc.paths:
        if p.name not in {fc.expected, fc.conservative}:
            continue
        for sel in (windows if p.name == fc.expected else [np.ones(len(index), bool)]):
            sim = simulate(book, p.demand_instances[sel], p.interruptible_instances[sel], problem.catalog, rules)
            if not _floors_hold_in(sim, bought, u, tol):
                return False
    return True


def _floors_hold_in(sim, bought: pd.DataFrame, u: float, tol: float) -> bool:
    cap = sim.hourly.reserved_capacity_instances.sum(axis=0)
    use = sim.hourly.reserved_instances.sum(axis=0)
    for f in set(bought.loc[bought["kind"] == "reservation", "family"]):
        if f in cap.index and use[f] < u * cap[f] - tol * max(1.0, cap[f]):
            return False
    bc = sim.by_commitment
    for j in set(bought.loc[bought["kind"] == "savings_plan", "product"]):
        rows = bc[bc["product"] == j]
        fee = rows["amortized_fee_usd"].sum()
        if rows["used_usd"].sum() < u * fee - QUANTUM * rows["hours_in_horizon"].sum() - tol * max(1.0, fee):
            return False
    return True


def _plan_lp(j, rates, active, steps, seg, types, left, weights, floor, monthly, od, spot, u, peak, feasible):
    """One LP with a block per combination: C_s (plan $/h bought at step s) and the cover
    z of each leftover piece of each type. Returns (plan part of the cost, C) per combination."""
    import highspy

    K = len(left[0][0]) if left else 0
    act = np.array([active(j, s) for s in steps])                       # steps x segments
    hours_m = seg.hours
    fee = act @ hours_m                                                  # $ per $/h bought at s
    F = len(rates)
    covered = np.isfinite(rates)
    r = np.where(covered, rates, 0.0)
    n_t = len(types)
    # per block: C (S), z firm (T x F), z elig (T x F)
    S = len(steps)
    nb = S + 2 * n_t * F
    cost_b = np.concatenate([fee] + [np.concatenate([-weights[w] * h * od, -weights[w] * h * spot])
                                     for w, m, h, _, _ in types])
    # reorder z so that type t has [firm F, elig F]
    ub = np.zeros((K, nb))
    ub[:, :S] = np.nansum(r * peak)
    for t, (nl, el) in enumerate(left):
        ub[:, S + 2 * F * t:S + 2 * F * t + F] = np.where(covered, nl, 0.0)
        ub[:, S + 2 * F * t + F:S + 2 * F * (t + 1)] = np.where(covered, el, 0.0)
    rows_r, rows_c, rows_v, lo, hi = [], [], [], [], []
    for t, (w, m, h, _, _) in enumerate(types):       # capacity: sum rate z - sum_s act C <= 0
        base = S + 2 * F * t
        cols = np.concatenate([base + np.arange(2 * F), np.arange(S)])
        vals = np.concatenate([np.tile(r, 2), -act[:, m].astype(float)])
        rows_r.append(np.full(len(cols), t))
        rows_c.append(cols)
        rows_v.append(vals)
        lo.append(-np.inf)
        hi.append(0.0)
    n_rows = n_t
    if u is not None:
        for w in np.flatnonzero(floor):               # floor per window: sum h rate z - u sum_s fee C >= 0
            for win in seg.windows(monthly[w]):
                cols, vals = [np.arange(S)], [-u * act[:, win] @ hours_m[win]]
                for t, (tw, m, h, _, _) in enumerate(types):
                    if tw == w and win[m]:
                        cols.append(S + 2 * F * t + np.arange(2 * F))
                        vals.append(h * np.tile(r, 2))
                cols, vals = np.concatenate(cols), np.concatenate(vals)
                rows_r.append(np.full(len(cols), n_rows))
                rows_c.append(cols)
                rows_v.append(vals)
                lo.append(0.0)
                hi.append(np.inf)
                n_rows += 1
    rr, cc, vv = np.concatenate(rows_r), np.concatenate(rows_c), np.concatenate(rows_v)
    ub = np.where(feasible[:, None], ub, 0.0)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    h.addCols(K * nb, np.tile(cost_b, K), np.zeros(K * nb), ub.ravel(), 0,
              np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    R = (rr[None, :] + n_rows * np.arange(K)[:, None]).ravel()
    C = (cc[None, :] + nb * np.arange(K)[:, None]).ravel()
    V = np.tile(vv, K)
    order = np.lexsort((C, R))
    R, C, V = R[order], C[order], V[order]
    starts = np.searchsorted(R, np.arange(K * n_rows)).astype(np.int32)
    lo_a, hi_a = np.tile(np.array(lo), K), np.tile(np.array(hi), K)
    h.addRows(K * n_rows, np.where(np.isinf(lo_a), -inf, lo_a), np.where(np.isinf(hi_a), inf, hi_a), len(V),
              starts, C.astype(np.int32), V)
    h.run()
    x = np.asarray(h.getSolution().col_value).reshape(K, nb)
    return (x * cost_b[None, :]).sum(axis=1), x[:, :S]
