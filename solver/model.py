"""The MILP (DESIGN.md section 5), built from ModelData as one table of contents.

``build_model`` calls one function per named constraint group, in order. Every group
builds its coefficients with numpy/pandas from the tables of solver/modeldata.py;
none loops over hours (the hours were compressed into layers before). Notation and
units: docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.lp import LinearProgram
from gpuladder.solver.modeldata import ModelData

PURCHASES, COVER, PLAN_SPLIT, RES_FILL = "buy", "cover", "plan_split", "reserved_fill"


@dataclass(frozen=True)
class BuiltModel:
    lp: LinearProgram
    data: ModelData
    true_cost: np.ndarray   # objective coefficients without the tie-breaker


def build_model(data: ModelData, cons: Constraints, tie_break_share: float = 1e-7) -> BuiltModel:
    lp = LinearProgram()
    lp.constant = data.baseline_usd + data.inventory_fee_usd
    add_purchases(lp, data, tie_break_share)
    add_layer_cover(lp, data)
    add_savings_plan_split(lp, data)
    add_reservation_capacity(lp, data)
    add_savings_plan_capacity(lp, data)
    add_utilization_floor(lp, data, cons)
    add_budget_limits(lp, data, cons)
    add_ladder_limits(lp, data, cons)
    true_cost = lp.cost.copy()
    o = lp.cols(PURCHASES)
    true_cost[o] = data.options_["fee_usd"].to_numpy()
    return BuiltModel(lp, data, true_cost)


def add_purchases(lp: LinearProgram, d: ModelData, tie_break_share: float) -> None:
    """x_o >= 0 for each purchase option o = (product, family, step): instances (integer) for a
    reservation, $/h of commitment (continuous) for a savings plan. Cost: the amortized fee
    inside the horizon, fee_o = unit_o [$/h] x hours_in_horizon_o [h], nudged by
    ``tie_break_share`` x (term in years + earliness) so that equal-cost plans prefer shorter
    terms, then later purchases."""
    o = d.options_
    n_steps = max(len(d.steps), 1)
    nudge = tie_break_share * (o["term_months"] / 12.0 + (n_steps - o["step"]) / n_steps)
    cost = o["fee_usd"].to_numpy() * (1.0 + nudge.to_numpy())
    lp.add_vars(PURCHASES, pd.MultiIndex.from_frame(o[["product", "family", "step"]]), cost=cost,
                integer=(o["kind"] == "reservation").to_numpy())


def add_layer_cover(lp: LinearProgram, d: ModelData) -> None:
    """y_{f,q,w,k} in [0, width_k]: instances of layer k of family f covered by commitments in
    period q on forecast path w. Cost: -weight_w x saving_k [$ per instance of width]."""
    L = d.layers
    weight = d.paths["weight"].to_numpy()[L["w"].to_numpy()]
    lp.add_vars(COVER, pd.MultiIndex.from_frame(L[["family", "q", "w", "k"]]), ub=L["width"].to_numpy(),
                cost=-weight * L["saving_usd"].to_numpy())


def _plan_split_index(d: ModelData) -> pd.DataFrame:
    """(product, family, q, w, rate) for every savings plan, covered family and layered cell."""
    cells = d.layers[["family", "q", "w"]].drop_duplicates()
    return d.plan_rates.merge(cells, on="family").sort_values(["product", "family", "q", "w"]).reset_index(drop=True)


def add_savings_plan_split(lp: LinearProgram, d: ModelData) -> None:
    """s_{j,f,q,w} >= 0: $/h of savings plan j's commitment assigned to family f in period q on
    path w. The split is fixed within a period (exact for a plan covering one family; for a
    plan covering several families the simulator re-splits every hour, so the model is
    conservative there and the difference is reported)."""
    idx = _plan_split_index(d)
    if idx.empty:
        return
    lp.add_vars(PLAN_SPLIT, pd.MultiIndex.from_frame(idx[["product", "family", "q", "w"]]))


def _active_options(d: ModelData, kind: str) -> pd.DataFrame:
    """(o, q, product, family) for options of ``kind`` in force in period q."""
    o = d.options_
    act = d.active.merge(o[["product", "family", "kind"]], left_on="o", right_index=True)
    return act[act["kind"] == kind]


def add_reservation_capacity(lp: LinearProgram, d: ModelData) -> None:
    """For each (f, q, w):  sum_k y_{f,q,w,k} <= R_{f,q} + sum_j s_{j,f,q,w} / rate_{j,f}
    where R_{f,q} = sum of reservations x_o in force + inventory instances [instances]."""
    if d.layers.empty:
        return
    cells = d.layers[["family", "q", "w"]].drop_duplicates().reset_index(drop=True)
    cells["row"] = np.arange(len(cells))
    L = d.layers.merge(cells, on=["family", "q", "w"])
    y_cols = lp.cols(COVER)
    rows, cols, vals = [L["row"].to_numpy()], [y_cols], [np.ones(len(L))]
    act = _active_options(d, "reservation").merge(cells, on=["family", "q"])
    x0 = lp.cols(PURCHASES)[0] if len(d.options_) else 0
    rows.append(act["row"].to_numpy())
    cols.append(x0 + act["o"].to_numpy())
    vals.append(-np.ones(len(act)))
    if PLAN_SPLIT in lp.blocks:
        idx = _plan_split_index(d).merge(cells, on=["family", "q", "w"], how="left")
        rows.append(idx["row"].to_numpy())
        cols.append(lp.cols(PLAN_SPLIT))
        vals.append(-1.0 / idx["rate_usd_per_hour"].to_numpy())
    inv = cells.merge(d.inv_reserved, on=["family", "q"], how="left")["instances"].fillna(0.0)
    lp.add_rows("reservation_capacity", len(cells), np.concatenate(rows), np.concatenate(cols),
                np.concatenate(vals), -np.inf, inv.to_numpy(float))


def add_savings_plan_capacity(lp: LinearProgram, d: ModelData) -> None:
    """For each plan j and (q, w):  sum_f s_{j,f,q,w} <= sum of x_o of j in force + inventory $/h."""
    if PLAN_SPLIT not in lp.blocks:
        return
    idx = _plan_split_index(d)
    cells = idx[["product", "q", "w"]].drop_duplicates().reset_index(drop=True)
    cells["row"] = np.arange(len(cells))
    s = idx.merge(cells, on=["product", "q", "w"], how="left")
    act = _active_options(d, "savings_plan").merge(cells, on=["product", "q"])
    x0 = lp.cols(PURCHASES)[0]
    inv = cells.merge(d.inv_plans, on=["product", "q"], how="left")["usd_per_hour"].fillna(0.0)
    lp.add_rows("savings_plan_capacity", len(cells),
                np.concatenate([s["row"].to_numpy(), act["row"].to_numpy()]),
                np.concatenate([lp.cols(PLAN_SPLIT), x0 + act["o"].to_numpy()]),
                np.concatenate([np.ones(len(s)), -np.ones(len(act))]), -np.inf, inv.to_numpy(float))


def add_utilization_floor(lp: LinearProgram, d: ModelData, cons: Constraints) -> None:
    """Reservations of each family must be used at least ``min_utilization`` of their hours over
    the horizon, on the expected (P50) path and on the conservative path:

        sum_{q,k} used_hours_k z_{f,q,w,k} >= u sum_q hours_q R_{f,q} - allowance_{f,w}
        sum_k z_{f,q,w,k} <= R_{f,q},   0 <= z <= width

    z is the fill of the bottom R layers (the LP maximises it by itself, so the left side is
    the used instance-hours U(R)); the allowance is what existing reservations alone miss
    the floor by (the floor applies to what the plan adds)."""
    u = cons.min_utilization
    if u is None or d.layers.empty:
        return
    fams = set(d.options_.loc[d.options_["kind"] == "reservation", "family"])
    floor_w = set(np.flatnonzero(d.paths["floor"].to_numpy()))
    L = d.layers[d.layers["family"].isin(fams) & d.layers["w"].isin(floor_w)].reset_index(drop=True)
    if L.empty:
        return
    z = lp.add_vars(RES_FILL, pd.MultiIndex.from_frame(L[["family", "q", "w", "k"]]), ub=L["width"].to_numpy())
    cells = L[["family", "q", "w"]].drop_duplicates().reset_index(drop=True)
    cells["row"] = np.arange(len(cells))
    Lr = L.merge(cells, on=["family", "q", "w"])
    act = _active_options(d, "reservation").merge(cells, on=["family", "q"])
    x0 = lp.cols(PURCHASES)[0]
    inv_cells = cells.merge(d.inv_reserved, on=["family", "q"], how="left")["instances"].fillna(0.0)
    lp.add_rows("utilization_floor", len(cells),
                np.concatenate([Lr["row"].to_numpy(), act["row"].to_numpy()]),
                np.concatenate([z, x0 + act["o"].to_numpy()]),
                np.concatenate([np.ones(len(Lr)), -np.ones(len(act))]), -np.inf, inv_cells.to_numpy(float))
    # the floor itself, one row per (family, floor path)
    fw = L[["family", "w"]].drop_duplicates().reset_index(drop=True)
    fw["frow"] = np.arange(len(fw))
    Lf = L.merge(fw, on=["family", "w"], how="left")
    hours = d.periods["hours"].to_numpy(float)
    a = act.merge(fw, on=["family", "w"])
    inv_h = (cells.assign(ih=inv_cells.to_numpy() * hours[cells["q"].to_numpy()])
             .groupby(["family", "w"])["ih"].sum())
    inv_h = inv_h.reindex(pd.MultiIndex.from_frame(fw[["family", "w"]])).fillna(0.0).to_numpy()
    allow = d.inv_floor_allowance.reindex(pd.MultiIndex.from_frame(fw[["family", "w"]])).fillna(0.0).to_numpy() \
        if len(d.inv_floor_allowance) else np.zeros(len(fw))
    lp.add_rows("utilization_floor", len(fw),
                np.concatenate([Lf["frow"].to_numpy(), a["frow"].to_numpy()]),
                np.concatenate([z, x0 + a["o"].to_numpy()]),
                np.concatenate([Lf["used_hours"].to_numpy(), -u * hours[a["q"].to_numpy()]]),
                u * inv_h - allow, np.inf)


def add_budget_limits(lp: LinearProgram, d: ModelData, cons: Constraints) -> None:
    """Upfront cash bought per quarter <= max_upfront_usd_per_quarter [$]; committed fees in
    force (amortized $/h, inventory included) in each period <= max_committed_usd_per_hour."""
    o = d.options_
    if o.empty:
        return
    x0 = lp.cols(PURCHASES)[0]
    if cons.max_upfront_usd_per_quarter is not None:
        quarter = _step_quarters(d)[o["step"].to_numpy()]
        up = o["upfront_usd"].to_numpy()
        nz = up > 0
        uq = np.unique(quarter[nz])
        if len(uq):
            row = np.searchsorted(uq, quarter[nz])
            lp.add_rows("budget_upfront", len(uq), row, x0 + np.flatnonzero(nz), up[nz], -np.inf,
                        float(cons.max_upfront_usd_per_quarter))
    if cons.max_committed_usd_per_hour is not None:
        act = d.active
        unit = o["unit_usd_per_hour"].to_numpy()[act["o"].to_numpy()]
        inv = d.inv_usd_per_hour
        lp.add_rows("budget_committed", len(d.periods), act["q"].to_numpy(), x0 + act["o"].to_numpy(), unit,
                    -np.inf, float(cons.max_committed_usd_per_hour) - inv)


def add_ladder_limits(lp: LinearProgram, d: ModelData, cons: Constraints) -> None:
    """Staggering, on the amortized $/h of what the plan buys (inventory is sunk and excluded):
    for every quarter k, sum of fees expiring in k <= share_exp x total bought fees;
    for every step s, sum of fees bought at s <= share_buy x total bought fees."""
    o = d.options_
    if o.empty:
        return
    x0 = lp.cols(PURCHASES)[0]
    unit = o["unit_usd_per_hour"].to_numpy()
    n = len(o)
    for share, key, group in ((cons.max_expiring_share_per_quarter, _expiry_quarters(d), "ladder_expiring"),
                              (cons.max_bought_share_per_step, o["step"].to_numpy(), "ladder_bought")):
        if share is None:
            continue
        groups = np.unique(key)
        if len(groups) <= 1 and share >= 1.0:
            continue
        # row g: sum_{o in g} unit_o x_o - share * sum_o unit_o x_o <= 0
        g_row = np.searchsorted(groups, key)
        rows = np.concatenate([g_row, np.repeat(np.arange(len(groups)), n)])
        cols = np.concatenate([x0 + np.arange(n), np.tile(x0 + np.arange(n), len(groups))])
        vals = np.concatenate([unit, np.tile(-share * unit, len(groups))])
        lp.add_rows(group, len(groups), rows, cols, vals, -np.inf, 0.0)


def _step_quarters(d: ModelData) -> np.ndarray:
    months = [(s.year - d.horizon_start.year) * 12 + s.month - d.horizon_start.month for s in d.steps]
    return np.asarray(months, int) // 3


def _expiry_quarters(d: ModelData) -> np.ndarray:
    e = pd.DatetimeIndex(d.options_["end"])
    months = (e.year - d.horizon_start.year) * 12 + (e.month - d.horizon_start.month)
    return np.asarray(months, int) // 3
