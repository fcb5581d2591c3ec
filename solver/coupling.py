"""How savings plans couple families, and the hour-type compression of coupled families.

* Plan order: the billing rules (DESIGN.md section 4) apply savings plans narrowest scope
  first (families the product covers in the catalog), then by product id. ``plan_table``
  ranks the plan products of a model that way and records each one's *model scope* (the
  covered families with forecast demand) and whether its discount is uniform (rate /
  on-demand equal over the scope).
* Components: families linked by a plan whose model scope holds two or more families.
  Inside a component an hour's dispatch depends on every family's demand at once.
* Hour types: the distinct joint hour vectors (firm and spot-eligible demand of every
  family of a component) of one period; each type carries its number of hours. A model
  written over types is exact and its size depends on the number of distinct vectors,
  not on the number of hours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import PriceCatalog

UNIFORM_RTOL = 1e-5   # discounts equal within this relative tolerance count as uniform


def plan_table(catalog: PriceCatalog, products, families_with_demand: pd.Index,
               od_usd_per_hour: pd.Series) -> pd.DataFrame:
    """One row per savings-plan product: rank (application order), n_catalog_families,
    scope (tuple of model families, sorted) and uniform (bool)."""
    products = sorted(set(products))
    cols = ["rank", "n_catalog_families", "scope", "uniform"]
    if not products:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="product"))
    com = catalog.commitments
    com = com[com["product"].isin(products)]
    n_cat = catalog.scope_family_counts().reindex(products).fillna(0).astype(int)
    mine = com[com["family"].isin(families_with_demand)]
    ratio = mine["rate_usd_per_hour"].to_numpy(float) / od_usd_per_hour.reindex(mine["family"]).to_numpy(float)
    mine = mine.assign(ratio=ratio)
    g = mine.groupby("product")
    scope = g["family"].agg(lambda s: tuple(sorted(s))).reindex(products)
    scope = scope.apply(lambda s: s if isinstance(s, tuple) else ())
    spread = (g["ratio"].max() / g["ratio"].min() - 1.0).reindex(products).fillna(0.0)
    out = pd.DataFrame({"n_catalog_families": n_cat, "scope": scope,
                        "uniform": (spread <= UNIFORM_RTOL).to_numpy()}, index=pd.Index(products, name="product"))
    order = sorted(products, key=lambda p: (int(n_cat[p]), p))
    out["rank"] = pd.Series(np.arange(len(order)), index=order).reindex(out.index)
    return out[cols]


def components(families: pd.Index, plans: pd.DataFrame) -> pd.Series:
    """family -> component id (0..); families linked by a multi-family plan share one."""
    pos = {f: i for i, f in enumerate(families)}
    parent = np.arange(len(families))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for scope in plans["scope"] if len(plans) else []:
        idx = [pos[f] for f in scope if f in pos]
        for j in idx[1:]:
            a, b = find(idx[0]), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = np.array([find(i) for i in range(len(families))], dtype=int)
    _, comp = np.unique(roots, return_inverse=True)
    return pd.Series(comp, index=families, name="component")


def hour_types(firm: np.ndarray, eligible: np.ndarray, max_types: int):
    """Distinct joint hour vectors of an (hours x families) block, with hour counts, or
    None when there are more than ``max_types``. Hours where every family is idle are
    dropped (they cost and save nothing). Returns (firm_types, eligible_types, hours)."""
    nf = firm.shape[1]
    block = np.hstack([firm, eligible])
    block = block[block.any(axis=1)]
    if len(block) == 0:
        return np.zeros((0, nf)), np.zeros((0, nf)), np.zeros(0)
    uniq, counts = np.unique(block, axis=0, return_counts=True)
    if len(uniq) > max_types:
        return None
    return uniq[:, :nf], uniq[:, nf:], counts.astype(float)


def greedy_is_optimal(plans: pd.DataFrame, rates: pd.DataFrame) -> bool:
    """True when applying ``plans`` in order (each covering what is left, best value per
    commitment dollar first) is a least-cost dispatch of every hour, so that a model that
    optimizes the dispatch prices exactly what the billing rules charge.

    Sufficient condition (exchange argument, docs/model.md): for every pair of plans a
    applied before b whose model scopes meet, where a covers two or more families,
    scope(a) lies inside scope(b) and b's rates are proportional to a's on scope(a).
    ``rates``: product, family, rate_usd_per_hour."""
    multi = plans[plans["scope"].apply(len) > 1]
    if len(multi) == 0 or len(plans) <= 1:
        return True
    rate = rates.set_index(["product", "family"])["rate_usd_per_hour"]
    ordered = plans.sort_values("rank")
    names = list(ordered.index)
    scopes = [set(s) for s in ordered["scope"]]
    for a in range(len(names)):
        if len(scopes[a]) < 2:
            continue
        for b in range(a + 1, len(names)):
            if not scopes[a] & scopes[b]:
                continue
            if not scopes[a] <= scopes[b]:
                return False
            fams = sorted(scopes[a])
            ra = rate.reindex([(names[a], f) for f in fams]).to_numpy(float)
            rb = rate.reindex([(names[b], f) for f in fams]).to_numpy(float)
            q = rb / ra
            if q.max() / q.min() - 1.0 > UNIFORM_RTOL:
                return False
    return True
