"""Audit of the live AWS price fetch (pricing/aws.py) against bad or partial API answers.

All AWS calls are answered by botocore's Stubber (no network); the helpers and response
shapes are those of tests/test_pricing_aws.py. Prices are our own round numbers, chosen so
the expected rates can be worked by hand.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from test_pricing_aws import AS_OF, StubbedAws, product_json, products_request, spot_record

from gpuladder.cli import main
from gpuladder.errors import DomainError
from gpuladder.pricing import aws
from gpuladder.pricing.aws import AwsFetchOptions, fetch_aws_catalog
from gpuladder.units import term_hours

P5 = "aws/us-east-1/p5.48xlarge"
G6 = "aws/us-east-1/g6.xlarge"


def queue_products(s: StubbedAws, gpu_items: list, asic_items: list = ()) -> None:
    pr = s.stubs[("pricing", "us-east-1")]
    pr.add_response("get_products", {"PriceList": list(gpu_items)}, products_request("us-east-1", "GPU instance"))
    pr.add_response("get_products", {"PriceList": list(asic_items)},
                    products_request("us-east-1", "Machine Learning ASIC Instances"))


def queue_no_sp_no_spot(s: StubbedAws) -> None:
    s.stubs[("savingsplans", "us-east-1")].add_response("describe_savings_plans_offering_rates",
                                                        {"searchResults": []}, None)
    s.stubs[("ec2", "us-east-1")].add_response("describe_spot_price_history", {"SpotPriceHistory": []}, None)


def fetch(s: StubbedAws):
    result = fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1",), as_of=AS_OF), s.factory)
    s.assert_done()
    return result


# ---------------------------------------------------------------- spot: a time average, not an average of changes

def test_spot_price_is_weighted_by_how_long_each_price_held():
    """describe_spot_price_history lists price *changes*, plus the change in effect at the
    window start (timestamped before it). Window: 7 days before 2026-03-01 12:00 = 168 h.
    Zone a: $20 since 02-20 (before the window), $50 for one hour on 02-25, then $20 again:
    (1 x 50 + 167 x 20) / 168 = 20.178571. Zone b: $24 from 02-28 00:00 (no earlier price
    known) = 24. Spot = mean of zones = 22.089286. Averaging the three change records of
    zone a gave (20 + 50 + 20) / 3 = 30: a one-hour spike priced spot 49% dearer."""
    with StubbedAws() as s:
        queue_products(s, [product_json("p5.48xlarge", "us-east-1", "55.0400000000")])
        s.stubs[("savingsplans", "us-east-1")].add_response("describe_savings_plans_offering_rates",
                                                            {"searchResults": []}, None)
        s.stubs[("ec2", "us-east-1")].add_response("describe_spot_price_history", {"SpotPriceHistory": [
            spot_record("p5.48xlarge", "us-east-1a", "20.00", "2026-02-25T01:00:00Z"),
            spot_record("p5.48xlarge", "us-east-1a", "50.00", "2026-02-25T00:00:00Z"),
            spot_record("p5.48xlarge", "us-east-1a", "20.00", "2026-02-20T00:00:00Z"),
            spot_record("p5.48xlarge", "us-east-1b", "24.00", "2026-02-28T00:00:00Z")]}, None)
        fam = fetch(s).catalog.families
    zone_a = (1 * 50 + 167 * 20) / 168
    assert fam.loc[P5, "spot_usd_per_hour"] == pytest.approx((zone_a + 24) / 2, rel=1e-9)


def test_spot_record_at_the_window_end_still_counts():
    """A zone whose only record is stamped at the fetch instant held that price for 0 hours
    of the window; it is the price in effect and is used as is."""
    with StubbedAws() as s:
        queue_products(s, [product_json("g6.xlarge", "us-east-1", "0.8048000000", gpu="1")])
        s.stubs[("savingsplans", "us-east-1")].add_response("describe_savings_plans_offering_rates",
                                                            {"searchResults": []}, None)
        s.stubs[("ec2", "us-east-1")].add_response("describe_spot_price_history", {"SpotPriceHistory": [
            spot_record("g6.xlarge", "us-east-1a", "0.30", str(AS_OF))]}, None)
        fam = fetch(s).catalog.families
    assert fam.loc[G6, "spot_usd_per_hour"] == pytest.approx(0.30)


# ---------------------------------------------------------------- reserved offers with missing price dimensions

def test_reserved_offer_missing_its_upfront_fee_is_not_loaded_at_the_hourly_part_alone():
    """A Partial Upfront offer whose 'Quantity' (upfront fee) dimension is missing read as
    hourly 11.0 alone (about half the real effective rate): a plan would have bought it as
    by far the cheapest product. An All Upfront offer without its fee read as 0 $/h and the
    whole fetch died on 'must be positive'. A No Upfront offer without an hourly price
    likewise. All three are skipped with a note naming the instance type; the well-formed
    3-year offer is loaded."""
    reserved = [("1yr", "Partial Upfront", "11.0000000000", None),
                ("1yr", "All Upfront", "0.0000000000", None),
                ("3yr", "No Upfront", "0.0000000000", None),
                ("3yr", "All Upfront", "0.0000000000", "788400")]
    with StubbedAws() as s:
        queue_products(s, [product_json("p5.48xlarge", "us-east-1", "55.0400000000", reserved)])
        queue_no_sp_no_spot(s)
        result = fetch(s)
    com = result.catalog.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    assert com.to_dict() == {("aws-ri-3y-all_upfront", P5):
                             pytest.approx(788400 / term_hours(pd.Timestamp("2026-03-01", tz="UTC"), 36))}
    note = next(n for n in result.notes if "reserved" in n)
    assert "3" in note and "p5.48xlarge" in note


def test_unreadable_prices_and_items_are_skipped_with_a_note_not_a_traceback():
    """One PriceList item is cut short (not JSON), one has a price that is not a number;
    the fetch keeps the readable g6.xlarge and says what it skipped."""
    bad_price = product_json("p5.48xlarge", "us-east-1", "N/A")
    with StubbedAws() as s:
        queue_products(s, ['{"product": {"attributes": {"instanceType": "p5.48x', bad_price,
                           product_json("g6.xlarge", "us-east-1", "0.8048000000", gpu="1")])
        queue_no_sp_no_spot(s)
        result = fetch(s)
    assert list(result.catalog.families.index) == [G6]
    text = " ".join(result.notes)
    assert "1 price list item" in text and "not JSON" in text
    assert "p5.48xlarge" in text


def test_reserved_offer_with_an_unreadable_price_is_skipped():
    reserved = [("1yr", "No Upfront", "abc", None), ("1yr", "All Upfront", "0.0000000000", "262800")]
    with StubbedAws() as s:
        queue_products(s, [product_json("p5.48xlarge", "us-east-1", "55.0400000000", reserved)])
        queue_no_sp_no_spot(s)
        result = fetch(s)
    com = result.catalog.commitments
    assert list(com["product"]) == ["aws-ri-1y-all_upfront"]
    assert com["rate_usd_per_hour"].iloc[0] == pytest.approx(262800 / 8760)


# ---------------------------------------------------------------- pagination and throttling

def test_a_repeated_page_token_stops_the_fetch_instead_of_looping():
    """botocore's own paginators refuse a token seen twice; ours looped (here until the stub
    ran dry; against a misbehaving endpoint, forever)."""
    with StubbedAws() as s:
        pr = s.stubs[("pricing", "us-east-1")]
        page = {"NextToken": "same", "PriceList": [product_json("g6.xlarge", "us-east-1", "0.8048", gpu="1")]}
        pr.add_response("get_products", page, products_request("us-east-1", "GPU instance"))
        pr.add_response("get_products", page, products_request("us-east-1", "GPU instance", "same"))
        with pytest.raises(DomainError, match="same page token twice"):
            fetch_aws_catalog(AwsFetchOptions(regions=("us-east-1",), as_of=AS_OF), s.factory)
        s.assert_done()


def test_throttling_after_retries_exits_1_and_writes_nothing(monkeypatch, tmp_path):
    with StubbedAws() as s:
        s.stubs[("pricing", "us-east-1")].add_client_error(
            "get_products", service_error_code="ThrottlingException", service_message="Rate exceeded",
            http_status_code=400)
        monkeypatch.setattr(aws, "_session_factory", lambda: (s.factory, "us-east-1"))
        res = CliRunner().invoke(main, ["catalog", "fetch", "aws", "-o", str(tmp_path / "out")])
        s.assert_done()
    assert res.exit_code == 1
    assert "ThrottlingException" in res.output and "pricing.get_products" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out" / "families.csv").exists()

