"""The plan JSON names the forecast path its KPIs are on and the one its utilization floor
must also hold on: a script could not tell from the path list whether P10 bound the plan
or there was no conservative path at all (helper 24's review)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog


@pytest.fixture()
def case(tmp_path):
    write_tiny_catalog(tmp_path / "cat")
    idx = hourly_index(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC"))
    d = np.tile([3.0, 3.0, 2.0, 1.0], len(idx) // 4)
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": d}).to_csv(
        tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: t\ncatalog: cat\nusage: usage.csv\nhorizon: {start: '2026-02-01', months: 1}\n"
        "forecast: {method: seasonal, lookback_days: 28}\nproducts: {terms_months: [12]}\n")
    return tmp_path


@pytest.mark.parametrize("sets, expected, conservative, paths", [
    ((), "P50", "P10", ["P10", "P50", "P90"]),
    (("forecast.conservative_quantile=null",), "P50", None, ["P10", "P50", "P90"]),
    (("forecast.conservative_quantile=0.25",), "P50", "P25", ["P10", "P50", "P90", "P25"]),
    (("forecast.method=replay",), "replay", None, ["replay"]),
])
def test_forecast_block_names_the_expected_and_the_conservative_path(case, sets, expected, conservative, paths):
    args = ["plan", str(case / "s.yaml"), "--format", "json"]
    for s in sets:
        args += ["--set", s]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    fc = json.loads(res.stdout)["forecast"]
    assert (fc["expected"], fc["conservative"]) == (expected, conservative)
    assert [p["name"] for p in fc["paths"]] == paths
