"""Budget and ladder quarters on the calendar (or fiscal) year.

``constraints.max_upfront_usd_per_quarter`` and ``max_expiring_share_per_quarter`` hold
per quarter of the year that starts in ``constraints.fiscal_year_start_month`` (1: the
calendar quarters from January, April, July, October), whatever the horizon's start: a
plan starting 2026-11-01 and the one a month later share the quarter 2026Q4, so the
upfront the first one bought counts against the second one's budget.

A quarter is an integer id: the months since year 0 (shifted by the fiscal start) // 3.
Fiscal years are named by the calendar year they end in (April 2026 - March 2027 is
FY2027), as most fiscal calendars (US federal, Microsoft, Apple) do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpuladder.solver.book import CommitmentBook

QUARTER_MONTHS = 3
YEAR_MONTHS = 12
QUARTERS_PER_YEAR = YEAR_MONTHS // QUARTER_MONTHS

__all__ = ["QUARTER_MONTHS", "quarter_ids", "quarter_start", "quarter_name", "inventory_upfront_by_quarter",
           "upfront_budget_notes"]


def quarter_ids(when, fiscal_year_start_month: int = 1) -> np.ndarray:
    """The quarter id of each timestamp of ``when`` on the year starting in month
    ``fiscal_year_start_month`` (1-12)."""
    w = pd.DatetimeIndex(when)
    months = w.year.to_numpy(np.int64) * YEAR_MONTHS + (w.month.to_numpy(np.int64) - 1) - (fiscal_year_start_month - 1)
    return months // QUARTER_MONTHS


def quarter_start(quarter: int, fiscal_year_start_month: int = 1) -> pd.Timestamp:
    """The first hour of quarter id ``quarter`` (UTC)."""
    months = int(quarter) * QUARTER_MONTHS + fiscal_year_start_month - 1
    return pd.Timestamp(year=months // YEAR_MONTHS, month=months % YEAR_MONTHS + 1, day=1, tz="UTC")


def quarter_name(quarter: int, fiscal_year_start_month: int = 1) -> str:
    """"2026Q4" on the calendar year; "FY2027Q1 (from 2026-04-01)" on a fiscal year
    starting in April."""
    year, k = divmod(int(quarter), QUARTERS_PER_YEAR)
    if fiscal_year_start_month == 1:
        return f"{year}Q{k + 1}"
    return f"FY{year + 1}Q{k + 1} (from {quarter_start(quarter, fiscal_year_start_month):%Y-%m-%d})"


def horizon_quarters(h_start: pd.Timestamp, h_end: pd.Timestamp, fiscal_year_start_month: int) -> np.ndarray:
    """The ids of the quarters holding some hour of ``[h_start, h_end)``."""
    first, last = quarter_ids([h_start, h_end - pd.Timedelta(hours=1)], fiscal_year_start_month)
    return np.arange(first, last + 1)


def inventory_upfront_by_quarter(items: pd.DataFrame, h_start: pd.Timestamp, h_end: pd.Timestamp,
                                 fiscal_year_start_month: int) -> pd.Series:
    """quarter id -> upfront the commitments of ``items`` paid (on their start) in that
    quarter, for the quarters the horizon touches [$]: including what was bought in the
    first quarter before the horizon's start (a monthly re-ladder's earlier purchases)."""
    paid = items[items["upfront_usd"] > 0]
    if paid.empty:
        return pd.Series(dtype=float)
    q = quarter_ids(paid["start"], fiscal_year_start_month)
    touched = horizon_quarters(h_start, h_end, fiscal_year_start_month)
    inside = (q >= touched[0]) & (q <= touched[-1])
    return paid["upfront_usd"][inside].groupby(q[inside]).sum().astype(float)


def upfront_budget_notes(budget_usd: float | None, inventory: CommitmentBook, by_quarter: pd.Series,
                         h_start: pd.Timestamp, fiscal_year_start_month: int) -> list[str]:
    """One line per quarter whose upfront budget the inventory reduced before the horizon's
    start (how much, by what), or used up on its own (then nothing with an upfront payment
    is bought in it)."""
    if budget_usd is None or by_quarter.empty:
        return []
    budget = float(budget_usd)
    first = int(quarter_ids([h_start], fiscal_year_start_month)[0])
    q_from = quarter_start(first, fiscal_year_start_month)
    paid_before = inventory.upfront_paid(q_from, h_start)
    starts = inventory.items.loc[paid_before.index, "start"]
    out = []
    for k, paid in by_quarter.items():
        name = quarter_name(k, fiscal_year_start_month)
        earlier = float(paid_before.sum()) if k == first else 0.0
        if paid > budget * (1 + 1e-9):
            what = (f"the inventory paid ${paid:,.0f} upfront in {name}"
                    + (f" (${earlier:,.0f} of it before the horizon's start, {h_start:%Y-%m-%d})" if earlier else ""))
            out.append(f"max_upfront_usd_per_quarter: {what}, over the ${budget:,.0f} budget: nothing with an "
                       f"upfront payment is bought in {name}")
        elif earlier > 0:
            out.append(f"max_upfront_usd_per_quarter: {name} has ${budget - paid:,.0f} of its ${budget:,.0f} budget "
                       f"left for this plan: the inventory paid ${earlier:,.0f} upfront in it before the horizon's "
                       f"start ({len(paid_before)} commitment(s) from {starts.min():%Y-%m-%d})"
                       + (f" and ${paid - earlier:,.0f} after" if paid - earlier > 0 else ""))
    return out
