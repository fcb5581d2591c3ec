"""``gpuladder usage summarize|convert``: exit codes, messages, the JSON contract."""

import json
from pathlib import Path

from click.testing import CliRunner

from gpuladder.cli import main

HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "ours"
B = HERE / "fixtures" / "billing"
CAT = str(OURS / "catalog")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_summarize_json_contract():
    r = run("usage", "summarize", OURS / "cur_legacy_ours.csv", "--catalog", CAT, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc) == ["schema", "file", "format", "rows", "span", "hours", "families", "skipped"]
    assert (doc["format"], doc["rows"]) == ("cur", 15)
    assert doc["schema"] == "gpuladder.usage-summary/1"
    assert doc["span"] == {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z"} and doc["hours"] == 2
    p5 = doc["families"][0]
    assert p5 == {"family": "aws/us-east-1/p5.48xlarge", "gpu": True, "in_catalog": True, "instance_hours": 6.0,
                  "interruptible_instance_hours": 0.0, "covered_instance_hours": 2.0}
    p4d = [f for f in doc["families"] if f["family"] == "aws/eu-central-1/p4d.24xlarge"][0]
    assert p4d["in_catalog"] is False and p4d["gpu"] is True
    fees = [k for k in doc["skipped"] if k["reason"] == "commitment fee (not demand)"][0]
    assert fees["rows"] == 3 and fees["examples"][0] == {"row": 7, "detail": "USE1-HeavyUsage:p5.48xlarge (RIFee)"}


def test_summarize_table_flags_missing_and_no_gpu():
    r = run("usage", "summarize", B / "sample-anonymous-aws-export-dataset.csv.gz", "--catalog", CAT)
    assert r.exit_code == 0 and "no GPU usage found in this file" in r.stdout
    r = run("usage", "summarize", OURS / "cur_legacy_ours.csv", "--catalog", CAT)
    assert "MISSING" in r.stdout and "aws/eu-central-1/p4d.24xlarge" in r.stdout.split("not in the catalog")[1]


def test_summarize_forced_format_and_errors(tmp_path):
    r = run("usage", "summarize", OURS / "focus_gpu_ours.csv", "--usage-format", "cur", "--catalog", CAT)
    assert r.exit_code == 1 and "missing column 'lineItem/UsageStartDate" in r.stderr
    r = run("usage", "summarize", B / "2022-08-01_5.csv", "--catalog", CAT)
    assert r.exit_code == 1 and "GCP billing export" in r.stderr and "Traceback" not in r.output
    r = run("usage", "summarize", tmp_path / "missing.csv", "--catalog", CAT)
    assert r.exit_code == 1 and "not found" in r.stderr
    r = run("usage", "summarize", OURS / "focus_gpu_ours.csv", "--usage-format", "xlsx")
    assert r.exit_code == 2


def test_convert_writes_canonical_csv(tmp_path):
    out = tmp_path / "usage.csv"
    r = run("usage", "convert", OURS / "cur_legacy_ours.csv", "-o", out, "--catalog", CAT)
    assert r.exit_code == 0, r.output
    assert "p4d.24xlarge" in r.stderr          # left out: not in the catalog, and said so
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,family,instances,interruptible_instances,covered_instances"
    assert "2026-01-01T00:00:00Z,aws/us-east-1/p5.48xlarge,5.0,0.0,2.0" in lines
    assert len(lines) == 1 + 2 * 3                # 2 hours x 3 catalog families


def test_convert_gap_error_leaves_no_file(tmp_path):
    out = tmp_path / "usage.csv"
    r = run("usage", "convert", B / "focus_sample.csv.gz", "-o", out)
    assert r.exit_code == 1 and "--gaps zero" in r.stderr and not out.exists()
    r = run("usage", "convert", B / "focus_sample.csv.gz", "-o", out, "--gaps", "zero")
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 1 + 720 * 2


def test_convert_without_catalog_says_what_it_did_not_check(tmp_path):
    """focus_gpu_ours.csv has 4 GPU families (4 hours each with --gaps zero); x9.big is in
    no catalog. Without --catalog it is written and the note says so; plan would refuse it,
    and that error's hint names the convert option that leaves it out."""
    out = tmp_path / "conv.csv"
    res = run("usage", "convert", OURS / "focus_gpu_ours.csv", "-o", out, "--gaps", "zero")
    assert res.exit_code == 0, res.output
    assert ("note: no --catalog, so 4 families (16 rows) were written without a catalog check; 1 family (4 rows) "
            "not in the embedded catalog, which plan and validate would refuse: aws/us-east-1/x9.big. "
            "--catalog embedded (or a catalog folder) leaves out the families the catalog lacks.") in res.stderr
    res = run("validate", "--usage", out)
    assert res.exit_code == 1
    assert "family 'aws/us-east-1/x9.big' is not in the catalog" in res.output
    assert "converting again with `gpuladder usage convert --catalog embedded`" in res.output


def test_convert_with_catalog_has_no_unchecked_note(tmp_path):
    res = run("usage", "convert", OURS / "focus_gpu_ours.csv", "-o", tmp_path / "c.csv", "--gaps", "zero",
              "--catalog", "embedded")
    assert res.exit_code == 0 and "without a catalog check" not in res.stderr
    assert "x9.big" not in (tmp_path / "c.csv").read_text()
