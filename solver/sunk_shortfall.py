"""What sunk commitments miss the utilization floor by when nothing is bought (plan.py's
retry of an infeasible floored plan lowers each floor by that shortfall), and the retry's
models derived from the first try's without a build."""

from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pandas as pd

from gpuladder.solver.backends import solve
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.model import PURCHASES, BuiltModel, build_model
from gpuladder.solver.model_cover import FLOOR_GATE, FLOOR_WAIVER
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
    """The first try's models (gate flag -> model, the ungated one among them) as
    ``build_model`` builds them from ``data``, the retry's model data: the first try's but
    for the floor allowance, which only the floor rows' lower bounds read (modeldata.prepare,
    model_cover.add_utilization_floor). Bit for bit: a build computes a floor row's lower
    bound as ``(-allowance - c) - M`` in floating point (c: the row's other terms, M: minus
    its gate coefficient, 0 where not gated); c is read back from the ungated bound
    (``_rebound``). A model whose rows do not read so, or whose new bounds the ungated
    bound does not fix to the bit, is left out (the retry builds it)."""
    ungated = models.get(False)
    if ungated is None or ungated.data.gate_floors or FLOOR_WAIVER not in ungated.lp.blocks:
        return {}
    keys = ungated.lp.index(FLOOR_WAIVER)
    before, after = _allowance(ungated.data, keys), _allowance(data, keys)
    changed = after != before
    rows = _waiver_rows(ungated.lp)
    if rows is None:
        return {}
    old = ungated.lp.row_lb[rows[changed]]
    new = _rebound(old, before[changed], after[changed])
    if new is None:
        return {}
    out = {}
    for gated, built in models.items():
        lp = built.lp
        mine = _waiver_rows(lp) if FLOOR_WAIVER in lp.blocks and lp.index(FLOOR_WAIVER).equals(keys) else None
        if mine is None:
            continue
        mine = mine[changed]
        gate = _coefficients(lp, mine, lp.cols(FLOOR_GATE)) if FLOOR_GATE in lp.blocks else np.zeros(len(mine))
        big = 0.0 - gate   # +0.0 where the row has no gate
        lb = lp.row_lb
        if not np.array_equal(lb[mine], old - big):
            continue
        lb[mine] = new - big
        out[gated] = BuiltModel(lp.with_row_bounds(lb=lb), replace(data, gate_floors=built.data.gate_floors),
                                built.true_cost, built.tables)
    return out


def _rebound(old: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """Per row, ``-after - c`` as a build computes it, where ``old = -before - c`` (floating
    point, c unknown): the doubles c that give ``old`` form an interval (the rounding is
    monotone), found by bisection on the doubles' order; None unless both its ends, so every
    c in it, give the same new bound. With ``before`` 0 the interval is c = -old alone (the
    zeros aside); from another allowance it is about an ulp of ``old`` wide, and where
    ``after`` rounds in the same binade its ends can differ (Philly daily: 56 of 92 retries
    have such a row, bench/README.md "Builds (session 9)")."""
    new = np.empty(len(old))
    for i, (lb, a0, a1) in enumerate(zip(old.tolist(), before.tolist(), after.tolist())):
        c = -lb - a0
        if -a0 - c != lb:
            return None
        lo = _last(lambda k: -a0 - _double(k) <= lb, -_MAX_KEY, _key(c), upward=False)
        hi = _last(lambda k: -a0 - _double(k) >= lb, _key(c), _MAX_KEY, upward=True)
        ends = (-a1 - _double(lo), -a1 - _double(hi))
        if _key(ends[0]) != _key(ends[1]) or np.signbit(ends[0]) != np.signbit(ends[1]):
            return None
        new[i] = ends[0]
    return new


_MAX_KEY = 0x7FEFFFFFFFFFFFFF   # the largest finite double's key


def _key(x: float) -> int:
    """An integer that orders doubles as their values (both zeros 0; neighbours differ by 1)."""
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _double(key: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", key if key >= 0 else (-key) | (1 << 63)))[0]


def _last(holds, lo: int, hi: int, upward: bool) -> int:
    """Bisection: ``holds`` is true at the start (``lo`` when ``upward``, else ``hi``) and,
    being monotone, up to some key and false beyond it; that key."""
    while lo < hi:
        if upward:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if holds(mid) else (lo, mid - 1)
        else:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if holds(mid) else (mid + 1, hi)
    return lo


def _allowance(data: ModelData, keys: pd.Index) -> np.ndarray:
    """The floor allowance per floor row, read as model_cover's ``_allowance`` reads it."""
    a = data.floor_allowance
    if not len(a) or not len(keys):
        return np.zeros(len(keys))
    return a.reindex(pd.MultiIndex.from_tuples(list(keys))).fillna(0.0).to_numpy(float)


def _waiver_rows(lp) -> np.ndarray | None:
    """The row of each floor waiver column (in its block's order); None unless each is in
    exactly one row."""
    start, index, _ = lp.csr()
    row_of = np.repeat(np.arange(lp.n_rows), np.diff(start))
    cols = lp.cols(FLOOR_WAIVER)
    pos = np.full(lp.n_cols, -1, np.int64)
    pos[cols] = np.arange(len(cols))
    hit = pos[index] >= 0
    if not np.array_equal(np.bincount(pos[index[hit]], minlength=len(cols)), np.ones(len(cols), np.int64)):
        return None
    out = np.empty(len(cols), np.int64)
    out[pos[index[hit]]] = row_of[hit]
    return out


def _coefficients(lp, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per row of ``rows``, its coefficient on whichever of ``cols`` it holds (0 if none)."""
    start, index, value = lp.csr()
    row_of = np.repeat(np.arange(lp.n_rows), np.diff(start))
    want = np.isin(index, cols)
    out = np.zeros(lp.n_rows)
    np.add.at(out, row_of[want], value[want])
    return out[rows]
