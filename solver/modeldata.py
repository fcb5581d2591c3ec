"""Model data: everything the MILP needs, computed once, vectorized, as pandas tables.

``prepare(problem)`` turns a planning problem (forecast, catalog, inventory, allowed
products, rules, constraints) into ``ModelData``: periods (spans in which the set of
commitments in force does not change), purchase options (product x family x ladder
step), layers per (family, period, path) and constants. The model (solver/model.py)
only reads these tables; notation in docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.scenarios.schema import Constraints, ProductFilter
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.forecast import Forecast
from gpuladder.solver.layers import build_layers, sum_min, worst_resolution
from gpuladder.units import HOUR, add_months

QUARTER_MONTHS = 3


@dataclass(frozen=True)
class ModelOptions:
    max_layers: int = 48            # segments per (family, period, path) before falling back
    tie_break_share: float = 1e-7   # relative cost nudge: shorter terms, then later purchases


@dataclass(frozen=True)
class PlanningProblem:
    forecast: Forecast
    catalog: PriceCatalog
    inventory: CommitmentBook
    products: ProductFilter
    constraints: Constraints
    options: ModelOptions = field(default_factory=ModelOptions)


@dataclass(frozen=True)
class ModelData:
    families: pd.Index
    horizon_start: pd.Timestamp
    horizon_end: pd.Timestamp
    periods: pd.DataFrame      # q -> start, end, hours, quarter
    steps: pd.DatetimeIndex    # ladder purchase dates
    paths: pd.DataFrame        # w -> name, weight, floor (bool: the utilization floor holds there)
    options_: pd.DataFrame     # purchase options o -> product, family, kind, step, start, end, ...
    active: pd.DataFrame       # (o, q) pairs where option o is in force during period q
    plan_rates: pd.DataFrame   # savings plans: product, family, rate_usd_per_hour
    layers: pd.DataFrame       # (family, q, w, k) -> width, saving_usd, used_hours
    inv_reserved: pd.DataFrame  # (family, q) -> instances reserved by inventory
    inv_plans: pd.DataFrame     # (product, q) -> $/h of inventory savings plans
    inv_floor_allowance: pd.Series  # (family, w) -> instance-hours the inventory alone misses the floor by
    baseline_usd: float        # expected cost of the demand with nothing covered (weights applied)
    inventory_fee_usd: float   # amortized inventory fees inside the horizon
    inv_usd_per_hour: np.ndarray  # q -> amortized inventory fees in force [$/h]
    eligible: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # path -> hourly eligible
    resolution: str = "exact"
    period_hours: np.ndarray = field(default_factory=lambda: np.zeros(0))


def spot_cap_series(cons: Constraints, families) -> pd.Series:
    """Spot cap per family (1.0 = no cap), from ``Constraints.spot_cap_share``."""
    caps = [cons.spot_cap_share(f) for f in families]
    return pd.Series([1.0 if c is None else float(c) for c in caps], index=families, dtype=float)


def overhead_map(overhead) -> Mapping[str, float]:
    if isinstance(overhead, Mapping):
        return MappingProxyType(dict(overhead))
    return MappingProxyType({b: float(overhead) for b in ("<5%", "5-10%", "10-15%", "15-20%", ">20%")})


def allowed_products(catalog: PriceCatalog, flt: ProductFilter) -> pd.DataFrame:
    prod = catalog.products()
    keep = pd.Series(True, index=prod.index)
    if flt.providers is not None:
        keep &= prod["provider"].isin(flt.providers)
    if flt.terms_months is not None:
        keep &= prod["term_months"].isin(flt.terms_months)
    if flt.payments is not None:
        keep &= prod["payment"].isin(flt.payments)
    if flt.kinds is not None:
        keep &= prod["kind"].isin(flt.kinds)
    if flt.ids is not None:
        keep &= prod.index.isin(flt.ids)
    return prod[keep]


def split_firm_eligible(demand: pd.DataFrame, interruptible: pd.DataFrame, catalog: PriceCatalog,
                        cap: pd.Series, overhead: Mapping[str, float]) -> pd.DataFrame:
    """Spot-eligible instances per hour: min(interruptible, cap x demand); none where the family
    has no spot market or its effective spot price is not below on-demand."""
    fam = catalog.families.loc[demand.columns]
    eff = catalog.effective_spot_usd_per_hour(overhead).reindex(demand.columns)
    has_spot = (fam["spot_usd_per_hour"].notna() & (eff < fam["on_demand_usd_per_hour"])).to_numpy()
    elig = np.minimum(interruptible.to_numpy(), cap.reindex(demand.columns).to_numpy() * demand.to_numpy())
    elig = np.where(has_spot[None, :], elig, 0.0)
    return pd.DataFrame(elig, index=demand.index, columns=demand.columns)


def prepare(problem: PlanningProblem) -> ModelData:
    fc, cat, cons = problem.forecast, problem.catalog, problem.constraints
    index = fc.index
    h_start, h_end = index[0], index[-1] + HOUR
    demand_any = sum((p.demand_instances.max() for p in fc.paths), start=0.0)
    families = pd.Index(sorted(fc.families))
    fam = cat.families.loc[families]
    od = fam["on_demand_usd_per_hour"].to_numpy()
    spot = cat.effective_spot_usd_per_hour(overhead_map(cons.spot_rework_overhead)).reindex(families).to_numpy()
    cap = spot_cap_series(cons, families)

    # ---- ladder steps and purchase options
    step_months = max(1, int(cons.ladder_step_months))
    months = int(round((h_end - h_start) / pd.Timedelta(days=30.436875)))
    steps = pd.DatetimeIndex([add_months(h_start, k) for k in range(0, max(months, 1), step_months)])
    steps = steps[steps < h_end]
    prods = allowed_products(cat, problem.products)
    com = cat.commitments[cat.commitments["product"].isin(prods.index)]
    with_demand = set(demand_any.index[demand_any.to_numpy() > 0])
    res = com[(com["kind"] == "reservation") & com["family"].isin(with_demand)]
    sp_rates = com[(com["kind"] == "savings_plan") & com["family"].isin(families)]
    sp_ids = sorted(set(sp_rates.loc[sp_rates["family"].isin(with_demand), "product"]))
    inv_sp_ids = set(problem.inventory.items.loc[problem.inventory.items["kind"] == "savings_plan", "product"])
    all_rates = cat.commitments[(cat.commitments["kind"] == "savings_plan") & cat.commitments["family"].isin(families)]
    sp_rates = all_rates[all_rates["product"].isin(set(sp_ids) | inv_sp_ids)][["product", "family", "rate_usd_per_hour"]]
    offers = pd.concat([
        res[["product", "family", "rate_usd_per_hour"]].assign(kind="reservation"),
        pd.DataFrame({"product": sp_ids, "family": "", "rate_usd_per_hour": 1.0, "kind": "savings_plan"}),
    ], ignore_index=True)
    offers = offers.join(prods[["provider", "term_months", "payment", "upfront_share", "estimate"]], on="product")
    opts = offers.merge(pd.DataFrame({"step": np.arange(len(steps))}), how="cross")
    opts["start"] = steps[opts["step"].to_numpy()]
    opts["end"] = [add_months(s, t) for s, t in zip(opts["start"], opts["term_months"])]
    opts["end"] = pd.to_datetime(opts["end"], utc=True)
    opts["unit_usd_per_hour"] = opts["rate_usd_per_hour"]
    opts["hours_in_horizon"] = ((np.minimum(opts["end"], h_end) - opts["start"]) / HOUR).clip(lower=0)
    opts["term_hours"] = ((opts["end"] - opts["start"]) / HOUR).to_numpy()
    opts["fee_usd"] = opts["unit_usd_per_hour"] * opts["hours_in_horizon"]
    opts["upfront_usd"] = opts["unit_usd_per_hour"] * opts["term_hours"] * opts["upfront_share"]
    opts = opts.sort_values(["kind", "product", "family", "step"]).reset_index(drop=True)

    # ---- periods: spans with a constant set of commitments in force
    inv = problem.inventory.items
    cuts = {h_start, h_end, *steps, *[add_months(h_start, k) for k in range(months + 1)]}
    cuts |= set(opts["end"])
    cuts |= set(inv["start"].dt.floor("h")) | set(inv["end"].dt.floor("h"))
    cuts = sorted(c for c in cuts if h_start <= c <= h_end)
    periods = pd.DataFrame({"start": cuts[:-1], "end": cuts[1:]})
    periods["hours"] = ((periods["end"] - periods["start"]) / HOUR).astype(int)
    periods = periods[periods["hours"] > 0].reset_index(drop=True)
    periods["i0"] = index.get_indexer(periods["start"])
    periods["i1"] = periods["i0"] + periods["hours"]
    periods["quarter"] = _months_between(h_start, periods["start"]) // QUARTER_MONTHS

    s_o = opts["start"].to_numpy()
    e_o = opts["end"].to_numpy()
    s_q = periods["start"].to_numpy()
    e_q = periods["end"].to_numpy()
    o_idx, q_idx = np.nonzero((s_o[:, None] <= s_q[None, :]) & (e_q[None, :] <= e_o[:, None]))
    active = pd.DataFrame({"o": o_idx, "q": q_idx})

    # ---- inventory in force per period (fraction of the period's hours it covers)
    inv_res, inv_sp, inv_fee, inv_rate = _inventory_tables(inv, periods, families, h_start, h_end)

    # ---- paths, layers, baseline
    paths = pd.DataFrame({"name": [p.name for p in fc.paths], "weight": [p.weight for p in fc.paths]})
    paths["weight"] = paths["weight"] / paths["weight"].sum()
    floor_names = {fc.expected} | ({fc.conservative} if fc.conservative else set())
    paths["floor"] = paths["name"].isin(floor_names)
    cols = {c: [] for c in ("family", "q", "w", "k", "width", "saving_usd", "used_hours")}
    baseline, resolutions, eligible = 0.0, [], {}
    for w, p in enumerate(fc.paths):
        d = p.demand_instances[families]
        e = split_firm_eligible(d, p.interruptible_instances[families], cat, cap,
                                overhead_map(cons.spot_rework_overhead))
        eligible[p.name] = e
        dv, ev = d.to_numpy(), e.to_numpy()
        nv = dv - ev
        baseline += paths["weight"][w] * float((nv * od).sum() + (ev * spot).sum())
        for q, (i0, i1) in enumerate(zip(periods["i0"], periods["i1"])):
            for j, f in enumerate(families):
                lay = build_layers(nv[i0:i1, j], dv[i0:i1, j], od[j], spot[j], problem.options.max_layers)
                if len(lay.width) == 0:
                    continue
                m = len(lay.width)
                resolutions.append(lay.resolution)
                cols["family"].append(np.full(m, j))
                cols["q"].append(np.full(m, q))
                cols["w"].append(np.full(m, w))
                cols["k"].append(np.arange(m))
                cols["width"].append(lay.width)
                cols["saving_usd"].append(lay.saving_usd)
                cols["used_hours"].append(lay.used_hours)
    layers = pd.DataFrame({c: (np.concatenate(v) if v else np.zeros(0)) for c, v in cols.items()})
    layers["family"] = families[layers["family"].astype(int).to_numpy()] if len(layers) else pd.Series(dtype=str)
    for c in ("q", "w", "k"):
        layers[c] = layers[c].astype(int)

    allowance = _floor_allowance(inv_res, periods, families, fc, cons)
    return ModelData(families, h_start, h_end, periods, steps, paths, opts, active, sp_rates.reset_index(drop=True),
                     layers, inv_res, inv_sp, allowance, baseline, inv_fee, inv_rate, eligible,
                     worst_resolution(resolutions), periods["hours"].to_numpy())


def _months_between(start: pd.Timestamp, when: pd.Series) -> np.ndarray:
    w = pd.DatetimeIndex(when)
    months = (w.year - start.year) * 12 + (w.month - start.month)
    months = months - ((w.day < start.day) | ((w.day == start.day) & (w.hour < start.hour))).astype(int)
    return np.asarray(months)


def _inventory_tables(inv: pd.DataFrame, periods: pd.DataFrame, families, h_start, h_end):
    """Inventory instances (reservations) and $/h (savings plans) in force per period, and
    the amortized inventory fees inside the horizon."""
    if inv.empty:
        empty_r = pd.DataFrame(columns=["family", "q", "instances"])
        empty_s = pd.DataFrame(columns=["product", "q", "usd_per_hour"])
        return empty_r, empty_s, 0.0, np.zeros(len(periods))
    s_i, e_i = inv["start"].to_numpy(), inv["end"].to_numpy()
    s_q, e_q = periods["start"].to_numpy(), periods["end"].to_numpy()
    i_idx, q_idx = np.nonzero((s_i[:, None] <= s_q[None, :]) & (e_q[None, :] <= e_i[:, None]))
    act = inv.iloc[i_idx].assign(q=q_idx)
    res = act[act["kind"] == "reservation"]
    res = res[res["family"].isin(families)].groupby(["family", "q"], as_index=False)["quantity"].sum()
    res = res.rename(columns={"quantity": "instances"})
    sp = act[act["kind"] == "savings_plan"].groupby(["product", "q"], as_index=False)["quantity"].sum()
    sp = sp.rename(columns={"quantity": "usd_per_hour"})
    term_h = (inv["end"] - inv["start"]) / HOUR
    amort = inv["recurring_usd_per_hour"] + inv["upfront_usd"] / term_h
    inside = ((np.minimum(inv["end"], h_end) - np.maximum(inv["start"], h_start)) / HOUR).clip(lower=0)
    rate = np.zeros(len(periods))
    np.add.at(rate, q_idx, amort.to_numpy()[i_idx])
    return res, sp, float((amort * inside).sum()), rate


def _floor_allowance(inv_res: pd.DataFrame, periods: pd.DataFrame, families, fc: Forecast,
                     cons: Constraints) -> pd.Series:
    """Instance-hours by which existing reservations alone miss the utilization floor on each
    floor path: the floor applies to what the plan adds, not to sunk inventory."""
    out = {}
    u = cons.min_utilization
    if u is None or inv_res.empty:
        return pd.Series(out, dtype=float)
    for w, p in enumerate(fc.paths):
        d = p.demand_instances
        for f, grp in inv_res.groupby("family"):
            used, avail = 0.0, 0.0
            for q, r in zip(grp["q"], grp["instances"]):
                i0, i1 = periods["i0"][q], periods["i1"][q]
                v = np.sort(d[f].to_numpy()[i0:i1])
                used += float(sum_min(v, np.cumsum(v), np.array([r]))[0])
                avail += r * periods["hours"][q]
            out[(f, w)] = max(0.0, u * avail - used)
    return pd.Series(out, dtype=float)
