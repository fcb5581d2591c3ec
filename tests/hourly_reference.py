"""An independent, exact HOURLY formulation of the planning problem, written directly
against highspy (no layers, no hour types, no code shared with solver/model*.py but the
scenario's product filter, `modeldata.allowed_products`).

One set of variables per forecast path, hour and family:
  a in [0, firm], b in [0, eligible]   covered firm / eligible instances
  r in [0, demand]                     covered by reservations,  r <= R_f(t)
  p_j in [0, demand]                   covered by savings plan j, sum_f rate_jf p_j <= C_j(t)
  a + b = r + sum_j p_j
cost = fees of the purchases inside the horizon + sum_w weight_w sum_t (OD (firm - a) + S (eligible - b)).
Utilization floors, in each month from the horizon's start on the expected path and over
the horizon on the conservative one: reservations per family sum_t z_t >= u sum_t R_f(t) with z_t <= R_f(t), z_t <=
demand; savings plans per product sum_t sum_f rate p_j >= u sum_t C_j(t), with per-hour binaries that make reservations and
earlier plans cover all they can (the billing order). Committed $/h budget per hour.
Purchases: every allowed product at every monthly ladder step, reservations integer and at
most the family's peak demand. Used by the tests (same optimum as the model) and by
bench/model_speed.py (time ratio).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.modeldata import allowed_products
from gpuladder.units import HOUR, add_months


@dataclass(frozen=True)
class HourlyResult:
    objective_usd: float
    purchases: pd.DataFrame    # product, family, step, quantity
    seconds: float
    n_variables: int
    status: str


class _Cols:
    def __init__(self):
        self.lb, self.ub, self.cost, self.integer = [], [], [], []
        self.n = 0

    def add(self, n, lb=0.0, ub=np.inf, cost=0.0, integer=False):
        self.lb.append(np.broadcast_to(np.asarray(lb, float), (n,)))
        self.ub.append(np.broadcast_to(np.asarray(ub, float), (n,)))
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (n,)))
        self.integer.append(np.full(n, bool(integer)))
        out = np.arange(self.n, self.n + n)
        self.n += n
        return out


class _Rows:
    def __init__(self):
        self.r, self.c, self.v, self.lo, self.hi = [], [], [], [], []
        self.n = 0

    def add(self, n, rows, cols, vals, lo, hi):
        self.r.append(np.asarray(rows, np.int64) + self.n)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.broadcast_to(np.asarray(vals, float), np.shape(rows)).astype(float))
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (n,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (n,)))
        self.n += n


def solve_hourly(problem, *, mip_gap: float = 1e-9, time_limit_s: float = 600.0) -> HourlyResult:
    import highspy

    t0 = time.perf_counter()
    fc, cat, cons = problem.forecast, problem.catalog, problem.constraints
    index = fc.index
    h_start, h_end = index[0], index[-1] + HOUR
    fams = sorted(fc.families)
    F, H = len(fams), len(index)
    fam = cat.families.loc[fams]
    od = fam["on_demand_usd_per_hour"].to_numpy(float)
    over = cons.spot_rework_overhead
    over_f = (fam["interruption_bucket"].map(dict(over)).fillna(0.0).to_numpy(float)
              if isinstance(over, Mapping) else np.full(F, float(over)))
    spot = fam["spot_usd_per_hour"].to_numpy(float) * (1 + over_f)
    usable = np.isfinite(spot) & (spot < od)
    spot = np.where(usable, spot, od)
    caps = np.array([1.0 if cons.spot_cap_share(f) is None else float(cons.spot_cap_share(f)) for f in fams])
    weights = np.array([p.weight for p in fc.paths], float)
    weights = weights / weights.sum()
    floor_paths = [w for w, p in enumerate(fc.paths) if p.name in {fc.expected, fc.conservative}]
    D = [p.demand_instances[fams].to_numpy(float) for p in fc.paths]
    E = [np.where(usable, np.minimum(np.minimum(p.interruptible_instances[fams].to_numpy(float), d), caps * d), 0.0)
         for p, d in zip(fc.paths, D)]
    peak = np.max([d.max(axis=0) for d in D], axis=0)

    # ---- purchase options
    prods = cat.products()
    prods = prods[prods.index.isin(allowed_products(cat, problem.products).index)]  # the scenario's filter
    com = cat.commitments[cat.commitments["product"].isin(prods.index) & cat.commitments["family"].isin(fams)]
    months = 0
    while add_months(h_start, months + 1) <= h_end:
        months += 1
    steps = [add_months(h_start, k) for k in range(0, max(months, 1), max(1, cons.ladder_step_months))]
    steps = [s for s in steps if s < h_end]
    fpos = {f: i for i, f in enumerate(fams)}
    opts = []
    for (product, f), rate in com[com["kind"] == "reservation"].set_index(["product", "family"])[
            "rate_usd_per_hour"].items():
        if peak[fpos[f]] > 0:
            opts += [(product, f, s, "reservation", rate) for s in range(len(steps))]
    plan_rates = {}
    for product, grp in com[com["kind"] == "savings_plan"].groupby("product"):
        g = grp[grp["family"].map(lambda f: peak[fpos[f]] > 0)]
        if len(g):
            plan_rates[product] = dict(zip(g["family"], g["rate_usd_per_hour"]))
            opts += [(product, "", s, "savings_plan", 1.0) for s in range(len(steps))]
    cols = _Cols()
    rows = _Rows()
    n_o = len(opts)
    act = np.zeros((n_o, H), bool)
    fee = np.zeros(n_o)
    ub = np.zeros(n_o)
    for i, (product, f, s, kind, rate) in enumerate(opts):
        start, end = steps[s], add_months(steps[s], int(prods.loc[product, "term_months"]))
        act[i] = (index >= start) & (index < end)
        fee[i] = rate * act[i].sum()
        ub[i] = np.ceil(peak[fpos[f]] - 1e-9) if kind == "reservation" else \
            sum(r * peak[fpos[g]] for g, r in plan_rates[product].items())
    x = cols.add(n_o, 0.0, ub, fee, False)
    # the floors' windows: each month from the horizon's start, or the whole horizon
    month_starts = pd.DatetimeIndex([add_months(h_start, k) for k in range(months + 1)])
    windows = {}
    for monthly in (True, False):
        month_of = month_starts.searchsorted(index, side="right") - 1 if monthly else np.zeros(H, int)
        M = int(month_of.max()) + 1
        windows[monthly] = (M, month_of, np.array([np.bincount(month_of[a], minlength=M) for a in act])
                            .reshape(n_o, M).astype(float))
    is_res = np.array([o[3] == "reservation" for o in opts], bool)
    res_of = {f: [i for i, o in enumerate(opts) if o[3] == "reservation" and o[1] == f] for f in fams}
    plan_of = {j: [i for i, o in enumerate(opts) if o[0] == j] for j in plan_rates}
    n_cat = cat.commitments.groupby("product")["family"].nunique()
    order = sorted(plan_rates, key=lambda j: (int(n_cat[j]), j))
    u = cons.min_utilization
    const = 0.0
    for w, (d, e) in enumerate(zip(D, E)):
        n = d - e
        const += weights[w] * float((n * od).sum() + (e * spot).sum())
        hf = np.arange(H * F).reshape(H, F)
        a = cols.add(H * F, 0.0, n.ravel(), -(weights[w] * np.tile(od, H)))
        b = cols.add(H * F, 0.0, e.ravel(), -(weights[w] * np.tile(spot, H)))
        r = cols.add(H * F, 0.0, d.ravel())
        p = {j: cols.add(H * F, 0.0, np.where(np.isin(np.arange(F), [fpos[g] for g in plan_rates[j]])[None, :],
                                                d, 0.0).ravel()) for j in plan_rates}
        # balance
        bal = [(a, 1.0), (b, 1.0), (r, -1.0)] + [(pj, -1.0) for pj in p.values()]
        rows.add(H * F, np.concatenate([hf.ravel()] * len(bal)), np.concatenate([c for c, _ in bal]),
                 np.concatenate([np.full(H * F, v) for _, v in bal]), 0.0, 0.0)
        # reservation capacity r[t,f] - sum_{o of f active at t} x_o <= 0
        _capacity_rows(rows, r, x, res_of, fams, act, H, F)
        # plan capacity sum_f rate p - sum x <= 0
        for j, pj in p.items():
            rr, cc, vv = [], [], []
            for g, rate in plan_rates[j].items():
                rr.append(np.arange(H))
                cc.append(pj.reshape(H, F)[:, fpos[g]])
                vv.append(np.full(H, rate))
            for i in plan_of[j]:
                t_act = np.flatnonzero(act[i])
                rr.append(t_act)
                cc.append(np.full(len(t_act), x[i]))
                vv.append(-np.ones(len(t_act)))
            rows.add(H, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -np.inf, 0.0)
        if u is None or w not in floor_paths:
            continue
        # on the expected path in each month, on the conservative one over the horizon
        M, month_of, act_month = windows[fc.paths[w].name == fc.expected]
        # reservation floor per family and window
        for f in fams:
            if not res_of[f]:
                continue
            k = fpos[f]
            z = cols.add(H, 0.0, d[:, k])
            rr = [np.arange(H)] + [np.flatnonzero(act[i]) for i in res_of[f]]
            cc = [z] + [np.full(act[i].sum(), x[i]) for i in res_of[f]]
            vv = [np.ones(H)] + [-np.ones(act[i].sum()) for i in res_of[f]]
            rows.add(H, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -np.inf, 0.0)
            rows.add(M, np.concatenate([month_of] + [np.arange(M)] * len(res_of[f])),
                     np.concatenate([z] + [np.full(M, x[i]) for i in res_of[f]]),
                     np.concatenate([np.ones(H)] + [-u * act_month[i] for i in res_of[f]]), 0.0, np.inf)
        # plan floors per product and month, with the billing order
        floored = [j for j in plan_rates if plan_of[j]]
        for j in floored:
            rr = [np.concatenate([month_of] * len(plan_rates[j]))]
            cc = [np.concatenate([p[j].reshape(H, F)[:, fpos[g]] for g in plan_rates[j]])]
            vv = [np.concatenate([np.full(H, rate) for rate in plan_rates[j].values()])]
            rows.add(M, np.concatenate(rr + [np.arange(M)] * len(plan_of[j])),
                     np.concatenate(cc + [np.full(M, x[i]) for i in plan_of[j]]),
                     np.concatenate(vv + [-u * act_month[i] for i in plan_of[j]]), 0.0, np.inf)
        if floored:
            _order_rows(cols, rows, r, p, x, d, res_of, plan_of, plan_rates, order, fams, fpos, act, ub, H, F)
    if cons.max_committed_usd_per_hour is not None:
        unit = np.array([o[4] for o in opts])
        rr = np.concatenate([np.flatnonzero(act[i]) for i in range(n_o)]) if n_o else np.zeros(0, int)
        cc = np.concatenate([np.full(act[i].sum(), x[i]) for i in range(n_o)]) if n_o else np.zeros(0, int)
        vv = np.concatenate([np.full(act[i].sum(), unit[i]) for i in range(n_o)]) if n_o else np.zeros(0)
        rows.add(H, rr, cc, vv, -np.inf, float(cons.max_committed_usd_per_hour))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", mip_gap)
    h.setOptionValue("time_limit", time_limit_s)
    inf = highspy.kHighsInf
    lb, ubc = np.concatenate(cols.lb), np.concatenate(cols.ub)
    h.addCols(cols.n, np.concatenate(cols.cost), lb, np.where(np.isinf(ubc), inf, ubc), 0,
              np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    rr, cc, vv = np.concatenate(rows.r), np.concatenate(rows.c), np.concatenate(rows.v)
    order_ = np.lexsort((cc, rr))
    rr, cc, vv = rr[order_], cc[order_], vv[order_]
    start = np.searchsorted(rr, np.arange(rows.n))
    lo, hi = np.concatenate(rows.lo), np.concatenate(rows.hi)
    h.addRows(rows.n, np.where(np.isinf(lo), -inf, lo), np.where(np.isinf(hi), inf, hi), len(vv),
              start.astype(np.int32), cc.astype(np.int32), vv)
    integ = np.flatnonzero(np.concatenate(cols.integer) | np.isin(np.arange(cols.n), x[is_res]))
    if len(integ):
        h.changeColsIntegrality(len(integ), integ.astype(np.int32),
                                np.full(len(integ), highspy.HighsVarType.kInteger.value, np.uint8))
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sol = np.asarray(h.getSolution().col_value)
    obj = float(h.getInfo().objective_function_value) + const
    buys = pd.DataFrame({"product": [o[0] for o in opts], "family": [o[1] for o in opts],
                         "step": [o[2] for o in opts], "quantity": sol[x] if n_o else np.zeros(0)})
    return HourlyResult(obj, buys[buys["quantity"] > 1e-9].reset_index(drop=True), time.perf_counter() - t0,
                        cols.n, status)


def _capacity_rows(rows, r, x, res_of, fams, act, H, F):
    rr, cc, vv = [np.arange(H * F)], [r], [np.ones(H * F)]
    for k, f in enumerate(fams):
        for i in res_of[f]:
            t_act = np.flatnonzero(act[i])
            rr.append(t_act * F + k)
            cc.append(np.full(len(t_act), x[i]))
            vv.append(-np.ones(len(t_act)))
    rows.add(H * F, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -np.inf, 0.0)


def _order_rows(cols, rows, r, p, x, d, res_of, plan_of, plan_rates, order, fams, fpos, act, ub, H, F):
    """Per hour: reservations cover min(R, demand); each plan followed by a floored plan
    covers min(C, what is left in its scope)."""
    covered = {g for j in plan_rates if plan_of[j] for g in plan_rates[j]}
    for f in fams:
        if not res_of[f] or f not in covered:
            continue
        k = fpos[f]
        big = sum(ub[i] for i in res_of[f])
        beta = cols.add(H, 0.0, 1.0, 0.0, True)
        rk = r.reshape(H, F)[:, k]
        rows.add(H, np.concatenate([np.arange(H)] * 2), np.concatenate([rk, beta]),
                 np.concatenate([np.ones(H), d[:, k]]), d[:, k], np.inf)
        rr = [np.arange(H), np.arange(H)] + [np.flatnonzero(act[i]) for i in res_of[f]]
        cc = [rk, beta] + [np.full(act[i].sum(), x[i]) for i in res_of[f]]
        vv = [np.ones(H), np.full(H, -big)] + [-np.ones(act[i].sum()) for i in res_of[f]]
        rows.add(H, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -big, np.inf)
    for pos, j in enumerate(order):
        later = [k for k in order[pos + 1:] if plan_of[k] and set(plan_rates[k]) & set(plan_rates[j])]
        if not later:
            continue
        big = sum(ub[i] for i in plan_of[j])
        gamma = cols.add(H, 0.0, 1.0, 0.0, True)
        rr = [np.arange(H)] * (len(plan_rates[j]) + 1) + [np.flatnonzero(act[i]) for i in plan_of[j]]
        cc = [p[j].reshape(H, F)[:, fpos[g]] for g in plan_rates[j]] + [gamma] + \
             [np.full(act[i].sum(), x[i]) for i in plan_of[j]]
        vv = [np.full(H, rate) for rate in plan_rates[j].values()] + [np.full(H, -big)] + \
             [-np.ones(act[i].sum()) for i in plan_of[j]]
        rows.add(H, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -big, np.inf)
        need = sum(rate * d[:, fpos[g]] for g, rate in plan_rates[j].items())
        rr, cc, vv = [np.arange(H)], [gamma], [need]
        for g, rate in plan_rates[j].items():
            k = fpos[g]
            if res_of[g]:
                rr.append(np.arange(H))
                cc.append(r.reshape(H, F)[:, k])
                vv.append(np.full(H, rate))
            for i in order[:pos + 1]:
                if g in plan_rates[i]:
                    rr.append(np.arange(H))
                    cc.append(p[i].reshape(H, F)[:, k])
                    vv.append(np.full(H, rate))
        rows.add(H, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), need, np.inf)
