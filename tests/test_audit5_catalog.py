"""Audit of catalog rules a FinOps reader relies on: what a commitment row's payment option
says about its upfront share, and what a merged catalog says about a product.

Catalog rows here are our own (tests/test_catalog_errors.py's two-family catalog).
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_catalog_errors import COMMITMENTS, P5, com_edit, write_catalog

from gpuladder.errors import InputError
from gpuladder.pricing.catalog import COMMITMENT_COLUMNS, export_catalog, load_catalog, open_catalog
from gpuladder.solver.book import make_purchases


@pytest.mark.parametrize("payment, share", [("no_upfront", "0.5"), ("no_upfront", "1"), ("all_upfront", "0"),
                                            ("all_upfront", "0.5"), ("partial_upfront", "0"),
                                            ("partial_upfront", "1")])
def test_upfront_share_must_agree_with_the_payment_option(tmp_path, payment, share):
    """A 'no_upfront' row with upfront_share 1 made the plan's cash view pay the whole term on
    the purchase date (and count it against max_upfront_usd_per_quarter); an 'all_upfront'
    row with share 0 bought a prepaid reservation for $0 upfront. Both loaded silently."""
    rows = [r[:] for r in COMMITMENTS]
    for r in rows:
        r[COMMITMENT_COLUMNS.index("payment")] = payment
        r[COMMITMENT_COLUMNS.index("upfront_share")] = share
    with pytest.raises(InputError) as err:
        load_catalog(write_catalog(tmp_path / "c", commitments=rows))
    msg = str(err.value)
    assert "row 2" in msg and "upfront_share" in msg and payment in msg


@pytest.mark.parametrize("payment, share", [("no_upfront", "0"), ("partial_upfront", "0.5"),
                                            ("partial_upfront", "0.42"), ("all_upfront", "1")])
def test_upfront_shares_that_agree_load(tmp_path, payment, share):
    rows = [r[:] for r in COMMITMENTS]
    for r in rows:
        r[COMMITMENT_COLUMNS.index("payment")] = payment
        r[COMMITMENT_COLUMNS.index("upfront_share")] = share
    cat = load_catalog(write_catalog(tmp_path / "c", commitments=rows))
    assert (cat.commitments["upfront_share"] == float(share)).all()


def test_single_row_mismatch_names_its_row(tmp_path):
    case = com_edit(3, "upfront_share", "1")
    with pytest.raises(InputError, match=r"row 3.*upfront_share"):
        load_catalog(write_catalog(tmp_path / "c", **case))


def _override_with(tmp_path, **changes) -> str:
    """A one-family catalog (embedded p5.48xlarge) whose aws-ri-1y-no_upfront row is edited."""
    over = tmp_path / "over"
    export_catalog(open_catalog("embedded").subset([P5]), over)
    com = pd.read_csv(over / "commitments.csv", dtype=str, keep_default_na=False)
    com = com[com["product"] == "aws-ri-1y-no_upfront"].copy()
    for col, value in changes.items():
        com[col] = value
    com.to_csv(over / "commitments.csv", index=False)
    return str(over)


@pytest.mark.parametrize("column, value", [("term_months", "36"), ("payment", "partial_upfront"),
                                           ("kind", "savings_plan")])
def test_merge_refuses_an_override_that_redefines_a_product(tmp_path, column, value):
    """The override is valid on its own, but its aws-ri-1y-no_upfront says 36 months where the
    embedded product (406 other families) says 12. The merged product had both; a purchase
    took the term of whichever row sorted first (12) and priced the 36-month rate for 12."""
    extra = {"upfront_share": "0.5"} if column == "payment" else {}
    over = _override_with(tmp_path, **{column: value}, **extra)
    assert len(load_catalog(over).commitments) == 1
    with pytest.raises(InputError) as err:
        open_catalog(["embedded", over])
    msg = str(err.value)
    assert "aws-ri-1y-no_upfront" in msg and column in msg and over in msg


def test_merge_keeps_products_an_override_agrees_with(tmp_path):
    over = _override_with(tmp_path, rate_usd_per_hour="30", source="our negotiated rate")
    merged = open_catalog(["embedded", over])
    book = make_purchases(merged, pd.DataFrame({"product": ["aws-ri-1y-no_upfront"], "family": [P5],
                                                "quantity": [1.0], "start": ["2026-01-01"]}))
    row = book.items.iloc[0]
    assert row["term_months"] == 12
    assert row["recurring_usd_per_hour"] == 30.0



def test_rescaled_estimates_carry_the_date_of_the_price_they_now_derive_from(tmp_path):
    """eu-north-1 p5.48xlarge is priced as of 2024-04-04 in the snapshot. Laid under a
    2026-07-20 on-demand price, its estimates are rescaled to that price; their as_of said
    2024-04-04 still, as if they were two years older than the number they hold."""
    eu = "aws/eu-north-1/p5.48xlarge"
    over = tmp_path / "over"
    export_catalog(open_catalog("embedded").subset([eu]), over)
    fam = pd.read_csv(over / "families.csv", dtype=str, keep_default_na=False)
    assert fam["as_of"].tolist() == ["2024-04-04"]
    fam["on_demand_usd_per_hour"], fam["as_of"] = "55.04", "2026-07-20"
    fam.to_csv(over / "families.csv", index=False)
    (over / "commitments.csv").write_text(",".join(COMMITMENT_COLUMNS) + "\n")
    com = open_catalog(["embedded", str(over)]).commitments
    rescaled = com[com["family"] == eu]
    assert len(rescaled) == 18 and rescaled["source"].str.contains("scaled").all()
    assert (rescaled["as_of"] == "2026-07-20").all()
    untouched = com[com["family"] == "aws/eu-north-1/g5.xlarge"]
    assert (untouched["as_of"] == "2024-04-04").all()
