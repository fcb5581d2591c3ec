"""Run a scenario: load its files, forecast, plan (DESIGN.md section 1).

``load_inputs`` reads and validates everything a run needs (the ``validate`` command
stops there); ``run_scenario`` goes on to plan.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from gpuladder.errors import DomainError, InputError, did_you_mean
from gpuladder.pricing.catalog import PriceCatalog, open_catalog
from gpuladder.scenarios.checks import SET_LABEL
from gpuladder.scenarios.schema import OTHER_FAMILIES_KEY, Scenario, UsageSpec
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import Forecast, make_forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import PlanningProblem, allowed_products, scenario_problem, steps_to_buy
from gpuladder.solver.plan import Plan, plan_problem
from gpuladder.solver.quarters import quarter_ids
from gpuladder.units import HOUR, MAX_INSTANCES, add_months
from gpuladder.usage.history import ALL_ZERO_GAP_MIN_HOURS, DemandProfile
from gpuladder.usage.inventory import load_inventory
from gpuladder.usage.load import load_usage

KNOWN_PROVIDERS = ("aws", "azure", "gcp")  # a filter may name one the catalog at hand lacks
CATALOG_FILES = ("families.csv", "commitments.csv")


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
    for i, spec in enumerate(specs):
        if spec != "embedded":
            _check_path(scenario, "catalog" if len(specs) == 1 else f"catalog[{i}]", scenario.resolve(spec),
                        "catalog folder", CATALOG_FILES)
    catalog = open_catalog([s if s == "embedded" else str(scenario.resolve(s)) for s in specs])
    if scenario.usage.path is None:
        raise InputError("the scenario names no usage history", file=scenario.where("usage"), column="usage",
                         hint="adding `usage: usage.csv` to the scenario or passing --usage FILE.")
    usage_path = scenario.resolve(scenario.usage.path)
    _check_path(scenario, "usage.path", usage_path, "usage file")
    if scenario.inventory:
        _check_path(scenario, "inventory", scenario.resolve(scenario.inventory), "inventory file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile = load_usage(usage_path, families=catalog.family_keys, format=scenario.usage.format,
                             gaps=scenario.usage.gaps)
        inventory = (load_inventory(scenario.resolve(scenario.inventory), catalog)
                     if scenario.inventory else CommitmentBook.empty())
    notes = tuple(str(w.message) for w in caught)
    profile, cut = usage_until(profile, scenario)
    notes += cut
    profile = apply_interruptible_share(profile, scenario.usage)
    fams = set(profile.families) | set(inventory.items["family"]) - {""}
    fams |= _held_plan_families(inventory, catalog, fams)
    notes += (scenario_catalog_notes(scenario, catalog, fams) + spot_price_notes(profile, catalog)
              + covered_notes(profile, inventory))
    return PlanInputs(scenario, catalog.subset(fams) if fams else catalog, profile, inventory, notes)


def _check_path(scenario: Scenario, key: str, path: Path, what: str, inside: tuple[str, ...] = ()) -> None:
    """A path of the scenario that does not exist (or a catalog folder without its files):
    the error names the path looked for, where it was written (file and line, --set item or
    command-line option) and what a relative path there is relative to."""
    missing = [path / name for name in inside if path.is_dir() and not (path / name).exists()]
    if path.exists() and not missing:
        return
    where = scenario.where(key)
    if where.startswith("--"):
        given = "--set" if where.startswith(SET_LABEL) else where.split(" ")[0]
        relative = f"a relative path given with {given} is relative to the current directory ({Path.cwd()})"
    else:
        file = Path(where.rsplit(", line ", 1)[0])
        folder = file.parent if file.is_file() else scenario.base_dir
        relative = (f"a relative path in a scenario file is relative to that file's folder ({folder}), not to the "
                    "current directory")
    found = f"{what} not found: {path}" if not missing else f"{what} {path} has no {missing[0].name}"
    raise InputError(f"{key}: {found}", file=where,
                     hint=f"giving the path of an existing {what}{' with ' + ' and '.join(inside) if inside else ''}; "
                          f"{relative}.")


def _held_plan_families(inventory: CommitmentBook, catalog: PriceCatalog, families: set[str]) -> set[str]:
    """A family of each savings plan held whose families have no usage (the first of its
    scope): the catalog cut to the run's families would otherwise lose the product, and
    the plan could not be billed (it covers nothing here: all of it is unused)."""
    held = inventory.items.loc[inventory.items["kind"].eq("savings_plan"), "product"].unique()
    com = catalog.commitments[catalog.commitments["product"].isin(held)]
    unseen = com.groupby("product")["family"].agg(lambda f: set(f).isdisjoint(families))
    return {com.loc[com["product"].eq(p), "family"].min() for p in unseen.index[unseen.to_numpy(bool)]}


def scenario_catalog_notes(scenario: Scenario, catalog: PriceCatalog, families) -> tuple[str, ...]:
    """Check the scenario's names against the catalog and the families of the run: an
    unknown product id or provider in ``products`` is an InputError (the filter would
    silently allow nothing), and so is a family key in ``spot_cap`` /
    ``interruptible_share`` that the catalog lacks (a typo); catalog families that the run
    does not involve, and a filter that leaves no product, are notes."""
    flt, products = scenario.products, catalog.products()
    providers = sorted(set(catalog.families["provider"]) | set(KNOWN_PROVIDERS))
    for key, given, known in (("products.ids", flt.ids, list(products.index)),
                              ("products.providers", flt.providers, providers)):
        for i, name in enumerate(given or ()):
            if name not in known:
                close = did_you_mean(name, known) or did_you_mean(name.lower(), known)
                raise InputError(f"{key}: '{name}' is not in the catalog.{close}",
                                 file=scenario.where(f"{key}[{i}]"),
                                 hint="using the names `gpuladder catalog show` lists, or removing the filter.")
    notes = []
    if len(products) and allowed_products(catalog, flt).empty:
        notes.append("products: no catalog product passes the scenario's filter (providers, terms_months, "
                     "payments, kinds, ids), so the plan can buy nothing")
    known_families = list(catalog.family_keys)
    for key, value in (("constraints.spot_cap", scenario.constraints.spot_cap),
                       ("usage.interruptible_share", scenario.usage.interruptible_share)):
        if isinstance(value, Mapping):
            for fam in sorted(set(value) - set(known_families) - {OTHER_FAMILIES_KEY}):
                raise InputError(f"{key}: the family '{fam}' is not in the catalog."
                                 f"{did_you_mean(fam, known_families)}", file=scenario.where(f"{key}.{fam}"),
                                 hint="writing a family key that `gpuladder catalog show` lists "
                                      "(provider/region/instance_type), or removing it.")
            for fam in sorted(set(value) - set(families) - {OTHER_FAMILIES_KEY}):
                notes.append(f"{key} names {fam}, which is not among the families of the usage or the "
                             f"inventory; it has no effect.{did_you_mean(fam, sorted(families))}")
    return tuple(notes)


def usage_until(profile: DemandProfile, scenario: Scenario) -> tuple[DemandProfile, tuple[str, ...]]:
    """The history before ``usage.until`` (plan as of that hour: a what-if on an earlier date,
    or an export whose last days are still incomplete), as a file whose rows end there would
    give it: an ``until`` inside or at the end of a gap (hours with no data, masked or
    zero-filled) ends the history before the gap, the gaps are cut at the new end, and a
    family whose first use is from ``until`` on is left out. The note says what was left out. An ``until`` at or before
    the first usage hour leaves nothing: an error."""
    until = scenario.usage.until
    if until is None or profile.demand_instances.empty:
        return profile, ()
    first, last = profile.index[0], profile.index[-1]
    if until <= first:
        raise InputError(f"usage.until {until:%Y-%m-%dT%H:%MZ} is not after the usage's first hour "
                         f"{first:%Y-%m-%dT%H:%MZ}: no history would be left", file=scenario.where("usage.until"),
                         column="usage.until",
                         hint=f"giving a time between {first + HOUR:%Y-%m-%dT%H:%MZ} and "
                              f"{last + HOUR:%Y-%m-%dT%H:%MZ}, or null to use the whole history.")
    if until == last + HOUR:
        return profile, ()
    if until > last:
        return profile, (f"usage.until {until:%Y-%m-%dT%H:%MZ} is after the last usage hour "
                         f"{last:%Y-%m-%dT%H:%MZ}: the whole history is used",)
    end = until
    in_gap = [g for g in profile.gaps if g.kind == "missing" and g.start < until <= g.end]
    if in_gap:
        end = in_gap[0].start
    demand = profile.demand_instances
    before = demand.index < end
    later_only = demand.columns[~demand[before].fillna(0.0).ne(0).any().to_numpy()
                                & demand[~before].fillna(0.0).ne(0).any().to_numpy()]
    kept = profile.select([f for f in profile.families if f not in set(later_only)]) if len(later_only) else profile
    cut = kept.window(first, end)
    gaps = tuple(replace(g, end=min(g.end, end)) for g in cut.gaps)
    cut = replace(cut, gaps=tuple(g for g in gaps if g.kind == "missing" or g.hours >= ALL_ZERO_GAP_MIN_HOURS))
    dropped = int((profile.index >= end).sum())
    where = (f" (usage.until falls in the gap with no data from {end:%Y-%m-%dT%H:%MZ}, so the history ends "
             "before it)" if in_gap else "")
    later = (f"; the famil{'y' if len(later_only) == 1 else 'ies'} used only from then on "
             f"({', '.join(later_only)}) left out too" if len(later_only) else "")
    return cut, (f"usage.until {until:%Y-%m-%dT%H:%MZ}: the history ends {end - HOUR:%Y-%m-%dT%H:%MZ}{where}; "
                 f"the {dropped} hour(s) after it ({_hours_span(dropped)}) are left out{later}",)


def _hours_span(hours: int) -> str:
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours} h"


def spot_price_notes(profile: DemandProfile, catalog: PriceCatalog) -> tuple[str, ...]:
    """Families whose history runs interruptible (spot) work that the catalog prices no
    spot for: the plan puts that work on commitments or on-demand."""
    demand = profile.demand_instances.sum()
    share = (profile.interruptible_instances.sum() / demand.where(demand > 0)).dropna()
    spot = catalog.families["spot_usd_per_hour"].reindex(share.index)
    return tuple(f"{fam}: {s:.0%} of its instance-hours in the history are interruptible (spot), but the "
                 "catalog has no spot price for it: the plan puts that work on commitments or on-demand "
                 "(give a spot price in a catalog folder, --catalog DIR, to plan spot)"
                 for fam, s in share[(share > 0) & spot.isna()].items())


def covered_notes(profile: DemandProfile, inventory: CommitmentBook) -> tuple[str, ...]:
    """Families the history shows covered by commitments in its last week with no
    commitment of the inventory in force at its end that could cover them (a reservation
    of the family, a savings plan of its provider): a forgotten inventory, and a plan that
    buys on top of what is held."""
    if profile.demand_instances.empty:
        return ()
    end = profile.demand_instances.index[-1]
    week = profile.demand_instances.index > end - pd.Timedelta(days=7)
    demand = profile.demand_instances[week].sum()
    share = (profile.covered_instances[week].sum() / demand.where(demand > 0)).dropna()
    share = share[share > 0]
    if share.empty:
        return ()
    items = inventory.items
    held = items[(items["start"] <= end) & (items["end"] > end)]
    out = []
    for fam, s in share.items():
        provider = fam.split("/", 1)[0]
        if ((held["kind"] == "reservation") & (held["family"] == fam)).any() or (
                (held["kind"] == "savings_plan") & (held["provider"] == provider)).any():
            continue
        out.append(f"{fam}: {s:.0%} of its instance-hours in the last week of the history were covered by "
                   "commitments, but the inventory holds none in force at its end that could cover it: if they "
                   "run on, the plan buys on top of them (give them with --inventory FILE; `gpuladder inventory "
                   "from-export` reads them from the export)")
    return tuple(out)


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
    """The scenario's forecast; a path above ``units.MAX_INSTANCES`` (growth compounding
    over a long horizon) is a DomainError naming the settings to lower."""
    sc = inputs.scenario
    fc = make_forecast(inputs.profile, sc.forecast, sc.horizon)
    for p in fc.paths:
        peak = p.demand_instances.max()
        if (peak > MAX_INSTANCES).any():
            fam = peak.idxmax()
            raise DomainError(
                f"the {p.name} forecast of {fam} reaches {peak[fam]:.3g} instances (more than "
                f"{MAX_INSTANCES:,.0f}) over the {sc.horizon.months}-month horizon; you can fix this by lowering "
                f"forecast.growth_per_month ({sc.forecast.growth_per_month:g}) or horizon.months")
    return fc


def problem_for(inputs: PlanInputs, forecast: Forecast) -> PlanningProblem:
    return scenario_problem(inputs.scenario, forecast, inputs.catalog, inputs.inventory)


def solver_options(scenario: Scenario) -> SolverOptions:
    s = scenario.solver
    return SolverOptions(s.backend, float(s.time_limit_s), float(s.mip_gap))


def run_scenario(scenario: Scenario) -> Plan:
    """Plan one scenario end to end; every figure of the Plan comes from the simulator."""
    inputs = load_inputs(scenario)
    forecast = forecast_for(inputs)
    notes = (inputs.warnings + gap_notes(inputs.profile, scenario.usage.gaps) + forecast_notes(inputs, forecast)
             + ladder_notes(inputs, forecast))
    return plan_problem(problem_for(inputs, forecast), solver_options(scenario), scenario=scenario.name,
                        horizon_months=scenario.horizon.months, warnings=notes)


STALE_HISTORY_DAYS = 31   # a horizon starting later than this after the last usage hour is warned about


def forecast_notes(inputs: PlanInputs, forecast: Forecast) -> tuple[str, ...]:
    """What the forecast did per family, a horizon that starts before the end of the
    history for a method that forecasts from the history's end, one that starts more
    than STALE_HISTORY_DAYS after it, and a risk weight with no conservative path."""
    last = inputs.profile.index[-1]
    out = tuple(f"forecast: {n}" for n in forecast.notes)
    if forecast.method != "replay" and forecast.index[0] <= last:
        out += (f"horizon.start {forecast.index[0]:%Y-%m-%dT%H:%MZ} is not after the last usage hour "
                f"{last:%Y-%m-%dT%H:%MZ}: the {forecast.method} forecast is fitted on the history and laid over "
                "hours that are not in its future; start the horizon after the history, or use "
                "forecast.method: replay to plan on the history itself",)
    stale = (forecast.index[0] - last) / pd.Timedelta(days=1)
    if stale > STALE_HISTORY_DAYS:
        out += (f"the usage history ends {last:%Y-%m-%dT%H:%MZ}, {stale:.0f} days before horizon.start "
                f"{forecast.index[0]:%Y-%m-%dT%H:%MZ}: the forecast bridges that gap with no data; give a more "
                "recent usage export, or move the horizon closer to the history",)
    weight = inputs.scenario.forecast.risk_weight
    if weight > 0 and forecast.conservative is None:
        out += (f"forecast.risk_weight {weight:g} changes nothing: the {forecast.method} forecast has one path "
                "and no conservative one to lean on; use forecast.method: seasonal or trend for P10/P50/P90",)
    return out


def ladder_notes(inputs: PlanInputs, forecast: Forecast) -> tuple[str, ...]:
    """A ladder limit that leaves the plan nothing to buy: ``max_bought_share_per_step`` s
    with fewer than 1/s ladder steps in the horizon, or ``max_expiring_share_per_quarter`` s
    (no inventory in force) when every step x allowed term ends in fewer than 1/s quarters
    (quarters of the (fiscal) year, as the model counts them)."""
    sc, cons = inputs.scenario, inputs.scenario.constraints
    step_months, months = max(1, int(cons.ladder_step_months)), sc.horizon.months
    offsets = range(0, max(months, 1), step_months)
    where = f"horizon.months {months}, constraints.ladder_step_months {step_months}"
    out = []
    share = cons.max_bought_share_per_step
    if share is not None and len(offsets) * share < 1 - 1e-9:
        need = steps_to_buy(share)
        out.append(f"constraints.max_bought_share_per_step {share:g} lets one ladder step buy at most {share:.0%} of "
                   f"what the plan buys, so buying needs at least {need} ladder steps; this horizon has "
                   f"{len(offsets)} ({where}), so the plan can buy nothing; you can fix this by raising it to "
                   f"{_share_up(1 / len(offsets)):g} or by planning at least {need} ladder steps")
    share = cons.max_expiring_share_per_quarter
    start, end = forecast.index[0], forecast.index[-1] + pd.Timedelta(hours=1)
    inv = inputs.inventory.items
    if share is not None and not ((inv["start"] < end) & (inv["end"] > start)).any():
        terms = sorted(int(t) for t in allowed_products(inputs.catalog, sc.products)["term_months"].unique())
        ends = sorted({k + t for k in offsets for t in terms})
        quarters = set(quarter_ids([add_months(start, m) for m in ends], cons.fiscal_year_start_month).tolist())
        if terms and len(quarters) * share < 1 - 1e-9:
            steps = f"{len(offsets)} ladder step{'s' if len(offsets) > 1 else ''}"
            out.append(f"constraints.max_expiring_share_per_quarter {share:g} lets at most {share:.0%} of the "
                       f"commitments expire in one quarter, but whatever this plan buys expires in {len(quarters)} "
                       f"quarter{'s' if len(quarters) > 1 else ''} ({steps} x terms of "
                       f"{', '.join(map(str, terms))} months), so the plan can buy nothing; you can fix this by "
                       f"raising it to {_share_up(1 / len(quarters)):g}, or by more ladder steps or "
                       "products.terms_months")
    return tuple(out)


def _share_up(share: float) -> float:
    """``share`` rounded up to two decimals (1/3 -> 0.34: enough steps x it reach 100%)."""
    return math.ceil(share * 100 - 1e-9) / 100


MAX_GAP_NOTES = 10   # per kind of gap; the rest are counted in one line


def gap_notes(profile: DemandProfile, policy: str = "mask") -> tuple[str, ...]:
    """One line per gap, up to ``MAX_GAP_NOTES`` of each kind and one line counting the
    rest: missing hours (masked, or read as zero under ``--gaps zero``) and runs of hours
    where every family reads zero (suspected logging gaps, kept as zero)."""
    missing = "no data, read as zero (--gaps zero)" if policy == "zero" else "no data (masked)"
    out = []
    for kind, what in (("missing", missing),
                       ("all_zero", "every family reads zero (suspected logging gap; kept as zero)")):
        gaps = [g for g in profile.gaps if g.kind == kind]
        out += [f"usage {g.start:%Y-%m-%dT%H:%MZ} to {g.end:%Y-%m-%dT%H:%MZ} ({g.hours} h): {what}"
                for g in gaps[:MAX_GAP_NOTES]]
        rest = gaps[MAX_GAP_NOTES:]
        if rest:
            out.append(f"usage: {len(rest)} more gap{'s' if len(rest) > 1 else ''} not listed "
                       f"({sum(g.hours for g in rest)} h in all, the first {rest[0].start:%Y-%m-%dT%H:%MZ}, "
                       f"the last ending {rest[-1].end:%Y-%m-%dT%H:%MZ}): {what}")
    return tuple(out)


__all__ = ["PlanInputs", "load_inputs", "scenario_catalog_notes", "spot_price_notes", "covered_notes",
           "run_scenario", "apply_interruptible_share", "forecast_for", "problem_for", "solver_options", "gap_notes",
           "forecast_notes", "ladder_notes"]
