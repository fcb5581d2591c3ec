"""Live AWS price loader (pricing/aws.py), fully offline.

Every AWS call is answered by botocore's Stubber with responses shaped like the documented
ones: ``pricing.get_products`` returns ``PriceList`` as JSON strings with
``product.attributes`` and ``terms.OnDemand`` / ``terms.Reserved``;
``savingsplans.describe_savings_plans_offering_rates`` returns ``searchResults``;
``ec2.describe_spot_price_history`` returns ``SpotPriceHistory``. The prices below are our own
round numbers, chosen so the expected rates can be worked by hand.
"""

from __future__ import annotations

import json
import zlib

import boto3
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import DomainError
from gpuladder.pricing import aws
from gpuladder.pricing.aws import AwsFetchOptions, fetch_aws_catalog
from gpuladder.pricing.catalog import embedded_catalog, export_catalog, load_catalog, merge_catalogs, open_catalog
from gpuladder.units import term_hours

AS_OF = pd.Timestamp("2026-03-01T12:00:00Z")
YEAR_S, THREE_YEARS_S = 31536000, 94608000


def product_json(itype: str, region: str, od: str, reserved=(), gpu: str = "8", **attr_overrides) -> str:
    """A PriceList item as the API returns it (a JSON string)."""
    sku = f"SKU{zlib.crc32(f'{itype}{region}{od}'.encode()):010d}"
    attrs = {"servicecode": "AmazonEC2", "instanceType": itype, "regionCode": region,
             "location": "US East (N. Virginia)", "instanceFamily": "GPU instance", "gpu": gpu,
             "gpuMemory": "80 GB", "operatingSystem": "Linux", "tenancy": "Shared", "capacitystatus": "Used",
             "preInstalledSw": "NA", "licenseModel": "No License required", "operation": "RunInstances",
             "marketoption": "OnDemand", "usagetype": f"BoxUsage:{itype}"}
    attrs.update(attr_overrides)
    terms = {"OnDemand": {f"{sku}.JRTCKXETXF": {
        "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-02-01T00:00:00Z", "termAttributes": {},
        "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
            "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "unit": "Hrs", "beginRange": "0", "endRange": "Inf",
            "description": f"${od} per On Demand Linux {itype} Instance Hour", "appliesTo": [],
            "pricePerUnit": {"USD": od}}}}}}
    reserved_terms = {}
    for i, (lease, option, hourly, upfront) in enumerate(reserved):
        code = f"RES{i:07d}"
        dims = {f"{sku}.{code}.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": hourly},
                                             "description": "Linux/UNIX (Amazon VPC) reserved instance applied",
                                             "beginRange": "0", "endRange": "Inf", "appliesTo": []}}
        if upfront is not None:
            dims[f"{sku}.{code}.2TG2D8R56U"] = {"unit": "Quantity", "pricePerUnit": {"USD": upfront},
                                                "description": "Upfront Fee", "appliesTo": []}
        reserved_terms[f"{sku}.{code}"] = {
            "offerTermCode": code, "sku": sku, "effectiveDate": "2026-02-01T00:00:00Z", "priceDimensions": dims,
            "termAttributes": {"LeaseContractLength": lease, "OfferingClass": "standard", "PurchaseOption": option}}
    if reserved_terms:
        terms["Reserved"] = reserved_terms
    return json.dumps({"product": {"productFamily": "Compute Instance", "attributes": attrs, "sku": sku},
                       "serviceCode": "AmazonEC2", "terms": terms, "version": "20260201000000",
                       "publicationDate": "2026-02-01T00:00:00Z"})


def sp_rate(plan: str, seconds: int, payment: str, region: str, itype: str, rate: str) -> dict:
    return {"savingsPlanOffering": {"offeringId": "3f4c2a1e-0000-4000-8000-000000000001", "paymentOption": payment,
                                    "planType": plan, "durationSeconds": seconds, "currency": "USD",
                                    "planDescription": f"{seconds // YEAR_S} year {payment} {plan}"},
            "rate": rate, "unit": "Hrs", "productType": "EC2", "serviceCode": "AmazonEC2",
            "usageType": f"USE1-BoxUsage:{itype}" if region == "us-east-1" else f"USW2-BoxUsage:{itype}",
            "operation": "RunInstances",
            "properties": [{"name": "region", "value": region}, {"name": "instanceType", "value": itype},
                           {"name": "instanceFamily", "value": itype.split(".")[0]},
                           {"name": "productDescription", "value": "Linux/UNIX"},
                           {"name": "tenancy", "value": "shared"}]}


def spot_record(itype: str, zone: str, price: str, when: str) -> dict:
    return {"AvailabilityZone": zone, "InstanceType": itype, "ProductDescription": "Linux/UNIX",
            "SpotPrice": price, "Timestamp": pd.Timestamp(when).to_pydatetime()}


def client(service: str, region: str):
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


def products_request(region: str, family: str, token: str | None = None) -> dict:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in (
        ("regionCode", region), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
        ("capacitystatus", "Used"), ("preInstalledSw", "NA"), ("instanceFamily", family))]
    req = {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "MaxResults": 100, "Filters": filters}
    if token:
        req["NextToken"] = token
    return req


class StubbedAws:
    """Stubbed pricing / savingsplans / ec2 clients and a factory handing them out."""

    def __init__(self, regions=("us-east-1",)):
        self.clients = {("pricing", "us-east-1"): client("pricing", "us-east-1"),
                        ("savingsplans", "us-east-1"): client("savingsplans", "us-east-1")}
        for r in regions:
            self.clients[("ec2", r)] = client("ec2", r)
        self.stubs = {k: Stubber(c) for k, c in self.clients.items()}

    def factory(self, service: str, region: str):
        return self.clients[(service, region)]

    def __enter__(self):
        for s in self.stubs.values():
            s.activate()
        return self

    def __exit__(self, *exc):
        for s in self.stubs.values():
            s.deactivate()

    def assert_done(self):
        for s in self.stubs.values():
            s.assert_no_pending_responses()


P5_RESERVED = [("1yr", "No Upfront", "34.0000000000", None),
               ("1yr", "All Upfront", "0.0000000000", "262800"),
               ("3yr", "Partial Upfront", "11.0000000000", "262800")]


def queue_happy_path(aws_stub: StubbedAws) -> None:
    """us-east-1: p5.48xlarge (2 pages of GPU instances), inf2.xlarge (ML ASIC, no 'gpu'
    attribute, accelerator count from the embedded catalog), a Windows-free duplicate
    with marketoption CapacityBlock (ignored)."""
    pr = aws_stub.stubs[("pricing", "us-east-1")]
    pr.add_response("get_products", {"FormatVersion": "aws_v1", "NextToken": "page2",
                                     "PriceList": [product_json("p5.48xlarge", "us-east-1", "55.0400000000", P5_RESERVED)]},
                    products_request("us-east-1", "GPU instance"))
    pr.add_response("get_products", {"FormatVersion": "aws_v1",
                                     "PriceList": [product_json("p5.48xlarge", "us-east-1", "31.4640000000",
                                                                marketoption="CapacityBlock"),
                                                   product_json("g6.xlarge", "us-east-1", "0.8048000000", gpu="1")]},
                    products_request("us-east-1", "GPU instance", "page2"))
    pr.add_response("get_products", {"FormatVersion": "aws_v1",
                                     "PriceList": [product_json("inf2.xlarge", "us-east-1", "0.7582000000", gpu="NA",
                                                                instanceFamily="Machine Learning ASIC Instances")]},
                    products_request("us-east-1", "Machine Learning ASIC Instances"))
    sp = aws_stub.stubs[("savingsplans", "us-east-1")]
    sp.add_response("describe_savings_plans_offering_rates",
                    {"nextToken": "sp2", "searchResults": [
                        sp_rate("EC2Instance", YEAR_S, "No Upfront", "us-east-1", "p5.48xlarge", "33.0240000000"),
                        sp_rate("Compute", THREE_YEARS_S, "All Upfront", "us-east-1", "p5.48xlarge", "24.7680000000")]},
                    {"savingsPlanTypes": ["Compute", "EC2Instance"],
                     "savingsPlanPaymentOptions": ["No Upfront", "Partial Upfront", "All Upfront"],
                     "products": ["EC2"], "serviceCodes": ["AmazonEC2"], "maxResults": 1000,
                     "filters": [{"name": "region", "values": ["us-east-1"]},
                                 {"name": "instanceFamily", "values": ["g6", "inf2", "p5"]},
                                 {"name": "tenancy", "values": ["shared"]},
                                 {"name": "productDescription", "values": ["Linux/UNIX"]}]})
    sp.add_response("describe_savings_plans_offering_rates",
                    {"searchResults": [
                        sp_rate("Compute", YEAR_S, "Partial Upfront", "us-east-1", "g6.xlarge", "0.5800000000"),
                        # above on-demand: must be dropped, not loaded
                        sp_rate("Compute", YEAR_S, "No Upfront", "us-east-1", "g6.xlarge", "0.9000000000")]},
                    {"savingsPlanTypes": ANY, "savingsPlanPaymentOptions": ANY, "products": ANY,
                     "serviceCodes": ANY, "maxResults": ANY, "filters": ANY, "nextToken": "sp2"})
    ec2 = aws_stub.stubs[("ec2", "us-east-1")]
    spot_req = {"InstanceTypes": ["g6.xlarge", "inf2.xlarge", "p5.48xlarge"], "ProductDescriptions": ["Linux/UNIX"],
                "StartTime": ANY, "EndTime": ANY, "MaxResults": 1000}
    ec2.add_response("describe_spot_price_history",
                     {"NextToken": "s2", "SpotPriceHistory": [
                         spot_record("g6.xlarge", "us-east-1a", "0.30", "2026-02-28T01:00:00Z"),
                         spot_record("g6.xlarge", "us-east-1a", "0.50", "2026-02-27T01:00:00Z"),
                         spot_record("g6.xlarge", "us-east-1a", "0.40", "2026-02-26T01:00:00Z")]},
                     spot_req)
    ec2.add_response("describe_spot_price_history",
                     {"NextToken": "", "SpotPriceHistory": [
                         spot_record("g6.xlarge", "us-east-1b", "0.20", "2026-02-28T01:00:00Z")]},
                     {**spot_req, "NextToken": "s2"})


def fetch_happy(tmp_path=None):
    with StubbedAws() as s:
        queue_happy_path(s)
        result = fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1",), as_of=AS_OF), s.factory)
        s.assert_done()
    return result


def test_fetch_parses_on_demand_reserved_savings_plans_and_spot():
    result = fetch_happy()
    cat = result.catalog
    fam = cat.families
    assert list(fam.index) == ["aws/us-east-1/g6.xlarge", "aws/us-east-1/inf2.xlarge", "aws/us-east-1/p5.48xlarge"]
    assert fam.loc["aws/us-east-1/p5.48xlarge", "on_demand_usd_per_hour"] == 55.04  # not the CapacityBlock SKU
    assert fam.loc["aws/us-east-1/p5.48xlarge", "gpus_per_instance"] == 8
    assert fam.loc["aws/us-east-1/p5.48xlarge", "gpu_model"] == "H100-80GB"
    assert fam.loc["aws/us-east-1/inf2.xlarge", "gpus_per_instance"] == 1  # from the embedded catalog
    # spot, window 02-22 12:00 .. 03-01 12:00: zone a has 0.40 from 02-26 01:00 (24 h), 0.50 (24 h),
    # 0.30 from 02-28 01:00 (35 h) -> 32.1 / 83; zone b 0.20 -> mean of zones (32.1 / 83 + 0.2) / 2
    assert fam.loc["aws/us-east-1/g6.xlarge", "spot_usd_per_hour"] == pytest.approx((32.1 / 83 + 0.2) / 2)
    assert pd.isna(fam.loc["aws/us-east-1/p5.48xlarge", "spot_usd_per_hour"])
    assert (fam["as_of"] == "2026-03-01").all()
    assert fam["source"].str.startswith("aws-price-list-api").all()
    assert "spot" in fam.loc["aws/us-east-1/g6.xlarge", "source"]

    com = cat.commitments.set_index(["product", "family"])
    p5 = "aws/us-east-1/p5.48xlarge"
    assert com.loc[("aws-ri-1y-no_upfront", p5), "rate_usd_per_hour"] == pytest.approx(34.0)
    # all upfront 262800 over the calendar hours of a year from 2026-03-01 (8760 h): 30.0/h
    hours_1y = term_hours(pd.Timestamp("2026-03-01", tz="UTC"), 12)
    assert hours_1y == 8760
    assert com.loc[("aws-ri-1y-all_upfront", p5), "rate_usd_per_hour"] == pytest.approx(262800 / hours_1y)
    hours_3y = term_hours(pd.Timestamp("2026-03-01", tz="UTC"), 36)
    assert com.loc[("aws-ri-3y-partial_upfront", p5), "rate_usd_per_hour"] == pytest.approx(11 + 262800 / hours_3y)
    assert com.loc[("aws-ri-3y-partial_upfront", p5), "upfront_share"] == 0.5
    assert com.loc[("aws-ec2sp-us-east-1-p5-1y-no_upfront", p5), "kind"] == "savings_plan"
    assert com.loc[("aws-ec2sp-us-east-1-p5-1y-no_upfront", p5), "rate_usd_per_hour"] == pytest.approx(33.024)
    assert com.loc[("aws-csp-3y-all_upfront", p5), "rate_usd_per_hour"] == pytest.approx(24.768)
    assert com.loc[("aws-csp-3y-all_upfront", p5), "term_months"] == 36
    assert com.loc[("aws-csp-1y-partial_upfront", "aws/us-east-1/g6.xlarge"), "rate_usd_per_hour"] == pytest.approx(0.58)
    assert ("aws-csp-1y-no_upfront", "aws/us-east-1/g6.xlarge") not in com.index  # 0.90 > on-demand 0.8048
    assert any("above on-demand" in n for n in result.notes)
    assert len(com) == 6
    assert not cat.products()["estimate"].any()


def test_fetched_folder_loads_and_merges_over_embedded(tmp_path):
    cat = fetch_happy().catalog
    export_catalog(cat, tmp_path / "aws")
    loaded = load_catalog(tmp_path / "aws")
    pd.testing.assert_frame_equal(loaded.families, cat.families)
    pd.testing.assert_frame_equal(loaded.commitments, cat.commitments)
    merged = open_catalog(["embedded", str(tmp_path / "aws")])
    emb = embedded_catalog()
    assert len(merged.families) == len(emb.families)  # all three fetched families exist in the snapshot
    p5 = "aws/us-east-1/p5.48xlarge"
    assert merged.families.loc[p5, "source"] == "aws-price-list-api"
    com = merged.commitments.set_index(["product", "family"])
    assert com.loc[("aws-ri-1y-no_upfront", p5), "rate_usd_per_hour"] == pytest.approx(34.0)
    assert com.loc[("aws-ri-1y-no_upfront", p5), "source"].startswith("aws-price-list-api")
    # a product fetched for one family keeps the estimates of the others -> still flagged
    assert merged.products().loc["aws-ri-1y-no_upfront", "estimate"]
    assert merge_catalogs(emb, cat).families.loc[p5, "on_demand_usd_per_hour"] == 55.04


def test_instance_type_filter_queries_each_type():
    with StubbedAws() as s:
        req = products_request("us-east-1", "x")
        req["Filters"][-1] = {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "g6.xlarge"}
        s.stubs[("pricing", "us-east-1")].add_response(
            "get_products", {"PriceList": [product_json("g6.xlarge", "us-east-1", "0.8048", gpu="1")]}, req)
        s.stubs[("savingsplans", "us-east-1")].add_response("describe_savings_plans_offering_rates",
                                                            {"searchResults": []}, None)
        s.stubs[("ec2", "us-east-1")].add_response("describe_spot_price_history", {"SpotPriceHistory": []}, None)
        result = fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1",), as_of=AS_OF,
                                                   instance_types=("g6.xlarge",)), s.factory)
        s.assert_done()
    assert list(result.catalog.families.index) == ["aws/us-east-1/g6.xlarge"]
    assert result.catalog.commitments.empty
    assert any("no savings plan rates" in n for n in result.notes)


def test_access_denied_is_a_clear_domain_error():
    with StubbedAws() as s:
        s.stubs[("pricing", "us-east-1")].add_client_error(
            "get_products", service_error_code="AccessDeniedException",
            service_message="User is not authorized to perform: pricing:GetProducts", http_status_code=400)
        with pytest.raises(DomainError) as err:
            fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1",), as_of=AS_OF), s.factory)
    msg = str(err.value)
    assert "AccessDeniedException" in msg and "pricing:GetProducts" in msg and "You can fix this" in msg


def test_no_products_for_region_is_a_domain_error():
    with StubbedAws(regions=("xx-nowhere-1",)) as s:
        for fam in aws.GPU_INSTANCE_FAMILIES:
            s.stubs[("pricing", "us-east-1")].add_response("get_products", {"PriceList": []},
                                                          products_request("xx-nowhere-1", fam))
        with pytest.raises(DomainError, match="no GPU instance prices for xx-nowhere-1"):
            fetch_aws_catalog(AwsFetchOptions(regions=("xx-nowhere-1",), as_of=AS_OF), s.factory)


@pytest.fixture
def no_aws_config(monkeypatch, tmp_path):
    """No credentials, no region, no config files, no instance metadata lookups (no network)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_cli_no_region_exits_1_without_traceback(no_aws_config, tmp_path):
    res = CliRunner().invoke(main, ["catalog", "fetch", "aws", "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "no AWS region" in res.output and "--region" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_cli_missing_credentials_exits_1_without_traceback(no_aws_config, tmp_path):
    res = CliRunner().invoke(main, ["catalog", "fetch", "aws", "--region", "us-east-1", "-o", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert "no AWS credentials" in res.output and "aws configure" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_cli_fetch_writes_a_loadable_folder(monkeypatch, tmp_path):
    with StubbedAws() as s:
        queue_happy_path(s)
        monkeypatch.setattr(aws, "_session_factory", lambda: (s.factory, "us-east-1"))
        res = CliRunner().invoke(main, ["catalog", "fetch", "aws", "-o", str(tmp_path / "out")])
        s.assert_done()
    assert res.exit_code == 0, res.output
    assert "above on-demand" in res.output
    cat = load_catalog(tmp_path / "out")
    assert len(cat.families) == 3 and len(cat.commitments) == 6
    shown = CliRunner().invoke(main, ["catalog", "show", "--catalog", "embedded", "--catalog", str(tmp_path / "out"),
                                      "--family", "*/us-east-1/p5.48xlarge", "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    row = shown.output.splitlines()[1].split(",")
    assert row[0] == "aws/us-east-1/p5.48xlarge" and row[6] == "55.04"


def test_two_regions_spot_per_region_and_ec2sp_product_per_region():
    """us-west-2 has its own ec2 client and spot history; EC2 Instance SP products are per
    (region, instance family), Compute SP products span both regions. Dedicated-host usage
    types (HostBoxUsage) are not shared-tenancy instance rates and are ignored."""
    with StubbedAws(regions=("us-east-1", "us-west-2")) as s:
        pr = s.stubs[("pricing", "us-east-1")]
        for region, od in (("us-east-1", "1.0060000000"), ("us-west-2", "1.1000000000")):
            pr.add_response("get_products", {"PriceList": [product_json("g5.xlarge", region, od, gpu="1")]},
                            products_request(region, "GPU instance"))
            pr.add_response("get_products", {"PriceList": []}, products_request(region, "Machine Learning ASIC Instances"))
        host = sp_rate("EC2Instance", YEAR_S, "No Upfront", "us-west-2", "g5.xlarge", "0.1000000000")
        host["usageType"] = "USW2-HostBoxUsage:g5.xlarge"
        s.stubs[("savingsplans", "us-east-1")].add_response("describe_savings_plans_offering_rates", {"searchResults": [
            sp_rate("EC2Instance", YEAR_S, "No Upfront", "us-east-1", "g5.xlarge", "0.6000000000"),
            sp_rate("EC2Instance", YEAR_S, "No Upfront", "us-west-2", "g5.xlarge", "0.7000000000"), host,
            sp_rate("Compute", THREE_YEARS_S, "Partial Upfront", "us-west-2", "g5.xlarge", "0.5000000000")]},
            {"savingsPlanTypes": ANY, "savingsPlanPaymentOptions": ANY, "products": ANY, "serviceCodes": ANY,
             "maxResults": ANY, "filters": [{"name": "region", "values": ["us-east-1", "us-west-2"]},
                                            {"name": "instanceFamily", "values": ["g5"]},
                                            {"name": "tenancy", "values": ["shared"]},
                                            {"name": "productDescription", "values": ["Linux/UNIX"]}]})
        for region, price in (("us-east-1", "0.40"), ("us-west-2", "0.45")):
            s.stubs[("ec2", region)].add_response("describe_spot_price_history", {"SpotPriceHistory": [
                spot_record("g5.xlarge", f"{region}a", price, "2026-02-28T00:00:00Z")]},
                {"InstanceTypes": ["g5.xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY,
                 "EndTime": ANY, "MaxResults": 1000})
        result = fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1", "us-west-2"), as_of=AS_OF), s.factory)
        s.assert_done()
    fam = result.catalog.families
    assert fam["spot_usd_per_hour"].to_dict() == pytest.approx({"aws/us-east-1/g5.xlarge": 0.40,
                                                                "aws/us-west-2/g5.xlarge": 0.45})
    com = result.catalog.commitments.set_index(["product", "family"])["rate_usd_per_hour"].to_dict()
    assert com == {("aws-csp-3y-partial_upfront", "aws/us-west-2/g5.xlarge"): 0.5,
                   ("aws-ec2sp-us-east-1-g5-1y-no_upfront", "aws/us-east-1/g5.xlarge"): 0.6,
                   ("aws-ec2sp-us-west-2-g5-1y-no_upfront", "aws/us-west-2/g5.xlarge"): 0.7}
