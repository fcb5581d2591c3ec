"""The same usage twice in a FOCUS export of Azure or GCP VMs (the check read EC2 ids only,
so two joined downloads of an Azure month doubled its demand without a word)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.usage.instance_hours import vm_instance_ids

AZURE_VM = "/subscriptions/0000-11/resourceGroups/ml/providers/Microsoft.Compute/virtualMachines/gpu-{i}"
AZURE_VMSS = "/subscriptions/0000-11/resourceGroups/ml/providers/Microsoft.Compute/virtualMachineScaleSets/pool"
GCE_VM = "//compute.googleapis.com/projects/acme/zones/us-central1-a/instances/gpu-{i}"


def focus_file(path, provider: str, resource: str, hours: int = 200, vms: int = 2, quantity: float = 1.0):
    """Hourly FOCUS usage rows of ``vms`` machines named by ``resource`` ({i}: the machine)."""
    sku = ({"x_SkuDetails": json.dumps({"ServiceType": "Standard_ND96isr_H100_v5"})} if provider == "Microsoft"
           else {"SkuPriceDetails": json.dumps({"InstanceType": "a3-highgpu-8g"})})
    region = "eastus" if provider == "Microsoft" else "us-central1"
    rows = [{"ChargePeriodStart": f"{t:%Y-%m-%dT%H:%M:%SZ}", "ChargePeriodEnd": f"{t + pd.Timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
             "ChargeCategory": "Usage", "ConsumedQuantity": quantity, "ConsumedUnit": "Hours",
             "ProviderName": provider, "RegionId": region, "PricingCategory": "Standard",
             "ResourceId": resource.format(i=i), **sku}
            for t in pd.date_range("2026-01-01", periods=hours, freq="h", tz="UTC") for i in range(vms)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def summarize(path):
    return CliRunner().invoke(main, ["usage", "summarize", str(path), "--format", "json"])


def test_vm_ids_of_each_cloud_and_nothing_else():
    ids = vm_instance_ids(pa.array([
        "arn:aws:ec2:us-east-1:1:instance/i-0abc1234", "i-0abc1234",
        AZURE_VM.format(i=1), AZURE_VM.format(i=1).lower(), " " + AZURE_VM.format(i=1).upper() + " ",
        AZURE_VMSS, AZURE_VMSS + "/virtualMachines/3",
        GCE_VM.format(i=7), "projects/acme/zones/us-central1-a/instances/gpu-7",
        "projects/acme/zones/us-central1-a/disks/gpu-7", "arn:aws:ec2:us-east-1:1:natgateway/nat-0abc1234",
        None, ""])).to_pylist()
    vm = AZURE_VM.format(i=1).lower()
    gce = "projects/acme/zones/us-central1-a/instances/gpu-7"
    assert ids == ["i-0abc1234", "i-0abc1234", vm, vm, vm, None, None, gce, gce, None, None, None, None]


@pytest.mark.parametrize("provider, resource", [("Microsoft", AZURE_VM), ("Google Cloud", GCE_VM)])
def test_a_month_joined_twice_is_refused_naming_rows_and_column(tmp_path, provider, resource):
    f = focus_file(tmp_path / "once.csv", provider, resource)
    once = summarize(f)
    assert once.exit_code == 0, once.output
    assert json.loads(once.output)["families"][0]["instance_hours"] == pytest.approx(400.0)
    text = f.read_text()
    body = text.split("\n", 1)[1]
    (tmp_path / "twice.csv").write_text(text + body)
    res = summarize(tmp_path / "twice.csv")
    assert res.exit_code == 1, res.output
    assert "column 'ResourceId'" in res.output and "(rows 2 and 402)" in res.output
    assert "is billed 2 instance-hours in the hour 2026-01-01T00:00Z" in res.output
    assert "keep the latest file of each billing period" in res.output


def test_one_azure_vm_spelled_in_two_cases_is_one_vm(tmp_path):
    """Azure ids are case-insensitive: a VM's hour billed as two halves under two spellings
    is one hour; three halves are 1.5 and refused."""
    f = focus_file(tmp_path / "a.csv", "Microsoft", AZURE_VM, vms=1, quantity=0.5)
    df = pd.read_csv(f)
    upper = df.assign(ResourceId=df["ResourceId"].str.upper())
    pd.concat([df, upper]).to_csv(f, index=False)
    ok = summarize(f)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["families"][0]["instance_hours"] == pytest.approx(200.0)
    pd.concat([df, upper, df.iloc[[5]]]).to_csv(f, index=False)
    res = summarize(f)
    assert res.exit_code == 1 and "billed 1.5 instance-hours in the hour 2026-01-01T05:00Z" in res.output


def test_a_scale_set_row_may_hold_many_vm_hours(tmp_path):
    """One row per hour for a whole scale set of 4 VMs: 4 instance-hours an hour, legal."""
    f = focus_file(tmp_path / "s.csv", "Microsoft", AZURE_VMSS, vms=1, quantity=4.0)
    res = summarize(f)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["families"][0]["instance_hours"] == pytest.approx(800.0)


def test_self_links_and_trailing_slashes_name_the_same_vm():
    """The API's selfLink form of a Compute Engine instance and ids with a trailing '/' went
    unchecked (helper 32's review): they are the same VM as the bare name."""
    gce = "projects/acme/zones/us-central1-a/instances/gpu-7"
    vm = AZURE_VM.format(i=1)
    ids = vm_instance_ids(pa.array([
        f"https://www.googleapis.com/compute/v1/{gce}", f"https://compute.googleapis.com/compute/beta/{gce}/",
        gce + "/", vm + "/", f"https://example.com/compute/v1/{gce}", f"{gce}/disks/d"])).to_pylist()
    assert ids == [gce, gce, gce, vm.lower(), None, None]
