"""Plain-text helpers shared by the renderers: aligned tables, number formats, JSON values."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: East Asian wide and fullwidth characters (CJK, most
    emoji) take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """Aligned columns separated by two spaces, with a dashed rule under the header; widths
    in terminal cells (a scenario named in Chinese lines up too)."""
    widths = [max([display_width(h)] + [display_width(r[i]) for r in rows]) for i, h in enumerate(header)]

    def pad(cell: str, width: int, to_right: bool) -> str:
        fill = " " * (width - display_width(cell))
        return fill + cell if to_right else cell + fill

    def line(cells):
        return "  ".join(pad(c, w, r) for c, w, r in zip(cells, widths, right)).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def markdown_text(text: str) -> str:
    """Text for a Markdown heading or cell that a renderer shows as written: < > & escaped,
    so a name such as 'g6e<b>' does not become HTML (or '&amp;' an ampersand)."""
    return re.sub(r"([<>&])", r"\\\1", text)


def _markdown_cell(text: str) -> str:
    """A cell that cannot end its row or table early: | escaped, line breaks as <br>."""
    return markdown_text(text).replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    rule = ["---:" if r else "---" for r in right]
    head = [_markdown_cell(h) for h in header]
    esc = [[_markdown_cell(c) for c in row] for row in rows]
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(rule) + " |"] + \
        ["| " + " | ".join(r) + " |" for r in esc]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 commitment', '2 commitments', '12 families' (``nouns``: the irregular plural)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def no_minus_zero(value: float, decimals: int = 6) -> float:
    """``value`` rounded to ``decimals``, a rounded zero without its sign (no '-0')."""
    return round(value, decimals) + 0.0


def usd(value: float, decimals: int = 0) -> str:
    """'1,234' ('-' for no value); an amount that rounds to zero reads '0', not '-0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{no_minus_zero(value, decimals):,.{decimals}f}"


def pct(share: float, decimals: int = 1) -> str:
    """'12.3%' of a 0-1 share ('-' for no value); a share that rounds to zero reads '0.0%'."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "-"
    return f"{no_minus_zero(100 * share, decimals):.{decimals}f}%"


def qty(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.3f}"


def json_value(value, decimals: int = 6):
    """A JSON-safe scalar: numpy scalars unwrapped, NaN -> None, floats rounded (a rounded
    zero without its sign: scripts comparing text see 0.0, never -0.0)."""
    if value is None:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return no_minus_zero(value, decimals)
    return value


def iso_date(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d") if ts.hour == 0 and ts.minute == 0 else ts.strftime("%Y-%m-%dT%H:%MZ")


def iso_hour(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")


_PAGE_STYLE = ("body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1.5em}"
               "td,th{border:1px solid #ccc;padding:3px 8px}td.r{text-align:right}")


def html_page_head(title: str) -> list[str]:
    """The opening of a self-contained HTML report, up to and including its <h1>."""
    t = html.escape(title)
    return ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>{t}</title>",
            f"<style>{_PAGE_STYLE}</style></head><body>", f"<h1>{t}</h1>"]


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    e = html.escape
    return (["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
            + ["<tr>" + "".join(f"<td class='r'>{e(c)}</td>" if rt else f"<td>{e(c)}</td>"
                                for c, rt in zip(r, right)) + "</tr>" for r in rows]
            + ["</table>"])
