"""Dates a user types are ISO 8601 only (gpuladder/isotime.py), and two smaller findings of
the session-9 new-user review (helper 35).

- A day-first date (1.9.2027, 01/09/2027, 01-09-2027) or one with a month name was read by
  pandas month-first without a word: ``inventory record --through 1.9.2027`` recorded what
  is dated up to 9 January, ``--set 'horizon.start=01/12/2026 00:00Z'`` started the horizon
  on 12 January, ``backtest --start 30/10/2026`` guessed. Now refused, naming the key or
  option and the text, with the ISO readings of the date as the fix: exit 1 for a scenario
  value (as any bad scenario value), exit 2 for a command-line option (as a malformed
  --time-limit). ISO forms keep their meaning; the echo of --through is the date read.
- A path of the scenario that does not exist named only the path: now also where it was
  written (file and line, the --set item, --usage / --catalog / --inventory) and what a
  relative path there is relative to.
- ``usage summarize`` gave the exclusive end of the span and ``validate`` the last hour,
  both after "to": both now say the first and the last hour.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import _backtest_start, main
from gpuladder.errors import InputError
from gpuladder.isotime import iso_hint, parse_iso
from gpuladder.scenarios.loader import load_scenario

FAMILY = "aws/us-east-1/p5.48xlarge"
DAY_FIRST = ["1.9.2027", "01/09/2027", "01-09-2027"]
READINGS = "2027-09-01 for 1 September or 2027-01-09 for 9 January"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def case(tmp_path, monkeypatch):
    """48 hours of 2 p5 instances from 2026-11-01 (first hour 2026-11-01T00:00Z, last hour
    2026-11-02T23:00Z) and a scenario naming them on its line 2; the current directory is
    an empty folder beside it."""
    idx = pd.date_range("2026-11-01", periods=48, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY, "instances": 2}).to_csv(
        tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: iso\nusage: usage.csv\nhorizon: {start: '2026-12-01', months: 1}\n"
                                     "forecast: {method: replay}\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path


# ---------------------------------------------------------------- the shared check

@pytest.mark.parametrize("text, hint", [
    ("1.9.2027", READINGS),
    ("01/12/2026 00:00Z", "2026-12-01T00:00Z for 1 December or 2026-01-12T00:00Z for 12 January"),
    ("30/10/2026", "2026-10-30 for 30 October (ISO 8601: the year first)"),   # 30 is no month
    ("Sep 1 2027", "2027-09-01 (ISO 8601: YYYY-MM-DD)"),
    ("1 September 2027", "2027-09-01 (ISO 8601: YYYY-MM-DD)"),
    ("2026-12-1", "2026-12-01 (ISO 8601: YYYY-MM-DD, the month and the day in two digits)"),
    ("soon", "an ISO 8601 date or time: YYYY-MM-DD (00:00 UTC), or YYYY-MM-DDTHH:MM with Z or +HH:MM"),
])
def test_what_is_not_iso_is_refused_with_its_iso_readings(text, hint):
    with pytest.raises(ValueError, match="not ISO 8601"):
        parse_iso(text)
    assert iso_hint(text).startswith(hint)


@pytest.mark.parametrize("text, expected", [
    ("2026-12-01", pd.Timestamp("2026-12-01")),
    ("2026-12-01T06:00Z", pd.Timestamp("2026-12-01T06:00", tz="UTC")),
    ("2026-12-01 06:00:00Z", pd.Timestamp("2026-12-01T06:00", tz="UTC")),
    ("2026-12-01T08:00+02:00", pd.Timestamp("2026-12-01T06:00", tz="UTC")),
    ("2026-12-01T08:00+0200", pd.Timestamp("2026-12-01T06:00", tz="UTC")),
])
def test_iso_forms_read_as_written(text, expected):
    ts = parse_iso(text)
    assert ts == expected and (ts.tzinfo is None) == (expected.tzinfo is None)


@pytest.mark.parametrize("text, reason", [
    ("2026-12-01T00:00+99:00", "the UTC offset +99:00 is not one (hours 00-23, minutes 00-59)"),
    ("2026-12-01T00:00+05:70", "the UTC offset +05:70 is not one"),
    ("2026-02-30", "day is out of range for month"),
])
def test_an_iso_form_that_is_no_real_time_says_why(text, reason):
    """ISO in form but not a real time: the reason in full (helper 38: pandas' text was cut
    at its first colon, 'Parsed string "2026-12-01T00')."""
    with pytest.raises(ValueError) as err:
        parse_iso(text)
    assert str(err.value).startswith(reason) and "Parsed string" not in str(err.value)


# ---------------------------------------------------------------- scenario keys (exit 1)

@pytest.mark.parametrize("key", ["horizon.start", "usage.until"])
@pytest.mark.parametrize("text", [*DAY_FIRST, "Sep 1 2027"])
def test_a_scenario_date_that_is_not_iso_is_refused(case, key, text):
    res = run("validate", case / "s.yaml", "--set", f"{key}={text}")
    assert res.exit_code == 1, res.output
    assert f"--set {key}={text}: {key}: '{text}' is not a date: not ISO 8601" in res.output
    assert "2027-09-01" in res.output and "ok" not in res.output


def test_a_day_first_time_with_a_zone_no_longer_starts_the_horizon_in_january(case):
    """It said ok and started the horizon 2026-01-12; without the Z it said 'naive', which
    invited adding the Z."""
    for text in ("01/12/2026 00:00Z", "01/12/2026"):
        res = run("validate", case / "s.yaml", "--set", f"horizon.start={text}")
        assert res.exit_code == 1, res.output
        assert f"'{text}' is not a date: not ISO 8601" in res.output and "naive" not in res.output
        assert "2026-12-01" in res.output and "for 1 December or 2026-01-12" in res.output


def test_in_a_scenario_file_the_error_names_the_line(case):
    (case / "s.yaml").write_text("usage: usage.csv\nhorizon:\n  start: 1.12.2026\n")
    with pytest.raises(InputError) as info:
        load_scenario(case / "s.yaml")
    assert str(info.value).startswith(f"{case / 's.yaml'}, line 3: horizon.start: '1.12.2026' is not a date")
    assert "You can fix this by writing 2026-12-01 for 1 December or 2026-01-12 for 12 January" in str(info.value)


def test_yaml_times_are_checked_as_written(case):
    """YAML reads an unquoted 2026-1-1T0:00:00Z as a time; the text is not ISO 8601."""
    (case / "s.yaml").write_text("usage: usage.csv\nhorizon: {start: 2026-1-1T0:00:00Z}\n")
    with pytest.raises(InputError, match=r"(?s)line 2: horizon.start: '2026-1-1T0:00:00Z' is not a date.*"
                                         r"writing 2026-01-01T00:00:00Z \(ISO 8601"):
        load_scenario(case / "s.yaml")


@pytest.mark.parametrize("text, start", [
    ("2026-12-01", "2026-12-01T00:00Z"),            # a date alone: 00:00 UTC
    ("'2026-12-01T00:00Z'", "2026-12-01T00:00Z"),
    ("2026-12-01T00:00:00Z", "2026-12-01T00:00Z"),  # YAML's own time
    ("'2026-12-01T02:00+02:00'", "2026-12-01T00:00Z"),
    ("2026-12-01 02:00:00+02:00", "2026-12-01T00:00Z"),
])
def test_iso_scenario_dates_keep_their_meaning(case, text, start):
    sc = load_scenario(case / "s.yaml", [f"horizon.start={text}", f"usage.until={text}"])
    assert f"{sc.horizon.start:%Y-%m-%dT%H:%MZ}" == f"{sc.usage.until:%Y-%m-%dT%H:%MZ}" == start
    assert str(sc.horizon.start.tz) == "UTC"


# ---------------------------------------------------------------- inventory record --through (exit 2)

def _plan_json(folder):
    """Four purchases dated 2027-01-01, 2027-01-09, 2027-03-01 and 2027-09-01."""
    dates = ["2027-01-01", "2027-01-09", "2027-03-01", "2027-09-01"]
    doc = {"schema": "gpuladder.plan/1",
           "horizon": {"start": "2027-01-01T00:00Z", "months": 12, "end": "2028-01-01T00:00Z",
                       "next_step": "2027-02-01T00:00Z"},
           "purchases": [{"id": f"gl-{d}-ri", "product": "ri", "kind": "reservation", "family": FAMILY,
                          "quantity": 1, "date": d, "expires": f"{int(d[:4]) + 1}{d[4:]}"} for d in dates]}
    (folder / "plan.json").write_text(json.dumps(doc))
    return folder / "plan.json"


@pytest.mark.parametrize("text", [*DAY_FIRST, "Sep 1 2027"])
def test_through_that_is_not_iso_is_a_usage_error(tmp_path, text):
    """1.9.2027 recorded the 2 purchases dated up to 9 January ('dated up to 1.9.2027')."""
    res = run("inventory", "record", _plan_json(tmp_path), "--through", text, "-o", tmp_path / "inv.csv")
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '--through': '{text}' is not an ISO 8601 date; give 2027-09-01" in res.output
    assert not (tmp_path / "inv.csv").exists()


@pytest.mark.parametrize("text, recorded, echo", [
    ("2027-09-01", 4, "dated up to 2027-09-01"),
    ("2027-01-09", 2, "dated up to 2027-01-09"),
    ("2027-09-01T00:00:00+00:00", 4, "dated up to 2027-09-01T00:00Z"),
    ("2027-03-01T06:00Z", 3, "dated up to 2027-03-01T06:00Z"),
])
def test_through_echoes_the_iso_date_it_read(tmp_path, text, recorded, echo):
    res = run("inventory", "record", _plan_json(tmp_path), "--through", text, "-o", tmp_path / "inv.csv")
    assert res.exit_code == 0, res.output
    assert f"recorded {recorded} purchases {echo}:" in res.stderr
    assert len((tmp_path / "inv.csv").read_text().splitlines()) == 1 + recorded


def test_through_in_python_says_the_same(tmp_path):
    from gpuladder.usage.inventory_record import record_purchases

    with pytest.raises(InputError, match=f"--through '1.9.2027' is not an ISO 8601 date\n.*{READINGS}"):
        record_purchases(_plan_json(tmp_path), None, "1.9.2027")


# ---------------------------------------------------------------- backtest --start (exit 2)

@pytest.mark.parametrize("text, hint", [
    ("1.11.2026", "2026-11-01 for 1 November or 2026-01-11 for 11 January"),
    ("30/10/2026", "2026-10-30 for 30 October"),
    ("Oct 30 2026", "2026-10-30"),
])
def test_backtest_start_that_is_not_iso_is_a_usage_error(case, text, hint):
    res = run("backtest", case / "s.yaml", "--start", text)
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '--start': '{text}' is not a date or time: not ISO 8601; write {hint}" in res.output


@pytest.mark.parametrize("text, expected", [
    ("2026-10-30", "2026-10-30T00:00Z"),
    ("2026-10-30T06:00Z", "2026-10-30T06:00Z"),
    ("2026-10-30T08:00+02:00", "2026-10-30T06:00Z"),
])
def test_backtest_start_iso_forms(text, expected):
    assert f"{_backtest_start(None, None, text):%Y-%m-%dT%H:%MZ}" == expected


# ---------------------------------------------------------------- a missing path names where it was written

def test_a_missing_usage_file_names_the_scenario_line(case):
    """A copy of the scenario elsewhere: its relative usage path no longer resolves."""
    (case / "elsewhere" / "my2.yaml").write_text((case / "s.yaml").read_text())
    res = run("validate", "my2.yaml")
    assert res.exit_code == 1, res.output
    mine = case / "elsewhere" / "my2.yaml"
    assert (f"{mine}, line 2: usage.path: usage file not found: {case / 'elsewhere' / 'usage.csv'}"
            in res.output)
    assert f"relative to that file's folder ({case / 'elsewhere'}), not to the current directory" in res.output


@pytest.mark.parametrize("option, key, looked_for", [
    (("--usage", "nope.csv"), "usage.path", "usage file not found: {cwd}/nope.csv"),
    (("--set", "usage.path=nope.csv"), "usage.path", "usage file not found: {cwd}/nope.csv"),
    (("--inventory", "inv.csv"), "inventory", "inventory file not found: {cwd}/inv.csv"),
    (("--catalog", "cat"), "catalog", "catalog folder not found: {cwd}/cat"),
    (("--set", "catalog=[embedded, cat]"), "catalog[1]", "catalog folder not found: {cwd}/cat"),
])
def test_a_missing_path_from_the_command_line_names_the_option(case, option, key, looked_for):
    res = run("validate", case / "s.yaml", *option)
    assert res.exit_code == 1, res.output
    cwd = case / "elsewhere"
    given = "--set" if option[0] == "--set" else option[0]
    assert f"error: {' '.join(option)}: {key}: {looked_for.format(cwd=cwd)}" in res.output
    assert f"a relative path given with {given} is relative to the current directory ({cwd})" in res.output


def test_a_catalog_folder_without_its_files_and_a_missing_inventory_in_the_file(case):
    (case / "cat").mkdir()
    (case / "s.yaml").write_text("usage: usage.csv\ncatalog: [embedded, cat]\n")
    res = run("validate", case / "s.yaml")
    assert res.exit_code == 1, res.output
    assert f"s.yaml, line 2: catalog[1]: catalog folder {case / 'cat'} has no families.csv" in res.output
    (case / "s.yaml").write_text("usage: usage.csv\n\ninventory: held.csv\n")
    res = run("validate", case / "s.yaml")
    assert res.exit_code == 1, res.output
    assert f"s.yaml, line 3: inventory: inventory file not found: {case / 'held.csv'}" in res.output


# ---------------------------------------------------------------- one span, said one way

def test_summarize_and_validate_say_the_same_span(case):
    span = "first hour 2026-11-01T00:00Z, last hour 2026-11-02T23:00Z"
    summary = run("usage", "summarize", case / "usage.csv")
    assert summary.exit_code == 0, summary.output
    assert f"span:    {span} (48 hours)" in summary.stdout.splitlines()
    valid = run("validate", case / "s.yaml")
    assert valid.exit_code == 0, valid.output
    assert f"usage: {span}, 48 hours, 1 family" in valid.stdout.splitlines()
    doc = json.loads(run("usage", "summarize", case / "usage.csv", "--format", "json").stdout)
    # the JSON keeps its documented meaning: the end is exclusive
    assert doc["span"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
