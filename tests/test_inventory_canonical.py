"""Existing commitments (inventory CSV): priced from the catalog, refused when inconsistent."""

from __future__ import annotations

import pandas as pd
import pytest

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.usage.inventory import load_inventory

P5 = "aws/us-east-1/p5.48xlarge"
HEADER = "id,product,family,quantity,start,end\n"


@pytest.fixture(scope="module")
def catalog():
    return embedded_catalog()


def write(tmp_path, body):
    p = tmp_path / "inventory.csv"
    p.write_text(HEADER + body)
    return p


def test_reservation_and_savings_plan_priced(tmp_path, catalog):
    p = write(tmp_path, f"ri-1,aws-ri-1y-all_upfront,{P5},3,2026-01-01,2027-01-01\n"
                        f"sp-1,aws-csp-3y-no_upfront,,12.5,2025-06-01T00:00:00Z,2028-06-01T00:00:00Z\n")
    book = load_inventory(p, catalog)
    it = book.items.set_index("id")
    rate = catalog.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    ri_rate = rate[("aws-ri-1y-all_upfront", P5)]
    assert it.loc["ri-1", "kind"] == "reservation" and it.loc["ri-1", "origin"] == "inventory"
    assert it.loc["ri-1", "upfront_usd"] == pytest.approx(3 * ri_rate * 8760)
    assert it.loc["ri-1", "recurring_usd_per_hour"] == 0
    assert it.loc["sp-1", "kind"] == "savings_plan" and it.loc["sp-1", "family"] == ""
    assert it.loc["sp-1", "recurring_usd_per_hour"] == pytest.approx(12.5)
    assert it.loc["sp-1", "end"] == pd.Timestamp("2028-06-01", tz="UTC")


@pytest.mark.parametrize("body,row,column,words", [
    (f"ri-1,aws-ri-1y-all_upfront,{P5},3,2026-01-01,2025-01-01\n", 2, "end", "not after start"),
    (f"ri-1,aws-ri-1y-all_upfront,{P5},3,2026-01-01,2027-01-01\nri-1,aws-ri-1y-all_upfront,{P5},1,2026-01-01,2027-01-01\n",
     3, "id", "appears twice"),
    (f"ri-1,aws-ri-1y-all-upfront,{P5},3,2026-01-01,2027-01-01\n", 2, "product", "Did you mean 'aws-ri-1y-all_upfront'"),
    ("ri-1,aws-ri-1y-all_upfront,aws/us-east-1/p5.48xlarg,3,2026-01-01,2027-01-01\n", 2, "family", "not in the catalog"),
    ("ri-1,aws-ri-1y-all_upfront,,3,2026-01-01,2027-01-01\n", 2, "family", "needs its family"),
    (f"sp-1,aws-csp-1y-no_upfront,{P5},3,2026-01-01,2027-01-01\n", 2, "family", "has no family"),
    (f"ri-1,aws-ri-1y-all_upfront,{P5},0,2026-01-01,2027-01-01\n", 2, "quantity", "positive"),
    (f"ri-1,aws-ri-1y-all_upfront,{P5},3,2026-01-01,2029-01-01\n", 2, "end", "contradicts the product's term"),
    (f"ri-1,aws-ri-1y-all_upfront,{P5},3,2026-01-01T00:00:00,2027-01-01\n", 2, "start", "no time zone"),
])
def test_bad_inventory(tmp_path, catalog, body, row, column, words):
    p = write(tmp_path, body)
    with pytest.raises(InputError) as err:
        load_inventory(p, catalog)
    e = err.value
    assert (e.row, e.column) == (row, column)
    assert words in str(e) and str(p) in str(e)


def test_provider_year_of_365_days_accepted(tmp_path, catalog):
    # AWS counts a 3-year term as 3 x 365 days; 2028 is a leap year: 1 day short of calendar
    p = write(tmp_path, f"ri-3,aws-ri-3y-no_upfront,{P5},1,2026-01-01,2028-12-31\n")
    assert len(load_inventory(p, catalog)) == 1
