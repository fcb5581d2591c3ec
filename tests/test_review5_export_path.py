"""Review 5: the quarterly re-ladder path from a real billing export (usage convert,
inventory from-export, plan's JSON for scripts) and the bugs found on it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main

P5 = "aws/us-east-1/p5.48xlarge"


def run(args):
    return CliRunner().invoke(main, args)


def strict_json(text: str):
    """json.loads that refuses NaN / Infinity, as JSON.parse, Go and jq --strict readers do."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def sp_and_ri_expiring(tmp_path):
    """January 2026 of 3 p5 instances; an inventory (as `inventory from-export` writes it)
    with a compute savings plan (family empty) and a reservation, both ending in January."""
    idx = pd.date_range("2026-01-01", "2026-01-31 23:00", freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": P5, "instances": 3.0}).to_csv(
        tmp_path / "usage.csv", index=False)
    (tmp_path / "inv.csv").write_text(
        "id,product,family,quantity,start,end\n"
        "sp-1,aws-csp-1y-no_upfront,,50,2025-01-15T00:00:00Z,2026-01-15T00:00:00Z\n"
        f"ri-1,aws-ri-1y-no_upfront,{P5},1,2025-01-20T00:00:00Z,2026-01-20T00:00:00Z\n")
    (tmp_path / "s.yaml").write_text(
        "usage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
        "forecast: {method: replay}\nproducts: {providers: [aws], terms_months: [12]}\n")
    return tmp_path


def test_plan_json_is_strict_json_when_a_savings_plan_expires(sp_and_ri_expiring):
    # the savings plan's empty family read as NaN and was written as the bare token NaN,
    # which JSON.parse (and every strict reader) refuses
    res = run(["plan", str(sp_and_ri_expiring / "s.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = strict_json(res.stdout)
    by_id = {e["id"]: e for e in doc["expiring"]}
    assert by_id["sp-1"]["family"] is None
    assert by_id["ri-1"]["family"] == P5
    assert by_id["sp-1"]["expires"] == "2026-01-15T00:00Z" and by_id["sp-1"]["quantity"] == 50
