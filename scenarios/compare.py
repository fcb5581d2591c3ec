"""Scenarios side by side (``gpuladder compare``).

Each scenario is loaded and planned on its own; one that fails (bad input, infeasible,
solver trouble) is kept as a failed outcome with its reason and exit code, and the
others still run. Every figure comes from each Plan's simulation on its expected path.

Figures beyond the plan KPIs:

* ``committed_usd``: amortized commitment fees inside the horizon (inventory included).
* ``committed_usd_per_hour_at_start``: amortized $/h (recurring + upfront / term hours) of
  the commitments in force at the horizon's first hour.
* ``lock_in_months``: over every commitment in force at some hour of the horizon
  (inventory and purchases, at any ladder step), weighted by its amortized $/h, the
  calendar months from the horizon start until half of that $/h has expired (the
  $/h-weighted median expiry). 0 when nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gpuladder.errors import EXIT_INPUT, EXIT_OK, GpuladderError
from gpuladder.scenarios.runner import run_scenario
from gpuladder.scenarios.schema import Scenario
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.plan import Plan
from gpuladder.units import HOUR, add_months

COMPARE_SCHEMA = "gpuladder.compare/1"


@dataclass(frozen=True)
class CompareFigures:
    cost_usd: float
    on_demand_equivalent_usd: float
    savings_usd: float
    effective_savings_rate: float
    commitment_utilization: float
    coverage: float
    spot_share: float
    upfront_usd: float
    committed_usd: float
    committed_usd_per_hour_at_start: float
    lock_in_months: float
    purchases: int
    expected_cost_usd: float       # over the forecast paths at the forecast's weights
    fees_after_horizon_usd: float  # purchases' amortized fees after the horizon


@dataclass(frozen=True)
class ScenarioOutcome:
    source: str                 # the scenario file as given
    name: str                   # the file's stem when it failed before its name was read
    exit_code: int              # 0: it ran
    error: str | None
    plan: Plan | None
    figures: CompareFigures | None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


@dataclass(frozen=True)
class Comparison:
    outcomes: tuple[ScenarioOutcome, ...]

    @property
    def exit_code(self) -> int:
        """0 when every scenario ran, else the highest exit code among the failures
        (3 infeasible > 2 usage error > 1 input error)."""
        return max((o.exit_code for o in self.outcomes), default=EXIT_OK)


def compare_scenarios(sources: Sequence[str], load: Callable[[str], Scenario],
                      run: Callable[[Scenario], Plan] = run_scenario,
                      progress: Callable[[str], None] | None = None) -> Comparison:
    """Load (``load(source)``) and plan (``run``) each scenario; failures are recorded,
    not raised. Unexpected exceptions (bugs) are recorded as internal errors, exit 1."""
    out = []
    for source in sources:
        name = Path(source).stem
        try:
            scenario = load(source)
            name = scenario.name
            if progress is not None:
                progress(f"planning '{name}' ({source}) ...")
            plan = run(scenario)
        except GpuladderError as exc:
            out.append(ScenarioOutcome(source, name, exc.exit_code, str(exc), None, None))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not stop the others
            out.append(ScenarioOutcome(source, name, EXIT_INPUT,
                                       f"internal error (a bug in gpuladder, please report it): "
                                       f"{type(exc).__name__}: {exc}", None, None))
            continue
        out.append(ScenarioOutcome(source, plan.scenario, EXIT_OK, None, plan, plan_figures(plan)))
    return Comparison(tuple(out))


def plan_figures(plan: Plan) -> CompareFigures:
    k = plan.simulation.kpis
    start, end = plan.horizon_start, plan.horizon_end
    return CompareFigures(
        cost_usd=k.cost_usd, on_demand_equivalent_usd=k.on_demand_equivalent_usd, savings_usd=k.savings_usd,
        effective_savings_rate=k.effective_savings_rate, commitment_utilization=k.commitment_utilization,
        coverage=k.coverage, spot_share=k.spot_share, upfront_usd=k.upfront_usd,
        committed_usd=k.commitment_fees_usd,
        committed_usd_per_hour_at_start=committed_usd_per_hour_at(plan.book, start),
        lock_in_months=lock_in_months(plan.book, start, end),
        purchases=len(plan.purchases), expected_cost_usd=plan.expected_cost_usd,
        fees_after_horizon_usd=plan.fees_after_horizon_usd)


def committed_usd_per_hour_at(book: CommitmentBook, when: pd.Timestamp) -> float:
    """Amortized $/h of the commitments in force at ``when`` (start <= when < end)."""
    it = book.items
    if it.empty:
        return 0.0
    in_force = ((it["start"] <= when) & (it["end"] > when)).to_numpy()
    return float(book.amortized_usd_per_hour().to_numpy()[in_force].sum())


def lock_in_months(book: CommitmentBook, horizon_start: pd.Timestamp, horizon_end: pd.Timestamp) -> float:
    """Calendar months from ``horizon_start`` until half of the amortized $/h of every
    commitment in force during the horizon has expired (see the module docstring)."""
    it = book.items
    if it.empty:
        return 0.0
    rate = book.amortized_usd_per_hour()
    live = (it["start"] < horizon_end) & (it["end"] > horizon_start) & (rate > 0)
    if not live.any():
        return 0.0
    table = pd.DataFrame({"end": it.loc[live, "end"], "rate": rate[live]}).sort_values("end")
    expired = table["rate"].cumsum().to_numpy()
    half = 0.5 * expired[-1]
    k = int((expired < half * (1 - 1e-12)).sum())
    return calendar_months(horizon_start, table["end"].iloc[k])


def calendar_months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Months from ``start`` to ``end``: whole calendar months, plus the elapsed share of the
    month that follows (12 months after 2026-01-01 is 12.0; 2026-01-16 is about 0.48)."""
    if end <= start:
        return 0.0
    whole = (end.year - start.year) * 12 + (end.month - start.month)
    while add_months(start, whole) > end:
        whole -= 1
    a, b = add_months(start, whole), add_months(start, whole + 1)
    return whole + ((end - a) / HOUR) / ((b - a) / HOUR)


__all__ = ["COMPARE_SCHEMA", "CompareFigures", "Comparison", "ScenarioOutcome", "compare_scenarios",
           "plan_figures", "committed_usd_per_hour_at", "lock_in_months", "calendar_months"]
