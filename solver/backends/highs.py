"""HiGHS through highspy: the whole matrix is passed in one call (no per-variable objects)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from gpuladder.solver.lp import LinearProgram, Solution, SolveStatus, SolverOptions


def solve_highs(lp: LinearProgram, options: SolverOptions) -> Solution:
    import highspy

    t0 = time.perf_counter()
    h = _quiet_highs(highspy)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    h.setOptionValue("threads", 1)
    n = lp.n_cols
    inf = highspy.kHighsInf
    col_lb = np.where(np.isinf(lp.col_lb), -inf, lp.col_lb)
    col_ub = np.where(np.isinf(lp.col_ub), inf, lp.col_ub)
    h.addCols(n, lp.cost, col_lb, col_ub, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    if lp.n_rows:
        start, index, value = lp.csr()
        row_lb = np.where(np.isinf(lp.row_lb), -inf, lp.row_lb)
        row_ub = np.where(np.isinf(lp.row_ub), inf, lp.row_ub)
        h.addRows(lp.n_rows, row_lb, row_ub, len(value), start[:-1].astype(np.int32),
                  index.astype(np.int32), value)
    integ = np.flatnonzero(lp.integrality)
    if len(integ):
        h.changeColsIntegrality(len(integ), integ.astype(np.int32),
                                np.full(len(integ), highspy.HighsVarType.kInteger.value, np.uint8))
    h.run()
    status = h.getModelStatus()
    S = highspy.HighsModelStatus
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, float) if has_primal else None
    gap = None
    if len(integ) and x is not None:
        gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    elif x is not None:
        gap = 0.0
    if status == S.kOptimal:
        st = SolveStatus.OPTIMAL
    elif status in (S.kInfeasible,):
        st, x = SolveStatus.INFEASIBLE, None
    elif status in (S.kUnbounded, S.kUnboundedOrInfeasible):
        st, x = SolveStatus.UNBOUNDED, None
    elif status in (S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt):
        st = SolveStatus.TIME_LIMIT if x is not None else SolveStatus.NO_SOLUTION
    elif status == S.kModelEmpty:
        st, x, gap = SolveStatus.OPTIMAL, np.zeros(n), 0.0
    else:
        st, x = SolveStatus.ERROR, None
    obj = float(lp.cost @ x + lp.constant) if x is not None else None
    return Solution(st, x, obj, gap, time.perf_counter() - t0, "highs", h.modelStatusToString(status))


def _quiet_highs(highspy):
    """A Highs instance; its one-time banner goes to /dev/null instead of our stdout (data
    goes to stdout, so nothing else may print there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h
