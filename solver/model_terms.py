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
    families: pd.Index           # row labels of res_col
    products: pd.Index           # row labels of plan_col
    res_col: np.ndarray          # family x period -> column of R[f,q] (-1: nothing can be in force)
    plan_col: np.ndarray         # plan x period -> column of C[j,q]
    res_ub: np.ndarray           # family x period -> largest R[f,q]
    plan_ub: np.ndarray          # plan x period -> largest C[j,q]


def add_commitments_in_force(lp: LinearProgram, d: ModelData) -> Terms:
    """R[f,q] >= 0 and C[j,q] >= 0 for every (family, period) / (plan, period) in which a
    purchase or inventory can be in force, defined as above (group ``commitment_balance``;
    inventory enters as a constant)."""
    o = d.options_
    n_q = len(d.periods)
    x0 = int(lp.cols(PURCHASES)[0]) if len(o) else 0
    o_idx, q_idx = d.active["o"].to_numpy(), d.active["q"].to_numpy()
    kind = o["kind"].to_numpy()[o_idx]
    products = pd.Index(sorted(set(d.plans.index)))
    out = []
    for k, labels, key, inv, inv_col, name in (
            (RES, d.families, "family", d.inv_reserved, "instances", RESERVED),
            (SP, products, "product", d.inv_plans, "usd_per_hour", COMMITTED)):
        sel = kind == k
        o_k, q_k = o_idx[sel], q_idx[sel]
        r_k = labels.get_indexer(o[key].to_numpy()[o_k])
        inv_amount = np.zeros((len(labels), n_q))
        if len(inv):
            ri = labels.get_indexer(inv[key])
            ok = ri >= 0
            np.add.at(inv_amount, (ri[ok], inv["q"].to_numpy()[ok]), inv[inv_col].to_numpy(float)[ok])
        bought = np.zeros((len(labels), n_q))
        np.add.at(bought, (r_k, q_k), o["ub"].to_numpy(float)[o_k])
        # purchases in force beyond what one option may buy (the family's peak, or the $/h the
        # plan's scope can use at peak) are never used: cap what purchases add there (the
        # optimum is unchanged, and rows that read R or C through their bounds get tighter).
        # Inventory comes on top: buying a floor that overlaps inventory about to expire can pay
        peak = np.zeros(len(labels))
        np.maximum.at(peak, r_k, o["ub"].to_numpy(float)[o_k])
        ub = inv_amount + np.minimum(bought, peak[:, None])
        live = np.zeros((len(labels), n_q), bool)
        live[r_k, q_k] = True
        live |= inv_amount > 0
        rr, qq = np.nonzero(live)
        col = np.full((len(labels), n_q), -1, np.int64)
        if len(rr):
            cols = lp.add_vars(name, pd.MultiIndex.from_arrays([labels[rr], qq], names=[key, "q"]), ub=ub[rr, qq])
            col[rr, qq] = cols
            row_of = np.full((len(labels), n_q), -1, np.int64)
            row_of[rr, qq] = np.arange(len(rr))
            rhs = inv_amount[rr, qq]
            lp.add_rows("commitment_balance", len(rr), np.concatenate([np.arange(len(rr)), row_of[r_k, q_k]]),
                        np.concatenate([cols, x0 + o_k]), np.concatenate([np.ones(len(rr)), -np.ones(len(o_k))]),
                        rhs, rhs)
        out.append((col, ub))
    return Terms(x0, d.families, products, out[0][0], out[1][0], out[0][1], out[1][1])


def _lookup(t: Terms, table: pd.DataFrame, kind: str, what: str) -> np.ndarray:
    labels = t.families if kind == RES else t.products
    grid = {("col", RES): t.res_col, ("col", SP): t.plan_col, ("ub", RES): t.res_ub, ("ub", SP): t.plan_ub}[
        (what, kind)]
    if not len(table):
        return np.zeros(0, grid.dtype)
    r = labels.get_indexer(table["family" if kind == RES else "product"].to_numpy())
    q = table["q"].to_numpy().astype(np.int64)
    fill = -1 if what == "col" else 0.0
    return np.where(r >= 0, grid[np.maximum(r, 0), q], fill)


def _entries(t: Terms, table: pd.DataFrame, kind: str, coef):
    col = _lookup(t, table, kind, "col")
    ok = col >= 0
    c = (table["coef"].to_numpy(float) if "coef" in table else np.ones(len(table))) * coef
    return table["row"].to_numpy()[ok], col[ok], c[ok], table["q"].to_numpy()[ok]


def reserved_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """R[f,q] for each row of ``table`` (columns family, q, row[, coef])."""
    return _entries(t, table, RES, coef)


def plan_entries(t: Terms, table: pd.DataFrame, coef=1.0):
    """C[j,q] for each row of ``table`` (columns product, q, row[, coef])."""
    return _entries(t, table, SP, coef)


def reserved_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    """Largest R[f,q] per row (0 where nothing can be in force)."""
    return _lookup(t, table, RES, "ub")


def plan_bound(t: Terms, table: pd.DataFrame) -> np.ndarray:
    return _lookup(t, table, SP, "ub")


def has_capacity(t: Terms, table: pd.DataFrame, kind: str) -> np.ndarray:
    """Per row (family, q) or (product, q): can a reservation / plan be in force there?"""
    return _lookup(t, table, kind, "col") >= 0


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
