"""The real third-party billing samples (tests/fixtures/billing, see its README) load with
the totals worked out by hand from the files."""

from pathlib import Path

import pytest

from gpuladder.errors import InputError
from gpuladder.usage.export import open_export
from gpuladder.usage.load import detect_format, load_usage, summarize_usage

B = Path(__file__).parent / "fixtures" / "billing"

# g5.4xlarge rows of focus_sample.csv: 1 + 0.296111 + 1 + 0.683889 + 1 + 1 + 1 + 0.303056
G5_HOURS = 6.283056
# g3.4xlarge rows (also a GPU instance, NVIDIA M60): 1 + 0.686667
G3_HOURS = 1.686667


def fam(summary, key):
    return {f.family: f for f in summary.families}[key]


@pytest.mark.parametrize("name, fmt", [
    ("focus_sample.csv.gz", "focus"),
    ("aws_reserved_instance_partial_upfront_100pct.csv", "focus"),
    ("one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv", "focus"),
    ("sample-anonymous-aws-export-dataset.csv.gz", "cur"),
    ("2023-06-01.csv", "cur"),
    ("2022-07-01-alt-columns.csv", "cur"),     # Athena snake_case legacy header (year, month partitions)
    ("koku-local-1.csv.gz", "cur"),
    ("sample-cur20.csv", "cur2"),             # minimal CUR 2.0 header
])
def test_header_variants_detected(name, fmt):
    assert detect_format(open_export(B / name)) == fmt


def test_focus_sample_gpu_rows():
    s = summarize_usage(B / "focus_sample.csv.gz", families=["aws/us-east-1/g5.4xlarge"])
    assert s.format == "focus" and s.rows == 1000
    g5 = fam(s, "aws/us-east-1/g5.4xlarge")
    assert g5.gpu and g5.in_catalog
    assert g5.instance_hours == pytest.approx(G5_HOURS, abs=1e-9)
    assert g5.interruptible_instance_hours == 0 and g5.covered_instance_hours == 0
    g3 = fam(s, "aws/us-east-1/g3.4xlarge")
    assert g3.gpu and g3.in_catalog is False and g3.instance_hours == pytest.approx(G3_HOURS)
    # the 3 savings-plan-covered EC2 rows (t2.medium, t3.micro, c5.large) are covered demand
    covered = {f.family: f.covered_instance_hours for f in s.families if f.covered_instance_hours}
    assert covered == {"aws/us-west-2/t2.medium": 1.0, "aws/ap-south-1/t3.micro": 1.0, "aws/us-east-1/c5.large": 1.0}
    # 26 EC2 instance-hour rows; the 2 EBS-bandwidth "per t3a.small instance-hour" rows are not instances
    assert "aws/us-west-2/t3a.small" not in {f.family for f in s.families}
    skipped = {k.reason: k.rows for k in s.skipped}
    assert skipped["tax, credit or adjustment charge (not usage)"] == 3   # 1 AWS credit, 2 Oracle adjustments
    assert sum(skipped.values()) == 1000 - 26


def test_focus_sample_profile_with_zero_hours():
    p = load_usage(B / "focus_sample.csv.gz", gaps="zero")
    assert p.families == ["aws/us-east-1/g3.4xlarge", "aws/us-east-1/g5.4xlarge"]
    assert p.demand_instances["aws/us-east-1/g5.4xlarge"].sum() == pytest.approx(G5_HOURS)
    assert p.demand_instances.loc["2024-09-21T01:00Z", "aws/us-east-1/g5.4xlarge"] == pytest.approx(0.296111)
    # the export's rows span September 2024 (hourly); hours with rows but no GPU usage are zeros
    assert p.index[0].isoformat() == "2024-09-01T00:00:00+00:00"
    assert len(p.index) == 720


def test_focus_sample_gaps_refused_by_default():
    with pytest.raises(InputError, match="no usage rows at all"):
        load_usage(B / "focus_sample.csv.gz")


def test_focus_sample_catalog_filter():
    with pytest.warns(UserWarning, match="g3.4xlarge"):
        p = load_usage(B / "focus_sample.csv.gz", families=["aws/us-east-1/g5.4xlarge"], gaps="zero")
    assert p.families == ["aws/us-east-1/g5.4xlarge"]


def test_focus_spec_ri_sample_commitment_rows():
    s = summarize_usage(B / "aws_reserved_instance_partial_upfront_100pct.csv")
    assert s.families == ()          # the spec example names no instance type
    skipped = {k.reason: k.rows for k in s.skipped}
    assert skipped == {"not instance usage (no instance type found)": 36, "commitment purchase (not demand)": 2}
    assert not s.has_gpu_usage


def test_focus_spec_sp_sample_unused_rows():
    s = summarize_usage(B / "aws_savings_plan_all_upfront_75pct.csv")
    skipped = {k.reason: k.rows for k in s.skipped}
    assert skipped["unused commitment (not demand)"] == 6
    assert skipped["commitment purchase (not demand)"] == 1


@pytest.mark.parametrize("name, purchase, unused, other", [
    ("one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv", 1, 0, 2),
    ("zero_percent_utilization_without_commitment_discount_flexibility.csv", 1, 1, 1),
])
def test_crlf_null_blank_line_quirks_parse(name, purchase, unused, other):
    s = summarize_usage(B / name)
    assert s.rows == 3                   # blank lines are not records
    skipped = {k.reason: k.rows for k in s.skipped}
    assert skipped.get("commitment purchase (not demand)", 0) == purchase
    assert skipped.get("unused commitment (not demand)", 0) == unused
    assert skipped.get("not instance usage (no instance type found)", 0) == other
    assert not any("timestamp" in r or "number" in r for r in skipped)   # `null` read as missing


def test_no_ec2_cur_says_no_gpu_usage():
    f = B / "sample-anonymous-aws-export-dataset.csv.gz"
    s = summarize_usage(f)
    assert s.rows == 1281 and s.families == () and not s.has_gpu_usage
    skipped = {k.reason: k.rows for k in s.skipped}
    assert skipped == {"not instance usage (usage type is not BoxUsage/SpotUsage)": 1269,
                       "tax, credit, refund or discount line item (not usage)": 12}
    with pytest.raises(InputError, match="no GPU usage found in 1281 rows"):
        load_usage(f)


def test_sp_covered_cur_rows():
    s = summarize_usage(B / "2023-06-01.csv")
    m5 = fam(s, "aws/us-west-1/m5.large")      # product/region us-west-1 wins over the unprefixed usage type
    assert (m5.gpu, m5.instance_hours, m5.covered_instance_hours) == (False, 3.0, 3.0)
    assert s.hours == 3


def test_koku_hourly_cur_volume():
    s = summarize_usage(B / "koku-local-1.csv.gz")
    assert s.rows == 13380
    assert sum(f.instance_hours for f in s.families) == 10700     # BoxUsage rows of 1 hour each
    assert not s.has_gpu_usage and s.hours == 1070
    # regions come from the availability zone (unprefixed usage types, no product/region column)
    assert fam(s, "aws/us-west-2/c5d.2xlarge").instance_hours == 918
    assert {k.reason: k.rows for k in s.skipped} == {
        "not instance usage (usage type is not BoxUsage/SpotUsage)": 2680}


def test_athena_snake_case_marketplace_rows():
    s = summarize_usage(B / "2022-07-01-alt-columns.csv")
    assert s.families == () and s.skipped[0].rows == 2


def test_minimal_cur2_lacks_line_item_type():
    with pytest.raises(InputError, match="line_item_line_item_type") as e:
        summarize_usage(B / "sample-cur20.csv")
    assert "AWS CUR 2.0" in str(e.value)


@pytest.mark.parametrize("name, what", [("azure_version_2.csv", "Azure"), ("2022-08-01_5.csv", "GCP")])
def test_native_azure_gcp_exports_named(name, what):
    with pytest.raises(InputError, match=what) as e:
        load_usage(B / name)
    assert "FOCUS" in str(e.value)
