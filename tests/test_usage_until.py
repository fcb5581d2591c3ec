"""`usage.until`: plan as of an earlier hour (a what-if on a past date, or an export whose
last days are still incomplete). The cut must give exactly the plan of a file that ends
there."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from tiny_catalog import FAMILY, write_tiny_catalog

UNTIL = "2026-01-25"


@pytest.fixture
def case(tmp_path):
    """Five weeks of a weekly pattern at 6-8 instances, then 3 days at 1 instance (a
    half-delivered export's tail); the 'cut' file is the same rows before UNTIL."""
    write_tiny_catalog(tmp_path / "cat")
    idx = pd.date_range("2026-01-01", "2026-01-27 23:00", freq="h", tz="UTC")
    rng = np.random.default_rng(7)
    level = 6.0 + 2.0 * (idx.day_of_week < 5) + rng.integers(0, 2, len(idx))
    level[idx >= pd.Timestamp(UNTIL, tz="UTC")] = 1.0
    rows = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": level})
    rows.to_csv(tmp_path / "usage.csv", index=False)
    rows[idx < pd.Timestamp(UNTIL, tz="UTC")].to_csv(tmp_path / "cut.csv", index=False)
    base = ("catalog: cat\nforecast: {method: seasonal, lookback_days: 21}\nhorizon: {months: 2}\n"
            "products: {terms_months: [12]}\nsolver: {time_limit_s: 30}\n")
    (tmp_path / "until.yaml").write_text(f"name: u\n{base}usage: {{path: usage.csv, until: '{UNTIL}'}}\n")
    (tmp_path / "cut.yaml").write_text(f"name: u\n{base}usage: cut.csv\n")
    (tmp_path / "all.yaml").write_text(f"name: u\n{base}usage: usage.csv\n")
    return tmp_path


def plan(path, *extra):
    res = CliRunner().invoke(main, ["plan", str(path), "--format", "json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_a_cut_history_plans_as_the_file_that_ends_there(case):
    until, cut, whole = plan(case / "until.yaml"), plan(case / "cut.yaml"), plan(case / "all.yaml")
    assert until["horizon"] == cut["horizon"] and until["horizon"]["start"] == "2026-01-25T00:00Z"
    assert until["purchases"] == cut["purchases"] and until["kpis"] == cut["kpis"]
    assert until["purchases"], "the pattern's floor of 6 is worth reserving"
    # the tail at 1 instance would have changed the plan: the cut is not a no-op
    assert whole["horizon"]["start"] == "2026-01-28T00:00Z" and whole["kpis"] != until["kpis"]
    note = "usage.until 2026-01-25T00:00Z: the history ends 2026-01-24T23:00Z; the 72 hour(s) after it (3.0 days) are left out"
    assert note in until["warnings"] and not any("usage.until" in w for w in cut["warnings"])


def test_set_on_the_command_line_and_a_time_of_day(case):
    by_set = plan(case / "all.yaml", "--set", f"usage.until={UNTIL}T00:00:00Z")
    assert by_set["purchases"] == plan(case / "cut.yaml")["purchases"]
    later = plan(case / "all.yaml", "--set", "usage.until=2026-01-27T12:00:00Z")
    assert later["horizon"]["start"] == "2026-01-27T12:00Z"
    assert any("the 12 hour(s) after it (12 h) are left out" in w for w in later["warnings"])


def test_an_until_at_the_end_or_after_it_keeps_everything(case):
    at_end = plan(case / "all.yaml", "--set", "usage.until=2026-01-28")
    assert not any("usage.until" in w for w in at_end["warnings"])
    after = plan(case / "all.yaml", "--set", "usage.until=2026-02-10")
    assert "usage.until 2026-02-10T00:00Z is after the last usage hour 2026-01-27T23:00Z: the whole history is used" \
        in after["warnings"]
    assert after["purchases"] == at_end["purchases"] == plan(case / "all.yaml")["purchases"]


@pytest.mark.parametrize("value, message", [
    ("2026-01-01", "usage.until 2026-01-01T00:00Z is not after the usage's first hour 2026-01-01T00:00Z"),
    ("2025-12-01", "no history would be left"),
    ("2026-01-20T10:30:00Z", "is not on the hour"),
    ("2026-1-20", "need two digits"),
    ("soon", "'soon' is not a date"),
])
def test_bad_until_is_refused_naming_the_key(case, value, message):
    res = CliRunner().invoke(main, ["plan", str(case / "all.yaml"), "--set", f"usage.until={value}"])
    assert res.exit_code == 1, res.output
    assert message in res.output and "until" in res.output


def test_the_backtest_span_ends_at_until(case):
    res = CliRunner().invoke(main, ["backtest", str(case / "until.yaml"), "--replan-every", "7D", "--format", "json",
                                    "--set", "forecast.lookback_days=14"])
    assert res.exit_code == 0, res.output
    span = json.loads(res.stdout)["span"]
    assert (span["start"], span["end"], span["hours"]) == ("2026-01-15T00:00Z", "2026-01-25T00:00Z", 240)
    assert span["replans"] == ["2026-01-15T00:00Z", "2026-01-22T00:00Z"]


def test_a_backtest_whose_span_until_cuts_away_says_so(case):
    """until 2026-01-15 leaves 14 days, under the 21-day lookback the span starts after: the
    error said to choose --start inside the history and nothing of usage.until (helper 32)."""
    res = CliRunner().invoke(main, ["backtest", str(case / "all.yaml"), "--set", "usage.until=2026-01-15"])
    assert res.exit_code == 1, res.output
    assert "must lie after the first usage hour" in res.output
    assert "(usage.until 2026-01-15T00:00Z ends the history the backtest replays: a later until, or none" in res.output
    whole = CliRunner().invoke(main, ["backtest", str(case / "all.yaml"), "--start", "2026-02-10"])
    assert whole.exit_code == 1 and "usage.until" not in whole.output   # without until, the message as before


def test_an_until_out_of_range_names_where_it_was_given(case):
    """The range check needs the history, so it runs after loading; it named the scenario
    file even for a value given with --set (session 8's leftover). It names the --set item,
    or the file and line."""
    by_set = CliRunner().invoke(main, ["plan", str(case / "all.yaml"), "--set", "usage.until=2025-12-01"])
    assert by_set.exit_code == 1
    assert "error: --set usage.until=2025-12-01, column 'usage.until'" in by_set.output
    assert "all.yaml" not in by_set.output
    (case / "early.yaml").write_text("extends: all.yaml\nusage:\n  until: '2025-12-01'\n")
    in_file = CliRunner().invoke(main, ["plan", str(case / "early.yaml")])
    assert in_file.exit_code == 1
    assert f"error: {case / 'early.yaml'}, line 3, column 'usage.until'" in in_file.output
