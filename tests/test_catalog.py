"""The embedded price catalog (pricing/data/), its builder and `gpuladder catalog show|export`.

Source values quoted below are rows of the shared gpu_prices.csv (the same rows are in
tests/data/pricing/gpu_prices_sample.csv, so the builder is tested without ../shared).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.pricing import build_embedded
from gpuladder.pricing.catalog import (COMMITMENT_COLUMNS, INTERRUPTION_BUCKETS,
                                       embedded_catalog, embedded_catalog_dir,
                                       export_catalog, load_catalog, open_catalog)
from gpuladder.pricing.estimates import COMPUTE_SP_DISCOUNT_SCALE, PAYMENT_FACTOR
from gpuladder.pricing.view import CatalogQuery, catalog_view

SAMPLE = Path(__file__).parent / "data" / "pricing" / "gpu_prices_sample.csv"
A3 = "gcp/us-central1/a3-highgpu-8g"
P5 = "aws/us-east-1/p5.48xlarge"
G5 = "aws/us-east-1/g5.xlarge"


@pytest.fixture(scope="module")
def emb():
    return embedded_catalog()


# ---------------------------------------------------------------- embedded snapshot

def test_embedded_covers_every_gpu_family_of_the_source(emb):
    fam = emb.families
    aws = set(fam.loc[fam["provider"] == "aws", "instance_type"].str.split(".").str[0])
    assert {"p5", "p5en", "p4d", "p4de", "p6-b200", "p6-b300", "g5", "g6", "g6e", "gr6", "g4dn", "p3", "p3dn",
            "trn1", "trn1n", "inf2"} <= aws
    gcp = set(fam.loc[fam["provider"] == "gcp", "instance_type"].str.split("-").str[0])
    assert gcp == {"a2", "a3", "g2", "g4"}
    azure = fam.loc[fam["provider"] == "azure", "instance_type"]
    assert azure.str.startswith("Standard_ND").any() and azure.str.startswith("Standard_NC").any() \
        and azure.str.startswith("Standard_NV").any()
    assert fam.groupby("provider")["region"].nunique().to_dict() == {"aws": 26, "azure": 51, "gcp": 40}
    assert len(fam) == 2220  # 2247 source rows, 27 AWS us-east-1 keys listed twice


def test_embedded_spot_checks_against_the_source(emb):
    fam, com = emb.families, emb.commitments.set_index(["product", "family"])
    # gcp,us-central1,a3-highgpu-8g,H100-80GB,8.0,88.49,50.609541,...,61.383672,38.864381
    assert fam.loc[A3, "on_demand_usd_per_hour"] == 88.49
    assert fam.loc[A3, "spot_usd_per_hour"] == 50.609541
    assert (fam.loc[A3, "gpu_model"], fam.loc[A3, "gpus_per_instance"]) == ("H100-80GB", 8)
    assert com.loc[("gcp-cud-1y", A3), "rate_usd_per_hour"] == 61.383672
    assert com.loc[("gcp-cud-3y", A3), "rate_usd_per_hour"] == 38.864381
    assert com.loc[("gcp-cud-1y", A3), "kind"] == "reservation"
    assert com.loc[("gcp-cud-1y", A3), "source"] == \
        "Cyclenerd/google-cloud-pricing-cost-calculator:pricing.yml@fd66b26ff84fee5cdd94f341ea89206e76c06b99"
    # aws,us-east-1,p5.48xlarge,H100-80GB,8.0,55.04,(no spot),... karpenter 2026-07-20
    assert fam.loc[P5, "on_demand_usd_per_hour"] == 55.04
    assert np.isnan(fam.loc[P5, "spot_usd_per_hour"])
    assert fam.loc[P5, "as_of"] == "2026-07-20"
    # p4de us-east-1: the newest row (27.44705, 2026) wins over the 2024 row (40.96575)
    assert fam.loc["aws/us-east-1/p4de.24xlarge", "on_demand_usd_per_hour"] == 27.44705
    # g5.xlarge us-east-1: same on-demand 1.006 in both sources -> 2024 spot 0.52312 carried over
    assert fam.loc[G5, "spot_usd_per_hour"] == 0.52312
    assert "vantage-sh/ec2instances.info" in fam.loc[G5, "source"] and "2024-04-04" in fam.loc[G5, "source"]
    # azure,eastus,Standard_ND96isr_H100_v5,H100,8.0,98.32,18.169536
    nd = fam.loc["azure/eastus/Standard_ND96isr_H100_v5"]
    assert (nd["on_demand_usd_per_hour"], nd["spot_usd_per_hour"]) == (98.32, 18.169536)
    # azure H200 in australiaeast publishes spot == on-demand (122.96): kept as published
    assert fam.loc["azure/australiaeast/Standard_ND96isr_H200_v5", "spot_usd_per_hour"] == 122.96


def test_embedded_matches_every_sample_row(emb):
    """Each verbatim source row in the sample is in the snapshot unless a newer row replaced it."""
    src = pd.read_csv(SAMPLE, dtype={"source_commit": str})
    src["family"] = src["provider"] + "/" + src["region"] + "/" + src["instance_type"]
    newest = src.sort_values("as_of").drop_duplicates("family", keep="last")
    fam = emb.families.loc[newest["family"]]
    assert fam["on_demand_usd_per_hour"].tolist() == newest["on_demand_hourly"].tolist()
    assert fam["as_of"].tolist() == newest["as_of"].tolist()
    com = emb.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    for row in newest.itertuples():
        for product, value in (("gcp-cud-1y", row.cud_1y), ("gcp-cud-3y", row.cud_3y)):
            if pd.notna(value):
                assert com[(product, row.family)] == value
            else:
                assert (product, row.family) not in com.index


def test_every_row_has_source_and_as_of(emb):
    for df in (emb.families, emb.commitments):
        assert df["source"].str.len().gt(0).all()
        assert pd.to_datetime(df["as_of"], format="%Y-%m-%d").notna().all()
    assert emb.families["interruption_bucket"].isin(INTERRUPTION_BUCKETS).all()


def test_estimates_are_flagged_and_gcp_cud_is_real(emb):
    products = emb.products()
    est = products["estimate"]
    assert not est[["gcp-cud-1y", "gcp-cud-3y"]].any()
    assert est[products["provider"].isin(["aws", "azure"])].all()
    com = emb.commitments
    real = ~com["source"].str.startswith("estimate:")
    assert set(com.loc[real, "provider"]) == {"gcp"}
    for pid in ("aws-ri-1y-partial_upfront", "aws-ec2sp-us-east-1-p5-3y-all_upfront", "aws-csp-1y-no_upfront",
                "azure-ri-3y-no_upfront", "aws-ri-3y-all_upfront"):
        assert pid in products.index
    assert products.loc["aws-ec2sp-us-east-1-p5-3y-all_upfront", "kind"] == "savings_plan"
    assert products.loc["aws-ri-1y-partial_upfront", "upfront_share"] == 0.5
    assert products.loc["aws-csp-1y-no_upfront", "n_families"] == (emb.families["provider"] == "aws").sum()
    ec2sp = com[com["product"] == "aws-ec2sp-us-east-1-p5-3y-all_upfront"]
    assert sorted(ec2sp["family"]) == ["aws/us-east-1/p5.48xlarge", "aws/us-east-1/p5.4xlarge"]


def test_no_commitment_rate_above_on_demand(emb):
    com = emb.commitments
    od = emb.families["on_demand_usd_per_hour"].reindex(com["family"]).to_numpy()
    assert (com["rate_usd_per_hour"].to_numpy() <= od).all()
    assert (com["rate_usd_per_hour"] > 0).all()


def test_estimated_rates_follow_the_documented_derivation(emb):
    """Base ratios are the median GCP CUD / on-demand of each term (0.63 and 0.4399 in the
    snapshot; README data note: 0.63 / 0.44). p5.48xlarge us-east-1 at 55.04 $/h:
    RI 1y no upfront = 55.04 x 0.63 = 34.6752; Compute SP 1y no upfront = 55.04 x (1 - 0.37 x 66/72)."""
    com = emb.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    assert com[("aws-ri-1y-no_upfront", P5)] == pytest.approx(34.6752, abs=1e-6)
    assert com[("aws-ec2sp-us-east-1-p5-1y-no_upfront", P5)] == pytest.approx(34.6752, abs=1e-6)
    assert com[("aws-csp-1y-no_upfront", P5)] == pytest.approx(55.04 * (1 - 0.37 * 66 / 72), abs=1e-6)
    # 3y all upfront: x 0.87, the payment factor pricing/data/README.md states, and the one
    # the snapshot's builder holds (the snapshot is not rebuilt when the constant changes)
    assert com[("aws-ri-3y-all_upfront", P5)] == pytest.approx(55.04 * 0.4399 * 0.87, abs=1e-6)
    assert PAYMENT_FACTOR[36]["all_upfront"] == 0.87
    assert com[("azure-ri-1y-no_upfront", "azure/eastus/Standard_ND96isr_H100_v5")] == pytest.approx(98.32 * 0.63, abs=1e-6)
    assert COMPUTE_SP_DISCOUNT_SCALE == pytest.approx(66 / 72)


def test_estimate_orderings_hold_for_every_aws_family(emb):
    """More upfront is cheaper, 3 years cheaper than 1, Compute SP dearer than EC2 Instance SP."""
    com = emb.commitments[emb.commitments["provider"] == "aws"].copy()
    com["plan"] = com["product"].str.extract(r"^aws-(ri|ec2sp|csp)-")[0]
    wide = com.pivot_table(index="family", columns=["plan", "term_months", "payment"], values="rate_usd_per_hour")
    for plan in ("ri", "ec2sp", "csp"):
        for term in (12, 36):
            w = wide[plan][term]
            assert (w["all_upfront"] < w["partial_upfront"]).all() and (w["partial_upfront"] < w["no_upfront"]).all()
        assert (wide[plan][36]["no_upfront"] < wide[plan][12]["no_upfront"]).all()
    assert (wide["csp"] > wide["ec2sp"]).all().all()


def test_embedded_readme_documents_sources_and_estimates():
    text = (embedded_catalog_dir() / "README.md").read_text()
    for fragment in ("Apache-2.0", "MIT", "vantage-sh/ec2instances.info", "Cyclenerd/google-cloud-pricing-cost-calculator",
                     "estimate:", "66/72", "interruption_bucket", "at or above on-demand",
                     "1 year 0.63, 3 years 0.4399"):
        assert fragment in text


# ---------------------------------------------------------------- builder

def test_build_from_sample_is_deterministic_and_loadable(tmp_path):
    a = build_embedded.build(SAMPLE)
    b = build_embedded.build(SAMPLE)
    assert a.readme == b.readme
    pd.testing.assert_frame_equal(a.families, b.families)
    assert build_embedded.main(["--source", str(SAMPLE), "--out", str(tmp_path / "data")]) == 0
    loaded = load_catalog(tmp_path / "data")
    pd.testing.assert_frame_equal(loaded.families, a.catalog.families)
    pd.testing.assert_frame_equal(loaded.commitments, a.catalog.commitments)
    assert (tmp_path / "data" / "README.md").read_text() == a.readme


def test_build_rules_on_sample():
    """Sample GCP CUD ratios: a3-highgpu-8g 61.383672/88.49 = 0.69368, g2-standard-4
    0.445304/0.706832 = 0.63000 -> median 0.6618 (1y); 38.864381/88.49 = 0.43920,
    0.318075/0.706832 = 0.45000 -> median 0.4446 (3y)."""
    res = build_embedded.build(SAMPLE)
    fam = res.catalog.families
    com = res.catalog.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    assert len(fam) == 9  # 11 rows, g5.xlarge and p4de us-east-1 twice
    assert fam.loc["aws/us-east-1/p4de.24xlarge", "on_demand_usd_per_hour"] == 27.44705
    assert fam.loc[G5, "spot_usd_per_hour"] == 0.52312
    assert com[("aws-ri-1y-no_upfront", P5)] == pytest.approx(round(55.04 * 0.6618, 6))
    assert com[("aws-ri-3y-no_upfront", P5)] == pytest.approx(round(55.04 * 0.4446, 6))
    assert ("gcp-cud-1y", "gcp/us-central1/a2-ultragpu-1g") not in com.index  # no CUD published
    assert "1 year 0.6618, 3 years 0.4446" in res.readme
    assert fam.loc[A3, "interruption_bucket"] == ">20%"
    assert fam.loc["gcp/us-central1/g2-standard-4", "interruption_bucket"] == "10-15%"


def test_build_does_not_carry_spot_when_on_demand_moved(tmp_path):
    src = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    newer_g5 = (src["instance_type"] == "g5.xlarge") & (src["as_of"] == "2026-07-20")
    src.loc[newer_g5, "on_demand_hourly"] = "0.9"  # our edit: a price cut after the 2024 spot quote
    path = tmp_path / "edited.csv"
    src.to_csv(path, index=False)
    res = build_embedded.build(path)
    assert np.isnan(res.catalog.families.loc[G5, "spot_usd_per_hour"])
    assert f"Not carried where the on-demand price moved: {G5}" in res.readme


def test_build_missing_source_exits_1(tmp_path, capsys):
    assert build_embedded.main(["--source", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 1
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- view and CLI

def test_view_filters_and_cheapest_rates(emb):
    v = catalog_view(emb, CatalogQuery(providers=("gcp",), family_glob="*/us-central1/a3-*", gpu="H100"))
    f = v.families.set_index("family")
    assert list(f.index) == sorted(f.index) and A3 in f.index
    assert f.loc[A3, "best_12m_usd_per_hour"] == 61.383672 and f.loc[A3, "best_12m_product"] == "gcp-cud-1y"
    assert not f.loc[A3, "best_12m_estimate"]
    v = catalog_view(emb, CatalogQuery(family_glob="p5.48xlarge"))
    assert set(v.families["region"]) == {"us-east-1", "eu-north-1"}
    p5 = v.families.set_index("family").loc[P5]
    assert p5["best_36m_usd_per_hour"] == pytest.approx(round(55.04 * 0.4399 * 0.87, 6))
    assert p5["best_36m_estimate"]
    gpus = set(catalog_view(emb, CatalogQuery(gpu="h100")).families["gpu_model"])
    assert gpus == {"H100", "H100-80GB"}
    with pytest.raises(InputError, match="Did you mean 'azure'"):
        catalog_view(emb, CatalogQuery(providers=("azur",)))


def run(*args):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res


def test_cli_show_table_marks_estimates_and_is_deterministic():
    out = run("catalog", "show", "--provider", "aws", "--family", "p5*").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["family", "gpu", "gpus", "on-demand", "spot", "bucket", "best", "12m", "best", "36m"]
    p5 = next(line for line in lines if line.startswith(P5 + " "))
    assert p5.split()[:6] == [P5, "H100-80GB", "8", "55.0400", "-", ">20%"]
    assert p5.rstrip().endswith("*")
    assert "* = estimate" in out
    assert run("catalog", "show", "--provider", "aws", "--family", "p5*").stdout == out


def test_cli_show_csv_and_json(tmp_path):
    csv_text = run("catalog", "show", "--provider", "gcp", "--gpu", "H100", "--format", "csv").stdout
    df = pd.read_csv(io.StringIO(csv_text))
    assert (df["provider"] == "gcp").all() and df["family"].is_monotonic_increasing
    row = df.set_index("family").loc[A3]
    assert row["on_demand_usd_per_hour"] == 88.49 and row["best_36m_usd_per_hour"] == 38.864381
    assert row["best_36m_product"] == "gcp-cud-3y" and not row["best_36m_estimate"]
    target = tmp_path / "p5.json"
    run("catalog", "show", "--family", "*/us-east-1/p5.48xlarge", "--format", "json", "-o", str(target))
    doc = json.loads(target.read_text())
    assert doc["schema"] == "gpuladder.catalog-view/1" and doc["terms_months"] == [12, 36]
    (rec,) = doc["families"]
    assert rec["family"] == P5 and rec["spot_usd_per_hour"] is None and rec["best_12m_estimate"] is True


def test_export_load_round_trip(tmp_path, emb):
    run("catalog", "export", str(tmp_path / "cat"))
    back = load_catalog(tmp_path / "cat")
    pd.testing.assert_frame_equal(back.families, emb.families)
    pd.testing.assert_frame_equal(back.commitments, emb.commitments)
    # edit a price, export again from the edited folder, and see it through `show --catalog`
    fam_csv = tmp_path / "cat" / "families.csv"
    fam = pd.read_csv(fam_csv, dtype=str, keep_default_na=False)
    fam.loc[fam["family"] == P5, "spot_usd_per_hour"] = "20.5"
    fam.to_csv(fam_csv, index=False)
    edited = open_catalog(str(tmp_path / "cat"))
    assert edited.families.loc[P5, "spot_usd_per_hour"] == 20.5
    export_catalog(edited, tmp_path / "again")
    again = load_catalog(tmp_path / "again")
    pd.testing.assert_frame_equal(again.families, edited.families)
    shown = run("catalog", "show", "--catalog", str(tmp_path / "again"), "--family", "*/us-east-1/p5.48xlarge",
                "--format", "csv").stdout
    assert pd.read_csv(io.StringIO(shown))["spot_usd_per_hour"].tolist() == [20.5]


def test_open_catalog_merges_left_to_right(tmp_path, emb):
    small = tmp_path / "small"
    export_catalog(emb.subset([P5]), small)
    fam = pd.read_csv(small / "families.csv", dtype=str, keep_default_na=False)
    fam["on_demand_usd_per_hour"] = "60"
    fam.to_csv(small / "families.csv", index=False)
    merged = open_catalog(["embedded", str(small)])
    assert merged.families.loc[P5, "on_demand_usd_per_hour"] == 60
    assert len(merged.families) == len(emb.families)
    assert len(open_catalog(str(small)).families) == 1
    assert open_catalog(None).origin == "embedded"


def test_merge_rescales_estimates_and_refuses_published_rates_above_new_on_demand(tmp_path, emb):
    """eu-north-1 p5.48xlarge is 105.2024 $/h in the 2024 snapshot; a fresh price of 55.04
    scales its estimates by 55.04/105.2024 (RI 1y no upfront: 105.2024 x 0.63 -> 55.04 x 0.63),
    so no estimate is left above on-demand. A GCP CUD (published) above a lowered on-demand
    is refused."""
    eu = "aws/eu-north-1/p5.48xlarge"
    over = tmp_path / "over"
    export_catalog(emb.subset([eu]), over)
    fam = pd.read_csv(over / "families.csv", dtype=str, keep_default_na=False)
    fam["on_demand_usd_per_hour"] = "55.04"
    fam.to_csv(over / "families.csv", index=False)
    (over / "commitments.csv").write_text(",".join(COMMITMENT_COLUMNS) + "\n")
    merged = open_catalog(["embedded", str(over)])
    com = merged.commitments.set_index(["product", "family"])
    assert com.loc[("aws-ri-1y-no_upfront", eu), "rate_usd_per_hour"] == pytest.approx(55.04 * 0.63, abs=1e-5)
    assert "scaled to the on-demand price" in com.loc[("aws-ri-1y-no_upfront", eu), "source"]
    untouched = com.loc[("aws-ri-1y-no_upfront", P5)]
    assert untouched["rate_usd_per_hour"] == 34.6752 and "scaled" not in untouched["source"]

    gcp = tmp_path / "gcp"
    export_catalog(emb.subset([A3]), gcp)
    fam = pd.read_csv(gcp / "families.csv", dtype=str, keep_default_na=False)
    fam["on_demand_usd_per_hour"] = "50"  # below the published CUD 1y rate 61.383672
    fam.to_csv(gcp / "families.csv", index=False)
    (gcp / "commitments.csv").write_text(",".join(COMMITMENT_COLUMNS) + "\n")
    with pytest.raises(InputError, match="rate 61.3837 of product 'gcp-cud-1y' is above the new on-demand price 50"):
        open_catalog(["embedded", str(gcp)])
    res = CliRunner().invoke(main, ["catalog", "show", "--catalog", "embedded", "--catalog", str(gcp),
                                    "-o", str(tmp_path / "out.txt")])
    assert res.exit_code == 1 and "gcp-cud-1y" in res.stderr and not (tmp_path / "out.txt").exists()
