"""The bundled example scenarios run as they are and show what they claim; every command is
documented in README.md (STYLE.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gpuladder.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "scenarios" / "examples"
README = Path(__file__).resolve().parents[1] / "README.md"
NAMED = ("steady-inference", "bursty-training", "fast-growth", "multicloud")


def plan(name: str, *extra: str) -> dict:
    res = CliRunner().invoke(main, ["plan", str(EXAMPLES / f"{name}.yaml"), "--format", "json", *extra])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == "gpuladder.plan/1" and doc["scenario"] == name
    return doc


def test_every_bundled_scenario_is_listed_and_small():
    names = {p.stem for p in EXAMPLES.glob("*.yaml")}
    assert names >= {"default", *NAMED}
    listing = (EXAMPLES / "README.md").read_text()
    for name in names:
        assert f"`{name}.yaml`" in listing
    for csv in EXAMPLES.glob("*.csv"):
        assert csv.stat().st_size < 1_000_000, csv.name
        assert csv.name in listing


def test_default_runs_on_a_short_horizon():
    """Two months of the default: the figures of the JSON hold together (the cost is the
    parts' sum and the P50 path's, the expected cost the weighted paths', the model within
    0.1% of the simulator) and the plan beats all on-demand (no inventory)."""
    doc = plan("default", "--set", "horizon.months=2")
    assert doc["horizon"] == {"start": "2026-12-01T00:00Z", "months": 2, "end": "2027-02-01T00:00Z",
                              "next_step": "2027-01-01T00:00Z"}
    k = doc["kpis"]
    assert k["cost_usd"] == pytest.approx(k["commitment_fees_usd"] + k["spot_usd"] + k["on_demand_usd"], abs=0.05)
    assert k["savings_usd"] == pytest.approx(k["on_demand_equivalent_usd"] - k["cost_usd"], abs=0.05)
    paths = {p["name"]: p for p in doc["forecast"]["paths"]}
    assert paths["P50"]["cost_usd"] == pytest.approx(k["cost_usd"], abs=0.05)
    assert k["expected_cost_usd"] == pytest.approx(sum(p["weight"] * p["cost_usd"] for p in paths.values()), abs=0.05)
    assert doc["solver"]["simulated_objective_usd"] == pytest.approx(k["expected_cost_usd"], abs=0.05)
    assert abs(doc["solver"]["difference_share"]) <= 1e-3
    assert doc["purchases"] and all("2026-12-01" <= p["date"] < "2027-02-01" for p in doc["purchases"])
    assert k["cost_usd"] < k["on_demand_equivalent_usd"]


def test_steady_inference_commits_heavily():
    k = plan("steady-inference")["kpis"]
    assert k["coverage"] > 0.5 and k["spot_share"] == 0
    assert k["commitment_utilization"] > 0.9 and k["effective_savings_rate"] > 0.3


def test_bursty_training_runs_mostly_on_spot():
    doc = plan("bursty-training")
    assert doc["kpis"]["spot_share"] > 0.3
    assert {p["term_months"] for p in doc["purchases"]} <= {12}
    p50_floor = plan("bursty-training", "--set", "forecast.conservative_quantile=null")  # the README's small floor
    assert p50_floor["purchases"] and {p["term_months"] for p in p50_floor["purchases"]} == {12}


def test_fast_growth_buys_a_ladder():
    doc = plan("fast-growth")
    dates = {p["date"] for p in doc["purchases"]}
    assert len(dates) >= 3   # growth: a little more every month, within the ladder limits


def test_multicloud_plans_three_clouds():
    doc = plan("multicloud")
    assert {m["family"].split("/")[0] for m in doc["mix"]} == {"aws", "gcp", "azure"}
    assert {p["provider"] for p in doc["purchases"]} == {"aws", "gcp", "azure"}  # each cloud's own products
    # estimated rates: the AWS ones can be refreshed from AWS, the Azure one cannot
    (warning,) = [w for w in doc["warnings"] if "estimated commitment rates" in w]
    assert "azure-ri" in warning and "`gpuladder catalog fetch aws`" in warning
    assert "refresh the AWS ones" in warning and "--catalog embedded --catalog DIR" in warning


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, prefix + (name,))
        else:
            out.append(" ".join(prefix + (name,)))
    return out


@pytest.mark.parametrize("command", _commands(main))
def test_every_command_is_documented_in_the_readme(command):
    text = README.read_text()
    assert re.search(rf"gpuladder {re.escape(command)}\b", text), f"README.md has no example of `gpuladder {command}`"


def test_a_horizon_long_after_the_history_is_warned_about():
    """The default usage ends 2026-11-22; a horizon from 2027-06-01 is forecast across 190
    days with no data, and says so; the bundled horizon (9 days later) does not."""
    late = plan("default", "--set", "horizon.start=2027-06-01", "--set", "horizon.months=1")
    (warning,) = [w for w in late["warnings"] if "days before horizon.start" in w]
    assert "190 days" in warning and "2026-11-22T23:00Z" in warning
    on_time = plan("default", "--set", "horizon.months=1")
    assert not any("days before horizon.start" in w for w in on_time["warnings"])


def test_soft_floor_trades_lock_in_for_cost():
    """soft-floor.yaml = default.yaml without the floor, with risk_weight 1: cheaper in
    expectation and on the P10 path inside the horizon, more fees after it."""
    hard, soft = plan("default"), plan("soft-floor")
    p10 = {name: {p["name"]: p["cost_usd"] for p in doc["forecast"]["paths"]}["P10"]
           for name, doc in (("hard", hard), ("soft", soft))}
    assert soft["kpis"]["expected_cost_usd"] < hard["kpis"]["expected_cost_usd"]
    assert p10["soft"] < p10["hard"]
    assert soft["kpis"]["fees_after_horizon_usd"] > hard["kpis"]["fees_after_horizon_usd"]
    assert {p["name"]: p["objective_weight"] for p in soft["forecast"]["paths"]}["P10"] == pytest.approx(0.65)
