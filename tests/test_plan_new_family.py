"""A family seen for two days gets no commitment at the defaults: its conservative path is
zero (solver/forecast.py), so the utilization floor on it allows nothing. Before, its
P10 was its two-day mean and the plan bought a 3-year all-upfront savings plan covering
all 6 instances."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from gpuladder.cli import main

OLD, NEW = "aws/us-east-1/p5.48xlarge", "aws/us-east-1/g6e.12xlarge"


def test_a_two_day_old_family_gets_no_commitment(tmp_path):
    idx = pd.date_range("2026-10-01", "2026-11-30 23:00", freq="h", tz="UTC")
    rows = [(t, OLD, 10.0) for t in idx] + [(t, NEW, 6.0) for t in idx if t >= pd.Timestamp("2026-11-29", tz="UTC")]
    usage = pd.DataFrame(rows, columns=["timestamp", "family", "instances"])
    usage["timestamp"] = usage["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    usage.to_csv(tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: new-family\ncatalog: embedded\nusage: usage.csv\n"
                                     "horizon: {start: '2026-12-01', months: 12}\n"
                                     "forecast: {method: seasonal, lookback_days: 60}\nproducts: {providers: [aws]}\n")
    out = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    mix = {m["family"]: m for m in doc["mix"]}
    assert mix[NEW]["committed_instances"] == 0 and mix[NEW]["on_demand_share"] == 1.0
    assert mix[OLD]["committed_instances"] >= 9                  # the steady family is still committed
    assert any("under a week of its own demand" in w for w in doc["warnings"])
