"""Constraint groups of the demand side: cover, capacity, dispatch order, utilization floors.

Notation (docs/model.md): R[f,q] reserved instances of family f in force in period q
(purchases x_o + inventory), C[j,q] $/h of savings plan j in force, rate[j,f] the $ of
commitment one instance-hour of f consumes, weight_w the weight of forecast path w.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.model_terms import (PURCHASES, Entries, has_capacity, plan_bound, plan_entries, reserved_bound,
                                          reserved_entries)
from gpuladder.solver.modeldata import LAYERS, RES, SP, SPLIT, TYPES

COVER, SPLIT_VARS = "cover", "plan_split"
T_FIRM, T_ELIG, T_RES, T_PLAN = "type_firm", "type_eligible", "type_reserved", "type_plan"
T_RES_FILL = "type_reserved_fill"
FLOOR_WAIVER = "floor_waiver"
FLOOR_GATE = "floor_gate"
FLOOR_ROWS = "floor_rows"   # BuiltModel.tables key: the floor rows' FloorRows


@dataclass(frozen=True)
class FloorRows:
    """The floor rows of a built model: their rows in the LP, their lower bound without the
    floor allowance (``base``: the rows' constant terms, less the gates' big-M) and their
    keys (kind, key, path, window); the bound is ``base - allowance``."""
    rows: np.ndarray
    base: np.ndarray
    keys: tuple
ORDER_RES, ORDER_PLAN = "order_reserved", "order_plan"


def _covering_plans(b, table: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` (with family, q) x the plans covering the family that can be in force in q."""
    m = table.merge(b.d.plan_rates, on="family")
    return m[has_capacity(b.t, m, SP)] if len(m) else m


def add_layer_cover(b) -> None:
    """y[f,q,k] in [0, width_k]: instances of layer k of family f covered by commitments in
    period q, the forecast paths of cells in layers or split mode merged (solver/layers.py).
    Cost: -saving_k [expected $ per instance of width]. Layers of periods where no
    commitment can be in force are left out."""
    d = b.d
    L = d.layers
    if L.empty:
        return
    comp = d.component.reindex(L["family"]).to_numpy()
    cells = d.cells[d.cells["mode"] != TYPES].drop_duplicates(["component", "q"]).set_index(["component", "q"])
    L = L.assign(component=comp,
                 mode=cells["mode"].reindex(pd.MultiIndex.from_arrays([comp, L["q"]])).to_numpy())
    fq = L[["family", "q"]].drop_duplicates()
    ok = fq[has_capacity(b.t, fq, RES)]
    plan_fq = _covering_plans(b, fq)[["family", "q"]].drop_duplicates()
    ok = pd.concat([ok, plan_fq]).drop_duplicates()
    L = L.merge(ok, on=["family", "q"]).sort_values(["family", "q", "k"]).reset_index(drop=True)
    if L.empty:
        return
    cols = b.lp.add_vars(COVER, pd.MultiIndex.from_frame(L[["family", "q", "k"]]),
                         ub=L["width"].to_numpy(), cost=-L["saving_usd"].to_numpy())
    b.tables[COVER] = L.assign(col=cols)


def add_hour_type_cover(b) -> None:
    """Cells in types mode, for every hour type t (hours h_t, firm n, eligible e per family):
        a[f,t] in [0, n], b[f,t] in [0, e]      covered firm / eligible instances
        r[f,t] in [0, n + e]                     covered by reservations
        p[j,f,t] in [0, n + e]                   covered by savings plan j
        a + b - r - sum_j p = 0                  (type_balance)
    Cost: -weight_w h_t (OD_f a + S_f b). Exact: the dispatch of each hour type is optimized,
    and where the plans' greedy order is a least-cost dispatch (solver/coupling.py) this is
    what the billing rules charge."""
    d, lp = b.d, b.lp
    T = d.types
    if T.empty:
        return
    T = T[(T["firm"] + T["eligible"]) > 0].reset_index(drop=True)
    T = T.assign(demand=T["firm"] + T["eligible"], weight=d.paths["weight"].to_numpy()[T["w"].to_numpy()])
    od = d.prices["od_usd_per_hour"].reindex(T["family"]).to_numpy()
    spot = d.prices["spot_usd_per_hour"].reindex(T["family"]).to_numpy()
    key = ["component", "q", "w", "t", "family"]
    col_a = np.full(len(T), -1)
    col_b = np.full(len(T), -1)
    col_r = np.full(len(T), -1)
    firm, elig = T["firm"].to_numpy() > 0, T["eligible"].to_numpy() > 0
    w_h = T["weight"].to_numpy() * T["hours"].to_numpy()
    col_a[firm] = lp.add_vars(T_FIRM, pd.MultiIndex.from_frame(T.loc[firm, key]), ub=T["firm"].to_numpy()[firm],
                              cost=-(w_h * od)[firm])
    col_b[elig] = lp.add_vars(T_ELIG, pd.MultiIndex.from_frame(T.loc[elig, key]),
                              ub=T["eligible"].to_numpy()[elig], cost=-(w_h * spot)[elig])
    res = has_capacity(b.t, T, RES)
    col_r[res] = lp.add_vars(T_RES, pd.MultiIndex.from_frame(T.loc[res, key]), ub=T["demand"].to_numpy()[res])
    T = T.assign(col_a=col_a, col_b=col_b, col_r=col_r, row=np.arange(len(T)))
    P = _covering_plans(b, T[key + ["hours", "demand", "row"]]).reset_index(drop=True)
    p_cols = lp.add_vars(T_PLAN, pd.MultiIndex.from_frame(P[["product"] + key]), ub=P["demand"].to_numpy())
    P = P.assign(col=p_cols)
    e = Entries()
    e.add(T["row"][firm], col_a[firm], 1.0)
    e.add(T["row"][elig], col_b[elig], 1.0)
    e.add(T["row"][res], col_r[res], -1.0)
    e.add(P["row"], P["col"], -1.0)
    lp.add_rows("type_balance", len(T), *e.arrays(), 0.0, 0.0)
    b.tables[T_FIRM] = T
    b.tables[T_PLAN] = P


def add_savings_plan_split(b) -> None:
    """Cells in split mode: s[j,f,q] >= 0, the $/h of plan j's commitment given to family f
    for the whole period and every path merged in its layers (a documented compression:
    the billing rules re-split every hour, so the model is conservative there; the
    simulator measures the difference)."""
    L = b.tables.get(COVER)
    if L is None:
        return
    cells = L.loc[L["mode"] == SPLIT, ["family", "q"]].drop_duplicates()
    if cells.empty:
        return
    S = _covering_plans(b, cells).sort_values(["product", "family", "q"]).reset_index(drop=True)
    cols = b.lp.add_vars(SPLIT_VARS, pd.MultiIndex.from_frame(S[["product", "family", "q"]]), ub=plan_bound(b.t, S))
    b.tables[SPLIT_VARS] = S.assign(col=cols)


def add_reservation_capacity(b) -> None:
    """Layers and split cells, per (f, q):
        sum_k y[f,q,k] <= R[f,q] + sum_j C[j,q] / rate[j,f]    (layers: plans covering f alone)
        sum_k y[f,q,k] <= R[f,q] + sum_j s[j,f,q] / rate[j,f]   (split)
    Types cells, per (f, t):  r[f,t] <= R[f,q]. [instances]"""
    L = b.tables.get(COVER)
    if L is not None:
        cells = L[["family", "q", "mode"]].drop_duplicates().reset_index(drop=True)
        cells["row"] = np.arange(len(cells))
        Lr = L.merge(cells[["family", "q", "row"]], on=["family", "q"])
        e = Entries()
        e.add(Lr["row"], Lr["col"], 1.0)
        e.add_triplet(reserved_entries(b.t, cells, -1.0))
        lay = _covering_plans(b, cells[cells["mode"] == LAYERS])
        if len(lay):
            e.add_triplet(plan_entries(b.t, lay.assign(coef=-1.0 / lay["rate_usd_per_hour"])))
        S = b.tables.get(SPLIT_VARS)
        if S is not None:
            s = S.merge(cells[["family", "q", "row"]], on=["family", "q"])
            e.add(s["row"], s["col"], -1.0 / s["rate_usd_per_hour"].to_numpy())
        b.lp.add_rows("reservation_capacity", len(cells), *e.arrays(), -np.inf, 0.0)
    T = b.tables.get(T_FIRM)
    if T is not None:
        R = T[T["col_r"] >= 0].reset_index(drop=True)
        R = R.assign(row=np.arange(len(R)))
        e = Entries()
        e.add(R["row"], R["col_r"], 1.0)
        e.add_triplet(reserved_entries(b.t, R, -1.0))
        b.lp.add_rows("reservation_capacity", len(R), *e.arrays(), -np.inf, 0.0)


def add_savings_plan_capacity(b) -> None:
    """Split cells, per (j, q):  sum_f s[j,f,q] <= C[j,q].
    Types cells, per (j, t):  sum_f rate[j,f] p[j,f,t] <= C[j,q]. [$/h]"""
    S = b.tables.get(SPLIT_VARS)
    if S is not None:
        g = S[["product", "q"]].drop_duplicates().reset_index(drop=True)
        g["row"] = np.arange(len(g))
        s = S.merge(g, on=["product", "q"])
        e = Entries()
        e.add(s["row"], s["col"], 1.0)
        e.add_triplet(plan_entries(b.t, g, -1.0))
        b.lp.add_rows("savings_plan_capacity", len(g), *e.arrays(), -np.inf, 0.0)
    P = b.tables.get(T_PLAN)
    if P is not None and len(P):
        key = ["product", "component", "q", "w", "t"]
        g = P[key].drop_duplicates().reset_index(drop=True)
        g["row"] = np.arange(len(g))
        p = P.drop(columns="row").merge(g, on=key)
        e = Entries()
        e.add(p["row"], p["col"], p["rate_usd_per_hour"].to_numpy())
        e.add_triplet(plan_entries(b.t, g, -1.0))
        b.lp.add_rows("savings_plan_capacity", len(g), *e.arrays(), -np.inf, 0.0)


def _floor_paths(b) -> np.ndarray:
    return np.flatnonzero(b.d.paths["floor"].to_numpy())


def _floored_plans(b) -> pd.DataFrame:
    """Plans whose utilization floor applies (those the plan can buy)."""
    if b.cons.min_utilization is None:
        return b.d.plans.iloc[0:0]
    return b.d.plans[b.d.plans["floored"]]


def add_dispatch_order(b) -> None:
    """Types cells on floor paths, when some plan has a utilization floor: the billing rules
    use reservations first and plans in order, each covering all it can. A free dispatch
    could shift cover between them at no cost and so misstate a plan's use; binaries make
    each commitment below a floored plan cover its maximum:
        r[f,t] >= min(R[f,q], n+e):   r + (n+e) beta >= n+e;  r - R - M beta >= -M
        usage_j >= min(C[j,q], need_j):  sum_f rate p_j - C_j - M' gamma >= -M';
            sum_{f in scope j} rate[j,f] (r_f + sum_{i <= j} p_i) + M'' gamma >= sum rate[j,f] (n+e)
    with M = largest R[f,q], M' = largest C[j,q], M'' = sum_f rate[j,f] (n+e)."""
    T, P = b.tables.get(T_FIRM), b.tables.get(T_PLAN)
    floored = _floored_plans(b)
    if T is None or floored.empty:
        return
    on_floor = T["w"].isin(_floor_paths(b))
    covered = set(b.d.plan_rates.loc[b.d.plan_rates["product"].isin(floored.index), "family"])
    R = T[on_floor & (T["col_r"] >= 0) & T["family"].isin(covered)].reset_index(drop=True)
    if len(R):
        beta = b.lp.add_vars(ORDER_RES, pd.MultiIndex.from_frame(R[["component", "q", "w", "t", "family"]]),
                             ub=1.0, integer=True, group=b.d.families.get_indexer(R["family"]))
        n = len(R)
        big = reserved_bound(b.t, R)
        e = Entries()
        e.add(np.arange(n), R["col_r"], 1.0)
        e.add(np.arange(n), beta, R["demand"].to_numpy())
        e.add(n + np.arange(n), R["col_r"], 1.0)
        e.add_triplet(reserved_entries(b.t, R.assign(row=n + np.arange(n)), -1.0))
        e.add(n + np.arange(n), beta, -big)
        b.lp.add_rows("dispatch_order", 2 * n, *e.arrays(), np.concatenate([R["demand"].to_numpy(), -big]), np.inf)
    _plan_order_rows(b, T, P, floored)


def _plan_order_rows(b, T, P, floored) -> None:
    if P is None or P.empty:
        return
    plans = b.d.plans
    rank = plans["rank"]
    scope = plans["scope"].apply(set)
    later = {j: any(rank[k] > rank[j] and scope[k] & scope[j] for k in floored.index) for j in plans.index}
    key = ["product", "component", "q", "w", "t"]
    G = P[P["w"].isin(_floor_paths(b)) & P["product"].map(later).astype(bool)][key].drop_duplicates()
    if G.empty:
        return
    G = G.reset_index(drop=True)
    n = len(G)
    gamma = b.lp.add_vars(ORDER_PLAN, pd.MultiIndex.from_frame(G), ub=1.0, integer=True)
    G = G.assign(row=np.arange(n), gamma=gamma)
    cap = plan_bound(b.t, G)
    e = Entries()
    # usage_j >= C_j - M'(1 - gamma)
    own = P.drop(columns="row").merge(G, on=key)
    e.add(own["row"], own["col"], own["rate_usd_per_hour"].to_numpy())
    e.add_triplet(plan_entries(b.t, G, -1.0))
    e.add(G["row"], gamma, -cap)
    # scope of j fully covered by r and plans up to j, unless gamma
    tf = T[["component", "q", "w", "t", "family", "demand", "col_r"]]
    scope_rows = G.merge(b.d.plan_rates, on="product").merge(tf, on=["component", "q", "w", "t", "family"])
    rate_j = scope_rows["rate_usd_per_hour"].to_numpy()
    with_r = scope_rows["col_r"].to_numpy() >= 0
    e.add(n + scope_rows["row"][with_r], scope_rows["col_r"][with_r], rate_j[with_r])
    pj = P.rename(columns={"product": "p_other", "col": "p_col"})[["p_other", "component", "q", "w", "t", "family",
                                                                   "p_col"]]
    below = scope_rows.merge(pj, on=["component", "q", "w", "t", "family"])
    below = below[rank.reindex(below["p_other"]).to_numpy() <= rank.reindex(below["product"]).to_numpy()]
    e.add(n + below["row"], below["p_col"], below["rate_usd_per_hour"].to_numpy())
    need = np.zeros(n)
    np.add.at(need, scope_rows["row"].to_numpy(), rate_j * scope_rows["demand"].to_numpy())
    e.add(n + G["row"], gamma, need)
    b.lp.add_rows("dispatch_order", 2 * n, *e.arrays(), np.concatenate([-cap, need]), np.inf)


def add_utilization_floor(b) -> None:
    """On each floor path w (expected and conservative), with u = min_utilization, in each
    window g: every month from the horizon's start on the expected path (a purchase made
    late in the horizon is not carried by the months before it, and the team's monthly
    utilization report sees each month), the whole horizon on the conservative path (a
    1-in-10 downside guarded on average, not month by month):

    Reservations of family f (families the plan can buy reservations of) [instance-hours]:
        sum_{q in g} U_q(R[f,q]) >= u sum_{q in g} hours_q R[f,q] - A[f,w,g]
    where U_q(R) = sum_t min(R, n+e): in types cells from fill variables z_t in [0, n+e],
    z_t <= R, U = sum_t h_t z_t (the floor pushes them up to U_q(R) exactly); in layers and
    split cells by the lower bound of ``_reserved_fill``.

    Savings plan j (products the plan can buy) [$]:
        use_j,g >= u sum_{q in g} hours_q C[j,q] - A[j,w,g]
    use_j: types cells sum_t h_t sum_f rate[j,f] p[j,f,t] (exact, with add_dispatch_order);
    layers / split cells: the lower bound rate[j,f] (sum_k used_k y_k - hours_q (cover
    capacity of f other than j's)), exact when j is the only commitment able to cover f.
    A: what inventory alone misses the floor by (the floor binds what the plan adds).

    In layers and split cells the lower bounds subtract the capacity of the other
    commitments covering the family, so with nothing of a product (or of a family's
    reservations) held they can read negative, and the row would cap the others. With
    ``ModelData.gate_floors`` (plan.py sets it for small models; larger ones search the
    set of plan products instead) each row of a product or family without inventory is
    gated (``_gate_floor_rows``): a binary g (FLOOR_GATE) that must be 1 for anything of
    it to be bought, and the row relaxed by M (1 - g), M = what its other terms can
    subtract at most.

    With inventory, each row also gets a waiver column fixed at 0 (FLOOR_WAIVER, indexed by
    kind, key, path): plan.py frees them, with nothing bought, to measure what the sunk
    commitments miss the floor by when a plan is infeasible."""
    u = b.cons.min_utilization
    if u is None or b.d.options_.empty:
        return
    floor_w = _floor_paths(b)
    res_fams = sorted(set(b.d.options_.loc[b.d.options_["kind"] == RES, "family"]))
    hours = b.d.periods["hours"].to_numpy(float)
    e, n_rows = Entries(), 0
    fill = Entries()
    fill_rows, fill_rhs = 0, []
    constants: list[pd.DataFrame] = []
    # ---- reservations
    fw = pd.DataFrame([(f, w) for f in res_fams for w in floor_w], columns=["family", "w"])
    if len(fw):
        fw["frow"] = np.arange(len(fw))
        n_rows = len(fw)
        allq = fw.merge(pd.DataFrame({"q": np.arange(len(hours))}), how="cross")
        allq = allq.assign(row=allq["frow"], coef=-u * hours[allq["q"].to_numpy()])
        e.add_triplet(reserved_entries(b.t, allq))
        fill_rows = _reserved_fill(b, fw, e, fill, fill_rhs)
    # ---- savings plans
    floored = _floored_plans(b)
    jw = pd.DataFrame([(j, w) for j in floored.index for w in floor_w], columns=["product", "w"])
    if len(jw):
        jw["frow"] = n_rows + np.arange(len(jw))
        allq = jw.merge(pd.DataFrame({"q": np.arange(len(hours))}), how="cross")
        allq = allq.assign(row=allq["frow"], coef=-u * hours[allq["q"].to_numpy()])
        e.add_triplet(plan_entries(b.t, allq))
        _plan_use(b, jw, e, constants)
        n_rows += len(jw)
    if n_rows == 0:
        return
    keys = [(RES, f) for f in fw["family"]] + [(SP, j) for j in jw["product"]]
    paths = np.concatenate([fw["w"].to_numpy(int), jw["w"].to_numpy(int)])
    e, rows = _by_window(e, b.d.floor_window[paths][:, b.d.periods["window"].to_numpy()])
    keys = [keys[r] for r in rows[:, 0]]
    wkeys = [(kind, key, int(paths[r]), int(g)) for (kind, key), (r, g) in zip(keys, rows)]
    n_rows = len(rows)
    # the bound without the allowance first, so that a model with another allowance (the
    # sunk-shortfall retry) is this one with base - allowance, as its build would compute it
    base = -_constants_by_row(b, constants, rows, paths)
    if b.d.gate_floors:
        base = _gate_floor_rows(b, keys, e, base)
    lb = base - floor_allowance_of(b.d, wkeys)
    if len(b.d.inv_reserved) or len(b.d.inv_plans):
        waiver = b.lp.add_vars(FLOOR_WAIVER, pd.MultiIndex.from_tuples(wkeys, names=["kind", "key", "w", "window"]),
                               ub=0.0)
        e.add(np.arange(n_rows), waiver, 1.0)
    if fill_rows:
        b.lp.add_rows("utilization_floor", fill_rows, *fill.arrays(), -np.inf, np.concatenate(fill_rhs))
    top = _add_by_period(b.lp, "utilization_floor", n_rows, e, lb, np.inf)
    b.tables[FLOOR_ROWS] = FloorRows(top, base, tuple(wkeys))


def _gate_floor_rows(b, keys: list[tuple[str, str]], e: Entries, lb: np.ndarray) -> np.ndarray:
    """Gates the floor rows (one per entry of ``keys``: (kind, family or product), a row per
    floor path) of keys without inventory: g[key] binary, sum of the key's purchase columns
    <= (their upper bounds) x g, and each row relaxed by M (1 - g) with M = the sum over its
    negative terms, other than the key's own capacity, of |coefficient| x the column's
    upper bound. Rows with M = 0 (types cells: exact and nonnegative) are left alone.
    Returns the rows' new lower bounds."""
    rows, cols, vals = e.arrays()
    if not len(rows):
        return lb
    t, o = b.t, b.d.options_
    held = np.zeros(len(keys), bool)
    inv_res = set(b.d.inv_reserved["family"]) if len(b.d.inv_reserved) else set()
    inv_sp = set(b.d.inv_plans["product"]) if len(b.d.inv_plans) else set()
    own_cols = []
    for r, (kind, key) in enumerate(keys):
        grid, labels = (t.res_col, t.families) if kind == RES else (t.plan_col, t.products)
        i = labels.get_indexer([key])[0]
        own_cols.append(grid[i][grid[i] >= 0] if i >= 0 else np.zeros(0, np.int64))
        held[r] = key in (inv_res if kind == RES else inv_sp)
    ub = b.lp.col_ub[cols]
    n = np.int64(b.lp.n_cols)
    own_pairs = np.concatenate([r * n + c for r, c in enumerate(own_cols)] + [np.zeros(0, np.int64)])
    mine = np.isin(rows.astype(np.int64) * n + cols, own_pairs)
    neg = (vals < 0) & ~mine
    split = np.zeros(len(rows), bool)
    S = b.tables.get(SPLIT_VARS)
    if S is not None and len(S):
        # s[i,f,q] share sum_f s[i,f,q] <= C[i,q]: per (row, plan, period) the largest
        # coefficient times C's bound, not the sum over families
        pos = cols - int(S["col"].iloc[0])
        split = neg & (pos >= 0) & (pos < len(S))
        sp = S.iloc[pos[split]]
        grp = pd.DataFrame({"row": rows[split], "product": sp["product"].to_numpy(), "q": sp["q"].to_numpy(),
                            "w": -vals[split]}).groupby(["row", "product", "q"], as_index=False)["w"].max()
        grp["ub"] = plan_bound(t, grp)
        split_big = np.bincount(grp["row"], weights=grp["w"] * grp["ub"], minlength=len(keys))
    else:
        split_big = np.zeros(len(keys))
    other = neg & ~split
    big = np.bincount(rows[other], weights=-vals[other] * ub[other], minlength=len(keys)) + split_big
    gate = ~held & (big > 0) & np.isfinite(big)
    if not gate.any():
        return lb
    gated = sorted({keys[r] for r in np.flatnonzero(gate)})
    g = b.lp.add_vars(FLOOR_GATE, pd.MultiIndex.from_tuples(gated, names=["kind", "key"]), ub=1.0, integer=True)
    col_of = dict(zip(gated, g))
    rr = np.flatnonzero(gate)
    e.add(rr, [col_of[keys[r]] for r in rr], -big[rr])
    lb = lb.copy()
    lb[rr] -= big[rr]
    # purchases of a gated key only with its gate open
    keyed = pd.MultiIndex.from_arrays([o["kind"], o["family"].where(o["kind"] == RES, o["product"])])
    gate_of = pd.Series(g, index=pd.MultiIndex.from_tuples(gated)).reindex(keyed).to_numpy()
    opt = np.flatnonzero(~np.isnan(gate_of))
    if len(opt):
        x = b.lp.cols(PURCHASES)
        uniq, row = np.unique(gate_of[opt].astype(np.int64), return_inverse=True)
        cap = np.bincount(row, weights=o["ub"].to_numpy(float)[opt])
        b.lp.add_rows("utilization_floor", len(uniq), np.concatenate([row, np.arange(len(uniq))]),
                      np.concatenate([x[opt], uniq]), np.concatenate([np.ones(len(opt)), -cap]), -np.inf, 0.0)
    return lb


def _add_by_period(lp, group: str, n_rows: int, e: Entries, lb, ub) -> np.ndarray:
    """Rows that sum terms over every period, written as one use variable v[r,q] per row and
    period (v[r,q] = the row's terms in q) and the row over v: the same constraint, but no
    row holds every layer of every period (dense rows slow the simplex down badly)."""
    rows, cols, vals = e.arrays()
    q = e.periods()
    per = q >= 0
    key = rows[per] * (q.max(initial=0) + 1) + q[per]
    uniq, inv = np.unique(key, return_inverse=True)
    v = lp.add_vars(f"{group}_by_period", pd.RangeIndex(len(uniq)), lb=-np.inf)
    n_def = len(uniq)
    lp.add_rows(group, n_def, np.concatenate([np.arange(n_def), inv]), np.concatenate([v, cols[per]]),
                np.concatenate([np.ones(n_def), -vals[per]]), 0.0, 0.0)
    top = uniq // (q.max(initial=0) + 1)
    return lp.add_rows(group, n_rows, np.concatenate([top, rows[~per]]), np.concatenate([v, cols[~per]]),
                       np.concatenate([np.ones(n_def), vals[~per]]), lb, ub)


def _by_window(e: Entries, window: np.ndarray) -> tuple[Entries, np.ndarray]:
    """The floor rows (one per key and path, entries tagged with their period) split by
    ``window[row, period]`` (ModelData.floor_window by period): row (r, g) holds row r's
    entries of the periods in window g. Returns the new entries and, per new row, (r, g);
    (r, g) pairs without entries are left out."""
    rows, cols, vals = e.arrays()
    q = e.periods()
    assert (q >= 0).all(), "every floor entry belongs to a period"
    width = int(window.max(initial=0)) + 1
    uniq, new_row = np.unique(rows * width + window[rows, q], return_inverse=True)
    out = Entries()
    out.add(new_row, cols, vals, q)
    return out, np.column_stack([uniq // width, uniq % width])


def _held_idle_usd(b, one: pd.DataFrame) -> pd.DataFrame | None:
    """Per (floor row, period): ``ratio`` x the $ a held plan (column ``other``) leaves idle
    in the period when nothing is bought, on the row's path (``ModelData.held_plan_use_usd``:
    the billing simulator on the inventory alone, per period, so that the rows of any
    window add up): its idle instance-hours of the family, in j's $."""
    inv = b.d.inv_plans
    use = b.d.held_plan_use_usd
    if inv.empty or use.empty:
        return None
    hours = b.d.periods["hours"].to_numpy(float)
    held = inv.groupby(["product", "q"], as_index=False)["usd_per_hour"].sum().rename(columns={"product": "other"})
    t = one[["frow", "other", "q", "w", "ratio"]].merge(held, on=["other", "q"])
    if t.empty:
        return None
    used = use.reindex(pd.MultiIndex.from_arrays([t["other"], t["w"].astype(int), t["q"].astype(int)]))
    # a held product the simulator did not measure: no idle is credited (the row stays conservative)
    idle = np.clip(t["usd_per_hour"].to_numpy() * hours[t["q"].to_numpy()] - used.fillna(np.inf).to_numpy(), 0.0, None)
    return pd.DataFrame({"frow": t["frow"].to_numpy(), "q": t["q"].to_numpy(), "usd": t["ratio"].to_numpy() * idle})


def _constants_by_row(b, constants: list, rows: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """The terms of ``constants`` (frow, q, usd) summed per floor row after ``_by_window``
    (``rows``: per new row, (frow, window))."""
    out = np.zeros(len(rows))
    if not constants:
        return out
    c = pd.concat(constants, ignore_index=True)
    frow = c["frow"].to_numpy(int)
    g = b.d.floor_window[paths[frow], b.d.periods["window"].to_numpy()[c["q"].to_numpy()]]
    width = int(b.d.floor_window.max(initial=0)) + 1
    pos = pd.Index(rows[:, 0] * width + rows[:, 1]).get_indexer(frow * width + g)
    assert (pos >= 0).all(), "a constant of a floor row's window without entries"
    np.add.at(out, pos, c["usd"].to_numpy(float))
    return out


def floor_allowance_of(data, wkeys) -> np.ndarray:
    """A per floor row, keyed (kind, key, path, window)."""
    a = data.floor_allowance
    if not len(a) or not wkeys:
        return np.zeros(len(wkeys))
    return a.reindex(pd.MultiIndex.from_tuples(wkeys)).fillna(0.0).to_numpy(float)


def _reserved_fill(b, fw: pd.DataFrame, e: Entries, fill: Entries, fill_rhs: list) -> int:
    """Adds the reserved use U_q(R) (or its lower bound) of each family to the floor rows
    ``e``. Layers and split cells: U_q(R) >= sum_k used_k y_k - hours_q P, P = the plan
    capacity covering the family in the cell (C/rate, or s/rate in split mode), since each
    unit of capacity is used at most every hour: exact where no plan can be in force,
    conservative by at most the plans' idle hours elsewhere. Types cells: fill variables
    z_t in [0, n+e] with z_t <= R (rows added to ``fill``); returns their number."""
    L = b.tables.get(COVER)
    hours = b.d.periods["hours"].to_numpy(float)
    if L is not None:
        y = L.merge(b.d.layer_use, on=["family", "q", "k"]).merge(fw, on=["family", "w"])
        e.add(y["frow"], y["col"], y["used_hours"].to_numpy(), y["q"].to_numpy())
        cells = y[["family", "q", "w", "mode", "frow"]].drop_duplicates()
        lay = _covering_plans(b, cells[cells["mode"] == LAYERS])
        if len(lay):
            coef = -hours[lay["q"].to_numpy()] / lay["rate_usd_per_hour"].to_numpy()
            e.add_triplet(plan_entries(b.t, lay.assign(row=lay["frow"], coef=coef)))
        S = b.tables.get(SPLIT_VARS)
        if S is not None:
            s = S.merge(cells[cells["mode"] == SPLIT], on=["family", "q"])
            e.add(s["frow"], s["col"], -hours[s["q"].to_numpy()] / s["rate_usd_per_hour"].to_numpy(), s["q"].to_numpy())
    n_fill = 0
    T = b.tables.get(T_FIRM)
    if T is not None:
        Tz = T[T["col_r"] >= 0].merge(fw, on=["family", "w"]).reset_index(drop=True)
        if len(Tz):
            z = b.lp.add_vars(T_RES_FILL, pd.MultiIndex.from_frame(Tz[["component", "q", "w", "t", "family"]]),
                              ub=Tz["demand"].to_numpy())
            e.add(Tz["frow"], z, Tz["hours"].to_numpy(), Tz["q"].to_numpy())
            rows = np.arange(len(Tz))
            fill.add(rows, z, 1.0)
            fill.add_triplet(reserved_entries(b.t, Tz.assign(row=rows), -1.0))
            fill_rhs.append(np.zeros(len(Tz)))
            n_fill = len(Tz)
    return n_fill


def _plan_use(b, jw: pd.DataFrame, e: Entries, constants: list) -> None:
    """Adds each floored plan's use (types cells) or its lower bound (layers and split
    cells) to the floor rows; terms without a column go to ``constants`` (frames of frow,
    q, usd)."""
    P = b.tables.get(T_PLAN)
    if P is not None and len(P):
        p = P.drop(columns="row").merge(jw, on=["product", "w"])
        e.add(p["frow"], p["col"], p["hours"].to_numpy() * p["rate_usd_per_hour"].to_numpy(), p["q"].to_numpy())
    L = b.tables.get(COVER)
    if L is None:
        return
    hours = b.d.periods["hours"].to_numpy(float)
    Lw = L.merge(b.d.layer_use, on=["family", "q", "k"])
    cells = Lw[["family", "q", "w", "mode"]].drop_duplicates()
    pr = b.d.plan_rates
    jc = cells.merge(pr, on="family").merge(jw, on=["product", "w"])   # (j, f, q, w) with a floor
    if jc.empty:
        return
    rj = jc["rate_usd_per_hour"].to_numpy()
    hq = hours[jc["q"].to_numpy()]
    y = Lw.merge(jc[["product", "family", "q", "w", "frow", "rate_usd_per_hour"]], on=["family", "q", "w"])
    e.add(y["frow"], y["col"], y["used_hours"].to_numpy() * y["rate_usd_per_hour"].to_numpy(), y["q"].to_numpy())
    e.add_triplet(reserved_entries(b.t, jc.assign(row=jc["frow"], coef=-rj * hq)))
    others = jc.merge(pr.rename(columns={"product": "other", "rate_usd_per_hour": "rate_other"}), on="family")
    others = others[others["other"] != others["product"]]
    # A plan covering f alone (every plan in a layers cell; a family plan in a split cell)
    # gives f all of C, and the billing rules apply it before any wider plan: subtract C,
    # less the $ a held one idles when nothing is bought (purchases only push it up the
    # family's curve, so it idles at least that much; docs/model.md, floor rows). Split
    # cells read it through its split s <= C until session 9, which the model is free to
    # set below C: it idled a held family plan to credit j with the cover the billing rules
    # give that plan first (a compute plan used 92.8% on P10 for a 95% floor).
    alone = (others["mode"] == LAYERS).to_numpy() | (
        (others["mode"] == SPLIT).to_numpy()
        & (b.d.plans["scope"].apply(len).reindex(others["other"]).to_numpy() == 1))
    one = others[alone].assign(ratio=lambda t: t["rate_usd_per_hour"] / t["rate_other"])
    if len(one):
        e.add_triplet(plan_entries(b.t, pd.DataFrame({"product": one["other"].to_numpy(), "q": one["q"].to_numpy(),
                                                       "row": one["frow"].to_numpy(),
                                                       "coef": -one["ratio"].to_numpy() * hours[one["q"].to_numpy()]})))
        idle = _held_idle_usd(b, one)
        if idle is not None:
            constants.append(idle)
    S = b.tables.get(SPLIT_VARS)
    spl = others[~alone & (others["mode"] == SPLIT).to_numpy()]
    if S is not None and len(spl):
        s = spl.merge(S[["product", "family", "q", "col"]].rename(columns={"product": "other"}),
                      on=["other", "family", "q"])
        e.add(s["frow"], s["col"], -s["rate_usd_per_hour"].to_numpy() * hours[s["q"].to_numpy()]
              / s["rate_other"].to_numpy(), s["q"].to_numpy())
