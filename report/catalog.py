"""Render a catalog view (``pricing.view.CatalogView``) as a table, CSV or JSON text."""

from __future__ import annotations

import json
import math

import pandas as pd

from gpuladder.pricing.catalog import format_number
from gpuladder.pricing.view import CatalogView
from gpuladder.report.text import plural

CATALOG_VIEW_SCHEMA = "gpuladder.catalog-view/1"
PRICE_DECIMALS = 4


def render_catalog_view(view: CatalogView, fmt: str) -> str:
    if fmt == "csv":
        return _csv(view)
    if fmt == "json":
        return _json(view)
    if fmt == "table":
        return _table(view)
    raise ValueError(f"unknown format {fmt!r}")


def _csv(view: CatalogView) -> str:
    df = view.families.copy()
    for col in df.columns:
        if df[col].dtype == bool:
            df[col] = df[col].map({True: "true", False: "false"})
        elif pd.api.types.is_float_dtype(df[col]):
            df[col] = [format_number(v) for v in df[col]]
    return df.to_csv(index=False, lineterminator="\n")


def _json(view: CatalogView) -> str:
    rows = []
    for rec in view.families.to_dict(orient="records"):
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
    doc = {"schema": CATALOG_VIEW_SCHEMA, "origin": view.origin,
           "terms_months": list(view.terms_months), "families": rows}
    return json.dumps(doc, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _price(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.{PRICE_DECIMALS}f}"


def _table(view: CatalogView) -> str:
    df = view.families
    header = ["family", "gpu", "gpus", "on-demand", "spot", "bucket"] + [f"best {t}m" for t in view.terms_months]
    right = [False, False, True, True, True, False] + [True] * len(view.terms_months)
    body = []
    for rec in df.itertuples(index=False):
        r = rec._asdict()
        row = [r["family"], r["gpu_model"], format_number(r["gpus_per_instance"]),
               _price(r["on_demand_usd_per_hour"]), _price(r["spot_usd_per_hour"]), r["interruption_bucket"]]
        for t in view.terms_months:
            rate = _price(r[f"best_{t}m_usd_per_hour"])
            row.append(rate + ("*" if r[f"best_{t}m_estimate"] else " ") if rate != "-" else "- ")
        body.append(row)
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    lines = [line(header), line(["-" * w for w in widths])] + [line(row) for row in body]
    n_est = sum(int(df[f"best_{t}m_estimate"].sum()) for t in view.terms_months)
    lines.append("")
    if df.empty:
        lines.append("No family matches the filters (gpuladder catalog show --help).")
    lines.append(f"{plural(len(df), 'family', 'families')} (catalog: {view.origin}). USD per instance-hour. "
                 "best Nm = cheapest commitment rate of that term over every product and payment option.")
    if n_est:
        lines.append("* = estimate, not a published rate (see pricing/data/README.md); "
                     "--format csv names each product.")
    return "\n".join(lines) + "\n"
