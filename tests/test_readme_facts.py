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

