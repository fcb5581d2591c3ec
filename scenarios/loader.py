"""Scenario YAML -> ``Scenario`` (DESIGN.md section 7), strictly validated.

Order of reading: the ``extends:`` chain first (each base file relative to the file that
names it; chains allowed, cycles refused), deep-merged base-first (mappings merge key by
key; lists, scalars and ``null`` replace), then the ``--set key=value`` overrides, then
one validation of the result.

- ``catalog``: ``embedded``, a catalog folder, or a list of them laid over each other
  (later wins).
- Paths (``catalog`` unless ``embedded``, ``usage`` / ``usage.path``, ``inventory``) are
  relative to the folder of the file that defines them, or to the current directory when
  given with ``--set``; the ``Scenario`` holds them absolute.
- ``usage: FILE`` is short for ``usage: {path: FILE}``, so a file that only changes the
  usage file keeps the ``gaps`` and ``format`` of its base.
- ``name`` is not inherited through ``extends``: without one, a scenario is named after
  its file.
- ``null`` switches a constraint or an optional setting off; a section left empty keeps
  its defaults; a required setting set to ``null`` is refused.
- ``spot_cap``: a number, or ``{family: share}`` where the key ``default`` covers the
  families not listed; it is stored under ``"*"``, always present (0.6, the default cap,
  when not given), so every reader agrees (see ``Constraints.spot_cap_share``).
- ``usage.interruptible_share``: a number, or ``{family: share}``; families not listed
  keep the history's split.
  ``spot_rework_overhead``: a number for every interruption bucket, or
  ``{bucket: overhead}`` where the buckets not listed keep their defaults.

- Top-level keys that start with ``x-`` are ignored (a place for YAML anchors, as in
  docker-compose files).

Every error names the file and line (or the ``--set`` item) and the dotted key.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from yaml.constructor import SafeConstructor

from gpuladder.errors import EXIT_USAGE, GpuladderError, InputError, did_you_mean
from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS, KINDS, PAYMENTS
from gpuladder.scenarios.schema import (
    BACKENDS, DEFAULT_REWORK_OVERHEAD, DEFAULT_SPOT_CAP_SHARE, OTHER_FAMILIES_KEY, FORECAST_METHODS, USAGE_FORMATS, Constraints,
    ForecastSpec, FrozenMap, Horizon, ProductFilter, Scenario, SolverSpec, UsageSpec)
from gpuladder.units import DATE_RANGE_TEXT, out_of_range
from gpuladder.usage.history import GAP_POLICIES

DEFAULT_SCENARIO_PATH = Path(__file__).resolve().parent / "examples" / "default.yaml"
EMBEDDED = "embedded"
EXTENSION_PREFIX = "x-"
MAX_HORIZON_MONTHS = 120
MIN_LOOKBACK_DAYS = 7
MAX_LOOKBACK_DAYS = 36_525  # a century: "all the history" in practice
MAX_YAML_VALUES = 100_000
FREE_MAPS = {("constraints", "spot_cap"), ("constraints", "spot_rework_overhead"),
             ("usage", "interruptible_share")}
QUOTE_HINT = "quoting it"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXPONENT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_FAMILY_KEY = re.compile(r"[^/\s]+/[^/\s]+/[^/\s]+")
SPOT_CAP_OTHER_KEYS = ("default", OTHER_FAMILIES_KEY)


class SetSyntaxError(GpuladderError):
    """A ``--set`` item that is not ``key=value`` (a command-line usage error, exit 2)."""

    exit_code = EXIT_USAGE


class ScenarioError(InputError):
    """A scenario setting that is wrong: names the file and line (or the ``--set`` item),
    the dotted key, and how to fix it."""

    def __init__(self, message: str, *, key: str, file: str, line: int | None = None,
                 hint: str | None = None):
        where = file if line is None else f"{file}, line {line}"
        super().__init__(f"{key}: {message}" if key else message, file=where, hint=hint)
        self.file, self.line, self.key = file, line, key


def load_scenario(path: str | Path | None, sets: Sequence[str] = ()) -> Scenario:
    """Read a scenario YAML file (None: the bundled default), follow its ``extends:``
    chain, apply ``--set`` items (``"constraints.spot_cap=0.5"``) and validate."""
    overrides = [_parse_set(item) for item in sets]
    file = DEFAULT_SCENARIO_PATH if path is None else Path(path).expanduser().absolute()
    data, origins = _load_file(file, ())
    for override in overrides:
        _apply_set(data, origins, override)
    return _build(data, _Checker(origins, str(file)), base_dir=file.parent, source=str(file),
                  default_name=file.stem)


def scenario_from_mapping(data: Mapping, *, base_dir: Path, source: str) -> Scenario:
    """Validate an already-parsed scenario; relative paths (and ``extends``) resolve
    against ``base_dir``. ``data`` is not modified."""
    if not isinstance(data, Mapping):
        raise InputError(f"a scenario must be a mapping of settings, got {_kind(data)}", file=source)
    data = copy.deepcopy(dict(data))
    origins = {(): _Origin(source)}
    base_dir = Path(base_dir).absolute()
    _absolutize(data, base_dir, origins)
    data, origins = _extend(data, origins, base_dir, source, ())
    return _build(data, _Checker(origins, source), base_dir=base_dir, source=source,
                  default_name=Scenario.name)


# ---------------------------------------------------------------- reading YAML and extends


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


def _load_file(file: Path, stack: tuple[Path, ...]) -> tuple[dict, dict]:
    if not file.exists():
        raise InputError("scenario file not found", file=str(file),
                         hint="passing the path of a scenario YAML file (`gpuladder plan` with no "
                              "argument runs the bundled default scenario).")
    if not file.is_file():
        raise InputError("is a folder, not a scenario file", file=str(file),
                         hint="passing the path of a scenario YAML file.")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(file), hint="saving the scenario as UTF-8.") from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=str(file)) from None
    data, origins = _parse_yaml(text, str(file), (), InputError)
    if data is None:
        raise InputError("the scenario file is empty", file=str(file),
                         hint="writing the settings of DESIGN.md section 7 (name:, usage:, horizon:, ...).")
    if not isinstance(data, dict):
        raise InputError(f"the top level must be a mapping of settings (name:, usage:, ...), got {_kind(data)}",
                         file=str(file), hint="writing one `key: value` per line at the top level.")
    _absolutize(data, file.parent, origins)
    return _extend(data, origins, file.parent, str(file), stack + (file.resolve(),))


def _parse_yaml(text: str, file: str, prefix: tuple, error: type) -> tuple[Any, dict]:
    """Parse one YAML document; also map each key path to its file, line and raw text."""
    loader = yaml.SafeLoader(text)
    origins: dict[tuple, _Origin] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, origins
        _walk(node, prefix, file, origins)
        return loader.construct_document(node), origins
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = f"not valid YAML{at}: {exc.problem or exc.context}"
        if exc.problem and exc.context and exc.context_mark is not None:
            what += (f" ({exc.context} that starts at line {exc.context_mark.line + 1}, "
                     f"column {exc.context_mark.column + 1})")
        hint = ("indenting with spaces, not tabs, and quoting values that contain ': ' or start "
                "with one of > | * & ! % @ `.")
        if error is SetSyntaxError:
            raise SetSyntaxError(f"{file}: {what}; quote the value for your shell, e.g. "
                                 "--set 'constraints.spot_cap={aws/us-east-1/p5.48xlarge: 0.3}'") from None
        raise InputError(what, file=file, hint=hint) from None
    except (yaml.YAMLError, ValueError) as exc:
        if error is SetSyntaxError:
            raise SetSyntaxError(f"{file}: not a valid YAML value ({exc})") from None
        raise InputError(f"not valid YAML ({exc})", file=file,
                         hint="checking dates (YYYY-MM-DD) and indentation.") from None
    except RecursionError:
        if error is SetSyntaxError:
            shown = file if len(file) <= 60 else file[:57] + "..."
            raise SetSyntaxError(f"{shown}: the value is nested too deeply to be a setting") from None
        raise InputError("not a scenario: lists or mappings nested too deeply", file=file,
                         hint="checking for unclosed [ or { brackets.") from None
    finally:
        loader.dispose()


def _walk(node, path: tuple, file: str, origins: dict, depth: int = 0, ancestors: tuple = (),
          count: list | None = None) -> None:
    """Record each key path's origin; refuse duplicate keys, recursive aliases and files
    whose aliases expand to more than MAX_YAML_VALUES values ('billion laughs')."""
    if depth > 40:
        return
    count = [0] if count is None else count
    count[0] += 1
    line = node.start_mark.line + 1 if node.start_mark is not None else None
    if count[0] > MAX_YAML_VALUES:
        raise ScenarioError(f"the file expands to more than {MAX_YAML_VALUES:,} values (aliases inside aliases)",
                            key=_dotted(path), file=file, line=line, hint="writing the settings out without "
                                                                          "nesting aliases.")
    if isinstance(node, yaml.CollectionNode):
        if id(node) in ancestors:
            raise ScenarioError("an alias (*name) refers to a list or mapping that contains it", key=_dotted(path),
                                file=file, line=line, hint="removing the recursive alias.")
        origins.setdefault(path, _Origin(file, line))
        ancestors += (id(node),)
    if isinstance(node, yaml.ScalarNode):
        origins[path] = _Origin(file, line, node.value if node.style is None else None)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (_Index(i),), file, origins, depth + 1, ancestors, count)
    elif isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = SafeConstructor().construct_object(key_node)
            key_line = key_node.start_mark.line + 1
            if key in seen:
                raise ScenarioError(f"duplicate key (first at line {seen[key]})", key=_dotted(path + (key,)),
                                    file=file, line=key_line,
                                    hint="keeping one of them (YAML would silently keep the last).")
            seen[key] = key_line
            origins[path + (key,)] = _Origin(file, key_line)
            _walk(value_node, path + (key,), file, origins, depth + 1, ancestors, count)


def _absolutize(data: dict, base: Path, origins: dict) -> None:
    """Make the path settings of one file's own mapping absolute (in place)."""
    def absolute(value: str) -> str:
        p = Path(value).expanduser()
        return os.path.normpath(p if p.is_absolute() else base / p)

    if isinstance(data.get("usage"), str):
        data["usage"] = {"path": data["usage"]}
        if ("usage",) in origins:
            origins[("usage", "path")] = origins[("usage",)]
    for holder, key in ((data, "catalog"), (data, "inventory"), (data.get("usage"), "path")):
        if isinstance(holder, dict) and isinstance(holder.get(key), str) and holder[key].strip():
            if not (key == "catalog" and holder[key].strip() == EMBEDDED):
                holder[key] = absolute(holder[key].strip())
    if isinstance(data.get("catalog"), list):
        data["catalog"] = [absolute(c.strip()) if isinstance(c, str) and c.strip() not in ("", EMBEDDED) else c
                           for c in data["catalog"]]


def _extend(data: dict, origins: dict, base_dir: Path, file: str,
            stack: tuple[Path, ...]) -> tuple[dict, dict]:
    if "extends" not in data:
        return data, origins
    ext = data.pop("extends")
    checker = _Checker(origins, file)
    target = Path(checker.text(("extends",), ext)).expanduser()
    target = (target if target.is_absolute() else base_dir / target).absolute()
    if target.exists() and target.resolve() in stack:
        chain = " -> ".join(p.name for p in (*stack, target.resolve()))
        raise checker.error(("extends",), f"the extends chain is a cycle: {chain}",
                            hint="removing the `extends:` that points back to a file of the chain.")
    if not target.is_file():
        raise checker.error(("extends",), f"base scenario '{ext}' not found (looked for {target})",
                            hint="giving the base file's path relative to this file.")
    base, base_origins = _load_file(target, stack)
    base.pop("name", None)
    merged_origins = {**base_origins, **{k: v for k, v in origins.items() if k != ("extends",)}}
    return _deep_merge(base, data), merged_origins


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------- --set


@dataclass(frozen=True)
class _Override:
    item: str
    path: tuple
    value: Any
    origins: dict


def _parse_set(item: str) -> _Override:
    if "=" not in item:
        raise SetSyntaxError(f"--set '{item}' is not key=value; write e.g. --set horizon.months=24 "
                             "or --set constraints.min_utilization=null")
    key, _, raw = item.partition("=")
    parts = key.strip().split(".")
    if not key.strip() or any(not p.strip() for p in parts):
        raise SetSyntaxError(f"--set '{item}': the key '{key}' is not a dotted key; write e.g. "
                             "--set forecast.method=replay")
    parts = [p.strip() for p in parts]
    path = tuple(parts)
    if len(parts) > 2 and tuple(parts[:2]) in FREE_MAPS:
        path = (parts[0], parts[1], ".".join(parts[2:]))
    label = f"--set {item}"
    value, value_origins = _parse_yaml(raw, label, (), SetSyntaxError)
    if path == ("usage",) and isinstance(value, str):
        path = ("usage", "path")
    nested: Any = value
    for k in reversed(path):
        nested = {k: nested}
    _absolutize(nested, Path.cwd(), {})
    for k in path:
        nested = nested[k]
    origins = {path + k: _Origin(label, None, o.raw) for k, o in value_origins.items()}
    origins[path] = _Origin(label, None, origins.get(path, _Origin(label)).raw)
    return _Override(item, path, nested, origins)


def _apply_set(data: dict, origins: dict, override: _Override) -> None:
    path, label = override.path, f"--set {override.item}"
    cur = data
    for i, k in enumerate(path[:-1]):
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
            origins[path[:i + 1]] = _Origin(label)
        elif not isinstance(nxt, dict):
            head = _dotted(path[:i + 1])
            raise ScenarioError(f"is {_kind(nxt)}, not a mapping, so '{_dotted(path)}' cannot be set inside it",
                                key=head, file=label,
                                hint=f"setting it whole, e.g. --set '{head}={{...}}'.")
        cur = nxt
    cur[path[-1]] = override.value
    for k in [k for k in origins if k[:len(path)] == path]:
        del origins[k]
    origins.update(override.origins)


# ---------------------------------------------------------------- validation


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
                                    f"boolean {str(value).lower()}", hint=f'{QUOTE_HINT}: "{shown}".')
        if isinstance(value, bool):
            shown = raw if raw is not None else str(value).lower()
            return self.error(path, f"expected {expected}, but YAML 1.1 reads the unquoted {shown} as "
                                    f"the boolean {str(value).lower()}",
                              hint="writing a number (or null to switch the setting off, where allowed).")
        if expected == "text" and raw is not None and not isinstance(value, (list, dict)):
            return self.error(path, f"expected text, but YAML reads the unquoted {raw} as {_kind(value)}",
                              hint=f'{QUOTE_HINT}: "{raw}".')
        hint = None
        if isinstance(value, str) and value.strip().endswith("%"):
            hint = "writing shares as numbers from 0 to 1 (60% is 0.6)."
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
        x = float(value)
        if not math.isfinite(x):
            raise self.error(path, f"{value} is not a finite number", hint="writing a finite number.")
        if ((lo is not None and (x < lo or (lo_open and x == lo)))
                or (hi is not None and (x > hi or (hi_open and x == hi)))):
            hint = "writing shares as numbers from 0 to 1 (60% is 0.6)." if (lo, hi) == (0, 1) else None
            raise self.error(path, f"{x:g} is out of range: must be {_range_text(lo, hi, lo_open, hi_open)}",
                             hint=hint)
        return x

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
            raise self.error(path, f"expected a mapping of {', '.join(allowed)}, got {_kind(value)}")
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
        hint = "writing a date (2026-01-01, read as 00:00 UTC) or a UTC time such as 2026-01-01T00:00:00Z."
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise self.error(path, f"{value.isoformat(sep=' ')} has no time zone (naive)", hint=hint)
            ts = pd.Timestamp(value).tz_convert("UTC")
        elif isinstance(value, dt.date):
            ts = pd.Timestamp(value).tz_localize("UTC")
        elif isinstance(value, str):
            try:
                ts = pd.Timestamp(value.strip())
            except (ValueError, OverflowError):
                raise self.error(path, f"'{value}' is not a date", hint=hint) from None
            if ts is pd.NaT:
                raise self.error(path, f"'{value}' is not a date", hint=hint)
            if ts.tzinfo is None and not _DATE_ONLY.fullmatch(value.strip()):
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


_USAGE = {
    "path": _nullable(lambda ck, p, v: ck.text(p, v)),
    "format": _nullable(lambda ck, p, v: ck.choice(p, v, USAGE_FORMATS)),
    "gaps": lambda ck, p, v: ck.choice(p, v, GAP_POLICIES),
    "interruptible_share": _nullable(_share_or_family_map),
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


def _build(data: dict, ck: _Checker, *, base_dir: Path, source: str, default_name: str) -> Scenario:
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    top = ck.mapping((), data, _TOP)
    kwargs: dict[str, Any] = {"name": default_name}
    if "name" in top:
        kwargs["name"] = ck.text(("name",), top["name"])
    if "catalog" in top:
        specs = tuple(ck.text(p, v) for p, v in ck.items(("catalog",), top["catalog"]))
        if not specs:
            raise ck.error(("catalog",), "is an empty list", hint="writing `catalog: embedded` or a folder.")
        kwargs["catalog"] = specs[0] if len(specs) == 1 else specs
    if "inventory" in top:
        kwargs["inventory"] = _nullable(lambda c, p, v: c.text(p, v))(ck, ("inventory",), top["inventory"])
    for key, (table, cls) in _SECTIONS.items():
        if key in top:
            kwargs[key] = _section(ck, (key,), top[key], table, cls)
    return Scenario(**kwargs, base_dir=base_dir, source=source)
