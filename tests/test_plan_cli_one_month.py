"""A one-month plan of the bundled example: the headline says "1 month", and the CSV (the
ladder alone) sends the plan's warnings to stderr instead of dropping them."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from gpuladder.cli import main


def test_one_month_headline_and_csv_warnings_on_stderr():
    table = CliRunner().invoke(main, ["plan", "--set", "horizon.months=1"])
    assert table.exit_code == 0, table.output
    assert "+ 1 month, forecast" in table.stdout
    warnings = [line for line in table.stdout.splitlines() if line.startswith("warning: ")]
    assert any("fall after the horizon's end" in w for w in warnings)   # 1 month of 1- and 3-year terms
    out = CliRunner().invoke(main, ["plan", "--set", "horizon.months=1", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and "warning" not in out.stdout
    assert [line for line in out.stderr.splitlines() if line.startswith("warning: ")] == warnings
