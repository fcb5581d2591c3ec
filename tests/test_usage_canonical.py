"""The canonical usage CSV loader (usage/history.py): validation and gap handling.

Every bad input gives an InputError naming file, row and column with a hint, and through
the CLI exit code 1 with nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.usage.history import load_usage_csv

FAM = "aws/us-east-1/p5.48xlarge"
KNOWN = [FAM, "aws/us-east-1/p4d.24xlarge"]
HEADER = "timestamp,family,instances,interruptible_instances\n"


def write(tmp_path, body, header=HEADER):
    p = tmp_path / "usage.csv"
    p.write_text(header + body)
    return p


def good_rows(hours=4):
    return "".join(f"2026-01-01T{h:02d}:00:00Z,{FAM},{h + 1},0\n" for h in range(hours))


def test_loads_wide_profile(tmp_path):
    p = write(tmp_path, good_rows() + "2026-01-01T02:00:00Z,aws/us-east-1/p4d.24xlarge,2.5,1\n")
    prof = load_usage_csv(p, KNOWN)
    assert prof.families == sorted(KNOWN)
    assert list(prof.demand_instances[FAM]) == [1, 2, 3, 4]
    # a family with no row in an hour uses zero instances then
    assert list(prof.demand_instances["aws/us-east-1/p4d.24xlarge"]) == [0, 0, 2.5, 0]
    assert list(prof.interruptible_instances["aws/us-east-1/p4d.24xlarge"]) == [0, 0, 1, 0]
    assert str(prof.index.tz) == "UTC" and len(prof.index) == 4
    assert prof.gaps == ()


@pytest.mark.parametrize("body,row,column,words", [
    (f"2026-01-01T00:00:00,{FAM},1,0\n", 2, "timestamp", "no time zone"),
    (f"2026-01-01T00:00:00+02:00,{FAM},1,0\n", 2, "timestamp", "not in UTC"),
    (f"2026-01-01T00:30:00Z,{FAM},1,0\n", 2, "timestamp", "not on the hour"),
    (f"yesterday,{FAM},1,0\n", 2, "timestamp", "not an ISO 8601"),
    (f"2026-01-01T00:00:00Z,{FAM},1,0\n2026-01-01T00:00:00Z,{FAM},2,0\n", 3, "timestamp", "duplicate"),
    (f"2026-01-01T00:00:00Z,{FAM},-1,0\n", 2, "instances", "negative"),
    (f"2026-01-01T00:00:00Z,{FAM},two,0\n", 2, "instances", "not a number"),
    (f"2026-01-01T00:00:00Z,{FAM},1,2\n", 2, "interruptible_instances", "above instances"),
    ("2026-01-01T00:00:00Z,aws/us-east-1/p5.48xlarg,1,0\n", 2, "family", "Did you mean 'aws/us-east-1/p5.48xlarge'"),
    ("2026-01-01T00:00:00Z,,1,0\n", 2, "family", "missing family"),
])
def test_bad_rows_name_file_row_column(tmp_path, body, row, column, words):
    p = write(tmp_path, body)
    with pytest.raises(InputError) as err:
        load_usage_csv(p, KNOWN)
    e = err.value
    assert (e.file, e.row, e.column) == (str(p), row, column)
    assert words in str(e)
    assert e.hint


def test_missing_column(tmp_path):
    p = write(tmp_path, "2026-01-01T00:00:00Z,x\n", header="timestamp,family\n")
    with pytest.raises(InputError, match="missing column 'instances'"):
        load_usage_csv(p, KNOWN)


def test_gap_refused_by_default_with_span_and_hint(tmp_path):
    body = good_rows(2) + f"2026-01-01T05:00:00Z,{FAM},1,0\n"
    p = write(tmp_path, body)
    with pytest.raises(InputError) as err:
        load_usage_csv(p, KNOWN)
    msg = str(err.value)
    assert "3 hour(s)" in msg and "2026-01-01T02:00Z" in msg and "--gaps" in msg


def test_gap_zero_and_mask(tmp_path):
    body = good_rows(2) + f"2026-01-01T05:00:00Z,{FAM},1,0\n"
    p = write(tmp_path, body)
    zero = load_usage_csv(p, KNOWN, gaps="zero")
    assert list(zero.demand_instances[FAM]) == [1, 2, 0, 0, 0, 1]
    masked = load_usage_csv(p, KNOWN, gaps="mask")
    col = masked.demand_instances[FAM].to_numpy()
    assert np.isnan(col[2:5]).all() and list(col[[0, 1, 5]]) == [1, 2, 1]
    assert masked.masked.sum() == 3
    (gap,) = [g for g in masked.gaps if g.kind == "missing"]
    assert gap.hours == 3


def test_all_zero_run_reported_not_masked(tmp_path):
    body = "".join(f"2026-01-01T{h:02d}:00:00Z,{FAM},{0 if 2 <= h < 6 else 1},0\n" for h in range(8))
    prof = load_usage_csv(write(tmp_path, body), KNOWN)
    assert [(g.kind, g.hours) for g in prof.gaps] == [("all_zero", 4)]
    assert prof.demand_instances[FAM].sum() == 4  # still zero demand, only reported


def test_cli_usage_summarize_bad_file_exit_1_nothing_written(tmp_path):
    p = write(tmp_path, f"2026-01-01T00:00:00,{FAM},1,0\n")
    out = tmp_path / "summary.json"
    res = CliRunner().invoke(main, ["usage", "convert", str(p), "-o", str(out)])
    assert res.exit_code == 1
    assert "row 2" in res.stderr and "timestamp" in res.stderr
    assert not out.exists()


def test_a_repeated_header_column_is_refused(tmp_path):
    """pandas would rename the second 'timestamp' to 'timestamp.1' and read the first one
    silently; a repeated column is ambiguous, so it is refused at row 1."""
    p = write(tmp_path, good_rows(), header="timestamp,family,instances,instances\n")
    with pytest.raises(InputError) as err:
        load_usage_csv(p, KNOWN)
    e = err.value
    assert (e.row, e.column) == (1, "instances") and "appears more than once" in str(e)
