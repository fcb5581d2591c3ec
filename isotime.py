"""Dates and times a user types (scenario keys, command-line options): ISO 8601 only.

A date such as 1.9.2027 or 01/09/2027 is 1 September read day-first and 9 January read
month-first; pandas (dateutil) guesses month-first without a word, so a European date
was read wrongly. Accepted here: ``YYYY-MM-DD``, and ``YYYY-MM-DDTHH:MM[:SS[.f]]`` (a
space for the T too, as YAML and RFC 3339 write it) optionally followed by ``Z``,
``+HH:MM``, ``+HHMM`` or ``+HH``. What a date alone or a time without a zone means, and
whether an offset other than UTC is converted or refused, is each caller's rule
(scenario keys in scenarios/checks.py, ``backtest --start`` in cli.py, ``--through``
in usage/inventory_record.py). The usage and inventory CSV readers have their own,
column-wise rule (``usage.history.parse_utc_timestamps``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

import pandas as pd

ISO_FORMS = "YYYY-MM-DD (00:00 UTC), or YYYY-MM-DDTHH:MM with Z or +HH:MM"
_ISO = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_OFFSET = re.compile(r"[+-](?P<h>\d\d):?(?P<m>\d\d)?$")
_TIME = r"(?:[T ,]\s*(\d{1,2})(:\d\d(?::\d\d)?)\s*(Z|[+-]\d\d(?::?\d\d)?)?)?"
_NUMERIC_DAY_MONTH = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})" + _TIME)
_UNPADDED = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME)
_MONTH_FIRST_NAME = re.compile(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _TIME)
_DAY_FIRST_NAME = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\.?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})" + _TIME)


def parse_iso(text: str) -> pd.Timestamp:
    """``text`` in one of the ISO 8601 forms above -> Timestamp: naive for a date alone or a
    time without a zone, in the offset written otherwise. ValueError saying why when the
    text is in no such form or is not a real date or time (2026-02-30, 24:00)."""
    s = text.strip()
    if not _ISO.fullmatch(s):
        raise ValueError("not ISO 8601")
    offset = _OFFSET.search(s[10:])
    if offset and (int(offset["h"]) > 23 or int(offset["m"] or 0) > 59):
        raise ValueError(f"the UTC offset {offset[0]} is not one (hours 00-23, minutes 00-59)")
    try:
        return pd.Timestamp(s)
    except (ValueError, OverflowError) as exc:
        reason = str(exc)   # pandas' own: "day is out of range for month", "hour must be in 0..23"
        raise ValueError("not a real date or time" if not reason or "Parsed string" in reason else reason) from None


def is_iso_date(text: str) -> bool:
    """A date alone (YYYY-MM-DD), no time."""
    return bool(_DATE.fullmatch(text.strip()))


def iso_text(ts: pd.Timestamp) -> str:
    """A UTC time as the plan JSON writes it (2026-12-01T06:00Z); seconds only when not 0."""
    return ts.strftime("%Y-%m-%dT%H:%MZ" if ts.second == 0 else "%Y-%m-%dT%H:%M:%SZ")


def iso_hint(text: str, forms: str = ISO_FORMS, example: str = "2026-12-01 or 2026-12-01T06:00Z") -> str:
    """How to write ``text`` in ISO 8601, to follow "writing" or "write": a day/month/year
    date both ways it may be read (1.9.2027: 2027-09-01 for 1 September or 2027-01-09 for 9
    January), a date with a month name or unpadded digits as the one date it is, else the
    ``forms`` the caller accepts with an ``example``."""
    s = text.strip()
    m = _NUMERIC_DAY_MONTH.fullmatch(s)
    if m:
        a, b, year = int(m[1]), int(m[3]), int(m[4])
        readings = [(year, month, day) for day, month in ((a, b), (b, a))]
        shown = [f"{_iso(y, mo, d, m, 5)} for {d} {calendar.month_name[mo]}"
                 for y, mo, d in dict.fromkeys(readings) if _real(y, mo, d)]
        if shown:
            return " or ".join(shown) + " (ISO 8601: the year first)"
    for pattern, order in ((_UNPADDED, "ymd"), (_MONTH_FIRST_NAME, "mdy"), (_DAY_FIRST_NAME, "dmy")):
        m = pattern.fullmatch(s)
        if m and not _DATE.match(s):
            parts = dict(zip(order, m.groups()[:3]))
            year, day, month = int(parts["y"]), int(parts["d"]), _month(parts["m"])
            if month is not None and _real(year, month, day):
                digits = ", the month and the day in two digits" if order == "ymd" else ""
                return f"{_iso(year, month, day, m, 4)} (ISO 8601: YYYY-MM-DD{digits})"
    return f"an ISO 8601 date or time: {forms}, e.g. {example}"


def _month(name: str) -> int | None:
    if name.isdigit():
        return int(name)
    for number in range(1, 13):
        full = calendar.month_name[number].lower()
        if len(name) >= 3 and full.startswith(name.lower()):
            return number
    return None


def _real(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _iso(year: int, month: int, day: int, m: re.Match, first_time_group: int) -> str:
    """The date, with the time the text gave (hour padded, zone as written)."""
    hour, rest, zone = m.group(first_time_group, first_time_group + 1, first_time_group + 2)
    time = "" if hour is None else f"T{int(hour):02d}{rest}{zone or ''}"
    return f"{year:04d}-{month:02d}-{day:02d}{time}"
