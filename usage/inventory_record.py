"""Record a plan's purchases in the inventory CSV: the re-ladder loop's last step.

A script that re-ladders every month plans (``gpuladder plan --format json``), buys the
first step's purchases and records them here, so the next plan holds them instead of
buying them again. The purchases of the plan JSON (schema gpuladder.plan/1) dated up to
``through`` become rows ``id,product,family,quantity,start,end`` of the canonical
inventory (DESIGN.md section 3; usage/inventory.py loads it): the purchase's stable id,
``date`` as start, ``expires`` as end, a savings plan with an empty family and its $/h as
quantity. The existing file is kept byte for byte and the rows appended in its own
column order and line ending. Recording the same purchase twice (the same id) is refused.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gpuladder.errors import InputError
from gpuladder.isotime import is_iso_date, iso_hint, iso_text, parse_iso
from gpuladder.textcsv import read_text_csv
from gpuladder.units import add_months
from gpuladder.usage.inventory import INVENTORY_COLUMNS

PLAN_SCHEMA = "gpuladder.plan/1"
KINDS = ("reservation", "savings_plan")
_ID_TEXT = re.compile(r"[^\s,\"']([^,\"'\r\n]*[^\s,\"'])?")   # kept as written by the CSV loader
_PLAN_HINT = "passing the JSON written by `gpuladder plan --format json -o plan.json`."


@dataclass(frozen=True)
class RecordedPurchases:
    text: str                       # the new inventory CSV: the old file's bytes, then the rows added
    added_ids: tuple[str, ...]      # in the plan's ladder order
    through: pd.Timestamp | None    # the last date recorded (inclusive); None when the plan buys nothing
    later_purchases: int            # purchases of the plan dated after ``through``, not recorded
    next_date: pd.Timestamp | None  # the first of those
    notes: tuple[str, ...] = ()     # what a script should know about what was recorded
    before_step: pd.Timestamp | None = None  # the plan's next ladder step, when the default chose by it


@dataclass(frozen=True)
class _Purchase:
    number: int        # 1-based, in the plan's order
    id: str
    product: str
    kind: str
    family: str | None
    quantity: float
    start: pd.Timestamp
    end: pd.Timestamp


def record_purchases(plan_path, inventory_path=None, through: str | None = None) -> RecordedPurchases:
    """The inventory (``inventory_path``, or a new one when None) with the purchases of the plan
    at ``plan_path`` dated up to ``through`` (a date, inclusive, or an ISO timestamp; default:
    every purchase dated before the plan's next ladder step, ``horizon.next_step``: the step a
    monthly script buys, renewals on an expiry day inside it included; a plan JSON without
    that key: its first purchase date) appended."""
    plan_file = str(plan_path)
    purchases, horizon_start, next_step = _read_plan(plan_path)
    if not purchases:
        text, _ = _inventory_text(inventory_path)
        return RecordedPurchases(text, (), None, 0, None)
    if through is not None:
        last = _through(through)
    elif next_step is not None:
        last = next_step - pd.Timedelta(seconds=1)
    else:
        last = min(p.start for p in purchases)
    chosen = [p for p in purchases if p.start <= last]
    later = sorted(p.start for p in purchases if p.start > last)
    for p in chosen:
        _check_expressible(p, plan_file)
    text, held = _inventory_text(inventory_path)
    for p in chosen:
        if p.id in held:
            raise InputError(
                f"id '{p.id}' of the plan's purchase {p.number} ({_describe(p)}) is already in the inventory: this "
                "plan's purchases were recorded before (recording the same plan twice), or the plan was made "
                "without this inventory", file=str(inventory_path), row=held[p.id], column="id",
                hint=f"re-planning with --inventory {inventory_path} (what it holds is then not bought again) and "
                     "recording that plan, or leaving the inventory as it is if these purchases are in it already.")
    columns, newline = _header(text)
    rows = [_row(p, columns) for p in chosen]
    if rows and text and not text.endswith(("\n", "\r")):
        text += newline
    text += "".join(r + newline for r in rows)
    return RecordedPurchases(text, tuple(p.id for p in chosen), last, len(later), later[0] if later else None,
                             _queued_note(chosen, horizon_start, next_step),
                             next_step if through is None else None)


def _queued_note(chosen: list[_Purchase], horizon_start: pd.Timestamp | None,
                 next_step: pd.Timestamp | None) -> tuple[str, ...]:
    """A purchase recorded from the plan's next ladder step on (or, for a plan that does not
    say when that is, a month or more after its start) is a commitment queued now to start
    then; a script that buys only what starts this step must not record it yet."""
    if next_step is None and horizon_start is None:
        return ()
    queued = [p.start for p in chosen if p.start >= (next_step if next_step is not None
                                                     else add_months(horizon_start, 1))]
    if not queued:
        return ()
    first = min(queued)
    after = (f"on or after the plan's next ladder step ({next_step:%Y-%m-%d})" if next_step is not None
             else f"a month or more after the plan's start ({horizon_start:%Y-%m-%d})")
    return (f"a purchase recorded starts {first:%Y-%m-%d}, {after}: it is recorded as bought now, queued to "
            "start then; if you buy it only then, leave it to a later plan (--through a date before it)",)


# ---------------------------------------------------------------- the plan JSON

def _read_plan(path) -> tuple[list[_Purchase], pd.Timestamp | None, pd.Timestamp | None]:
    """The plan's purchases, its horizon's start and its next ladder step (each None when the
    plan gives none that parses)."""
    file = str(path)
    if Path(path).is_dir():
        raise InputError("is a folder, not a plan file", file=file, hint=_PLAN_HINT)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("plan file not found", file=file, hint=_PLAN_HINT) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=file) from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text, so not a plan JSON", file=file, hint=_PLAN_HINT) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); a plan in table, CSV, "
                         "Markdown or HTML format cannot be recorded", file=file, hint=_PLAN_HINT) from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != PLAN_SCHEMA:
        found = f"schema '{schema}'" if isinstance(schema, str) else "no 'schema' key"
        raise InputError(f"not a {PLAN_SCHEMA} plan ({found})", file=file, hint=_PLAN_HINT)
    items = doc.get("purchases")
    if not isinstance(items, list):
        raise InputError("'purchases' is not a list", file=file, hint=_PLAN_HINT)
    out = [_purchase(item, n, file) for n, item in enumerate(items, start=1)]
    seen: dict[str, int] = {}
    for p in out:
        if p.id in seen:
            raise InputError(f"purchases {seen[p.id]} and {p.number} have the same id '{p.id}'", file=file,
                             hint="writing the plan again with `gpuladder plan` (its ids are unique).")
        seen[p.id] = p.number
    horizon = doc.get("horizon")
    if horizon is None:
        horizon = {}
    if not isinstance(horizon, dict):
        raise InputError("'horizon' is not an object", file=file, hint=_PLAN_HINT)
    start, end, next_step = (_horizon_time(horizon, key, file) for key in ("start", "end", "next_step"))
    if next_step is not None and ((start is not None and next_step <= start) or (end is not None and next_step > end)):
        raise InputError(f"horizon.next_step {horizon['next_step']} is not after horizon.start "
                         f"{horizon.get('start')} and up to horizon.end {horizon.get('end')}, as a plan's next "
                         "ladder step is", file=file,
                         hint="writing the plan again with `gpuladder plan --format json`, or passing --through DATE "
                              "to say what to record.")
    return out, start, next_step


def _horizon_time(horizon: dict, key: str, file: str) -> pd.Timestamp | None:
    """``horizon.<key>`` as a UTC time; None when the plan leaves it out (or null); any
    other value is an error, never a silent fall back to recording less."""
    text = horizon.get(key)
    if text is None:
        return None

    def bad(message: str) -> InputError:
        return InputError(f"horizon.{key} {message}", file=file,
                          hint="writing the plan again with `gpuladder plan --format json` (it writes UTC times "
                               "like 2027-01-01T00:00Z), or passing --through DATE to say what to record.")

    if not isinstance(text, str):
        raise bad(f"{json.dumps(text)} is not text")
    return _timestamp(text, bad)


def _purchase(item, n: int, file: str) -> _Purchase:
    def bad(message: str, hint: str = _PLAN_HINT):
        return InputError(f"purchase {n} (purchases[{n - 1}]): {message}", file=file, hint=hint)

    if not isinstance(item, dict):
        raise bad("not an object")
    if "id" not in item:
        raise bad("has no 'id' (a plan written before gpuladder gave purchases ids)",
                  "writing the plan again with this gpuladder (`gpuladder plan --format json`).")
    pid = item["id"]
    if not isinstance(pid, str) or not _ID_TEXT.fullmatch(pid):
        raise bad(f"id {json.dumps(pid)} is not an id the inventory CSV keeps as written (text without "
                  "commas, quotes, line breaks or spaces at its ends)")
    for key in ("product", "kind", "date", "expires"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise bad(f"'{key}' is missing or not text")
    family = item.get("family")
    if family is not None and not isinstance(family, str):
        raise bad("'family' is neither text nor null")
    qty = item.get("quantity")
    if isinstance(qty, bool) or not isinstance(qty, (int, float)) or not math.isfinite(qty) or qty <= 0:
        raise bad(f"quantity {json.dumps(qty)} is not a positive number")
    start, end = (_timestamp(item[k], lambda m, k=k: bad(f"'{k}' {m}")) for k in ("date", "expires"))
    if end <= start:
        raise bad(f"expires {item['expires']} is not after its date {item['date']}")
    return _Purchase(n, pid, item["product"], item["kind"], family or None, float(qty), start, end)


def _timestamp(text: str, bad, utc_hint: str = "the plan JSON writes UTC with Z") -> pd.Timestamp:
    """ISO 8601 only (gpuladder.isotime): a date (00:00 UTC) or a UTC time."""
    try:
        ts = parse_iso(text)
    except ValueError as exc:
        reason = "" if str(exc) == "not ISO 8601" else f" ({exc})"
        raise bad(f"'{text}' is not an ISO 8601 date{reason}") from None
    if ts.tzinfo is None:
        if not is_iso_date(text):
            raise bad(f"'{text}' has no time zone ({utc_hint})")
        return ts.tz_localize("UTC")
    if ts.utcoffset() != pd.Timedelta(0):
        raise bad(f"'{text}' is not in UTC ({utc_hint})")
    return ts.tz_convert("UTC")


def _check_expressible(p: _Purchase, file: str) -> None:
    """The inventory CSV holds reservations (a family, a count) and savings plans (no
    family, $/h); nothing else."""
    where = f"purchase {p.number} ({_describe(p)})"
    if p.kind not in KINDS:
        raise InputError(f"{where}: kind '{p.kind}' cannot be written in the inventory file, which holds "
                         "reservations and savings plans only", file=file,
                         hint="recording it by hand in the tool that holds such commitments, and recording the "
                              "others with an earlier --through.")
    if p.kind == "reservation" and p.family is None:
        raise InputError(f"{where}: a reservation without a family cannot be written in the inventory file",
                         file=file, hint="writing the plan again with `gpuladder plan --format json`.")
    if p.kind == "savings_plan" and p.family is not None:
        raise InputError(f"{where}: a savings plan with family '{p.family}' cannot be written in the inventory "
                         "file (a savings plan's scope is its product, its family is empty)", file=file,
                         hint="writing the plan again with `gpuladder plan --format json`.")


def _describe(p: _Purchase) -> str:
    what = p.family if p.family else f"${p.quantity:,.3f}/h"
    return f"{_date_text(p.start)} {p.product} {what}"


def _through(text: str) -> pd.Timestamp:
    """A date means its whole day; a timestamp itself."""
    try:
        return parse_through(text)
    except ValueError as exc:
        raise InputError(f"--through {exc}", hint=f"giving {through_hint(text)}.") from None


def parse_through(text: str) -> pd.Timestamp:
    """``--through``: an ISO 8601 date (its whole day, UTC) or UTC time, as the last
    moment recorded; ValueError saying what is wrong otherwise."""
    ts = _timestamp(text.strip(), ValueError, "write e.g. 2026-12-01T06:00Z")
    return ts + pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if is_iso_date(text) else ts


def through_hint(text: str) -> str:
    """How to write a --through ``text`` that is not an ISO 8601 date (to follow "giving")."""
    return iso_hint(text, "YYYY-MM-DD (that whole day included) or YYYY-MM-DDTHH:MM in UTC with Z")


def through_text(text: str) -> str:
    """The --through ``text`` as read, in ISO 8601: the date, or the UTC time."""
    ts = parse_through(text)
    return f"{ts:%Y-%m-%d}" if is_iso_date(text) else iso_text(ts)


# ---------------------------------------------------------------- the inventory CSV

def _inventory_text(path) -> tuple[str, dict[str, int]]:
    """The inventory file's text as it is (or the canonical header for a new or empty one)
    and its ids -> spreadsheet rows. The file is checked by the CSV reader the loader uses
    (UTF-8, the columns, rows of the header's width)."""
    header = ",".join(INVENTORY_COLUMNS) + "\n"
    if path is None:
        return header, {}
    file = Path(path)
    if file.is_file():
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror})", file=str(path)) from None
        if not raw.strip():
            return header, {}
    rows = read_text_csv(path, INVENTORY_COLUMNS, what="inventory file")
    first = rows[~rows["id"].duplicated()]
    return raw.decode("utf-8"), dict(zip(first["id"], first.index.astype(int)))


def _header(text: str) -> tuple[list[str], str]:
    """The file's column names (stripped, as the loader reads them) and its line ending."""
    first = text.lstrip("\ufeff").splitlines(keepends=True)[0]
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    return [c.strip() for c in next(csv.reader(io.StringIO(first), skipinitialspace=True))], newline


def _row(p: _Purchase, columns: list[str]) -> str:
    values = {"id": p.id, "product": p.product, "family": p.family or "",
              "quantity": f"{p.quantity:.6f}".rstrip("0").rstrip("."),
              "start": _date_text(p.start), "end": _date_text(p.end)}
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values.get(c, "") for c in columns])
    return out.getvalue()


def _date_text(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%dT%H:%M:%SZ")
