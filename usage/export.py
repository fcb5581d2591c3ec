"""Streaming, columnar reading of billing exports (CSV, gzip CSV, Parquet) with pyarrow.

A file is never read whole into Python objects: only the columns a format needs are
parsed, in record batches, and each batch is reduced at once to sums per
(hour, family) plus skip counts. The formats themselves (FOCUS, CUR) only say how a batch
of raw columns becomes *classified rows* (see ``Classified``); everything else — format
detection from the header, timestamps, aggregation, skipped-row accounting — lives here.
"""

from __future__ import annotations

import codecs
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from gpuladder.errors import InputError
from gpuladder.usage.arrow_columns import NULL_STRINGS
from gpuladder.usage.instance_hours import InstanceHours
from gpuladder.usage.shape import REPEATED_HEADER, JoinedHeaders
from gpuladder.usage.instance_types import is_gpu_instance_type

FORMATS = ("canonical", "focus", "cur", "cur2")
BLOCK_BYTES = 32 << 20
PARQUET_BATCH_ROWS = 1 << 18
MAX_EXAMPLES = 3
HEAD_BYTES = 1 << 20          # read to find the header and to refuse binary or non-UTF-8 files early
MAX_SPREAD_HOURS = 24 * 31   # a row spanning more is not usage of an hour (fees, purchases)
NOT_USAGE_RE = r"\((?:not demand|not usage)\)$"   # skip reasons of rows that are no usage record at all
COMPACT_ROWS = 1_000_000      # re-aggregate partial sums once they hold this many rows


# ------------------------------------------------------------------ file access

@dataclass(frozen=True)
class ExportFile:
    """An export on disk: its container (``csv``, ``csv.gz``, ``parquet``) and header."""

    path: Path
    container: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return str(self.path)


def open_export(path) -> ExportFile:
    """Check the file exists and read its header (CSV first line or Parquet schema)."""
    p = Path(path)
    if p.is_dir():
        raise InputError("the usage path is a folder, not a file", file=str(path),
                         hint="passing one export file, not the folder that holds it.")
    if not p.is_file():
        raise InputError("usage file not found", file=str(path),
                         hint="passing the path of a canonical usage CSV, a FOCUS export or an AWS CUR.")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        try:
            names = tuple(pq.ParquetFile(p).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file ({exc})", file=str(p),
                             hint="re-exporting the file.") from None
        return ExportFile(p, "parquet", names)
    if magic == b"PK\x03\x04":
        raise InputError("a ZIP archive, not a CSV, gzip CSV or Parquet file", file=str(p),
                         hint="unzipping it (unzip FILE) and passing the CSV inside, or exporting with GZIP or "
                              "Parquet compression.")
    container = "csv.gz" if magic[:2] == b"\x1f\x8b" else "csv"
    try:
        opener = gzip.open if container == "csv.gz" else open
        with opener(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"not a readable file ({exc})", file=str(p), hint="re-exporting the file.") from None
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise InputError("UTF-16 text (a spreadsheet's 'Unicode text' or PowerShell's Out-File), not UTF-8",
                         file=str(p), hint="saving the export as UTF-8 CSV.")
    if b"\x00" in head:
        raise InputError("not a CSV or Parquet file (binary content)", file=str(p),
                         hint="passing a CSV, gzip CSV or Parquet export.")
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=str(p), row=head[:exc.start].count(b"\n") + 1,
                         hint="saving the export as UTF-8.") from None
    line = text.splitlines()[0] if text.strip() else ""
    if not line.strip():
        raise InputError("the file is empty (no header row)", file=str(p),
                         hint="passing a non-empty export with its header row.")
    try:
        import csv
        names = tuple(c.strip() for c in next(csv.reader(io.StringIO(line))))
    except csv.Error as exc:
        raise InputError(f"unreadable header ({exc})", file=str(p), row=1,
                         hint="checking that the file is a CSV export.") from None
    return ExportFile(p, container, names)


def resolve_columns(export: ExportFile, spec: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map each logical name of ``spec`` to the file's actual column, matching any of the
    candidate spellings case-insensitively; logical names that are absent are left out."""
    lower = {}
    for c in export.columns:
        lower.setdefault(c.lower(), c)
    out = {}
    for key, candidates in spec.items():
        for cand in candidates:
            if cand.lower() in lower:
                out[key] = lower[cand.lower()]
                break
    return out


def require_columns(export: ExportFile, cols: dict[str, str], required: dict[str, str],
                    fmt: str) -> None:
    """InputError naming the first required column (logical -> display name) missing."""
    for key, shown in required.items():
        if key not in cols:
            raise InputError(f"missing column '{shown}' ({fmt} export)", file=export.name,
                             column=shown, hint=f"exporting the {fmt} file with the column {shown} "
                                                "(or forcing another format with --usage-format).")


def _parquet_batches(export: ExportFile, columns: list[str]) -> Iterator[tuple[int, pa.Table]]:
    """Yield (index of the batch's first record, table of ``columns``) in file order."""
    pf = pq.ParquetFile(export.path)
    offset = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
            yield offset, _values_table(export, pa.Table.from_batches([batch]), offset)
            offset += batch.num_rows
    except pa.ArrowException as exc:
        raise InputError(f"unreadable Parquet data ({exc})", file=export.name,
                         hint="re-exporting the file.") from None


def _values_table(export: ExportFile, table: pa.Table, offset: int) -> pa.Table:
    """``table`` with binary columns as text; a column of lists, structs or maps, or of bytes
    that are not UTF-8, is an InputError naming it (the readers take one value per cell; CUR
    2.0's ``product`` column may be a map)."""
    for i, (name, arr) in enumerate(zip(table.column_names, table.columns)):
        if pa.types.is_nested(arr.type) and not (pa.types.is_map(arr.type) and name.lower() == "product"):
            raise InputError(f"the column holds {arr.type} values, not one value per row", file=export.name,
                             column=name, hint="exporting that column as text, numbers or timestamps.")
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            arr = arr.combine_chunks()
            try:
                table = table.set_column(i, name, pc.cast(arr, pa.string()))
            except pa.ArrowInvalid:
                lo, hi = 0, len(arr)       # bisect to the first value that is not UTF-8
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    try:
                        pc.cast(arr.slice(lo, mid - lo), pa.string())
                        lo = mid
                    except pa.ArrowInvalid:
                        hi = mid
                raise InputError("bytes that are not UTF-8 text", file=export.name, row=offset + lo + 2,
                                 column=name, hint="exporting the column as UTF-8 text.") from None
    return table


class CsvBatches:
    """Streaming CSV reader over ``columns`` (strings; ``null``/``NULL``/empty read as null),
    yielding (index of the batch's first record, table) in file order. Rows with a wrong
    number of fields are skipped and counted; a malformed file gives an InputError."""

    def __init__(self, export: ExportFile, columns: list[str]):
        self.export, self.columns = export, columns
        self.bad_rows = 0
        self.bad_examples: list[tuple[int | None, str]] = []
        self.headers = JoinedHeaders(export.name, export.columns)
        self.foreign: InputError | None = None
        self._chunk: bytes | memoryview = b""
        self._lines_before = 1   # lines of the file before the current piece (the header)

    def _line(self, row) -> int | None:
        """The file line of a malformed row (pyarrow knows it only when parsing on one thread)."""
        if row.number is not None:
            return self._lines_before + int(row.number)
        pos = bytes(self._chunk).find((row.text or "").encode("utf-8")) if row.text else -1
        return None if pos < 0 else self._lines_before + bytes(self._chunk[:pos]).count(b"\n") + 1

    def _invalid(self, row) -> str:
        self.bad_rows += 1
        header = self.foreign is None and self.headers.is_header_line(row.text or "")
        if header or len(self.bad_examples) < MAX_EXAMPLES:
            num = self._line(row)
            if header:
                self.foreign = self.headers.foreign(num, row.actual_columns, row.expected_columns)
            if len(self.bad_examples) < MAX_EXAMPLES:
                self.bad_examples.append((num, f"{row.actual_columns} fields instead of {row.expected_columns}: "
                                               f"{(row.text or '')[:80]}"))
        return "skip"

    def __iter__(self) -> Iterator[tuple[int, pa.Table]]:
        compression = "gzip" if self.export.container == "csv.gz" else None
        stream = pa.input_stream(str(self.export.path), compression=compression)
        names = _unique_names(self.export.columns)
        read = pcsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES)
        parse = pcsv.ParseOptions(invalid_row_handler=self._invalid)
        convert = pcsv.ConvertOptions(include_columns=self.columns,
                                      column_types={c: pa.string() for c in self.columns},
                                      null_values=NULL_STRINGS, strings_can_be_null=True,
                                      quoted_strings_can_be_null=True)
        try:
            offset = 0
            for chunk in _record_chunks(stream):
                self._chunk = chunk
                table = pcsv.read_csv(pa.BufferReader(pa.py_buffer(chunk)), read_options=read, parse_options=parse,
                                      convert_options=convert)
                if self.foreign is not None:
                    raise self.foreign
                cuts = [-1, *self.headers.find(table, offset), table.num_rows]
                for a, b in zip(cuts[:-1], cuts[1:]):
                    if b > a + 1:
                        yield offset + a + 1, table.slice(a + 1, b - a - 1)
                offset += table.num_rows
                self._lines_before += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == 10))
        except (pa.ArrowInvalid, UnicodeDecodeError, EOFError, OSError) as exc:
            raise InputError(f"malformed CSV ({str(exc).splitlines()[0][:200]})", file=self.export.name,
                             hint="checking the export is complete and not truncated "
                                  "(re-download it; gzip files must be whole).") from None
        finally:
            stream.close()


def _unique_names(columns) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        k = seen.get(c, 0)
        out.append(c if k == 0 else f"{c}#{k}")
        seen[c] = k + 1
    return out


def _cut(buf: bytes, start: int = 0) -> int:
    """Index just past the last line break of ``buf`` that is not inside a quoted value
    (an even number of quotes before it), or -1."""
    pos = buf.rfind(b"\n")
    while pos >= start:
        if buf.count(b'"', 0, pos) % 2 == 0:
            return pos + 1
        pos = buf.rfind(b"\n", start, pos)
    return -1


def _record_chunks(stream) -> Iterator[bytes | memoryview]:
    """Whole records in pieces of about BLOCK_BYTES, header line dropped. The file is read
    piece by piece so memory stays bounded (pyarrow's own streaming reader reads far ahead)."""
    carry, header_done = b"", False
    while True:
        data = stream.read(BLOCK_BYTES)
        buf = carry + data
        if not header_done:
            first = buf.find(b"\n")
            while first >= 0 and buf.count(b'"', 0, first) % 2:
                first = buf.find(b"\n", first + 1)
            if first < 0 and data:
                carry = buf
                continue
            buf = buf[first + 1:] if first >= 0 else b""
            header_done = True
        if not data:
            if buf.strip():
                yield buf
            return
        cut = _cut(buf)
        if cut < 0:
            carry = buf
            continue
        yield memoryview(buf)[:cut]
        carry = buf[cut:]


def batches(export: ExportFile, columns: list[str]):
    """CsvBatches for CSV exports, a Parquet batch iterator otherwise."""
    if export.container == "parquet":
        return _parquet_batches(export, columns)
    return CsvBatches(export, columns)


# ------------------------------------------------------------------ classified rows

@dataclass(frozen=True)
class Classified:
    """One batch after a format has read it. Per row: ``start`` (UTC, may be null),
    ``span_hours`` (>= 1), ``provider``/``region``/``instance_type`` (null when not
    instance usage), ``amount_hours`` (instance-hours), ``interruptible``, ``covered``,
    ``reason`` (null = demand; otherwise why the row is not demand), ``detail``
    (short text for examples), ``gpu_hint`` (true where the export itself says the
    instance has GPUs, e.g. FOCUS SkuPriceDetails GpuCount > 0) and ``instance_id`` (the
    VM of the row's resource, null when unknown; see ``instance_hours.vm_instance_ids``)."""

    start: pa.Array
    span_hours: pa.Array
    provider: pa.Array
    region: pa.Array
    instance_type: pa.Array
    amount_hours: pa.Array
    interruptible: pa.Array
    covered: pa.Array
    reason: pa.Array
    detail: pa.Array
    gpu_hint: pa.Array | None = None
    instance_id: pa.Array | None = None


def span_hours(start: pa.Array, end: pa.Array | None) -> pa.Array:
    """Whole hours from the start's hour to the end (at least 1; 1 when the end is unknown)."""
    n = len(start)
    if end is None:
        return pa.array(np.ones(n, dtype=np.int64))
    h0 = pc.floor_temporal(start, unit="hour")
    secs = pc.cast(pc.seconds_between(h0, end), pa.float64())
    hours = pc.ceil(pc.divide(secs, 3600.0))
    return pc.cast(pc.max_element_wise(pc.fill_null(hours, 1.0), 1.0), pa.int64())


def with_reason(reason: pa.Array, condition, text: str) -> pa.Array:
    """Set ``text`` as the reason where ``condition`` holds and no reason is set yet."""
    cond = pc.fill_null(condition, False)
    return pc.if_else(pc.and_(cond, pc.is_null(reason)), pa.scalar(text, pa.string()), reason)


# ------------------------------------------------------------------ aggregation

@dataclass(frozen=True)
class SkippedRows:
    reason: str
    rows: int
    examples: tuple[tuple[int | None, str], ...]


@dataclass(frozen=True)
class ExportRead:
    """What a scan of an export found, before any catalog or gap policy is applied.

    ``usage``: long frame ``timestamp, family, instance_type, gpu, instances,
    interruptible_instances, covered_instances`` (instance-hours in that hour; every
    instance family found, GPU or not). ``present_hours``: hours in which the export has
    usage rows of any kind, GPU or not (an hour without any is a gap in the export); fee,
    purchase, negation, tax/credit and unused-commitment rows do not count as usage."""

    file: str
    format: str
    rows: int
    usage: pd.DataFrame
    present_hours: pd.DatetimeIndex
    skipped: tuple[SkippedRows, ...] = field(default_factory=tuple)


class Accumulator:
    """Reduces classified batches to small partial sums, then to an ExportRead."""

    def __init__(self, instance_column: str | None = None):
        self.instances = InstanceHours(instance_column, COMPACT_ROWS)
        self.parts: list[pa.Table] = []
        self.present: list[pa.Table] = []
        self.skip_counts: dict[str, int] = {}
        self.examples: dict[str, list[tuple[int | None, str]]] = {}
        self.rows = 0

    @staticmethod
    def _reason(c: Classified) -> pa.Array:
        """Why each row is not demand (null: demand)."""
        reason = pc.if_else(pc.and_(pc.is_null(c.reason), pc.is_null(c.start)),
                            pa.scalar("unreadable timestamp", pa.string()), c.reason)
        bad_amount = pc.and_(pc.is_null(reason), pc.is_null(c.amount_hours))
        reason = with_reason(reason, bad_amount, "usage amount is not a number")
        reason = with_reason(reason, pc.less(pc.fill_null(c.amount_hours, 0.0), 0.0),
                             "negative usage amount (corrections are not supported)")
        return with_reason(reason, pc.greater(c.span_hours, MAX_SPREAD_HOURS),
                           "charge period longer than a month (not hourly usage)")

    def add(self, offset: int, c: Classified) -> None:
        n = len(c.start)
        self.rows += n
        reason = self._reason(c)
        usage_row = pc.invert(pc.fill_null(pc.match_substring_regex(reason, NOT_USAGE_RE), False))
        spans = pa.table({"start": pc.floor_temporal(c.start, unit="hour"), "span": c.span_hours})
        spans = spans.filter(pc.and_(pc.and_(pc.is_valid(spans["start"]), pc.less_equal(spans["span"], 24)),
                                     usage_row))
        self.present.append(spans.group_by(["start", "span"]).aggregate([]))
        demand = pc.is_null(reason)
        amount = pc.fill_null(c.amount_hours, 0.0)
        t = pa.table({
            "start": pc.floor_temporal(c.start, unit="hour"), "span": c.span_hours,
            "provider": c.provider, "region": c.region, "instance_type": c.instance_type,
            "instances": amount,
            "interruptible": pc.if_else(pc.fill_null(c.interruptible, False), amount, 0.0),
            "covered": pc.if_else(pc.fill_null(c.covered, False), amount, 0.0),
            "gpu_hint": (pa.array(np.zeros(n, dtype=bool)) if c.gpu_hint is None
                         else pc.fill_null(c.gpu_hint, False)),
        }).filter(demand)
        if t.num_rows:
            self.parts.append(_sum_usage(t, ["instances", "interruptible", "covered"], "gpu_hint"))
            self.instances.add(c.instance_id, pc.floor_temporal(c.start, unit="hour"), c.span_hours, amount,
                               demand)
            self._compact()
        skipped = pc.invert(demand)
        if pc.any(skipped).as_py():
            counts = pa.table({"reason": reason}).filter(skipped).group_by("reason").aggregate([("reason", "count")])
            for r, k in zip(counts["reason"].to_pylist(), counts["reason_count"].to_pylist()):
                self.skip_counts[r] = self.skip_counts.get(r, 0) + int(k)
                have = self.examples.setdefault(r, [])
                if len(have) < MAX_EXAMPLES:
                    idx = pc.indices_nonzero(pc.fill_null(pc.equal(reason, r), False))[: MAX_EXAMPLES - len(have)]
                    details = pc.take(c.detail, idx).to_pylist()
                    have.extend((offset + int(i) + 2, d or "") for i, d in zip(idx.to_pylist(), details))

    def _compact(self) -> None:
        """Keep the partial sums small: a batch's groups repeat in the next batches."""
        if sum(p.num_rows for p in self.parts) > COMPACT_ROWS:
            self.parts = [_sum_usage(pa.concat_tables(self.parts), ["instances", "interruptible", "covered"],
                                     "gpu_hint")]
        if sum(p.num_rows for p in self.present) > COMPACT_ROWS:
            self.present = [pa.concat_tables(self.present).group_by(["start", "span"]).aggregate([])]

    def add_skipped(self, reason: str, count: int, examples) -> None:
        if count:
            self.skip_counts[reason] = self.skip_counts.get(reason, 0) + count
            self.examples.setdefault(reason, []).extend(examples)

    def locate(self, offset: int, c: Classified) -> None:
        """Second pass over a batch when an instance was billed more than one hour an hour."""
        self.instances.locate(offset, c.instance_id, pc.floor_temporal(c.start, unit="hour"), c.span_hours,
                              pc.fill_null(c.amount_hours, 0.0), pc.is_null(self._reason(c)))

    def result(self, file: str, fmt: str) -> ExportRead:
        usage = _expand(self.parts)
        present = _expand_present(self.present)
        skipped = tuple(SkippedRows(r, n, tuple(self.examples.get(r, [])[:MAX_EXAMPLES]))
                        for r, n in sorted(self.skip_counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return ExportRead(file, fmt, self.rows, usage, present, skipped)


def _expand(parts: list[pa.Table]) -> pd.DataFrame:
    cols = ["timestamp", "family", "instance_type", "gpu", "instances", "interruptible_instances",
            "covered_instances"]
    if not parts:
        df = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
        df["family"] = df["family"].astype(object)
        df["instance_type"] = df["instance_type"].astype(object)
        df["gpu"] = df["gpu"].astype(bool)
        return df
    t = _sum_usage(pa.concat_tables(parts), ["instances", "interruptible", "covered"], "gpu_hint")
    t = t.set_column(0, "start", pc.cast(pc.cast(t["start"], pa.timestamp("s")), pa.int64()))
    df = t.to_pandas()
    span = df["span"].to_numpy(dtype=np.int64)
    rep = np.repeat(np.arange(len(df)), span)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    seconds = df["start"].to_numpy(dtype=np.int64)[rep] + within * 3600
    out = pd.DataFrame({
        "timestamp": pd.to_datetime(seconds, unit="s", utc=True),
        "family": (df["provider"] + "/" + df["region"] + "/" + df["instance_type"]).to_numpy()[rep],
        "instance_type": df["instance_type"].to_numpy()[rep],
        "gpu_hint": df["gpu_hint"].to_numpy(dtype=bool)[rep],
    })
    for src, dst in (("instances", "instances"), ("interruptible", "interruptible_instances"),
                     ("covered", "covered_instances")):
        out[dst] = (df[src].to_numpy() / span)[rep]
    out = out.groupby(["timestamp", "family", "instance_type"], as_index=False, sort=True).agg(
        instances=("instances", "sum"), interruptible_instances=("interruptible_instances", "sum"),
        covered_instances=("covered_instances", "sum"), gpu_hint=("gpu_hint", "max"))
    hinted = set(out.loc[out["gpu_hint"], "family"])
    gpu = {t: is_gpu_instance_type(t) for t in out["instance_type"].unique()}
    out["gpu"] = out["instance_type"].map(gpu).astype(bool) | out["family"].isin(hinted)
    return out[cols]


def _sum_usage(t: pa.Table, sums: list[str], flag: str) -> pa.Table:
    """Sums of ``sums`` and max of ``flag`` per (start, span, provider, region, instance type),
    keeping the column names."""
    keys = ["start", "span", "provider", "region", "instance_type"]
    g = t.group_by(keys).aggregate([(c, "sum") for c in sums] + [(flag, "max")])
    names = {f"{c}_sum": c for c in sums} | {f"{flag}_max": flag}
    return g.rename_columns([names.get(c, c) for c in g.column_names]).select([*keys, *sums, flag])


def _expand_present(parts: list[pa.Table]) -> pd.DatetimeIndex:
    if not parts:
        return pd.DatetimeIndex([], tz="UTC")
    t = pa.concat_tables(parts).group_by(["start", "span"]).aggregate([])
    start = pc.cast(pc.cast(t["start"], pa.timestamp("s")), pa.int64()).to_numpy()
    span = t["span"].to_numpy().astype(np.int64)
    rep = np.repeat(np.arange(len(span)), span)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    hours = pd.to_datetime(start[rep] + within * 3600, unit="s", utc=True)
    return pd.DatetimeIndex(hours).unique().sort_values()


def scan(export: ExportFile, fmt: str, columns: list[str],
         classify: Callable[[pa.Table], Classified], instance_column: str | None = None) -> ExportRead:
    """Stream ``columns`` of the export through ``classify`` and accumulate.
    ``instance_column``: the file's resource id column, named when an instance is billed
    more than one hour an hour (found by a second pass, only then)."""
    acc = Accumulator(instance_column)
    source = batches(export, columns)
    for offset, table in source:
        acc.add(offset, classify(table))
    if isinstance(source, CsvBatches):
        acc.add_skipped("malformed CSV row (wrong number of fields)", source.bad_rows, source.bad_examples)
        acc.add_skipped(REPEATED_HEADER, source.headers.repeated, source.headers.examples)
    if acc.instances.suspect():
        for offset, table in batches(export, columns):
            acc.locate(offset, classify(table))
        raise acc.instances.error(export.name)
    return acc.result(export.name, fmt)
