"""Review 5: the quarterly re-ladder path from a real billing export (usage convert,
inventory from-export, plan's JSON for scripts) and the bugs found on it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main

P5 = "aws/us-east-1/p5.48xlarge"


def run(args):
    return CliRunner().invoke(main, args)


def strict_json(text: str):
    """json.loads that refuses NaN / Infinity, as JSON.parse, Go and jq --strict readers do."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def sp_and_ri_expiring(tmp_path):
    """January 2026 of 3 p5 instances; an inventory (as `inventory from-export` writes it)
    with a compute savings plan (family empty) and a reservation, both ending in January."""
    idx = pd.date_range("2026-01-01", "2026-01-31 23:00", freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": P5, "instances": 3.0}).to_csv(
        tmp_path / "usage.csv", index=False)
    (tmp_path / "inv.csv").write_text(
        "id,product,family,quantity,start,end\n"
        "sp-1,aws-csp-1y-no_upfront,,50,2025-01-15T00:00:00Z,2026-01-15T00:00:00Z\n"
        f"ri-1,aws-ri-1y-no_upfront,{P5},1,2025-01-20T00:00:00Z,2026-01-20T00:00:00Z\n")
    (tmp_path / "s.yaml").write_text(
        "usage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
        "forecast: {method: replay}\nproducts: {providers: [aws], terms_months: [12]}\n")
    return tmp_path


def test_plan_json_is_strict_json_when_a_savings_plan_expires(sp_and_ri_expiring):
    # the savings plan's empty family read as NaN and was written as the bare token NaN,
    # which JSON.parse (and every strict reader) refuses
    res = run(["plan", str(sp_and_ri_expiring / "s.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = strict_json(res.stdout)
    by_id = {e["id"]: e for e in doc["expiring"]}
    assert by_id["sp-1"]["family"] is None
    assert by_id["ri-1"]["family"] == P5
    assert by_id["sp-1"]["expires"] == "2026-01-15T00:00Z" and by_id["sp-1"]["quantity"] == 50


CUR_HEADER = ("lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UsageType,"
              "lineItem/UsageAmount,lineItem/ResourceId\n")


def cur_rows(hours, *, start="2026-01-01", impossible: int = 0, resource=lambda h, i: f"i-{h:06x}{i:04x}",
             instances: int = 2) -> str:
    """Hourly on-demand p5 rows (``instances`` one-instance rows an hour), the first
    ``impossible`` hours dated on 2026-02-30."""
    out = []
    for h, t in enumerate(pd.date_range(start, periods=hours, freq="h", tz="UTC")):
        s = "2026-02-30T00:00:00Z" if h < impossible else f"{t:%Y-%m-%dT%H:%M:%SZ}"
        e = f"{t + pd.Timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
        out += [f"Usage,{s},{e},USE1-BoxUsage:p5.48xlarge,1,{resource(h, i)}\n" for i in range(instances)]
    return "".join(out)


def test_impossible_dates_are_counted_without_a_pandas_warning(tmp_path):
    # 2026-02-30 falls back to value-by-value parsing, which printed pandas' "Could not
    # infer format ... falling back to dateutil" as a gpuladder warning
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + cur_rows(200, impossible=3))
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--catalog", "embedded"])
    assert res.exit_code == 0, res.output
    assert "dateutil" not in res.output and "infer format" not in res.output
    assert "6 row(s) unreadable timestamp (e.g. row 2)" in res.output
    u = pd.read_csv(tmp_path / "u.csv")
    assert len(u) == 197 and (u["instances"] == 2).all()


def test_unmatched_hint_reads_once_by(tmp_path):
    # a commitment that only lacks fields (no CUR columns to point to) read "fix this by by writing"
    f = tmp_path / "focus.csv"
    f.write_text("ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ConsumedQuantity,CommitmentDiscountId,"
                 "CommitmentDiscountType,ProviderName\n"
                 "2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,Purchase,1,cd-1,Reservation,Contoso\n")
    res = run(["inventory", "from-export", str(f)])
    assert res.exit_code == 1
    assert "by by" not in res.output
    assert "You can fix this by writing those rows by hand, or by passing --skip-unmatched" in res.output


def test_usage_path_that_is_a_folder_says_so(tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "s.yaml").write_text("usage: exports\nhorizon: {start: '2026-01-01', months: 1}\n")
    res = run(["validate", str(tmp_path / "s.yaml")])
    assert res.exit_code == 1
    assert "is a folder, not a file" in res.output and "not found" not in res.output


# ---------------------------------------------------------------- the same usage twice

FOCUS_HEADER = ("ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ConsumedQuantity,ConsumedUnit,ProviderName,"
                "RegionId,ChargeDescription,ResourceId,PricingCategory,CommitmentDiscountId\n")


def focus_rows(hours, instances=2, quantity="1") -> str:
    out = []
    for h, t in enumerate(pd.date_range("2026-01-01", periods=hours, freq="h", tz="UTC")):
        e = t + pd.Timedelta(hours=1)
        out += [f"{t:%Y-%m-%d %H:%M:%S},{e:%Y-%m-%d %H:%M:%S},Usage,{quantity},Hours,AWS,us-east-1,"
                f"$55.04 per On Demand Linux p5.48xlarge Instance Hour,"
                f"arn:aws:ec2:us-east-1:111122223333:instance/i-{h:06x}{i:04x},Standard,\n" for i in range(instances)]
    return "".join(out)


def test_cur_month_joined_twice_is_refused_naming_rows_and_column(tmp_path):
    # two downloads of the same CUR month joined into one file: every instance-hour billed
    # twice; it read as twice the demand, and a plan bought twice the commitments
    body = cur_rows(200)
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + body + body)
    out = tmp_path / "u.csv"
    res = run(["usage", "convert", str(f), "-o", str(out), "--catalog", "embedded"])
    assert res.exit_code == 1, res.output
    assert "row 2, column 'lineItem/ResourceId'" in res.output
    assert "i-0000000000 is billed 2 instance-hours in the hour 2026-01-01T00:00Z (rows 2 and 402)" in res.output
    assert "twice" in res.output and not out.exists()
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1 and "rows 2 and 402" in res.output


def test_focus_rows_repeated_are_refused(tmp_path):
    body = focus_rows(200)
    f = tmp_path / "focus.csv"
    f.write_text(FOCUS_HEADER + body + body.splitlines(keepends=True)[7])
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1, res.output
    assert "column 'ResourceId'" in res.output
    assert "i-0000030001 is billed 2 instance-hours in the hour 2026-01-01T03:00Z (rows 9 and 402)" in res.output


def _p5_cur(tmp_path, periods: int, freq: str, items: list[tuple]):
    """A CUR of p5.48xlarge usage from 2026-01-01: per period ("h" or "D") one row per
    (line item type, usage amount, resource id) of ``items``."""
    rows = []
    for t in pd.date_range("2026-01-01", periods=periods, freq=freq, tz="UTC"):
        s, e = f"{t:%Y-%m-%dT%H:%M:%SZ}", f"{t + pd.Timedelta(1, unit=freq):%Y-%m-%dT%H:%M:%SZ}"
        rows += [f"{kind},{s},{e},USE1-BoxUsage:p5.48xlarge,{amount},{rid}\n" for kind, amount, rid in items]
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + "".join(rows))
    return f


def test_one_instance_hour_split_over_rows_is_one_hour(tmp_path):
    # an instance-hour half covered by a reservation is two rows of 0.5: one instance, legal
    f = _p5_cur(tmp_path, 200, "h", [("DiscountedUsage", 0.5, "i-0abc1234"), ("Usage", 0.5, "i-0abc1234"),
                                      ("Usage", 1, "i-0def5678")])
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--catalog", "embedded"])
    assert res.exit_code == 0, res.output
    u = pd.read_csv(tmp_path / "u.csv")
    assert len(u) == 200 and (u["instances"] == 2).all()


def test_daily_rows_and_grouped_resources_are_not_duplicates(tmp_path):
    # a daily CUR row of one instance holds up to 24 hours; a resource that is not an EC2
    # instance (an Azure scale set: one row for all its VMs) may hold more than one an hour
    f = _p5_cur(tmp_path, 10, "D", [("Usage", 24, "i-0abc1234"),
                                    ("Usage", 72, "/subscriptions/x/virtualMachineScaleSets/gpu")])
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--catalog", "embedded"])
    assert res.exit_code == 0, res.output
    assert (pd.read_csv(tmp_path / "u.csv")["instances"] == 4).all()
    lines = f.read_text().splitlines(keepends=True)
    f.write_text("".join(lines) + lines[5])   # the header, then two rows a day: day 3's instance row again
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--catalog", "embedded"])
    assert res.exit_code == 1
    assert "i-0abc1234 is billed 48 instance-hours in the 24 hours from 2026-01-03T00:00Z" in res.output


def test_exports_without_resource_ids_are_read_as_before(tmp_path):
    f = tmp_path / "cur.csv"
    body = "".join(line.rsplit(",", 1)[0] + ",\n" for line in cur_rows(200).splitlines())
    f.write_text(CUR_HEADER + body + body)
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--catalog", "embedded"])
    assert res.exit_code == 0, res.output
    assert (pd.read_csv(tmp_path / "u.csv")["instances"] == 4).all()


def test_repeated_rows_in_parquet_are_refused_with_row_numbers(tmp_path):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    body = cur_rows(100)
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + body + body)
    pq.write_table(pcsv.read_csv(f), tmp_path / "cur.parquet", row_group_size=64)
    res = run(["usage", "summarize", str(tmp_path / "cur.parquet")])
    assert res.exit_code == 1, res.output
    assert "billed 2 instance-hours in the hour 2026-01-01T00:00Z (rows 2 and 202)" in res.output


# ---------------------------------------------------------------- FOCUS headers a user gets wrong

def test_focus_without_charge_period_start_names_the_column(tmp_path):
    # a FOCUS export whose ChargePeriodStart was renamed read as "an unrecognised file"
    f = tmp_path / "focus.csv"
    f.write_text(FOCUS_HEADER.replace("ChargePeriodStart", "ChargePeriodStartDate") + focus_rows(3))
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert "column 'ChargePeriodStart': missing column 'ChargePeriodStart' (FOCUS export)" in res.output


def test_focus_0_5_export_is_named_as_such(tmp_path):
    f = tmp_path / "focus05.csv"
    header = FOCUS_HEADER.replace("ChargeCategory", "ChargeType").replace("ConsumedQuantity", "UsageQuantity")
    f.write_text(header + focus_rows(3))
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert "FOCUS 0.5" in res.output and "ChargeCategory" in res.output and "FOCUS 1.0" in res.output


def test_export_whose_dates_a_spreadsheet_rewrote_says_so(tmp_path):
    # a CUR opened and re-saved in a spreadsheet: 1/1/2026 0:00 everywhere; the hint asked
    # to check that the export holds GPU usage, which it does
    lines = cur_rows(3).splitlines()
    us = [",".join([p[0], "1/1/2026 0:00", "1/1/2026 1:00", *p[3:]]) for p in (line.split(",") for line in lines)]
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + "\n".join(us) + "\n")
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 1
    assert "most rows skipped as: unreadable timestamp (6)" in res.output
    assert "ISO 8601" in res.output and "2026-01-01T00:00:00Z" in res.output
    assert "holds EC2 / compute usage" not in res.output


def test_gap_in_an_export_names_the_exports_time_column(tmp_path):
    # the gap error named column 'timestamp', which a FOCUS or CUR file does not have
    lines = focus_rows(200).splitlines(keepends=True)
    f = tmp_path / "focus.csv"
    f.write_text(FOCUS_HEADER + "".join(lines[:20] + lines[30:]))
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 1
    assert "column 'ChargePeriodStart': 5 hour(s) have no usage rows at all" in res.output
    c = tmp_path / "cur.csv"
    lines = cur_rows(200).splitlines(keepends=True)
    c.write_text(CUR_HEADER + "".join(lines[:20] + lines[30:]))
    res = run(["usage", "convert", str(c), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 1
    assert "column 'lineItem/UsageStartDate (line_item_usage_start_date)': 5 hour(s)" in res.output


def test_parquet_times_with_milliseconds_are_read(tmp_path):
    # a Parquet export whose ChargePeriodEnd is a millisecond before the hour (timestamp[ms])
    # stopped with "internal error ... ArrowInvalid: Casting ... would lose data"
    import pyarrow as pa
    import pyarrow.parquet as pq

    starts = pd.date_range("2026-01-01", periods=200, freq="h", tz="UTC").repeat(2)
    pq.write_table(pa.table({
        "ChargePeriodStart": pa.array(starts, pa.timestamp("ms", tz="UTC")),
        "ChargePeriodEnd": pa.array(starts + pd.Timedelta(milliseconds=3_599_999), pa.timestamp("ms", tz="UTC")),
        "ChargeCategory": ["Usage"] * len(starts), "ConsumedQuantity": [1.0] * len(starts),
        "ConsumedUnit": ["Hours"] * len(starts), "ProviderName": ["AWS"] * len(starts),
        "RegionId": ["us-east-1"] * len(starts),
        "ChargeDescription": ["$55.04 per On Demand Linux p5.48xlarge Instance Hour"] * len(starts),
    }), tmp_path / "focus.parquet")
    res = run(["usage", "convert", str(tmp_path / "focus.parquet"), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 0, res.output
    u = pd.read_csv(tmp_path / "u.csv")
    assert len(u) == 200 and (u["instances"] == 2).all()


def test_usage_summary_json_says_what_the_table_says(tmp_path):
    # the table shows the file, the format detected and the rows read; the JSON did not, so
    # a script could not check that its export was read as FOCUS and not as a CUR
    f = tmp_path / "focus.csv"
    f.write_text(FOCUS_HEADER + focus_rows(10))
    res = run(["usage", "summarize", str(f), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = strict_json(res.stdout)
    assert (doc["file"], doc["format"], doc["rows"], doc["hours"]) == (str(f), "focus", 20, 10)
    assert res.stdout.endswith("}\n")


def test_inventory_folder_and_catalog_file_messages(sp_and_ri_expiring):
    tmp_path = sp_and_ri_expiring
    (tmp_path / "invdir").mkdir()
    (tmp_path / "prices.csv").write_text("family\n")
    res = run(["validate", str(tmp_path / "s.yaml"), "--set", f"inventory={tmp_path / 'invdir'}"])
    assert res.exit_code == 1 and "invdir: is a folder, not an inventory file" in res.output
    res = run(["catalog", "show", "--catalog", str(tmp_path / "prices.csv")])
    assert res.exit_code == 1
    assert "prices.csv: is a file, not a catalog folder" in res.output and "not found" not in res.output


def test_daily_export_without_its_end_column_is_refused(tmp_path):
    # without lineItem/UsageEndDate a row is read as one hour: a daily CUR put each day's 96
    # instance-hours into its first hour (with --gaps mask, a plan saw 96 instances, not 4)
    days = pd.date_range("2026-01-01", periods=30, freq="D", tz="UTC")
    f = tmp_path / "cur.csv"
    f.write_text("lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageType,lineItem/UsageAmount\n"
                 + "".join(f"Usage,{t:%Y-%m-%dT%H:%M:%SZ},USE1-BoxUsage:p5.48xlarge,96\n" for t in days))
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--gaps", "mask"])
    assert res.exit_code == 1, res.output
    assert "column 'lineItem/UsageEndDate (line_item_usage_end_date)'" in res.output
    assert "every usage row starts at midnight" in res.output
    hourly = tmp_path / "hourly.csv"
    hours = pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC")
    hourly.write_text("lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageType,lineItem/UsageAmount\n"
                      + "".join(f"Usage,{t:%Y-%m-%dT%H:%M:%SZ},USE1-BoxUsage:p5.48xlarge,4\n" for t in hours))
    res = run(["usage", "convert", str(hourly), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 0, res.output


def test_many_gaps_are_summarised_not_listed_one_line_each(tmp_path):
    # the real FOCUS sample gave 64 one-line gap notes on stderr and in the plan JSON's
    # warnings; past ten, the rest are counted in one line
    from gpuladder.scenarios.runner import gap_notes
    from gpuladder.usage.history import load_usage_csv

    idx = pd.date_range("2026-01-01", periods=24 * 20, freq="h", tz="UTC")
    keep = idx[(idx.hour != 5)]   # one hour missing every day: 20 gaps
    f = tmp_path / "u.csv"
    pd.DataFrame({"timestamp": keep.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": P5, "instances": 2.0}).to_csv(
        f, index=False)
    notes = gap_notes(load_usage_csv(f, None, gaps="mask"), "mask")
    assert len(notes) == 11
    assert notes[0] == "usage 2026-01-01T05:00Z to 2026-01-01T06:00Z (1 h): no data (masked)"
    assert notes[-1] == ("usage: 10 more gaps not listed (10 h in all, the first 2026-01-11T05:00Z, the last "
                         "ending 2026-01-20T06:00Z): no data (masked)")
    assert len(gap_notes(load_usage_csv(f, None, gaps="zero"), "zero")) == 11


def test_utf16_export_is_named_as_utf16(tmp_path):
    # Excel's "Unicode Text" and Windows PowerShell's Out-File write UTF-16: it read as
    # "not a CSV or Parquet file (binary content)"
    f = tmp_path / "focus.csv"
    f.write_bytes((FOCUS_HEADER + focus_rows(3)).encode("utf-16"))
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert "UTF-16 text" in res.output and "binary" not in res.output and "UTF-8" in res.output


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs")])
def test_export_separated_by_semicolons_or_tabs_says_so(tmp_path, sep, name):
    # a spreadsheet in a decimal-comma locale saves CSV with ';' (and 1,5 for 1.5)
    f = tmp_path / "cur.csv"
    f.write_text((CUR_HEADER + cur_rows(3)).replace(",", sep))
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert f"its fields are separated by {name}" in res.output and "comma-separated" in res.output


def test_one_row_of_two_hours_for_one_instance_names_that_row(tmp_path):
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + cur_rows(100) + "Usage,2026-01-02T00:00:00Z,2026-01-02T01:00:00Z,"
                 "USE1-BoxUsage:p5.48xlarge,2,i-0fff0000\n")
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert "row 202, column 'lineItem/ResourceId': instance i-0fff0000 is billed 2 instance-hours" in res.output
    assert "(row 202)" in res.output


def test_suspects_the_second_read_cannot_find_still_refuse():
    import pyarrow as pa

    from gpuladder.usage.instance_hours import InstanceHours

    acc = InstanceHours("ResourceId", 1000)
    hour = pa.array(pd.DatetimeIndex(["2026-01-01"] * 2, tz="UTC"), pa.timestamp("s", tz="UTC"))
    acc.add(pa.array(["i-0abc1234"] * 2), hour, pa.array([1, 1]), pa.array([1.0, 1.0]), pa.array([True, True]))
    assert acc.suspect()
    err = acc.error("x.csv")
    assert "1 instance-hour(s) are billed more than once" in str(err) and err.column == "ResourceId"


@pytest.mark.parametrize("kind", ["cur", "focus"])
def test_parquet_with_large_string_columns_is_read(tmp_path, kind):
    # Parquet written by polars or pandas 3 stores text as large_string: the CUR reader
    # stopped with "internal error ... binary_join_element_wise has no kernel matching
    # (large_string, string, ...)"
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    f = tmp_path / "export.csv"
    f.write_text(CUR_HEADER + cur_rows(100) if kind == "cur" else FOCUS_HEADER + focus_rows(100))
    t = pcsv.read_csv(f, convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    t = t.cast(pa.schema([pa.field(c.name, pa.large_string() if pa.types.is_string(c.type) else c.type)
                          for c in t.schema]))
    pq.write_table(t, tmp_path / "export.parquet")
    res = run(["usage", "convert", str(tmp_path / "export.parquet"), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 0, res.output
    u = pd.read_csv(tmp_path / "u.csv")
    assert len(u) == 100 and (u["instances"] == 2).all()


# ---------------------------------------------------------------- monthly exports joined with cat

def test_exports_joined_with_cat_skip_their_repeated_header(tmp_path):
    jan, feb = CUR_HEADER + cur_rows(100), CUR_HEADER + cur_rows(100, start="2026-01-05T04:00:00")
    f = tmp_path / "q.csv"
    f.write_text(jan + feb)
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 0, res.output
    assert "1  repeated header row (exports joined; not usage)  (e.g. row 202" in res.output
    assert "tax, credit" not in res.output
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv")])
    assert res.exit_code == 0, res.output
    assert (pd.read_csv(tmp_path / "u.csv")["instances"] == 2).all()


def test_exports_with_other_columns_joined_with_cat_are_refused(tmp_path):
    # CUR columns change from month to month: February with one more column was skipped
    # row by row as 'malformed' (a warning, 'e.g. row None'), and with --gaps mask the plan
    # silently lost the month
    feb_header = CUR_HEADER.replace(",lineItem/ResourceId", ",product/gpuMemory,lineItem/ResourceId")
    feb = "".join(line.rsplit(",", 1)[0] + ",80 GB," + line.rsplit(",", 1)[1] + "\n"
                  for line in cur_rows(100, start="2026-01-05T04:00:00").splitlines())
    f = tmp_path / "q.csv"
    f.write_text(CUR_HEADER + cur_rows(100) + feb_header + feb)
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--gaps", "mask"])
    assert res.exit_code == 1, res.output
    assert "row 202: the header of another export (7 fields; the first header has 6)" in res.output
    assert "joined line by line" in res.output


def test_exports_with_columns_in_another_order_joined_with_cat_are_refused(tmp_path):
    # the same columns in another order: the rows after the second header were read with the
    # first header's places (start and end swapped: every hour one hour late), silently
    cols = CUR_HEADER.strip().split(",")
    cols[1], cols[2] = cols[2], cols[1]
    feb = "".join(",".join([p[0], p[2], p[1], *p[3:]]) + "\n"
                  for p in (line.split(",") for line in cur_rows(100, start="2026-01-05T04:00:00").splitlines()))
    f = tmp_path / "q.csv"
    f.write_text(CUR_HEADER + cur_rows(100) + ",".join(cols) + "\n" + feb)
    res = run(["usage", "summarize", str(f)])
    assert res.exit_code == 1, res.output
    assert ("row 202, column 'lineItem/UsageEndDate': the header of another export "
            "('lineItem/UsageStartDate' in this column)") in res.output


def test_malformed_rows_are_named_by_their_row(tmp_path):
    lines = cur_rows(100).splitlines(keepends=True)
    lines[9] = lines[9].rstrip("\n") + ",extra\n"
    f = tmp_path / "cur.csv"
    f.write_text(CUR_HEADER + "".join(lines))
    res = run(["usage", "convert", str(f), "-o", str(tmp_path / "u.csv"), "--gaps", "zero"])
    assert res.exit_code == 0, res.output
    assert "1 row(s) malformed CSV row (wrong number of fields) (e.g. row 11)" in res.output


def test_spot_history_on_a_family_without_spot_price_is_noted(tmp_path):
    # a third of the g6e hours ran on spot, but the catalog has no spot price for g6e.12xlarge:
    # the plan reserved all of it for three years, without a word
    idx = pd.date_range("2026-09-01", periods=24 * 14, freq="h", tz="UTC")
    fam = "aws/us-east-1/g6e.12xlarge"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": fam, "instances": 6.0,
                  "interruptible_instances": 2.0}).to_csv(tmp_path / "u.csv", index=False)
    (tmp_path / "s.yaml").write_text("usage: u.csv\nproducts: {providers: [aws]}\n")
    res = run(["validate", str(tmp_path / "s.yaml")])
    assert res.exit_code == 0, res.output
    assert (f"{fam}: 33% of its instance-hours in the history are interruptible (spot), but the catalog "
            "has no spot price for it") in res.output


def test_zip_export_is_named_as_a_zip_archive(tmp_path):
    # the legacy AWS CUR can be delivered ZIP-compressed; it read as "binary content"
    import zipfile

    (tmp_path / "cur.csv").write_text(CUR_HEADER + cur_rows(3))
    with zipfile.ZipFile(tmp_path / "cur.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(tmp_path / "cur.csv", "cur.csv")
    res = run(["usage", "summarize", str(tmp_path / "cur.zip")])
    assert res.exit_code == 1
    assert "a ZIP archive" in res.output and "unzip" in res.output and "binary" not in res.output


def test_convertible_reservation_from_a_cur_is_noted(tmp_path):
    # `inventory fetch aws` says a convertible RI is read as the standard product; from-export
    # mapped it silently (pricing/OfferingClass was not read)
    f = tmp_path / "cur.csv"
    arn = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-conv"
    f.write_text("lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UsageType,"
                 "lineItem/UsageAmount,pricing/LeaseContractLength,pricing/PurchaseOption,pricing/OfferingClass,"
                 "reservation/ReservationARN,reservation/StartTime,reservation/EndTime,"
                 "reservation/NumberOfReservations\n"
                 "RIFee,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,USE1-HeavyUsage:p5.48xlarge,1488,1yr,No Upfront,"
                 f"convertible,{arn},2025-07-01T00:00:00Z,2026-07-01T00:00:00Z,2\n")
    res = run(["inventory", "from-export", str(f)])
    assert res.exit_code == 0, res.output
    assert f"{arn},aws-ri-1y-no_upfront,{P5},2," in res.stdout
    assert f"note: {arn}: a convertible reservation, read as the standard product" in res.stderr


@pytest.mark.parametrize("inventory, noted", [
    ("", True),
    (f"ri-1,aws-ri-1y-no_upfront,{P5},2,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n", False),
    ("sp-1,aws-csp-1y-no_upfront,,100,2025-06-01T00:00:00Z,2026-06-01T00:00:00Z\n", False),
    (f"ri-1,aws-ri-1y-no_upfront,{P5},2,2024-12-01T00:00:00Z,2025-12-01T00:00:00Z\n", True),
])
def test_covered_history_without_inventory_is_noted(tmp_path, inventory, noted):
    # the export says 2 of 6 p5 instances run on commitments, but the scenario has no
    # inventory (forgotten): the plan buys on top of commitments already held
    idx = pd.date_range("2026-01-01", periods=24 * 14, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": P5, "instances": 6.0,
                  "covered_instances": 2.0}).to_csv(tmp_path / "u.csv", index=False)
    yaml = "usage: u.csv\nproducts: {providers: [aws]}\n"
    if inventory:
        (tmp_path / "inv.csv").write_text("id,product,family,quantity,start,end\n" + inventory)
        yaml += "inventory: inv.csv\n"
    (tmp_path / "s.yaml").write_text(yaml)
    res = run(["validate", str(tmp_path / "s.yaml")])
    assert res.exit_code == 0, res.output
    text = (f"{P5}: 33% of its instance-hours in the last week of the history were covered by commitments, "
            "but the inventory holds none in force at its end")
    assert (text in res.output) is noted
