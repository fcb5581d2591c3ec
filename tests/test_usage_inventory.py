"""Existing commitments from exports (FOCUS, CUR) and from AWS (boto3, stubbed offline)."""

import datetime as dt
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.pricing.catalog import load_catalog
from gpuladder.usage.inventory import load_inventory
from gpuladder.usage.inventory_aws import fetch_aws_commitments
from gpuladder.usage.inventory_export import (FoundCommitment, build_inventory, commitments_from_export,
                                              match_products)

HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "ours"
B = HERE / "fixtures" / "billing"
CAT_DIR = OURS / "catalog"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def cat():
    return load_catalog(CAT_DIR)


def ts(s):
    return pd.Timestamp(s, tz="UTC")


def test_cur_fee_rows_give_inventory(cat, tmp_path):
    found = {f.id.rsplit("/", 1)[-1]: f for f in commitments_from_export(OURS / "cur_legacy_ours.csv")}
    ri = found["ri-cur-ours-1"]
    assert (ri.kind, ri.family, ri.quantity, ri.term_months, ri.payment) == (
        "reservation", "aws/us-east-1/p5.48xlarge", 2.0, 12, "no_upfront")
    assert (ri.start, ri.end) == (ts("2025-07-01"), ts("2026-07-01"))
    sp = found["sp-cur-ours-1"]
    assert (sp.plan_type, sp.quantity, sp.payment, sp.term_months) == ("compute", 30.0, "no_upfront", 12)
    ec2sp = found["sp-cur-ours-2"]
    assert (ec2sp.plan_type, ec2sp.region, ec2sp.instance_family, ec2sp.quantity) == ("ec2_instance", "us-east-1", "p5", 5.5)
    match = build_inventory(found.values(), cat, source="cur")
    assert match.unmatched == ()
    assert dict(zip(match.rows["id"].str.rsplit("/", n=1).str[-1], match.rows["product"])) == {
        "ri-cur-ours-1": "aws-ri-1y-no_upfront", "sp-cur-ours-1": "aws-csp-1y-no_upfront",
        "sp-cur-ours-2": "aws-ec2sp-us-east-1-p5-1y-all_upfront"}
    out = tmp_path / "inventory.csv"
    r = CliRunner().invoke(main, ["inventory", "from-export", str(OURS / "cur_legacy_ours.csv"), "-o", str(out),
                                  "--catalog", str(CAT_DIR)])
    assert r.exit_code == 0, r.output
    book = load_inventory(out, cat)                      # the written file passes the inventory loader
    assert sorted(book.items["quantity"]) == [2.0, 5.5, 30.0]


def test_focus_spec_samples_commitments(cat):
    (sp,) = commitments_from_export(B / "aws_savings_plan_all_upfront_75pct.csv")
    # 18 used + 6 unused hours of 52.40 USD each: the hourly commitment; 459024 / 8760 = 52.40
    assert (sp.kind, sp.plan_type, sp.quantity, sp.payment) == ("savings_plan", "ec2_instance", 52.4, "all_upfront")
    assert (sp.start, sp.end, sp.term_months) == (ts("2026-02-01"), ts("2027-02-01"), 12)
    (ri,) = commitments_from_export(B / "aws_reserved_instance_partial_upfront_100pct.csv")
    assert (ri.kind, ri.quantity, ri.payment, ri.start, ri.end) == (
        "reservation", 1.0, "partial_upfront", ts("2026-02-01"), None)
    match = match_products([sp, ri], cat)
    assert match.rows.empty
    reasons = dict(match.unmatched)
    assert "the FOCUS export does not give its region and instance family" in reasons[sp.id]
    assert "end date, term, instance type and region" in reasons[ri.id]
    with pytest.raises(InputError, match="2 commitment\\(s\\) cannot be written: the export lacks fields they need"):
        build_inventory([sp, ri], cat, source="focus")


def test_focus_sample_sp_covered_rows_only():
    found = commitments_from_export(B / "focus_sample.csv.gz")
    assert sorted(f.id.rsplit("/", 1)[-1] for f in found) == ["37985e61-4fcb-4023-9dd7-e524c80342a2",
                                                              "493f5705-db1c-4867-8e5c-ee9a66fa6d3f"]
    assert all(f.kind == "savings_plan" and f.quantity is None for f in found)


def test_focus_ours_ri_has_family_and_count():
    (ri,) = commitments_from_export(OURS / "focus_gpu_ours.csv")
    assert (ri.family, ri.quantity, ri.payment) == ("aws/us-east-1/p5.48xlarge", 1.0, "no_upfront")


def fc(**kw):
    base = dict(id="ri-1", provider="aws", kind="reservation", plan_type="", family="aws/us-east-1/p5.48xlarge",
                region="us-east-1", instance_family="", quantity=1.0, start=ts("2026-01-01"),
                end=ts("2027-01-01"), term_months=12, payment="no_upfront", source="test")
    base.update(kw)
    return FoundCommitment(**base)


def test_family_not_in_catalog_and_missing_product(cat):
    match = match_products([fc(family="aws/us-east-1/p4d.24xlarge"), fc(id="ri-2", payment="all_upfront")], cat)
    reasons = dict(match.unmatched)
    assert reasons["ri-1"] == "family 'aws/us-east-1/p4d.24xlarge' is not in the catalog"
    assert "no aws reservation product with a 12-month term and all_upfront payment" in reasons["ri-2"]
    ok = match_products([fc(id="ri-3", term_months=36, end=ts("2029-01-01"), payment="all_upfront")], cat)
    assert ok.rows["product"].tolist() == ["aws-ri-3y-all_upfront"]


def test_end_before_start_and_duplicates(cat):
    with pytest.raises(InputError, match="end 2025-01-01T00:00Z is not after start"):
        match_products([fc(end=ts("2025-01-01"))], cat)
    with pytest.raises(InputError, match="appears twice"):
        build_inventory([fc(), fc()], cat, source="aws")


def test_contradictory_cur_records(tmp_path):
    lines = (OURS / "cur_legacy_ours.csv").read_text().splitlines()
    fee = lines[6]                                       # row 7: the RIFee row
    assert ",RIFee," in fee
    lines.append(fee.replace("2026-07-01T00:00:00Z", "2028-07-01T00:00:00Z"))
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="contradictory records for commitment .*ri-cur-ours-1: end") as e:
        commitments_from_export(tmp_path / "c.csv")
    assert e.value.row == 17


# ------------------------------------------------------------------ AWS (stubbed)

def stubbed_factory(ri_pages, sp_pages):
    clients = {}

    def factory(service, region):
        client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="y")
        stub = Stubber(client)
        if service == "ec2":
            stub.add_response("describe_reserved_instances", ri_pages[region],
                              {"Filters": [{"Name": "state", "Values": ["active"]}]})
        else:
            token = None
            for page in sp_pages:
                stub.add_response("describe_savings_plans", page,
                                  {"states": ["active"], **({"nextToken": token} if token else {})})
                token = page.get("nextToken")
        stub.activate()
        clients[(service, region)] = stub
        return client

    return factory, clients


RI_RESPONSE = {"ReservedInstances": [{
    "ReservedInstancesId": "11111111-2222-3333-4444-555555555555", "InstanceType": "p5.48xlarge",
    "InstanceCount": 3, "Start": dt.datetime(2025, 6, 1, tzinfo=UTC), "End": dt.datetime(2026, 6, 1, tzinfo=UTC),
    "Duration": 31536000, "OfferingType": "Partial Upfront", "OfferingClass": "standard",
    "ProductDescription": "Linux/UNIX", "State": "active", "Scope": "Region", "CurrencyCode": "USD",
    "FixedPrice": 100.0, "UsagePrice": 0.0}]}
SP_PAGES = [
    {"savingsPlans": [{"savingsPlanId": "sp-a", "savingsPlanArn": "arn:aws:savingsplans::1:savingsplan/sp-a",
                       "start": "2025-09-01T00:00:00.000Z", "end": "2026-09-01T00:00:00.000Z", "state": "active",
                       "savingsPlanType": "Compute", "paymentOption": "No Upfront", "commitment": "12.5",
                       "termDurationInSeconds": 31536000, "currency": "USD"}], "nextToken": "t1"},
    {"savingsPlans": [{"savingsPlanId": "sp-b", "start": "2026-01-01T00:00:00.000Z",
                       "end": "2027-01-01T00:00:00.000Z", "state": "active", "savingsPlanType": "EC2Instance",
                       "paymentOption": "All Upfront", "commitment": "4.0", "termDurationInSeconds": 31536000,
                       "ec2InstanceFamily": "p5", "region": "us-east-1", "currency": "USD"}]},
]


def test_fetch_aws_stubbed(cat):
    factory, clients = stubbed_factory({"us-east-1": RI_RESPONSE}, SP_PAGES)
    inv = fetch_aws_commitments(("us-east-1",), client_factory=factory)
    for stub in clients.values():
        stub.assert_no_pending_responses()
    by_id = {f.id: f for f in inv.commitments}
    ri = by_id["11111111-2222-3333-4444-555555555555"]
    assert (ri.family, ri.quantity, ri.term_months, ri.payment) == ("aws/us-east-1/p5.48xlarge", 3.0, 12, "partial_upfront")
    assert (by_id["sp-a"].plan_type, by_id["sp-a"].quantity) == ("compute", 12.5)
    match = build_inventory(inv.commitments, cat, source="aws")
    assert match.unmatched == ()
    assert dict(zip(match.rows["id"], match.rows["product"])) == {
        "11111111-2222-3333-4444-555555555555": "aws-ri-1y-partial_upfront",
        "sp-a": "aws-csp-1y-no_upfront", "sp-b": "aws-ec2sp-us-east-1-p5-1y-all_upfront"}
    assert match.rows.set_index("id").loc["sp-a", "quantity"] == "12.5"


def test_fetch_aws_missing_credentials_cli(tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = tmp_path / "inv.csv"
    r = CliRunner().invoke(main, ["inventory", "fetch", "aws", "-o", str(out), "--catalog", str(CAT_DIR)])
    assert r.exit_code == 1
    assert "no AWS credentials found" in r.stderr and "aws configure" in r.stderr and "Traceback" not in r.output
    assert not out.exists()


def test_from_export_cli_unmatched(tmp_path):
    f = str(B / "aws_savings_plan_all_upfront_75pct.csv")
    r = CliRunner().invoke(main, ["inventory", "from-export", f, "--catalog", str(CAT_DIR)])
    assert r.exit_code == 1 and "cannot be written: the export lacks fields they need" in r.stderr
    r = CliRunner().invoke(main, ["inventory", "from-export", f, "--catalog", str(CAT_DIR), "--skip-unmatched"])
    assert r.exit_code == 0 and r.stdout == "id,product,family,quantity,start,end\n"
    assert "not written: arn:aws:savingsplans::ACCT-123456789012:savingsplan/sp-abc123def456" in r.stderr


def test_from_export_names_the_missing_fields_and_where_to_get_them():
    """The FOCUS fixture's reservation has a purchase row for one billing month only: no end
    date, so no term; the error says so and names the CUR columns, not the catalog."""
    f = str(B / "aws_reserved_instance_partial_upfront_100pct.csv")
    r = CliRunner().invoke(main, ["inventory", "from-export", f])
    assert r.exit_code == 1
    assert ("1 commitment(s) cannot be written: the export lacks fields they need: "
            "arn:aws:ec2:us-east-1:ACCT-123456789012:reserved-instances/ri-ri-abc123def456: the FOCUS export does "
            "not give its end date, term, instance type and region") in r.stderr
    assert "FOCUS dates a commitment only by a One-Time purchase row whose charge period" in r.stderr
    assert ("reading the missing fields from an AWS CUR of the same account, which carries them in "
            "lineItem/UsageType, pricing/LeaseContractLength, reservation/EndTime") in r.stderr
    assert "gpuladder inventory fetch aws" in r.stderr
    assert "adding the products to the catalog" not in r.stderr and "match no catalog product" not in r.stderr


def test_unmatched_product_keeps_the_catalog_hint(cat):
    with pytest.raises(InputError) as info:
        build_inventory([fc(family="aws/us-east-1/p4d.24xlarge")], cat, source="aws")
    msg = str(info.value)
    assert "1 commitment(s) match no catalog product: ri-1: family 'aws/us-east-1/p4d.24xlarge' is not in the catalog" in msg
    assert "adding the products to the catalog (--catalog DIR)" in msg and "AWS CUR" not in msg


def test_mixed_unmatched_says_which_is_which(cat):
    with pytest.raises(InputError) as info:
        build_inventory([fc(family="aws/us-east-1/p4d.24xlarge"), fc(id="ri-2", end=None, term_months=None)],
                        cat, source="aws")
    msg = str(info.value)
    assert "2 commitment(s) cannot be written (1 lack fields in the export, the others match no catalog product)" in msg
    assert "pricing/LeaseContractLength, reservation/EndTime" in msg and "adding the products to the catalog" in msg


def test_a_fractional_aws_reservation_count_is_flagged_not_refused(tmp_path):
    """2.5 AWS RIs: a size-flexible RI normalised to the family can be fractional, so the file
    loads, with a note naming file, row and column; whole counts give none."""
    from gpuladder.pricing.catalog import embedded_catalog

    row = "ri-1,aws-ri-1y-no_upfront,aws/us-east-1/p5.48xlarge,{q},2026-06-01T00:00:00Z,2027-06-01T00:00:00Z\n"
    frac = tmp_path / "frac.csv"
    frac.write_text("id,product,family,quantity,start,end\n" + row.format(q="2.5"))
    with pytest.warns(UserWarning, match=r"frac\.csv row 2, column 'quantity': 1 AWS reservation row\(s\) count part "
                                         r"of an instance \(first: 2\.5\)"):
        book = load_inventory(frac, embedded_catalog())
    assert book.items["quantity"].tolist() == [2.5]
    whole = tmp_path / "whole.csv"
    whole.write_text("id,product,family,quantity,start,end\n" + row.format(q="2"))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_inventory(whole, embedded_catalog()).items["quantity"].tolist() == [2.0]
