"""The purchase ladder as a chart for the HTML report (DESIGN section 2: "charts"): the
amortized $/h of commitments in force at the start of each month, from the horizon start
to the last expiry, stacked as existing inventory and this plan's purchases, with the
horizon's end marked. It shows what "spread commitments so they never all expire or lock
in at once" asks to see: the steps where purchases start and the cliffs where they end.

Plain SVG written here (no plotting dependency); every bar carries a tooltip with its
figures. The $/h are the book's contractual amortized rates, the same as
``committed_usd_per_hour_at`` of ``gpuladder compare``."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from gpuladder.solver.book import CommitmentBook
from gpuladder.units import add_months

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 40
COLORS = {"inventory": "#9e9e9e", "purchase": "#2f6db5"}


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
    when = pd.DatetimeIndex(months)
    starts, ends = it["start"].to_numpy(), it["end"].to_numpy()
    in_force = (starts[:, None] <= when.to_numpy()[None, :]) & (ends[:, None] > when.to_numpy()[None, :])
    rate = book.amortized_usd_per_hour().to_numpy(float)
    out = {}
    for origin in ("inventory", "purchase"):
        mine = (it["origin"] == origin).to_numpy()
        out[origin] = (rate * mine) @ in_force
    return pd.DataFrame(out, index=when)


def ladder_svg(frame: pd.DataFrame, horizon_end: pd.Timestamp) -> str:
    """The stacked monthly bars of ``committed_by_month`` as an inline SVG element."""
    e = html.escape
    if frame.empty:
        return "<p>No commitments in force: nothing to chart.</p>"
    total = (frame["inventory"] + frame["purchase"]).to_numpy()
    top = float(total.max()) or 1.0
    n = len(frame)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar = plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' class='ladder' width='{WIDTH}' height='{HEIGHT}' "
             f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='Commitments in force by month'>",
             f"<text x='{LEFT}' y='18' font-size='13'>Commitments in force, amortized $/h, at each month's start"
             "</text>",
             f"<line x1='{LEFT}' y1='{TOP + plot_h}' x2='{WIDTH - RIGHT}' y2='{TOP + plot_h}' stroke='#333'/>",
             f"<text x='{LEFT - 6}' y='{TOP + 4}' font-size='11' text-anchor='end'>{top:,.2f}</text>",
             f"<text x='{LEFT - 6}' y='{TOP + plot_h}' font-size='11' text-anchor='end'>0</text>"]
    for k, (when, row) in enumerate(frame.iterrows()):
        x = LEFT + k * bar
        inv, buy = float(row["inventory"]), float(row["purchase"])
        tip = (f"{when:%Y-%m}: ${inv + buy:,.2f}/h in force (inventory ${inv:,.2f}, "
               f"purchases ${buy:,.2f})")
        parts.append(f"<g class='month'><title>{e(tip)}</title>")
        base = 0.0
        for origin, value in (("inventory", inv), ("purchase", buy)):
            if value > 0:
                parts.append(f"<rect x='{x + 0.1 * bar:.1f}' y='{y(base + value):.1f}' width='{0.8 * bar:.1f}' "
                             f"height='{y(base) - y(base + value):.1f}' fill='{COLORS[origin]}'/>")
                base += value
        parts.append("</g>")
        if when.month == 1 or k == 0:
            parts.append(f"<text x='{x:.1f}' y='{TOP + plot_h + 14}' font-size='10'>{when:%Y-%m}</text>")
    if frame.index[0] < horizon_end <= frame.index[-1]:
        x = LEFT + bar * float(np.searchsorted(frame.index, horizon_end))
        parts.append(f"<line class='horizon-end' x1='{x:.1f}' y1='{TOP}' x2='{x:.1f}' y2='{TOP + plot_h}' "
                     "stroke='#c0392b' stroke-dasharray='4 3'/>"
                     f"<text x='{x + 3:.1f}' y='{TOP + 10}' font-size='10' fill='#c0392b'>horizon end</text>")
    legend_y = HEIGHT - 8
    for k, (origin, label) in enumerate((("inventory", "existing inventory"), ("purchase", "this plan's purchases"))):
        x = LEFT + 190 * k
        parts.append(f"<rect x='{x}' y='{legend_y - 9}' width='10' height='10' fill='{COLORS[origin]}'/>"
                     f"<text x='{x + 14}' y='{legend_y}' font-size='11'>{label}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


__all__ = ["committed_by_month", "ladder_svg"]
