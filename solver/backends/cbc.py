"""CBC through PuLP (bundled with pulp 3.x). Variables are positional (x0, x1, ...):
family keys never become solver names."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from gpuladder.errors import DomainError
from gpuladder.solver.backends.threads import run_solver_process
from gpuladder.solver.lp import LinearProgram, Solution, SolveStatus, SolverOptions


def to_pulp(lp: LinearProgram):
    """Build a pulp.LpProblem column-wise from the matrix (one LpAffineExpression per row)."""
    import pulp

    prob = pulp.LpProblem("gpuladder", pulp.LpMinimize)
    lb, ub, integ = lp.col_lb, lp.col_ub, lp.integrality
    xs = [prob.add_variable(f"x{i}", None if np.isinf(lb[i]) else float(lb[i]),
                            None if np.isinf(ub[i]) else float(ub[i]),
                            pulp.LpInteger if integ[i] else pulp.LpContinuous) for i in range(lp.n_cols)]
    c = lp.cost
    nz = np.flatnonzero(c)
    prob += pulp.LpAffineExpression([(xs[i], float(c[i])) for i in nz]) + lp.constant
    start, index, value = lp.csr()
    rlb, rub = lp.row_lb, lp.row_ub
    for r in range(lp.n_rows):
        expr = pulp.LpAffineExpression([(xs[index[k]], float(value[k])) for k in range(start[r], start[r + 1])])
        if np.isfinite(rlb[r]) and np.isfinite(rub[r]) and rlb[r] == rub[r]:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{r}", float(rlb[r]))
            continue
        if np.isfinite(rlb[r]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{r}_lo", float(rlb[r]))
        if np.isfinite(rub[r]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{r}_up", float(rub[r]))
    return prob, xs


def map_status(status: int, sol_status: int) -> SolveStatus:
    """PuLP's (status, sol_status) after CBC -> SolveStatus. CBC stopped by its time limit
    with an integer solution reports status 1 and sol_status 2 (integer feasible)."""
    import pulp

    if status == pulp.LpStatusOptimal and sol_status == pulp.LpSolutionOptimal:
        return SolveStatus.OPTIMAL
    if sol_status == pulp.LpSolutionIntegerFeasible or (status == pulp.LpStatusOptimal
                                                        and sol_status != pulp.LpSolutionNoSolutionFound):
        return SolveStatus.TIME_LIMIT
    if status == pulp.LpStatusInfeasible or sol_status == pulp.LpSolutionInfeasible:
        return SolveStatus.INFEASIBLE
    if status == pulp.LpStatusUnbounded or sol_status == pulp.LpSolutionUnbounded:
        return SolveStatus.UNBOUNDED
    return SolveStatus.NO_SOLUTION


def solve_cbc(lp: LinearProgram, options: SolverOptions) -> Solution:
    import pulp

    t0 = time.perf_counter()
    prob, xs = to_pulp(lp)
    with warnings.catch_warnings():   # the CBC bundled with PuLP 3.x (DESIGN.md section 5: pulp<4)
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=options.time_limit_s, gapRel=options.mip_gap)
    _run_cbc(prob, solver, options)
    st = map_status(prob.status, prob.sol_status)
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs], float)
    if st not in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT):
        x = None
    if lp.n_cols == 0:
        st, x = SolveStatus.OPTIMAL, np.zeros(0)
    obj = float(lp.cost @ x + lp.constant) if x is not None else None
    gap = 0.0 if st == SolveStatus.OPTIMAL else None
    return Solution(st, x, obj, gap, time.perf_counter() - t0, "cbc", pulp.LpStatus[prob.status])


def _run_cbc(prob, solver, options: SolverOptions) -> None:
    """What ``prob.solve(solver)`` does (the model as MPS, CBC's command line, its solution
    read back into ``prob``), with the CBC process ours: an interrupt stops it, where PuLP's
    own call left it running out its time limit after the program had exited (measured:
    the orphan still ran 0.5 s after a SIGTERM'd plan exited 143), and its files go with
    the scratch folder."""
    if not solver.available():
        raise DomainError(f"the CBC bundled with PuLP cannot run here ({solver.path}); choose --backend highs")
    folder = tempfile.mkdtemp(prefix="gpuladder-cbc-")
    try:
        mps, sol = os.path.join(folder, "model.mps"), os.path.join(folder, "model.sol")
        vs, var_names, row_names, _ = prob.writeMPS(mps, rename=1)
        code = run_solver_process([solver.path, mps, "-sec", str(options.time_limit_s), "-ratio", str(options.mip_gap),
                                   "-timeMode", "elapsed", "-solve", "-printingOptions", "all", "-solution", sol],
                                  folder)
        if code != 0 or not os.path.exists(sol):
            raise DomainError(f"CBC stopped with exit code {code} and no solution; choose --backend highs")
        status, values, _, _, _, sol_status = solver.readsol_MPS(sol, prob, vs, var_names, row_names)
        prob.assignVarsVals(values)
        prob.assignStatus(status, sol_status)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
