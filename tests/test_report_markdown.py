"""Markdown tables: a `|` or a line break in a header or a cell must not split the row."""

from __future__ import annotations

import re

from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.report.text import markdown_table
from tiny_catalog import write_tiny_case

_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def test_header_and_cells_escape_bars_and_line_breaks():
    lines = markdown_table(["", "a|b", "c"], [["cost", "1|2", "x\ny"]], [False, True, True])
    assert lines[0] == "|  | a\\|b | c |"
    assert lines[1] == "| --- | ---: | ---: |"
    assert lines[2] == "| cost | 1\\|2 | x<br>y |"
    assert all(len(_UNESCAPED_BAR.findall(line)) == 4 for line in lines)


def test_compare_md_with_a_scenario_named_with_a_bar(tmp_path):
    base = write_tiny_case(tmp_path)
    (tmp_path / "s1.yaml").write_text("name: 'a|b'\n" + base)
    (tmp_path / "s2.yaml").write_text("name: c\n" + base)
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "s1.yaml"), str(tmp_path / "s2.yaml"),
                                    "--format", "md"])
    assert res.exit_code == 0, res.output
    table = [line for line in res.stdout.splitlines() if line.startswith("|")]
    assert table[0] == "|  | a\\|b | c |"
    assert len(table) > 3 and all(len(_UNESCAPED_BAR.findall(line)) == 4 for line in table), table
