"""UTC designators in data files: Z, +00, +0000 and +00:00 are the same instant; any other
offset (with or without minutes) is refused as not UTC, like a naive timestamp is refused
as naive. An unpadded scenario date (2026-12-1) is named as such, not as naive."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.usage.history import parse_utc_timestamps

FIVE_UTC = pd.Timestamp("2026-09-01T05:00:00Z")


@pytest.mark.parametrize("text", ["2026-09-01T05:00:00+00", "2026-09-01T05:00:00+0000", "2026-09-01T05:00:00+00:00",
                                  "2026-09-01T05:00:00Z", "2026-09-01T05:00:00-00", "2026-09-01 05:00+00"])
def test_utc_designators_are_accepted(text):
    assert parse_utc_timestamps(pd.Series([text]), file="u.csv")[0] == FIVE_UTC


@pytest.mark.parametrize("text", ["2026-09-01T05:00:00+02", "2026-09-01T05:00:00-0130", "2026-09-01T05:00:00+05:30"])
def test_other_offsets_are_not_utc(text):
    with pytest.raises(InputError) as info:
        parse_utc_timestamps(pd.Series(["2026-09-01T04:00:00Z", text]), file="u.csv")
    assert str(info.value).startswith(f"u.csv, row 1, column 'timestamp': timestamp '{text}' is not in UTC")


@pytest.mark.parametrize("text", ["2026-09-01T05:00:00", "2026-09-01"])
def test_naive_stays_naive(text):
    """A plain date ends in -01: that is a day, not an offset."""
    with pytest.raises(InputError, match=r"has no time zone \(naive\)"):
        parse_utc_timestamps(pd.Series([text]), file="u.csv")


def test_usage_file_with_hour_offsets_loads(tmp_path):
    from gpuladder.usage.history import load_usage_csv

    rows = "".join(f"2026-09-01T{h:02d}:00:00+00,aws/us-east-1/p5.48xlarge,2\n" for h in range(3))
    (tmp_path / "u.csv").write_text("timestamp,family,instances\n" + rows)
    profile = load_usage_csv(tmp_path / "u.csv")
    assert list(profile.index) == list(pd.date_range(FIVE_UTC - pd.Timedelta(hours=5), periods=3, freq="h"))


@pytest.mark.parametrize("given, fixed", [("2026-12-1", "2026-12-01"), ("2026-1-5", "2026-01-05")])
def test_unpadded_horizon_start_says_so(given, fixed):
    res = CliRunner().invoke(main, ["validate", "--set", f"horizon.start='{given}'"])
    assert res.exit_code == 1
    assert f"horizon.start: '{given}' is not a YYYY-MM-DD date: the month and the day need two digits" in res.output
    assert f"writing {fixed}." in res.output and "naive" not in res.output
