"""Bad input never crashes: every command, fed adversarial files and options, exits with
the code of DESIGN.md section 7 (1 bad input or domain error, 2 usage error) and a message
that names the file, row and column and how to fix it; nothing is half-written.

Each test is a regression test of a crash, a hang or a wrong message found by a
robustness hunt on the command line."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gpuladder.cli_io as cli_io
import gpuladder.solver.layers as layers
from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.pricing.catalog import atomic_write_text
from gpuladder.units import hourly_index
from tiny_catalog import FAMILY, write_tiny_catalog

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ours"


@pytest.fixture()
def case(tmp_path):
    """A tiny catalog, 14 days of usage (2 instances, 3 in the afternoon) and a 2-month
    seasonal scenario."""
    write_tiny_catalog(tmp_path / "cat")
    write_usage(tmp_path / "usage.csv", np.where(np.arange(14 * 24) % 24 > 12, 3.0, 2.0))
    (tmp_path / "s.yaml").write_text(
        "name: t\ncatalog: cat\nusage: usage.csv\nhorizon: {start: '2026-01-15', months: 2}\n"
        "forecast: {method: seasonal, lookback_days: 14}\nproducts: {terms_months: [12]}\n")
    return tmp_path


def write_usage(path: Path, instances, start="2026-01-01") -> Path:
    idx = hourly_index(pd.Timestamp(start, tz="UTC"), pd.Timestamp(start, tz="UTC") + pd.Timedelta(hours=len(instances)))
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                  "instances": instances}).to_csv(path, index=False)
    return path


def run(args, cwd: Path | None = None):
    if cwd is None:
        return CliRunner().invoke(main, [str(a) for a in args])
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def expect(res, code: int, *words: str) -> str:
    """Exit code, no traceback or internal error, and the key words of the message."""
    text = res.output
    assert res.exit_code == code, text
    assert "internal error" not in text and "Traceback" not in text, text
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), repr(res.exception)
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"
    return text


# ---------------------------------------------------------------- outputs (-o, folders)

@pytest.mark.parametrize("args", [
    ["plan", "{s}", "-o", "{d}/nodir/plan.json"],
    ["compare", "{s}", "-o", "{d}/nodir/compare.json"],
    ["backtest", "{s}", "-o", "{d}/nodir/backtest.json"],
    ["catalog", "show", "-o", "{d}/nodir/prices.txt"],
    ["usage", "summarize", "{d}/usage.csv", "-o", "{d}/nodir/summary.txt"],
    ["usage", "convert", "{d}/usage.csv", "-o", "{d}/nodir/usage.csv"],
    ["inventory", "from-export", str(FIXTURES / "cur_legacy_ours.csv"), "-o", "{d}/nodir/inventory.csv"],
])
def test_output_into_a_missing_folder_is_a_usage_error_before_any_work(case, args):
    res = run([a.format(s=case / "s.yaml", d=case) for a in args])
    text = expect(res, 2, "-o", "does not exist", "mkdir -p")
    assert "planning" not in text and not (case / "nodir").exists()


def test_output_folder_that_is_a_file(case):
    expect(run(["plan", case / "s.yaml", "-o", case / "usage.csv" / "plan.json"]), 2, "is a file, not a folder")
    expect(run(["catalog", "export", case / "usage.csv" / "prices"]), 2, "is a file")


def test_output_into_an_unwritable_folder(case, monkeypatch):
    monkeypatch.setattr(cli_io.os, "access", lambda path, mode: False)
    expect(run(["plan", case / "s.yaml", "-o", case / "plan.json"]), 2, "cannot write into the folder")
    expect(run(["catalog", "fetch", "aws", "-o", case / "fetched"]), 2, "cannot write into the folder")


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(case, monkeypatch):
    target = case / "plan.json"
    target.write_text("previous plan\n")

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    expect(run(["plan", case / "s.yaml", "--format", "json", "-o", target]), 1,
           "plan.json", "cannot write the output (No space left on device)", "previous file is unchanged")
    assert target.read_text() == "previous plan\n"
    assert sorted(p.name for p in case.iterdir() if p.name.startswith(".plan.json")) == []


def test_atomic_write_names_the_missing_folder(tmp_path):
    with pytest.raises(InputError, match="the folder .*nodir does not exist") as err:
        atomic_write_text(tmp_path / "nodir" / "x.csv", "x\n")
    assert "mkdir -p" in str(err.value)


# ---------------------------------------------------------------- dates out of range

def test_usage_year_9999_is_refused_with_row_and_column(case):
    (case / "y9999.csv").write_text("timestamp,family,instances\n9999-12-31T23:00:00Z,test/r1/g1,1\n")
    expect(run(["usage", "summarize", case / "y9999.csv"]), 1, "row 2", "column 'timestamp'",
           "'9999-12-31T23:00:00Z' is outside the supported dates", "checking the year")


def test_horizon_and_inventory_dates_out_of_range(case):
    expect(run(["validate", case / "s.yaml", "--set", "horizon.start=9999-01-01"]), 1,
           "horizon.start", "outside the supported dates")
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"r1,test-ri-1y,{FAMILY},1,1800-06-01,1801-06-01\n")
    expect(run(["validate", case / "s.yaml", "--inventory", case / "inv.csv"]), 1,
           "inv.csv, row 2, column 'start'", "'1800-06-01' is outside the supported dates")


def test_inventory_date_errors_show_what_the_file_holds(case):
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"r1,test-ri-1y,{FAMILY},1,2026-02-29,2027-02-28\n"
                                  f"r2,test-ri-1y,{FAMILY},1,2025-06-01T10:30:00Z,2026-06-01T10:30:00Z\n")
    expect(run(["validate", case / "s.yaml", "--inventory", case / "inv.csv"]), 1,
           "row 2, column 'start'", "'2026-02-29' is not an ISO 8601 timestamp", "dates like 2026-01-01")
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"r2,test-ri-1y,{FAMILY},1,2025-06-01T10:30:00Z,2026-06-01T10:30:00Z\n")
    text = expect(run(["validate", case / "s.yaml", "--inventory", case / "inv.csv"]), 1,
                  "row 2, column 'start'", "is not on the hour", "rounding it to the whole hour")
    assert "usage" not in text


def test_export_row_in_year_9999_is_skipped_not_billions_of_hours(case):
    rows = list(csv.reader(open(FIXTURES / "focus_gpu_ours.csv", newline="")))
    rows[1][rows[0].index("ChargePeriodStart")] = "9999-01-01T00:00:00Z"
    with open(case / "focus.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    res = run(["usage", "convert", case / "focus.csv", "-o", case / "out.csv", "--gaps", "zero"])
    expect(res, 0, "unreadable timestamp (e.g. row 2)", "4 hours")
    stamps = pd.read_csv(case / "out.csv")["timestamp"]
    assert stamps.min() == "2026-01-01T00:00:00Z" and stamps.max() == "2026-01-01T03:00:00Z"


# ---------------------------------------------------------------- implausible numbers

def test_usage_instances_too_large(case):
    write_usage(case / "huge.csv", np.full(14 * 24, 1e300))
    expect(run(["validate", case / "s.yaml", "--usage", case / "huge.csv"]), 1,
           "huge.csv, row 2, column 'instances'", "implausibly large", "checking the unit")


@pytest.mark.parametrize("file, old, new, column", [
    ("families.csv", ",4.0,1.5,", ",1e308,1.5,", "on_demand_usd_per_hour"),
    ("families.csv", ",4.0,1.5,", ",4.0,1e308,", "spot_usd_per_hour"),
    ("commitments.csv", "reservation,12,no_upfront", "reservation,1000000,no_upfront", "term_months"),
])
def test_catalog_values_too_large(case, file, old, new, column):
    path = case / "cat" / file
    path.write_text(path.read_text().replace(old, new, 1))
    expect(run(["catalog", "show", "--catalog", case / "cat"]), 1,
           f"{file}, row 2, column '{column}'", "implausibly large")


def test_inventory_quantity_too_large(case):
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"r1,test-ri-1y,{FAMILY},1e308,2025-06-01,2026-06-01\n")
    expect(run(["plan", case / "s.yaml", "--inventory", case / "inv.csv"]), 1,
           "inv.csv, row 2, column 'quantity'", "implausibly large")


def test_growth_compounding_to_absurd_demand_is_a_domain_error(case):
    res = run(["validate", case / "s.yaml", "--set", "forecast.growth_per_month=0.99",
               "--set", "horizon.months=120"])
    expect(res, 1, "forecast of test/r1/g1 reaches", "lowering forecast.growth_per_month (0.99) or horizon.months")


def test_large_demand_layers_use_the_kinks_not_every_integer(case, monkeypatch):
    """900,000 instances varying hour by hour: more kinks than layers, so the layers are
    chosen among integer candidates; those must be the integers next to a kink (at most
    two per distinct demand level), never all 900,000 integers (seconds per family and
    period)."""
    rng = np.random.default_rng(1)
    write_usage(case / "big.csv", np.round(900_000 * (0.7 + 0.3 * rng.random(14 * 24))))
    sizes = []
    adaptive = layers._Curves.adaptive

    def spy(self, candidates, max_layers):
        sizes.append(len(candidates))
        return adaptive(self, candidates, max_layers)

    monkeypatch.setattr(layers._Curves, "adaptive", spy)
    res = run(["plan", case / "s.yaml", "--usage", case / "big.csv", "--set", "forecast.method=replay",
               "--set", "horizon.start=2026-01-01", "--set", "horizon.months=1", "--format", "json"])
    expect(res, 0)
    assert sizes and max(sizes) <= 2 * 14 * 24 + 2
    assert json.loads(res.stdout)["purchases"]


# ---------------------------------------------------------------- scenario YAML and --set

def test_deeply_nested_yaml(case):
    (case / "deep.yaml").write_text("name: " + "[" * 5000 + "\n")
    expect(run(["validate", case / "deep.yaml"]), 1, "deep.yaml", "nested too deeply")
    expect(run(["validate", case / "s.yaml", "--set", "name=" + "[" * 3000]), 2, "nested too deeply")


def test_recursive_alias_and_billion_laughs(case):
    (case / "base.yaml").write_text("catalog: cat\nusage: usage.csv\nconstraints: &c\n  x: *c\n")
    (case / "rec.yaml").write_text("extends: base.yaml\nconstraints: &d\n  x: *d\n")
    expect(run(["validate", case / "rec.yaml"]), 1, "line 2", "constraints.x",
           "an alias (*name) refers to a list or mapping that contains it")
    lines = ['x-a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (case / "laughs.yaml").write_text("\n".join(lines) + "\ncatalog: cat\nusage: usage.csv\n")
    expect(run(["validate", case / "laughs.yaml"]), 1, "expands to more than 100,000 values")


def test_unquoted_exponent_numbers_are_numbers(case):
    """YAML 1.1 reads an unquoted 1e-3 as text; the old message told the user to remove
    quotes that were not there."""
    expect(run(["validate", case / "s.yaml", "--set", "solver.mip_gap=1e-3",
                "--set", "constraints.max_upfront_usd_per_quarter=5e5"]), 0, "ok")
    expect(run(["validate", case / "s.yaml", "--set", "horizon.months=1e3"]), 1,
           "horizon.months", "1000 is out of range")
    expect(run(["validate", case / "s.yaml", "--set", 'solver.mip_gap="1e-3"']), 1, "expected a number")


def test_null_where_text_is_needed(case):
    text = expect(run(["validate", case / "s.yaml", "--set", "catalog=null"]), 1,
                  "catalog: is null (empty)", "removing the key")
    assert 'quoting it: "null"' not in text


def test_set_errors_name_the_set_item_not_the_file(case):
    text = expect(run(["validate", case / "s.yaml", "--set", "horizn.months=3"]), 1,
                  "--set horizn.months=3", "unknown key 'horizn'", "Did you mean 'horizon'?")
    assert "s.yaml" not in text
    text = expect(run(["validate", case / "s.yaml", "--set", "name.x.y=3"]), 1, "--set name.x.y=3", "name:")
    assert "s.yaml" not in text


def test_lookback_days_without_bound(case):
    expect(run(["validate", case / "s.yaml", "--set", "forecast.lookback_days=1e308"]), 1,
           "forecast.lookback_days", "must be <= 36525")


# ---------------------------------------------------------------- CSV files

def test_extra_field_in_the_first_row_is_named_not_shifted(case):
    (case / "u.csv").write_text("timestamp,family,instances\n2026-01-01T00:00:00Z,test/r1/g1,1,extra\n")
    expect(run(["usage", "summarize", case / "u.csv"]), 1, "u.csv, row 2", "4 fields, but the header has 3")
    (case / "inv.csv").write_text("id,product,family,quantity,start,end\n"
                                  f"r1,test-ri-1y,{FAMILY},1,2025-06-01,2026-06-01,x\n")
    expect(run(["validate", case / "s.yaml", "--inventory", case / "inv.csv"]), 1,
           "inv.csv, row 2", "7 fields, but the header has 6")


def test_folder_empty_file_and_latin1_in_catalog_and_inventory(case):
    (case / "invdir").mkdir()
    expect(run(["validate", case / "s.yaml", "--set", f"inventory={case / 'invdir'}"]), 1,
           "invdir: is a folder, not an inventory file")
    com = case / "cat" / "commitments.csv"
    com.write_bytes(com.read_bytes() + "x,test,reservation,12,no_upfront,0,test/r1/g1,2,caf\xe9,2026-01-01\n"
                    .encode("latin-1"))
    expect(run(["catalog", "show", "--catalog", case / "cat"]), 1, "commitments.csv, row 4", "not UTF-8 text")
    (case / "cat" / "families.csv").write_text("")
    expect(run(["catalog", "show", "--catalog", case / "cat"]), 1, "families.csv", "the file is empty")


def test_utf8_character_across_the_first_mebibyte_is_utf8(case):
    """The format sniffer reads the first MiB; a multi-byte character cut at that boundary
    was reported as 'not UTF-8 text'."""
    head = "timestamp,family,instances,note\n"
    idx = hourly_index(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2030-01-01", tz="UTC"))
    lines, size, i = [head], len(head), 0
    while size < (1 << 20) - 200:
        line = f"{idx[i]:%Y-%m-%dT%H:%M:%SZ},{FAMILY},1,x\n"
        lines.append(line)
        size, i = size + len(line), i + 1
    prefix = f"{idx[i]:%Y-%m-%dT%H:%M:%SZ},{FAMILY},1,"
    lines.append(prefix + "a" * ((1 << 20) - size - len(prefix) - 1) + "\u00e9\n")
    lines.append(f"{idx[i + 1]:%Y-%m-%dT%H:%M:%SZ},{FAMILY},1,x\n")
    data = "".join(lines).encode("utf-8")
    assert data[(1 << 20) - 1:(1 << 20) + 1] == "\u00e9".encode("utf-8")
    (case / "u.csv").write_bytes(data)
    expect(run(["usage", "summarize", case / "u.csv"]), 0, f"{i + 2} hours")


# ---------------------------------------------------------------- command-line options

@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf"])
def test_time_limit_must_be_positive_and_finite(case, value):
    expect(run(["plan", case / "s.yaml", "--time-limit", value]), 2, "--time-limit", "positive number of seconds")


@pytest.mark.parametrize("value", ["99999999999999999999h", "10000000D", "100000M", "121M"])
def test_replan_every_too_long(case, value):
    expect(run(["backtest", case / "s.yaml", "--replan-every", value]), 2, "--replan-every",
           "longer than 120 months")


@pytest.mark.parametrize("value, words", [
    ("", "is not a date or time"),
    ("2026-01-08 05:00", "has no time zone"),
    ("9999-01-01", "outside the supported dates"),
])
def test_backtest_start(case, value, words):
    expect(run(["backtest", case / "s.yaml", "--start", value]), 2, "--start", words)


# ---------------------------------------------------------------- inventory from an export

def test_export_commitment_errors_name_the_commitment_not_a_made_up_row(tmp_path):
    rows = list(csv.reader(open(FIXTURES / "cur_legacy_ours.csv", newline="")))
    col = rows[0].index("reservation/NumberOfReservations")
    for r in rows[1:]:
        if r[col]:
            r[col] = "1e308"
    with open(tmp_path / "cur.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    text = expect(run(["inventory", "from-export", tmp_path / "cur.csv"]), 1, "cur.csv: commitment",
                  "reserved-instances/ri-cur-ours-1", "quantity", "implausibly large",
                  "checking that commitment's records in the export")
    assert "row 2" not in text and "column 'quantity'" not in text


# ---------------------------------------------------------------- scenario names vs the catalog

def test_unknown_product_ids_and_providers(case):
    expect(run(["plan", case / "s.yaml", "--set", "products.ids=[test-ri-1yy]"]), 1,
           "products.ids: 'test-ri-1yy' is not in the catalog", "Did you mean 'test-ri-1y'?")
    expect(run(["validate", case / "s.yaml", "--set", "products.providers=[asw]"]), 1,
           "products.providers: 'asw'", "Did you mean 'aws'?")


def test_silent_no_ops_become_warnings(case):
    """(A spot_cap family the catalog lacks was a warning here; it is an input error now,
    see tests/test_scenario_family_keys.py.)"""
    res = run(["plan", case / "s.yaml", "--format", "json", "--set", "products.terms_months=[7]",
               "--set", "horizon.start=2020-01-01"])
    expect(res, 0)
    warnings = " | ".join(json.loads(res.stdout)["warnings"])
    assert "no catalog product passes the scenario's filter" in warnings
    res = run(["plan", case / "s.yaml", "--set", "constraints.spot_cap={test/r1/g2: 0.1}"])
    expect(res, 1, "constraints.spot_cap: the family 'test/r1/g2' is not in the catalog", "Did you mean 'test/r1/g1'?")
    assert "horizon.start 2020-01-01T00:00Z is not after the last usage hour" in warnings
    assert "forecast: test/r1/g1: only 14.0 days of demand" in warnings


def test_validate_offers_no_solver_options():
    """validate never solves: --backend and --time-limit are not its options (usage error),
    while plan keeps them."""
    runner = CliRunner()
    assert "--backend" not in runner.invoke(main, ["validate", "--help"]).output
    assert "--backend" in runner.invoke(main, ["plan", "--help"]).output
    res = runner.invoke(main, ["validate", "--backend", "cbc"])
    assert res.exit_code == 2 and "No such option" in res.output


def test_summarize_refuses_an_implausible_export_amount_as_convert_does(case):
    """A ConsumedQuantity of 1e308 printed as inf in `usage summarize`; it is refused there
    with the same limit `usage convert` and `plan` apply."""
    rows = list(csv.reader(open(FIXTURES / "focus_gpu_ours.csv", newline="")))
    rows[1][rows[0].index("ConsumedQuantity")] = "1e308"
    with open(case / "focus.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    res = run(["usage", "summarize", case / "focus.csv"])
    expect(res, 1, "focus.csv", "implausibly large", "more than 1,000,000")
    assert "inf" not in res.output
