"""Mutation fuzz of every input file the commands read (house rule 4: bad input never
crashes and never loses data).

Seeds are small valid files (tests/fixtures/fuzz, written by its make_seeds.py; the
exports there are cut from shared/data/billing, see its README) and the team's own
exports (tests/fixtures/ours). Hypothesis mutates one of them at the cell, row, column,
byte or YAML level and runs a command in process. The property, for every command:

- the exit code is one of DESIGN.md's (0, 1, 2, 3) and nothing escapes: with
  GPULADDER_DEBUG set, ``handle_errors`` re-raises an unexpected exception instead of its
  "internal error" message, so a crash fails here with its traceback;
- on exit 1 the message names the file (for a scenario: one of its input files), and a
  cell mutation's message names a row or a column;
- an ``-o`` file that held something before a failed command holds it still, byte for
  byte, with no temporary file left beside it; after a success it is whole.

Inputs found to crash are kept as named regression tests at the end of the file."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuladder.cli import main
from gpuladder.errors import GpuladderError, InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = FIXTURES / "fuzz"
OURS = FIXTURES / "ours"

SCENARIO_FILES = ("usage.csv", "inventory.csv", "catalog/families.csv", "catalog/commitments.csv")
EXPORTS = (SEEDS / "focus_ri.csv", SEEDS / "focus_flex.csv", SEEDS / "cur_legacy.csv", SEEDS / "cur2.csv",
           SEEDS / "gcp.csv", SEEDS / "azure.csv", OURS / "focus_gpu_ours.csv", OURS / "cur_legacy_ours.csv",
           OURS / "cur2_ours.csv")
COMMITMENT_EXPORTS = (SEEDS / "focus_ri.csv", SEEDS / "cur_legacy.csv", OURS / "focus_gpu_ours.csv",
                      OURS / "cur_legacy_ours.csv", OURS / "cur2_ours.csv")
SENTINEL = b"the previous output, kept\n"

CELL_VALUES = ("", "text", "99999999999999999999999999", "-1", "nan", "NaN", "inf", "-inf", "1e308", "-1e308",
               "0", "1.5", "01/08/2026 00:00", "2026-13-45T99:00:00Z", "2026-01-03 04:00:00+05:30", "1767225600",
               "Ünïcødé ✓ 日本", '"', ",", ";", "\t", "\\", "null", "true", " 2 ", "0x10", "1,5", "\u00a0",
               "١٢", "1e-320", "9" * 400, "-0", "+5", "5e", "2026-01-03T04:00:00", "2026-01-03T04:30:00Z",
               "2026-02-30T00:00:00Z", "9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z", "x" * 5000, "\n")

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- mutations

@dataclass(frozen=True)
class Mutation:
    kind: str
    a: int = 0
    b: int = 0
    value: str = ""
    raw: bool = False

    @property
    def is_cell(self) -> bool:
        return self.kind == "cell"


CSV_KINDS = ("drop_col", "dup_col", "swap_cols", "drop_row", "dup_row", "swap_rows", "header_case")
BYTE_KINDS = ("truncate", "bom", "crlf", "nul")
index = st.integers(0, 5000)
csv_mutation = st.one_of(
    st.builds(Mutation, kind=st.just("cell"), a=index, b=index, value=st.sampled_from(CELL_VALUES), raw=st.booleans()),
    st.builds(Mutation, kind=st.sampled_from(CSV_KINDS), a=index, b=index),
    st.builds(Mutation, kind=st.sampled_from(BYTE_KINDS), a=index))
csv_mutations = st.lists(csv_mutation, min_size=1, max_size=2)


def _write_rows(rows: list[list[str]], raw_row: int | None = None) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for i, row in enumerate(rows):
        if i == raw_row:
            buf.write(",".join(row) + "\n")
        else:
            writer.writerow(row)
    return buf.getvalue().encode("utf-8")


def mutate_csv(data: bytes, m: Mutation) -> bytes:
    """``data`` with the mutation ``m`` applied (indices wrap around the file's size)."""
    if m.kind in BYTE_KINDS:
        if m.kind == "truncate":
            return data[:m.a % max(len(data), 1)]
        if m.kind == "bom":
            return b"\xef\xbb\xbf" + data
        if m.kind == "crlf":
            return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        at = m.a % (len(data) + 1)
        return data[:at] + b"\x00" + data[at:]
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return data
    rows = [r for r in rows if r] or [[""]]
    width = max(len(r) for r in rows)
    n_data = len(rows) - 1
    raw_row = None
    if m.kind == "cell" and n_data:
        r = 1 + m.a % n_data
        row = rows[r] + [""] * (width - len(rows[r]))
        row[m.b % width] = m.value
        rows[r] = row
        raw_row = r if m.raw else None
    elif m.kind in ("drop_col", "dup_col", "swap_cols"):
        c, d = m.a % width, m.b % width
        for row in rows:
            row += [""] * (width - len(row))
            if m.kind == "drop_col":
                del row[c]
            elif m.kind == "dup_col":
                row.insert(c, row[c])
            else:
                row[c], row[d] = row[d], row[c]
    elif m.kind in ("drop_row", "dup_row", "swap_rows") and n_data:
        r, q = 1 + m.a % n_data, 1 + m.b % n_data
        if m.kind == "drop_row":
            del rows[r]
        elif m.kind == "dup_row":
            rows.insert(r, list(rows[r]))
        else:
            rows[r], rows[q] = rows[q], rows[r]
    elif m.kind == "header_case":
        c = m.a % len(rows[0])
        rows[0][c] = (str.upper, str.lower, str.title)[m.b % 3](rows[0][c])
    return _write_rows(rows, raw_row)


YAML_VALUES = (None, True, "text", -1, 0, 1e308, 10**30, float("nan"), float("inf"), [], {}, [1, 2],
               "2026-13-01", "01/08/2026", {"a": 1}, "Ünïcødé", "")


@dataclass(frozen=True)
class YamlMutation:
    kind: str     # retype, delete, unknown_key, nest, listify, truncate
    at: int       # which key path (wraps around the seed's paths), or the byte to cut at
    value: int    # which of YAML_VALUES


yaml_mutation = st.builds(YamlMutation, kind=st.sampled_from(["retype", "delete", "unknown_key", "nest", "listify",
                                                               "truncate"]),
                          at=index, value=st.integers(0, len(YAML_VALUES) - 1))


def _key_paths(node, prefix=()):
    if isinstance(node, dict):
        for key, child in node.items():
            yield prefix + (key,)
            yield from _key_paths(child, prefix + (key,))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield prefix + (i,)
            yield from _key_paths(child, prefix + (i,))


def mutate_doc(text: str, m: YamlMutation, load, dump) -> str:
    """The YAML or JSON document ``text`` with ``m`` applied."""
    if m.kind == "truncate":
        return text[:m.at % max(len(text), 1)]
    doc = load(text)
    paths = list(_key_paths(doc))
    path = paths[m.at % len(paths)]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if m.kind == "retype":
        parent[last] = YAML_VALUES[m.value]
    elif m.kind == "delete":
        del parent[last]
    elif m.kind == "unknown_key":
        target = parent if isinstance(parent, dict) else doc
        target["unknown_setting"] = YAML_VALUES[m.value]
    elif m.kind == "nest":
        parent[last] = {"deeper": parent[last]}
    else:
        parent[last] = [parent[last]]
    return dump(doc)


def mutate_yaml(text: str, m: YamlMutation) -> str:
    return mutate_doc(text, m, yaml.safe_load, lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True))


def mutate_json(text: str, m: YamlMutation) -> str:
    return mutate_doc(text, m, json.loads, lambda d: json.dumps(d, indent=1, ensure_ascii=False))


# ---------------------------------------------------------------- running and the property

def run(args, cwd: Path):
    """The command in process; GPULADDER_DEBUG makes an unexpected exception escape.
    ``res.reported`` is the GpuladderError the command reported (None when it reported none)."""
    raised = []

    def recording_init(self, *a):
        raised.append(self)
        Exception.__init__(self, *a)

    old = Path.cwd()
    os.chdir(cwd)
    GpuladderError.__init__ = recording_init
    try:
        res = CliRunner(env={"GPULADDER_DEBUG": "1"}).invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        del GpuladderError.__init__
        os.chdir(old)
    res.reported = next((e for e in reversed(raised) if f"error: {e}" in res.output), None)
    return res


def check(res, names: tuple[str, ...], cell: bool, out: Path | None = None, before: set[str] | None = None) -> None:
    """The property. A DomainError (valid input the tool cannot plan, e.g. too little
    history for the forecast) names no file by design; an InputError names the file."""
    text = res.output
    assert res.exit_code in (0, 1, 2, 3), text
    assert "Traceback" not in text and "internal error" not in text, text
    if res.exit_code == 1:
        assert isinstance(res.reported, GpuladderError), f"exit 1 without a reported error:\n{text}"
        if isinstance(res.reported, InputError):
            assert any(n in text for n in names), f"names none of {names}:\n{text}"
            if cell:
                assert res.reported.row is not None or res.reported.column is not None or "line " in text, \
                    f"no row or column:\n{text}"
    if out is None:
        return
    assert {p.name for p in out.parent.iterdir()} == before, "a file was left beside the output"
    written = out.read_bytes()
    if res.exit_code != 0:
        assert written == SENTINEL, "a failed command changed its -o file"
    else:
        assert written != SENTINEL and written.endswith(b"\n")
        if out.suffix == ".json":
            json.loads(written)
        else:
            list(csv.reader(io.StringIO(written.decode("utf-8"))))


SCENARIO_NAMES = ("usage.csv", "inventory.csv", "families.csv", "commitments.csv", "scenario.yaml")


# ---------------------------------------------------------------- the fuzz, per command

_SEED_EXIT: dict[tuple, int] = {}


def fuzz_one_file(command, seed: Path, target: str, muts, names, out_name: str | None = None) -> None:
    """Copy the seed (a scenario folder when ``seed`` is SEEDS, else one export) into a
    temporary folder, mutate ``target`` there, run the arguments ``command(path, out)`` in
    that folder and check the property. A single cell mutation that turns the seed's exit 0 into exit 1 must be
    named by row or column."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "case"
        if seed == SEEDS:
            shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("*.py", "README.md", "__pycache__"))
        else:
            folder.mkdir()
            shutil.copy(seed, folder / target)
        out, before = None, None
        if out_name is not None:
            (tmp / "out").mkdir()
            out, before = tmp / "out" / out_name, {out_name}
        key = (command.__name__, seed, target)
        if key not in _SEED_EXIT:
            if out is not None:
                out.write_bytes(SENTINEL)
            _SEED_EXIT[key] = run(command(folder / target, out), folder).exit_code
        path = folder / target
        data = path.read_bytes()
        for m in muts:
            data = mutate_csv(data, m)
        path.write_bytes(data)
        if out is not None:
            out.write_bytes(SENTINEL)
        cell = len(muts) == 1 and muts[0].is_cell and _SEED_EXIT[key] == 0
        check(run(command(path, out), folder), names, cell, out, before)


def validate_args(path, out):
    return ["validate", "scenario.yaml"]


def plan_args(path, out):
    return ["plan", "scenario.yaml", "--time-limit", "2", "-o", out]


def summarize_args(path, out):
    return ["usage", "summarize", path, "--catalog", SEEDS / "catalog", "-o", out]


def convert_args(path, out):
    return ["usage", "convert", path, "--gaps", "zero", "-o", out]


def from_export_args(path, out):
    return ["inventory", "from-export", path, "--catalog", SEEDS / "catalog", "--skip-unmatched", "-o", out]


@settings(max_examples=80, **SETTINGS)
@given(target=st.sampled_from(SCENARIO_FILES), muts=csv_mutations)
def test_validate_survives_mutated_scenario_files(target, muts):
    fuzz_one_file(validate_args, SEEDS, target, muts, SCENARIO_NAMES)


@settings(max_examples=80, **SETTINGS)
@given(m=yaml_mutation)
def test_validate_survives_mutated_scenario_yaml(m):
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        shutil.copytree(SEEDS, case, ignore=shutil.ignore_patterns("*.py", "README.md", "__pycache__"))
        path = case / "scenario.yaml"
        path.write_text(mutate_yaml(path.read_text(), m), encoding="utf-8")
        check(run(validate_args(path, None), case), SCENARIO_NAMES, False)


@settings(max_examples=70, **SETTINGS)
@given(seed=st.sampled_from(EXPORTS + (SEEDS / "usage.csv",)), muts=csv_mutations)
def test_usage_summarize_survives_mutated_exports(seed, muts):
    fuzz_one_file(summarize_args, seed, seed.name, muts, (seed.name,), "summary.json")


@settings(max_examples=70, **SETTINGS)
@given(seed=st.sampled_from(EXPORTS + (SEEDS / "usage.csv",)), muts=csv_mutations)
def test_usage_convert_survives_mutated_exports(seed, muts):
    fuzz_one_file(convert_args, seed, seed.name, muts, (seed.name,), "converted.csv")


@settings(max_examples=60, **SETTINGS)
@given(seed=st.sampled_from(COMMITMENT_EXPORTS), muts=csv_mutations)
def test_inventory_from_export_survives_mutated_exports(seed, muts):
    fuzz_one_file(from_export_args, seed, seed.name, muts, (seed.name,), "inventory.csv")


USAGE_EXPORTS = (OURS / "focus_gpu_ours.csv", OURS / "cur_legacy_ours.csv", OURS / "cur2_ours.csv")


def validate_export_args(path, out):
    return ["validate", SEEDS / "scenario.yaml", "--usage", path, "--gaps", "zero",
            "--set", "forecast.method=replay", "--set", "horizon.start=2026-01-01"]


@settings(max_examples=30, **SETTINGS)
@given(seed=st.sampled_from(USAGE_EXPORTS), muts=csv_mutations)
def test_validate_survives_mutated_exports_as_usage(seed, muts):
    fuzz_one_file(validate_export_args, seed, seed.name, muts, (seed.name,))


@settings(max_examples=100, **SETTINGS)
@given(m=yaml_mutation, inventory_muts=st.one_of(st.just([]), csv_mutations))
def test_inventory_record_survives_a_mutated_plan_json_and_inventory(m, inventory_muts):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = tmp / "plan.json"
        plan.write_text(mutate_json((SEEDS / "plan.json").read_text(), m), encoding="utf-8")
        data = (SEEDS / "inventory.csv").read_bytes()
        for im in inventory_muts:
            data = mutate_csv(data, im)
        (tmp / "inventory.csv").write_bytes(data)
        (tmp / "out").mkdir()
        out = tmp / "out" / "inventory.csv"
        out.write_bytes(SENTINEL)
        res = run(["inventory", "record", plan, "--inventory", "inventory.csv", "-o", out], tmp)
        check(res, ("plan.json", "inventory.csv"), False, out, {"inventory.csv"})


@settings(max_examples=10, **SETTINGS)
@given(target=st.sampled_from(SCENARIO_FILES), muts=csv_mutations)
def test_plan_survives_mutated_scenario_files(target, muts):
    fuzz_one_file(plan_args, SEEDS, target, muts, SCENARIO_NAMES, "plan.json")


# ---------------------------------------------------------------- the mutations themselves

def test_mutations_change_what_they_say():
    seed = b"a,b,c\n1,2,3\n4,5,6\n"
    assert mutate_csv(seed, Mutation("cell", a=1, b=1, value="x")) == b"a,b,c\n1,2,3\n4,x,6\n"
    assert mutate_csv(seed, Mutation("cell", a=0, b=2, value=",", raw=True)) == b"a,b,c\n1,2,,\n4,5,6\n"
    assert mutate_csv(seed, Mutation("drop_col", a=0)) == b"b,c\n2,3\n5,6\n"
    assert mutate_csv(seed, Mutation("swap_rows", a=0, b=1)) == b"a,b,c\n4,5,6\n1,2,3\n"
    assert mutate_csv(seed, Mutation("header_case", a=1, b=0)) == b"a,B,c\n1,2,3\n4,5,6\n"
    assert mutate_csv(seed, Mutation("truncate", a=8)) == b"a,b,c\n1,"
    assert mutate_csv(seed, Mutation("crlf")) == b"a,b,c\r\n1,2,3\r\n4,5,6\r\n"
    assert mutate_yaml("a: {b: 1}\n", YamlMutation("nest", at=1, value=0)) == "a:\n  b:\n    deeper: 1\n"
    assert mutate_yaml("a: {b: 1}\n", YamlMutation("retype", at=1, value=2)) == "a:\n  b: text\n"


# ---------------------------------------------------------------- crashes the fuzz found

def run_in(tmp_path: Path, args):
    res = run(args, tmp_path)
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    return res


def test_inventory_from_focus_without_consumed_quantity_names_the_column(tmp_path):
    """FOCUS with a CommitmentDiscountId but no ConsumedQuantity column: AttributeError
    ('NoneType' object has no attribute 'type') in arrow_columns.as_float."""
    rows = list(csv.reader(io.StringIO((OURS / "focus_gpu_ours.csv").read_text())))
    assert rows[0][7] == "ConsumedQuantity"
    for row in rows:
        del row[7]
    (tmp_path / "focus.csv").write_bytes(_write_rows(rows))
    (tmp_path / "inv.csv").write_bytes(SENTINEL)
    res = run_in(tmp_path, ["inventory", "from-export", "focus.csv", "-o", "inv.csv"])
    assert res.exit_code == 1
    assert "focus.csv, column 'ConsumedQuantity': missing column 'ConsumedQuantity' (FOCUS export)" in res.output
    assert (tmp_path / "inv.csv").read_bytes() == SENTINEL


def _from_cur_without(tmp_path, index: int, column: str):
    """``inventory from-export`` on our CUR fixture without its column ``index`` (``column``)."""
    rows = list(csv.reader(io.StringIO((OURS / "cur_legacy_ours.csv").read_text())))
    assert rows[0][index] == column
    for row in rows:
        del row[index]
    (tmp_path / "cur.csv").write_bytes(_write_rows(rows))
    return run_in(tmp_path, ["inventory", "from-export", "cur.csv"])


def test_inventory_from_cur_without_usage_start_names_the_column(tmp_path):
    """A CUR without lineItem/UsageStartDate: TypeError ('rsub' not supported for dtype 'str'
    with dtype 'datetime64[s, UTC]') in _cur_reservations, the missing column read as text."""
    res = _from_cur_without(tmp_path, 2, "lineItem/UsageStartDate")
    assert res.exit_code == 1
    assert ("cur.csv, column 'lineItem/UsageStartDate (line_item_usage_start_date)': missing column "
            "'lineItem/UsageStartDate (line_item_usage_start_date)' (AWS CUR export)") in res.output


def test_inventory_from_cur_without_line_item_type_names_the_column(tmp_path):
    """The CUR's required columns are checked in one place (LineItemType had its own check)."""
    res = _from_cur_without(tmp_path, 1, "lineItem/LineItemType")
    assert res.exit_code == 1
    assert ("cur.csv, column 'lineItem/LineItemType (line_item_line_item_type)': missing column "
            "'lineItem/LineItemType (line_item_line_item_type)' (AWS CUR export)") in res.output


def test_inventory_from_cur_without_usage_end_names_the_commitment(tmp_path):
    """Without lineItem/UsageEndDate (optional: usage reads it as daily rows) the same crash;
    the commitment's quantity cannot be told, and the error names the commitment."""
    res = _from_cur_without(tmp_path, 3, "lineItem/UsageEndDate")
    assert res.exit_code == 1
    assert "cur.csv: commitment arn:aws:savingsplans::111122223333:savingsplan/sp-cur-ours-1: quantity" in res.output


@pytest.mark.parametrize("target, text, row, column", [
    ("usage.csv", 'timestamp,family,instances\n2026-01-01T00:00:00Z,a,1\n",a,1\n2026-01-01T02:00:00Z,a,1\n',
     3, "timestamp"),
    ("usage.csv", 'timestamp,family,instances\n\n2026-01-01T00:00:00Z,a,"1\n2026-01-01T02:00:00Z,a,1\n',
     3, "instances"),
    ("inventory.csv", 'id,product,family,quantity,start,end\n"ri-1,aws-ri-1y-no_upfront,,1,2026-01-01,2027-01-01\n',
     2, "id"),
])
def test_an_unclosed_quote_names_its_row_and_column(tmp_path, target, text, row, column):
    """A raw quote that never closes: pandas' 'EOF inside string starting at row 1' counted
    rows from 0 after the header (the quote was in spreadsheet row 2) and named no column."""
    case = tmp_path / "case"
    shutil.copytree(SEEDS, case, ignore=shutil.ignore_patterns("*.py", "README.md", "__pycache__"))
    (case / target).write_text(text)
    res = run_in(case, ["validate", "scenario.yaml"])
    assert res.exit_code == 1
    assert f"{target}, row {row}, column '{column}': a quote (\") opens a value that is never closed" in res.output
    assert res.reported.row == row and res.reported.column == column


def _focus_parquet(path: Path, column: str, values: pa.Array) -> Path:
    table = pcsv.read_csv(OURS / "focus_gpu_ours.csv")
    table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    pq.write_table(table.set_column(table.column_names.index(column), column, values), path)
    return path


@pytest.mark.parametrize("command", [["usage", "summarize"], ["usage", "convert", "--gaps", "zero", "-o", "o.csv"],
                                     ["inventory", "from-export", "--skip-unmatched"]])
def test_parquet_columns_of_lists_or_non_utf8_bytes_are_named(tmp_path, command):
    """A Parquet column of lists or maps, or of bytes that are not UTF-8: ArrowNotImplementedError
    ('Unsupported cast from list<element: int64> to utf8') / ArrowInvalid ('Invalid UTF8
    payload') in arrow_columns.as_string, for any column the readers use."""
    n = 15
    _focus_parquet(tmp_path / "lists.parquet", "ConsumedUnit", pa.array([[1]] * n))
    res = run_in(tmp_path, [*command[:2], "lists.parquet", *command[2:]])
    assert res.exit_code == 1
    assert ("lists.parquet, column 'ConsumedUnit': the column holds list<element: int64> values, "
            "not one value per row") in res.output
    _focus_parquet(tmp_path / "maps.parquet", "ChargeCategory", pa.array([[("k", "v")]] * n,
                                                                         pa.map_(pa.string(), pa.string())))
    res = run_in(tmp_path, [*command[:2], "maps.parquet", *command[2:]])
    assert res.exit_code == 1
    assert "maps.parquet, column 'ChargeCategory': the column holds map<string, string" in res.output
    values = [b"Hours"] * n
    values[5] = b"\xffHours"
    _focus_parquet(tmp_path / "bytes.parquet", "ConsumedUnit", pa.array(values, pa.binary()))
    res = run_in(tmp_path, [*command[:2], "bytes.parquet", *command[2:]])
    assert res.exit_code == 1
    assert "bytes.parquet, row 7, column 'ConsumedUnit': bytes that are not UTF-8 text" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_parquet_binary_column_of_utf8_reads_as_text(tmp_path):
    text = run_in(tmp_path, ["usage", "summarize", OURS / "focus_gpu_ours.csv", "--format", "json"])
    _focus_parquet(tmp_path / "b.parquet", "ConsumedUnit", pa.array([b"Hours"] * 15, pa.binary()))
    binary = run_in(tmp_path, ["usage", "summarize", "b.parquet", "--format", "json"])
    assert binary.exit_code == text.exit_code == 0
    a, b = json.loads(text.stdout), json.loads(binary.stdout)
    assert a["families"] == b["families"]
