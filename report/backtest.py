"""Render a Backtest (``gpuladder backtest``): a table of policies, or JSON with schema
``gpuladder.backtest/1``:

``{"schema", "span": {...}, "policies": [{"name", "cost_usd", "savings_usd",
"effective_savings_rate", "commitment_utilization", "waste_usd", "capture",
"capture_within_rules", "fees_after_span_usd", "purchases"}]}``

``commitment_utilization`` is null for a policy with no commitment fees in the span,
``effective_savings_rate`` for a span with no on-demand-equivalent spend (no demand);
a purchase's ``scope`` is its product for a savings plan (as in the plan JSON), else null;
its ``id`` and ``estimate`` mean what the plan JSON's do (additive keys);
``capture`` (vs ``hindsight``, the limit) and ``capture_within_rules`` (vs
``hindsight_within_rules``) are null when that hindsight saves nothing;
``fees_after_span_usd`` is the amortized fees of the policy's purchases after the span,
which the span's cost does not include. Every figure comes from the simulator."""

from __future__ import annotations

import json

import pandas as pd

from gpuladder.report.text import iso_date, iso_hour, json_value, no_minus_zero, pct, plural, qty, text_table, usd
from gpuladder.solver.backtest import Backtest, PolicyResult
from gpuladder.solver.book import CommitmentBook
from gpuladder.solver.plan import purchase_ids

BACKTEST_SCHEMA = "gpuladder.backtest/1"
BACKTEST_FORMATS = ("table", "json")


def render_backtest(bt: Backtest, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(backtest_document(bt), indent=2) + "\n"
    if fmt == "table":
        return _table(bt)
    raise ValueError(f"unknown format {fmt!r}")


def _utilization(p: PolicyResult) -> float | None:
    k = p.kpis
    return k.commitment_utilization if k.commitment_fees_usd > 0 else None


def _savings_rate(p: PolicyResult) -> float | None:
    """None when the span has no on-demand-equivalent spend: savings / 0 is no rate (a policy
    paying fees for no demand read 0.0% beside its loss)."""
    k = p.kpis
    return k.effective_savings_rate if k.on_demand_equivalent_usd > 0 else None


def purchase_list(p: PolicyResult, inventory: CommitmentBook | None = None,
                  estimated: frozenset[str] = frozenset()) -> list[dict]:
    """A policy's purchases as the plan JSON writes them: ``id`` built as the plan's
    (``purchase_ids``; one the ``inventory`` holds takes -2, ...) and ``estimate`` (the
    product's rate is an estimate, one of ``estimated``)."""
    bought = p.purchases.items.reset_index(drop=True)
    if inventory is not None and len(inventory):
        held = inventory.items.set_axis(pd.RangeIndex(len(bought), len(bought) + len(inventory)))
        bought_and_held = CommitmentBook(pd.concat([bought, held]))
    else:
        bought_and_held = CommitmentBook(bought)
    ids = purchase_ids(bought_and_held).reindex(bought.index)
    it = bought.assign(id=ids).sort_values(["start", "provider", "product", "family", "id"])
    return [{"id": r.id, "date": iso_date(r.start), "provider": r.provider, "product": r.product, "kind": r.kind,
             "family": r.family or None, "scope": r.product if r.kind == "savings_plan" else None,
             "term_months": int(r.term_months), "payment": r.payment,
             "quantity": json_value(float(r.quantity), 3), "upfront_usd": json_value(float(r.upfront_usd), 2),
             "recurring_usd_per_hour": json_value(float(r.recurring_usd_per_hour), 4), "expires": iso_date(r.end),
             "estimate": r.product in estimated}
            for r in it.itertuples(index=False)]


def backtest_document(bt: Backtest) -> dict:
    span = {"scenario": bt.scenario, "start": iso_hour(bt.start), "end": iso_hour(bt.end), "hours": bt.hours,
            "replan_every": bt.replan_every, "replans": [iso_hour(t) for t in bt.replan_dates],
            "forecast_method": bt.forecast_method, "plan_months": bt.plan_months, "masked_hours": bt.masked_hours,
            "notes": list(bt.notes)}
    policies = [{
        "name": p.name,
        "cost_usd": json_value(no_minus_zero(p.kpis.cost_usd), 2),
        "savings_usd": json_value(no_minus_zero(p.kpis.savings_usd), 2),
        "effective_savings_rate": json_value(None if _savings_rate(p) is None else no_minus_zero(_savings_rate(p))),
        "commitment_utilization": json_value(_utilization(p)),
        "waste_usd": json_value(no_minus_zero(p.kpis.waste_usd), 2),
        "capture": None if p.capture is None else json_value(no_minus_zero(p.capture)),
        "capture_within_rules": None if p.capture_within_rules is None else json_value(no_minus_zero(p.capture_within_rules)),
        "fees_after_span_usd": json_value(no_minus_zero(p.fees_after_span_usd), 2),
        "purchases": purchase_list(p, bt.inventory, bt.estimated_products),
    } for p in bt.policies]
    return {"schema": BACKTEST_SCHEMA, "span": span, "policies": policies}


def _table(bt: Backtest) -> str:
    n = len(bt.replan_dates)
    head = (f"gpuladder backtest: scenario '{bt.scenario}', {iso_hour(bt.start)} to {iso_hour(bt.end)} "
            f"({bt.hours} h), re-plan every {bt.replan_every} ({n} re-plan{'' if n == 1 else 's'}, "
            f"forecast {bt.forecast_method}"
            + ("" if bt.plan_months is None else f", each re-plan planning {plural(bt.plan_months, 'month')} ahead")
            + ")")
    header = ["policy", "cost $", "savings $", "eff. savings rate", "utilization", "waste $", "capture",
              "capture (rules)", "fees after span $", "purchases", "instances / $/h bought"]
    rows = []
    for p in bt.policies:
        it = p.purchases.items
        res = it.loc[it["kind"] == "reservation", "quantity"].sum()
        sp = it.loc[it["kind"] == "savings_plan", "quantity"].sum()
        bought = f"{qty(res)} / {usd(sp, 2)}" if len(it) else "-"
        u = _utilization(p)
        k = p.kpis
        rate = _savings_rate(p)
        rows.append([p.name, usd(k.cost_usd), usd(k.savings_usd), "-" if rate is None else pct(rate),
                     "-" if u is None else pct(u), usd(k.waste_usd),
                     "-" if p.capture is None else pct(p.capture),
                     "-" if p.capture_within_rules is None else pct(p.capture_within_rules),
                     usd(p.fees_after_span_usd), str(len(it)), bought])
    lines = [head, ""] + text_table(header, rows, [False] + [True] * 10) + [""]
    lines += ["capture = savings / hindsight savings (the limit: the future known, no utilization floor, budget or",
              "  ladder limit); capture (rules) = savings / hindsight_within_rules savings (the same, under the",
              "  scenario's constraints); savings are vs all on-demand, spot included; every figure is simulated on",
              "  the actual usage of the span; fees after span = amortized fees of the purchases after the span's",
              "  end (the lock-in left behind), not in its cost"]
    lines += [f"note: {n}" for n in bt.notes]
    return "\n".join(lines) + "\n"


__all__ = ["BACKTEST_SCHEMA", "BACKTEST_FORMATS", "render_backtest", "backtest_document", "purchase_list"]
