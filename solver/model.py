"""The MILP (DESIGN.md section 5), built from ModelData as one table of contents.

``build_model`` calls one function per named constraint group, in order. Every group
builds its coefficients with numpy/pandas from the tables of solver/modeldata.py and
returns early when it has nothing to add; none loops over hours (they were compressed
into layers and hour types before). Notation and units: docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.lp import LinearProgram
from gpuladder.solver.model_cover import (add_dispatch_order, add_hour_type_cover, add_layer_cover,
                                          add_reservation_capacity, add_savings_plan_capacity,
                                          add_savings_plan_split, add_utilization_floor)
from gpuladder.solver.model_terms import PURCHASES, Entries, add_commitments_in_force
from gpuladder.solver.modeldata import RES, ModelData
from gpuladder.solver.quarters import quarter_ids

__all__ = ["BuiltModel", "PURCHASES", "build_model"]


@dataclass(frozen=True)
class BuiltModel:
    lp: LinearProgram
    data: ModelData
    true_cost: np.ndarray   # objective coefficients without the tie-breaker
    tables: dict = field(default_factory=dict)  # variable block -> its table (for reading a solution)


def build_model(data: ModelData, cons: Constraints, tie_break_share: float = 1e-7) -> BuiltModel:
    lp = LinearProgram()
    add_purchases(lp, data, tie_break_share)
    b = Build(lp, data, cons, add_commitments_in_force(lp, data))
    add_layer_cover(b)
    add_hour_type_cover(b)
    add_savings_plan_split(b)
    add_reservation_capacity(b)
    add_savings_plan_capacity(b)
    add_dispatch_order(b)
    add_utilization_floor(b)
    add_budget_limits(b)
    add_ladder_limits(b)
    add_objective(b)
    true_cost = lp.cost.copy()
    if len(data.options_):
        true_cost[lp.cols(PURCHASES)] = data.options_["fee_usd"].to_numpy()
    return BuiltModel(lp, data, true_cost, b.tables)


@dataclass
class Build:
    """What the constraint groups share while the model is built."""

    lp: LinearProgram
    d: ModelData
    cons: Constraints
    t: object
    tables: dict = field(default_factory=dict)


def add_purchases(lp: LinearProgram, d: ModelData, tie_break_share: float) -> None:
    """x_o in [0, ub_o] for each purchase option o = (product, family, step): instances
    (integer) for a reservation, $/h of commitment (continuous) for a savings plan. Cost:
    the amortized fee inside the horizon, fee_o = unit_o [$/h] x hours_in_horizon_o [h],
    nudged by ``tie_break_share`` x (term in years + earliness) so that equal-cost plans
    prefer shorter terms, then later purchases. ub_o: the family's peak demand
    (reservations) or the $/h its scope could consume at peak (plans)."""
    o = d.options_
    n_steps = max(len(d.steps), 1)
    nudge = tie_break_share * (o["term_months"] / 12.0 + (n_steps - o["step"]) / n_steps)
    cost = o["fee_usd"].to_numpy() * (1.0 + nudge.to_numpy())
    res = (o["kind"] == RES).to_numpy()
    lp.add_vars(PURCHASES, pd.MultiIndex.from_frame(o[["product", "family", "step"]]), cost=cost,
                ub=o["ub"].to_numpy(float), integer=res,
                group=np.where(res, d.families.get_indexer(o["family"]), -1))


def add_budget_limits(b: Build) -> None:
    """Upfront cash per quarter k of the (fiscal) year:  sum_{o bought in k} upfront_o x_o <=
    max(0, B_up - inventory upfront paid in k) [$], the inventory's upfront counted from the
    quarter's start (before the horizon's too: a monthly re-ladder's earlier purchases); an
    inventory that used the budget up leaves nothing, it does not make the plan infeasible.
    Committed fees per period q:  sum_{o in force} unit_o x_o <= B_rate - inventory $/h in
    force [$/h] (amortized). Inventory counts in both: a budget is the money going out,
    whoever decided it."""
    d, cons, lp = b.d, b.cons, b.lp
    o = d.options_
    x0 = b.t.x0
    if cons.max_upfront_usd_per_quarter is not None and len(o):
        quarter = _step_quarters(d)[o["step"].to_numpy()]
        up = o["upfront_usd"].to_numpy(float)
        nz = up > 0
        keys = np.unique(quarter[nz])
        if len(keys):
            inv = d.inv_upfront_usd.reindex(keys).fillna(0.0).to_numpy(float)
            lp.add_rows("budget_upfront", len(keys), np.searchsorted(keys, quarter[nz]), x0 + np.flatnonzero(nz),
                        up[nz], -np.inf, np.maximum(0.0, float(cons.max_upfront_usd_per_quarter) - inv))
    if cons.max_committed_usd_per_hour is not None:
        act = d.active
        unit = o["unit_usd_per_hour"].to_numpy()[act["o"].to_numpy()] if len(o) else np.zeros(0)
        lp.add_rows("budget_committed", len(d.periods), act["q"].to_numpy(), x0 + act["o"].to_numpy(), unit,
                    -np.inf, float(cons.max_committed_usd_per_hour) - d.inv_usd_per_hour)


def add_ladder_limits(b: Build) -> None:
    """Staggering on amortized $/h (unit_o x_o for purchases, amortized fee rate for
    inventory). Expiring: for every quarter k of the (fiscal) year in which something ends,
        E_k + sum_{o ends in k} unit_o x_o <= s_exp (E + sum_o unit_o x_o) + allowance_k
    where E_k / E are inventory's $/h ending in k / in force during the horizon and
    allowance_k = max(0, E_k - s_exp E) (inventory's own cliff is sunk). Bought: for
    every step s, sum_{o at s} unit_o x_o <= s_buy sum_o unit_o x_o (the plan's purchases
    only: inventory was not bought at any step of this plan)."""
    d, cons, lp = b.d, b.cons, b.lp
    o = d.options_
    if o.empty:
        return
    x0, n = b.t.x0, len(o)
    unit = o["unit_usd_per_hour"].to_numpy(float)
    if cons.max_expiring_share_per_quarter is not None:
        share = float(cons.max_expiring_share_per_quarter)
        key = _expiry_quarters(d)
        inv_k = d.inv_expiring_usd_per_hour
        groups = np.unique(np.concatenate([key, np.asarray(inv_k.index, int)]))
        e_k = inv_k.reindex(groups).fillna(0.0).to_numpy(float)
        e_all = d.inv_ladder_usd_per_hour
        allowance = np.maximum(0.0, e_k - share * e_all)
        _share_rows(lp, "ladder_expiring", groups, key, unit, share, x0, n,
                    share * e_all + allowance - e_k)
    if cons.max_bought_share_per_step is not None:
        share = float(cons.max_bought_share_per_step)
        key = o["ladder_step"].to_numpy()
        groups = np.unique(key)
        _share_rows(lp, "ladder_bought", groups, key, unit, share, x0, n, np.zeros(len(groups)))


def _share_rows(lp, group, groups, key, unit, share, x0, n, rhs):
    """Row g: sum_{o in g} unit_o x_o - share sum_o unit_o x_o <= rhs_g."""
    g_row = np.searchsorted(groups, key)
    rows = np.concatenate([g_row, np.repeat(np.arange(len(groups)), n)])
    cols = np.concatenate([x0 + np.arange(n), np.tile(x0 + np.arange(n), len(groups))])
    vals = np.concatenate([unit, np.tile(-share * unit, len(groups))])
    lp.add_rows(group, len(groups), rows, cols, vals, -np.inf, rhs)


def add_objective(b: Build) -> None:
    """minimize  baseline + inventory fees + sum_o fee_o x_o - sum_w weight_w x savings_w:
    the expected amortized cost over the forecast paths (variable costs were set by the
    groups that created the variables; this adds the constant)."""
    b.lp.constant = b.d.baseline_usd + b.d.inventory_fee_usd


def _step_quarters(d: ModelData) -> np.ndarray:
    return quarter_ids(d.steps, d.fiscal_year_start_month)


def _expiry_quarters(d: ModelData) -> np.ndarray:
    return quarter_ids(d.options_["end"], d.fiscal_year_start_month)


__all__ += ["Build", "Entries"]
