"""Bad catalogs are refused with file, row, column and a hint: through ``load_catalog`` and
through ``gpuladder catalog show --catalog BAD -o out.txt`` (exit 1, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.pricing.catalog import COMMITMENT_COLUMNS, FAMILY_COLUMNS, load_catalog

P5, G5 = "aws/us-east-1/p5.48xlarge", "aws/us-east-1/g5.xlarge"
FAMILIES = [
    [P5, "aws", "us-east-1", "p5.48xlarge", "H100-80GB", "8", "55.04", "", ">20%", "test", "2026-07-20"],
    [G5, "aws", "us-east-1", "g5.xlarge", "A10G", "1", "1.006", "0.52312", "10-15%", "test", "2026-07-20"],
]
COMMITMENTS = [
    ["aws-ri-1y-no_upfront", "aws", "reservation", "12", "no_upfront", "0", P5, "34.6752", "estimate: test", "2026-07-20"],
    ["aws-ri-1y-no_upfront", "aws", "reservation", "12", "no_upfront", "0", G5, "0.63378", "estimate: test", "2026-07-20"],
]


def write_catalog(folder: Path, families=FAMILIES, commitments=COMMITMENTS, fam_columns=FAMILY_COLUMNS,
                  com_columns=COMMITMENT_COLUMNS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows, all_cols, cols in (("families.csv", families, FAMILY_COLUMNS, fam_columns),
                                       ("commitments.csv", commitments, COMMITMENT_COLUMNS, com_columns)):
        df = pd.DataFrame(rows, columns=all_cols)[cols]
        (folder / name).write_text(df.to_csv(index=False, lineterminator="\n"))
    return folder


def edit(rows, row: int, column: str, value: str, columns):
    """Copy of ``rows`` with spreadsheet row ``row`` (2 = first data row) changed."""
    out = [list(r) for r in rows]
    out[row - 2][columns.index(column)] = value
    return out


def fam_edit(row, column, value):
    return {"families": edit(FAMILIES, row, column, value, FAMILY_COLUMNS)}


def com_edit(row, column, value):
    return {"commitments": edit(COMMITMENTS, row, column, value, COMMITMENT_COLUMNS)}


# id -> (catalog arguments, file, row, column, fragments of the message)
CASES = {
    "negative price": (fam_edit(3, "on_demand_usd_per_hour", "-1.006"), "families.csv", 3,
                       "on_demand_usd_per_hour", ["-1.006 must be positive"]),
    "missing price": (fam_edit(2, "on_demand_usd_per_hour", ""), "families.csv", 2,
                      "on_demand_usd_per_hour", ["missing value"]),
    "non-numeric price": (fam_edit(3, "spot_usd_per_hour", "cheap"), "families.csv", 3,
                          "spot_usd_per_hour", ["'cheap' is not a number"]),
    "infinite price": (fam_edit(2, "on_demand_usd_per_hour", "inf"), "families.csv", 2,
                       "on_demand_usd_per_hour", ["not a finite number"]),
    "non-numeric rate": (com_edit(2, "rate_usd_per_hour", "34,67"), "commitments.csv", 2,
                         "rate_usd_per_hour", ["'34,67' is not a number"]),
    "rate above on-demand": (com_edit(3, "rate_usd_per_hour", "2.5"), "commitments.csv", 3,
                             "rate_usd_per_hour", ["2.5 is above the on-demand price 1.006", G5]),
    "duplicate family": ({"families": FAMILIES + [FAMILIES[0]]}, "families.csv", 4, "family",
                         [f"duplicate family '{P5}' (first at row 2)"]),
    "duplicate commitment": ({"commitments": COMMITMENTS + [COMMITMENTS[1]]}, "commitments.csv", 4, "product",
                             ["duplicate row for product 'aws-ri-1y-no_upfront'", G5]),
    "unknown family": (com_edit(3, "family", "aws/us-east-1/g5.xlargee"), "commitments.csv", 3, "family",
                       ["unknown family 'aws/us-east-1/g5.xlargee'", f"Did you mean '{G5}'?"]),
    "family key mismatch": (fam_edit(3, "family", "aws/us-west-2/g5.xlarge"), "families.csv", 3, "family",
                            ["is not provider/region/instance_type"]),
    "missing column": ({"fam_columns": [c for c in FAMILY_COLUMNS if c != "spot_usd_per_hour"]}, "families.csv",
                       None, "spot_usd_per_hour", ["missing column 'spot_usd_per_hour'"]),
    "missing commitment column": ({"com_columns": [c for c in COMMITMENT_COLUMNS if c != "upfront_share"]},
                                  "commitments.csv", None, "upfront_share", ["missing column 'upfront_share'"]),
    "bad kind": (com_edit(2, "kind", "reserved"), "commitments.csv", 2, "kind",
                 ["'reserved' is not one of reservation, savings_plan", "Did you mean 'reservation'?"]),
    "bad payment": (com_edit(3, "payment", "all-upfront"), "commitments.csv", 3, "payment",
                    ["'all-upfront' is not one of", "Did you mean 'all_upfront'?"]),
    "bad bucket": (fam_edit(2, "interruption_bucket", "20%"), "families.csv", 2, "interruption_bucket",
                   ["'20%' is not one of <5%, 5-10%, 10-15%, 15-20%, >20%"]),
    "upfront share above 1": (com_edit(2, "upfront_share", "50"), "commitments.csv", 2, "upfront_share",
                              ["50 is above 1", "0.5, not 50"]),
    "missing source": (com_edit(3, "source", ""), "commitments.csv", 3, "source", ["missing value"]),
    "bad as_of": (fam_edit(3, "as_of", "20/07/2026"), "families.csv", 3, "as_of", ["is not an ISO date"]),
    "fractional term": (com_edit(2, "term_months", "12.5"), "commitments.csv", 2, "term_months",
                        ["not a whole number of months"]),
    "product attributes differ": (com_edit(3, "term_months", "36"), "commitments.csv", 3, "term_months",
                                  ["product 'aws-ri-1y-no_upfront' has more than one term_months"]),
    "provider mismatch": (com_edit(3, "provider", "gcp"), "commitments.csv", 3, "provider",
                          ["does not match the family's provider 'aws'"]),
    "no families": ({"families": [], "commitments": []}, "families.csv", None, None, ["no families"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_load_catalog_refuses(tmp_path, case):
    args, file, row, column, fragments = CASES[case]
    folder = write_catalog(tmp_path / "bad", **args)
    with pytest.raises(InputError) as err:
        load_catalog(folder)
    e = err.value
    assert e.file == str(folder / file)
    assert e.row == row
    assert e.column == column
    assert e.hint  # every refusal says how to fix it
    for frag in fragments:
        assert frag in str(e)


@pytest.mark.parametrize("case", list(CASES))
def test_cli_refuses_and_writes_nothing(tmp_path, case):
    args, file, row, column, fragments = CASES[case]
    folder = write_catalog(tmp_path / "bad", **args)
    out = tmp_path / "out.txt"
    res = CliRunner().invoke(main, ["catalog", "show", "--catalog", str(folder), "-o", str(out)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    msg = res.stderr
    assert str(folder / file) in msg
    if row is not None:
        assert f"row {row}" in msg
    if column is not None:
        assert f"column '{column}'" in msg
    assert "You can fix this by" in msg
    for frag in fragments:
        assert frag in msg
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "bad"]  # no temp file left either


def test_valid_base_catalog_loads(tmp_path):
    """The fixture above is valid: each case breaks exactly one thing."""
    cat = load_catalog(write_catalog(tmp_path / "ok"))
    assert list(cat.families.index) == [G5, P5]
    assert cat.commitments["rate_usd_per_hour"].tolist() == [0.63378, 34.6752]
    assert cat.products().loc["aws-ri-1y-no_upfront", "estimate"]


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(InputError, match="catalog folder not found") as err:
        load_catalog(missing)
    assert err.value.file == str(missing)
    res = CliRunner().invoke(main, ["catalog", "show", "--catalog", str(missing), "-o", str(tmp_path / "out.txt")])
    assert res.exit_code == 1
    assert str(missing) in res.stderr and "catalog export" in res.stderr
    assert not (tmp_path / "out.txt").exists()


def test_missing_file(tmp_path):
    folder = write_catalog(tmp_path / "bad")
    (folder / "commitments.csv").unlink()
    with pytest.raises(InputError, match="file not found") as err:
        load_catalog(folder)
    assert err.value.file == str(folder / "commitments.csv")


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    """A blank line counts as a row, so the reported row is the one a spreadsheet shows."""
    folder = write_catalog(tmp_path / "bad", **fam_edit(3, "on_demand_usd_per_hour", "-1"))
    text = (folder / "families.csv").read_text().splitlines()
    (folder / "families.csv").write_text("\n".join(text[:2] + [""] + text[2:]) + "\n")
    with pytest.raises(InputError) as err:
        load_catalog(folder)
    assert err.value.row == 4


def test_spot_at_or_above_on_demand_is_accepted(tmp_path):
    """Azure publishes some spot prices >= on-demand; they load as published."""
    cat = load_catalog(write_catalog(tmp_path / "ok", **fam_edit(3, "spot_usd_per_hour", "1.2")))
    assert cat.families.loc[G5, "spot_usd_per_hour"] == 1.2
    eff = cat.effective_spot_usd_per_hour({"10-15%": 0.0})
    assert eff[G5] == 1.006  # capped at on-demand


# ---------------------------------------------------------------- catalog show option values (review fixes)

def test_show_unknown_provider_is_a_usage_error_listing_the_choices():
    from click.testing import CliRunner

    from gpuladder.cli import main

    res = CliRunner().invoke(main, ["catalog", "show", "--provider", "gcpp"])
    assert res.exit_code == 2
    assert "Invalid value for '--provider': 'gcpp' is not a provider of the catalog; choose from aws, azure, gcp." \
        in res.output and "Did you mean 'gcp'?" in res.output


def test_show_unknown_gpu_keeps_exit_0_and_names_the_gpus():
    from click.testing import CliRunner

    from gpuladder.cli import main

    res = CliRunner().invoke(main, ["catalog", "show", "--gpu", "h100x"])
    assert res.exit_code == 0
    assert "0 families (catalog: embedded)" in res.stdout
    assert "note: no family has the GPU 'h100x'. Did you mean 'H100'? The catalog's GPUs: A10, A100," in res.stderr
    assert "MI300X" in res.stderr


def test_show_known_gpu_filtered_out_by_provider_has_no_note():
    from click.testing import CliRunner

    from gpuladder.cli import main

    res = CliRunner().invoke(main, ["catalog", "show", "--gpu", "Trainium", "--provider", "gcp"])
    assert res.exit_code == 0 and "note:" not in res.stderr
