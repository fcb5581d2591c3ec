"""Commitments in force: the state columns R[f,q] (reserved instances of family f in force
in period q) and C[j,q] ($/h of savings plan j in force), and lookups for the groups.

``add_commitments_in_force`` defines them once,

    R[f,q] = sum_{o of f in force in q} x_o + inv[f,q]        C[j,q] = sum_{o of j in force in q} x_o + inv[j,q]

so that the groups read R and C with a single coefficient instead of repeating every
purchase column in every row of every period it is in force. (A flow balance
R[f,q] - R[f,q-1] = bought - expired has fewer nonzeros still, but its long chains made
HiGHS's simplex two to three times slower on bench/model_speed.py.) Every helper
takes a table of rows to fill (keys and a local ``row`` number) and returns COO entries
(row, column, value) as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.solver.lp import LinearProgram
from gpuladder.solver.modeldata import RES, SP, ModelData

PURCHASES, RESERVED, COMMITTED = "buy", "reserved_in_force", "plan_in_force"


@dataclass(frozen=True)
class Terms:
    x0: int                      # first purchase column
    res_col: pd.Series           # (family, q) -> column of R[f,q]
    plan_col: pd.Series          # (product, q) -> column of C[j,q]
    res_ub: pd.Series            # (family, q) -> largest R[f,q]
    plan_ub: pd.Series           # (product, q) -> largest C[j,q]


def add_commitments_in_force(lp: LinearProgram, d: ModelData) -> Terms:
    """R[f,q] >= 0 and C[j,q] >= 0 for every (family, period) / (plan, period) in which a
    purchase or inventory can be in force, defined as above (group ``commitment_balance``;
    inventory enters as a constant)."""
    o = d.options_
    act = d.active.merge(o[["product", "family", "kind", "ub"]], left_on="o", right_index=True)
    x0 = int(lp.cols(PURCHASES)[0]) if len(o) else 0
    out = {}
    for kind, key, inv, name in ((RES, "family", d.inv_reserved, RESERVED), (SP, "product", d.inv_plans, COMMITTED)):
        inv_col = "instances" if kind == RES else "usd_per_hour"
        a = act[act["kind"] == kind]
        inv_t = inv.rename(columns={inv_col: "inv"})[[key, "q", "inv"]] if len(inv) else \
            pd.DataFrame({key: pd.Series(dtype=object), "q": pd.Series(dtype=int), "inv": pd.Series(dtype=float)})
        cells = pd.concat([a[[key, "q"]], inv_t[[key, "q"]]]).drop_duplicates().sort_values([key, "q"])
        cells = cells.reset_index(drop=True)
        if cells.empty:
            out[kind] = (pd.Series(dtype=int), pd.Series(dtype=float))
            continue
        cells = cells.merge(inv_t, on=[key, "q"], how="left").fillna({"inv": 0.0})
        ub = cells[[key, "q"]].merge(a.groupby([key, "q"], as_index=False)["ub"].sum(), on=[key, "q"], how="left")
        ub = ub["ub"].fillna(0.0).to_numpy() + cells["inv"].to_numpy()
        cols = lp.add_vars(name, pd.MultiIndex.from_frame(cells[[key, "q"]]), ub=ub)
        cells["col"] = cols
        cells["row"] = np.arange(len(cells))
        m = a[["o", key, "q"]].merge(cells[[key, "q", "row"]], on=[key, "q"])
        lp.add_rows("commitment_balance", len(cells), np.concatenate([cells["row"].to_numpy(), m["row"].to_numpy()]),
                    np.concatenate([cols, x0 + m["o"].to_numpy()]),
                    np.concatenate([np.ones(len(cells)), -np.ones(len(m))]), cells["inv"].to_numpy(),
                    cells["inv"].to_numpy())
        idx = pd.MultiIndex.from_frame(cells[[key, "q"]])
        out[kind] = (pd.Series(cols, index=idx), pd.Series(ub, index=idx))
    return Terms(x0, out[RES][0], out[SP][0], out[RES][1], out[SP][1])


def _lookup(series: pd.Series, table: pd.DataFrame, key: str) -> np.ndarray:
    if not len(series) or not len(table):
        return np.full(len(table), np.nan)
    return series.reindex(pd.MultiIndex.from_frame(table[[key, "q"]])).to_numpy(float)


def reserved_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """R[f,q] for each row of ``table`` (columns family, q, row[, coef])."""
    col = _lookup(t.res_col, table, "family")
    ok = ~np.isnan(col)
    c = (table["coef"].to_numpy(float) if "coef" in table else np.ones(len(table))) * coef
    return table["row"].to_numpy()[ok], col[ok].astype(np.int64), c[ok], table["q"].to_numpy()[ok]


def plan_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """C[j,q] for each row of ``table`` (columns product, q, row[, coef])."""
    col = _lookup(t.plan_col, table, "product")
    ok = ~np.isnan(col)
    c = (table["coef"].to_numpy(float) if "coef" in table else np.ones(len(table))) * coef
    return table["row"].to_numpy()[ok], col[ok].astype(np.int64), c[ok], table["q"].to_numpy()[ok]


def reserved_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    """Largest R[f,q] per row (0 where nothing can be in force)."""
    return np.nan_to_num(_lookup(t.res_ub, table, "family"))


def plan_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(_lookup(t.plan_ub, table, "product"))


def has_capacity(t: Terms, table: pd.DataFrame, kind: str) -> np.ndarray:
    """Per row (family, q) or (product, q): can a reservation / plan be in force there?"""
    if kind == RES:
        return ~np.isnan(_lookup(t.res_col, table, "family"))
    return ~np.isnan(_lookup(t.plan_col, table, "product"))


class Entries:
    """Accumulates COO pieces of one group of rows (optionally tagged with their period)."""

    def __init__(self):
        self.r, self.c, self.v, self.q = [], [], [], []

    def add(self, rows, cols, vals, q=-1):
        rows = np.asarray(rows, np.int64)
        self.r.append(rows)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.broadcast_to(np.asarray(vals, float), rows.shape))
        self.q.append(np.broadcast_to(np.asarray(q, np.int64), rows.shape))

    def add_triplet(self, triplet, scale=1.0):
        """Entries (rows, cols, vals[, periods]) as returned by reserved_entries / plan_entries."""
        rows, cols, vals = triplet[:3]
        self.add(rows, cols, np.asarray(vals, float) * scale, triplet[3] if len(triplet) > 3 else -1)

    def arrays(self):
        if not self.r:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(self.r), np.concatenate(self.c), np.concatenate(self.v)

    def periods(self) -> np.ndarray:
        return np.concatenate(self.q) if self.q else np.zeros(0, np.int64)
