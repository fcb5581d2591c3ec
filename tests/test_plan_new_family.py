"""A family seen for two days gets no commitment at the defaults: its conservative path is
zero (solver/forecast.py), so the utilization floor on it allows nothing. Before, its
P10 was its two-day mean and the plan bought a 3-year all-upfront savings plan covering
all 6 instances. One seen for 8 days borrows the older family's drift
(tests/test_forecast_young.py) and is committed to in part."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from gpuladder.cli import main
from test_forecast_young import wandering, young

OLD, NEW = "aws/us-east-1/p5.48xlarge", "aws/us-east-1/g6e.12xlarge"


def _plan(tmp_path, columns: dict) -> tuple[dict, dict]:
    """Plan (AWS, 12 months from 2026-12-01, 60-day lookback) on hourly usage from
    2026-10-01 (``columns``: family -> instances; zero hours are left out). Returns the
    JSON and its mix by family."""
    idx = pd.date_range("2026-10-01", "2026-11-30 23:00", freq="h", tz="UTC")
    long = pd.DataFrame(columns, index=idx).rename_axis("timestamp").reset_index().melt(
        "timestamp", var_name="family", value_name="instances")
    long = long[long["instances"] > 0]
    long["timestamp"] = long["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    long.to_csv(tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: new-family\ncatalog: embedded\nusage: usage.csv\n"
                                     "horizon: {start: '2026-12-01', months: 12}\n"
                                     "forecast: {method: seasonal, lookback_days: 60}\nproducts: {providers: [aws]}\n")
    out = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    return doc, {m["family"]: m for m in doc["mix"]}


def test_a_two_day_old_family_gets_no_commitment(tmp_path):
    n = 61 * 24
    doc, mix = _plan(tmp_path, {OLD: [10.0] * n, NEW: young(n, 2)})
    assert mix[NEW]["committed_instances"] == 0 and mix[NEW]["on_demand_share"] == 1.0
    assert mix[OLD]["committed_instances"] >= 9                  # the steady family is still committed
    assert any("under a week of its own demand" in w for w in doc["warnings"])


def test_plan_commits_less_to_an_eight_day_old_flat_family(tmp_path):
    """6 instances for 8 days next to a wandering 2-month-old family: the old rule (its own
    zero band) committed all 6 for three years."""
    n = 61 * 24
    doc, mix = _plan(tmp_path, {OLD: wandering(n), NEW: young(n, 8)})
    assert 0 < mix[NEW]["committed_instances"] < 5.5
    assert any(NEW in w and "fleet's drift" in w for w in doc["warnings"])
