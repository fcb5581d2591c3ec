"""Render what the usage loader understood (``gpuladder usage summarize``): table or JSON.

JSON schema ``gpuladder.usage-summary/1``::

    {"schema": "gpuladder.usage-summary/1",
     "file": "...", "format": "focus|cur|cur2|canonical", "rows": N,   # rows read
     "span": {"start": "...Z", "end": "...Z"},          # end exclusive; null when no usage
     "hours": N,
     "families": [{"family", "gpu", "in_catalog", "instance_hours",
                   "interruptible_instance_hours", "covered_instance_hours"}],
     "skipped": [{"reason", "rows", "examples": [{"row": N, "detail": "..."}]}]}
"""

from __future__ import annotations

import json

from gpuladder.report.text import plural
from gpuladder.units import HOUR
from gpuladder.usage.load import UsageSummary

SCHEMA = "gpuladder.usage-summary/1"


def _ts(t) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_span_text(first_hour, last_hour) -> str:
    """A history's span as ``usage summarize`` and ``validate`` both say it: its first and
    last hours (not the exclusive end the JSON's span.end gives)."""
    return f"first hour {first_hour:%Y-%m-%dT%H:%MZ}, last hour {last_hour:%Y-%m-%dT%H:%MZ}"


def usage_summary_dict(s: UsageSummary) -> dict:
    return {
        "schema": SCHEMA,
        "file": s.file, "format": s.format, "rows": s.rows,
        "span": {"start": _ts(s.start), "end": _ts(s.end)},
        "hours": s.hours,
        "families": [{"family": f.family, "gpu": f.gpu, "in_catalog": f.in_catalog,
                      "instance_hours": round(f.instance_hours, 6),
                      "interruptible_instance_hours": round(f.interruptible_instance_hours, 6),
                      "covered_instance_hours": round(f.covered_instance_hours, 6)} for f in s.families],
        "skipped": [{"reason": k.reason, "rows": k.rows,
                     "examples": [{"row": r, "detail": d} for r, d in k.examples]} for k in s.skipped],
    }


def render_usage_summary(s: UsageSummary, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(usage_summary_dict(s), indent=2)
    lines = [f"file:    {s.file}", f"format:  {s.format}, {plural(s.rows, 'row')} read"]
    if s.start is None:
        lines.append("span:    no instance usage found")
    else:
        lines.append(f"span:    {hours_span_text(s.start, s.end - HOUR)} ({plural(s.hours, 'hour')})")
    if not s.has_gpu_usage:
        lines.append("GPU:     no GPU usage found in this file")
    if s.families:
        head = ("family", "gpu", "catalog", "instance_h", "spot_h", "covered_h")
        rows = [(f.family, "yes" if f.gpu else "no",
                 "-" if f.in_catalog is None else ("yes" if f.in_catalog else "MISSING"),
                 f"{f.instance_hours:.2f}", f"{f.interruptible_instance_hours:.2f}",
                 f"{f.covered_instance_hours:.2f}") for f in s.families]
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        fmt_row = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
        lines += ["", fmt_row.format(*head), fmt_row.format(*("-" * w for w in widths))]
        lines += [fmt_row.format(*r) for r in rows]
        missing = [f.family for f in s.gpu_families if f.in_catalog is False]
        if missing:
            lines += ["", f"{len(missing)} GPU famil{'y is' if len(missing) == 1 else 'ies are'} not in the "
                          "catalog and will be left out of plans: " + ", ".join(missing)]
    if s.skipped:
        lines += ["", "rows skipped:"]
        for k in s.skipped:
            ex = "; ".join(f"row {'?' if r is None else r}: {d[:60]}" for r, d in k.examples)
            lines.append(f"  {k.rows:>9}  {k.reason}" + (f"  (e.g. {ex})" if ex else ""))
    return "\n".join(lines)
