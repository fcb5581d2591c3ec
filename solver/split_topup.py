"""After the solve: top up the savings plans the split compression under-buys (session 10).

In split cells (docs/model.md, cells) a plan covering several families is read per family,
its $/h split among them once per period: the floor rows cannot see the hour-by-hour
pooling across families, so they read the plan's use too low, and under a utilization
floor the model buys too little of it (bench/README.md, "What the compression costs":
the simulator then measures compute plans used 97.6-99.9% on P50 where 95% is asked, and
the plan costs 1-13.5% more than an exact model's).

The billing simulator is the truth: for each such product the plan buys, every new purchase
of it is scaled by a common factor 1 + a (the ladder keeps its shape and dates; $/h rounded
down to the $0.001/h quantum), with a the largest that keeps every floor the model holds
(over the horizon on each floor path, in each floor window on the expected one; on what the
plan adds, as ``plan_warnings.simulated_floor_warning`` measures it), and among a in
[0, a_max] the one with the lowest simulated objective (the paths at the objective's
weights). Use falls as a grows and the cost is convex in a: bisection for a_max, then a
golden section. A change that raises the simulated objective or breaks a floor somewhere
the model holds one is never kept.

Not applied (the plan is returned as solved):
* without a utilization floor, or to a product whose floor rows are left out;
* to a product covering one family with demand, or read through no split cell while in
  force (the model's reading is exact there);
* to a product the inventory holds (its floor is on what the plan adds beside it, read
  with the inventory's allowance: not measured here);
* when an upfront budget, a committed $/h cap, or a ladder limit (expiring share per
  quarter, bought share per step) is set: a larger purchase would have to be checked
  against those too, and it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.book import make_purchases, plan_usd_per_hour_bought
from gpuladder.solver.modeldata import SP, SPLIT, ModelData, PlanningProblem, dispatch_rules
from gpuladder.solver.plan_warnings import floor_keys, held_floor_keys
from gpuladder.solver.simulate import simulate

__all__ = ["TopUp", "top_up_split_plans"]

MAX_SCALE_SHARE = 4.0          # a is searched in [0, 4]: at most five times what the model bought
BISECTION_STEPS = 6
GOLDEN_STEPS = 8
# hours x families with demand above which the top-up is not tried (each trial simulates the
# forecast paths): a year of 100 families; bench/README.md, "What the compression costs"
MAX_TOPUP_CELLS = 876_000
SHARE_DUST = 1e-9              # float noise allowed on a use share
MIN_HEADROOM_SHARE = 0.0005    # a product read within 0.05% of its floor somewhere is left as bought
INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class TopUp:
    """The purchases to book (the solver's, or some plans scaled up) and the warnings that say so."""

    purchases: pd.DataFrame
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Trial:
    objective_usd: float
    shares: pd.Series   # (kind, key, path, window) -> used $ / fee $ of what the plan adds


def top_up_split_plans(problem: PlanningProblem, data: ModelData, purchases: pd.DataFrame,
                       id_prefix: str = "buy") -> TopUp:
    """``purchases`` (plan._purchases_from_solution) with the savings plans the split cells
    under-buy scaled up as the module docstring says, one product after the other."""
    products = _candidates(problem, data, purchases)
    if not products:
        return TopUp(purchases)
    cells = len(problem.forecast.index) * len(data.families)
    if cells > MAX_TOPUP_CELLS:
        return TopUp(purchases, (f"not topped up: {', '.join(products)} may be bought short of the utilization floor "
                                 "(split cells under-read a plan covering several families; bench/README.md, "
                                 f"'What the compression costs'), but checking it in the simulator over {cells:,} "
                                 f"family-hours is too slow (limit {MAX_TOPUP_CELLS:,}); a shorter horizon is "
                                 "checked",))
    u = problem.constraints.min_utilization
    # phase 1 on each path whole (one simulation per path and trial): the floor over the
    # horizon, a necessary condition of the windows'; the windows' check follows on the result
    fast, full = _Evaluator(problem, data, id_prefix, windows=False), _Evaluator(problem, data, id_prefix)
    base_fast, base_full = fast.trial(purchases), full.trial(purchases)
    notes = []
    for product in products:
        rows = (purchases["product"] == product).to_numpy()
        qty = purchases["quantity"].to_numpy(float)

        def scaled(a: float) -> pd.DataFrame:
            q = np.where(rows, plan_usd_per_hour_bought(qty * (1.0 + a)), qty)
            return purchases.assign(quantity=q)

        tried = {0.0: base_fast}
        checked = {0.0: base_full}
        limit_fast = np.minimum(u, base_fast.shares) - SHARE_DUST
        limit_full = np.minimum(u, base_full.shares) - SHARE_DUST

        def at(a: float) -> _Trial:
            if a not in tried:
                tried[a] = fast.trial(scaled(a))
            return tried[a]

        def holds(a: float) -> bool:
            return _within(at(a).shares, limit_fast)

        def holds_everywhere(a: float) -> bool:
            if a not in checked:
                checked[a] = full.trial(scaled(a))
            return _within(checked[a].shares, limit_full)

        mine = base_full.shares[base_full.shares.index.get_level_values(1) == product]
        headroom = float(mine.min()) / u - 1.0 if len(mine) else 0.0
        if headroom < MIN_HEADROOM_SHARE:
            continue   # the simulator already reads it at the floor somewhere: nothing to add
        if at(0.5 * headroom).objective_usd >= base_fast.objective_usd:
            continue   # dearer already a little above: the cost is convex in a, so dearer beyond
        # at (1 + headroom) x its $/h the product keeps its floor even if its use did not grow
        # (more capacity never lowers use): the bisection starts from there
        a_max = _largest_holding(holds, start=headroom)
        if a_max <= 0.0:
            continue
        _golden(lambda a: at(a).objective_usd, a_max)
        ok = [a for a in tried if a > 0 and holds(a) and tried[a].objective_usd < base_fast.objective_usd]
        if not ok:
            continue
        a = min(ok, key=lambda v: (tried[v].objective_usd, v))
        if not holds_everywhere(a):
            # a window (a month on the expected path) is stricter: the largest a that keeps
            # it too, below the cheapest (the cost falls up to there: convex)
            a = _largest_holding(holds_everywhere, a)
        if a <= 0.0 or checked[a].objective_usd >= base_full.objective_usd:
            continue
        best = checked[a]
        notes.append(_note(product, a, base_full.objective_usd - best.objective_usd, best.shares, u))
        purchases, base_full, base_fast = scaled(a), best, at(a)
    return TopUp(purchases, tuple(notes))


def _within(shares: pd.Series, limit: pd.Series) -> bool:
    s = shares.reindex(limit.index)
    return bool((s.isna() | (s >= limit)).all())


def _candidates(problem: PlanningProblem, data: ModelData, purchases: pd.DataFrame) -> list[str]:
    """The savings-plan products of ``purchases`` the top-up applies to (module docstring)."""
    c = problem.constraints
    if c.min_utilization is None or any(v is not None for v in (
            c.max_upfront_usd_per_quarter, c.max_committed_usd_per_hour, c.max_expiring_share_per_quarter,
            c.max_bought_share_per_step)):
        return []
    plans = data.plans
    held = {k for kind, k in held_floor_keys(problem.inventory.items) if kind == SP}
    split = data.cells[data.cells["mode"] == SPLIT]
    s_q, e_q = data.periods["start"], data.periods["end"]
    out = []
    for product in sorted(set(purchases["product"]) & set(plans.index)):
        info = plans.loc[product]
        if not info["floored"] or len(info["scope"]) < 2 or product in held:
            continue
        terms = make_purchases(problem.catalog, purchases[purchases["product"] == product]).items
        live = np.zeros(len(data.periods), bool)
        for start, end in zip(terms["start"], terms["end"]):
            live |= ((s_q < end) & (e_q > start)).to_numpy()
        cells = split[split["component"] == info["component"]]
        if cells["q"].isin(np.flatnonzero(live)).any():
            out.append(product)
    return out


class _Evaluator:
    """The simulated objective of a set of purchases and the use share of what it adds, per
    (kind, key, floor path, window): the expected path month by month where its floor is
    (slices of the demand: billing is hour by hour, so the slices add up to the horizon)."""

    def __init__(self, problem: PlanningProblem, data: ModelData, id_prefix: str, windows: bool = True):
        self.problem, self.id_prefix = problem, id_prefix
        self.rules = dispatch_rules(problem)
        p = data.paths
        per = data.periods
        self.slices = []   # (path name, weight, floor, window, i0, i1); windows=False: each path whole
        for w in range(len(p)):
            weight, floor = float(p["weight"].iat[w]), bool(p["floor"].iat[w])
            if weight <= 0 and not floor:
                continue
            whole = not floor or not windows
            window = np.zeros(len(per), int) if whole else data.floor_window[w, per["window"].to_numpy()]
            spans = per.groupby(window).agg(i0=("i0", "min"), i1=("i1", "max"))
            for g, r in spans.iterrows():
                self.slices.append((p["name"].iat[w], weight, floor, int(g), int(r["i0"]), int(r["i1"])))

    def trial(self, purchases: pd.DataFrame) -> _Trial:
        prob = self.problem
        book = prob.inventory.concat(make_purchases(prob.catalog, purchases, id_prefix=self.id_prefix))
        it = book.items
        mine = (it["origin"] == "purchase").to_numpy()
        key = floor_keys(it)
        held = held_floor_keys(it[~mine])
        new = mine & np.array([k not in held for k in zip(it["kind"], key)], dtype=bool)
        ids, kinds, keys = it.loc[new, "id"], it.loc[new, "kind"].to_numpy(), key[new].to_numpy()
        objective, parts = 0.0, []
        for name, weight, floor, g, i0, i1 in self.slices:
            path = prob.forecast.path(name)
            sim = simulate(book, path.demand_instances.iloc[i0:i1], path.interruptible_instances.iloc[i0:i1],
                           prob.catalog, self.rules)
            objective += weight * sim.kpis.cost_usd
            if floor and len(ids):
                bc = sim.by_commitment.loc[ids, ["used_usd", "amortized_fee_usd"]]
                use = bc.groupby([kinds, keys]).sum()
                use = use[use["amortized_fee_usd"] > 0]
                parts.append(pd.Series((use["used_usd"] / use["amortized_fee_usd"]).to_numpy(),
                                       index=pd.MultiIndex.from_tuples([(k, j, name, g) for k, j in use.index])))
        shares = pd.concat(parts) if parts else pd.Series(dtype=float)
        return _Trial(objective, shares)


def _largest_holding(holds, below: float | None = None, start: float = 0.0625) -> float:
    """The largest a in [0, MAX_SCALE_SHARE] (or [0, ``below``)) with ``holds(a)`` (use falls
    as a grows): doubling from ``start`` until it fails, then bisection."""
    if not holds(0.0):
        return 0.0
    lo, hi = 0.0, min(2.0 * start, MAX_SCALE_SHARE)
    if below is None and start > 0 and holds(start):
        lo = start
    if below is not None:
        hi = below
    while below is None and holds(hi):
        lo = hi
        if hi >= MAX_SCALE_SHARE:
            return hi
        hi = min(2 * hi, MAX_SCALE_SHARE)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if holds(mid) else (lo, mid)
    return lo


def _golden(cost, a_max: float) -> None:
    """Golden-section search of the convex ``cost`` on [0, a_max] (the caller keeps every
    point it evaluates): the end first, and no search when the cost still falls there."""
    if cost(a_max) < cost(a_max * (1 - 1e-3)):
        return
    lo, hi = 0.0, a_max
    x1, x2 = hi - INV_PHI * (hi - lo), lo + INV_PHI * (hi - lo)
    for _ in range(GOLDEN_STEPS):
        if cost(x1) <= cost(x2):
            hi, x2 = x2, x1
            x1 = hi - INV_PHI * (hi - lo)
        else:
            lo, x1 = x1, x2
            x2 = lo + INV_PHI * (hi - lo)


def _note(product: str, a: float, saved_usd: float, shares: pd.Series, u: float) -> str:
    mine = shares[shares.index.get_level_values(1) == product]
    (_, _, path, g), low = mine.idxmin(), float(mine.min())
    where = f"on {path}" + (f" in month {g + 1} of the horizon" if (mine.index.get_level_values(2) == path).sum() > 1
                            else "")
    return (f"after the solve, the billing simulator topped up {product} by {a:+.1%} (its purchases x {1 + a:.3f}): "
            "the model reads a savings plan covering several families per family (split cells) and under-counts "
            f"their pooling; simulated cost -${saved_usd:,.0f}; used {low:.1%} {where} (floor {u:.0%})")
