"""Companion rows of one VM-hour: a bill can hold more than one usage row on the same VM and
hours (a software license, a capacity reservation, a Compute Engine VM's vCPU / memory / GPU
SKUs, an AWS Marketplace or data-transfer row). Only the instance-hour is demand; read as a
second instance-hour, a license row doubled the demand and the "usage twice" check refused a
valid export. Field values are those the providers document (docs/decisions.md, "Companion
rows of a VM-hour")."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.usage.load import load_usage, summarize_usage

HOURS = pd.date_range("2026-03-02", periods=3, freq="h", tz="UTC")
LICENSE = "software license charge of a VM (not instance-hours)"
GCE_PART = "vCPU, memory or GPU part of a Compute Engine VM (not instance-hours)"
NOT_BOX = "not instance usage (usage type is not BoxUsage/SpotUsage)"

NC_A100 = "Standard_NC24ads_A100_v4"
AZ_VM = "/subscriptions/5a1e-77/resourcegroups/ml/providers/microsoft.compute/virtualmachines/{name}"
AZ_CR = ("/subscriptions/5a1e-77/resourcegroups/ml/providers/microsoft.compute/capacityreservationgroups/crg/"
         "capacityreservations/nc-a100")
GCE_VM = "//compute.googleapis.com/projects/acme/zones/us-central1-a/instances/{name}"
EC2 = "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60718"


def skipped(summary) -> dict[str, int]:
    return {k.reason: k.rows for k in summary.skipped}


def hourly(rows_of_hour) -> list[dict]:
    """The rows ``rows_of_hour(start, end)`` gives for each hour of HOURS."""
    out = []
    for t in HOURS:
        out += rows_of_hour(f"{t:%Y-%m-%dT%H:%M:%SZ}", f"{t + pd.Timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}")
    return out


# ------------------------------------------------------------------ Azure, FOCUS export

def azure_details(usage_type: str, image: str = "") -> str:
    """x_SkuDetails as Cost Management writes AdditionalInfo for a VM ("Understanding Azure
    virtual machine usage": ServiceType is the VM size; UsageType ComputeHR is the compute
    hour, ComputeHR_SW the premium software charge)."""
    return json.dumps({"ImageType": image, "ServiceType": NC_A100, "VMName": "", "UsageType": usage_type})


def azure_row(start, end, *, resource, category, subcategory, meter, details, quantity=1.0, **extra):
    return {"BillingPeriodStart": "2026-03-01T00:00:00Z", "ChargeCategory": "Usage", "ChargeClass": "",
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ProviderName": "Microsoft",
            "RegionId": "eastus", "ResourceId": resource, "ConsumedQuantity": quantity, "ConsumedUnit": "Hours",
            "PricingCategory": "Standard", "CommitmentDiscountStatus": "", "x_SkuMeterCategory": category,
            "x_SkuMeterSubcategory": subcategory, "x_SkuMeterName": meter, "x_SkuDetails": details,
            "x_PricingUnitDescription": "1 Hour", "ChargeDescription": f"{subcategory} - {meter}", **extra}


def azure_focus(path, *, repeat_compute: bool = False):
    """Two NC24ads A100 v4 VMs for 3 hours: gpu-1 runs RHEL (a compute row and a 'Virtual
    Machines Licenses' row, both with the VM size in x_SkuDetails), gpu-2 runs Windows (one
    compute row of the '... Windows' meter, license included; once a license row without
    x_SkuDetails, as in the koku sample). Beside them an unused capacity reservation
    (UsageType ComputeCR) and an unused reservation row (amortized UnusedReservation)."""
    def hour(start, end):
        rows = [
            azure_row(start, end, resource=AZ_VM.format(name="gpu-1"), category="Virtual Machines",
                      subcategory="NCads A100 v4 Series", meter="NC24ads A100 v4",
                      details=azure_details("ComputeHR", "Red Hat")),
            azure_row(start, end, resource=AZ_VM.format(name="gpu-1"), category="Virtual Machines Licenses",
                      subcategory="Red Hat Enterprise Linux", meter="5+ vCPU VM",
                      details=azure_details("ComputeHR_SW", "Red Hat")),
            azure_row(start, end, resource=AZ_VM.format(name="gpu-2"), category="Virtual Machines",
                      subcategory="NCads A100 v4 Series Windows", meter="NC24ads A100 v4",
                      details=azure_details("ComputeHR")),
            azure_row(start, end, resource=AZ_CR, category="Virtual Machines", subcategory="NCads A100 v4 Series",
                      meter="NC24ads A100 v4",
                      details=json.dumps({"ServiceType": NC_A100, "UsageType": "ComputeCR",
                                          "VMCapacityReservationId": "f8b42087-c198-4ad8-8515-fce989cc5fff"})),
        ]
        if repeat_compute and start.endswith("T01:00:00Z"):
            rows.append(dict(rows[0]))
        return rows
    rows = hourly(hour)
    start, end = rows[0]["ChargePeriodStart"], rows[0]["ChargePeriodEnd"]
    rows.append(azure_row(start, end, resource=AZ_VM.format(name="gpu-2"), category="Virtual Machines Licenses",
                          subcategory="Windows Server", meter="24 vCPU VM", details=""))
    rows.append(azure_row(start, end, resource="/providers/microsoft.capacity/reservationorders/4f2/reservations/9c1",
                          category="Virtual Machines", subcategory="NCads A100 v4 Series", meter="NC24ads A100 v4",
                          details=azure_details("ComputeHR"), quantity=None, PricingCategory="Committed",
                          CommitmentDiscountStatus="Unused"))
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_azure_focus_license_row_is_not_a_second_instance_hour(tmp_path):
    f = azure_focus(tmp_path / "azure_focus.csv")
    p = load_usage(f)
    assert p.families == [f"azure/eastus/{NC_A100}"]
    assert p.demand_instances[f"azure/eastus/{NC_A100}"].tolist() == [2.0, 2.0, 2.0]
    s = summarize_usage(f)
    assert [(x.family, x.instance_hours) for x in s.families] == [(f"azure/eastus/{NC_A100}", 6.0)]
    assert skipped(s) == {LICENSE: 4, "unused capacity reservation (not demand)": 3,
                          "unused commitment (not demand)": 1}
    examples = {k.reason: k.examples for k in s.skipped}
    assert examples[LICENSE][0] == (3, "Red Hat Enterprise Linux - 5+ vCPU VM")


def test_azure_focus_summarize_cli_exits_0_and_names_the_license_rows(tmp_path):
    res = CliRunner().invoke(main, ["usage", "summarize", str(azure_focus(tmp_path / "a.csv")), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["families"][0]["instance_hours"] == pytest.approx(6.0)
    assert "billed 2 instance-hours" not in res.output
    assert LICENSE in res.output


def test_azure_focus_compute_row_twice_is_still_usage_twice(tmp_path):
    f = azure_focus(tmp_path / "twice.csv", repeat_compute=True)
    with pytest.raises(InputError, match=r"virtualmachines/gpu-1 is billed 2 instance-hours in the hour "
                                         r"2026-03-02T01:00Z \(rows 6 and 10\)"):
        load_usage(f)


def test_azure_cost_details_export_is_refused_not_read_as_usage_twice(tmp_path):
    """A native EA/MCA cost-details export (compute + 'Virtual Machines Licenses' rows of one
    VM, as in the koku sample azure_version_2.csv) is not read: refused with the FOCUS hint."""
    rows = []
    for category, subcategory, meter, usage_type in (
            ("Virtual Machines", "NCads A100 v4 Series", "NC24ads A100 v4", "ComputeHR"),
            ("Virtual Machines Licenses", "Red Hat Enterprise Linux", "5+ vCPU VM", "ComputeHR_SW")):
        rows.append({"Date": "03/02/2026", "MeterCategory": category, "MeterSubCategory": subcategory,
                     "MeterName": meter, "UnitOfMeasure": "1 Hour", "Quantity": 24, "ChargeType": "Usage",
                     "PricingModel": "OnDemand", "ResourceId": AZ_VM.format(name="gpu-1"),
                     "AdditionalInfo": azure_details(usage_type, "Red Hat"), "ResourceLocation": "EastUS"})
    f = tmp_path / "ea.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    res = CliRunner().invoke(main, ["usage", "summarize", str(f)])
    assert res.exit_code == 1
    assert "an Azure cost-details export" in res.output and "FOCUS cost" in res.output
    assert "twice" not in res.output


# ------------------------------------------------------------------ GCP, FOCUS export

def gcp_row(start, end, *, description, quantity, unit, details="", resource=GCE_VM.format(name="train-1")):
    return {"ChargeCategory": "Usage", "ChargePeriodStart": start, "ChargePeriodEnd": end,
            "ServiceProviderName": "Google Cloud", "RegionId": "us-central1", "ResourceId": resource,
            "ConsumedQuantity": quantity, "ConsumedUnit": unit, "PricingCategory": "Standard",
            "ChargeDescription": description, "SkuPriceDetails": details}


def gcp_focus(path):
    """One a3-highgpu-8g instance (8 H100, 208 vCPUs, 1872 GiB) for 3 hours. Its machine-hour
    row is the one the reader reads (SkuPriceDetails InstanceType, hours). Compute Engine also
    bills the VM per part, on the same instance: 'A3 Instance Core' (vCPU-hours), 'A3
    Instance Ram' (GiB-hours), 'Nvidia H100 80GB GPU running in' (GPU-hours), here also
    carrying the machine type, and a 'Licensing Fee for ...' per vCPU. A second instance's
    parts as Google's FOCUS view writes them (ConsumedUnit usage.unit 'seconds', no
    SkuPriceDetails) are skipped too."""
    a3 = json.dumps({"InstanceType": "a3-highgpu-8g", "GpuCount": 8})

    def hour(start, end):
        return [
            gcp_row(start, end, description="", quantity=1.0, unit="Hours", details=a3),
            gcp_row(start, end, description="A3 Instance Core running in Americas", quantity=208.0, unit="Hours",
                    details=a3),
            gcp_row(start, end, description="A3 Instance Ram running in Americas", quantity=1872.0,
                    unit="GiB-Hours", details=a3),
            gcp_row(start, end, description="Nvidia H100 80GB GPU running in Americas", quantity=8.0,
                    unit="Hours", details=a3),
            gcp_row(start, end, description="Licensing Fee for RHEL 9 (CPU cost)", quantity=208.0, unit="Hours",
                    details=a3),
            gcp_row(start, end, description="Spot Preemptible A3 Instance Core running in Americas",
                    quantity=748800.0, unit="seconds", resource=GCE_VM.format(name="train-2")),
            gcp_row(start, end, description="Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in "
                    "Americas", quantity=28800.0, unit="seconds", resource=GCE_VM.format(name="train-2")),
        ]
    pd.DataFrame(hourly(hour)).to_csv(path, index=False)
    return path


def test_gcp_focus_parts_and_license_of_a_vm_are_not_instance_hours(tmp_path):
    f = gcp_focus(tmp_path / "gcp_focus.csv")
    p = load_usage(f)
    assert p.families == ["gcp/us-central1/a3-highgpu-8g"]
    assert p.demand_instances["gcp/us-central1/a3-highgpu-8g"].tolist() == [1.0, 1.0, 1.0]
    s = summarize_usage(f)
    assert [(x.family, x.instance_hours) for x in s.families] == [("gcp/us-central1/a3-highgpu-8g", 3.0)]
    assert skipped(s) == {GCE_PART: 15, LICENSE: 3}


# ------------------------------------------------------------------ AWS, CUR and FOCUS

def cur_row(start, end, usage_type, amount, resource, description, product_code="AmazonEC2"):
    return {"identity/TimeInterval": f"{start}/{end}", "lineItem/LineItemType": "Usage",
            "lineItem/UsageStartDate": start, "lineItem/UsageEndDate": end, "lineItem/ProductCode": product_code,
            "lineItem/UsageType": usage_type, "lineItem/UsageAmount": amount, "lineItem/ResourceId": resource,
            "lineItem/LineItemDescription": description, "lineItem/AvailabilityZone": "us-east-1a",
            "product/instanceType": "p4d.24xlarge" if "Box" in usage_type or "Software" in usage_type else "",
            "product/region": "us-east-1", "pricing/term": "OnDemand"}


def aws_cur(path, *, repeat_box: bool = False):
    """A p4d.24xlarge on a Marketplace AMI for 3 hours: the BoxUsage instance-hour, the
    Marketplace software hour on the same instance (SoftwareUsage, as in the koku sample
    2022-07-01-alt-columns.csv), data transfer billed to the instance, and its EBS volume."""
    def hour(start, end):
        rows = [cur_row(start, end, "USE1-BoxUsage:p4d.24xlarge", 1.0, "i-0a1b2c3d4e5f60718",
                        "$32.7726 per On Demand Linux p4d.24xlarge Instance Hour"),
                cur_row(start, end, "SoftwareUsage:p4d.24xlarge", 1.0, EC2,
                        "AWS Marketplace hourly software usage|us-east-1|p4d.24xlarge", product_code="mra"),
                cur_row(start, end, "USE1-DataTransfer-Out-Bytes", 0.25, "i-0a1b2c3d4e5f60718",
                        "$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier"),
                cur_row(start, end, "USE1-EBS:VolumeUsage.gp3", 1.37, "vol-0f1e2d3c4b5a69788",
                        "$0.08 per GB-month of General Purpose (gp3) provisioned storage - US East (N. Virginia)")]
        if repeat_box and start.endswith("T02:00:00Z"):
            rows.append(dict(rows[0]))
        return rows
    pd.DataFrame(hourly(hour)).to_csv(path, index=False)
    return path


def test_aws_cur_marketplace_ebs_and_transfer_rows_are_not_demand(tmp_path):
    f = aws_cur(tmp_path / "cur.csv")
    p = load_usage(f)
    assert p.demand_instances["aws/us-east-1/p4d.24xlarge"].tolist() == [1.0, 1.0, 1.0]
    s = summarize_usage(f)
    assert [(x.family, x.instance_hours) for x in s.families] == [("aws/us-east-1/p4d.24xlarge", 3.0)]
    assert skipped(s) == {LICENSE: 3, NOT_BOX: 6}


def test_aws_cur_box_usage_twice_is_still_refused(tmp_path):
    with pytest.raises(InputError, match=r"instance i-0a1b2c3d4e5f60718 is billed 2 instance-hours in the hour "
                                         r"2026-03-02T02:00Z \(rows 10 and 14\)"):
        load_usage(aws_cur(tmp_path / "twice.csv", repeat_box=True))


def test_aws_focus_usage_type_decides_over_sku_price_details(tmp_path):
    """AWS FOCUS 1.2 with x_UsageType: a row is an instance-hour only when its usage type is
    BoxUsage / SpotUsage (as in the CUR), whatever SkuPriceDetails says. The Marketplace
    software row and the Dedicated Host's hours name the instance type too."""
    p4d = json.dumps({"InstanceType": "p4d.24xlarge", "GpuCount": 8})

    def row(start, end, usage_type, quantity, unit, resource, description, details=p4d):
        return {"ChargeCategory": "Usage", "ChargePeriodStart": start, "ChargePeriodEnd": end,
                "ServiceProviderName": "AWS", "RegionId": "us-east-1", "ResourceId": resource,
                "ConsumedQuantity": quantity, "ConsumedUnit": unit, "PricingCategory": "Standard",
                "x_UsageType": usage_type, "SkuPriceDetails": details, "ChargeDescription": description}

    def hour(start, end):
        return [row(start, end, "USE1-BoxUsage:p4d.24xlarge", 1.0, "Hrs", EC2,
                    "$32.7726 per On Demand Linux p4d.24xlarge Instance Hour"),
                row(start, end, "SoftwareUsage:p4d.24xlarge", 1.0, "Hrs", EC2,
                    "AWS Marketplace hourly software usage|us-east-1|p4d.24xlarge"),
                row(start, end, "USE1-HostUsage:p4d", 1.0, "Hrs", "h-0c1d2e3f4a5b6c7d8",
                    "$35.39 per On Demand p4d Dedicated Host Hour"),
                row(start, end, "USE1-DataTransfer-Out-Bytes", 0.25, "GB", EC2, "$0.09 per GB data transfer out",
                    details="")]
    f = tmp_path / "aws_focus.csv"
    pd.DataFrame(hourly(hour)).to_csv(f, index=False)
    p = load_usage(f)
    assert p.demand_instances["aws/us-east-1/p4d.24xlarge"].tolist() == [1.0, 1.0, 1.0]
    s = summarize_usage(f)
    assert [(x.family, x.instance_hours) for x in s.families] == [("aws/us-east-1/p4d.24xlarge", 3.0)]
    assert skipped(s) == {LICENSE: 3, "dedicated or host tenancy usage (not supported)": 3, NOT_BOX: 3}
