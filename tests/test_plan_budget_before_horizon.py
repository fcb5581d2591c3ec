"""max_upfront_usd_per_quarter counts quarters from the horizon's start. A monthly re-ladder
holds last month's purchases as inventory, bought before this horizon: their upfront is not
charged to the first quarter, and the plan says how much, so that a script can lower the
budget (helper 21's review, session 6)."""

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


def _budget_warnings(tmp_path, start: str, budget: str = "20000000") -> list[str]:
    inv = tmp_path / "inventory.csv"
    inv.write_text(f"id,product,family,quantity,start,end\nx,{PRODUCT},,4,{start},{_end(start):%Y-%m-%dT%H:%MZ}\n")
    out = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--inventory", str(inv), "--format", "json",
                                    "--set", f"constraints.max_upfront_usd_per_quarter={budget}"])
    assert out.exit_code == 0, out.output
    return [w for w in json.loads(out.stdout)["warnings"] if w.startswith("max_upfront_usd_per_quarter")]


def test_upfront_paid_in_the_quarter_before_the_horizon_is_named_with_the_budget_left(tmp_path):
    prods = embedded_catalog().products()
    assert prods.loc[PRODUCT, "payment"] == "all_upfront"
    (w,) = _budget_warnings(tmp_path, "2026-11-01T00:00Z")
    hours = (_end("2026-11-01T00:00Z") - pd.Timestamp("2026-11-01T00:00Z")) / pd.Timedelta(hours=1)
    paid = 4 * hours   # 4 $/h of commitment over the term, all of it upfront: $105,216
    assert f"${paid:,.0f}" in w and "from 2026-11-01" in w and "(2026-12-01)" in w
    assert f"max_upfront_usd_per_quarter={20_000_000 - paid:.0f}" in w


@pytest.mark.parametrize("start", ["2026-08-31T00:00Z", "2026-12-01T00:00Z"])
def test_nothing_is_said_outside_the_quarter_before_the_horizon(tmp_path, start):
    """Bought more than three months before, or on the horizon's first hour (then it is
    inside the horizon and the budget row charges it)."""
    assert _budget_warnings(tmp_path, start) == []
