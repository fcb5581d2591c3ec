"""Solver backends: translate a LinearProgram, solve, map the status to SolveStatus.

All solver I/O lives here. ``solve(lp, options)`` picks the backend by name:
``highs`` (highspy, default), ``cbc`` (PuLP's bundled CBC), ``ortools`` (OR-Tools'
MIP interface with SCIP).
"""

from __future__ import annotations

from gpuladder.errors import InputError
from gpuladder.solver.lp import LinearProgram, Solution, SolverOptions

BACKENDS = ("highs", "cbc", "ortools")


def solve(lp: LinearProgram, options: SolverOptions) -> Solution:
    name = options.backend
    if name == "highs":
        from gpuladder.solver.backends.highs import solve_highs as fn
    elif name == "cbc":
        from gpuladder.solver.backends.cbc import solve_cbc as fn
    elif name == "ortools":
        from gpuladder.solver.backends.ortools import solve_ortools as fn
    else:
        raise InputError(f"unknown solver backend '{name}'", column="solver.backend",
                         hint=f"choosing one of {', '.join(BACKENDS)}.")
    return fn(lp, options)


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
