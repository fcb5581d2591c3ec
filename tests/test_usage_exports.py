"""Our own export fixtures (tests/fixtures/ours, written by make_fixtures.py): GPU spot,
RI/SP covered and fee rows, CUR 2.0 with the product map; gzip and Parquet variants;
round trips canonical -> FOCUS / CUR -> canonical; malformed files."""

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from gpuladder.errors import InputError
from gpuladder.usage.history import load_usage_csv
from gpuladder.usage.instance_types import AWS_REGION_PREFIXES, is_gpu_instance_type
from gpuladder.usage.load import convert_usage, load_usage, summarize_usage

OURS = Path(__file__).parent / "fixtures" / "ours"
P5 = "aws/us-east-1/p5.48xlarge"


def by_family(summary):
    return {f.family: (f.instance_hours, f.interruptible_instance_hours, f.covered_instance_hours)
            for f in summary.families}


def skipped(summary):
    return {k.reason: k.rows for k in summary.skipped}


def test_focus_ours_hand_totals():
    s = summarize_usage(OURS / "focus_gpu_ours.csv")
    # p5: hour 0: 2 + 1 spot + 1 covered; hour 1: 3 + 1 covered; hour 2: 1 covered; hour 3: 2
    assert by_family(s) == {P5: (11.0, 1.0, 3.0),
                            "gcp/us-central1/a3-highgpu-8g": (2.0, 2.0, 0.0),
                            "azure/eastus/Standard_NC24ads_A100_v4": (1.5, 0.0, 0.0),
                            "aws/us-east-1/x9.big": (1.0, 0.0, 0.0)}
    assert all(f.gpu for f in s.families)          # x9.big is a GPU by SkuPriceDetails GpuCount = 4
    assert skipped(s) == {"commitment purchase (not demand)": 1, "unused commitment (not demand)": 1,
                          "unreadable timestamp": 1, "usage amount is not a number": 1,
                          "not instance usage (no instance type found)": 1}
    ex = {k.reason: k.examples for k in s.skipped}
    assert ex["unreadable timestamp"] == ((13, "p5 usage"),)
    assert ex["usage amount is not a number"][0][0] == 14
    assert (s.start.isoformat(), s.hours) == ("2026-01-01T00:00:00+00:00", 4)


def test_focus_ours_profile():
    with pytest.warns(UserWarning, match="bad rows skipped: 1 row"):
        p = load_usage(OURS / "focus_gpu_ours.csv")
    d = p.demand_instances[P5]
    assert d.tolist() == [4.0, 4.0, 1.0, 2.0]
    assert p.interruptible_instances[P5].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert p.covered_instances[P5].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert p.demand_instances["gcp/us-central1/a3-highgpu-8g"].tolist() == [0.0, 2.0, 0.0, 0.0]


def test_cur_legacy_ours_hand_totals():
    s = summarize_usage(OURS / "cur_legacy_ours.csv")
    assert s.format == "cur"
    assert by_family(s) == {
        P5: (6.0, 0.0, 2.0),                               # 3 on-demand + 2 RI-covered + 1 (from usage type)
        "aws/us-west-2/g5.xlarge": (4.0, 4.0, 0.0),        # USW2-SpotUsage
        "aws/eu-central-1/p4d.24xlarge": (2.0, 2.0, 0.0),  # EUC1 prefix
        "aws/us-east-1/g5.4xlarge": (0.5, 0.0, 0.5),       # unprefixed usage type = us-east-1, SP-covered
        "aws/us-east-1/m5.large": (5.0, 0.0, 0.0)}
    assert [f.gpu for f in s.families] == [True, True, True, True, False]
    assert skipped(s) == {
        "commitment fee (not demand)": 3, "savings plan negation (not demand)": 1,
        "tax, credit, refund or discount line item (not usage)": 1,
        "dedicated or host tenancy usage (not supported)": 1,
        "not instance usage (usage type is not BoxUsage/SpotUsage)": 1,
        "unknown region (usage-type prefix not in the region table)": 1}


def test_catalog_missing_families_reported_not_dropped():
    cat = pd.read_csv(OURS / "catalog" / "families.csv")["family"]
    s = summarize_usage(OURS / "cur_legacy_ours.csv", families=cat)
    flags = {f.family: f.in_catalog for f in s.families}
    assert flags["aws/eu-central-1/p4d.24xlarge"] is False and flags[P5] is True
    with pytest.warns(UserWarning, match=r"p4d.24xlarge \(2 instance-hours\)"):
        p = load_usage(OURS / "cur_legacy_ours.csv", families=cat)
    assert set(p.families) == {P5, "aws/us-west-2/g5.xlarge", "aws/us-east-1/g5.4xlarge"}
    with pytest.raises(InputError, match=r"not in the catalog: aws/us-east-1/p5.48xlarge \(6 instance-hours\)"):
        load_usage(OURS / "cur_legacy_ours.csv", families=["aws/us-east-1/p5.4xlarge"])


def cur2_parquet_with_map(tmp_path):
    """The CUR 2.0 fixture as Parquet with ``product`` a real map<string,string> column."""
    t = pcsv.read_csv(OURS / "cur2_ours.csv", convert_options=pcsv.ConvertOptions(
        column_types={"line_item_usage_amount": pa.float64()}))
    maps = [list(json.loads(v).items()) for v in t["product"].to_pylist()]
    t = t.set_column(t.column_names.index("product"), "product", pa.array(maps, pa.map_(pa.string(), pa.string())))
    path = tmp_path / "cur2.bin"          # no telling file name: the format is read from the content
    pq.write_table(t, path)
    return path


def test_cur2_ours_csv_and_parquet_map_agree(tmp_path):
    expected = {P5: (4.25, 0.0, 1.0), "aws/ap-northeast-1/g5.4xlarge": (1.0, 1.0, 0.0)}
    s_csv = summarize_usage(OURS / "cur2_ours.csv")
    assert s_csv.format == "cur2" and by_family(s_csv) == expected
    path = cur2_parquet_with_map(tmp_path)
    assert pq.ParquetFile(path).schema_arrow.field("product").type == pa.map_(pa.string(), pa.string())
    s_pq = summarize_usage(path)
    assert s_pq.format == "cur2" and by_family(s_pq) == expected
    assert skipped(s_pq) == skipped(s_csv) == {"not instance usage (usage type is not BoxUsage/SpotUsage)": 1}
    pd.testing.assert_frame_equal(load_usage(path).demand_instances,
                                  load_usage(OURS / "cur2_ours.csv").demand_instances)


@pytest.mark.parametrize("name", ["focus_gpu_ours.csv", "cur_legacy_ours.csv", "cur2_ours.csv"])
def test_gzip_and_parquet_variants_equal_csv(tmp_path, name):
    src = OURS / name
    gz = tmp_path / (name + ".gz")
    with open(src, "rb") as fi, gzip.open(gz, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    pqf = tmp_path / (name + ".parquet")
    pq.write_table(pcsv.read_csv(src, convert_options=pcsv.ConvertOptions(
        column_types={c: pa.string() for c in pcsv.read_csv(src).column_names})), pqf)
    base = summarize_usage(src)
    for variant in (gz, pqf):
        s = summarize_usage(variant)
        assert (s.format, s.rows, s.families, s.skipped) == (base.format, base.rows, base.families, base.skipped)


# ------------------------------------------------------------------ round trips

def canonical_usage(tmp_path):
    """48 hours, 3 AWS families and 1 GCP family, with spot and covered parts (seeded)."""
    rng = np.random.default_rng(5)
    hours = pd.date_range("2026-02-01", periods=48, freq="h", tz="UTC")
    fams = ["aws/us-east-1/p5.48xlarge", "aws/us-west-2/g5.xlarge", "aws/eu-central-1/g5.4xlarge",
            "gcp/us-central1/a3-highgpu-8g"]
    rows = []
    for f in fams:
        n = rng.integers(0, 6, len(hours)).astype(float) + rng.choice([0, 0.25, 0.5], len(hours))
        spot = np.minimum(n, rng.integers(0, 3, len(hours)))
        cov = np.minimum(n - spot, rng.integers(0, 3, len(hours)))
        rows.append(pd.DataFrame({"timestamp": hours.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": f, "instances": n,
                                  "interruptible_instances": spot, "covered_instances": cov}))
    df = pd.concat(rows, ignore_index=True)
    path = tmp_path / "usage.csv"
    df.to_csv(path, index=False)
    return path, df


def parts(df):
    """(family, hour, quantity, spot?, covered?) rows: on-demand, spot and covered parts."""
    od = df["instances"] - df["interruptible_instances"] - df["covered_instances"]
    return [(df.assign(q=od, spot=False, cov=False)),
            (df.assign(q=df["interruptible_instances"], spot=True, cov=False)),
            (df.assign(q=df["covered_instances"], spot=False, cov=True))]


def to_focus(df, path):
    out = []
    for p in parts(df):
        prov, region, itype = zip(*p["family"].str.split("/"))
        ts = pd.to_datetime(p["timestamp"])
        out.append(pd.DataFrame({
            "BillingPeriodStart": "2026-02-01T00:00:00Z", "ChargeCategory": "Usage",
            "ChargePeriodStart": ts.dt.strftime("%Y-%m-%d %H:%M:%S"),              # FOCUS sample style, no zone
            "ChargePeriodEnd": (ts + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "ProviderName": [{"aws": "AWS", "gcp": "Google Cloud"}[x] for x in prov], "RegionId": region,
            "ConsumedQuantity": p["q"], "ConsumedUnit": "Hours",
            "PricingCategory": np.where(p["spot"], "Dynamic", np.where(p["cov"], "Committed", "Standard")),
            "CommitmentDiscountId": np.where(p["cov"], "arn:aws:savingsplans::1:savingsplan/x", ""),
            "CommitmentDiscountStatus": np.where(p["cov"], "Used", ""),
            "SkuPriceDetails": [json.dumps({"InstanceType": t}) for t in itype]}))
    pd.concat(out).sample(frac=1.0, random_state=1).to_csv(path, index=False)


def to_cur(df, path):
    prefix = {v: k for k, v in AWS_REGION_PREFIXES.items() if k != "EU"}
    out = []
    for p in parts(df[df["family"].str.startswith("aws/")]):
        _, region, itype = zip(*p["family"].str.split("/"))
        kind = "SpotUsage" if p["spot"].iloc[0] else "BoxUsage"
        out.append(pd.DataFrame({
            "line_item_line_item_type": "SavingsPlanCoveredUsage" if p["cov"].iloc[0] else "Usage",
            "line_item_usage_start_date": p["timestamp"].str.replace("Z", ".000Z"),
            "line_item_usage_type": [f"{prefix[r]}-{kind}:{t}" for r, t in zip(region, itype)],
            "line_item_usage_amount": p["q"], "resource_tags_user_team": "ml", "year": 2026, "month": 2}))
    pd.concat(out).to_csv(path, index=False)


def test_round_trip_focus(tmp_path):
    src, _ = canonical_usage(tmp_path)
    want = load_usage(src)
    to_focus(pd.read_csv(src), tmp_path / "focus.csv")
    got = load_usage(tmp_path / "focus.csv")
    for a, b in ((got.demand_instances, want.demand_instances),
                 (got.interruptible_instances, want.interruptible_instances),
                 (got.covered_instances, want.covered_instances)):
        pd.testing.assert_frame_equal(a, b, check_freq=False, check_names=False)


def test_round_trip_cur_via_convert(tmp_path):
    src, df = canonical_usage(tmp_path)
    aws = df[df["family"].str.startswith("aws/")]
    aws.to_csv(tmp_path / "aws.csv", index=False)
    want = load_usage(tmp_path / "aws.csv")
    to_cur(df, tmp_path / "cur.csv")
    convert_usage(tmp_path / "cur.csv", tmp_path / "back.csv")
    got = load_usage_csv(tmp_path / "back.csv")
    for a, b in ((got.demand_instances, want.demand_instances),
                 (got.interruptible_instances, want.interruptible_instances),
                 (got.covered_instances, want.covered_instances)):
        pd.testing.assert_frame_equal(a, b, check_freq=False, check_names=False)


# ------------------------------------------------------------------ gaps, formats, malformed files

@pytest.mark.filterwarnings("ignore:.*bad rows skipped")
def test_export_gap_policy(tmp_path):
    rows = pd.read_csv(OURS / "focus_gpu_ours.csv", dtype=str, keep_default_na=False)
    rows = rows[~rows["ChargePeriodStart"].str.startswith("2026-01-01T02")]      # no row at all at 02:00
    rows.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(InputError, match="1 hour"):
        load_usage(tmp_path / "gap.csv")
    assert np.isnan(load_usage(tmp_path / "gap.csv", gaps="mask").demand_instances[P5].iloc[2])
    assert load_usage(tmp_path / "gap.csv", gaps="zero").demand_instances[P5].tolist() == [4, 4, 0, 2]


def test_forced_format_mismatch(tmp_path):
    with pytest.raises(InputError, match="missing column 'ChargePeriodStart'"):
        load_usage(OURS / "cur_legacy_ours.csv", format="focus")
    with pytest.raises(InputError, match="unknown usage format"):
        load_usage(OURS / "cur_legacy_ours.csv", format="xlsx")


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"\x00\x01\x02binary", "binary"),
    (b"a,b,c\n1,2,3\n", "matches no supported usage format"),
    (b"\xff\xfe\xfa\xfb", "UTF-8"),
])
def test_malformed_files(tmp_path, content, match):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(InputError, match=match):
        summarize_usage(f)


def test_truncated_gzip(tmp_path):
    data = gzip.compress((OURS / "cur_legacy_ours.csv").read_bytes() * 50)
    (tmp_path / "t.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.gz: not a readable file \(Compressed file ended") as err:
        summarize_usage(tmp_path / "t.gz")
    assert "re-exporting" in str(err.value)


def test_wrong_field_count_rows_counted(tmp_path):
    lines = (OURS / "cur_legacy_ours.csv").read_text().splitlines()
    lines[2] = lines[2] + ",extra,fields"
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    s = summarize_usage(tmp_path / "c.csv")
    assert skipped(s)["malformed CSV row (wrong number of fields)"] == 1
    assert by_family(s)[P5] == (4.0, 0.0, 0.0)          # row 3 (2 RI-covered instance-hours) left out
    (bad,) = [k for k in s.skipped if k.reason.startswith("malformed")]
    assert "30 fields instead of 28" in bad.examples[0][1] and "id2,DiscountedUsage" in bad.examples[0][1]


def test_file_not_found():
    with pytest.raises(InputError, match="not found"):
        load_usage("/nonexistent/usage.csv")


@pytest.mark.parametrize("itype, gpu", [
    ("p5.48xlarge", True), ("g6e.12xlarge", True), ("trn1.32xlarge", True), ("inf2.xlarge", True),
    ("dl1.24xlarge", True), ("gr6.4xlarge", True), ("g3.4xlarge", True), ("a3-highgpu-8g", True),
    ("g2-standard-4", True), ("Standard_ND96asr_v4", True), ("Standard_NC6s_v3", True),
    ("m5.large", False), ("c7g.xlarge", False), ("n2-standard-8", False), ("Standard_D4s_v3", False),
    ("db.p3.2xlarge", False), ("", False),
])
def test_gpu_recognition(itype, gpu):
    assert is_gpu_instance_type(itype) is gpu


def test_summarize_canonical_csv(tmp_path):
    src, df = canonical_usage(tmp_path)
    s = summarize_usage(src, families=["aws/us-east-1/p5.48xlarge"])
    assert s.format == "canonical" and s.hours == 48 and s.skipped == ()
    got = {f.family: (f.instance_hours, f.interruptible_instance_hours, f.covered_instance_hours, f.in_catalog)
           for f in s.families}
    sums = df.groupby("family")[["instances", "interruptible_instances", "covered_instances"]].sum()
    for fam_key, row in sums.iterrows():
        assert got[fam_key][:3] == pytest.approx(tuple(row))
        assert got[fam_key][3] is (fam_key == "aws/us-east-1/p5.48xlarge")
