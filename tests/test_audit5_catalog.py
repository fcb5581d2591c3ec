"""Audit of the prices gpuladder plans with: what a commitment row's payment option says
about its upfront share, what a merged catalog says about a product and its dates, rows of
the embedded snapshot checked by hand against the shared gpu_prices.csv, and the date of
each price in `catalog show`.

Catalog rows of the validation tests are our own (tests/test_catalog_errors.py's catalog).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from test_catalog_errors import COMMITMENTS, P5, com_edit, write_catalog

from gpuladder.cli import main
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


# Hand-checked rows of the embedded snapshot (audit of 2026-11-27) against the shared
# gpu_prices.csv: (family, on-demand, spot or None, GPUs, as_of) are the newest source row's
# values (us-east-1 g4dn/trn1 spot carried from the 2024 row, on-demand unchanged).
FAMILY_ROWS = [
    ("aws/us-east-1/p5.48xlarge", 55.04, None, 8, "2026-07-20"),
    ("aws/us-east-1/p4d.24xlarge", 21.957642, None, 8, "2026-07-20"),   # 2024 spot not carried: 32.77 -> 21.96
    ("aws/us-east-1/g4dn.xlarge", 0.526, 0.21566, 1, "2026-07-20"),
    ("aws/us-east-1/trn1.32xlarge", 21.5, 7.095, 16, "2026-07-20"),
    ("aws/us-east-1/inf2.48xlarge", 12.98127, 4.673257, 12, "2026-07-20"),
    ("aws/eu-west-1/g5.xlarge", 1.123, 0.51658, 1, "2024-04-04"),
    ("gcp/europe-west4/a2-highgpu-8g", 29.983776, 13.54268, 8, "2026-07-30"),
    ("gcp/us-central1/g2-standard-4", 0.706832, 0.397336, 1, "2026-07-30"),
    ("gcp/us-central1/g4-standard-6", 0.559556, 0.223804, 0.125, "2026-07-30"),
    ("gcp/us-central1/a2-ultragpu-8g", 40.550383, 22.07637, 8, "2026-07-30"),
    ("azure/westeurope/Standard_NC40ads_H100_v5", 9.08, 8.172, 1, "2026-05-20"),
    ("azure/eastus/Standard_NC4as_T4_v3", 0.526, 0.204246, 1, "2026-05-20"),
]
# (product, family, rate): GCP CUD = the source's cud_1y / cud_3y; estimates = on-demand x
# 0.63 (1y) or 0.4399 (3y) x payment factor (1y 0.955 / 0.935, 3y 0.91 / 0.87); Compute SP
# = on-demand x (1 - (1 - that) x 66/72).
COMMITMENT_ROWS = [
    ("gcp-cud-1y", "gcp/europe-west4/a2-highgpu-8g", 18.889565),
    ("gcp-cud-3y", "gcp/europe-west4/a2-highgpu-8g", 10.49454),
    ("gcp-cud-1y", "gcp/us-central1/g2-standard-4", 0.445304),
    ("gcp-cud-3y", "gcp/us-central1/g2-standard-4", 0.318075),
    ("gcp-cud-1y", "gcp/us-central1/g4-standard-6", 0.3861),
    ("gcp-cud-3y", "gcp/europe-west4/a3-megagpu-8g", 51.492681),
    ("aws-ri-1y-partial_upfront", "aws/us-east-1/p5.48xlarge", 55.04 * 0.63 * 0.955),
    ("aws-ri-3y-partial_upfront", "aws/us-east-1/p4d.24xlarge", 21.957642 * 0.4399 * 0.91),
    ("aws-ri-1y-all_upfront", "aws/us-east-1/g4dn.xlarge", 0.526 * 0.63 * 0.935),
    ("aws-ec2sp-us-east-1-trn1-3y-no_upfront", "aws/us-east-1/trn1.32xlarge", 21.5 * 0.4399),
    ("aws-ec2sp-eu-west-1-g5-1y-all_upfront", "aws/eu-west-1/g5.xlarge", 1.123 * 0.63 * 0.935),
    ("aws-csp-3y-no_upfront", "aws/us-east-1/trn1.32xlarge", 21.5 * (1 - (1 - 0.4399) * 66 / 72)),
    ("aws-csp-1y-partial_upfront", "aws/us-east-1/inf2.48xlarge", 12.98127 * (1 - (1 - 0.63 * 0.955) * 66 / 72)),
    ("aws-csp-3y-all_upfront", "aws/us-east-1/p5.48xlarge", 55.04 * (1 - (1 - 0.4399 * 0.87) * 66 / 72)),
    ("azure-ri-1y-no_upfront", "azure/westeurope/Standard_NC40ads_H100_v5", 9.08 * 0.63),
    ("azure-ri-3y-no_upfront", "azure/eastus/Standard_NC4as_T4_v3", 0.526 * 0.4399),
]


def test_hand_checked_family_rows():
    fam = open_catalog("embedded").families
    for key, od, spot, gpus, as_of in FAMILY_ROWS:
        row = fam.loc[key]
        got = (row["on_demand_usd_per_hour"], row["gpus_per_instance"], row["as_of"])
        assert got == (od, gpus, as_of), key
        assert (pd.isna(row["spot_usd_per_hour"]) if spot is None else row["spot_usd_per_hour"] == spot), key


def test_hand_checked_commitment_rows():
    cat = open_catalog("embedded")
    com = cat.commitments.set_index(["product", "family"])
    for product, family, rate in COMMITMENT_ROWS:
        row = com.loc[(product, family)]
        assert row["rate_usd_per_hour"] == pytest.approx(rate, abs=1e-6), (product, family)
        assert row["source"].startswith("estimate:") == (not product.startswith("gcp-")), (product, family)
        assert row["as_of"] == cat.families.loc[family, "as_of"]
    # A2 Ultra publishes no CUD: no GCP commitment row, and no estimate put in its place
    assert not com.index.get_level_values("family").isin(["gcp/us-central1/a2-ultragpu-8g"]).any()


def test_catalog_show_csv_and_json_say_how_old_each_price_is():
    """eu-north-1 p5.48xlarge is 105.2024 $/h as of 2024-04-04 (before the mid-2025 cuts;
    us-east-1 is 55.04 as of 2026-07-20). The CSV / JSON view gave the price without its date."""
    res = CliRunner().invoke(main, ["catalog", "show", "--family", "*/p5.48xlarge", "--provider", "aws",
                                    "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout), dtype=str).set_index("family")
    assert df.loc["aws/eu-north-1/p5.48xlarge", ["on_demand_usd_per_hour", "as_of"]].tolist() == ["105.2024",
                                                                                                   "2024-04-04"]
    assert df.loc[P5, ["on_demand_usd_per_hour", "as_of"]].tolist() == ["55.04", "2026-07-20"]
    res = CliRunner().invoke(main, ["catalog", "show", "--family", "aws/us-east-1/p5.48xlarge", "--format", "json"])
    assert json.loads(res.stdout)["families"][0]["as_of"] == "2026-07-20"
