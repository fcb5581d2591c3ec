"""--set fix hints: a dotted key inside a number says the number is not a section and
shows how to set it; a YAML 1.1 trap in a --set value shows the shell quoting it needs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gpuladder.cli import main


def _validate(*sets):
    args = ["validate"]
    for item in sets:
        args += ["--set", item]
    return CliRunner().invoke(main, args)


def test_key_inside_a_number():
    res = _validate("horizon.months.x=3")
    assert res.exit_code == 1
    assert ("horizon.months: is a number (12), not a section with keys, so 'horizon.months.x' cannot be set"
            in res.output)
    assert "setting horizon.months itself: --set 'horizon.months=3'." in res.output
    assert "{...}" not in res.output


def test_key_inside_a_number_that_may_be_a_mapping():
    res = _validate("constraints.spot_cap.aws/us-east-1/p5.48xlarge=0.3")
    assert res.exit_code == 1
    assert ("setting it whole as a mapping: --set 'constraints.spot_cap={aws/us-east-1/p5.48xlarge: 0.3}'."
            in res.output)


@pytest.mark.parametrize("item, fix", [
    ("name=no", """--set 'name="no"'"""),
    ("name=012", """--set 'name="012"'"""),
    ("usage.gaps=off", """--set 'usage.gaps="off"'"""),
    ("products.kinds=[on, reservation]", """--set 'products.kinds=["on", reservation]'"""),
])
def test_trap_in_set_value_shows_shell_quoting(item, fix):
    res = _validate(item)
    assert res.exit_code == 1
    assert f"quoting it for YAML inside quotes for the shell: {fix}." in res.output


def test_trap_in_a_file_keeps_the_plain_quoting_hint(tmp_path):
    (tmp_path / "s.yaml").write_text("extends: " + str(tmp_path / "base.yaml") + "\nname: no\n")
    (tmp_path / "base.yaml").write_text("horizon: {months: 3}\n")
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "s.yaml")])
    assert res.exit_code == 1
    assert 'line 2: name: expected text' in res.output and 'quoting it: "no".' in res.output
