"""A solver-neutral mixed-integer linear program, built vectorized.

Variables come in named blocks that keep their pandas index (labels never reach a
solver: solver-side names are positional). Constraint rows come in named groups
(STYLE.md's constraint groups) so that an infeasible model can be re-solved with
whole groups made soft. Backends (solver/backends/) translate this into HiGHS, CBC
or OR-Tools calls.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class SolveStatus(enum.Enum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"       # stopped on the time limit with a feasible plan
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"     # stopped (time limit or error) without a feasible plan
    ERROR = "error"


@dataclass(frozen=True)
class SolverOptions:
    backend: str = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 0.001
    relax_and_fix_columns: int | None = 5_000   # MILPs this large try relaxation + rounding first


@dataclass(frozen=True)
class Solution:
    status: SolveStatus
    x: np.ndarray | None
    objective: float | None       # including the LP's constant
    gap: float | None
    seconds: float
    backend: str
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return self.x is not None and self.status in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT)


@dataclass
class _Rows:
    group: str
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


@dataclass
class LinearProgram:
    """minimize c.x + constant  s.t.  row_lb <= A x <= row_ub,  lb <= x <= ub, some x integer."""

    blocks: dict[str, tuple[int, pd.Index]] = field(default_factory=dict)
    _lb: list[np.ndarray] = field(default_factory=list)
    _ub: list[np.ndarray] = field(default_factory=list)
    _cost: list[np.ndarray] = field(default_factory=list)
    _int: list[np.ndarray] = field(default_factory=list)
    _rows: list[_Rows] = field(default_factory=list)
    _group: list[np.ndarray] = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0
    constant: float = 0.0

    # ---------------------------------------------------------------- variables
    def add_vars(self, name: str, index: pd.Index, *, lb=0.0, ub=np.inf, cost=0.0,
                 integer=False, group=-1) -> np.ndarray:
        """Add one variable per entry of ``index``; returns their column numbers. ``group``
        (>= 0) tags integer columns that belong together (one family's purchases), for
        solution heuristics."""
        if name in self.blocks:
            raise ValueError(f"variable block {name} exists")
        n = len(index)
        self.blocks[name] = (self.n_cols, index)
        self._lb.append(np.broadcast_to(np.asarray(lb, float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, float), (n,)).copy())
        self._cost.append(np.broadcast_to(np.asarray(cost, float), (n,)).copy())
        self._int.append(np.broadcast_to(np.asarray(integer, bool), (n,)).copy())
        self._group.append(np.broadcast_to(np.asarray(group, np.int64), (n,)).copy())
        cols = np.arange(self.n_cols, self.n_cols + n)
        self.n_cols += n
        return cols

    def cols(self, name: str) -> np.ndarray:
        start, index = self.blocks[name]
        return np.arange(start, start + len(index))

    def index(self, name: str) -> pd.Index:
        return self.blocks[name][1]

    def values(self, name: str, x: np.ndarray) -> pd.Series:
        start, index = self.blocks[name]
        return pd.Series(x[start:start + len(index)], index=index, name=name)

    # ---------------------------------------------------------------- rows
    def add_rows(self, group: str, n_rows: int, row: np.ndarray, col: np.ndarray, val: np.ndarray,
                 lb, ub) -> np.ndarray:
        """Add ``n_rows`` rows given in COO form with local row numbers 0..n_rows-1."""
        if n_rows == 0:
            return np.arange(0)
        row = np.asarray(row, np.int64)
        base = self.n_rows
        self._rows.append(_Rows(group, row + base, np.asarray(col, np.int64), np.asarray(val, float),
                                np.broadcast_to(np.asarray(lb, float), (n_rows,)).copy(),
                                np.broadcast_to(np.asarray(ub, float), (n_rows,)).copy()))
        self.n_rows += n_rows
        return np.arange(base, base + n_rows)

    # ---------------------------------------------------------------- assembled arrays
    @property
    def col_lb(self) -> np.ndarray:
        return np.concatenate(self._lb) if self._lb else np.zeros(0)

    @property
    def col_ub(self) -> np.ndarray:
        return np.concatenate(self._ub) if self._ub else np.zeros(0)

    @property
    def cost(self) -> np.ndarray:
        return np.concatenate(self._cost) if self._cost else np.zeros(0)

    @property
    def integrality(self) -> np.ndarray:
        return np.concatenate(self._int) if self._int else np.zeros(0, bool)

    @property
    def col_group(self) -> np.ndarray:
        n = sum(len(g) for g in self._group)
        out = np.concatenate(self._group) if self._group else np.zeros(0, np.int64)
        return out if n == self.n_cols else np.full(self.n_cols, -1, np.int64)

    @property
    def row_lb(self) -> np.ndarray:
        return np.concatenate([r.lb for r in self._rows]) if self._rows else np.zeros(0)

    @property
    def row_ub(self) -> np.ndarray:
        return np.concatenate([r.ub for r in self._rows]) if self._rows else np.zeros(0)

    def row_groups(self) -> np.ndarray:
        return np.concatenate([np.full(len(r.lb), r.group, dtype=object) for r in self._rows]) \
            if self._rows else np.zeros(0, dtype=object)

    def groups(self) -> list[str]:
        return sorted({r.group for r in self._rows})

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, index, value) of A in compressed row form, duplicates summed (cached
        until rows or columns are added)."""
        key = (self.n_rows, self.n_cols, len(self._rows))
        cached = self.__dict__.get("_csr_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        out = self._csr()
        self.__dict__["_csr_cache"] = (key, out)
        return out

    def _csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._rows:
            return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0)
        row = np.concatenate([r.row for r in self._rows])
        col = np.concatenate([r.col for r in self._rows])
        val = np.concatenate([r.val for r in self._rows])
        key = row * max(self.n_cols, 1) + col
        order = np.argsort(key, kind="stable")
        key, val = key[order], val[order]
        uniq, first = np.unique(key, return_index=True)
        summed = np.add.reduceat(val, first) if len(val) else val
        r, c = uniq // max(self.n_cols, 1), uniq % max(self.n_cols, 1)
        keep = summed != 0.0
        r, c, summed = r[keep], c[keep], summed[keep]
        start = np.zeros(self.n_rows + 1, np.int64)
        np.add.at(start, r + 1, 1)
        return np.cumsum(start), c.astype(np.int64), summed

    def row_activity(self, x: np.ndarray) -> np.ndarray:
        start, idx, val = self.csr()
        contrib = val * x[idx]
        counts = np.diff(start)
        out = np.zeros(self.n_rows)
        nz = counts > 0
        out[nz] = np.add.reduceat(contrib, start[:-1][nz]) if len(contrib) else 0.0
        return out

    def with_columns(self, lb=None, ub=None, integer=None, cost=None) -> "LinearProgram":
        """A copy with other column bounds / integrality / costs (same rows, same blocks); a
        new cost vector drops the constant."""
        return LinearProgram(dict(self.blocks), [self.col_lb if lb is None else np.asarray(lb, float)],
                             [self.col_ub if ub is None else np.asarray(ub, float)],
                             [self.cost if cost is None else np.asarray(cost, float)],
                             [self.integrality if integer is None else np.asarray(integer, bool)], list(self._rows),
                             [self.col_group], self.n_cols, self.n_rows, self.constant if cost is None else 0.0)

    def with_row_bounds(self, lb=None, ub=None) -> "LinearProgram":
        """A copy with other row bounds (``lb``, ``ub``: one per row; same matrix, columns,
        costs and groups); the matrix's arrays and its compressed form are shared, not copied."""
        lb = self.row_lb if lb is None else np.asarray(lb, float)
        ub = self.row_ub if ub is None else np.asarray(ub, float)
        if lb.shape != (self.n_rows,) or ub.shape != (self.n_rows,):
            raise ValueError(f"row bounds need {self.n_rows} entries")
        rows, at = [], 0
        for r in self._rows:
            n = len(r.lb)
            rows.append(_Rows(r.group, r.row, r.col, r.val, lb[at:at + n].copy(), ub[at:at + n].copy()))
            at += n
        lp = LinearProgram(dict(self.blocks), list(self._lb), list(self._ub), list(self._cost), list(self._int),
                           rows, list(self._group), self.n_cols, self.n_rows, self.constant)
        if "_csr_cache" in self.__dict__:
            lp.__dict__["_csr_cache"] = self.__dict__["_csr_cache"]
        return lp

    def components(self) -> np.ndarray:
        """Block label per column: columns linked through any row share a label (label
        propagation over the rows, numpy only)."""
        start, index, _ = self.csr()
        counts = np.diff(start)
        nz = counts > 0
        label = np.arange(self.n_cols)
        if not len(index):
            return label
        while True:
            row_min = np.minimum.reduceat(label[index], start[:-1][nz])
            new = label.copy()
            np.minimum.at(new, index, np.repeat(row_min, counts[nz]))
            while True:                     # follow labels to their root
                nxt = new[new]
                if np.array_equal(nxt, new):
                    break
                new = nxt
            if np.array_equal(new, label):
                return label
            label = new

    def subproblem(self, cols: np.ndarray) -> "LinearProgram":
        """The columns ``cols`` (a union of blocks of ``components``) with the rows over them;
        no constant."""
        cols = np.asarray(cols)
        start, index, value = self.csr()
        row_of = np.repeat(np.arange(self.n_rows), np.diff(start))
        pos = np.full(self.n_cols, -1, np.int64)
        pos[cols] = np.arange(len(cols))
        keep = pos[index] >= 0
        rows = np.unique(row_of[keep])
        rpos = np.full(self.n_rows, -1, np.int64)
        rpos[rows] = np.arange(len(rows))
        sub = LinearProgram()
        sub.add_vars("sub", pd.RangeIndex(len(cols)), lb=self.col_lb[cols], ub=self.col_ub[cols],
                     cost=self.cost[cols], integer=self.integrality[cols], group=self.col_group[cols])
        sub.add_rows("sub", len(rows), rpos[row_of[keep]], pos[index[keep]], value[keep],
                     self.row_lb[rows], self.row_ub[rows])
        return sub

    def softened(self, groups, penalty: float) -> tuple["LinearProgram", dict[str, np.ndarray]]:
        """A copy where every row of ``groups`` gets slack columns priced at ``penalty``;
        returns the copy and, per group, the slack columns."""
        lp = LinearProgram(dict(self.blocks), list(self._lb), list(self._ub), list(self._cost),
                           list(self._int), list(self._rows), list(self._group), self.n_cols, self.n_rows,
                           self.constant)
        slacks: dict[str, np.ndarray] = {}
        for rows in self._rows:
            if rows.group not in groups:
                continue
            n = len(rows.lb)
            local = np.arange(n)
            first_row = self._first_row_of(rows)
            up = lp.add_vars(f"slack_up:{rows.group}:{first_row}", pd.RangeIndex(n), cost=penalty)
            down = lp.add_vars(f"slack_down:{rows.group}:{first_row}", pd.RangeIndex(n), cost=penalty)
            lp._rows.append(_Rows(rows.group, np.concatenate([first_row + local, first_row + local]),
                                  np.concatenate([up, down]), np.concatenate([np.ones(n), -np.ones(n)]),
                                  np.zeros(0), np.zeros(0)))
            slacks.setdefault(rows.group, np.zeros(0, np.int64))
            slacks[rows.group] = np.concatenate([slacks[rows.group], up, down])
        return lp, slacks

    def _first_row_of(self, rows: _Rows) -> int:
        total = 0
        for r in self._rows:
            if r is rows:
                return total
            total += len(r.lb)
        raise ValueError("rows not in program")
