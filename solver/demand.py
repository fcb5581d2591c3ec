"""Demand side of the model data: hourly arrays per forecast path, and their compression
into cells (component x period x path) written either as layers or as hour types.

``demand_arrays`` splits each path's demand into firm and spot-eligible instances
(eligible = min(interruptible, spot cap x demand) where the family has a usable spot
market, i.e. an effective spot price below on-demand), and prices them.
``build_cells`` chooses, for every cell, how the model sees its hours:

* ``layers``: one family alone (no multi-family savings plan couples it): the exact
  layers of solver/layers.py.
* ``types``: families coupled by a multi-family savings plan (or one family whose
  utilization floors need the order in which its commitments are used), when the cell
  has at most ``max_hour_types`` distinct joint hours: exact dispatch per hour type.
* ``split``: coupled families with more distinct hours: per-family layers, each plan's
  $/h split among its families once per period (a documented compression).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS, PriceCatalog
from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.coupling import hour_types
from gpuladder.solver.forecast import Forecast
from gpuladder.solver.layers import build_layers_paths, worst_resolution
from gpuladder.units import HOUR

LAYERS, TYPES, SPLIT = "layers", "types", "split"


def spot_cap_series(cons: Constraints, families) -> pd.Series:
    """Spot cap per family (1.0 = no cap), from ``Constraints.spot_cap_share``."""
    caps = [cons.spot_cap_share(f) for f in families]
    return pd.Series([1.0 if c is None else float(c) for c in caps], index=families, dtype=float)


def overhead_map(overhead) -> Mapping[str, float]:
    if isinstance(overhead, Mapping):
        return MappingProxyType(dict(overhead))
    return MappingProxyType({b: float(overhead) for b in INTERRUPTION_BUCKETS})


@dataclass(frozen=True)
class DemandArrays:
    families: pd.Index
    index: pd.DatetimeIndex
    paths: pd.DataFrame              # w -> name, forecast_weight, weight (the objective's), floor
    demand: tuple[np.ndarray, ...]   # per path: hours x families [instances]
    eligible: tuple[np.ndarray, ...]  # per path: spot-eligible part of the demand
    od: np.ndarray                   # family -> on-demand $/h
    spot: np.ndarray                 # family -> effective spot $/h (on-demand where spot is not usable)
    peak: np.ndarray                 # family -> peak demand over every path
    baseline_usd: float              # expected cost with nothing covered
    first_unit_saving_cumsum: np.ndarray  # (hours+1) x families: expected $ the first instance can save

    @property
    def horizon_end(self) -> pd.Timestamp:
        return self.index[-1] + HOUR

    def hour_position(self, when) -> np.ndarray:
        return np.asarray(self.index.searchsorted(pd.DatetimeIndex(when)), dtype=int)


def objective_weights(fc: Forecast, risk_weight: float) -> pd.DataFrame:
    """Per path: ``name``, ``forecast_weight`` (the forecast's, summing to 1) and ``weight``,
    what the objective gives the path's cost: ``(forecast_weight + risk_weight x [the
    conservative path]) / (1 + risk_weight)``. The objective is then ``(expected cost +
    risk_weight x the conservative path's cost) / (1 + risk_weight)``, still in dollars;
    without a conservative path the risk weight changes nothing."""
    w = np.array([float(p.weight) for p in fc.paths])
    w = w / w.sum()
    names = [p.name for p in fc.paths]
    bump = np.array([n == fc.conservative for n in names], dtype=float) * risk_weight
    total = 1.0 + bump.sum()
    return pd.DataFrame({"name": names, "forecast_weight": w, "weight": (w + bump) / total})


def demand_arrays(fc: Forecast, cat: PriceCatalog, cons: Constraints, families: pd.Index,
                  risk_weight: float = 0.0, monthly_floor: bool = True) -> DemandArrays:
    fam = cat.families.loc[families]
    od = fam["on_demand_usd_per_hour"].to_numpy(float)
    over = fam["interruption_bucket"].map(dict(overhead_map(cons.spot_rework_overhead))).fillna(0.0)
    raw = fam["spot_usd_per_hour"].to_numpy(float) * (1.0 + over.to_numpy(float))
    usable = np.isfinite(raw) & (raw < od)
    spot = np.where(usable, raw, od)
    cap = spot_cap_series(cons, families).to_numpy(float)
    paths = objective_weights(fc, risk_weight)
    floor_names = {fc.expected} | ({fc.conservative} if fc.conservative else set())
    paths["floor"] = paths["name"].isin(floor_names)
    # the floor holds in each month on the expected path, over the horizon on the conservative
    # one (or on every path over the horizon, without ``monthly_floor``)
    paths["monthly_floor"] = paths["name"].eq(fc.expected) & monthly_floor
    demand, eligible = [], []
    baseline = 0.0
    first = np.zeros((len(fc.index) + 1, len(families)))
    for w, p in enumerate(fc.paths):
        d = p.demand_instances[families].to_numpy(float)
        i = p.interruptible_instances[families].to_numpy(float)
        e = np.where(usable[None, :], np.minimum(np.minimum(i, d), cap[None, :] * d), 0.0)
        demand.append(d)
        eligible.append(e)
        weight = paths["weight"][w]
        baseline += weight * float(((d - e) * od).sum() + (e * spot).sum())
        first[1:] += weight * np.cumsum((od - spot) * (d - e > 0) + spot * (d > 0), axis=0)
    peak = np.max([d.max(axis=0, initial=0.0) for d in demand], axis=0) if demand else np.zeros(len(families))
    return DemandArrays(families, fc.index, paths, tuple(demand), tuple(eligible), od, spot, peak, baseline, first)


def build_cells(arrays: DemandArrays, periods: pd.DataFrame, comp: pd.Series, plans: pd.DataFrame,
                res_families: set, cons: Constraints, mo):
    """(cells, layers, layer_use, types, resolution, compressions) for every component x
    period x path; layers merge the paths of a (family, period) written in layers or split
    mode (solver/layers.py)."""
    fams = arrays.families
    members = {c: np.flatnonzero(comp.to_numpy() == c) for c in np.unique(comp.to_numpy())}
    ordered = _order_needing_singletons(fams, plans, res_families, cons)
    floor = arrays.paths["floor"].to_numpy()
    cell_rows, type_parts, layer_jobs = [], [], []
    notes: set[str] = set()
    for w in range(len(arrays.paths)):
        n_all = arrays.demand[w] - arrays.eligible[w]
        for q, (i0, i1) in enumerate(zip(periods["i0"], periods["i1"])):
            for c, idx in members.items():
                want_types = len(idx) > 1 or (floor[w] and fams[idx[0]] in ordered)
                mode = LAYERS
                if want_types:
                    got = hour_types(n_all[i0:i1, idx], arrays.eligible[w][i0:i1, idx], mo.max_hour_types)
                    if got is None:
                        mode = SPLIT if len(idx) > 1 else LAYERS
                        notes.add("split" if len(idx) > 1 else "floor-conservative")
                    else:
                        mode = TYPES
                        type_parts.append(_type_rows(c, q, w, fams[idx], *got))
                cell_rows.append((c, q, w, mode))
                if mode != TYPES and (arrays.paths["weight"][w] > 0 or floor[w]):
                    layer_jobs.append((q, w, idx))
    cells = pd.DataFrame(cell_rows, columns=["component", "q", "w", "mode"])
    layers, layer_use, resolution = _layers(arrays, periods, layer_jobs, mo.max_layers)
    types = (pd.concat(type_parts, ignore_index=True) if type_parts else
             pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                           (("component", int), ("q", int), ("w", int), ("t", int), ("family", object),
                            ("hours", float), ("firm", float), ("eligible", float))}))
    if resolution != "exact":
        notes.add(f"layers-{resolution}")
    return cells, layers, layer_use, types, resolution, tuple(sorted(notes))


def _order_needing_singletons(fams: pd.Index, plans: pd.DataFrame, res_families: set, cons: Constraints) -> set:
    """Families alone in their component whose plan utilization floor depends on the order
    in which two or more kinds of commitment cover them (reservations first, then plans)."""
    if cons.min_utilization is None or plans.empty:
        return set()
    single = plans[plans["scope"].apply(len) == 1]
    out = set()
    for f, grp in single.groupby(single["scope"].apply(lambda s: s[0])):
        stack = len(grp) + (1 if f in res_families else 0)
        if stack >= 2 and grp["purchasable"].any():
            out.add(f)
    return out


def _type_rows(c, q, w, names, firm, elig, hours) -> pd.DataFrame:
    nt, nf = firm.shape
    return pd.DataFrame({"component": c, "q": q, "w": w, "t": np.repeat(np.arange(nt), nf),
                         "family": np.tile(np.asarray(names, dtype=object), nt),
                         "hours": np.repeat(hours, nf), "firm": firm.ravel(), "eligible": elig.ravel()})


def _layers(arrays: DemandArrays, periods: pd.DataFrame, jobs, max_layers: int):
    """Merged layers of every (family, period) over the paths listed in ``jobs``
    [(q, w, family positions)], and the use per floor path of each layer.
    Returns (layers, layer_use, resolution)."""
    paths_of: dict[int, dict[int, list[int]]] = {}
    for q, w, idx in jobs:
        for f in idx:
            paths_of.setdefault(q, {}).setdefault(int(f), []).append(w)
    weights = arrays.paths["weight"].to_numpy(float)
    floor = arrays.paths["floor"].to_numpy()
    lay_cols = {c: [] for c in ("family", "q", "k", "width", "saving_usd", "resolution")}
    use_cols = {c: [] for c in ("family", "q", "k", "w", "used_hours")}
    resolutions = []
    for q, fam_paths in paths_of.items():
        i0, i1 = periods["i0"][q], periods["i1"][q]
        fams = np.array(sorted(fam_paths))
        sorted_n, sorted_d = {}, {}
        for w in sorted({w for ws in fam_paths.values() for w in ws}):
            d = arrays.demand[w][i0:i1, fams]
            sorted_d[w] = np.sort(d, axis=0)
            sorted_n[w] = np.sort(d - arrays.eligible[w][i0:i1, fams], axis=0)
        for j, f in enumerate(fams):
            ws = sorted(fam_paths[f])
            lay = build_layers_paths([sorted_n[w][:, j] for w in ws], [sorted_d[w][:, j] for w in ws],
                                     weights[ws], arrays.od[f], arrays.spot[f], max_layers)
            m = len(lay.width)
            if m == 0:
                continue
            resolutions.append(lay.resolution)
            lay_cols["family"].append(np.full(m, f))
            lay_cols["q"].append(np.full(m, q))
            lay_cols["k"].append(np.arange(m))
            lay_cols["width"].append(lay.width)
            lay_cols["saving_usd"].append(lay.saving_usd)
            lay_cols["resolution"].append(np.full(m, lay.resolution, dtype=object))
            for r, w in enumerate(ws):
                if floor[w]:
                    use_cols["family"].append(np.full(m, f))
                    use_cols["q"].append(np.full(m, q))
                    use_cols["k"].append(np.arange(m))
                    use_cols["w"].append(np.full(m, w))
                    use_cols["used_hours"].append(lay.used_hours[r])
    layers = _frame(lay_cols, arrays.families, ("family", "q", "k"))
    use = _frame(use_cols, arrays.families, ("family", "q", "k", "w"))
    return layers, use, worst_resolution(resolutions)


def _frame(cols: dict, families: pd.Index, ints) -> pd.DataFrame:
    out = pd.DataFrame({c: (np.concatenate(v) if v else np.zeros(0)) for c, v in cols.items()})
    for c in ints:
        out[c] = out[c].astype(int)
    out["family"] = families[out["family"].to_numpy()] if len(out) else pd.Series(dtype=object)
    return out.sort_values(list(ints)).reset_index(drop=True)
