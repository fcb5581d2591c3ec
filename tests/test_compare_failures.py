"""compare: a failed scenario keeps a name (the scenario's, else the file's stem), its CSV
error cell is one line, and counts of one are singular ('1 month', '1 commitment')."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InfeasibleError
from gpuladder.report.text import plural
from gpuladder.scenarios.compare import compare_scenarios
from gpuladder.scenarios.schema import Scenario
from tiny_catalog import FAMILY, write_tiny_case


@pytest.fixture()
def case(tmp_path):
    base = write_tiny_case(tmp_path)
    (tmp_path / "ok.yaml").write_text("name: fine\n" + base)
    (tmp_path / "broken-file.yaml").write_text("name: never-read\n" + base + "horizon: {months: 0}\n")
    (tmp_path / "typo.yaml").write_text("name: typo\n" + base + "constraints: {spot_cap: {test/r1/g9: 0.1}}\n")
    return tmp_path


def test_failed_scenarios_have_names_and_one_line_csv_errors(case):
    files = [str(case / f) for f in ("ok.yaml", "broken-file.yaml", "typo.yaml")]
    doc = json.loads(CliRunner().invoke(main, ["compare", *files, "--format", "json"]).stdout)
    assert [s["name"] for s in doc["scenarios"]] == ["fine", "broken-file", "typo"]
    assert [s["status"] for s in doc["scenarios"]] == ["ok", "failed", "failed"]

    res = CliRunner().invoke(main, ["compare", *files, "--format", "csv"])
    assert res.exit_code == 1
    assert len(res.stdout.splitlines()) == 4                      # header + 3 rows, no line break in a cell
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["scenario"] for r in rows] == ["fine", "broken-file", "typo"]
    typo = rows[2]["error"]
    assert "\n" not in typo
    assert "constraints.spot_cap: the family 'test/r1/g9' is not in the catalog." in typo
    assert "Did you mean 'test/r1/g1'?; You can fix this by writing a family key" in typo


def test_table_says_one_month(case):
    res = CliRunner().invoke(main, ["compare", str(case / "ok.yaml"), "--format", "table"])
    assert res.exit_code == 0
    assert "2026-01-01T00:00Z + 1 month\n" in res.stdout and "1 months" not in res.stdout


def test_library_outcome_name_is_the_stem_before_the_scenario_is_read():
    def load(src):
        if src.endswith("bad.yaml"):
            raise InfeasibleError(["budget"])
        return Scenario(name="named")

    cmp = compare_scenarios(["/x/bad.yaml", "/x/good.yaml"], load, run=lambda sc: (_ for _ in ()).throw(
        InfeasibleError(["budget"])))
    assert [o.name for o in cmp.outcomes] == ["bad", "named"]


def test_validate_says_one_commitment(case):
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"ri-1,test-ri-1y,{FAMILY},2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n")
    res = CliRunner().invoke(main, ["validate", str(case / "ok.yaml"), "--inventory", str(case / "inv.csv")])
    assert res.exit_code == 0, res.output
    assert "inventory: 1 commitment\n" in res.stdout and "1 path," in res.stdout


def test_plural():
    assert [plural(n, "month") for n in (0, 1, 2)] == ["0 months", "1 month", "2 months"]
    assert plural(1, "family", "families") == "1 family" and plural(3, "family", "families") == "3 families"
