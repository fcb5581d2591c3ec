"""Infeasible scenarios: name the constraint groups to relax.

The model is re-solved as an LP with every optional constraint group made soft
(slack columns priced far above any plan cost); the groups whose slack is non-zero
are the ones the scenario must relax.
"""

from __future__ import annotations

import numpy as np

from gpuladder.solver.lp import LinearProgram, SolverOptions

# constraint group -> the scenario setting that controls it
GROUP_SETTINGS = {
    "utilization_floor": "constraints.min_utilization (or forecast.conservative_quantile)",
    "budget_upfront": "constraints.max_upfront_usd_per_quarter",
    "budget_committed": "constraints.max_committed_usd_per_hour",
    "ladder_expiring": "constraints.max_expiring_share_per_quarter",
    "ladder_bought": "constraints.max_bought_share_per_step",
}
STRUCTURAL = {"reservation_capacity", "savings_plan_capacity", "type_balance", "dispatch_order",
              "commitment_balance"}


def diagnose_infeasible(lp: LinearProgram, options: SolverOptions) -> list[str]:
    from gpuladder.solver.backends import solve

    soft = [g for g in lp.groups() if g not in STRUCTURAL]
    penalty = 1e6 * max(1.0, float(np.abs(lp.cost).max(initial=0.0)))
    relaxed, slacks = lp.softened(soft, penalty)
    relaxed_lp = relaxed.with_columns(integer=np.zeros(relaxed.n_cols, bool))
    sol = solve(relaxed_lp, SolverOptions("highs", options.time_limit_s, options.mip_gap))
    if sol.x is None:
        return [GROUP_SETTINGS.get(g, g) for g in soft] or ["the scenario's constraints"]
    hit = [g for g, cols in slacks.items() if np.abs(sol.x[cols]).max(initial=0.0) > 1e-6]
    return [GROUP_SETTINGS.get(g, g) for g in sorted(hit)] or ["the scenario's constraints (no single group)"]
