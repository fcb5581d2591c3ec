"""Sunk commitments never make a plan infeasible: the utilization floor binds what the plan
adds (regression: an existing savings plan far above the demand made every plan infeasible)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.units import hourly_index

P5 = "aws/us-east-1/p5.48xlarge"
SP = "aws-ec2sp-us-east-1-p5-3y-all_upfront"


def test_oversized_inventory_plan_is_honoured_not_infeasible(tmp_path):
    idx = hourly_index(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC"))
    d = np.where(np.arange(len(idx)) % 24 < 12, 12.0, 8.0)
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": P5, "instances": d}).to_csv(
        tmp_path / "usage.csv", index=False)
    # $3000/h of commitment against at most 12 x ~$35/h of p5 use per hour: mostly wasted, and sunk
    (tmp_path / "inv.csv").write_text(f"id,product,family,quantity,start,end\nsp-1,{SP},,3000,"
                                      "2025-06-01T00:00:00Z,2028-06-01T00:00:00Z\n")
    (tmp_path / "s.yaml").write_text(
        "catalog: embedded\nusage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
        "forecast: {method: replay}\nproducts: {providers: [aws]}\n")
    res = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert all(p["product"] != SP for p in doc["purchases"])  # nothing more of what is wasted
    assert doc["purchases"] == []                              # the sunk plan covers all demand
    assert doc["mix"][0]["on_demand_share"] < 1e-9
    assert doc["kpis"]["commitment_utilization"] < 0.2         # reported as it is, not hidden
