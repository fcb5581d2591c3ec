"""The billing simulator (DESIGN.md section 4): the ground truth of every figure the tool prints.

It reads the commitment book and the price catalog as plain data and dispatches each
hour's demand at least cost given the commitments in force. It shares no code with the
optimizer model (``solver/model.py``); tests hold the two together.

Each hour, for each family ``f`` (all arrays are hours x families, no loop over hours):

* ``eligible = min(interruptible, spot_cap[f] x demand)`` where the family has a usable
  spot market, else 0; ``firm = demand - eligible``. The effective spot price is
  ``spot x (1 + rework overhead of f's interruption bucket)``. Spot is *usable* when the
  family has a spot price and its effective spot price is below on-demand; otherwise
  the spot instances would cost on-demand (DESIGN.md caps effective spot at
  on-demand), so they are dispatched, and reported, as on-demand. The cost is the same.
1. Reservations in force (``start <= hour < end``; rows of one family add up) cover the
   family's demand up to their count, firm instances first, then eligible ones.
2. Savings plans in force cover what is left, one plan at a time: narrowest scope first
   (fewest families covered by the product in the catalog), then product id, then
   book id. An instance-hour of ``f`` consumes the product's ``rate_usd_per_hour`` for
   ``f``. Within a plan, pieces go in decreasing value per commitment dollar (firm:
   on-demand / rate; eligible: effective spot / rate; ties by family name, firm before
   eligible), fractionally, until the hour's $ commitment is spent. Unused commitment
   in an hour is lost.
3. Eligible instances still uncovered run on spot at the effective spot price.
4. Firm instances still uncovered run on-demand.

Fees: each commitment accrues every hour of its term inside the horizon (the demand
index, ``[first hour, last hour + 1h)``), used or not. Amortized view: recurring +
upfront / term hours, per hour (term hours = ``(end - start)`` in hours). Cash view:
recurring per hour, plus the upfront in the hour of ``start`` if ``start`` is inside the
horizon (a commitment bought before the horizon paid its upfront before it).

Definitions of the figures (see ``SimulationKpis``):

* commitment $ of a commitment = its amortized fee inside the horizon; its utilization
  = used capacity / capacity in force (reservation: covered instance-hours /
  (count x hours); savings plan: $ consumed / ($/h x hours)); used $ = utilization x
  commitment $; waste $ = commitment $ - used $.
* ``commitment_utilization`` = sum of used $ / sum of commitment $ (1.0 when no
  commitment $ falls in the horizon).
* ``coverage`` = on-demand value of the instance-hours served by commitments
  (reserved + savings-plan instance-hours x the family's on-demand price) / the
  on-demand-equivalent $ (0 when there is no demand).
* per-family fees: a reservation's fee goes to its family; a savings plan's fee is
  split in proportion to the $ each family consumed of it (a plan never used is split
  by the on-demand-equivalent $ of the covered families in the demand; when none has
  demand its fee is in ``SimulationResult.unallocated_fees_usd`` only, so ``by_family``
  cost then sums to less than the total by exactly that amount).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError, did_you_mean
from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS, PriceCatalog
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.quarters import quarter_ids, quarter_start
from gpuladder.units import HOUR

SOURCES = ("reserved", "savings_plan", "spot", "on_demand")
_TOLERANCE_INSTANCES = 1e-9


@dataclass(frozen=True)
class DispatchRules:
    """How demand may be dispatched.

    ``spot_cap``: the share of a family's hourly demand that may run on spot; one number
    for every family, a mapping family -> share (families it omits have no cap), or
    None (no cap: every interruptible instance may run on spot).
    ``rework_overhead``: the extra cost of interruptions as a share of the spot price, by
    interruption bucket (buckets it omits have no overhead) or one number for all.
    """

    spot_cap: float | Mapping[str, float] | None = None
    rework_overhead: Mapping[str, float] | float = 0.0


@dataclass(frozen=True)
class SimulationKpis:
    """Horizon totals. Money in USD; ``cost_usd`` is the amortized view."""

    cost_usd: float
    cash_cost_usd: float
    on_demand_equivalent_usd: float
    savings_usd: float
    effective_savings_rate: float
    commitment_utilization: float
    coverage: float
    spot_share: float
    waste_usd: float
    commitment_fees_usd: float
    spot_usd: float
    on_demand_usd: float
    upfront_usd: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class HourlyDispatch:
    """Hour x family frames (instances) by source, and hour-level costs.

    ``cost`` columns: ``commitment_fees_usd`` (amortized), ``upfront_usd`` and
    ``recurring_usd`` (cash view of the fees), ``spot_usd``, ``on_demand_usd``,
    ``cost_usd`` (amortized total) and ``cash_cost_usd``.
    """

    demand_instances: pd.DataFrame
    eligible_instances: pd.DataFrame
    reserved_capacity_instances: pd.DataFrame
    reserved_instances: pd.DataFrame
    savings_plan_instances: pd.DataFrame
    spot_instances: pd.DataFrame
    on_demand_instances: pd.DataFrame
    cost: pd.DataFrame

    def by_source(self) -> pd.DataFrame:
        """One frame with a (source, family) column MultiIndex."""
        return pd.concat({s: getattr(self, f"{s}_instances") for s in SOURCES}, axis=1)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Everything the tool prints about a simulated book.

    ``hours``: the horizon's hours (UTC); ``families``: the demand's families plus those
    of reservations in the book, sorted. ``by_family`` (index = family): instance-hours
    and shares by source, ``avg_reserved_instances`` (the committed floor),
    on-demand-equivalent / spot / on-demand / allocated fee / cost / savings $.
    ``by_commitment`` (index = book id): hours in the horizon, amortized and cash fee $,
    used $, utilization (NaN when nothing of it is in the horizon) and waste $.
    ``monthly``: ``hourly.cost`` summed per calendar month (``cash_flow('quarter')`` too).
    """

    hours: pd.DatetimeIndex
    families: tuple[str, ...]
    hourly: HourlyDispatch
    by_family: pd.DataFrame
    by_commitment: pd.DataFrame
    kpis: SimulationKpis
    monthly: pd.DataFrame
    unallocated_fees_usd: float

    @property
    def horizon_start(self) -> pd.Timestamp:
        return self.hours[0]

    @property
    def horizon_end(self) -> pd.Timestamp:
        return self.hours[-1] + HOUR

    def cash_flow(self, period: str = "month", fiscal_year_start_month: int = 1) -> pd.DataFrame:
        """Money per calendar month, or per quarter of the year starting in month
        ``fiscal_year_start_month`` (1: calendar quarters; the budget's quarters,
        solver/quarters.py), index = period start, UTC."""
        return _by_period(self.hourly.cost, period, fiscal_year_start_month)


# ---------------------------------------------------------------- the simulation

def simulate(book: CommitmentBook, demand_instances: pd.DataFrame, interruptible_instances: pd.DataFrame,
             catalog: PriceCatalog, rules: DispatchRules) -> SimulationResult:
    """Dispatch every hour of ``demand_instances`` against ``book`` with the rules above."""
    hours = _check_hours(demand_instances.index)
    items = book.items.reset_index(drop=True)
    res_rows = items["kind"].eq("reservation").to_numpy()
    families = sorted(set(demand_instances.columns) | set(items.loc[res_rows, "family"]))
    _check_families(families, catalog)
    col = {f: j for j, f in enumerate(families)}
    demand, inter = _demand_arrays(demand_instances, interruptible_instances, families, hours)
    prices = _family_prices(catalog, families, rules.rework_overhead)
    cap = _spot_caps(rules.spot_cap, families)
    eligible = np.where(prices["usable"], np.minimum(inter, cap * demand), 0.0)
    firm = demand - eligible

    first, stop = _in_force_slices(items, hours)
    n_hours, n_fam = demand.shape
    capacity = np.zeros((n_hours, n_fam))
    fam_of, qty = items["family"].to_numpy(), items["quantity"].to_numpy(dtype=float)
    for i in np.flatnonzero(res_rows):
        capacity[first[i]:stop[i], col[fam_of[i]]] += qty[i]
    res_firm = np.minimum(capacity, firm)
    res_elig = np.minimum(capacity - res_firm, eligible)
    firm_left = firm - res_firm
    elig_left = eligible - res_elig

    sp = _apply_savings_plans(items, catalog, prices, col, first, stop, firm_left, elig_left)
    spot_inst = elig_left
    od_inst = firm_left
    reserved = res_firm + res_elig
    used_capacity = _reservation_use(items, res_rows, col, first, stop, reserved, capacity)
    used_capacity.update(sp.consumed_usd)

    cost = _hourly_cost(items, hours, first, stop, spot_inst @ prices["spot_cost"], od_inst @ prices["od"])
    frames = [pd.DataFrame(a, index=hours, columns=pd.Index(families, name="family"))
              for a in (demand, eligible, capacity, reserved, sp.instances, spot_inst, od_inst)]
    hourly = HourlyDispatch(*frames, cost)
    by_commitment = _commitment_table(items, hours, first, stop, used_capacity)
    scopes = catalog.commitments.groupby("product")["family"].agg(frozenset)
    by_family, unallocated = _family_table(hourly, prices, items, by_commitment, sp.family_consumed_usd, scopes)
    kpis = _kpis(hourly, by_family, by_commitment)
    return SimulationResult(hours, tuple(families), hourly, by_family, by_commitment, kpis,
                            _by_period(cost, "month"), unallocated)


# ---------------------------------------------------------------- inputs

def _check_hours(index: pd.Index) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        raise DomainError("demand must be indexed by a non-empty hourly UTC DatetimeIndex")
    if index.tz is None:
        raise DomainError("demand timestamps are naive; localize them to UTC "
                          "(e.g. index.tz_localize('UTC')) before simulating")
    idx = index.tz_convert("UTC")
    wrong = np.asarray(idx[1:] - idx[:-1] != HOUR)
    if wrong.any():
        k = int(np.flatnonzero(wrong)[0])
        raise DomainError(f"demand hours must be consecutive: {idx[k]} is followed by {idx[k + 1]} "
                          "(fill gaps with zero before simulating)")
    return pd.DatetimeIndex(idx, name="hour")


def _check_families(families: list[str], catalog: PriceCatalog) -> None:
    known = catalog.families.index
    for f in families:
        if f not in known:
            raise DomainError(f"family '{f}' is not in the price catalog.{did_you_mean(f, known)}")


def _demand_arrays(demand: pd.DataFrame, inter: pd.DataFrame, families: list[str],
                   hours: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    for name, a in (("demand", demand), ("interruptible", inter)):
        if a.columns.duplicated().any():
            raise DomainError(f"{name} has the family '{a.columns[a.columns.duplicated()][0]}' twice")
    extra = sorted(set(inter.columns) - set(demand.columns))
    if extra:
        raise DomainError(f"interruptible instances given for '{extra[0]}', which has no demand column")
    same = (isinstance(inter.index, pd.DatetimeIndex) and inter.index.tz is not None
            and len(inter.index) == len(hours) and (inter.index.tz_convert("UTC") == hours).all())
    if not same:
        raise DomainError("interruptible instances must have the same hourly index as the demand")
    d = demand.reindex(columns=families).fillna(0.0).to_numpy(dtype=float)
    i = inter.set_axis(hours, axis=0).reindex(columns=families).fillna(0.0).to_numpy(dtype=float)
    for name, a in (("demand", demand), ("interruptible", inter)):
        arr = a.to_numpy(dtype=float)
        if arr.size and (not np.isfinite(arr).all() or (arr < 0).any()):
            raise DomainError(f"{name} instances must be finite and >= 0 (masked hours are NaN: "
                              "fill or drop them before simulating)")
    over = i - d
    if (over > _TOLERANCE_INSTANCES).any():
        h, j = np.unravel_index(int(np.argmax(over)), over.shape)
        raise DomainError(f"interruptible instances exceed demand for '{families[j]}' at {hours[h]}")
    return d, np.minimum(i, d)


def _family_prices(catalog: PriceCatalog, families: list[str], overhead) -> dict[str, np.ndarray]:
    fam = catalog.families.loc[families]
    if isinstance(overhead, Mapping):
        for bucket, value in overhead.items():
            if bucket not in INTERRUPTION_BUCKETS:
                raise DomainError(f"unknown interruption bucket '{bucket}' in rework overhead."
                                  f"{did_you_mean(str(bucket), INTERRUPTION_BUCKETS)}")
            _check_share(value, f"rework overhead of '{bucket}'", upper=None)
        over = fam["interruption_bucket"].map(dict(overhead)).fillna(0.0).to_numpy(dtype=float)
    else:
        _check_share(overhead, "rework overhead", upper=None)
        over = np.full(len(families), float(overhead))
    od = fam["on_demand_usd_per_hour"].to_numpy(dtype=float)
    spot = fam["spot_usd_per_hour"].to_numpy(dtype=float) * (1.0 + over)
    usable = np.isfinite(spot) & (spot < od)
    effective = np.where(usable, spot, od)
    return {"od": od, "effective_spot": effective, "usable": usable,
            "spot_cost": np.where(usable, spot, 0.0)}


def _check_share(value, what: str, upper: float | None = 1.0) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value >= 0
    if not ok or (upper is not None and value > upper):
        bound = "between 0 and 1" if upper is not None else "a number >= 0"
        raise DomainError(f"{what} must be {bound}, got {value!r}")


def _spot_caps(spot_cap, families: list[str]) -> np.ndarray:
    """Per family cap as a share of demand; no cap is a cap of 1 (interruptible <= demand)."""
    if spot_cap is None:
        return np.ones(len(families))
    if isinstance(spot_cap, Mapping):
        for f, v in spot_cap.items():
            _check_share(v, f"spot cap of '{f}'")
        return np.array([float(spot_cap.get(f, 1.0)) for f in families])
    _check_share(spot_cap, "spot cap")
    return np.full(len(families), float(spot_cap))


def _in_force_slices(items: pd.DataFrame, hours: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per book row, the hour positions [first, stop) with start <= hour < end."""
    if items.empty:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    start = pd.DatetimeIndex(pd.to_datetime(items["start"], utc=True))
    end = pd.DatetimeIndex(pd.to_datetime(items["end"], utc=True))
    if start.isna().any() or end.isna().any() or (end <= start).any():
        bad = items["id"][(start.isna() | end.isna() | (end <= start))].iloc[0]
        raise DomainError(f"commitment '{bad}' needs a start before its end")
    qty = items["quantity"].to_numpy(dtype=float)
    if not (np.isfinite(qty) & (qty >= 0)).all():
        raise DomainError(f"commitment '{items['id'][~(np.isfinite(qty) & (qty >= 0))].iloc[0]}' "
                          "has a negative or missing quantity")
    kinds = set(items["kind"]) - {"reservation", "savings_plan"}
    if kinds:
        raise DomainError(f"unknown commitment kind '{sorted(kinds)[0]}' in the book")
    first = hours.searchsorted(start, side="left")
    stop = hours.searchsorted(end, side="left")
    return np.asarray(first, dtype=int), np.asarray(stop, dtype=int)


# ---------------------------------------------------------------- savings plans

@dataclass(frozen=True, eq=False)
class _PlanUse:
    instances: np.ndarray              # hour x family, covered by any plan
    consumed_usd: dict[int, float]     # book row -> commitment $ consumed
    family_consumed_usd: dict[int, np.ndarray]  # book row -> $ consumed per family


def _plan_order(items: pd.DataFrame, catalog: PriceCatalog) -> list[int]:
    rows = np.flatnonzero(items["kind"].eq("savings_plan").to_numpy())
    if len(rows) == 0:
        return []
    scope = catalog.scope_family_counts()
    products, ids = items["product"].to_numpy(), items["id"].to_numpy()
    for i in rows:
        if products[i] not in scope.index:
            raise DomainError(f"savings plan '{ids[i]}' names product '{products[i]}', "
                              f"which is not in the catalog.{did_you_mean(str(products[i]), scope.index)}")
    width = scope.reindex(products[rows]).to_numpy()
    key = [(int(w), str(products[i]), str(ids[i]), int(i)) for w, i in zip(width, rows)]
    return [k[-1] for k in sorted(key)]


def _plan_pieces(product: str, catalog: PriceCatalog, prices, col) -> list[tuple[int, bool, float]]:
    """(family column, eligible?, rate) in the plan's order of value per commitment dollar."""
    com = catalog.commitments
    rows = com[com["product"] == product]
    pieces = []
    for fam, rate in zip(rows["family"], rows["rate_usd_per_hour"].astype(float)):
        if fam not in col:
            continue
        j = col[fam]
        pieces.append((-prices["od"][j] / rate, fam, 0, j, rate))
        if prices["usable"][j]:
            pieces.append((-prices["effective_spot"][j] / rate, fam, 1, j, rate))
    pieces.sort()
    return [(j, bool(kind), rate) for _, _, kind, j, rate in pieces]


def _apply_savings_plans(items, catalog, prices, col, first, stop, firm_left, elig_left) -> _PlanUse:
    """Cover ``firm_left``/``elig_left`` (updated in place) plan by plan, fractionally."""
    covered_inst = np.zeros_like(firm_left)
    consumed: dict[int, float] = {}
    per_family: dict[int, np.ndarray] = {}
    products, quantity = items["product"].to_numpy(), items["quantity"].to_numpy(dtype=float)
    pieces_of: dict[str, list[tuple[int, bool, float]]] = {}
    for i in _plan_order(items, catalog):
        product = str(products[i])
        if product not in pieces_of:
            pieces_of[product] = _plan_pieces(product, catalog, prices, col)
        pieces = pieces_of[product]
        consumed[i] = 0.0
        per_family[i] = np.zeros(firm_left.shape[1])
        a, b = first[i], stop[i]
        budget = float(quantity[i])
        if not pieces or a >= b or budget <= 0:
            continue
        cols = np.array([j for j, _, _ in pieces])
        is_elig = np.array([e for _, e, _ in pieces])
        rates = np.array([r for _, _, r in pieces])
        amount = np.where(is_elig, elig_left[a:b][:, cols], firm_left[a:b][:, cols])
        need_usd = amount * rates
        before_usd = np.cumsum(need_usd, axis=1) - need_usd
        spend_usd = np.clip(budget - before_usd, 0.0, need_usd)
        cover = np.minimum(spend_usd / rates, amount)
        for left, mask in ((firm_left, ~is_elig), (elig_left, is_elig)):
            block, done, idx = left[a:b], covered_inst[a:b], cols[mask]
            block[:, idx] = np.maximum(block[:, idx] - cover[:, mask], 0.0)
            done[:, idx] += cover[:, mask]
        consumed[i] = float(spend_usd.sum())
        np.add.at(per_family[i], cols, spend_usd.sum(axis=0))
    return _PlanUse(covered_inst, consumed, per_family)


# ---------------------------------------------------------------- money

def _reservation_use(items, res_rows, col, first, stop, reserved, capacity) -> dict[int, float]:
    """Covered instance-hours per reservation row; rows of one family share the family's
    reserved instances in proportion to their quantity (they are interchangeable)."""
    use: dict[int, float] = {}
    share = np.divide(reserved, capacity, out=np.zeros_like(reserved), where=capacity > 0)
    fam_of, qty = items["family"].to_numpy(), items["quantity"].to_numpy(dtype=float)
    for i in np.flatnonzero(res_rows):
        use[i] = float(qty[i]) * float(share[first[i]:stop[i], col[fam_of[i]]].sum())
    return use


def _fee_rates(items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(amortized $/h, recurring $/h, upfront $) per book row."""
    term_hours = ((pd.to_datetime(items["end"], utc=True) - pd.to_datetime(items["start"], utc=True))
                  / HOUR).to_numpy(dtype=float)
    upfront = items["upfront_usd"].to_numpy(dtype=float)
    recurring = items["recurring_usd_per_hour"].to_numpy(dtype=float)
    return recurring + upfront / term_hours, recurring, upfront


def _hourly_cost(items, hours, first, stop, spot_usd, od_usd) -> pd.DataFrame:
    n = len(hours)
    amortized = np.zeros(n)
    recurring = np.zeros(n)
    upfront = np.zeros(n)
    if not items.empty:
        amort_rate, rec_rate, up = _fee_rates(items)
        for i in range(len(items)):
            amortized[first[i]:stop[i]] += amort_rate[i]
            recurring[first[i]:stop[i]] += rec_rate[i]
        start = pd.DatetimeIndex(pd.to_datetime(items["start"], utc=True)).floor("h")
        inside = (start >= hours[0]) & (start < hours[-1] + HOUR)
        np.add.at(upfront, hours.searchsorted(start[inside]), up[inside])
    cost = pd.DataFrame({"commitment_fees_usd": amortized, "upfront_usd": upfront,
                         "recurring_usd": recurring, "spot_usd": spot_usd, "on_demand_usd": od_usd},
                        index=hours)
    cost["cost_usd"] = amortized + spot_usd + od_usd
    cost["cash_cost_usd"] = upfront + recurring + spot_usd + od_usd
    return cost


def _commitment_table(items, hours, first, stop, used_capacity: dict[int, float]) -> pd.DataFrame:
    cols = ["product", "kind", "family", "quantity", "start", "end", "hours_in_horizon",
            "amortized_fee_usd", "cash_fee_usd", "used_usd", "utilization", "waste_usd"]
    amort_rate, rec_rate, up = _fee_rates(items)
    in_horizon = (stop - first).astype(float)
    start = pd.DatetimeIndex(pd.to_datetime(items["start"], utc=True)).floor("h")
    inside = np.asarray((start >= hours[0]) & (start < hours[-1] + HOUR))
    qty = items["quantity"].to_numpy(dtype=float)
    capacity = qty * in_horizon
    used = np.array([used_capacity.get(i, 0.0) for i in range(len(items))])
    utilization = np.divide(used, capacity, out=np.full(len(items), np.nan), where=capacity > 0)
    fee = amort_rate * in_horizon
    used_usd = np.where(capacity > 0, np.nan_to_num(utilization) * fee, 0.0)
    out = pd.DataFrame({
        "product": items["product"].to_numpy(), "kind": items["kind"].to_numpy(),
        "family": items["family"].to_numpy(), "quantity": qty,
        "start": items["start"].to_numpy(), "end": items["end"].to_numpy(),
        "hours_in_horizon": in_horizon, "amortized_fee_usd": fee,
        "cash_fee_usd": rec_rate * in_horizon + np.where(inside, up, 0.0),
        "used_usd": used_usd, "utilization": utilization, "waste_usd": fee - used_usd,
    }, index=pd.Index(items["id"].astype(str).to_numpy(), name="id"))
    return out[cols]


def _family_table(hourly: HourlyDispatch, prices, items, by_commitment, family_consumed_usd,
                  scopes: pd.Series):
    fams = hourly.demand_instances.columns
    total = {s: getattr(hourly, f"{s}_instances").sum(axis=0).to_numpy() for s in SOURCES}
    demand = hourly.demand_instances.sum(axis=0).to_numpy()
    ode = demand * prices["od"]
    spot_usd = total["spot"] * prices["spot_cost"]
    od_usd = total["on_demand"] * prices["od"]
    fees = np.zeros(len(fams))
    unallocated = 0.0
    col = {f: j for j, f in enumerate(fams)}
    fee = by_commitment["amortized_fee_usd"].to_numpy() if len(items) else np.zeros(0)
    kind, fam_of, products = (items[c].to_numpy() for c in ("kind", "family", "product"))
    for i in range(len(items)):
        if kind[i] == "reservation":
            fees[col[fam_of[i]]] += fee[i]
            continue
        weights = family_consumed_usd.get(i, np.zeros(len(fams)))
        if weights.sum() <= 0:
            covered = scopes.get(products[i], frozenset())
            weights = np.where([f in covered for f in fams], ode, 0.0)
        if weights.sum() > 0:
            fees += fee[i] * weights / weights.sum()
        else:
            unallocated += fee[i]
    cost = fees + spot_usd + od_usd
    safe = np.where(demand > 0, demand, 1.0)
    out = pd.DataFrame({
        "demand_instance_hours": demand,
        "eligible_instance_hours": hourly.eligible_instances.sum(axis=0).to_numpy(),
        **{f"{s}_instance_hours": total[s] for s in SOURCES},
        **{f"{s}_share": np.where(demand > 0, total[s] / safe, 0.0) for s in SOURCES},
        "avg_reserved_instances": hourly.reserved_capacity_instances.mean(axis=0).to_numpy(),
        "on_demand_usd_per_hour": prices["od"],
        "effective_spot_usd_per_hour": np.where(prices["usable"], prices["effective_spot"], np.nan),
        "on_demand_equivalent_usd": ode, "commitment_fees_usd": fees, "spot_usd": spot_usd,
        "on_demand_usd": od_usd, "cost_usd": cost, "savings_usd": ode - cost,
    }, index=pd.Index(fams, name="family"))
    return out, float(unallocated)


def _kpis(hourly: HourlyDispatch, by_family: pd.DataFrame, by_commitment: pd.DataFrame) -> SimulationKpis:
    totals = hourly.cost.sum(axis=0)
    ode = float(by_family["on_demand_equivalent_usd"].sum())
    demand = float(by_family["demand_instance_hours"].sum())
    cost = float(totals["cost_usd"])
    committed_value = float(((by_family["reserved_instance_hours"] + by_family["savings_plan_instance_hours"])
                             * by_family["on_demand_usd_per_hour"]).sum())
    fee = float(by_commitment["amortized_fee_usd"].sum()) if len(by_commitment) else 0.0
    used = float(by_commitment["used_usd"].sum()) if len(by_commitment) else 0.0
    return SimulationKpis(
        cost_usd=cost,
        cash_cost_usd=float(totals["cash_cost_usd"]),
        on_demand_equivalent_usd=ode,
        savings_usd=ode - cost,
        effective_savings_rate=1.0 - cost / ode if ode > 0 else 0.0,
        commitment_utilization=used / fee if fee > 0 else 1.0,
        coverage=committed_value / ode if ode > 0 else 0.0,
        spot_share=float(by_family["spot_instance_hours"].sum()) / demand if demand > 0 else 0.0,
        waste_usd=fee - used,
        commitment_fees_usd=float(totals["commitment_fees_usd"]),
        spot_usd=float(totals["spot_usd"]),
        on_demand_usd=float(totals["on_demand_usd"]),
        upfront_usd=float(totals["upfront_usd"]),
    )


def _by_period(cost: pd.DataFrame, period: str, fiscal_year_start_month: int = 1) -> pd.DataFrame:
    if period not in ("month", "quarter"):
        raise DomainError(f"period must be 'month' or 'quarter', got {period!r}")
    if (isinstance(fiscal_year_start_month, bool) or not isinstance(fiscal_year_start_month, (int, np.integer))
            or fiscal_year_start_month not in range(1, 13)):
        raise DomainError(f"fiscal_year_start_month must be a whole month number 1-12, got {fiscal_year_start_month!r}")
    naive = cost.index.tz_convert("UTC").tz_localize(None)
    if period == "month":
        starts = naive.to_period("M").to_timestamp().tz_localize("UTC")
    else:
        quarters, which = np.unique(quarter_ids(naive, fiscal_year_start_month), return_inverse=True)
        starts = pd.DatetimeIndex([quarter_start(q, fiscal_year_start_month) for q in quarters.tolist()])[which]
    out = cost.groupby(starts).sum()
    out.index.name = f"{period}_start"
    return out


__all__ = ["DispatchRules", "HourlyDispatch", "SimulationKpis", "SimulationResult", "SOURCES", "simulate"]
