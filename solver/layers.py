"""Layer compression (DESIGN.md section 5): a period's hours -> a few capacity layers.

For one family over one period, let n_t be the firm and d_t the total demand of hour t
(d_t - n_t is the spot-eligible part), OD the on-demand and S the effective spot price
(S <= OD). Commitments are sunk and serve firm demand first, so a coverage capacity
of x instances saves, over the period,

    Sav(x) = sum_t (OD - S) * min(x, n_t) + S * min(x, d_t)          [$]

and is used for U(x) = sum_t min(x, d_t) instance-hours. Both are concave piecewise
linear in x with kinks only at the levels taken by n_t and d_t, so the hours can be
replaced by segments between consecutive kinks ("layers"): segment k has a width
w_k, a saving per unit of width and used hours per unit of width, both non-increasing
in k, so an LP fills layers bottom-up by itself.

Several forecast paths that see the same capacity (a family's reservations and plans do
not depend on the path) merge into one set of layers: the expected saving sum_w pi_w
Sav_w(x) is again concave piecewise linear, with kinks at the union of the paths' kinks,
and each path's use U_w is linear on every merged segment (kept per path, for the
utilization floors). With every kink kept the model is exact for any capacity, integer
or not; segments whose slopes are all equal are merged (still exact). When a period has
more kinks than ``max_layers``, breakpoints fall back to the integer levels (exact for
integer capacities, i.e. reservations alone), then to ``max_layers`` integer levels
chosen where the curves bend most (approximate; chords of the concave curves, so the
model is conservative there). The resolution used is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT, INTEGER, COARSE = "exact", "integer", "coarse"
_RANK = {EXACT: 0, INTEGER: 1, COARSE: 2}
MAX_INTEGER_CANDIDATES = 100_000  # above: only the integers next to a kink (same curve, far fewer points)


@dataclass(frozen=True)
class Layers:
    """Segments of one (family, period) over one or more paths."""

    width: np.ndarray              # instances
    saving_usd: np.ndarray         # expected $ saved over the period per instance of width (weights applied)
    used_hours: np.ndarray         # paths x segments: instance-hours used per instance of width
    resolution: str


def sum_min(sorted_values: np.ndarray, cumsum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_t min(x, v_t) for each x, given v sorted ascending and its cumulative sum."""
    k = np.searchsorted(sorted_values, x, side="right")
    below = np.where(k > 0, cumsum[np.maximum(k - 1, 0)], 0.0)
    return below + x * (len(sorted_values) - k)


def integer_bends(kinks: np.ndarray, top: float) -> np.ndarray:
    """The integer levels in [0, top] next to each kink, and ``top``: between two of them the
    curves are linear on the integers, so they are the only candidates where a curve
    restricted to integer capacities bends (never all the integers up to ``top``, which a
    forecast of billions of instances would make billions)."""
    levels = np.unique(np.concatenate([np.floor(kinks), np.ceil(kinks), [0.0, top]]))
    return levels[levels <= top]


def worst_resolution(values) -> str:
    vals = list(values)
    return max(vals, key=_RANK.__getitem__) if vals else EXACT


def build_layers(firm: np.ndarray, total: np.ndarray, od_usd: float, spot_usd: float,
                 max_layers: int) -> Layers:
    """Layers of one family over one period of one path from hourly firm and total demand
    (``used_hours`` is then 1-D)."""
    lay = build_layers_paths([np.sort(firm)], [np.sort(total)], np.ones(1), od_usd, spot_usd, max_layers)
    return Layers(lay.width, lay.saving_usd, lay.used_hours[0], lay.resolution)


def build_layers_paths(firm_sorted, total_sorted, weights: np.ndarray, od_usd: float, spot_usd: float,
                       max_layers: int) -> Layers:
    """Merged layers of one family over one period from each path's firm and total demand,
    sorted ascending, and the paths' weights."""
    top = max((float(d[-1]) for d in total_sorted if len(d)), default=0.0)
    if top <= 0.0:
        z = np.zeros(0)
        return Layers(z, z, np.zeros((len(total_sorted), 0)), EXACT)
    curves = _Curves(firm_sorted, total_sorted, np.asarray(weights, float), od_usd, spot_usd)
    kinks = np.unique(np.concatenate([[0.0], *firm_sorted, *total_sorted]))
    resolution = EXACT
    points = curves.merge_collinear(kinks)
    if len(points) - 1 > max_layers:
        ints = (np.unique(np.concatenate([np.arange(0.0, np.floor(top) + 1.0), [top]]))
                if np.ceil(top) <= MAX_INTEGER_CANDIDATES else integer_bends(kinks, top))
        if np.ceil(top) <= max_layers:
            points, resolution = curves.merge_collinear(ints), INTEGER
        else:
            points, resolution = curves.adaptive(ints, max_layers), COARSE
    sav, used = curves.at(points)
    width = np.diff(points)
    return Layers(width, np.diff(sav) / width, np.diff(used, axis=1) / width, resolution)


class _Curves:
    """Expected saving and per-path use as functions of the capacity."""

    def __init__(self, firm_sorted, total_sorted, weights, od, spot):
        self.n, self.d, self.w, self.od, self.spot = firm_sorted, total_sorted, weights, od, spot
        self.cn = [np.cumsum(v) for v in firm_sorted]
        self.cd = [np.cumsum(v) for v in total_sorted]

    def at(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        used = np.array([sum_min(d, cd, x) for d, cd in zip(self.d, self.cd)])
        firm = np.array([sum_min(n, cn, x) for n, cn in zip(self.n, self.cn)])
        sav = self.w @ ((self.od - self.spot) * firm + self.spot * used)
        return sav, used

    def merge_collinear(self, points: np.ndarray) -> np.ndarray:
        """Drop interior points where every curve has the same slope on either side."""
        if len(points) <= 2:
            return points
        sav, used = self.at(points)
        w = np.diff(points)
        slopes = np.vstack([np.diff(sav) / w, np.diff(used, axis=1) / w])
        same = np.isclose(slopes[:, 1:], slopes[:, :-1], rtol=1e-12, atol=1e-9).all(axis=0)
        return points[np.concatenate([[True], ~same, [True]])]

    def adaptive(self, candidates: np.ndarray, max_layers: int) -> np.ndarray:
        """``max_layers`` segments between candidate points, chosen greedily where a chord
        of the saving or use curves (each scaled by its total) is furthest below the curve;
        chords of concave curves lie below them, so the model is conservative there."""
        sav, used = self.at(candidates)
        curves = np.vstack([sav / max(sav[-1], 1e-12), used / np.maximum(used[:, -1:], 1e-12)])
        keep = np.zeros(len(candidates), bool)
        keep[[0, -1]] = True
        for _ in range(max_layers - 1):
            idx = np.flatnonzero(keep)
            seg = np.minimum(np.searchsorted(idx, np.arange(len(candidates)), side="right") - 1, len(idx) - 2)
            a, b = idx[seg], idx[seg + 1]
            t = (candidates - candidates[a]) / (candidates[b] - candidates[a])
            dev = (curves - (curves[:, a] + t * (curves[:, b] - curves[:, a]))).max(axis=0)
            dev[keep] = -1.0
            best = int(np.argmax(dev))
            if dev[best] <= 1e-12:
                break
            keep[best] = True
        return candidates[keep]
