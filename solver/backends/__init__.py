"""Solver backends: translate a LinearProgram, solve, map the status to SolveStatus.

All solver I/O lives here. ``solve(lp, options)`` picks the backend by name:
``highs`` (highspy, default), ``cbc`` (PuLP's bundled CBC), ``ortools`` (OR-Tools'
MIP interface with SCIP).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from gpuladder.errors import InputError
from gpuladder.solver.lp import LinearProgram, Solution, SolveStatus, SolverOptions

BACKENDS = ("highs", "cbc", "ortools")


def solve(lp: LinearProgram, options: SolverOptions) -> Solution:
    fn = _backend(options.backend)
    big = options.relax_and_fix_columns is not None and lp.n_cols >= options.relax_and_fix_columns
    if big and lp.integrality.any():
        labels = lp.components()
        if len(np.unique(labels[lp.integrality])) > 1:
            return solve_blocks(lp, labels, options, fn)
    if big and lp.integrality.any() and options.backend != "highs":   # HiGHS does it warm-started
        return relax_and_fix(lp, options, fn)
    return fn(lp, options)


def solve_blocks(lp: LinearProgram, labels: np.ndarray, options: SolverOptions, fn) -> Solution:
    """A MILP whose matrix falls into independent blocks (families no savings plan couples)
    is solved block by block: exact, and far easier than one branch-and-bound over every
    block at once. Blocks without integer columns are solved together as one LP."""
    t0 = time.perf_counter()
    with_int = np.unique(labels[lp.integrality])
    parts = [np.flatnonzero(labels == b) for b in with_int]
    rest = np.flatnonzero(~np.isin(labels, with_int))
    if len(rest):
        parts.append(rest)
    x = np.zeros(lp.n_cols)
    status, abs_gap = SolveStatus.OPTIMAL, 0.0
    for cols in parts:
        left = max(options.time_limit_s - (time.perf_counter() - t0), 1.0)
        sub = lp.subproblem(cols)
        sol = fn(sub, replace(options, time_limit_s=left))
        if sol.status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED, SolveStatus.NO_SOLUTION,
                          SolveStatus.ERROR):
            return Solution(sol.status, None, None, None, time.perf_counter() - t0, sol.backend, sol.message)
        x[cols] = sol.x
        if sol.status == SolveStatus.TIME_LIMIT:
            status = SolveStatus.TIME_LIMIT
        abs_gap += (sol.gap or 0.0) * abs(sol.objective) if sol.gap is not None else np.nan
    objective = float(lp.cost @ x + lp.constant)
    gap = abs_gap / max(abs(objective), 1e-9) if np.isfinite(abs_gap) else None
    return Solution(status, x, objective, gap, time.perf_counter() - t0, options.backend,
                    f"{len(parts)} independent blocks")


def _backend(name: str):
    if name == "highs":
        from gpuladder.solver.backends.highs import solve_highs as fn
    elif name == "cbc":
        from gpuladder.solver.backends.cbc import solve_cbc as fn
    elif name == "ortools":
        from gpuladder.solver.backends.ortools import solve_ortools as fn
    else:
        raise InputError(f"unknown solver backend '{name}'", column="solver.backend",
                         hint=f"choosing one of {', '.join(BACKENDS)}.")
    return fn


def relax_and_fix(lp: LinearProgram, options: SolverOptions, fn) -> Solution:
    """Large models: solve the LP relaxation (a bound), round its integer columns (to the
    nearest integer, else down) and re-solve with them fixed. When an incumbent is within
    ``mip_gap`` of the bound it is returned as optimal (the same promise a MIP solver's
    'optimal' makes); otherwise the full MIP runs with the time left, starting over, and
    the better of the two plans is returned."""
    t0 = time.perf_counter()

    def left() -> float:
        return max(options.time_limit_s - (time.perf_counter() - t0), 1.0)

    relaxed = fn(lp.with_columns(integer=np.zeros(lp.n_cols, bool)), replace(options, time_limit_s=left()))
    if relaxed.status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED):
        return replace(relaxed, seconds=time.perf_counter() - t0)
    best = None
    if relaxed.has_solution:
        bound = float(relaxed.objective)
        ints = np.flatnonzero(lp.integrality)
        for rounded in (np.round(relaxed.x[ints]), np.floor(relaxed.x[ints] + 1e-6)):
            lb, ub = lp.col_lb.copy(), lp.col_ub.copy()
            lb[ints] = ub[ints] = np.clip(rounded, lp.col_lb[ints], lp.col_ub[ints])
            fixed = fn(lp.with_columns(lb, ub, np.zeros(lp.n_cols, bool)), replace(options, time_limit_s=left()))
            if fixed.status != SolveStatus.OPTIMAL:
                continue
            gap = max(0.0, (fixed.objective - bound) / max(abs(fixed.objective), 1e-9))
            if best is None or fixed.objective < best.objective:
                best = replace(fixed, gap=gap)
            if gap <= options.mip_gap:
                return replace(best, status=SolveStatus.OPTIMAL, seconds=time.perf_counter() - t0,
                               message="relaxation rounded within the gap")
    full = fn(lp, replace(options, time_limit_s=left()))
    if full.has_solution and (best is None or full.objective <= best.objective):
        return replace(full, seconds=time.perf_counter() - t0)
    if best is not None:
        return replace(best, status=SolveStatus.TIME_LIMIT, seconds=time.perf_counter() - t0,
                       message="time limit: best rounded plan")
    return replace(full, seconds=time.perf_counter() - t0)


def available_backends() -> list[str]:
    """Backends whose solver library imports on this machine."""
    out = []
    for name, module in (("highs", "highspy"), ("cbc", "pulp"), ("ortools", "ortools.linear_solver.pywraplp")):
        try:
            __import__(module)
        except ImportError:
            continue
        out.append(name)
    return out
