"""README statements that code can check: the columns it lists for `plan --format csv` are
the CSV's header, and a plan that buys nothing is the header alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _plan_csv(tmp_path, demand, extra=""):
    write_tiny_catalog(tmp_path / "cat")
    idx = hourly_index(pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-02-01T00:00Z"))
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                  "instances": np.resize(demand, len(idx))}).to_csv(tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: t\ncatalog: cat\nusage: usage.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
                                     "forecast: {method: replay}\nproducts: {terms_months: [12]}\n" + extra)
    res = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_readme_lists_the_plan_csv_columns(tmp_path):
    listed = re.search(r"`--format csv` is the purchase ladder only:.*?\(`([^`]+)`\)", README, re.S)
    assert listed, "README no longer describes plan --format csv"
    columns = re.sub(r"\s+", "", listed.group(1))
    out = _plan_csv(tmp_path, [3.0, 3.0, 2.0, 1.0], "constraints: {min_utilization: null}\n")
    lines = out.splitlines()
    assert lines[0] == columns
    assert len(lines) > 1 and all(line.count(",") == columns.count(",") for line in lines)


def test_plan_csv_that_buys_nothing_is_the_header_alone(tmp_path):
    """4 instances in one hour of four: a reservation at 2.50 of 4.00 on-demand pays at 62.5%."""
    out = _plan_csv(tmp_path, [4.0, 0.0, 0.0, 0.0])
    assert out.splitlines() == [out.splitlines()[0]] and out.startswith("date,provider,product,")



def test_readme_simulator_snippet_runs_from_the_checkout_root(monkeypatch):
    """The README's Python block runs as written from the checkout's root, on the bundled usage
    whose missing hours its comment counts; with gaps="mask" the simulator refuses the NaN hours."""
    from gpuladder.errors import DomainError
    from gpuladder.pricing.catalog import embedded_catalog
    from gpuladder.solver.book import CommitmentBook
    from gpuladder.solver.simulate import DispatchRules, simulate
    from gpuladder.usage.history import load_usage_csv

    root = Path(__file__).resolve().parents[1]
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block, "README no longer has the simulator's Python block"
    monkeypatch.chdir(root)
    names: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), names)
    kpis = names["result"].kpis
    assert 0 < kpis.cost_usd < kpis.on_demand_equivalent_usd and 0 < kpis.effective_savings_rate < 1

    usage_path = re.search(r'load_usage_csv\("([^"]+)"', block.group(1)).group(1)
    stamps = pd.read_csv(root / usage_path, usecols=["timestamp"])["timestamp"].unique()
    span_hours = len(names["profile"].demand_instances.index)
    quoted = int(re.search(r"its (\d+) missing hours", block.group(1)).group(1))
    assert span_hours - len(stamps) == quoted
    masked = load_usage_csv(root / usage_path, gaps="mask")
    try:
        simulate(CommitmentBook.empty(), masked.demand_instances, masked.interruptible_instances,
                 embedded_catalog(), DispatchRules(spot_cap=0.6, rework_overhead={}))
    except DomainError as exc:
        assert "NaN" in str(exc)
    else:
        raise AssertionError("the simulator accepted masked (NaN) hours the README says it refuses")


def test_usage_shorthand_keeps_the_base_gaps(tmp_path):
    """README: `usage: FILE` is short for `usage: {path: FILE}`, so it keeps the base's usage.gaps."""
    from gpuladder.scenarios.loader import load_scenario

    assert "`usage: FILE` is short for `usage: {path: FILE}`, so it keeps the base's `usage.gaps`" in README
    (tmp_path / "base.yaml").write_text("name: base\nusage: {path: a.csv, gaps: mask}\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nusage: b.csv\n")
    usage = load_scenario(str(tmp_path / "child.yaml")).usage
    assert usage.gaps == "mask" and Path(usage.path) == tmp_path / "b.csv"
