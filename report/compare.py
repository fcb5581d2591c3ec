"""Render a Comparison (``gpuladder compare``): a side-by-side table (one column per
scenario), Markdown, HTML (with each plan's ladder chart), CSV (one row per scenario) and
JSON (schema ``gpuladder.compare/1``).
Failed scenarios appear with their exit code and reason; their figures are empty."""

from __future__ import annotations

import html
import json
import re
from collections import Counter

import pandas as pd

from gpuladder.report.chart import committed_by_month, ladder_svg
from gpuladder.report.text import (html_page_head, html_table, iso_hour, json_value, markdown_table,
                                   markdown_text, pct, plural, text_table, usd)
from gpuladder.scenarios.compare import COMPARE_SCHEMA, CompareFigures, Comparison, ScenarioOutcome

COMPARE_FORMATS = ("table", "json", "csv", "md", "html")

# (label, field, formatter) for the human formats, in display order
_ROWS = [
    ("total cost (amortized) $", "cost_usd", usd),
    ("expected cost over forecast paths $", "expected_cost_usd", usd),
    ("all on-demand $", "on_demand_equivalent_usd", usd),
    ("savings vs on-demand $", "savings_usd", usd),
    ("effective savings rate", "effective_savings_rate", pct),
    ("commitment utilization", "commitment_utilization", pct),
    ("coverage", "coverage", pct),
    ("spot share", "spot_share", pct),
    ("upfront cash in horizon $", "upfront_usd", usd),
    ("committed $ (fees in horizon)", "committed_usd", usd),
    ("committed $/h at start", "committed_usd_per_hour_at_start", lambda v: usd(v, 2)),
    ("lock-in (months to half expired)", "lock_in_months", lambda v: f"{v:.1f}"),
    ("fees of purchases after horizon $", "fees_after_horizon_usd", usd),
    ("purchases", "purchases", lambda v: str(v)),
]
_DECIMALS = {"cost_usd": 2, "on_demand_equivalent_usd": 2, "savings_usd": 2, "upfront_usd": 2,
             "committed_usd": 2, "committed_usd_per_hour_at_start": 4, "lock_in_months": 3,
             "expected_cost_usd": 2, "fees_after_horizon_usd": 2}


def _cell(figures, field: str, fmt) -> str:
    """A figure for the human formats: '-' for a failed scenario, and for the utilization of
    a plan that commits nothing (the simulator reports 1.0 there)."""
    if figures is None or (field == "commitment_utilization" and figures.committed_usd <= 0):
        return "-"
    return fmt(getattr(figures, field))


def render_comparison(cmp: Comparison, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(comparison_document(cmp), indent=2) + "\n"
    if fmt == "csv":
        return comparison_frame(cmp).to_csv(index=False, lineterminator="\n")
    if fmt == "md":
        return _human(cmp, markdown=True)
    if fmt == "table":
        return _human(cmp, markdown=False)
    if fmt == "html":
        return _html(cmp)
    raise ValueError(f"unknown format {fmt!r}")


def _labels(cmp: Comparison) -> list[str]:
    """Each scenario's column heading: its name, and its file beside a name that more than
    one scenario bears (two what-ifs named after their files, both whatif.yaml)."""
    names = Counter(o.name for o in cmp.outcomes)
    return [o.name if names[o.name] == 1 else f"{o.name} ({o.source})" for o in cmp.outcomes]


def _one_line(text: str | None) -> str:
    """An error message for a CSV cell: its lines joined with '; '."""
    return re.sub(r"\s*\n\s*", "; ", text.strip()) if text else ""


def _figure_dict(f: CompareFigures | None) -> dict | None:
    if f is None:
        return None
    return {name: json_value(getattr(f, name), _DECIMALS.get(name, 6)) for name in CompareFigures.__dataclass_fields__}


def _solver_figures(o: ScenarioOutcome) -> dict:
    """How the solver stopped: ``solver_status`` (None for a failed scenario) and
    ``solver_gap``, only for a plan that is not proven optimal (None otherwise)."""
    solver = None if o.plan is None else o.plan.solver
    if solver is None:
        return {"solver_status": None, "solver_gap": None}
    gap = None if solver.gap is None or solver.status == "optimal" else json_value(solver.gap)
    return {"solver_status": solver.status, "solver_gap": gap}


def comparison_document(cmp: Comparison) -> dict:
    """Schema ``gpuladder.compare/1``; each ran scenario's figures end with ``solver_status``
    and ``solver_gap``, as the CSV's last columns (additive keys)."""
    scenarios = []
    for o in cmp.outcomes:
        p = o.plan
        scenarios.append({
            "file": o.source, "name": o.name, "status": "ok" if o.ok else "failed",
            "exit_code": o.exit_code, "error": o.error,
            "horizon": None if p is None else {"start": iso_hour(p.horizon_start), "months": int(p.horizon_months),
                                               "end": iso_hour(p.horizon_end)},
            "forecast_method": None if p is None else p.forecast_method,
            "figures": None if o.figures is None else {**_figure_dict(o.figures), **_solver_figures(o)},
            "warnings": [] if p is None else list(p.warnings),
        })
    return {"schema": COMPARE_SCHEMA, "exit_code": cmp.exit_code, "scenarios": scenarios}


def comparison_frame(cmp: Comparison) -> pd.DataFrame:
    """One row per scenario (CSV): status, then every figure (empty for a failure), then how
    the solver stopped (``solver_gap`` only for a plan that is not proven optimal)."""
    rows = []
    for o in cmp.outcomes:
        row = {"scenario": o.name, "file": o.source, "status": "ok" if o.ok else "failed",
               "exit_code": o.exit_code, "error": _one_line(o.error)}
        figs = _figure_dict(o.figures) or {}
        for name in CompareFigures.__dataclass_fields__:
            row[name] = figs.get(name, "")
        row.update({k: "" if v is None else v for k, v in _solver_figures(o).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _grid(cmp: Comparison) -> tuple[list[str], list[list[str]], list[bool], str, list[str]]:
    """(header, rows, right-aligned, title, lines below it: failures, then the plans' notes)."""
    header = [""] + _labels(cmp)
    rows = [["status"] + ["ok" if o.ok else f"failed (exit {o.exit_code})" for o in cmp.outcomes]]
    for label, field, fmt in _ROWS:
        rows.append([label] + [_cell(o.figures, field, fmt) for o in cmp.outcomes])
    horizons = [f"{iso_hour(o.plan.horizon_start)} + {plural(int(o.plan.horizon_months), 'month')}" if o.plan else "-"
                for o in cmp.outcomes]
    rows.insert(1, ["horizon"] + horizons)
    rows.insert(2, ["solver"] + [_solver_cell(o) for o in cmp.outcomes])
    right = [False] + [True] * len(cmp.outcomes)
    title = "gpuladder compare: " + ", ".join(header[1:])
    failures = [f"failed: {o.source}: exit {o.exit_code}: {o.error}" for o in cmp.outcomes if not o.ok]
    return header, rows, right, title, failures + _notes(cmp, header[1:])


def _notes(cmp: Comparison, labels: list[str]) -> list[str]:
    """Each plan warning once, in order of appearance, after the scenarios it concerns
    ('all' when every plan carries it and there are several)."""
    ran = [(o, label) for o, label in zip(cmp.outcomes, labels) if o.plan is not None]
    owners: dict[str, list[str]] = {}
    for o, label in ran:
        for w in dict.fromkeys(o.plan.warnings):
            owners.setdefault(w, []).append(label)
    return [f"note: {'all' if len(who) == len(ran) > 1 else ', '.join(who)}: {w}" for w, who in owners.items()]


def _solver_cell(o: ScenarioOutcome) -> str:
    """'optimal', or how the solver stopped (a plan stopped on its time limit is the best
    found, not the optimum: its figures are not comparable as they stand); a plan of the
    product-set search adds how many product sets it compared (not a proof over all)."""
    if o.plan is None:
        return "-"
    s = o.plan.solver
    if s.status == "time_limit":
        cell = f"time limit, gap {'unknown' if s.gap is None else pct(s.gap, 2)}"
    else:
        cell = s.status.replace("_", " ")
    return f"{cell} (best of {s.search_candidates} product sets)" if s.search_candidates else cell


def _html(cmp: Comparison) -> str:
    """The side-by-side table, then each plan's commitments in force by month (the same
    chart as `gpuladder plan --format html`), failures with their reasons, the plans' notes."""
    e = html.escape
    header, rows, right, title, below = _grid(cmp)
    parts = html_page_head(title) + html_table(header, rows, right)
    parts += [f"<p><b>{e(f.split(': ', 1)[0])}:</b> {e(f.split(': ', 1)[1])}</p>" for f in below]
    for o, label in zip(cmp.outcomes, header[1:]):
        if o.plan is not None:
            parts.append(f"<h2>{e(label)}: commitments in force by month</h2>")
            parts.append(ladder_svg(committed_by_month(o.plan.book, o.plan.horizon_start), o.plan.horizon_end))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _human(cmp: Comparison, *, markdown: bool) -> str:
    header, rows, right, title, below = _grid(cmp)
    if markdown:
        lines = [f"# {markdown_text(title)}", ""] + markdown_table(header, rows, right) + [""]
        lines += [f"- {f}" for f in below]
    else:
        lines = [title, ""] + text_table(header, rows, right) + [""]
        lines += below
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = ["COMPARE_FORMATS", "render_comparison", "comparison_document", "comparison_frame"]
