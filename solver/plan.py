"""Plan: scenario -> forecast -> model -> solve -> purchase ladder -> simulated KPIs.

``plan_problem`` is the library core (used by ``run_plan``, the backtest and the
tests); ``run_plan`` loads the scenario's files first. Every figure of a Plan comes
from the billing simulator (solver/simulate.py); the model's own objective is only
compared with it: where the model is exact (DESIGN.md section 5) they must agree
within 0.1%, else ``ModelMismatchError``; where a documented compression is in play the
difference is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError, InfeasibleError, ModelMismatchError
from gpuladder.solver.backends import solve
from gpuladder.solver.backends.threads import in_background as _in_background
from gpuladder.solver.book import (SP_QUANTUM_USD_PER_HOUR, CommitmentBook, fees_after, make_purchases,
                                   plan_usd_per_hour_bought)
from gpuladder.solver.diagnose import diagnose_infeasible
from gpuladder.solver.exactness import plan_is_exact
from gpuladder.solver.lp import SolveStatus, SolverOptions
from gpuladder.solver.model import PURCHASES, BuiltModel, build_model
from gpuladder.solver.model_cover import FLOOR_GATE
from gpuladder.solver.modeldata import ModelData, PlanningProblem, allowed_products, dispatch_rules, prepare
from gpuladder.solver.plan_warnings import (estimated_products, held_floor_keys, lock_in_warning, shortfall_note,
                                           simulated_floor_warning, solver_warnings,
                                           stale_price_warning, upfront_budget_warning)
from gpuladder.solver.simulate import SimulationResult, simulate
from gpuladder.solver.split_topup import top_up_split_plans
from gpuladder.solver.sunk_shortfall import sunk_floor_shortfall, waived_models
from gpuladder.units import AVERAGE_MONTH_HOURS

MATCH_TOLERANCE_SHARE = 1e-3


@dataclass(frozen=True)
class SolverReport:
    backend: str
    status: str
    gap: float | None
    seconds: float
    build_seconds: float
    model_objective_usd: float
    simulated_objective_usd: float
    difference_share: float
    exact: bool
    resolution: str
    n_variables: int
    n_integer: int
    n_constraints: int
    # the product-set search (models over GATED_MAX_COLUMNS): the candidate plans it compared and
    # its wall time; status and gap are the chosen candidate's solve, no proof over every product set
    search_candidates: int = 0
    search_seconds: float | None = None


@dataclass(frozen=True)
class Plan:
    scenario: str
    forecast_method: str
    horizon_start: pd.Timestamp
    horizon_end: pd.Timestamp
    horizon_months: int
    purchases: pd.DataFrame   # date, provider, product, kind, family, scope, term_months, payment, quantity, ..., id
    expiring: pd.DataFrame    # id, product, family, quantity, expires, renew, renewed_quantity, renewed_by
    mix: pd.DataFrame         # family -> committed_instances, spot_share, on_demand_share, ...
    book: CommitmentBook      # inventory + purchases
    simulation: SimulationResult  # on the expected (P50) path
    path_costs: pd.DataFrame  # path -> weight (the forecast's), objective_weight, cost_usd (simulated)
    solver: SolverReport
    warnings: tuple[str, ...]
    estimated_products: frozenset[str] = frozenset()  # bought products whose rates are estimates
    expected_path: str = "P50"            # the path the KPIs, mix and monthly floor are on
    conservative_path: str | None = None  # where the floor must also hold (forecast.conservative_quantile)
    next_step: pd.Timestamp | None = None  # the second ladder step (horizon end if one): the first step is before it

    @property
    def expected_cost_usd(self) -> float:
        """The simulated cost over the forecast paths at the forecast's weights (what the
        optimizer minimizes unless forecast.risk_weight leans on the conservative path)."""
        return float((self.path_costs["weight"] * self.path_costs["cost_usd"]).sum())

    @property
    def fees_after_horizon_usd(self) -> float:
        """Amortized fees of what the plan buys that fall after the horizon: the lock-in the
        horizon's cost does not charge (DESIGN section 5 charges fees inside the horizon)."""
        return fees_after(self.book.of_origin("purchase"), self.horizon_end)


def plan_problem(problem: PlanningProblem, solver: SolverOptions, *, scenario: str = "scenario",
                 horizon_months: int | None = None, warnings: tuple[str, ...] = ()) -> Plan:
    """Solve one planning problem and simulate the resulting plan on every forecast path."""
    builds = _Builds(problem)
    try:
        return _plan_floored(builds, solver, scenario, horizon_months, warnings)
    except InfeasibleError:
        if len(problem.inventory) == 0 or problem.options.sunk_floor_shortfall:
            raise
        shortfall = sunk_floor_shortfall(problem, solver, builds.model(gated=False).built)
        if shortfall is None:
            raise
    # Sunk commitments the forecast cannot use at the floor: even "buy nothing" misses it (the
    # model reads their use through bounds). Lower each floor by exactly that shortfall, so
    # what the plan adds is still held to the floor.
    waived = replace(problem, options=replace(problem.options, sunk_floor_shortfall=tuple(shortfall.items())))
    note = shortfall_note(shortfall, held_floor_keys(problem.inventory.items))
    return _plan_floored(builds.waived(waived), solver, scenario, horizon_months, warnings + (note,))


GATED_MAX_COLUMNS = 5_000   # models up to this size gate the floor rows with binaries


@dataclass(frozen=True)
class _Prebuilt:
    """A model built before its solve, and the seconds its build took."""

    built: BuiltModel
    seconds: float


class _Builds:
    """The models of one problem, each built at most once (a build is read, never changed:
    solves and the shortfall get copies with other bounds): ``gated=False`` as the problem's
    options say, ``gated=True`` with the floor rows gated (the flag changes the build, not
    the data). A floored plan needs the ungated model's column count and one of the two;
    when infeasible, sunk_floor_shortfall reads the ungated one and the retry ``waived``."""

    def __init__(self, problem: PlanningProblem):
        self.problem = problem
        self._data: ModelData | None = None
        self._models: dict[bool, _Prebuilt] = {}

    def data(self) -> ModelData:
        if self._data is None:
            self._data = prepare(self.problem)
        return self._data

    def model(self, gated: bool) -> _Prebuilt:
        gated = gated or self.problem.options.gate_floors
        if gated not in self._models:
            t0 = time.perf_counter()
            data = replace(self.data(), gate_floors=gated)
            built = build_model(data, self.problem.constraints, self.problem.options.tie_break_share)
            self._models[gated] = _Prebuilt(built, time.perf_counter() - t0)
        return self._models[gated]

    def waived(self, problem: PlanningProblem) -> "_Builds":
        """The builds of ``problem``, this one's with the sunk shortfall: these models with its
        floor rows' lower bounds where that is its build to the bit (waived_models)."""
        out = type(self)(problem)
        t0 = time.perf_counter()
        derived = waived_models({g: m.built for g, m in self._models.items()}, out.data())
        out._models.update({g: _Prebuilt(b, time.perf_counter() - t0) for g, b in derived.items()})
        return out

    def ungated_columns(self) -> int:
        """``build_model(...).lp.n_cols`` of the ungated model, exactly, from whichever model
        is built: the gated build has the same columns and the gates (model_cover.py). With
        none built yet, the one the count will most likely choose is built."""
        if self.problem.options.gate_floors or False in self._models:
            return self.model(gated=False).built.lp.n_cols
        if True not in self._models:
            self.model(gated=self._likely_gated())
            return self.ungated_columns()
        lp = self._models[True].built.lp
        return lp.n_cols - (len(lp.index(FLOOR_GATE)) if FLOOR_GATE in lp.blocks else 0)

    def _likely_gated(self) -> bool:
        return len(self.data().options_) <= GATED_MAX_COLUMNS


def _plan_floored(builds: _Builds, solver: SolverOptions, scenario: str, horizon_months: int | None,
                  warnings: tuple[str, ...]) -> Plan:
    """The savings plans' utilization floors, read through lower bounds in layers and split
    cells, must not bind products the plan does not buy (docs/model.md, floor rows).
    Small models gate the rows with binaries (exact). Larger ones search the set of plan
    products instead: a solve without the plans' floors proposes the products worth
    buying; the others are left out and the proposed ones keep their floors; repeated
    while a proposed product ends up unbought (at most three times). Two more candidates
    solve on other threads meanwhile: no savings plans at all (only those already held),
    and the ungated model (the fallback). The cheapest (simulated) of all wins."""
    problem = builds.problem
    plans = _floored_plan_products(problem)
    if not plans:
        return _plan_once(problem, solver, scenario, horizon_months, warnings, builds.model(gated=False))
    if builds.ungated_columns() <= GATED_MAX_COLUMNS:
        return _plan_once(problem, solver, scenario, horizon_months, warnings, builds.model(gated=True))
    return _search_products(problem, solver, scenario, horizon_months, warnings, builds.model(gated=False), plans)


MIN_SOLVE_SECONDS = 1.0   # a trial with less time left than this is not started
_clock = time.perf_counter


def _search_products(problem: PlanningProblem, solver: SolverOptions, scenario: str, horizon_months: int | None,
                     warnings: tuple[str, ...], ungated_model: _Prebuilt, plans: frozenset) -> Plan:
    """The product-set search of ``_plan_floored``. ``solver.time_limit_s`` bounds the
    search, not each solve: every solve gets the time left to the search's deadline once
    its model is built (the candidates on other threads used to get the limit whole, and
    a trial's time was counted before its build: 155 s for a 120 s limit, bench/README.md).
    ``ungated_model`` comes built (the build that counted the columns, before the deadline).
    A candidate that is infeasible or finds no plan in its time drops out; when every one
    does, the ungated model's error is raised."""
    held = frozenset(problem.inventory.items["product"])
    opts = problem.options
    t0 = _clock()
    deadline = t0 + solver.time_limit_s

    def time_left() -> SolverOptions:
        return replace(solver, time_limit_s=max(deadline - _clock(), MIN_SOLVE_SECONDS))

    ungated = _in_background(_plan_once, problem, solver, scenario, horizon_months, warnings, ungated_model,
                             deadline)
    no_plans = _in_background(_plan_once, replace(problem, options=replace(opts, excluded_products=plans - held)),
                              solver, scenario, horizon_months, warnings, None, deadline)
    candidates = []
    try:
        chosen = _proposed_plans(replace(problem, options=replace(opts, unfloored_plans=plans)), time_left())
        for _ in range(3 if chosen is not None else 0):
            if not chosen - held or deadline - _clock() < MIN_SOLVE_SECONDS:
                break   # the same model as no_plans, or no time left
            trial = replace(problem, options=replace(opts, excluded_products=plans - chosen - held))
            plan = _plan_once(trial, solver, scenario, horizon_months, warnings, None, deadline)
            candidates.append(plan)
            bought = _bought_plans(plan)
            if bought >= chosen:
                break
            chosen = bought
    except (InfeasibleError, DomainError):
        pass
    for waiting in (no_plans, ungated):   # the ungated plan last: first among equals, its error raised
        try:
            candidates.insert(0, waiting())
        except (InfeasibleError, DomainError):
            if waiting is ungated and not candidates:
                raise
    best = min(candidates, key=lambda p: p.solver.simulated_objective_usd)
    return replace(best, solver=replace(best.solver, search_candidates=len(candidates), search_seconds=_clock() - t0))


PROPOSAL_MIP_GAP = 0.01   # the proposal only names products; its purchases are not kept


def _proposed_plans(problem: PlanningProblem, solver: SolverOptions) -> frozenset | None:
    """The savings-plan products a solve of ``problem`` buys: one build and one solve at a
    gap of at least PROPOSAL_MIP_GAP, with the utilization floor over the horizon instead
    of month by month, nothing simulated (at 100 families x 36 months x 12 products this
    takes 9 s instead of 41 s at the default 0.1% gap, or 32 s with the monthly floor, and
    proposes the same products: bench/plan_search.py). Not the LP relaxation: fractional
    reservations leave nothing to the plans (on the default example it proposes none).
    None when that solve finds no plan."""
    problem = replace(problem, options=replace(problem.options, monthly_floor=False))
    data = prepare(problem)
    built = build_model(data, problem.constraints, problem.options.tie_break_share)
    sol = solve(built.lp, replace(solver, mip_gap=max(solver.mip_gap, PROPOSAL_MIP_GAP)))
    if not sol.has_solution:
        return None
    p = _purchases_from_solution(built.lp.values(PURCHASES, sol.x), data)
    kinds = data.options_.drop_duplicates("product").set_index("product")["kind"]
    return frozenset(p.loc[p["product"].map(kinds).eq("savings_plan"), "product"])


def _floored_plan_products(problem: PlanningProblem) -> frozenset:
    """The savings-plan products the plan may buy, when a utilization floor applies."""
    if problem.constraints.min_utilization is None:
        return frozenset()
    allowed = allowed_products(problem.catalog, problem.products)
    return frozenset(allowed.index[allowed["kind"] == "savings_plan"])


def _bought_plans(plan: Plan) -> frozenset:
    p = plan.purchases
    return frozenset(p.loc[p["kind"] == "savings_plan", "product"])


def _plan_once(problem: PlanningProblem, solver: SolverOptions, scenario: str, horizon_months: int | None,
               warnings: tuple[str, ...], prepared: ModelData | _Prebuilt | None = None,
               deadline: float | None = None) -> Plan:
    """One build and solve; ``prepared``: the problem's ModelData, or its model built
    already (only read: other threads may solve it too), when at hand; ``deadline`` (on
    ``_clock``): the solve gets the time left to it once the model is built."""
    t0 = time.perf_counter()
    if isinstance(prepared, _Prebuilt):
        built, build_s = prepared.built, prepared.seconds
    else:
        data = prepare(problem) if prepared is None else prepared
        built = build_model(data, problem.constraints, problem.options.tie_break_share)
        build_s = time.perf_counter() - t0
    data = built.data
    if deadline is not None:
        solver = replace(solver, time_limit_s=max(deadline - _clock(), MIN_SOLVE_SECONDS))
    sol = solve(built.lp, solver)
    if sol.status == SolveStatus.INFEASIBLE:
        groups = diagnose_infeasible(built.lp, solver)
        raise InfeasibleError(groups, _inventory_over_cap(problem, data) if COMMITTED_CAP in groups else "")
    if not sol.has_solution:
        raise DomainError(f"the solver ({sol.backend}) stopped without a plan: {sol.message}; "
                          "raise solver.time_limit_s or simplify the scenario")
    x = sol.x
    purchases = _purchases_from_solution(built.lp.values(PURCHASES, x), data)
    topped = top_up_split_plans(problem, data, purchases, _free_prefix(problem.inventory))
    book = problem.inventory.concat(make_purchases(problem.catalog, topped.purchases,
                                                   id_prefix=_free_prefix(problem.inventory)))
    rules = dispatch_rules(problem)
    sims = {p.name: simulate(book, p.demand_instances, p.interruptible_instances, problem.catalog, rules)
            for p in problem.forecast.paths}
    weights = data.paths.set_index("name")
    path_costs = pd.DataFrame({"weight": weights["forecast_weight"], "objective_weight": weights["weight"],
                               "cost_usd": [sims[n].kpis.cost_usd for n in weights.index]})
    simulated = float((path_costs["objective_weight"] * path_costs["cost_usd"]).sum())

    def against_simulated(x: np.ndarray) -> tuple[float, float, float]:
        """(model objective, the same with the purchases as bought, its difference share)."""
        rounded = _objective_of_rounded(built, data, purchases, x)
        return float(built.true_cost @ x + built.lp.constant), rounded, (rounded - simulated) / max(abs(simulated), 1e-9)

    model_obj, model_obj_rounded, diff = against_simulated(x)
    exact = plan_is_exact(data, book)
    if exact and abs(diff) > MATCH_TOLERANCE_SHARE and built.lp.integrality.any():
        polished = _best_cover_at(built, x, solver)
        if polished is not None:
            x = polished
            model_obj, model_obj_rounded, diff = against_simulated(x)
    if exact and abs(diff) > MATCH_TOLERANCE_SHARE:
        raise ModelMismatchError(
            f"model objective {model_obj_rounded:,.2f} USD and simulated cost {simulated:,.2f} USD differ by "
            f"{diff:.4%} (tolerance {MATCH_TOLERANCE_SHARE:.1%}); this is a bug in gpuladder, please report it "
            "with the scenario")
    n_int = int(built.lp.integrality.sum())
    report = SolverReport(sol.backend, sol.status.value, sol.gap, sol.seconds, build_s, model_obj, simulated,
                          diff, exact, data.resolution, built.lp.n_cols, n_int, built.lp.n_rows)
    expected = problem.forecast.expected
    sim = sims[expected]
    notes = list(warnings) + solver_warnings(purchases, problem.catalog, report, sol.status,
                                             topped.purchases is not purchases) + list(topped.warnings)
    notes += lock_in_warning(book, data.horizon_end)
    notes += simulated_floor_warning(book, sims, (expected, problem.forecast.conservative),
                                     problem.constraints.min_utilization, diff)
    notes += upfront_budget_warning(problem, data)
    inter = problem.forecast.path(expected).interruptible_instances
    notes += stale_price_warning(problem.catalog, data, inter.columns[(inter > 0).any().to_numpy()])
    prods = problem.catalog.products()
    estimated = frozenset(set(purchases["product"]) & estimated_products(prods))
    return Plan(scenario, problem.forecast.method, data.horizon_start, data.horizon_end,
                horizon_months or int(round(len(problem.forecast.index) / AVERAGE_MONTH_HOURS)),
                _purchase_table(book), _expiring(problem.inventory, book, data), _mix(sim),
                book, sim, path_costs.rename_axis("path"), report, tuple(notes), estimated,
                expected, problem.forecast.conservative, _next_step(data))


def _next_step(data: ModelData) -> pd.Timestamp:
    """The ladder's second step: what a monthly script buys now is what the plan dates before
    it (renewals on an inventory expiry day inside the first step too)."""
    steps = data.ladder_steps if data.ladder_steps is not None else data.steps
    later = steps[steps > data.horizon_start]
    return later[0] if len(later) else data.horizon_end


def _best_cover_at(built, x: np.ndarray, solver: SolverOptions) -> np.ndarray | None:
    """``x`` with the purchases fixed and everything else re-optimized, or None.

    A MIP stops within ``mip_gap`` of its bound, and the incumbent's continuous part (which
    layers and hour types cover the demand) need not be optimal for its purchases; the
    simulator's dispatch is. The model's cost of the purchases is then above the simulated
    one, and the exactness check would blame the model for the solver's gap."""
    lb, ub = built.lp.col_lb.copy(), built.lp.col_ub.copy()
    cols = built.lp.cols(PURCHASES)
    lb[cols] = ub[cols] = np.where(built.lp.integrality[cols], np.round(x[cols]), x[cols])
    sol = solve(built.lp.with_columns(lb, ub), replace(solver, mip_gap=0.0))
    return sol.x if sol.status == SolveStatus.OPTIMAL else None


COMMITTED_CAP = "constraints.max_committed_usd_per_hour"


def _inventory_over_cap(problem: PlanningProblem, data: ModelData) -> str:
    """When the existing commitments alone exceed the committed $/h cap, when and by how much."""
    cap = problem.constraints.max_committed_usd_per_hour
    held = np.asarray(data.inv_usd_per_hour, float)
    if cap is None or not len(held) or held.max() <= cap:
        return ""
    q = int(np.argmax(held))
    return (f"the existing commitments alone hold ${held[q]:,.2f}/h from {data.periods['start'].iat[q]:%Y-%m-%dT%H:%MZ}, "
            f"above the cap of ${cap:,.2f}/h; the cap counts them too: raise it above that, or leave it out")


def _free_prefix(inventory: CommitmentBook) -> str:
    """An id prefix for purchases that no inventory id uses (ids index the simulator's tables)."""
    prefix = "buy"
    ids = inventory.items["id"].astype(str)
    while ids.str.startswith(prefix + "-").any():
        prefix = "new" + prefix
    return prefix


def _purchases_from_solution(x: pd.Series, data: ModelData) -> pd.DataFrame:
    o = data.options_.assign(value=x.to_numpy())
    res = o["kind"] == "reservation"
    qty = np.where(res, np.round(o["value"]), plan_usd_per_hour_bought(o["value"]))
    o = o.assign(quantity=qty)
    o = o[o["quantity"] > 1e-9]
    return pd.DataFrame({"product": o["product"].to_numpy(), "family": o["family"].to_numpy(),
                         "quantity": o["quantity"].to_numpy(), "start": o["start"].to_numpy()})


def _objective_of_rounded(built, data: ModelData, purchases: pd.DataFrame, x: np.ndarray) -> float:
    """The model objective with the purchases as bought (integers exact, plans rounded to the
    $0.001/h quantum): fee difference of the rounding added to the model objective."""
    o = data.options_
    xo = built.lp.values(PURCHASES, x).to_numpy()
    key = pd.MultiIndex.from_frame(o[["product", "family", "start"]])
    bought = purchases.set_index(["product", "family", "start"])["quantity"]
    bought.index = bought.index.set_levels(pd.to_datetime(bought.index.levels[2], utc=True), level=2)
    q = bought.reindex(key).fillna(0.0).to_numpy()
    return float(built.true_cost @ x + built.lp.constant + (o["fee_usd"].to_numpy() * (q - xo)).sum())


PURCHASE_ID_PREFIX = "gl"


def purchase_ids(book: CommitmentBook) -> pd.Series:
    """Stable ids of the book's purchases (index: their rows), from the purchase itself:
    ``gl-<date>-<product>[-<region>-<instance type>]`` (``2027-02-01``, or
    ``2027-02-01T0600Z`` off midnight; the family's part for reservations only), so a re-run
    of the same plan gives the same ids and a recorded purchase keeps its id in the
    inventory (usage/inventory_record.py). Characters outside ``A-Za-z0-9._-`` read ``_``.
    A plan buys one purchase per date, product and family; an id the inventory already
    holds, or one repeated after that substitution, takes ``-2``, ``-3`` ... in ladder
    order."""
    items = book.items
    it = items[items["origin"] == "purchase"].sort_values(["start", "provider", "product", "family"])
    if it.empty:
        return pd.Series([], index=it.index, dtype=object)
    start = it["start"]
    midnight = (start == start.dt.floor("D")).to_numpy()
    date = np.where(midnight, start.dt.strftime("%Y-%m-%d"), start.dt.strftime("%Y-%m-%dT%H%MZ"))
    family = it["family"].fillna("").astype(str).str.split("/", n=1).str[-1].str.replace("/", "-")
    tail = np.where(it["kind"].to_numpy() == "reservation", "-" + family, "")
    base = pd.Series(PURCHASE_ID_PREFIX + "-" + date + "-" + it["product"].astype(str).to_numpy() + tail,
                     index=it.index).str.replace(r"[^A-Za-z0-9._-]", "_", regex=True)
    taken = set(items.loc[items["origin"] != "purchase", "id"].astype(str))
    if not (base.duplicated().any() or base.isin(taken).any()):
        return base
    ids = []
    for b in base:   # rare: the loop runs over purchases, only when an id repeats
        n, candidate = 1, b
        while candidate in taken:
            n += 1
            candidate = f"{b}-{n}"
        taken.add(candidate)
        ids.append(candidate)
    return pd.Series(ids, index=base.index, dtype=object)


def _purchase_table(book: CommitmentBook) -> pd.DataFrame:
    it = book.items[book.items["origin"] == "purchase"]
    out = pd.DataFrame({
        "date": it["start"], "provider": it["provider"], "product": it["product"], "kind": it["kind"],
        "family": pd.Series([f if f else None for f in it["family"]], index=it.index, dtype=object),
        "scope": pd.Series([p if k == "savings_plan" else None for p, k in zip(it["product"], it["kind"])],
                           index=it.index, dtype=object),
        "term_months": it["term_months"], "payment": it["payment"], "quantity": it["quantity"],
        "upfront_usd": it["upfront_usd"], "recurring_usd_per_hour": it["recurring_usd_per_hour"],
        "expires": it["end"], "id": purchase_ids(book).reindex(it.index)})
    return out.sort_values(["date", "provider", "product", "family"], na_position="first").reset_index(drop=True)


def _expiring(inventory: CommitmentBook, book: CommitmentBook, data: ModelData) -> pd.DataFrame:
    """Existing commitments that end in the horizon, ``[start, end)`` (one that ends on its
    end is the next plan's to renew). ``renewed_quantity``: how much of one the plan's
    purchases replace, from its expiry day up to the first ladder step from then on, in its
    own unit (instances, or $/h of its plan). What can replace it: reservations of its
    family; savings plans whose scope holds every family with demand its plan covers (a p5
    plan does not replace a g6e plan, a compute-wide one does), their $/h counted in its
    plan's $ by the ratio of the rates. Those expiring up to the same step form a group:
    what starts from the group's first expiry day to the step and stays after it replaces
    up to what the group lets expire, inventory starting then (renewed already) first; the
    plan's part is shared out in expiry and id order. ``renew`` when one is replaced whole
    (savings plans: within the $0.001/h they are bought in). ``renewed_by``: the ids
    (``purchase_ids``) of the purchases that replace it, the plan's part of a group taken
    from its purchases in date and id order as it is shared out; empty exactly when
    ``renewed_quantity`` is 0 (an amount under RENEWED_MIN reads 0)."""
    inv = inventory.items
    ends = inv[(inv["end"] >= data.horizon_start) & (inv["end"] < data.horizon_end)].sort_values(["end", "id"])
    steps = data.ladder_steps if data.ladder_steps is not None else data.steps
    at = steps.searchsorted(pd.DatetimeIndex(ends["end"].dt.floor("D")).as_unit(steps.unit), side="left")
    ends = ends.assign(renew_at=[steps[i] if i < len(steps) else e for i, e in zip(at, ends["end"])])
    it = book.items.copy()
    ids = purchase_ids(book)
    it.loc[ids.index, "id"] = ids
    scope = data.plan_rates.groupby("product")["family"].agg(frozenset)
    rate = data.plan_rates.set_index(["product", "family"])["rate_usd_per_hour"]
    rows = []
    left: dict = {}   # what the plan's purchases replace at a step, shared out among the expiries there
    queue: dict = {}  # the same, per purchase: [id, amount not yet given to an expiry]
    for _, r in ends.iterrows():
        tolerance = 1e-9
        if r["kind"] == "reservation":
            key = r["family"]
            can = (it["kind"] == "reservation") & (it["family"] == key)
            peers = ends[(ends["kind"] == "reservation") & (ends["family"] == key)]
            unit = pd.Series(1.0, index=it.index)
        else:
            key = r["product"]
            need = scope.get(key, frozenset())
            covers = {j for j, fams in scope.items() if need and need <= fams} | {key}
            can = (it["kind"] == "savings_plan") & it["product"].isin(covers)
            peers = ends[(ends["kind"] == "savings_plan") & ends["product"].isin(covers)]
            worth = {j: float(np.mean([rate[key, f] / rate[j, f] for f in need])) if need else 1.0 for j in covers}
            unit = it["product"].map(worth)
            tolerance += SP_QUANTUM_USD_PER_HOUR * max(worth.values())
        same = it[can].assign(quantity=it.loc[can, "quantity"] * unit[can])
        t1 = r["renew_at"]
        group = (r["kind"], key, t1)
        if group not in left:
            t0 = peers.loc[peers["renew_at"] == t1, "end"].min().floor("D")   # replacements start that day
            ending = (same["start"] < t0) & (same["end"] >= t0) & (same["end"].dt.floor("D") <= t1)
            expiring = same.loc[ending, "quantity"].sum()
            new = same[(same["start"] >= t0) & (same["start"] <= t1) & (same["end"] > t1)]
            queued = new.loc[new["origin"] == "inventory", "quantity"].sum()
            left[group] = float(min(new["quantity"].sum(), expiring) - min(queued, expiring))
            queue[group] = _plan_part(new[new["origin"] == "purchase"], left[group])
        renewed = min(left[group], float(r["quantity"]))
        renewed = renewed if renewed >= RENEWED_MIN else 0.0
        left[group] -= renewed
        rows.append({"id": r["id"], "product": r["product"], "family": r["family"] or None,
                     "quantity": r["quantity"], "expires": r["end"],
                     "renew": bool(0 < renewed >= r["quantity"] - tolerance), "renewed_quantity": renewed,
                     "renewed_by": _take(queue[group], renewed)})
    return pd.DataFrame(rows, columns=["id", "product", "family", "quantity", "expires", "renew", "renewed_quantity",
                                       "renewed_by"])


RENEWED_MIN = 1e-6   # a renewed amount below this reads 0 (the JSON shows 6 decimals)
FLOAT_DUST = 1e-9    # what sums of the purchases' amounts may leave over


def _plan_part(bought: pd.DataFrame, total: float) -> list[list]:
    """[id, amount] of the purchases ``bought`` (quantities in the expiring unit) that make up
    ``total``, in date and id order: what is beyond ``total`` replaces nothing that expires."""
    part, rest = [], total
    for pid, q in bought.sort_values(["start", "id"])[["id", "quantity"]].itertuples(index=False):
        if rest <= FLOAT_DUST:
            break
        part.append([pid, min(float(q), rest)])
        rest -= part[-1][1]
    return part


def _take(part: list[list], amount: float) -> tuple[str, ...]:
    """The ids ``amount`` is taken from, front first, consuming ``part``."""
    taken = []
    while amount > FLOAT_DUST and part:
        pid, have = part[0]
        use = min(have, amount)
        if use > FLOAT_DUST:
            taken.append(pid)
        amount -= use
        part[0][1] -= use
        if part[0][1] <= FLOAT_DUST:
            part.pop(0)
    return tuple(taken)


def _mix(sim: SimulationResult) -> pd.DataFrame:
    bf = sim.by_family
    hours = max(len(sim.hours), 1)
    return pd.DataFrame({
        "committed_instances": bf["avg_reserved_instances"] + bf["savings_plan_instance_hours"] / hours,
        "reserved_share": bf["reserved_share"],
        "savings_plan_share": bf["savings_plan_share"],
        "spot_share": bf["spot_share"],
        "on_demand_share": bf["on_demand_share"],
        "demand_instance_hours": bf["demand_instance_hours"],
        "cost_usd": bf["cost_usd"],
        "on_demand_equivalent_usd": bf["on_demand_equivalent_usd"],
    }).rename_axis("family").sort_index()
