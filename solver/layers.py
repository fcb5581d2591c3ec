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
in k, so an LP fills layers bottom-up by itself. With every kink kept the model is
exact for any capacity, integer or not; segments whose slopes are equal are merged
(still exact). When a period has more kinks than ``max_layers``, breakpoints fall
back to the integer levels (exact for integer capacities, i.e. reservations alone),
then to ``max_layers`` integer levels chosen where the curves bend most (approximate;
chords of the concave curves, so the model is conservative there). The resolution used is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT, INTEGER, COARSE = "exact", "integer", "coarse"
_RANK = {EXACT: 0, INTEGER: 1, COARSE: 2}


@dataclass(frozen=True)
class Layers:
    """Segments of one (family, period, path): arrays of equal length."""

    width: np.ndarray              # instances
    saving_usd: np.ndarray         # $ saved over the period per instance of width
    used_hours: np.ndarray         # instance-hours used over the period per instance of width
    resolution: str


def sum_min(sorted_values: np.ndarray, cumsum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_t min(x, v_t) for each x, given v sorted ascending and its cumulative sum."""
    k = np.searchsorted(sorted_values, x, side="right")
    below = np.where(k > 0, cumsum[np.maximum(k - 1, 0)], 0.0)
    return below + x * (len(sorted_values) - k)


def worst_resolution(values) -> str:
    vals = list(values)
    return max(vals, key=_RANK.__getitem__) if vals else EXACT


def build_layers(firm: np.ndarray, total: np.ndarray, od_usd: float, spot_usd: float,
                 max_layers: int) -> Layers:
    """Layers of one family over one period from hourly firm and total demand."""
    return build_layers_sorted(np.sort(firm), np.sort(total), od_usd, spot_usd, max_layers)


def build_layers_sorted(n: np.ndarray, d: np.ndarray, od_usd: float, spot_usd: float,
                        max_layers: int) -> Layers:
    """As ``build_layers`` from firm and total demand already sorted ascending."""
    top = float(d[-1]) if len(d) else 0.0
    if top <= 0.0:
        z = np.zeros(0)
        return Layers(z, z, z, EXACT)
    cn, cd = np.cumsum(n), np.cumsum(d)
    kinks = np.unique(np.concatenate([[0.0], n, d]))
    resolution = EXACT
    points = _merge_collinear(kinks, n, cn, d, cd, od_usd, spot_usd)
    if len(points) - 1 > max_layers:
        ints = np.unique(np.concatenate([np.arange(0.0, np.floor(top) + 1.0), [top]]))
        if len(ints) - 1 <= max_layers:
            points, resolution = _merge_collinear(ints, n, cn, d, cd, od_usd, spot_usd), INTEGER
        else:
            points, resolution = _adaptive(ints, n, cn, d, cd, od_usd, spot_usd, max_layers), COARSE
    sav, used = _curves(points, n, cn, d, cd, od_usd, spot_usd)
    width = np.diff(points)
    return Layers(width, np.diff(sav) / width, np.diff(used) / width, resolution)


def _curves(x, n, cn, d, cd, od, spot):
    un = sum_min(n, cn, x)
    ud = sum_min(d, cd, x)
    return (od - spot) * un + spot * ud, ud


def _adaptive(candidates, n, cn, d, cd, od, spot, max_layers):
    """``max_layers`` segments between candidate points (integer levels), chosen greedily
    where the chord of the saving or use curve (each scaled by its total) is furthest
    below the curve; chords of concave curves are below them, so the model is
    conservative on the coarse cells."""
    sav, used = _curves(candidates, n, cn, d, cd, od, spot)
    curves = np.stack([sav / max(sav[-1], 1e-12), used / max(used[-1], 1e-12)])
    keep = np.zeros(len(candidates), bool)
    keep[[0, -1]] = True
    for _ in range(max_layers - 1):
        idx = np.flatnonzero(keep)
        seg = np.searchsorted(idx, np.arange(len(candidates)), side="right") - 1
        seg = np.minimum(seg, len(idx) - 2)
        a, b = idx[seg], idx[seg + 1]
        t = (candidates - candidates[a]) / (candidates[b] - candidates[a])
        chord = curves[:, a] + t * (curves[:, b] - curves[:, a])
        dev = (curves - chord).max(axis=0)
        dev[keep] = -1.0
        best = int(np.argmax(dev))
        if dev[best] <= 1e-12:
            break
        keep[best] = True
    return candidates[keep]


def _merge_collinear(points, n, cn, d, cd, od, spot):
    """Drop interior points where both curves have the same slope on either side."""
    if len(points) <= 2:
        return points
    sav, used = _curves(points, n, cn, d, cd, od, spot)
    w = np.diff(points)
    s1, s2 = np.diff(sav) / w, np.diff(used) / w
    same = (np.isclose(s1[1:], s1[:-1], rtol=1e-12, atol=1e-9)
            & np.isclose(s2[1:], s2[:-1], rtol=1e-12, atol=1e-9))
    keep = np.concatenate([[True], ~same, [True]])
    return points[keep]
