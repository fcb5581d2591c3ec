"""Review of session 8's re-ladder features (helper 32): `inventory record` with hand-edited
plan JSON and odd inventory headers, and `usage.until` cut inside a gap or before a family's
first use. Each test failed on the code before its fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.usage.inventory_record import record_purchases
from tiny_catalog import FAMILY, write_tiny_catalog

HEADER = "id,product,family,quantity,start,end\n"
FIRST = "gl-2026-01-01-test-ri-1y-r1-g1"
RENEWAL = "gl-2026-01-15-test-ri-1y-r1-g1"


def _purchase(pid: str, date: str, expires: str) -> dict:
    return {"id": pid, "date": date, "provider": "test", "product": "test-ri-1y", "kind": "reservation",
            "family": FAMILY, "scope": None, "term_months": 12, "payment": "no_upfront", "quantity": 2.0,
            "upfront_usd": 0.0, "recurring_usd_per_hour": 5.0, "expires": expires, "estimate": False}


def _plan_file(tmp_path, **horizon) -> str:
    """A quarterly ladder from 2026-01-01: a purchase on the 1st and a renewal on 01-15,
    both before the next step 2026-04-01, and one on 2026-07-01."""
    doc = {"schema": "gpuladder.plan/1",
           "horizon": {"start": "2026-01-01T00:00Z", "months": 12, "end": "2027-01-01T00:00Z",
                       "next_step": "2026-04-01T00:00Z", **horizon},
           "purchases": [_purchase(FIRST, "2026-01-01", "2027-01-01"),
                         _purchase(RENEWAL, "2026-01-15", "2027-01-15"),
                         _purchase("gl-2026-07-01-test-ri-1y-r1-g1", "2026-07-01", "2027-07-01")]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    return str(path)


def run(*args):
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------- inventory record

@pytest.mark.parametrize("next_step, message", [
    ("soon", "horizon.next_step 'soon' is not an ISO 8601 date"),
    (5, "horizon.next_step 5 is not text"),
    ("2026-04-01T00:00+02:00", "horizon.next_step '2026-04-01T00:00+02:00' is not in UTC"),
    ("2025-06-01T00:00Z", "horizon.next_step 2025-06-01T00:00Z is not after horizon.start"),
    ("2030-01-01T00:00Z", "horizon.next_step 2030-01-01T00:00Z is not after horizon.start 2026-01-01T00:00Z and "
                          "up to horizon.end 2027-01-01T00:00Z"),
])
def test_a_hand_edited_next_step_is_refused_not_ignored(tmp_path, next_step, message):
    """It fell back to the first purchase date without a word: the renewal on 01-15 was not
    recorded (the bug 7e72a87 fixed came back), or a past step recorded nothing."""
    plan = _plan_file(tmp_path, next_step=next_step)
    res = run("inventory", "record", plan, "-o", str(tmp_path / "inv.csv"))
    assert res.exit_code == 1, res.output
    assert message in res.stderr and "plan.json" in res.stderr and "--through DATE" in res.stderr
    assert not (tmp_path / "inv.csv").exists()


def test_a_horizon_that_is_not_an_object_is_refused(tmp_path):
    path = tmp_path / "plan.json"
    doc = json.loads(open(_plan_file(tmp_path)).read())
    doc["horizon"] = ["2026-01-01"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="'horizon' is not an object"):
        record_purchases(path)


def test_a_missing_or_null_next_step_still_falls_back_to_the_first_date(tmp_path):
    """What an older plan JSON (no next_step) gets: the first purchase date only."""
    for value in (None, "absent"):
        plan = _plan_file(tmp_path, next_step=value)
        if value == "absent":
            doc = json.loads(open(plan).read())
            del doc["horizon"]["next_step"]
            open(plan, "w").write(json.dumps(doc))
        rec = record_purchases(plan)
        assert rec.added_ids == (FIRST,) and rec.later_purchases == 2
    assert record_purchases(_plan_file(tmp_path)).added_ids == (FIRST, RENEWAL)


def test_a_header_with_spaces_before_quoted_names_gets_its_values(tmp_path):
    """`id, "product", "family",...` reads as product and family (the loader skips the
    space before a quote); the rows were appended with product and family empty."""
    write_tiny_catalog(tmp_path / "cat")
    inv = tmp_path / "inv.csv"
    inv.write_text('id, "product", "family",quantity,start,end\n'
                   f'old, "test-ri-1y", "{FAMILY}",1,2025-06-01,2026-06-01\n')
    res = run("inventory", "record", _plan_file(tmp_path), "--inventory", str(inv), "-o", str(inv))
    assert res.exit_code == 0, res.output
    assert inv.read_text().splitlines()[2:] == [f"{FIRST},test-ri-1y,{FAMILY},2,2026-01-01,2027-01-01",
                                                f"{RENEWAL},test-ri-1y,{FAMILY},2,2026-01-15,2027-01-15"]
    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.usage.inventory import load_inventory

    book = load_inventory(inv, open_catalog([str(tmp_path / "cat")]))
    assert sorted(book.items["id"]) == sorted(["old", FIRST, RENEWAL])


@pytest.mark.parametrize("through", ["2026-13-01", "", "2026-01-15T06:00", "soon"])
def test_a_malformed_through_is_a_usage_error(tmp_path, through):
    """A bad option value exits 2 (DESIGN: usage error), as backtest --start's does; it was
    exit 1 with a hint about the plan JSON's time zones."""
    res = run("inventory", "record", _plan_file(tmp_path), "--through", through)
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--through'" in res.output and "plan JSON" not in res.output
    assert "2026-12-01" in res.output


def test_a_good_through_still_selects(tmp_path):
    res = run("inventory", "record", _plan_file(tmp_path), "--through", "2026-01-15T00:00Z")
    assert res.exit_code == 0, res.output
    assert res.stdout == HEADER + (f"{FIRST},test-ri-1y,{FAMILY},2,2026-01-01,2027-01-01\n"
                                   f"{RENEWAL},test-ri-1y,{FAMILY},2,2026-01-15,2027-01-15\n")


# ---------------------------------------------------------------- usage.until

def _usage(tmp_path, gap: tuple[str, str] | None = None, late_family: bool = False):
    """Five weeks from 2026-01-01 of a weekly pattern (6-9 instances) of FAMILY; ``gap``: hours
    with no row; ``late_family``: a second family used only from 2026-01-30."""
    write_tiny_catalog(tmp_path / "cat")
    if late_family:
        (tmp_path / "cat" / "families.csv").open("a").write(
            "test/r1/g2,test,r1,g2,H100,8,4.0,1.5,<5%,test fixture (ours),2026-01-01\n")
    idx = pd.date_range("2026-01-01", "2026-02-04 23:00", freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                         "instances": 6.0 + 2.0 * (idx.day_of_week < 5) + rng.integers(0, 2, len(idx))})
    if late_family:
        late = idx >= pd.Timestamp("2026-01-30", tz="UTC")
        rows = pd.concat([rows, pd.DataFrame({"timestamp": rows["timestamp"][late], "family": "test/r1/g2",
                                              "instances": 4.0})]).sort_values(["timestamp", "family"])
    if gap is not None:
        ts = pd.to_datetime(rows["timestamp"], utc=True)
        rows = rows[(ts < pd.Timestamp(gap[0], tz="UTC")) | (ts >= pd.Timestamp(gap[1], tz="UTC"))]
    rows.to_csv(tmp_path / "usage.csv", index=False)
    return rows


def _scenario(tmp_path, name: str, usage: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text("name: u\ncatalog: cat\nforecast: {method: seasonal, lookback_days: 21}\n"
                    "horizon: {months: 2}\nproducts: {terms_months: [12]}\nsolver: {time_limit_s: 30}\n"
                    f"usage: {usage}\n")
    return str(path)


def _plan(scenario, *extra):
    res = run("plan", scenario, "--format", "json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("gaps, until, left_out", [("mask", "2026-01-28", "216 hour(s) after it (9.0 days)"),
                                                   ("zero", "2026-01-28", "216 hour(s) after it (9.0 days)"),
                                                   ("mask", "2026-01-28T12:00Z", "216 hour(s) after it (9.0 days)")])
def test_an_until_inside_a_gap_plans_as_the_file_ending_before_it(tmp_path, gaps, until, left_out):
    """No data from 01-27T00 to 01-28T12; until 01-28T00 falls in it (01-28T12 ends it). A
    file whose rows end there ends at 01-26T23 (its gap is no gap, nothing follows). The cut
    kept the gap's hours as the history's end: the horizon started at until (not 01-27), the
    seasonal forecast was shifted, the note said the history ends an hour before until."""
    rows = _usage(tmp_path, gap=("2026-01-27", "2026-01-28T12:00"))
    ts = pd.to_datetime(rows["timestamp"], utc=True)
    rows[ts < pd.Timestamp("2026-01-27", tz="UTC")].to_csv(tmp_path / "cut.csv", index=False)
    plan = _plan(_scenario(tmp_path, "until", f"{{path: usage.csv, gaps: {gaps}, until: '{until}'}}"))
    cut = _plan(_scenario(tmp_path, "cut", f"{{path: cut.csv, gaps: {gaps}}}"))
    assert plan["horizon"] == cut["horizon"] and plan["horizon"]["start"] == "2026-01-27T00:00Z"
    assert plan["purchases"] == cut["purchases"] and plan["kpis"] == cut["kpis"] and plan["purchases"]
    note = (f"usage.until {pd.Timestamp(until, tz='UTC'):%Y-%m-%dT%H:%MZ}: the history ends 2026-01-26T23:00Z "
            "(usage.until falls in the gap with no data from 2026-01-27T00:00Z, so the history ends before it); "
            f"the {left_out} are left out")
    assert note in plan["warnings"]
    assert not any("no data" in w and "usage 2026-01-27" in w for w in plan["warnings"])


def test_a_family_used_only_after_until_is_left_out(tmp_path):
    """test/r1/g2 starts 01-30; cut at 01-29 it stayed in the plan as an all-zero family (a
    mix row of zeros, a 'forecast zero' warning), unlike the file that ends there."""
    rows = _usage(tmp_path, late_family=True)
    rows[pd.to_datetime(rows["timestamp"], utc=True) < pd.Timestamp("2026-01-29", tz="UTC")].to_csv(
        tmp_path / "cut.csv", index=False)
    until = _plan(_scenario(tmp_path, "until", "{path: usage.csv, until: '2026-01-29'}"))
    cut = _plan(_scenario(tmp_path, "cut", "cut.csv"))
    assert [m["family"] for m in until["mix"]] == [FAMILY] and until["mix"] == cut["mix"]
    assert until["purchases"] == cut["purchases"]
    assert not any("test/r1/g2" in w and "forecast" in w for w in until["warnings"])
    assert any("the family used only from then on (test/r1/g2) left out too" in w for w in until["warnings"])
    whole = _plan(_scenario(tmp_path, "all", "usage.csv"))
    assert {m["family"] for m in whole["mix"]} == {FAMILY, "test/r1/g2"}
