"""Units and time conversions, in one place (STYLE.md: no bare 8760 in code).

Time is a UTC hourly index. A term runs from its start to the same wall-clock
instant ``term_months`` calendar months later; its length in hours comes from
those real dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
AVERAGE_MONTH_HOURS = 24 * 365.25 / 12   # for "per month" displays only; terms use real dates

# Plausibility limits of inputs, far beyond any real fleet or price, well inside what the
# solver and the calendar arithmetic handle exactly (a 10-year horizon plus 5-year terms).
EARLIEST_UTC = pd.Timestamp("1970-01-01", tz="UTC")
LATEST_UTC = pd.Timestamp("2200-01-01", tz="UTC")
MAX_INSTANCES = 1e6              # instances of one family in one hour (or $/h of one savings plan)
MAX_USD_PER_HOUR = 1e4           # price of one instance-hour
MAX_TERM_MONTHS = 120


def out_of_range(ts) -> np.ndarray:
    """True where a UTC timestamp (or each of a Series / index) is outside
    [EARLIEST_UTC, LATEST_UTC)."""
    t = pd.to_datetime(ts, utc=True)
    return np.asarray((t < EARLIEST_UTC) | (t >= LATEST_UTC))


DATE_RANGE_TEXT = f"between {EARLIEST_UTC:%Y-%m-%d} and {LATEST_UTC:%Y-%m-%d}"


def utc_timestamp(value, *, what: str = "timestamp") -> pd.Timestamp:
    """Parse ``value`` as a UTC timestamp; a naive value is read as UTC only if it is a date."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC")


def add_months(start: pd.Timestamp, months: int) -> pd.Timestamp:
    """The instant ``months`` calendar months after ``start`` (end of a term)."""
    return start + pd.DateOffset(months=int(months))


def hours_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Whole-calendar hours from ``start`` to ``end`` (may be negative)."""
    return (end - start) / HOUR


def term_hours(start: pd.Timestamp, term_months: int) -> float:
    """Length in hours of a term of ``term_months`` starting at ``start``."""
    return hours_between(start, add_months(start, term_months))


def amortized_usd_per_hour(upfront_usd: float, recurring_usd_per_hour: float, hours: float) -> float:
    """Upfront spread evenly over the term's hours, plus the recurring fee."""
    return recurring_usd_per_hour + upfront_usd / hours


def split_rate(rate_usd_per_hour: float, upfront_share: float, hours: float) -> tuple[float, float]:
    """(upfront $, recurring $/h) of one unit whose effective amortized rate is ``rate``.

    ``upfront_share`` of the term's total is paid on the purchase date, the rest per hour.
    """
    total = rate_usd_per_hour * hours
    upfront = total * upfront_share
    return upfront, rate_usd_per_hour * (1.0 - upfront_share)


def hourly_index(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Hours ``[start, end)`` as a UTC DatetimeIndex."""
    return pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")


def overlap_hours(a_start, a_end, b_start, b_end) -> np.ndarray:
    """Hours of overlap of intervals [a_start, a_end) and [b_start, b_end), vectorized."""
    lo = np.maximum(a_start, b_start)
    hi = np.minimum(a_end, b_end)
    return np.clip((hi - lo) / np.timedelta64(1, "h"), 0, None)
