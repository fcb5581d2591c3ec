"""Small synthetic planning instances for the model tests (catalogs, forecasts, problems).

Families are ``t/r1/f0``, ``t/r1/f1``, ...; reservations ``ri-<family>-<term>m``; savings
plans ``sp-<name>-<term>m``. Demand is built from a few hour patterns per month, repeated,
so that brute force stays cheap while the hours are real calendar hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import catalog_from_frames
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import DemandPath, Forecast
from gpuladder.solver.lp import SolverOptions
from gpuladder.solver.modeldata import ModelOptions, PlanningProblem
from gpuladder.units import add_months, hourly_index

START = pd.Timestamp("2026-01-01", tz="UTC")
NO_OVERHEAD = {b: 0.0 for b in ("<5%", "5-10%", "10-15%", "15-20%", ">20%")}
EXACT_SOLVE = SolverOptions(backend="highs", time_limit_s=60.0, mip_gap=1e-9)


def family(i: int, names=None) -> str:
    return f"t/r1/f{i if names is None else names[i]}"


@dataclass(frozen=True)
class Product:
    name: str
    kind: str                     # reservation | savings_plan
    term_months: int
    rates: dict                   # family -> rate $/instance-hour
    payment: str = "no_upfront"
    upfront_share: float = 0.0


def catalog(od: list[float], spot: list[float | None], products: list[Product], names=None):
    keys = [family(i, names) for i in range(len(od))]
    fams = pd.DataFrame({
        "family": keys, "provider": "t", "region": "r1",
        "instance_type": [k.split("/")[-1] for k in keys], "gpu_model": "X", "gpus_per_instance": 8,
        "on_demand_usd_per_hour": od, "spot_usd_per_hour": [np.nan if s is None else s for s in spot],
        "interruption_bucket": "<5%", "source": "test", "as_of": "2026-01-01"})
    rows = [{"product": p.name, "provider": "t", "kind": p.kind, "term_months": p.term_months,
             "payment": p.payment, "upfront_share": p.upfront_share, "family": f, "rate_usd_per_hour": r,
             "source": "test", "as_of": "2026-01-01"} for p in products for f, r in p.rates.items()]
    cols = ["product", "provider", "kind", "term_months", "payment", "upfront_share", "family", "rate_usd_per_hour",
            "source", "as_of"]
    return catalog_from_frames(fams, pd.DataFrame(rows, columns=cols), origin="test")


def horizon(months: int, start: pd.Timestamp = START, extra_days: int = 0) -> pd.DatetimeIndex:
    return hourly_index(start, add_months(start, months) + pd.Timedelta(days=extra_days))


def patterned(index: pd.DatetimeIndex, patterns_by_month: list[np.ndarray]) -> np.ndarray:
    """Hours x families: month m (from the first hour) repeats the rows of
    patterns_by_month[m] (patterns x families); hours past the last month repeat its rows."""
    month = np.zeros(len(index), int)
    for m in range(1, len(patterns_by_month)):
        month[index >= add_months(index[0], m)] = m
    out = np.zeros((len(index), patterns_by_month[0].shape[1]))
    for m, pat in enumerate(patterns_by_month):
        sel = np.flatnonzero(month == m)
        out[sel] = pat[np.arange(len(sel)) % len(pat)]
    return out


def forecast(index, demand: np.ndarray, interruptible: np.ndarray | None = None,
             conservative: np.ndarray | None = None, weights=(1.0, 0.0), names=None) -> Forecast:
    """Replay-like forecast; with ``conservative`` a second path used by the floor (and
    weighted by ``weights``)."""
    cols = [family(i, names) for i in range(demand.shape[1])]
    inter = np.zeros_like(demand) if interruptible is None else interruptible
    main = DemandPath("P50", weights[0], pd.DataFrame(demand, index=index, columns=cols),
                      pd.DataFrame(np.minimum(inter, demand), index=index, columns=cols))
    if conservative is None:
        return Forecast("test", (DemandPath("P50", 1.0, main.demand_instances, main.interruptible_instances),),
                        expected="P50")
    ci = np.minimum(inter, conservative)
    low = DemandPath("P10", weights[1], pd.DataFrame(conservative, index=index, columns=cols),
                     pd.DataFrame(ci, index=index, columns=cols))
    return Forecast("test", (main, low), expected="P50", conservative="P10")


def problem(fc: Forecast, cat, *, constraints: Constraints | None = None, inventory: CommitmentBook | None = None,
            products: ProductFilter | None = None, options: ModelOptions | None = None) -> PlanningProblem:
    return PlanningProblem(fc, cat, inventory if inventory is not None else CommitmentBook.empty(),
                           products or ProductFilter(terms_months=None),
                           constraints or Constraints(min_utilization=None, spot_cap=None,
                                                      spot_rework_overhead=NO_OVERHEAD),
                           options or ModelOptions())


@dataclass(frozen=True)
class RandomInstance:
    problem: PlanningProblem
    seed: int
    info: dict = field(default_factory=dict)


def random_instance(seed: int, *, n_families: int | None = None, months: int | None = None,
                    plans: str = "one", floors: bool | None = None, two_paths: bool | None = None,
                    max_demand=3, price_scale: float = 1.0, names=None, zero_family: int | None = None,
                    constraints: dict | None = None, start: pd.Timestamp = START,
                    extra_days: int = 0) -> RandomInstance:
    """A small random instance: 2-3 families, 2-3 monthly steps, a reservation per family
    (term 1-3 months), savings plans (``plans``: 'none', 'one' multi-family plan, or
    'mixed' = a single-family plan plus a multi-family one), spot for some families with a
    cap, utilization floors on some seeds, a conservative path on some seeds. ``price_scale``
    multiplies every price, ``names`` renames family i to f<names[i]>, ``zero_family`` has
    no demand, ``constraints`` overrides Constraints fields; the horizon runs ``months``
    calendar months from ``start``, plus ``extra_days``."""
    rng = np.random.default_rng(seed)
    nf = n_families or int(rng.integers(2, 4))
    nm = months or int(rng.integers(2, 4))
    od = np.round(rng.uniform(40.0, 120.0, nf), 3)
    spot_share = rng.uniform(0.3, 0.7, nf)
    has_spot = rng.random(nf) < 0.6
    spot = [float(np.round(o * s, 3)) if h else None for o, s, h in zip(od, spot_share, has_spot)]
    fam = [family(i, names) for i in range(nf)]
    products = []
    for i in range(nf):
        term = int(rng.integers(1, nm + 1))
        disc = rng.uniform(0.45, 0.8)
        products.append(Product(f"ri-f{i}-{term}m", "reservation", term, {fam[i]: float(np.round(od[i] * disc, 3))}))
    if plans in ("one", "mixed"):
        disc = rng.uniform(0.55, 0.85, nf) if rng.random() < 0.5 else np.full(nf, rng.uniform(0.55, 0.85))
        term = int(rng.integers(1, nm + 1))
        products.append(Product(f"sp-all-{term}m", "savings_plan", term,
                                {fam[i]: float(np.round(od[i] * disc[i], 3)) for i in range(nf)}))
    if plans == "mixed":
        products.append(Product("sp-f0-1m", "savings_plan", 1, {fam[0]: float(np.round(od[0] * 0.7, 3))}))
    if price_scale != 1.0:
        od = od * price_scale
        spot = [None if v is None else v * price_scale for v in spot]
        products = [Product(p.name, p.kind, p.term_months, {f: r * price_scale for f, r in p.rates.items()},
                            p.payment, p.upfront_share) for p in products]
    cat = catalog(list(od), spot, products, names)
    index = horizon(nm, start, extra_days)
    n_pat = int(rng.integers(2, 4))
    top = np.broadcast_to(np.asarray(max_demand), (nf,))
    pats = [np.floor(rng.random((n_pat, nf)) * (top + 1)).astype(float) for _ in range(nm)]
    demand = patterned(index, pats)
    inter = np.where(np.array(has_spot)[None, :], np.floor(demand * rng.uniform(0, 1, nf)[None, :]), 0.0)
    use_two = bool(rng.random() < 0.3) if two_paths is None else two_paths
    low = np.maximum(demand - patterned(index, [rng.integers(0, 2, size=(n_pat, nf)).astype(float)
                                                for _ in range(nm)]), 0.0) if use_two else None
    if zero_family is not None:
        demand[:, zero_family] = 0.0
        inter[:, zero_family] = 0.0
        if low is not None:
            low[:, zero_family] = 0.0
    fc = forecast(index, demand, inter, low, weights=(0.7, 0.3), names=names)
    floor_on = bool(rng.random() < 0.5) if floors is None else floors
    cap = float(np.round(rng.uniform(0.3, 1.0), 2)) if rng.random() < 0.7 else None
    kw = dict(min_utilization=float(np.round(rng.uniform(0.6, 0.95), 2)) if floor_on else None,
              spot_cap=cap, spot_rework_overhead=float(np.round(rng.uniform(0.0, 0.2), 2)))
    kw.update(constraints or {})
    return RandomInstance(problem(fc, cat, constraints=Constraints(**kw)), seed,
                          {"families": nf, "months": nm, "plans": plans, "floors": floor_on, "two_paths": use_two})


def market_split(seed: int, rows: int = 4, binaries: int = 30):
    """A market-split MIP (Cornuejols and Dawande): equality rows over binaries with priced
    slacks. Tiny to build; its LP relaxation is 0 and branch and bound takes far longer
    than any test waits (a solve that ends on its time limit); no rounding of the
    relaxation comes near it."""
    from gpuladder.solver.lp import LinearProgram

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(rows, binaries))
    lp = LinearProgram()
    x = lp.add_vars("x", pd.RangeIndex(binaries), ub=1.0, integer=True)
    up = lp.add_vars("up", pd.RangeIndex(rows), cost=1.0)
    down = lp.add_vars("down", pd.RangeIndex(rows), cost=1.0)
    r = np.repeat(np.arange(rows), binaries + 2)
    c = np.concatenate([np.concatenate([x, [up[i], down[i]]]) for i in range(rows)])
    v = np.concatenate([np.concatenate([a[i], [1.0, -1.0]]) for i in range(rows)])
    rhs = np.floor(a.sum(axis=1) / 2)
    lp.add_rows("split", rows, r, c, v, rhs, rhs)
    return lp
