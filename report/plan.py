"""Render a Plan: JSON (the gpuladder.plan/1 contract of DESIGN.md section 6), a terminal
table, CSV (the purchase ladder), Markdown and HTML. Every figure comes from the Plan's
simulation; output is deterministic (sorted rows, fixed decimals)."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from gpuladder.report.chart import committed_by_month, ladder_svg, mix_charts
from gpuladder.report.text import (html_page_head, html_table, iso_date, iso_hour, json_value, markdown_table,
                                   markdown_text, no_minus_zero, pct, plural, qty, text_table, usd)
from gpuladder.solver.plan import Plan
from gpuladder.units import AVERAGE_MONTH_HOURS

PLAN_SCHEMA = "gpuladder.plan/1"
PLAN_FORMATS = ("table", "json", "csv", "md", "html")


def render_plan(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(plan_document(plan), indent=2) + "\n"
    if fmt == "csv":
        return ladder_frame(plan).to_csv(index=False, lineterminator="\n")
    if fmt == "md":
        return _markdown(plan)
    if fmt == "html":
        return _html(plan)
    if fmt == "table":
        return _table(plan)
    raise ValueError(f"unknown format {fmt!r}")


def kpi_dict(plan: Plan) -> dict:
    k = plan.simulation.kpis
    return {
        "cost_usd": json_value(k.cost_usd, 2),
        "on_demand_equivalent_usd": json_value(k.on_demand_equivalent_usd, 2),
        "effective_savings_rate": json_value(k.effective_savings_rate),
        "commitment_utilization": json_value(k.commitment_utilization),
        "coverage": json_value(k.coverage),
        "spot_share": json_value(k.spot_share),
        "savings_usd": json_value(k.savings_usd, 2),
        "cash_cost_usd": json_value(k.cash_cost_usd, 2),
        "upfront_usd": json_value(k.upfront_usd, 2),
        "waste_usd": json_value(k.waste_usd, 2),
        "commitment_fees_usd": json_value(k.commitment_fees_usd, 2),
        "spot_usd": json_value(k.spot_usd, 2),
        "on_demand_usd": json_value(k.on_demand_usd, 2),
        "expected_cost_usd": json_value(plan.expected_cost_usd, 2),
        "fees_after_horizon_usd": json_value(plan.fees_after_horizon_usd, 2),
    }


def plan_document(plan: Plan) -> dict:
    """The JSON object scripts rely on (schema gpuladder.plan/1; extra keys are additive)."""
    purchases = [{
        "id": r.id, "date": iso_date(r.date), "provider": r.provider, "product": r.product, "kind": r.kind,
        "family": json_value(r.family), "scope": json_value(r.scope), "term_months": int(r.term_months),
        "payment": r.payment,
        "quantity": json_value(float(r.quantity), 3), "upfront_usd": json_value(float(r.upfront_usd), 2),
        "recurring_usd_per_hour": json_value(float(r.recurring_usd_per_hour), 4), "expires": iso_date(r.expires),
        "estimate": bool(r.estimate),
    } for r in _purchases_with_estimates(plan).itertuples(index=False)]
    expiring = [{"id": r.id, "product": r.product, "family": json_value(r.family),
                 "quantity": json_value(float(r.quantity)),
                 "expires": iso_hour(r.expires), "renew": bool(r.renew),
                 "renewed_quantity": json_value(float(r.renewed_quantity)), "renewed_by": list(r.renewed_by)}
                for r in plan.expiring.itertuples(index=False)]
    mix = [{"family": fam, "committed_instances": json_value(float(r.committed_instances), 3),
            "reserved_share": json_value(float(r.reserved_share)),
            "savings_plan_share": json_value(float(r.savings_plan_share)),
            "spot_share": json_value(float(r.spot_share)), "on_demand_share": json_value(float(r.on_demand_share)),
            "cost_usd": json_value(float(r.cost_usd), 2),
            "on_demand_equivalent_usd": json_value(float(r.on_demand_equivalent_usd), 2)}
           for fam, r in plan.mix.iterrows()]
    s = plan.solver
    return {
        "schema": PLAN_SCHEMA,
        "scenario": plan.scenario,
        "horizon": {"start": iso_hour(plan.horizon_start), "months": int(plan.horizon_months),
                    "end": iso_hour(plan.horizon_end),
                    "next_step": iso_hour(plan.next_step if plan.next_step is not None else plan.horizon_end)},
        "purchases": purchases,
        "expiring": expiring,
        "mix": mix,
        "kpis": kpi_dict(plan),
        "forecast": {"method": plan.forecast_method, "expected": plan.expected_path,
                     "conservative": plan.conservative_path,
                     "paths": [{"name": n, "weight": json_value(float(r.weight)),
                                "objective_weight": json_value(float(r.objective_weight)),
                                "cost_usd": json_value(float(r.cost_usd), 2)}
                               for n, r in plan.path_costs.iterrows()]},
        "solver": {"backend": s.backend, "status": s.status, "gap": json_value(s.gap),
                   "seconds": json_value(s.seconds, 3), "build_seconds": json_value(s.build_seconds, 3),
                   "model_objective_usd": json_value(s.model_objective_usd, 2),
                   "simulated_objective_usd": json_value(s.simulated_objective_usd, 2),
                   "difference_share": json_value(s.difference_share, 8), "exact": s.exact,
                   "layer_resolution": s.resolution, "variables": s.n_variables,
                   "integer_variables": s.n_integer, "constraints": s.n_constraints,
                   "search": None if not s.search_candidates else {
                       "method": "product_set", "candidates": s.search_candidates,
                       "seconds": json_value(s.search_seconds, 3)}},
        "warnings": list(plan.warnings),
    }


def _purchases_with_estimates(plan: Plan) -> pd.DataFrame:
    p = plan.purchases.copy()
    p["estimate"] = p["product"].isin(plan.estimated_products)
    return p


def ladder_frame(plan: Plan) -> pd.DataFrame:
    """The purchase ladder as a flat table (CSV output); ``id`` last, so columns read by
    position before it was added stay where they were."""
    p = _purchases_with_estimates(plan)
    return pd.DataFrame({
        "date": [iso_date(d) for d in p["date"]], "provider": p["provider"], "product": p["product"],
        "kind": p["kind"], "family": p["family"].fillna(""), "scope": p["scope"].fillna(""),
        "term_months": p["term_months"].astype(int), "payment": p["payment"],
        "quantity": [f"{q:.3f}" for q in p["quantity"]], "upfront_usd": [f"{v:.2f}" for v in p["upfront_usd"]],
        "recurring_usd_per_hour": [f"{v:.4f}" for v in p["recurring_usd_per_hour"]],
        "expires": [iso_date(d) for d in p["expires"]], "estimate": p["estimate"].map({True: "true", False: "false"}),
        "id": p["id"],
    })


# ---------------------------------------------------------------- human formats

def _sections(plan: Plan) -> list[tuple[str, list[str], list[list[str]], list[bool]]]:
    p = _purchases_with_estimates(plan)
    ladder = [[iso_date(r.date), r.provider, r.product + ("*" if r.estimate else ""),
               r.family if isinstance(r.family, str) else f"(plan) {r.scope}",
               f"{r.term_months}m", r.payment, _amount(r, r.quantity), usd(r.upfront_usd),
               usd(r.recurring_usd_per_hour * AVERAGE_MONTH_HOURS), iso_date(r.expires)]
              for r in p.itertuples(index=False)]
    out = [("Purchase ladder", ["date", "provider", "product", "family / scope", "term", "payment", "quantity",
                                "upfront $", "monthly $", "expires"], ladder,
            [False] * 6 + [True] * 3 + [False])]
    if len(plan.expiring):
        rows = [[r.id, r.product, r.family if isinstance(r.family, str) else "(plan)",
                 _amount(r, r.quantity), iso_hour(r.expires), _expiry_decision(r)]
                for r in plan.expiring.itertuples(index=False)]
        out.append(("Existing commitments expiring in the horizon", ["id", "product", "family", "quantity",
                                                                     "expires", "decision"], rows,
                    [False, False, False, True, False, False]))
    mix = [[fam, qty(round(r.committed_instances, 3)), pct(r.reserved_share), pct(r.savings_plan_share),
            pct(r.spot_share), pct(r.on_demand_share), usd(r.cost_usd), usd(r.on_demand_equivalent_usd)]
           for fam, r in plan.mix.iterrows()]
    out.append(("Mix per family (simulated on the expected forecast)",
                ["family", "committed floor", "reserved", "savings plan", "spot", "on-demand", "cost $",
                 "all on-demand $"], mix, [False] + [True] * 7))
    k = plan.simulation.kpis
    kp = [["cost (amortized) $", usd(k.cost_usd), usd(k.on_demand_equivalent_usd)],
          ["savings $", usd(k.savings_usd), "0"],
          ["effective savings rate", pct(k.effective_savings_rate), "0.0%"],
          ["commitment utilization", pct(k.commitment_utilization) if k.commitment_fees_usd > 0 else "-", "-"],
          ["coverage", pct(k.coverage), "0.0%"],
          ["spot share", pct(k.spot_share), "0.0%"],
          ["unused commitment $", usd(k.waste_usd), "0"],
          ["upfront cash in horizon $", usd(k.upfront_usd), "0"],
          ["fees of purchases after horizon $", usd(plan.fees_after_horizon_usd), "0"],
          ["cash cost $", usd(k.cash_cost_usd), usd(k.on_demand_equivalent_usd)]]
    out.append(("KPIs", ["", "plan", "all on-demand"], kp, [False, True, True]))
    out.append(_path_section(plan.path_costs, plan.expected_cost_usd))
    return out


def _path_section(costs: pd.DataFrame, expected_usd: float):
    """Each forecast path's simulated cost; the objective's weights only when
    forecast.risk_weight makes them differ from the forecast's."""
    leaned = not np.allclose(costs["weight"], costs["objective_weight"])
    rows = [[name, f"{r.weight:.3g}"] + ([f"{r.objective_weight:.3g}"] if leaned else []) + [usd(r.cost_usd)]
            for name, r in costs.iterrows()]
    rows.append(["expected", "1"] + ([""] if leaned else []) + [usd(expected_usd)])
    header = ["path", "weight"] + (["objective weight (risk_weight)"] if leaned else []) + ["cost $"]
    return ("Cost per forecast path (simulated)", header, rows, [False] + [True] * (len(header) - 1))


def _amount(r, amount: float) -> str:
    """Instances of a reservation; $/h of commitment of a savings plan (``family`` empty)."""
    return qty(amount) if isinstance(r.family, str) else f"${amount:,.3f}/h"


def _expiry_decision(r) -> str:
    if r.renew:
        return "renew"
    if r.renewed_quantity <= 1e-9:
        return "let expire"
    return (f"renew {_amount(r, r.renewed_quantity)}, "
            f"let {_amount(r, r.quantity - r.renewed_quantity)} expire")


def _headline(plan: Plan) -> str:
    return (f"gpuladder plan: scenario '{plan.scenario}', horizon {iso_hour(plan.horizon_start)} + "
            f"{plural(plan.horizon_months, 'month')}, forecast {plan.forecast_method}")


def _solver_line(plan: Plan) -> str:
    s = plan.solver
    gap = f", gap {no_minus_zero(s.gap, 5):.3%}" if s.gap is not None else ""
    if s.search_candidates:   # the status is the chosen candidate's solve, not a proof over every product set
        gap += (f" (the best of {s.search_candidates} product-set candidates in {s.search_seconds:.1f} s: "
                "not proven optimal over every product set)")
    return (f"solver {s.backend}: {s.status}{gap}, solve {s.seconds:.2f} s, build {s.build_seconds:.2f} s, "
            f"{s.n_variables} variables ({s.n_integer} integer), {s.n_constraints} constraints; "
            f"model vs simulator {no_minus_zero(s.difference_share, 6):+.4%} "
            f"({'exact' if s.exact else 'compressed'})")


def _table(plan: Plan) -> str:
    lines = [_headline(plan), ""]
    for title, header, rows, right in _sections(plan):
        lines.append(title)
        lines += text_table(header, rows, right) if rows else ["(none)"]
        lines.append("")
    lines += _estimate_legend(plan)
    lines.append(_solver_line(plan))
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines) + "\n"


def _estimate_legend(plan: Plan) -> list[str]:
    """What the ``*`` beside a product in the ladder means, when one is there."""
    return ["* estimated rate, not a published one (see pricing/data/README.md)"] if plan.estimated_products else []


def _markdown(plan: Plan) -> str:
    lines = [f"# {markdown_text(_headline(plan))}", ""]
    for title, header, rows, right in _sections(plan):
        lines += [f"## {title}", ""]
        lines += markdown_table(header, rows, right) if rows else ["(none)"]
        lines.append("")
    lines += [f"\\{line}" for line in _estimate_legend(plan)]
    lines.append(_solver_line(plan))
    lines += [f"- warning: {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"


def _html(plan: Plan) -> str:
    e = html.escape
    parts = html_page_head(_headline(plan))
    for title, header, rows, right in _sections(plan):
        parts.append(f"<h2>{e(title)}</h2>")
        parts += html_table(header, rows, right) if rows else ["<p>(none)</p>"]
        if title == "Purchase ladder":
            parts.append("<h2>Commitments in force by month</h2>")
            parts.append(ladder_svg(committed_by_month(plan.book, plan.horizon_start), plan.horizon_end))
        elif title.startswith("Mix per family"):
            parts.append("<h2>Mix per family by month (simulated on the expected forecast)</h2>")
            parts += mix_charts(plan.simulation)
    parts += [f"<p>{e(line)}</p>" for line in _estimate_legend(plan)]
    parts.append(f"<p>{e(_solver_line(plan))}</p>")
    parts += [f"<p><b>warning:</b> {e(w)}</p>" for w in plan.warnings]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
