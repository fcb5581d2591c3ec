"""YAML 1.1 number forms that read as another value than the digits seem to say: a
leading zero is octal (012 is 10), 0x10 is hexadecimal (16), 0b11 binary (3) and 1:30
base 60 (90). The loader refuses them, naming the key, the file and line (or the --set
item), how YAML read them and what to write; plain decimals keep working."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.scenarios.loader import load_scenario


def _error(tmp_path, body: str, sets=()) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        load_scenario(path, sets)
    return str(info.value)


def test_octal_months_in_a_file_names_line_and_fix(tmp_path):
    msg = _error(tmp_path, "name: t\nhorizon:\n  months: 012\n")
    assert f"{tmp_path / 's.yaml'}, line 3: horizon.months:" in msg
    assert "YAML 1.1 reads the unquoted 012 as the octal number 10" in msg
    assert "writing 12 (without the leading zero)" in msg


@pytest.mark.parametrize("item, read_as", [
    ("horizon.months=0x10", "the hexadecimal number 16"),
    ("horizon.months=0b11", "the binary number 3"),
    ("solver.time_limit_s=1:30", "the base-60 (sexagesimal) number 90"),
    ("horizon.months=-012", "the octal number -10"),
    ("products.terms_months=[012]", "the octal number 10"),
    ("constraints.min_utilization=0x1", "the hexadecimal number 1"),
])
def test_set_number_traps_are_refused(tmp_path, item, read_as):
    msg = _error(tmp_path, "name: t\n", [item])
    assert msg.startswith(f"--set {item}: ")
    assert f"YAML 1.1 reads the unquoted {item.partition('=')[2].strip('[]')} as {read_as}" in msg


@pytest.mark.parametrize("body, item, fix", [
    ("constraints: {fiscal_year_start_month: 08}\n", None, "writing 8 without the leading zero"),
    ("horizon:\n  months: 09\n", None, "writing 9 without the leading zero"),
    ("name: t\n", "horizon.months=018", "writing 18 without the leading zero"),
    ("name: t\n", "forecast.growth_per_month=-09", "writing -9 without the leading zero"),
])
def test_a_leading_zero_before_8_or_9_reads_as_text(tmp_path, body, item, fix):
    """08 and 09 are not octal numbers, so YAML 1.1 reads them as text: the message said
    "without a unit or other text", which fits '12 months', not 08."""
    msg = _error(tmp_path, "name: t\n" + body if item is None else body, [item] if item else [])
    raw = (item.partition("=")[2] if item else body.split(":")[-1].strip(" }\n"))
    assert f"YAML 1.1 reads the unquoted {raw} as text (a leading zero makes an octal number" in msg
    assert fix in msg and "without a unit" not in msg


def test_cli_exit_code_is_1_for_a_number_trap():
    res = CliRunner().invoke(main, ["validate", "--set", "solver.time_limit_s=1:30"])
    assert res.exit_code == 1
    assert "solver.time_limit_s: YAML 1.1 reads the unquoted 1:30 as the base-60 (sexagesimal) number 90" in res.output


@pytest.mark.parametrize("item, attr, expected", [
    ("horizon.months=12", ("horizon", "months"), 12),
    ("horizon.months=1_2", ("horizon", "months"), 12),
    ("solver.time_limit_s=1e3", ("solver", "time_limit_s"), 1000.0),
    ("solver.time_limit_s=2.5E+1", ("solver", "time_limit_s"), 25.0),
    ("solver.time_limit_s=0.5", ("solver", "time_limit_s"), 0.5),
    ("solver.time_limit_s=00.5", ("solver", "time_limit_s"), 0.5),
    ("forecast.growth_per_month=-0.01", ("forecast", "growth_per_month"), -0.01),
    ("constraints.min_utilization=0", ("constraints", "min_utilization"), 0.0),
    ("constraints.min_utilization=.9", ("constraints", "min_utilization"), 0.9),
])
def test_plain_decimals_still_load(tmp_path, item, attr, expected):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\n")
    sc = load_scenario(path, [item])
    assert getattr(getattr(sc, attr[0]), attr[1]) == expected
