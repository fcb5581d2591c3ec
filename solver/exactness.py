"""Is the model's objective exactly what the billing rules charge for a given plan?

The model prices a plan exactly (docs/model.md, "Exactness") when, for every period
and path in which a commitment is in force:

* the families it covers are seen at full resolution: layers with every kink kept, or
  integer layers where only reservations (integer counts) cover the family;
* no multi-family savings plan is in force in a cell written in split mode (a plan's $/h
  split among its families once per period is conservative, not exact);
* in cells written over hour types, the plans in force are ones whose greedy order is a
  least-cost dispatch (solver/coupling.py ``greedy_is_optimal``).

Utilization floors do not enter: a floor written with a conservative bound restricts
which plans the model may choose, not what a chosen plan costs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.coupling import greedy_is_optimal
from gpuladder.solver.modeldata import SP, SPLIT, TYPES, ModelData


def plan_is_exact(data: ModelData, book: CommitmentBook) -> bool:
    items = book.items
    plans = items[(items["kind"] == SP) & (items["quantity"] > 0)]
    q_of = _periods_in_force(data, plans)
    in_force = {p: set(q) for p, q in q_of.items()}
    covered_by_plans = set(data.plan_rates.loc[data.plan_rates["product"].isin(in_force), "family"])
    lay = data.layers
    if len(lay) and data.resolution != "exact":
        if (lay["resolution"] == "coarse").any():
            return False
        coarse = lay[(lay["resolution"] != "exact") & lay["family"].isin(covered_by_plans)]
        for product, qs in in_force.items():
            fams = set(data.plan_rates.loc[data.plan_rates["product"] == product, "family"])
            if (coarse["family"].isin(fams) & coarse["q"].isin(qs)).any():
                return False
    if not in_force:
        return True
    info = data.plans.loc[[p for p in in_force if p in data.plans.index]]
    multi = info[info["scope"].apply(len) > 1]
    for _, cell in data.cells[data.cells["mode"].isin([SPLIT, TYPES])].iterrows():
        live = np.array([int(cell["q"]) in in_force[p] for p in info.index], dtype=bool)
        here = info[(info["component"] == cell["component"]).to_numpy() & live]
        if here.empty:
            continue
        if cell["mode"] == SPLIT and here.index.isin(multi.index).any():
            return False
        if cell["mode"] == TYPES and not greedy_is_optimal(here, data.plan_rates):
            return False
    return True


def _periods_in_force(data: ModelData, plans: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    s_q, e_q = data.periods["start"], data.periods["end"]
    for product, start, end in zip(plans["product"], plans["start"], plans["end"]):
        q = np.flatnonzero(((s_q < end) & (e_q > start)).to_numpy())
        out.setdefault(product, []).extend(q.tolist())
    return {p: np.unique(q) for p, q in out.items()}
