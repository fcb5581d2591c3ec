"""What sunk commitments miss the utilization floor by when nothing is bought (plan.py's
retry of an infeasible floored plan lowers each floor by that shortfall), and the retry's
models derived from the first try's without a build."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from gpuladder.solver.backends import solve
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.model import PURCHASES, BuiltModel, build_model
from gpuladder.solver.model_cover import FLOOR_ROWS, FLOOR_WAIVER, floor_allowance_of
from gpuladder.solver.modeldata import RES, SP, ModelData, PlanningProblem, prepare

__all__ = ["sunk_floor_shortfall", "waived_models"]


def sunk_floor_shortfall(problem: PlanningProblem, solver: SolverOptions,
                         built: BuiltModel | None = None) -> pd.Series | None:
    """What the existing commitments miss the utilization floor by when nothing is bought:
    the model with every purchase fixed at 0 and the floor rows' waiver columns free.
    (kind, key, path, window) -> instance-hours (reservations) or $ (savings plans), only
    the positive ones; None when buying nothing is infeasible anyway (another constraint
    group is at fault) or nothing needs waiving.

    Two solves, the rows of what is held first: (1) the least total waiver on the rows of
    families and products the inventory holds; (2) with those kept at that, the least
    total waiver on the others. A waiver's slack can be used by purchases of the row's
    key, and the model can move shortfall between rows (in split cells the $/h a held plan
    gives its family is free below its capacity, and every other row subtracts it): the
    least total of all rows at once put the other rows' shortfall on a held plan's row,
    and 12.7 $/h held of the g6e plan bought 3.2 more of it, used 82% on P10. Held rows
    first keep each held key's waiver at what the model misreads of its own use.

    ``built``: the ungated model of ``problem`` when already at hand (plan.py's first try
    built it); it is only read: the solves get copies with other bounds and costs."""
    if built is None:
        built = build_model(prepare(problem), problem.constraints, problem.options.tie_break_share)
    data = built.data
    lp = built.lp
    if FLOOR_WAIVER not in lp.blocks:
        return None
    cols = lp.cols(FLOOR_WAIVER)
    held = _held_rows(lp.index(FLOOR_WAIVER), data)
    ub = lp.col_ub.copy()
    ub[lp.cols(PURCHASES)] = 0.0
    ub[cols] = np.inf
    x = None
    for stage in [m for m in (held, ~held) if m.any()]:
        cost = np.zeros(lp.n_cols)
        cost[cols[stage]] = 1.0
        sol = solve(lp.with_columns(ub=ub, cost=cost), solver)
        if not sol.has_solution:
            return None
        x = sol.x
        ub[cols[stage]] = x[cols[stage]] * (1.0 + 1e-7) + 1e-6   # kept at the least, up to the solver's tolerance
    s = lp.values(FLOOR_WAIVER, x)
    s = s[s > 1e-9]
    # a hair above the measured shortfall, so that "buy nothing" stays feasible after rounding
    return None if s.empty else s * (1.0 + 1e-7) + 1e-6


def _held_rows(waivers: pd.Index, data: ModelData) -> np.ndarray:
    """Per floor waiver (kind, key, path, window): is its family's reservations or its plan
    product held by the inventory in the horizon?"""
    held = ({(RES, f) for f in data.inv_reserved["family"]} if len(data.inv_reserved) else set()) | (
        {(SP, j) for j in data.inv_plans["product"]} if len(data.inv_plans) else set())
    return np.array([(kind, key) in held for kind, key, *_ in waivers], bool)


def waived_models(models: dict[bool, BuiltModel], data: ModelData) -> dict[bool, BuiltModel]:
    """The retry's models (gate flag -> model) from the first try's, as ``build_model``
    builds them from ``data``, the retry's model data: the first try's but for the floor
    allowance, which only the floor rows' lower bounds read (modeldata.prepare,
    model_cover.add_utilization_floor). A build computes each such bound as ``base -
    allowance`` and keeps ``base`` (model_cover.FloorRows), so the copy is its build to the
    bit. A model without floor rows is left out (the retry builds it)."""
    out = {}
    for gated, built in models.items():
        rows = built.tables.get(FLOOR_ROWS)
        if rows is None or built.data.gate_floors != gated:
            continue
        lb = built.lp.row_lb
        lb[rows.rows] = rows.base - floor_allowance_of(data, rows.keys)
        out[gated] = BuiltModel(built.lp.with_row_bounds(lb=lb), replace(data, gate_floors=gated),
                                built.true_cost, built.tables)
    return out
