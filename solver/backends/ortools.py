"""OR-Tools' linear solver wrapper with SCIP (CP-SAT only takes integer coefficients)."""

from __future__ import annotations

import time

import numpy as np

from gpuladder.errors import DomainError
from gpuladder.solver.backends.threads import wait_for_solve
from gpuladder.solver.lp import LinearProgram, Solution, SolveStatus, SolverOptions


def map_status(code: int) -> SolveStatus:
    """pywraplp result code -> SolveStatus (FEASIBLE: stopped by the time limit with a plan)."""
    from ortools.linear_solver import pywraplp

    return {pywraplp.Solver.OPTIMAL: SolveStatus.OPTIMAL, pywraplp.Solver.FEASIBLE: SolveStatus.TIME_LIMIT,
            pywraplp.Solver.INFEASIBLE: SolveStatus.INFEASIBLE, pywraplp.Solver.UNBOUNDED: SolveStatus.UNBOUNDED,
            pywraplp.Solver.NOT_SOLVED: SolveStatus.NO_SOLUTION}.get(code, SolveStatus.ERROR)


def solve_ortools(lp: LinearProgram, options: SolverOptions) -> Solution:
    from ortools.linear_solver import pywraplp

    t0 = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        raise DomainError("OR-Tools was built without SCIP; choose --backend highs or cbc")
    inf = solver.infinity()
    lb, ub, integ = lp.col_lb, lp.col_ub, lp.integrality
    xs = [solver.Var(-inf if np.isinf(lb[i]) else float(lb[i]), inf if np.isinf(ub[i]) else float(ub[i]),
                     bool(integ[i]), f"x{i}") for i in range(lp.n_cols)]
    start, index, value = lp.csr()
    rlb = np.where(np.isinf(lp.row_lb), -inf, lp.row_lb)
    rub = np.where(np.isinf(lp.row_ub), inf, lp.row_ub)
    for r in range(lp.n_rows):
        ct = solver.Constraint(float(rlb[r]), float(rub[r]), f"r{r}")
        for k in range(start[r], start[r + 1]):
            ct.SetCoefficient(xs[index[k]], float(value[k]))
    objective = solver.Objective()
    for i in np.flatnonzero(lp.cost):
        objective.SetCoefficient(xs[i], float(lp.cost[i]))
    objective.SetOffset(float(lp.constant))
    objective.SetMinimization()
    solver.SetTimeLimit(int(options.time_limit_s * 1000))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, float(options.mip_gap))
    code = _solve(solver, params)
    st = map_status(code)
    x = np.array([v.solution_value() for v in xs], float) if st in (SolveStatus.OPTIMAL,
                                                                    SolveStatus.TIME_LIMIT) else None
    if lp.n_cols == 0:
        st, x = SolveStatus.OPTIMAL, np.zeros(0)
    obj = float(lp.cost @ x + lp.constant) if x is not None else None
    gap = None
    if x is not None and integ.any() and obj is not None:
        bound = objective.BestBound()
        gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else None
    elif x is not None:
        gap = 0.0
    return Solution(st, x, obj, gap, time.perf_counter() - t0, "ortools", str(code))


def _solve(solver, params) -> int:
    """``solver.Solve(params)``, interruptible (``wait_for_solve``: the interrupt asks SCIP to
    stop). SCIP's own Ctrl-C handler is off: it took the signal from Python, printed to
    stdout and returned its best plan as if the time limit had stopped it, so an
    interrupted plan exited 0 with that plan (measured)."""
    if not solver.SetSolverSpecificParametersAsString("misc/catchctrlc = FALSE\n"):
        raise DomainError("this OR-Tools' SCIP refuses misc/catchctrlc; choose --backend highs")
    box: dict = {}
    wait_for_solve(lambda: box.setdefault("code", solver.Solve(params)), solver.InterruptSolve)
    return box["code"]
