"""Review 6, gpuladder driven by an unattended script (cron): ``-o`` targets a script
points at (a FIFO, a symlink), and the exit code of an interrupted run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import load_catalog
from gpuladder.usage.inventory import load_inventory

HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "ours"
CUR = str(OURS / "cur_legacy_ours.csv")
CAT = str(OURS / "catalog")
HEADER = "id,product,family,quantity,start,end\n"


def from_export(out) -> object:
    return CliRunner().invoke(main, ["inventory", "from-export", CUR, "--catalog", CAT, "-o", str(out)])


def test_output_to_a_fifo_is_written_through_not_replaced(tmp_path):
    """`-o /dev/full`, `-o /dev/stdout` or a named pipe: temp file + rename put a regular
    file in place of the device (as root, /dev/full itself became a 5 kB JSON file)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        res = from_export(fifo)
        got = b""
        while chunk := os.read(reader, 65536):
            got += chunk
    finally:
        os.close(reader)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got.decode().startswith(HEADER) and "ri-cur-ours-1" in got.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_output_through_a_symlink_updates_the_file_it_points_to(tmp_path):
    """plan.json -> plans/current.json: the rename replaced the link by a file, so the
    file the link points to kept last month's content without a word."""
    (tmp_path / "plans").mkdir()
    real = tmp_path / "plans" / "current.csv"
    real.write_text("last month\n")
    link = tmp_path / "inventory.csv"
    link.symlink_to(real)
    res = from_export(link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith(HEADER) and "ri-cur-ours-1" in real.read_text()
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["current.csv"]


def test_a_dangling_symlink_is_written_at_its_target(tmp_path):
    link = tmp_path / "inventory.csv"
    link.symlink_to(tmp_path / "new.csv")
    res = from_export(link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and (tmp_path / "new.csv").read_text().startswith(HEADER)


def test_interrupt_exits_130_not_the_bad_input_code(tmp_path, monkeypatch):
    """Ctrl-C / SIGINT mid-run gave click's 'Aborted!' and exit 1, which DESIGN section 7
    reserves for bad input: a cron wrapper told the operator to fix the inputs."""
    import gpuladder.usage.inventory_export as ie

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ie, "commitments_from_export", interrupted)
    out = tmp_path / "inv.csv"
    out.write_text("previous\n")
    res = from_export(out)
    assert res.exit_code == 130
    assert "interrupted" in res.stderr and "Aborted" not in res.stderr
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["inv.csv"]


@pytest.mark.parametrize("target", ["fifo", "file"])
def test_a_failed_write_through_keeps_the_input_error_contract(tmp_path, target, monkeypatch):
    """A special file that refuses the bytes (e.g. /dev/full: ENOSPC) is exit 1 naming the
    output, never an internal error; a regular file still goes through temp + rename."""
    import errno

    import gpuladder.pricing.catalog as writer

    path = tmp_path / "out"
    if target == "fifo":
        os.mkfifo(path)
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

        class Full:
            def __init__(self, *args, **kwargs):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def write(self, text):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(writer, "open", Full, raising=False)
        try:
            res = from_export(path)
        finally:
            os.close(reader)
        assert res.exit_code == 1
        assert "cannot write the output: No space left on device" in res.stderr
        assert "internal error" not in res.stderr and stat.S_ISFIFO(os.lstat(path).st_mode)
    else:
        path.write_text("old\n")
        res = from_export(path)
        assert res.exit_code == 0 and path.read_text().startswith(HEADER)


# ------------------------------------------------------------------ AWS timestamps are to the second

UTC = dt.timezone.utc
RI_SECONDS = {"ReservedInstances": [{
    "ReservedInstancesId": "ri-bought-at-14-23", "InstanceType": "p5.48xlarge", "InstanceCount": 2,
    "Start": dt.datetime(2026, 3, 10, 14, 23, 45, 123000, tzinfo=UTC),
    "End": dt.datetime(2027, 3, 10, 14, 23, 45, tzinfo=UTC), "Duration": 31536000,
    "OfferingType": "Partial Upfront", "OfferingClass": "standard", "ProductDescription": "Linux/UNIX",
    "State": "active", "Scope": "Region", "CurrencyCode": "USD", "FixedPrice": 100.0, "UsagePrice": 0.0}]}
SP_SECONDS = {"savingsPlans": [{
    "savingsPlanId": "sp-bought-at-09-15", "start": "2026-02-01T09:15:02.000Z", "end": "2027-02-01T09:15:01.000Z",
    "state": "active", "savingsPlanType": "EC2Instance", "paymentOption": "All Upfront", "commitment": "4.0",
    "termDurationInSeconds": 31536000, "ec2InstanceFamily": "p5", "region": "us-east-1", "currency": "USD"}, {
    "savingsPlanId": "sp-ends-a-second-early", "start": "2026-01-01T00:00:00.000Z",
    "end": "2026-12-31T23:59:59.000Z", "state": "active", "savingsPlanType": "Compute",
    "paymentOption": "No Upfront", "commitment": "2.5", "termDurationInSeconds": 31536000, "currency": "USD"}]}


def seconds_factory(service, region):
    client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    if service == "ec2":
        stub.add_response("describe_reserved_instances", RI_SECONDS,
                          {"Filters": [{"Name": "state", "Values": ["active"]}]})
    else:
        stub.add_response("describe_savings_plans", SP_SECONDS, {"states": ["active"]})
    stub.activate()
    return client


def test_fetch_aws_with_real_purchase_times_is_an_inventory(tmp_path, monkeypatch):
    """AWS returns the purchase second (the EC2 docs' own example: 2015-08-07T11:54:42.000Z);
    every such commitment stopped `inventory fetch aws` with "start ... is not on the hour"
    and a hint to edit 'the export', so no real account could be fetched. They are rounded
    to the nearest hour (billing is by the clock hour), the term kept."""
    import gpuladder.usage.inventory_aws as ia

    monkeypatch.setattr(ia, "_session_factory", lambda: (seconds_factory, "us-east-1"))
    out = tmp_path / "inventory.csv"
    res = CliRunner().invoke(main, ["inventory", "fetch", "aws", "--catalog", CAT, "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in csv.DictReader(out.open())}
    assert (rows["ri-bought-at-14-23"]["start"], rows["ri-bought-at-14-23"]["end"]) == (
        "2026-03-10T14:00:00Z", "2027-03-10T14:00:00Z")
    assert (rows["sp-bought-at-09-15"]["start"], rows["sp-bought-at-09-15"]["end"]) == (
        "2026-02-01T09:00:00Z", "2027-02-01T09:00:00Z")
    assert (rows["sp-ends-a-second-early"]["start"], rows["sp-ends-a-second-early"]["end"]) == (
        "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
    book = load_inventory(out, load_catalog(CAT))
    assert sorted(book.items["id"]) == sorted(rows)


def test_cur_reservation_times_to_the_second_are_read(tmp_path):
    """A CUR's reservation/StartTime and EndTime are purchase seconds too."""
    text = (OURS / "cur_legacy_ours.csv").read_text()
    assert text.count("2025-07-01T00:00:00Z") == 1 and text.count("2026-07-01T00:00:00Z") == 1
    cur = tmp_path / "cur.csv"
    cur.write_text(text.replace("2025-07-01T00:00:00Z", "2025-07-01T14:23:45Z")
                   .replace("2026-07-01T00:00:00Z", "2026-07-01T14:23:45Z"))
    res = CliRunner().invoke(main, ["inventory", "from-export", str(cur), "--catalog", CAT])
    assert res.exit_code == 0, res.output
    row = next(r for r in csv.DictReader(io.StringIO(res.stdout)) if r["id"].endswith("ri-cur-ours-1"))
    assert (row["start"], row["end"]) == ("2025-07-01T14:00:00Z", "2026-07-01T14:00:00Z")
