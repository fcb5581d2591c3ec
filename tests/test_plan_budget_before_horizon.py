"""max_upfront_usd_per_quarter holds per calendar quarter. A monthly re-ladder holds last
month's purchases as inventory, bought before this horizon but in its first quarter: their
upfront is charged to that quarter's budget, and the plan says how much is left and why
(helper 21's review, session 6; enforced since session 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import embedded_catalog

EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "examples" / "default.yaml"
PRODUCT = "aws-ec2sp-us-east-1-g6e-3y-all_upfront"


def _end(start: str) -> pd.Timestamp:
    return pd.Timestamp(start) + pd.DateOffset(months=36)


def _plan(tmp_path, start: str, budget: str = "20000000") -> dict:
    inv = tmp_path / "inventory.csv"
    inv.write_text(f"id,product,family,quantity,start,end\nx,{PRODUCT},,4,{start},{_end(start):%Y-%m-%dT%H:%MZ}\n")
    out = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--inventory", str(inv), "--format", "json",
                                    "--set", f"constraints.max_upfront_usd_per_quarter={budget}"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def _budget_warnings(doc: dict) -> list[str]:
    return [w for w in doc["warnings"] if w.startswith("max_upfront_usd_per_quarter")]


def _upfront_in_2026q4(doc: dict) -> float:
    p = pd.DataFrame(doc["purchases"])
    return float(p.loc[pd.to_datetime(p["date"]) < pd.Timestamp("2027-01-01"), "upfront_usd"].sum())


def test_upfront_paid_earlier_in_the_quarter_is_charged_and_named(tmp_path):
    """The default example from 2026-12-01, 4 $/h of a 3-year all-upfront savings plan
    bought 2026-11-01 ($105,216 upfront): 2026Q4's $5M has $4,894,784 left, and what the
    plan pays in December stays within it (the old rule let December pay $4,981,470: the
    quarter paid $5,086,686 in all)."""
    prods = embedded_catalog().products()
    assert prods.loc[PRODUCT, "payment"] == "all_upfront"
    doc = _plan(tmp_path, "2026-11-01T00:00Z", "5000000")
    hours = (_end("2026-11-01T00:00Z") - pd.Timestamp("2026-11-01T00:00Z")) / pd.Timedelta(hours=1)
    paid = 4 * hours   # 4 $/h of commitment over the term, all of it upfront: $105,216
    assert _budget_warnings(doc) == [
        f"max_upfront_usd_per_quarter: 2026Q4 has ${5_000_000 - paid:,.0f} of its $5,000,000 budget left for this "
        f"plan: the inventory paid ${paid:,.0f} upfront in it before the horizon's start (1 commitment(s) from "
        "2026-11-01)"]
    assert 4_800_000 < _upfront_in_2026q4(doc) <= 5_000_000 - paid + 1e-6


@pytest.mark.parametrize("start", ["2026-09-30T00:00Z", "2026-12-01T00:00Z"])
def test_nothing_is_said_outside_the_quarter_before_the_horizon(tmp_path, start):
    """Bought in the quarter before (2026Q3), or on the horizon's first hour (then it is
    inside the horizon and charged like any inventory, with nothing to explain)."""
    assert _budget_warnings(_plan(tmp_path, start)) == []
