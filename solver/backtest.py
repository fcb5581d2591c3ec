"""Backtest (DESIGN.md section 8): replay the usage history and score purchase policies.

The span runs from ``start`` (default: the first usage hour + ``forecast.lookback_days``)
to the last usage hour (inclusive). Re-plan dates: ``start``, then every ``replan_every``
(a pandas offset such as ``7D``; ``1M`` is one calendar month) while inside the span.

Policies, each scored by the billing simulator on the same span against the ACTUAL usage
(masked hours filled as ``replay`` fills them: the same hour one or two weeks away), with
the scenario's inventory in force for all of them:

* ``gpuladder``: at each re-plan date ``t`` it plans with only the hours before ``t``: the
  forecast of the scenario's method (``replay`` would read the future, so a scenario that
  says replay is re-planned with ``seasonal``, and the backtest says so) over ``[t, span
  end)``, with everything bought so far as sunk inventory, the scenario's products and
  constraints. It keeps the purchases of the plan's first ladder step (dated ``t``) and
  moves on. ``max_upfront_usd_per_quarter`` holds per quarter of the (fiscal) year
  (solver/quarters.py): a re-plan's inventory holds the earlier re-plans' purchases, so it
  may pay only what they left of its quarter's budget.
  Planning over the rest of the span, not the scenario's horizon, puts each
  re-plan on the same footing as the score: fees count only inside the span.
  ``plan_months`` (``--plan-months``) makes each re-plan plan at least that many months
  ahead instead (e.g. 36: over the terms, which weighs their lock-in against a forecast
  of their use); the score stays the span's.
* ``provider_lookback_<N>d`` (N = 7, 30, 60; each window is its own policy, none picked in
  hindsight): at each re-plan date, per family, the level of the family's cheapest allowed
  reservation product (lowest amortized rate, as consoles recommend one product at a time)
  that would have maximised savings over the last N days of usage seen (fewer when the
  history is shorter; masked hours left out): the k-th instance is worth keeping when
  ``(OD - S) x #(firm_t >= k) + S x #(demand_t >= k) > rate x hours`` (fractional demand
  counts its fraction; S = effective spot, OD where spot is not usable). It buys the gap
  between that level and the family's reservations in force at ``t``. Families with no
  allowed reservation product get nothing (savings plans in force are not netted).
* ``on_demand``: nothing bought (interruptible work still runs on spot within the cap).
* ``hindsight``: the actual usage known in advance (``replay``) with the scenario's products
  and none of the limits on buying (no utilization floor, budget or ladder limit: they guard
  against an unknown future or pace the cash, and the limit must bound every policy, the
  baselines included, which keep none of them): the better (by simulated savings) of one
  plan of the whole span (it buys at the model's ladder steps) and re-plans at the same
  dates as ``gpuladder`` on the actual usage of the rest of the span (the same purchase
  cadence). The limit a forecast can reach; the backtest notes when the re-plans won.
* ``hindsight_within_rules``: the same, under all of the scenario's constraints: the limit
  for a policy that keeps the scenario's rules (gpuladder does). Identical to ``hindsight``
  (and not solved twice) when the scenario sets none of those limits.

Per policy: cost, savings vs all on-demand, effective savings rate, commitment
utilization, waste, ``capture`` = savings / hindsight savings and ``capture_within_rules``
= savings / hindsight_within_rules savings (None when that hindsight saves nothing), and
``fees_after_span_usd``: the amortized fees of the policy's purchases that fall after the
span (the lock-in it leaves behind, which the span's score does not charge). Savings include
spot: with interruptible demand ``on_demand`` captures more than 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError, InfeasibleError
from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS, PriceCatalog
from gpuladder.scenarios.schema import Constraints, ForecastSpec, Horizon, ProductFilter, Scenario
from gpuladder.solver.book import CommitmentBook, fees_after, make_purchases
from gpuladder.solver.forecast import MIN_HISTORY_DAYS, DemandPath, Forecast, make_forecast, replay
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import (PlanningProblem, allowed_products, dispatch_rules, horizon_months,
                                        scenario_problem, steps_to_buy)
from gpuladder.solver.plan import plan_problem
from gpuladder.solver.plan_warnings import estimated_products
from gpuladder.solver.quarters import quarter_ids, quarter_name
from gpuladder.solver.simulate import SimulationResult, simulate
from gpuladder.units import HOUR, MAX_TERM_MONTHS, add_months, hourly_index
from gpuladder.usage.history import DemandProfile

LOOKBACK_WINDOWS_DAYS = (7, 30, 60)
DAY, WEEK = pd.Timedelta(days=1), pd.Timedelta(days=7)
REPLAN_FALLBACK_METHOD = "seasonal"
_MONTHS = re.compile(r"^(\d*)\s*(?:M|MS|mo|month|months)$")
_YEARS = re.compile(r"^(\d*)\s*(?:Y|YS|y|year|years)$")
_WEEKS = re.compile(r"^(\d*)\s*(?:W|w|week|weeks)$")
_FIXED = re.compile(r"^(\d*)\s*(D|d|H|h)$")   # days and hours, either case
MIN_REPLAN_EVERY = DAY


@dataclass(frozen=True)
class BacktestOptions:
    start: pd.Timestamp | None = None
    replan_every: str = "1M"
    lookback_windows_days: tuple[int, ...] = LOOKBACK_WINDOWS_DAYS
    plan_months: int | None = None   # None: each re-plan plans the rest of the span


@dataclass(frozen=True)
class BacktestInputs:
    """What a backtest reads: the scenario and its loaded files (``scenarios.runner.load_inputs``)."""

    scenario: Scenario
    catalog: PriceCatalog
    profile: DemandProfile
    inventory: CommitmentBook
    solver: SolverOptions


@dataclass(frozen=True)
class PolicyResult:
    name: str
    purchases: CommitmentBook      # what the policy bought (inventory not included)
    simulation: SimulationResult   # the whole span, actual usage, inventory + purchases
    capture: float | None          # savings / hindsight savings
    capture_within_rules: float | None = None  # savings / hindsight_within_rules savings
    fees_after_span_usd: float = 0.0           # amortized fees of the purchases after the span

    @property
    def kpis(self):
        return self.simulation.kpis


@dataclass(frozen=True)
class Backtest:
    scenario: str
    start: pd.Timestamp
    end: pd.Timestamp              # exclusive: the hour after the last usage hour
    replan_every: str
    replan_dates: tuple[pd.Timestamp, ...]
    forecast_method: str           # the method the gpuladder re-plans used
    masked_hours: int              # hours of the span with no usage data (filled, see module doc)
    policies: tuple[PolicyResult, ...]
    notes: tuple[str, ...]
    plan_months: int | None = None  # how far each gpuladder re-plan planned (None: the rest of the span)
    inventory: CommitmentBook = field(default_factory=CommitmentBook.empty)  # held at the start (purchase ids)
    estimated_products: frozenset[str] = frozenset()  # catalog products whose rates are estimates

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def policy(self, name: str) -> PolicyResult:
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(name)


def parse_replan_every(text: str) -> pd.DateOffset | pd.Timedelta:
    """``1M`` / ``3M`` (calendar months), ``1Y``, ``2W`` (weeks of 7 days) or any fixed pandas
    offset of whole hours such as ``7D`` or ``36h``, at least one day (each re-plan is a MIP
    solve: hourly over a month would be ~700 of them) and at most MAX_TERM_MONTHS months
    long. Raises ValueError with a hint otherwise."""
    s = str(text).strip()
    hint = "use e.g. 1M (one calendar month), 2W, 7D or 36h (whole hours, at least one day)"
    too_long = f"'{text}' is longer than {MAX_TERM_MONTHS} months; {hint}"
    for pattern, unit, months in ((_MONTHS, "months", 1), (_YEARS, "years", 12), (_WEEKS, "weeks", 7 / 30.4)):
        m = pattern.match(s)
        if m and int(m.group(1) or 1) > 0:
            n = int(m.group(1) or 1)
            if n * months > MAX_TERM_MONTHS:
                raise ValueError(too_long)
            return pd.DateOffset(**{unit: n})
    fixed = _FIXED.match(s)
    if fixed:   # pandas 3 reads only lower-case h, min, s and upper-case D
        n, unit = fixed.group(1) or "1", fixed.group(2).lower()
        s = n + ("D" if unit == "d" else unit)
    try:
        nanos = pd.tseries.frequencies.to_offset(s).nanos  # fixed offsets only
    except (ValueError, TypeError):
        nanos = 0
    except (OverflowError, pd.errors.OutOfBoundsTimedelta):
        raise ValueError(too_long) from None
    step = pd.Timedelta(nanos, unit="ns")
    if pd.Timedelta(0) < step < MIN_REPLAN_EVERY:
        raise ValueError(f"'{text}' is shorter than a day; re-plans must be at least one day apart (each is a "
                         f"full plan: hourly over a month would be ~700 of them); {hint}")
    if step <= pd.Timedelta(0) or step % HOUR != pd.Timedelta(0):
        raise ValueError(f"'{text}' is not a re-plan interval; {hint}")
    if step > pd.Timedelta(days=31 * MAX_TERM_MONTHS):
        raise ValueError(too_long)
    return step


def replan_dates(start: pd.Timestamp, end: pd.Timestamp, every: pd.DateOffset | pd.Timedelta) -> tuple[pd.Timestamp, ...]:
    """``start``, ``start + every``, ``start + 2 every``, ... before ``end`` (counted from the
    start each time, so month ends do not drift)."""
    out, k = [], 0
    while True:
        t = start + every * k
        if t >= end:
            return tuple(out)
        out.append(t)
        k += 1


def span_of(profile: DemandProfile, spec: ForecastSpec, start: pd.Timestamp | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    first, end = profile.index[0], profile.index[-1] + HOUR
    if start is None:
        start = first + pd.Timedelta(days=spec.lookback_days)
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    if start != start.floor("h"):
        raise DomainError(f"the backtest start {start:%Y-%m-%dT%H:%M:%SZ} is not on the hour; you can fix this by "
                          f"starting at a whole hour, e.g. {start.ceil('h'):%Y-%m-%dT%H:00Z}")
    if not first < start < end:
        raise DomainError(
            f"the backtest start {start:%Y-%m-%dT%H:%MZ} must lie after the first usage hour "
            f"{first:%Y-%m-%dT%H:%MZ} and no later than the last one {end - HOUR:%Y-%m-%dT%H:%MZ}; you can fix this "
            "by choosing --start inside the history (the default is the first hour + forecast.lookback_days, "
            "which needs a history longer than the lookback)")
    return start, end


def _check_history_before(profile: DemandProfile, start: pd.Timestamp, method: str) -> None:
    """The first re-plan forecasts from the hours before ``start``: at least
    MIN_HISTORY_DAYS of them must be observed (the forecast's own rule, said in backtest
    terms: its hint, replay, does not apply here)."""
    observed = profile.index[profile.demand_instances.notna().any(axis=1).to_numpy()]
    need = MIN_HISTORY_DAYS * 24
    seen = int((observed < start).sum())
    if seen >= need:
        return
    fix = (f"starting later: --start {observed[need - 1] + HOUR:%Y-%m-%dT%H:00Z} or after" if len(observed) > need
           else f"giving a longer history (it holds {len(observed)} observed hours)")
    raise DomainError(f"the backtest starts at {start:%Y-%m-%dT%H:%MZ} with {seen} observed hour(s) of usage before it "
                      f"({seen / 24:.1f} days); its re-plans forecast ({method}) from the history seen so far and need at "
                      f"least {MIN_HISTORY_DAYS} days. You can fix this by {fix}")


def _span_notes(profile: DemandProfile, start: pd.Timestamp, end: pd.Timestamp, dates,
                windows: tuple[int, ...]) -> list[str]:
    notes = []
    if end - start < WEEK:
        notes.append(f"the span is {(end - start) / HOUR:.0f} hours: it scores the first days of each purchase "
                     "and says little about a plan whose terms run for years; an earlier --start gives a span of "
                     "weeks")
    seen_days = (dates[-1] - profile.index[0]) / DAY   # the longest history any re-plan sees
    shorter = sorted(windows)
    for a, b in zip(shorter, shorter[1:]):
        if seen_days <= a:
            notes.append(f"provider_lookback_{b}d equals provider_lookback_{a}d here: no re-plan sees more than "
                         f"{seen_days:.0f} days of history")
    return notes


def run_backtest(inputs: BacktestInputs, options: BacktestOptions = BacktestOptions(),
                 progress: Callable[[str], None] | None = None) -> Backtest:
    sc, profile = inputs.scenario, inputs.profile
    every = parse_replan_every(options.replan_every)
    if options.plan_months is not None and not 1 <= options.plan_months <= MAX_TERM_MONTHS:
        raise DomainError(f"plan_months {options.plan_months} is out of range: give 1 to {MAX_TERM_MONTHS} months "
                          "(e.g. 36 to plan over 3-year terms), or leave it out to plan the rest of the span")
    try:
        start, end = span_of(profile, sc.forecast, options.start)
        _check_history_before(profile, start, REPLAN_FALLBACK_METHOD if sc.forecast.method == "replay"
                              else sc.forecast.method)
    except DomainError as exc:
        if sc.usage.until is None:
            raise
        raise DomainError(f"{exc} (usage.until {sc.usage.until:%Y-%m-%dT%H:%MZ} ends the history the backtest "
                          "replays: a later until, or none, gives it more)") from None
    span = hourly_index(start, end)
    dates = replan_dates(start, end, every)
    actual = replay(profile, span)
    rules = dispatch_rules(_problem(inputs, actual, inputs.inventory))
    notes = _span_notes(profile, start, end, dates, options.lookback_windows_days)
    if len(dates) == 1 and end - start >= 2 * WEEK:
        weekly = len(replan_dates(start, end, parse_replan_every("7D")))
        notes.append(f"--replan-every {options.replan_every} re-plans once in this {(end - start) / DAY:.0f}-day span: "
                     f"gpuladder buys once, on the history before {start:%Y-%m-%d}, and never adjusts; "
                     f"--replan-every 7D re-plans {weekly} times, as a team re-laddering weekly would")
    spec = sc.forecast
    if spec.method == "replay":
        spec = replace(spec, method=REPLAN_FALLBACK_METHOD)
        notes.append(f"the scenario forecasts by replay, which would read the future; the re-plans use "
                     f"{REPLAN_FALLBACK_METHOD} on the history seen so far")
    say = progress or (lambda _msg: None)

    def seen_forecast(t: pd.Timestamp) -> Forecast:
        until = end if options.plan_months is None else max(end, add_months(t, options.plan_months))
        return forecast_between(profile.window(profile.index[0], t), spec, t, until)

    gpuladder = _receding(inputs, dates, seen_forecast, "gpuladder", say, notes)
    if len(gpuladder) == 0:
        notes += _ladder_share_note(sc.constraints, dates[0], seen_forecast(dates[0]).index[-1] + HOUR)
    books = {"gpuladder": gpuladder}
    for days in options.lookback_windows_days:
        books[f"provider_lookback_{days}d"], miss = _provider_lookback(inputs, dates, days)
        notes += miss
    books["on_demand"] = CommitmentBook.empty()

    def score(book: CommitmentBook) -> SimulationResult:
        return simulate(inputs.inventory.concat(book), actual.paths[0].demand_instances,
                        actual.paths[0].interruptible_instances, inputs.catalog, rules)

    sims = {name: score(b) for name, b in books.items()}
    limit = hindsight_constraints(sc.constraints)
    rules_are_limits = limit == sc.constraints
    stopped: dict[str, bool] = {}   # hindsight plan stopped on the solver's time limit
    for name, cons in (("hindsight_within_rules", sc.constraints), ("hindsight", limit)):
        if name == "hindsight" and rules_are_limits:
            books[name], sims[name] = books["hindsight_within_rules"], sims["hindsight_within_rules"]
            continue
        books[name], sims[name], stopped[name] = _hindsight(inputs, cons, dates, actual, end, name, say, notes, score)
    best, best_rules = sims["hindsight"].kpis.savings_usd, sims["hindsight_within_rules"].kpis.savings_usd
    if (best > 0 and best_rules <= 0 and len(books["hindsight_within_rules"]) == 0
            and not stopped.get("hindsight_within_rules")):
        notes.append(_nothing_within_rules(sc.constraints))
    for name in ("gpuladder", "hindsight_within_rules"):
        notes += _expiring_share_note(sc.constraints, inputs.inventory, books[name], start, end, name)
    policies = tuple(PolicyResult(name, books[name], sim,
                                  sim.kpis.savings_usd / best if best > 0 else None,
                                  sim.kpis.savings_usd / best_rules if best_rules > 0 else None,
                                  fees_after(books[name], end))
                     for name, sim in sims.items())
    masked = int(profile.masked.loc[start:end - HOUR].sum())
    if masked:
        notes.append(f"{masked} hour(s) of the span have no usage data; every policy is scored on them "
                     "as replay fills them (the same hour one or two weeks away)")
    return Backtest(sc.name, start, end, options.replan_every, dates, spec.method, masked, policies,
                    tuple(dict.fromkeys(notes)), options.plan_months, inputs.inventory,
                    frozenset(estimated_products(inputs.catalog.products())))


# ---------------------------------------------------------------- policies

def _problem(inputs: BacktestInputs, forecast: Forecast, inventory: CommitmentBook,
             constraints: Constraints | None = None) -> PlanningProblem:
    return scenario_problem(inputs.scenario, forecast, inputs.catalog, inventory, constraints)


def hindsight_constraints(cons: Constraints) -> Constraints:
    """The scenario's constraints without the limits on buying (utilization floor, budgets,
    ladder limits); the dispatch rules (spot cap, rework overhead) and the ladder step stay."""
    return replace(cons, min_utilization=None, max_upfront_usd_per_quarter=None, max_committed_usd_per_hour=None,
                   max_expiring_share_per_quarter=None, max_bought_share_per_step=None)


def _hindsight(inputs: BacktestInputs, cons: Constraints, dates, actual: Forecast, end: pd.Timestamp, name: str,
               say: Callable[[str], None], notes: list[str],
               score: Callable[[CommitmentBook], SimulationResult]) -> tuple[CommitmentBook, SimulationResult, bool]:
    """The better of one plan of the whole span and re-plans at ``dates``, both on the actual
    usage under ``cons``, and whether the plan of the whole span stopped on the time limit."""
    start = actual.index[0]
    say(f"{name}: planning {start:%Y-%m-%d} to {end:%Y-%m-%d} on the actual usage ...")
    problem = _problem(inputs, actual, inputs.inventory, cons)
    problem = replace(problem, options=replace(problem.options, step_dates=tuple(dates)))
    plan = plan_problem(problem, inputs.solver, scenario=inputs.scenario.name)
    stopped = plan.solver.status == "time_limit"
    if stopped:
        gap = "unknown" if plan.solver.gap is None else f"{plan.solver.gap:.2%}"
        notes.append(f"{name}: the plan of the span on the actual usage stopped on the solver's time limit (gap "
                     f"{gap}), so its savings are a lower bound of the limit and capture against it may read "
                     f"high; a larger --set solver.time_limit_s={max(2 * inputs.solver.time_limit_s, 120):g} or "
                     "fewer re-plan dates (a longer --replan-every) gives the exact limit")
    whole = _bought(plan.book, name)
    hs_whole = score(whole)
    if len(dates) < 2:
        return whole, hs_whole, stopped
    receding_notes: list[str] = []
    receding = _receding(inputs, dates, lambda t: _actual_from(actual, t), name, say, receding_notes, cons)
    hs_receding = score(receding)
    if hs_receding.kpis.savings_usd > hs_whole.kpis.savings_usd:
        notes.append(f"{name}: re-planning at the same dates on the actual usage beat one plan of the whole span")
        notes += receding_notes
        return receding, hs_receding, stopped
    return whole, hs_whole, stopped


def _actual_from(actual: Forecast, t: pd.Timestamp) -> Forecast:
    """The actual usage of the span from ``t`` on: ``replay`` over ``[t, span end)``, cut
    from the span's replay instead of replayed again at every re-plan."""
    p = actual.paths[0]
    return replace(actual, paths=(DemandPath(p.name, p.weight, p.demand_instances.loc[t:],
                                             p.interruptible_instances.loc[t:]),))


def _ladder_share_note(cons: Constraints, start: pd.Timestamp, until: pd.Timestamp) -> list[str]:
    """Why gpuladder bought nothing when ``max_bought_share_per_step`` needs more ladder
    steps than the longest re-plan (the first, over [start, until)) has."""
    share, step = cons.max_bought_share_per_step, max(1, int(cons.ladder_step_months))
    if share is None:
        return []
    steps = len(range(0, max(horizon_months(start, until), 1), step))
    need = steps_to_buy(share)
    if steps >= need:
        return []
    return [f"gpuladder buys nothing: constraints.max_bought_share_per_step {share:g} needs at least {need} ladder "
            f"steps in a plan, and each re-plan plans only the rest of the span ({steps} step{'s' * (steps > 1)} of "
            f"{step} month{'s' * (step > 1)} at most); --plan-months {need * step} plans far enough ahead, or "
            "backtest with --set constraints.max_bought_share_per_step=null"]


def _nothing_within_rules(cons: Constraints) -> str:
    limits = {"constraints.min_utilization": cons.min_utilization,
              "constraints.max_upfront_usd_per_quarter": cons.max_upfront_usd_per_quarter,
              "constraints.max_committed_usd_per_hour": cons.max_committed_usd_per_hour,
              "constraints.max_expiring_share_per_quarter": cons.max_expiring_share_per_quarter,
              "constraints.max_bought_share_per_step": cons.max_bought_share_per_step}
    named = ", ".join(f"{k}={v:g}" for k, v in limits.items() if v is not None)
    share = cons.max_bought_share_per_step
    ladder = (f"; max_bought_share_per_step={share:g} alone needs {steps_to_buy(share)} ladder steps "
              "left in the span to buy anything" if share else "")
    return ("hindsight_within_rules buys nothing: even with the actual usage known, no purchase keeps the "
            f"scenario's limits on this span ({named}). The re-plans plan only the rest of the span{ladder}. "
            "You can fix this with a longer span (--start earlier) or by backtesting with --set "
            "<limit>=null")


def _bought(book: CommitmentBook, prefix: str, when: pd.Timestamp | None = None) -> CommitmentBook:
    it = book.items
    keep = it["origin"].eq("purchase")
    if when is not None:
        keep &= it["start"].eq(when)
    rows = it[keep].reset_index(drop=True).copy()
    rows["id"] = [f"{prefix}-{i + 1}" for i in range(len(rows))]
    return CommitmentBook(rows)


def _receding(inputs: BacktestInputs, dates, forecast_at: Callable[[pd.Timestamp], Forecast], name: str,
              say: Callable[[str], None], notes: list[str], constraints: Constraints | None = None) -> CommitmentBook:
    """Re-plan at each date on ``forecast_at(t)`` (over ``[t, span end)``) with everything
    bought so far as sunk inventory; keep each plan's purchases dated ``t``. A re-plan
    that is infeasible once something has been bought (the sunk book can make the
    scenario's constraints unmeetable, e.g. the utilization floor when the demand fell)
    buys nothing that day, and the notes say so; an infeasible first re-plan stops."""
    book = CommitmentBook.empty()
    for k, t in enumerate(dates):
        say(f"{name}: re-plan {k + 1}/{len(dates)} at {t:%Y-%m-%dT%H:%MZ} ...")
        try:
            forecast = forecast_at(t)
        except DomainError as exc:
            raise DomainError(f"backtest re-plan at {t:%Y-%m-%dT%H:%MZ}: {exc}") from None
        inventory = inputs.inventory.concat(CommitmentBook(book.items.assign(origin="inventory")))
        try:
            plan = plan_problem(_problem(inputs, forecast, inventory, constraints), inputs.solver,
                                scenario=inputs.scenario.name)
        except InfeasibleError as exc:
            if len(book) == 0:
                why = exc.detail
                raise InfeasibleError(exc.groups, f"backtest re-plan at {t:%Y-%m-%dT%H:%MZ}"
                                                  + (f": {why}" if why else "")) from None
            notes.append(f"{name}: the re-plan at {t:%Y-%m-%dT%H:%MZ} is infeasible with what was bought "
                         f"before ({exc}); nothing bought that day")
            continue
        book = book.concat(_bought(plan.book, f"{name}-{k + 1}", when=t))
    return book


def _expiring_share_note(cons: Constraints, inventory: CommitmentBook, bought: CommitmentBook,
                         start: pd.Timestamp, end: pd.Timestamp, name: str) -> list[str]:
    """Whether ``bought`` keeps ``max_expiring_share_per_quarter`` on the span, as the model
    reads it (amortized $/h on the quarters of the (fiscal) year; the inventory's own cliff
    excused): E_k + P_k <= s (E + P) + max(0, E_k - s E). Every re-plan holds it on the same
    quarters, but on all of its ladder steps, and the backtest keeps only the first step's
    purchases, so the kept ones can break it; the note says so rather than score them as kept."""
    share = cons.max_expiring_share_per_quarter
    if share is None or len(bought) == 0:
        return []
    fy = cons.fiscal_year_start_month
    inv = inventory.items
    live = (inv["end"] > start) & (inv["start"] < end)
    inv_rate = inventory.amortized_usd_per_hour()[live]
    inv_q = pd.Series(quarter_ids(inv.loc[live, "end"], fy), index=inv_rate.index)
    rate = bought.amortized_usd_per_hour()
    q = pd.Series(quarter_ids(bought.items["end"], fy), index=rate.index)
    e_k, p_k = inv_rate.groupby(inv_q).sum(), rate.groupby(q).sum()
    e_all, total = float(inv_rate.sum()), float(inv_rate.sum() + rate.sum())
    over = [(k, (e_k.get(k, 0.0) + p) / total) for k, p in p_k.items()
            if e_k.get(k, 0.0) + p > share * total + max(0.0, e_k.get(k, 0.0) - share * e_all) + 1e-6 * total]
    if not over:
        return []
    k, worst = max(over, key=lambda kv: kv[1])
    return [f"{name}: {worst:.0%} of the committed $/h (inventory in force included) expires in "
            f"{quarter_name(k, fy)}, above constraints.max_expiring_share_per_quarter {share:g}: each re-plan "
            "holds the share on all the ladder steps it plans (with the inventory still in force at its date), "
            "and the backtest keeps only the first step's purchases (the later steps are re-planned), so what "
            "it kept can exceed it"]


def forecast_between(history: DemandProfile, spec: ForecastSpec, start: pd.Timestamp,
                     end: pd.Timestamp) -> Forecast:
    """The forecast of ``spec`` made from ``history``, over the hours ``[start, end)``."""
    months = 1
    while add_months(start, months) < end:
        months += 1
    fc = make_forecast(history, spec, Horizon(start, months))
    idx = hourly_index(start, end)
    paths = tuple(DemandPath(p.name, p.weight, p.demand_instances.loc[idx], p.interruptible_instances.loc[idx])
                  for p in fc.paths)
    return replace(fc, paths=paths)


def cheapest_reservations(catalog: PriceCatalog, products: ProductFilter) -> pd.DataFrame:
    """Per family, the allowed reservation product with the lowest amortized rate
    (ties: shorter term, then product id): family -> product, rate_usd_per_hour."""
    com = catalog.commitments
    keep = com["kind"].eq("reservation") & com["product"].isin(allowed_products(catalog, products).index)
    res = com[keep].sort_values(["family", "rate_usd_per_hour", "term_months", "product"])
    return res.drop_duplicates("family").set_index("family")[["product", "rate_usd_per_hour"]]


def spot_terms(catalog: PriceCatalog, constraints: Constraints, families: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(effective spot $/h, spot cap share) per family, by the simulator's rules: spot is
    usable where the family has a spot price and spot x (1 + rework overhead) is below
    on-demand; elsewhere the effective price is on-demand and the cap 0."""
    over = constraints.spot_rework_overhead
    by_bucket = dict(over) if isinstance(over, Mapping) else {b: float(over) for b in INTERRUPTION_BUCKETS}
    fam = catalog.families.loc[families]
    od = fam["on_demand_usd_per_hour"].to_numpy(dtype=float)
    spot = (fam["spot_usd_per_hour"] * (1.0 + fam["interruption_bucket"].map(by_bucket).fillna(0.0))).to_numpy(dtype=float)
    usable = np.isfinite(spot) & (spot < od)
    caps = np.array([1.0 if constraints.spot_cap_share(f) is None else float(constraints.spot_cap_share(f))
                     for f in families])
    return np.where(usable, spot, od), np.where(usable, caps, 0.0)


def best_level_instances(firm: np.ndarray, total: np.ndarray, od_usd: float, spot_usd: float,
                         rate_usd_per_hour: float) -> int:
    """The reserved level that maximises savings over the given hours: the number of
    instances k >= 1 whose marginal saving is positive (marginals never increase)."""
    if len(total) == 0 or np.nanmax(total, initial=0.0) <= 0:
        return 0
    k = np.arange(1, int(np.ceil(np.max(total))) + 1)[:, None]
    share_firm = np.clip(firm[None, :] - k + 1, 0.0, 1.0).sum(axis=1)
    share_total = np.clip(total[None, :] - k + 1, 0.0, 1.0).sum(axis=1)
    marginal = (od_usd - spot_usd) * share_firm + spot_usd * share_total - rate_usd_per_hour * len(total)
    return int((marginal > 1e-9).sum())


def _provider_lookback(inputs: BacktestInputs, dates, days: int) -> tuple[CommitmentBook, list[str]]:
    sc, profile, cat = inputs.scenario, inputs.profile, inputs.catalog
    cheapest = cheapest_reservations(cat, sc.products)
    fams = list(profile.families)
    missing = [f for f in fams if f not in cheapest.index]
    notes = [f"provider_lookback: {f} has no allowed reservation product; nothing bought for it"
             for f in missing]
    od = cat.families.loc[fams, "on_demand_usd_per_hour"].to_numpy(dtype=float)
    spot, cap = spot_terms(cat, sc.constraints, fams)
    book = CommitmentBook.empty()
    for t in dates:
        seen = profile.window(t - pd.Timedelta(days=days), t)
        observed = seen.demand_instances.notna().all(axis=1).to_numpy()
        d = seen.demand_instances[fams].to_numpy(dtype=float)[observed]
        inter = seen.interruptible_instances[fams].fillna(0.0).to_numpy(dtype=float)[observed]
        firm = d - np.minimum(inter, cap * d)
        held = _reserved_in_force(inputs.inventory.concat(book), t)
        rows = []
        for j, f in enumerate(fams):
            if f not in cheapest.index:
                continue
            level = best_level_instances(firm[:, j], d[:, j], od[j], spot[j],
                                         float(cheapest.at[f, "rate_usd_per_hour"]))
            buy = level - held.get(f, 0.0)
            if buy >= 1:
                rows.append({"product": cheapest.at[f, "product"], "family": f, "quantity": float(np.floor(buy)),
                             "start": t})
        if rows:
            new = make_purchases(cat, pd.DataFrame(rows), id_prefix=f"lookback{days}d-{t:%Y%m%dT%H}")
            book = book.concat(new)
    return book, notes


def _reserved_in_force(book: CommitmentBook, t: pd.Timestamp) -> dict[str, float]:
    it = book.items
    if it.empty:
        return {}
    live = it[(it["kind"] == "reservation") & (it["start"] <= t) & (it["end"] > t)]
    return live.groupby("family")["quantity"].sum().to_dict()


def backtest_scenario(scenario: Scenario, options: BacktestOptions = BacktestOptions(),
                      progress: Callable[[str], None] | None = None) -> Backtest:
    """Load the scenario's files and backtest it (``gpuladder backtest``)."""
    from gpuladder.scenarios.runner import load_inputs, solver_options

    loaded = load_inputs(scenario)
    inputs = BacktestInputs(scenario, loaded.catalog, loaded.profile, loaded.inventory, solver_options(scenario))
    return run_backtest(inputs, options, progress)


__all__ = ["Backtest", "backtest_scenario", "BacktestInputs", "BacktestOptions", "PolicyResult", "LOOKBACK_WINDOWS_DAYS",
           "run_backtest", "parse_replan_every", "replan_dates", "span_of", "forecast_between",
           "cheapest_reservations", "best_level_instances", "hindsight_constraints", "fees_after"]
