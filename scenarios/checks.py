"""Scenario settings: the type and range checks of the loader (``_Checker``), the checks
of each section's settings, and the error they raise (``ScenarioError``: file, line, key
and how to fix it). ``scenarios.loader`` reads the YAML and calls these."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from gpuladder.errors import InputError, did_you_mean
from gpuladder.isotime import is_iso_date, iso_hint, parse_iso
from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS, KINDS, PAYMENTS
from gpuladder.scenarios.schema import (
    BACKENDS, DEFAULT_REWORK_OVERHEAD, DEFAULT_SPOT_CAP_SHARE, OTHER_FAMILIES_KEY, FORECAST_METHODS, USAGE_FORMATS, Constraints,
    ForecastSpec, FrozenMap, Horizon, ProductFilter, SolverSpec, UsageSpec)
from gpuladder.units import DATE_RANGE_TEXT, out_of_range
from gpuladder.usage.history import GAP_POLICIES

MAX_HORIZON_MONTHS = 120
MIN_LOOKBACK_DAYS = 7
MAX_LOOKBACK_DAYS = 36_525  # a century: "all the history" in practice
MAX_RISK_WEIGHT = 100.0     # at 100 the conservative path is 99% of the objective already
QUOTE_HINT = "quoting it"
SET_LABEL = "--set "  # the file of a value given with --set KEY=VALUE
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNPADDED_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_EXPONENT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_FAMILY_KEY = re.compile(r"[^/\s]+/[^/\s]+/[^/\s]+")
SPOT_CAP_OTHER_KEYS = ("default", OTHER_FAMILIES_KEY)


class ScenarioError(InputError):
    """A scenario setting that is wrong: names the file and line (or the ``--set`` item),
    the dotted key, and how to fix it."""

    def __init__(self, message: str, *, key: str, file: str, line: int | None = None,
                 hint: str | None = None):
        where = file if line is None else f"{file}, line {line}"
        super().__init__(f"{key}: {message}" if key else message, file=where, hint=hint)
        self.file, self.line, self.key = file, line, key


class _Index(int):
    """A position in a YAML list, as part of a key path."""


@dataclass(frozen=True)
class _Origin:
    file: str
    line: int | None = None
    raw: str | None = None  # the text of an unquoted scalar, to explain YAML 1.1 traps


def _dotted(path: tuple) -> str:
    out = ""
    for k in path:
        out += f"[{int(k)}]" if isinstance(k, _Index) else (("." if out else "") + str(k))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _range_text(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


def _quote_hint(origin: _Origin | None, raw: str) -> str:
    """How to quote ``raw`` as YAML text; on the command line, inside the shell's quotes
    too (the shell would strip bare double quotes): --set 'name="no"'."""
    if origin is None or not origin.file.startswith(SET_LABEL):
        return f'{QUOTE_HINT}: "{raw}".'
    key, _, text = origin.file[len(SET_LABEL):].partition("=")
    quoted = re.sub(rf"(?<![\w\"'./-]){re.escape(raw)}(?![\w\"'./-])", lambda m: f'"{raw}"', text)
    return f"""{QUOTE_HINT} for YAML inside quotes for the shell: --set '{key}={quoted.strip()}'."""


class _Checker:
    """Type and range checks that raise ScenarioError at the right file, line and key."""

    def __init__(self, origins: dict, source: str):
        self.origins, self.source = origins, source

    def error(self, path: tuple, message: str, hint: str | None = None) -> ScenarioError:
        origin = _Origin(self.source)
        for i in range(len(path), -1, -1):
            if path[:i] in self.origins:
                origin = self.origins[path[:i]]
                break
        return ScenarioError(message, key=_dotted(path), file=origin.file, line=origin.line, hint=hint)

    def _trap(self, path: tuple, value: Any, expected: str) -> ScenarioError:
        """A scalar of the wrong type, with the YAML 1.1 explanation where one applies."""
        origin = self.origins.get(path)
        raw = origin.raw if origin is not None else None
        if value is None:
            return self.error(path, f"is null (empty), but {expected} is needed here",
                              hint="giving a value, or removing the key to keep the default.")
        if isinstance(value, bool) and expected == "text":
            shown = raw if raw is not None else str(value).lower()
            return self.error(path, f"expected text, but YAML 1.1 reads the unquoted {shown} as the "
                                    f"boolean {str(value).lower()}", hint=_quote_hint(origin, shown))
        if isinstance(value, bool):
            shown = raw if raw is not None else str(value).lower()
            return self.error(path, f"expected {expected}, but YAML 1.1 reads the unquoted {shown} as "
                                    f"the boolean {str(value).lower()}",
                              hint="writing a number (or null to switch the setting off, where allowed).")
        if expected == "text" and raw is not None and not isinstance(value, (list, dict)):
            return self.error(path, f"expected text, but YAML reads the unquoted {raw} as {_kind(value)}",
                              hint=_quote_hint(origin, raw))
        hint = None
        if isinstance(value, str) and value.strip().endswith("%"):
            hint = "writing shares as numbers from 0 to 1 (60% is 0.6)."
        elif isinstance(value, str) and expected != "text" and "terms_months" in path:
            hint = "writing the term in months (12 for one year, 36 for three)."
        elif isinstance(value, str) and expected != "text" and raw is not None and re.fullmatch(r"[-+]?0[0-9_]+", raw):
            return self.error(path, f"expected {expected}, but YAML 1.1 reads the unquoted {raw} as text (a leading "
                                    "zero makes an octal number, and 8 and 9 are not octal digits)",
                              hint=f"writing {'-' if raw.startswith('-') else ''}"
                                   f"{raw.lstrip('+-').replace('_', '').lstrip('0') or '0'} without the leading zero.")
        elif isinstance(value, str) and expected != "text" and raw is not None:
            hint = "writing the number alone, without a unit or other text."
        elif isinstance(value, str) and expected != "text":
            hint = "writing the value without quotes."
        return self.error(path, f"expected {expected}, got {_kind(value)}", hint=hint)

    def text(self, path: tuple, value: Any) -> str:
        if not isinstance(value, str):
            raise self._trap(path, value, "text")
        if not value.strip():
            raise self.error(path, "is empty", hint="giving a value or removing the key.")
        return value.strip()

    def choice(self, path: tuple, value: Any, choices: Sequence[str]) -> str:
        text = self.text(path, value)
        if text not in choices:
            raise self.error(path, f"'{text}' is not one of {', '.join(choices)}.{did_you_mean(text, choices)}")
        return text

    def number(self, path: tuple, value: Any, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False, what: str = "a number") -> float:
        origin = self.origins.get(path)
        if isinstance(value, str) and origin is not None and origin.raw == value and _EXPONENT.fullmatch(value):
            value = float(value)  # YAML 1.1 reads an unquoted 1e-3 (no dot) as text; YAML 1.2 as a number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._trap(path, value, what)
        if origin is not None and origin.raw is not None:
            self._not_decimal(path, origin.raw.strip(), value)
        x = float(value)
        if not math.isfinite(x):
            raise self.error(path, f"{value} is not a finite number", hint="writing a finite number.")
        if ((lo is not None and (x < lo or (lo_open and x == lo)))
                or (hi is not None and (x > hi or (hi_open and x == hi)))):
            hint = "writing shares as numbers from 0 to 1 (60% is 0.6)." if (lo, hi) == (0, 1) else None
            raise self.error(path, f"{x:g} is out of range: must be {_range_text(lo, hi, lo_open, hi_open)}",
                             hint=hint)
        return x

    def _not_decimal(self, path: tuple, raw: str, value: float) -> None:
        """Refuse the YAML 1.1 number forms that read as another value than the decimal
        digits seem to say: 012 (octal, 10), 0x10 (hexadecimal), 0b11, 1:30 (base 60, 90)."""
        plain = raw.replace("_", "")
        if _SPECIAL_FLOAT.fullmatch(raw):
            return
        if _DECIMAL.fullmatch(plain) and float(plain) == value:
            return
        bare = plain.lstrip("+-")
        if ":" in plain:
            form, meant = "base-60 (sexagesimal) number", None
        elif bare[:2].lower() == "0x":
            form, meant = "hexadecimal number", None
        elif bare[:2].lower() == "0b":
            form, meant = "binary number", None
        elif re.fullmatch(r"0\d+", bare):
            form, meant = "octal number", plain[:len(plain) - len(bare)] + (bare.lstrip("0") or "0")
        else:
            form, meant = "number", None
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        hint = (f"writing {meant} (without the leading zero) or {shown} if the octal value was meant."
                if meant is not None else f"writing the number in decimal digits, e.g. {shown}, if that is what you meant.")
        raise self.error(path, f"YAML 1.1 reads the unquoted {raw} as the {form} {shown}", hint=hint)

    def whole(self, path: tuple, value: Any, lo: int, hi: int | None = None) -> int:
        x = self.number(path, value, what="a whole number")
        if not x.is_integer():
            raise self.error(path, f"expected a whole number, got {value!r}")
        return int(self.number(path, value, lo=lo, hi=hi))

    def share(self, path: tuple, value: Any) -> float:
        return self.number(path, value, 0, 1, what="a share from 0 to 1")

    def items(self, path: tuple, value: Any) -> list[tuple[tuple, Any]]:
        """A list, or one scalar taken as a one-item list."""
        if isinstance(value, list):
            return [(path + (_Index(i),), v) for i, v in enumerate(value)]
        if isinstance(value, dict):
            raise self.error(path, "expected a list, got a mapping", hint="writing [a, b, ...].")
        return [(path, value)]

    def mapping(self, path: tuple, value: Any, allowed: Sequence[str]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            key = f"{path[-1]}: " if path and isinstance(path[-1], str) else ""
            dash = ", without a leading '- '" if isinstance(value, list) else ""
            raise self.error(path, f"expected a mapping of {', '.join(allowed)}, got {_kind(value)}",
                             hint=f"writing its settings as `key: value` lines indented under it{dash} "
                                  f"(or inline: {key}{{{allowed[0]}: ...}}).")
        for key in value:
            if path == () and key == "extends":
                raise self.error(("extends",), "extends is only read from scenario files",
                                 hint="writing `extends:` in a scenario file instead of --set.")
            if not isinstance(key, str) or key not in allowed:
                raise self._unknown(path, key, allowed)
        return value

    def _unknown(self, path: tuple, key: Any, allowed: Sequence[str]) -> ScenarioError:
        if isinstance(key, bool):
            return self.error(path + (key,), "unknown key: YAML 1.1 reads an unquoted yes/no/on/off key "
                                             "as a boolean", hint=f"{QUOTE_HINT}.")
        return self.error(path + (key,), f"unknown key '{key}'.{did_you_mean(str(key), allowed)}",
                          hint=f"using one of: {', '.join(allowed)}.")

    def timestamp(self, path: tuple, value: Any) -> pd.Timestamp:
        """ISO 8601 only (gpuladder.isotime): a date (00:00 UTC) or a time with its zone,
        converted to UTC. A value YAML read as a date or time is checked in the text written."""
        hint = "writing a date (2026-01-01, read as 00:00 UTC) or a UTC time such as 2026-01-01T00:00:00Z."
        origin = self.origins.get(path)
        raw = origin.raw.strip() if origin is not None and origin.raw is not None else None
        if isinstance(value, (dt.date, dt.datetime)) and raw is not None:
            value = raw
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise self.error(path, f"{value.isoformat(sep=' ')} has no time zone (naive)", hint=hint)
            ts = pd.Timestamp(value).tz_convert("UTC")
        elif isinstance(value, dt.date):
            ts = pd.Timestamp(value).tz_localize("UTC")
        elif isinstance(value, str):
            text = value.strip()
            if _UNPADDED_DATE.fullmatch(text) and not _DATE_ONLY.fullmatch(text):
                raise self.error(path, f"'{text}' is not a YYYY-MM-DD date: the month and the day "
                                       "need two digits", hint=f"writing {iso_hint(text).split(' ')[0]}.")
            try:
                ts = parse_iso(text)
            except ValueError as exc:
                raise self.error(path, f"'{value}' is not a date: {exc}", hint=f"writing {iso_hint(text)}.") from None
            if ts.tzinfo is None and not is_iso_date(text):
                raise self.error(path, f"'{value}' has no time zone (naive)", hint=hint)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        else:
            raise self._trap(path, value, "a date")
        if out_of_range(ts):
            raise self.error(path, f"{ts:%Y-%m-%d} is outside the supported dates ({DATE_RANGE_TEXT})",
                             hint="checking the year.")
        if ts != ts.floor("h"):
            raise self.error(path, f"{ts.isoformat()} is not on the hour", hint="starting on a whole hour.")
        return ts

    def keyed_shares(self, path: tuple, value: Any, key_check: Callable[[tuple, str], None],
                     value_check: Callable[[tuple, Any], float]) -> FrozenMap:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a number or a mapping, got {_kind(value)}")
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise self._unknown(path, key, ())
            key_check(path + (key,), key)
            out[key] = value_check(path + (key,), v)
        return FrozenMap(out)


def _family_key(ck: _Checker, path: tuple, key: str, other: bool) -> None:
    if not (other and key in SPOT_CAP_OTHER_KEYS) and not _FAMILY_KEY.fullmatch(key):
        hint = ("writing provider/region/instance_type, e.g. aws/us-east-1/p5.48xlarge "
                "(`gpuladder catalog show` lists them)")
        raise ck.error(path, f"'{key}' is not a family key",
                       hint=hint + (", or `default` for every other family." if other else "."))


def _bucket_key(ck: _Checker, path: tuple, key: str) -> None:
    if key not in INTERRUPTION_BUCKETS:
        raise ck.error(path, f"unknown interruption bucket '{key}'.{did_you_mean(key, INTERRUPTION_BUCKETS)}",
                       hint=f"using the buckets {', '.join(INTERRUPTION_BUCKETS)} (quote them in YAML).")


def _nullable(fn):
    def parse(ck, path, value):
        return None if value is None else fn(ck, path, value)
    parse.nullable = True
    return parse


def _text_list(choices: Sequence[str] | None = None):
    def parse(ck, path, value):
        out = []
        for p, v in ck.items(path, value):
            out.append(ck.text(p, v) if choices is None else ck.choice(p, v, choices))
        return tuple(out)
    return _nullable(parse)


def _share_or_family_map(ck, path, value):
    if isinstance(value, dict):
        return ck.keyed_shares(path, value, lambda p, k: _family_key(ck, p, k, False), ck.share)
    return ck.share(path, value)


def _spot_cap(ck, path, value):
    if not isinstance(value, dict):
        return ck.share(path, value)
    given = dict(ck.keyed_shares(path, value, lambda p, k: _family_key(ck, p, k, True), ck.share))
    others = [k for k in SPOT_CAP_OTHER_KEYS if k in given]
    if len(others) > 1:
        raise ck.error(path, "gives both `default` and \"*\" for the families not listed",
                       hint="keeping one of them.")
    other_share = given.pop(others[0]) if others else DEFAULT_SPOT_CAP_SHARE
    return FrozenMap({**given, OTHER_FAMILIES_KEY: other_share})


def _rework_overhead(ck, path, value):
    if isinstance(value, dict):
        given = ck.keyed_shares(path, value, lambda p, k: _bucket_key(ck, p, k),
                                lambda p, v: ck.number(p, v, lo=0))
        return FrozenMap({**DEFAULT_REWORK_OVERHEAD, **given})
    x = ck.number(path, value, lo=0, what="a number or a {bucket: overhead} mapping")
    return FrozenMap({b: x for b in DEFAULT_REWORK_OVERHEAD})


def _lookback_days(ck, path, value):
    days = ck.whole(path, value, MIN_LOOKBACK_DAYS)
    if days > MAX_LOOKBACK_DAYS:
        raise ck.error(path, f"{days} is out of range: must be <= {MAX_LOOKBACK_DAYS} (a century)",
                       hint="giving the days of history the forecast may look back on, e.g. 90.")
    return days


def _fiscal_year_start_month(ck, path, value):
    month = ck.number(path, value, what="a whole number")
    if not month.is_integer() or not 1 <= month <= 12:
        raise ck.error(path, f"{value!r} is not a month number (1-12)",
                       hint="giving the month the budget year starts in: 1 for calendar quarters (January, April, "
                            "July, October), e.g. 4 for a fiscal year from April, 10 for one from October.")
    return int(month)


_USAGE = {
    "path": _nullable(lambda ck, p, v: ck.text(p, v)),
    "format": _nullable(lambda ck, p, v: ck.choice(p, v, USAGE_FORMATS)),
    "gaps": lambda ck, p, v: ck.choice(p, v, GAP_POLICIES),
    "interruptible_share": _nullable(_share_or_family_map),
    "until": _nullable(lambda ck, p, v: ck.timestamp(p, v)),
}
_HORIZON = {
    "start": _nullable(lambda ck, p, v: ck.timestamp(p, v)),
    "months": lambda ck, p, v: ck.whole(p, v, 1, MAX_HORIZON_MONTHS),
}
_FORECAST = {
    "method": lambda ck, p, v: ck.choice(p, v, FORECAST_METHODS),
    "lookback_days": lambda ck, p, v: _lookback_days(ck, p, v),
    "growth_per_month": lambda ck, p, v: ck.number(p, v, -1, 1, lo_open=True),
    "conservative_quantile": _nullable(lambda ck, p, v: ck.number(p, v, 0, 0.5, lo_open=True)),
    "risk_weight": lambda ck, p, v: ck.number(p, v, 0, MAX_RISK_WEIGHT),
}
_PRODUCTS = {
    "providers": _text_list(),
    "terms_months": _nullable(lambda ck, p, v: tuple(ck.whole(q, x, 1) for q, x in ck.items(p, v))),
    "payments": _text_list(PAYMENTS),
    "kinds": _text_list(KINDS),
    "ids": _text_list(),
}
_CONSTRAINTS = {
    "min_utilization": _nullable(lambda ck, p, v: ck.share(p, v)),
    "spot_cap": _nullable(_spot_cap),
    "spot_rework_overhead": _rework_overhead,
    "max_upfront_usd_per_quarter": _nullable(lambda ck, p, v: ck.number(p, v, lo=0)),
    "max_committed_usd_per_hour": _nullable(lambda ck, p, v: ck.number(p, v, lo=0)),
    "max_expiring_share_per_quarter": _nullable(lambda ck, p, v: ck.share(p, v)),
    "max_bought_share_per_step": _nullable(lambda ck, p, v: ck.share(p, v)),
    "ladder_step_months": lambda ck, p, v: ck.whole(p, v, 1),
    "fiscal_year_start_month": _fiscal_year_start_month,
}
_SOLVER = {
    "backend": lambda ck, p, v: ck.choice(p, v, BACKENDS),
    "time_limit_s": lambda ck, p, v: ck.number(p, v, lo=0, lo_open=True),
    "mip_gap": lambda ck, p, v: ck.number(p, v, 0, 1, hi_open=True),
}
_SECTIONS = {"usage": (_USAGE, UsageSpec), "horizon": (_HORIZON, Horizon),
             "forecast": (_FORECAST, ForecastSpec), "products": (_PRODUCTS, ProductFilter),
             "constraints": (_CONSTRAINTS, Constraints), "solver": (_SOLVER, SolverSpec)}
_TOP = ("name", "catalog", "usage", "inventory", "horizon", "forecast", "products", "constraints",
        "solver", "extends")


def _section(ck: _Checker, path: tuple, value: Any, table: dict, cls: type):
    given = ck.mapping(path, value, list(table))
    defaults = {f.name: f.default for f in fields(cls)}
    kwargs = {}
    for key, v in given.items():
        parse = table[key]
        if v is None and not getattr(parse, "nullable", False):
            raise ck.error(path + (key,), "cannot be null (it is not a setting that can be switched off)",
                           hint=f"removing it to keep the default ({defaults[key]!r}).")
        kwargs[key] = parse(ck, path + (key,), v)
    return cls(**kwargs)
