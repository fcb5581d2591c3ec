"""HiGHS through highspy: the whole matrix is passed in one call (no per-variable objects).

Large MILPs (``SolverOptions.relax_and_fix_columns``) are first solved by relax-and-fix
on one HiGHS instance: the LP relaxation by interior point + crossover (about twice as
fast as dual simplex on the layer models), then the integer columns rounded and fixed
and the LP re-solved by dual simplex warm-started from that basis; if that misses, a
dive (fix the integral purchases and the least fractional half of the others, re-solve,
repeat), then a small MIP where only the purchases of families with a fractional one (or, if that is
more than a quarter of them, only the fractional purchases) are free. A plan within
``mip_gap`` of the relaxation's bound is optimal within the gap, as a MIP solver's
answer would be; otherwise the full MIP runs with the time left, seeded with the best
plan found, which is returned (marked time_limit) if the MIP finds nothing better. The
small and the full MIP start only with at least ``MIP_STAGE_RELAXATIONS`` times the
relaxation's time left; with less, the best plan found so far is returned (time_limit).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from gpuladder.solver.backends.threads import CANCEL_WAIT_S, INTERRUPT_POLL_S, SOLVE_THREAD_NAME
from gpuladder.solver.lp import LinearProgram, Solution, SolveStatus, SolverOptions

LARGE_LP_COLUMNS = 20_000
# A MIP stage after relax-and-fix starts only with this many times the relaxation's time
# left: its root LP alone takes about as long, and HiGHS checks its time limit only after
# it (a 100-family, 3-path plan's MIP stages overran limits of 11-29 s by 11-15 s).
MIP_STAGE_RELAXATIONS = 2.0
_STDOUT_LOCK = threading.Lock()   # _quiet_highs swaps the process's fd 1; one thread at a time


def solve_highs(lp: LinearProgram, options: SolverOptions) -> Solution:
    import highspy

    t0 = time.perf_counter()
    h = _model(highspy, lp, options)
    integ = np.flatnonzero(lp.integrality)
    big = options.relax_and_fix_columns is not None and lp.n_cols >= options.relax_and_fix_columns
    start = None
    if len(integ) and big:
        sol, relax_s = _relax_and_fix(highspy, h, lp, options, integ, t0)
        if isinstance(sol, Solution) and sol.status != SolveStatus.TIME_LIMIT:
            return sol
        start = sol
        left = options.time_limit_s - (time.perf_counter() - t0)
        if start is not None and left < MIP_STAGE_RELAXATIONS * relax_s:
            return _best_so_far(start, t0)
        h = _model(highspy, lp, replace_time(options, left))
    elif not len(integ) and lp.n_cols >= LARGE_LP_COLUMNS:
        h.setOptionValue("solver", "ipm")
    if len(integ):
        h.changeColsIntegrality(len(integ), integ.astype(np.int32),
                                np.full(len(integ), highspy.HighsVarType.kInteger.value, np.uint8))
    if start is not None:
        h.setSolution(_highs_solution(highspy, start.x))
    _run(h)
    sol = _read(highspy, h, lp, len(integ) > 0, t0)
    if start is not None and (not sol.has_solution or sol.objective > start.objective):
        return _best_so_far(start, t0)
    return sol


def _best_so_far(start: Solution, t0: float) -> Solution:
    return Solution(SolveStatus.TIME_LIMIT, start.x, start.objective, start.gap, time.perf_counter() - t0,
                    "highs", "time limit: best relax-and-fix plan")


def _highs_solution(highspy, x: np.ndarray):
    sol = highspy.HighsSolution()
    sol.col_value = list(x)
    sol.value_valid = True
    return sol


def replace_time(options: SolverOptions, seconds: float) -> SolverOptions:
    return SolverOptions(options.backend, max(seconds, 1.0), options.mip_gap, options.relax_and_fix_columns)


def map_status(highspy, status, has_primal: bool) -> SolveStatus:
    """HiGHS model status -> SolveStatus. A run stopped by a limit is TIME_LIMIT when it
    holds a feasible plan, NO_SOLUTION otherwise."""
    S = highspy.HighsModelStatus
    if status == S.kOptimal:
        return SolveStatus.OPTIMAL
    if status == S.kInfeasible:
        return SolveStatus.INFEASIBLE
    if status in (S.kUnbounded, S.kUnboundedOrInfeasible):
        return SolveStatus.UNBOUNDED
    if status in (S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt):
        return SolveStatus.TIME_LIMIT if has_primal else SolveStatus.NO_SOLUTION
    if status == S.kModelEmpty:
        return SolveStatus.OPTIMAL
    return SolveStatus.ERROR


def _model(highspy, lp: LinearProgram, options: SolverOptions):
    h = _quiet_highs(highspy)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    inf = highspy.kHighsInf
    col_lb = np.where(np.isinf(lp.col_lb), -inf, lp.col_lb)
    col_ub = np.where(np.isinf(lp.col_ub), inf, lp.col_ub)
    h.addCols(lp.n_cols, lp.cost, col_lb, col_ub, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    if lp.n_rows:
        start, index, value = lp.csr()
        row_lb = np.where(np.isinf(lp.row_lb), -inf, lp.row_lb)
        row_ub = np.where(np.isinf(lp.row_ub), inf, lp.row_ub)
        h.addRows(lp.n_rows, row_lb, row_ub, len(value), start[:-1].astype(np.int32),
                  index.astype(np.int32), value)
    return h


def _read(highspy, h, lp: LinearProgram, is_mip: bool, t0: float, gap=None, message=None) -> Solution:
    status = h.getModelStatus()
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    st = map_status(highspy, status, has_primal)
    x = np.asarray(h.getSolution().col_value, float) if has_primal else None
    if status == highspy.HighsModelStatus.kModelEmpty:
        x = np.zeros(lp.n_cols)
    if st in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED, SolveStatus.NO_SOLUTION, SolveStatus.ERROR):
        x = None
    if gap is None and x is not None:
        gap = (float(info.mip_gap) if np.isfinite(info.mip_gap) else None) if is_mip else 0.0
    obj = float(lp.cost @ x + lp.constant) if x is not None else None
    return Solution(st, x, obj, gap, time.perf_counter() - t0, "highs", message or h.modelStatusToString(status))


def _relax_and_fix(highspy, h, lp: LinearProgram, options: SolverOptions, integ: np.ndarray, t0: float):
    """(An optimal (within the gap) Solution, the relaxation's INFEASIBLE/UNBOUNDED
    Solution, the best incumbent found marked TIME_LIMIT (to seed the full MIP), or None;
    the seconds the relaxation took)."""
    h.setOptionValue("solver", "ipm")
    t_relax = time.perf_counter()
    _run(h)
    relax_s = time.perf_counter() - t_relax
    relaxed = _read(highspy, h, lp, False, t0)
    if relaxed.status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED):
        return relaxed, relax_s
    if not relaxed.has_solution or relaxed.status != SolveStatus.OPTIMAL:
        return None, relax_s
    bound = relaxed.objective
    h.setOptionValue("solver", "simplex")
    best = None

    def left() -> float:
        return max(options.time_limit_s - (time.perf_counter() - t0), 1.0)

    def consider(sol: Solution):
        nonlocal best
        if not sol.has_solution:
            return False
        gap = max(0.0, (sol.objective - bound) / max(abs(sol.objective), 1e-9))
        if best is None or sol.objective < best.objective:
            best = Solution(SolveStatus.TIME_LIMIT, sol.x, sol.objective, gap, sol.seconds, "highs", "")
        return gap <= options.mip_gap

    lb0, ub0 = lp.col_lb[integ], lp.col_ub[integ]
    xi = relaxed.x[integ]
    for rounded in (np.round(xi), np.floor(xi + 1e-6)):
        fixed = np.clip(rounded, lb0, ub0)
        h.setOptionValue("time_limit", left())
        h.changeColsBounds(len(integ), integ.astype(np.int32), fixed, fixed)
        _run(h)
        if consider(_read(highspy, h, lp, False, t0)):
            return _certified(best, t0, "relaxation rounded within the gap"), relax_s
    if consider(_dive(highspy, h, lp, integ, relaxed.x, lb0, ub0, left, t0)):
        return _certified(best, t0, "relaxation dived to integers within the gap"), relax_s
    if best is not None and left() < MIP_STAGE_RELAXATIONS * relax_s:
        return best, relax_s
    # a small MIP: the integer columns of every group (family) with a fractional one are free,
    # the others stay at their (integral) relaxation values
    frac = np.abs(xi - np.round(xi)) > 1e-6
    group = lp.col_group[integ]
    families = frac | (np.isin(group, group[frac & (group >= 0)]) & (group >= 0))
    if families.sum() <= 0.25 * len(integ):   # whole families when that keeps the MIP small
        frac = families
    lo = np.where(frac, lb0, np.clip(np.round(xi), lb0, ub0))
    hi = np.where(frac, ub0, np.clip(np.round(xi), lb0, ub0))
    h.changeColsBounds(len(integ), integ.astype(np.int32), lo, hi)
    free = integ[frac]
    h.changeColsIntegrality(len(free), free.astype(np.int32),
                            np.full(len(free), highspy.HighsVarType.kInteger.value, np.uint8))
    h.setOptionValue("time_limit", left() / 2)
    h.setOptionValue("mip_rel_gap", float(options.mip_gap) / 2)
    if best is not None:
        h.setSolution(_highs_solution(highspy, best.x))
    _run(h)
    if consider(_read(highspy, h, lp, True, t0)):
        return (_certified(best, t0, "relaxation with its fractional purchases solved as a MIP, within the gap"),
                relax_s)
    return best, relax_s


def _dive(highspy, h, lp: LinearProgram, integ: np.ndarray, x: np.ndarray, lb0, ub0, left, t0,
          rounds: int = 8) -> Solution:
    """Fix the integer columns that are integral, round the least fractional half of the
    others, re-solve the LP warm-started, and repeat; the last round rounds the rest."""
    lo, hi = lb0.copy(), ub0.copy()
    sol = None
    for r in range(rounds):
        xi = x[integ]
        dist = np.abs(xi - np.round(xi))
        frac = dist > 1e-6
        fix = ~frac
        if frac.any() and r < rounds - 1:
            cut = np.quantile(dist[frac], 0.5)
            fix |= frac & (dist <= cut)
        else:
            fix[:] = True
        val = np.clip(np.round(xi), lb0, ub0)
        lo = np.where(fix, val, lo)
        hi = np.where(fix, val, hi)
        h.setOptionValue("time_limit", left())
        h.changeColsBounds(len(integ), integ.astype(np.int32), lo, hi)
        _run(h)
        sol = _read(highspy, h, lp, False, t0)
        if sol.status != SolveStatus.OPTIMAL or fix.all():
            return sol
        x = sol.x
    return sol


def _run(h) -> None:
    """``h.run()``; on the main thread the solve runs on a daemon thread (highspy's
    ``startSolve``) while this one waits in short steps, so that Ctrl-C and SIGTERM reach
    the program at once: a signal's Python handler runs only between the main thread's
    bytecodes, and one MIP solve can take the whole time limit (48 s after a SIGTERM,
    measured). The interrupt asks HiGHS to stop, waits up to CANCEL_WAIT_S for it, and
    propagates; a solve still running then is left to ``solve_still_running``'s caller."""
    if threading.current_thread() is not threading.main_thread():
        h.run()
        return
    h.HandleUserInterrupt = True
    h.startSolve().name = SOLVE_THREAD_NAME
    try:
        while not h.wait(INTERRUPT_POLL_S)[0]:
            pass
    except BaseException:
        h.cancelSolve()
        h.wait(CANCEL_WAIT_S)
        raise


def _certified(best: Solution, t0: float, message: str) -> Solution:
    return Solution(SolveStatus.OPTIMAL, best.x, best.objective, best.gap, time.perf_counter() - t0, "highs", message)


def _quiet_highs(highspy):
    """A Highs instance; its one-time banner goes to /dev/null instead of our stdout (data
    goes to stdout, so nothing else may print there)."""
    with _STDOUT_LOCK:
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
