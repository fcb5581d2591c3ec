"""Run a scenario: load its files, forecast, plan (DESIGN.md section 1).

``load_inputs`` reads and validates everything a run needs (the ``validate`` command
stops there); ``run_scenario`` goes on to plan.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import PriceCatalog, open_catalog
from gpuladder.scenarios.schema import Scenario, UsageSpec
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import Forecast, make_forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import PlanningProblem
from gpuladder.solver.plan import Plan, plan_problem
from gpuladder.usage.history import DemandProfile
from gpuladder.usage.inventory import load_inventory
from gpuladder.usage.load import load_usage


@dataclass(frozen=True)
class PlanInputs:
    scenario: Scenario
    catalog: PriceCatalog        # restricted to the families the run involves
    profile: DemandProfile
    inventory: CommitmentBook
    warnings: tuple[str, ...]


def load_inputs(scenario: Scenario) -> PlanInputs:
    """Catalog, usage history (with the scenario's interruptible override) and inventory."""
    specs = (scenario.catalog,) if isinstance(scenario.catalog, str) else tuple(scenario.catalog)
    catalog = open_catalog([s if s == "embedded" else str(scenario.resolve(s)) for s in specs])
    if scenario.usage.path is None:
        raise InputError("the scenario names no usage history", file=scenario.source, column="usage",
                         hint="adding `usage: usage.csv` to the scenario or passing --usage FILE.")
    usage_path = scenario.resolve(scenario.usage.path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile = load_usage(usage_path, families=catalog.family_keys, format=scenario.usage.format,
                             gaps=scenario.usage.gaps)
    notes = tuple(str(w.message) for w in caught)
    profile = apply_interruptible_share(profile, scenario.usage)
    inventory = (load_inventory(scenario.resolve(scenario.inventory), catalog)
                 if scenario.inventory else CommitmentBook.empty())
    fams = set(profile.families) | set(inventory.items["family"]) - {""}
    return PlanInputs(scenario, catalog.subset(fams) if fams else catalog, profile, inventory, notes)


def apply_interruptible_share(profile: DemandProfile, usage: UsageSpec) -> DemandProfile:
    """Override the history's interruptible split where the scenario says so:
    interruptible = share x demand (``UsageSpec.interruptible_share_for``)."""
    if usage.interruptible_share is None:
        return profile
    demand = profile.demand_instances
    inter = profile.interruptible_instances.copy()
    for fam in demand.columns:
        share = usage.interruptible_share_for(fam)
        if share is not None:
            inter[fam] = demand[fam] * float(share)
    return DemandProfile(demand, inter, profile.covered_instances, profile.source, profile.gaps)


def forecast_for(inputs: PlanInputs) -> Forecast:
    sc = inputs.scenario
    return make_forecast(inputs.profile, sc.forecast, sc.horizon)


def problem_for(inputs: PlanInputs, forecast: Forecast) -> PlanningProblem:
    sc = inputs.scenario
    return PlanningProblem(forecast, inputs.catalog, inputs.inventory, sc.products, sc.constraints)


def solver_options(scenario: Scenario) -> SolverOptions:
    s = scenario.solver
    return SolverOptions(s.backend, float(s.time_limit_s), float(s.mip_gap))


def run_scenario(scenario: Scenario) -> Plan:
    """Plan one scenario end to end; every figure of the Plan comes from the simulator."""
    inputs = load_inputs(scenario)
    forecast = forecast_for(inputs)
    notes = inputs.warnings + gap_notes(inputs.profile, scenario.usage.gaps)
    return plan_problem(problem_for(inputs, forecast), solver_options(scenario), scenario=scenario.name,
                        horizon_months=scenario.horizon.months, warnings=notes)


def gap_notes(profile: DemandProfile, policy: str = "mask") -> tuple[str, ...]:
    """One line per gap: missing hours (masked, or read as zero under ``--gaps zero``) and
    runs of hours where every family reads zero (suspected logging gaps, kept as zero)."""
    missing = "no data, read as zero (--gaps zero)" if policy == "zero" else "no data (masked)"
    out = []
    for g in profile.gaps:
        what = missing if g.kind == "missing" else "every family reads zero (suspected logging gap; kept as zero)"
        out.append(f"usage {g.start:%Y-%m-%dT%H:%MZ} to {g.end:%Y-%m-%dT%H:%MZ} ({g.hours} h): {what}")
    return tuple(out)


__all__ = ["PlanInputs", "load_inputs", "run_scenario", "apply_interruptible_share", "forecast_for",
           "problem_for", "solver_options", "gap_notes"]
