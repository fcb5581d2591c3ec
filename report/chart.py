"""Charts for the HTML report (DESIGN section 2: "charts"), as plain SVG written here (no
plotting dependency), every bar with a tooltip of its figures.

- The purchase ladder: the amortized $/h of commitments in force at the start of each
  month, from the horizon start to the last expiry, stacked as existing inventory and this
  plan's purchases, with the horizon's end marked. It shows what "spread commitments so
  they never all expire or lock in at once" asks to see: the steps where purchases start
  and the cliffs where they end. The $/h are the book's contractual amortized rates, the
  same as ``committed_usd_per_hour_at`` of ``gpuladder compare``.
- The mix per family: the simulator's dispatch on the expected path, as the mean
  instances per month served by reservations, savings plans, spot and on-demand: the
  committed floor under the variable layer, month by month."""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pandas as pd

from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.simulate import SOURCES, SimulationResult
from gpuladder.units import add_months

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 40
LADDER_LAYERS = {"inventory": ("existing inventory", "#9e9e9e"), "purchase": ("this plan's purchases", "#2f6db5")}
MIX_LAYERS = {"reserved": ("reserved", "#2f6db5"), "savings_plan": ("savings plan", "#6fa8dc"),
              "spot": ("spot", "#e69138"), "on_demand": ("on-demand", "#cc4125")}
MAX_MIX_CHARTS = 8   # families charted, the costliest first
LABEL_WIDTH = 45     # px an axis label 'YYYY-MM' at font-size 10 takes, with a gap


def committed_by_month(book: CommitmentBook, start: pd.Timestamp) -> pd.DataFrame:
    """Per month start from ``start`` to the month of the last expiry: the amortized $/h
    of the inventory and of the purchases in force at that instant (start <= t < end).
    Empty when nothing is committed after ``start``."""
    it = book.items
    if it.empty or not (it["end"] > start).any():
        return pd.DataFrame({"inventory": pd.Series(dtype=float), "purchase": pd.Series(dtype=float)})
    months, t = [], start
    last = it["end"].max()
    while t < last:
        months.append(t)
        t = add_months(start, len(months))
    when = pd.DatetimeIndex(months).to_numpy()
    starts, ends = it["start"].to_numpy(), it["end"].to_numpy()
    in_force = (starts[:, None] <= when[None, :]) & (ends[:, None] > when[None, :])
    rate = book.amortized_usd_per_hour().to_numpy(float)
    return pd.DataFrame({origin: (rate * (it["origin"] == origin).to_numpy()) @ in_force
                         for origin in LADDER_LAYERS}, index=pd.DatetimeIndex(months))


def mix_by_month(sim: SimulationResult, family: str) -> pd.DataFrame:
    """Mean instances per calendar month of ``family`` served by each source, from the
    simulator's hourly dispatch (the four columns sum to the month's mean demand)."""
    h = sim.hourly
    frame = pd.DataFrame({s: getattr(h, f"{s}_instances")[family] for s in SOURCES})
    months = frame.index.tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC")
    return frame.groupby(months).mean()


def ladder_svg(frame: pd.DataFrame, horizon_end: pd.Timestamp) -> str:
    if frame.empty:
        return "<p>No commitments in force: nothing to chart.</p>"
    return stacked_bars_svg(frame, LADDER_LAYERS, "Commitments in force, amortized $/h, at each month's start",
                            lambda v: f"${v:,.2f}/h", "in force", marker=(horizon_end, "horizon end"))


def mix_svg(frame: pd.DataFrame, family: str) -> str:
    return stacked_bars_svg(frame, MIX_LAYERS, f"{family}: mean instances per month by source (expected path)",
                            lambda v: f"{v:,.2f}", "instances")


def mix_charts(sim: SimulationResult) -> list[str]:
    """One mix chart per family, the costliest MAX_MIX_CHARTS first."""
    fams = sim.by_family.sort_values("cost_usd", ascending=False).index[:MAX_MIX_CHARTS]
    return [mix_svg(mix_by_month(sim, f), f) for f in fams if f in sim.hourly.demand_instances.columns]


def stacked_bars_svg(frame: pd.DataFrame, layers: dict[str, tuple[str, str]], title: str,
                     fmt: Callable[[float], str], what: str,
                     marker: tuple[pd.Timestamp, str] | None = None) -> str:
    """Monthly stacked bars of ``frame`` (index: month starts; columns: ``layers``' keys,
    stacked in that order) as an inline SVG element; ``marker`` draws a dashed line at the
    left edge of that month's bar. The first bar and each January are labelled, a January
    too close to the label before it left out (a chart starting in December)."""
    e = html.escape
    total = frame[list(layers)].sum(axis=1).to_numpy()
    top = float(total.max()) if len(total) and total.max() > 0 else 1.0
    n = max(len(frame), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar = plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    label_free_x = float(LEFT)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{WIDTH}' height='{HEIGHT}' "
             f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{e(title)}'>",
             f"<text x='{LEFT}' y='18' font-size='13'>{e(title)}</text>",
             f"<line x1='{LEFT}' y1='{TOP + plot_h}' x2='{WIDTH - RIGHT}' y2='{TOP + plot_h}' stroke='#333'/>",
             f"<text x='{LEFT - 6}' y='{TOP + 4}' font-size='11' text-anchor='end'>{e(fmt(top))}</text>",
             f"<text x='{LEFT - 6}' y='{TOP + plot_h}' font-size='11' text-anchor='end'>0</text>"]
    for k, (when, row) in enumerate(frame.iterrows()):
        x = LEFT + k * bar
        parts_of = ", ".join(f"{label} {fmt(float(row[key]))}" for key, (label, _) in layers.items())
        tip = f"{when:%Y-%m}: {fmt(float(row[list(layers)].sum()))} {what} ({parts_of})"
        parts.append(f"<g class='month'><title>{e(tip)}</title>")
        base = 0.0
        for key, (_, color) in layers.items():
            value = float(row[key])
            if value > 0:
                parts.append(f"<rect x='{x + 0.1 * bar:.1f}' y='{y(base + value):.1f}' width='{0.8 * bar:.1f}' "
                             f"height='{y(base) - y(base + value):.1f}' fill='{color}'/>")
                base += value
        parts.append("</g>")
        if (when.month == 1 or k == 0) and x >= label_free_x:
            parts.append(f"<text x='{x:.1f}' y='{TOP + plot_h + 14}' font-size='10'>{when:%Y-%m}</text>")
            label_free_x = x + LABEL_WIDTH
    if marker is not None and len(frame) and frame.index[0] < marker[0] <= frame.index[-1]:
        x = LEFT + bar * float(np.searchsorted(frame.index, marker[0]))
        parts.append(f"<line class='marker' x1='{x:.1f}' y1='{TOP}' x2='{x:.1f}' y2='{TOP + plot_h}' "
                     "stroke='#c0392b' stroke-dasharray='4 3'/>"
                     f"<text x='{x + 3:.1f}' y='{TOP + 10}' font-size='10' fill='#c0392b'>{e(marker[1])}</text>")
    for k, (label, color) in enumerate(layers.values()):
        x = LEFT + 150 * k
        parts.append(f"<rect x='{x}' y='{HEIGHT - 17}' width='10' height='10' fill='{color}'/>"
                     f"<text x='{x + 14}' y='{HEIGHT - 8}' font-size='11'>{e(label)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


__all__ = ["committed_by_month", "mix_by_month", "ladder_svg", "mix_svg", "mix_charts", "stacked_bars_svg"]
