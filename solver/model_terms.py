"""Shared lookups for the constraint groups: which purchase columns make up the reserved
count R[f,q] and the plan commitment C[j,q] of a period, and the inventory constants.

Every helper takes a table of rows to fill (with the keys and a local ``row`` number)
and returns COO entries (row, column, value) with numpy arrays, so that constraint
groups stay vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.lp import LinearProgram
from gpuladder.solver.modeldata import RES, SP, ModelData

PURCHASES = "buy"


@dataclass(frozen=True)
class Terms:
    x0: int                      # first purchase column
    act_res: pd.DataFrame        # o, q, family   (reservation options in force)
    act_sp: pd.DataFrame         # o, q, product  (plan options in force)
    inv_res: pd.Series           # (family, q) -> instances
    inv_sp: pd.Series            # (product, q) -> $/h
    ub: np.ndarray               # option -> upper bound
    rate: pd.Series              # (product, family) -> plan rate [$ per instance-hour]


def terms(lp: LinearProgram, d: ModelData) -> Terms:
    o = d.options_
    act = d.active.merge(o[["product", "family", "kind"]], left_on="o", right_index=True)
    res = act[act["kind"] == RES][["o", "q", "family"]].reset_index(drop=True)
    sp = act[act["kind"] == SP][["o", "q", "product"]].reset_index(drop=True)
    x0 = int(lp.cols(PURCHASES)[0]) if len(o) else 0
    inv_res = d.inv_reserved.set_index(["family", "q"])["instances"] if len(d.inv_reserved) else \
        pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["family", "q"]))
    inv_sp = d.inv_plans.set_index(["product", "q"])["usd_per_hour"] if len(d.inv_plans) else \
        pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["product", "q"]))
    rate = d.plan_rates.set_index(["product", "family"])["rate_usd_per_hour"]
    return Terms(x0, res, sp, inv_res, inv_sp, o["ub"].to_numpy(float), rate)


def reserved_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """R[f,q] terms for each row of ``table`` (columns family, q, row[, coef]): entries
    (row, column, coef) for every reservation option of f in force in q."""
    m = table.merge(t.act_res, on=["family", "q"])
    c = (m["coef"].to_numpy(float) if "coef" in m else np.ones(len(m))) * coef
    return m["row"].to_numpy(), t.x0 + m["o"].to_numpy(), c


def plan_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """C[j,q] terms for each row of ``table`` (columns product, q, row[, coef])."""
    m = table.merge(t.act_sp, on=["product", "q"])
    c = (m["coef"].to_numpy(float) if "coef" in m else np.ones(len(m))) * coef
    return m["row"].to_numpy(), t.x0 + m["o"].to_numpy(), c


def inv_reserved(t: Terms, table: pd.DataFrame) -> np.ndarray:
    if not len(t.inv_res):
        return np.zeros(len(table))
    return t.inv_res.reindex(pd.MultiIndex.from_frame(table[["family", "q"]])).fillna(0.0).to_numpy(float)


def inv_plan(t: Terms, table: pd.DataFrame) -> np.ndarray:
    if not len(t.inv_sp):
        return np.zeros(len(table))
    return t.inv_sp.reindex(pd.MultiIndex.from_frame(table[["product", "q"]])).fillna(0.0).to_numpy(float)


def reserved_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    """Largest R[f,q] the purchases can reach (upper bounds of options in force + inventory)."""
    m = table[["family", "q"]].reset_index(drop=True).assign(row=np.arange(len(table)))
    hit = m.merge(t.act_res, on=["family", "q"])
    out = np.zeros(len(table))
    np.add.at(out, hit["row"].to_numpy(), t.ub[hit["o"].to_numpy()] if len(hit) else np.zeros(0))
    return out + inv_reserved(t, table)


def plan_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    """Largest C[j,q] the purchases can reach."""
    m = table[["product", "q"]].reset_index(drop=True).assign(row=np.arange(len(table)))
    hit = m.merge(t.act_sp, on=["product", "q"])
    out = np.zeros(len(table))
    np.add.at(out, hit["row"].to_numpy(), t.ub[hit["o"].to_numpy()] if len(hit) else np.zeros(0))
    return out + inv_plan(t, table)


def has_capacity(t: Terms, table: pd.DataFrame, kind: str) -> np.ndarray:
    """Per row (family, q) or (product, q): can any reservation / plan be in force there?"""
    key = "family" if kind == RES else "product"
    act = t.act_res if kind == RES else t.act_sp
    inv = t.inv_res if kind == RES else t.inv_sp
    idx = pd.MultiIndex.from_frame(table[[key, "q"]])
    a = idx.isin(pd.MultiIndex.from_frame(act[[key, "q"]])) if len(act) else np.zeros(len(table), bool)
    b = idx.isin(inv.index[inv.to_numpy() > 0]) if len(inv) else np.zeros(len(table), bool)
    return np.asarray(a) | np.asarray(b)


class Entries:
    """Accumulates COO pieces of one group of rows."""

    def __init__(self):
        self.r, self.c, self.v = [], [], []

    def add(self, rows, cols, vals):
        rows = np.asarray(rows, np.int64)
        self.r.append(rows)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.broadcast_to(np.asarray(vals, float), rows.shape))

    def add_triplet(self, triplet, scale=1.0):
        rows, cols, vals = triplet
        self.add(rows, cols, np.asarray(vals, float) * scale)

    def arrays(self):
        if not self.r:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(self.r), np.concatenate(self.c), np.concatenate(self.v)
