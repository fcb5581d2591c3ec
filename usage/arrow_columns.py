"""Typed columns of billing exports, as pyarrow arrays: trimmed strings with NULL-like text
as null, floats where text that is not a number becomes null, UTC timestamps (offsets
converted, impossible or out-of-range times null), each computed on the distinct values
of a column only (billing columns repeat a few values millions of times)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.units import EARLIEST_UTC, LATEST_UTC

NULL_STRINGS = ["", "null", "NULL", "None"]
_TS_RE = (r"^\s*(?P<d>\d{4}-\d\d-\d\d)(?:[ T](?P<hm>\d\d:\d\d)(?P<s>:\d\d)?(?:\.\d+)?)?"
          r"\s*(?P<z>Z|[+-]\d\d:?\d\d|UTC)?\s*$")
_NUM_RE = r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$"


def per_unique(arr: pa.Array, fn):
    """Apply ``fn`` (string array -> array, or dict of arrays) to the distinct values of
    ``arr`` only and spread the result back; billing columns repeat a few values millions
    of times (usage types, hours, regions)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr)
    out = fn(enc.dictionary)
    if isinstance(out, dict):
        return {k: pc.take(v, enc.indices) for k, v in out.items()}
    return pc.take(out, enc.indices)


def clean_strings(arr: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.is_in(trimmed, value_set=pa.array(NULL_STRINGS)), pa.scalar(None, pa.string()),
                      trimmed)


def as_string(arr) -> pa.Array:
    """Strings, trimmed (null stays null; NULL-like text becomes null)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, pa.string())
    if not pa.types.is_string(arr.type):   # large_string too (Parquet from polars, pandas 3): one text type
        arr = pc.cast(arr, pa.string())
    return per_unique(arr, clean_strings)


def as_float(arr) -> pa.Array:
    """float64; text that is not a number becomes null (the caller reports the row)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type):
        return pc.cast(arr, pa.float64())
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    try:
        return pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:
        pass
    s = clean_strings(arr)
    ok = pc.fill_null(pc.match_substring_regex(s, _NUM_RE), False)
    return pc.cast(pc.if_else(ok, s, pa.scalar(None, pa.string())), pa.float64())


def _parse_utc_strings(s: pa.Array) -> pa.Array:
    s = clean_strings(s)
    m = pc.extract_regex(s, _TS_RE)
    date = pc.struct_field(m, "d")
    hm = pc.if_else(pc.equal(pc.struct_field(m, "hm"), ""), "00:00", pc.struct_field(m, "hm"))
    sec = pc.if_else(pc.equal(pc.struct_field(m, "s"), ""), ":00", pc.struct_field(m, "s"))
    zone = pc.struct_field(m, "z")
    zone = pc.if_else(pc.is_in(zone, value_set=pa.array(["", "Z", "UTC"])), "+00:00", zone)
    text = pc.binary_join_element_wise(date, "T", hm, sec, zone, "")
    try:
        return pc.cast(text, pa.timestamp("s", tz="UTC"))
    except pa.ArrowInvalid:
        # impossible dates such as 2024-02-30: parse value by value (distinct values only)
        out = pd.to_datetime(pd.Series(text.to_pylist(), dtype=object), errors="coerce", utc=True,
                             format="ISO8601")
        return pa.array(out.dt.floor("s"), pa.timestamp("s", tz="UTC"))


def as_utc(arr) -> pa.Array:
    """timestamp[s, UTC]. Billing exports are UTC by specification (FOCUS, CUR), so a value
    without a zone is read as UTC; offsets are converted. Unparseable text, and times
    outside ``units.DATE_RANGE_TEXT`` (a stray year 9999 would make billions of hours),
    become null."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is None:
            arr = pc.assume_timezone(arr, "UTC")
        out = pc.cast(pc.floor_temporal(arr, unit="second"), pa.timestamp("s", tz="UTC"))
    else:
        if not pa.types.is_string(arr.type):
            arr = pc.cast(arr, pa.string())
        out = per_unique(arr, _parse_utc_strings)
    lo, hi = (pa.scalar(t.to_pydatetime(), pa.timestamp("s", tz="UTC")) for t in (EARLIEST_UTC, LATEST_UTC))
    inside = pc.and_(pc.greater_equal(out, lo), pc.less(out, hi))
    return pc.if_else(inside, out, pa.scalar(None, out.type))


def column(table: pa.Table, cols: dict[str, str], key: str) -> pa.Array | None:
    """The table's array for logical column ``key`` (None when the file lacks it)."""
    if key not in cols:
        return None
    arr = table.column(cols[key])
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def null_strings(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def first_valid(*arrays) -> pa.Array:
    """Element-wise first non-null of string arrays (None entries skipped)."""
    arrs = [a for a in arrays if a is not None]
    return pc.coalesce(*arrs) if len(arrs) > 1 else arrs[0]
