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
  its defaults, or, in a file that ``extends`` another, the base's section; a required
  setting set to ``null`` is refused.
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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from gpuladder.errors import EXIT_USAGE, GpuladderError, InputError
from gpuladder.scenarios.checks import (  # noqa: F401 - MAX_HORIZON_MONTHS, ScenarioError: re-exported
    MAX_HORIZON_MONTHS, _SECTIONS, _TOP, SET_LABEL, ScenarioError, _Checker, _dotted, _Index, _kind, _nullable, _Origin,
    _section)
from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS
from gpuladder.scenarios.schema import DEFAULT_SPOT_CAP_SHARE, Scenario

DEFAULT_SCENARIO_PATH = Path(__file__).resolve().parent / "examples" / "default.yaml"
EMBEDDED = "embedded"
EXTENSION_PREFIX = "x-"
MAX_YAML_VALUES = 100_000
FREE_MAPS = {("constraints", "spot_cap"), ("constraints", "spot_rework_overhead"),
             ("usage", "interruptible_share")}


class SetSyntaxError(GpuladderError):
    """A ``--set`` item that is not ``key=value`` with a YAML value (no ``=``, no key, an
    unclosed bracket: mostly shell quoting): a command-line usage error, exit 2. A key or
    value that reads but is wrong for the scenario (unknown key, wrong type, 2027-13-01) is
    bad input, exit 1, as the same line in a scenario file is."""

    exit_code = EXIT_USAGE


def load_scenario(path: str | Path | None, sets: Sequence[str] = ()) -> Scenario:
    """Read a scenario YAML file (None: the bundled default), follow its ``extends:``
    chain, apply ``--set`` items (``"constraints.spot_cap=0.5"``) and validate."""
    overrides = [_parse_set(item) for item in sets]
    file = DEFAULT_SCENARIO_PATH if path is None else Path(os.path.normpath(Path(path).expanduser().absolute()))
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
    except (yaml.YAMLError, ValueError) as exc:   # a value YAML cannot build (2027-13-01), a character it refuses
        if error is SetSyntaxError:
            raise InputError(f"not a valid value ({exc})", file=file,
                             hint="checking the value (dates as YYYY-MM-DD).") from None
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
    if isinstance(ext, list):
        raise checker.error(("extends",), f"takes one base file, got a list of {len(ext)}",
                            hint="chaining them: extend one base, and write `extends:` to the other in that base "
                                 "(or in a copy of it); mappings merge along the chain.")
    target = Path(checker.text(("extends",), ext)).expanduser()
    target = Path(os.path.normpath((target if target.is_absolute() else base_dir / target).absolute()))
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


def _deep_merge(base: dict, over: dict, top: bool = True) -> dict:
    """``over`` on ``base``: mappings merge key by key, anything else replaces, except that a
    top-level section left empty (``constraints:`` with nothing under it, read as null)
    keeps the base's section: an empty heading says nothing (a setting set to null inside
    a section still switches it off)."""
    out = dict(base)
    for k, v in over.items():
        if top and v is None and isinstance(out.get(k), dict):
            continue
        out[k] = _deep_merge(out[k], v, False) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
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
    label = f"{SET_LABEL}{item}"
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
    path, label = override.path, f"{SET_LABEL}{override.item}"
    cur = data
    for i, k in enumerate(path[:-1]):
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
            origins[path[:i + 1]] = _Origin(label)
        elif not isinstance(nxt, dict):
            raise _not_a_section(override, i, nxt)
        cur = nxt
    cur[path[-1]] = override.value
    for k in [k for k in origins if k[:len(path)] == path]:
        del origins[k]
    origins.update(override.origins)


def _not_a_section(override: _Override, i: int, current: Any) -> ScenarioError:
    """--set a.b.c=V where a.b holds a scalar or a list: set a.b itself, as a mapping
    where the setting may be one (spot_cap ...), else as what it is."""
    path, label = override.path, f"{SET_LABEL}{override.item}"
    head, rest = _dotted(path[:i + 1]), ".".join(str(k) for k in path[i + 1:])
    raw = override.item.partition("=")[2].strip()
    if path[:i + 1] in FREE_MAPS:
        return ScenarioError(f"is {_kind(current)}, not a mapping, so '{_dotted(path)}' cannot be "
                             "set inside it", key=head, file=label,
                             hint=f"setting it whole as a mapping: {_whole_map_hint(path[:i + 1], head, rest, raw, current)}")
    what = _kind(current)
    noun = {"the number": "a number", "the text": "text", "the boolean": "a boolean", "the date": "a date"}
    shown = next((f"{n} ({what[len(k) + 1:]})" for k, n in noun.items() if what.startswith(k + " ")), what)
    return ScenarioError(f"is {shown}, not a section with keys, so '{_dotted(path)}' cannot be set",
                         key=head, file=label, hint=f"setting {head} itself: --set '{head}={raw}'.")


def _whole_map_hint(section: tuple, head: str, key: str, raw: str, current: Any) -> str:
    """The --set that gives ``key`` its value and keeps a number ``current`` for the rest:
    a spot cap's `default` (unless it is the built-in one), every other rework bucket; an
    interruptible-share map has no key for the rest, so the hint says what the others do."""
    number = isinstance(current, (int, float)) and not isinstance(current, bool)
    if number and section == ("constraints", "spot_cap") and current != DEFAULT_SPOT_CAP_SHARE:
        return f"--set '{head}={{{key}: {raw}, default: {current:g}}}'."
    if number and section == ("constraints", "spot_rework_overhead"):
        cells = {b: f"{current:g}" for b in INTERRUPTION_BUCKETS} | {key.strip('"'): raw}
        body = ", ".join('"' + b + '": ' + v for b, v in cells.items())
        return f"--set '{head}={{{body}}}'."
    if number and section == ("usage", "interruptible_share"):
        return (f"--set '{head}={{{key}: {raw}}}' (the families it does not list then keep their history's split, "
                f"not {current:g}).")
    return f"--set '{head}={{{key}: {raw}}}'."


# ---------------------------------------------------------------- validation


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
    fc = kwargs.get("forecast")
    if fc is not None and fc.risk_weight > 0 and fc.conservative_quantile is None:
        raise ck.error(("forecast", "risk_weight"), f"{fc.risk_weight:g} weighs the conservative scenario's cost, "
                       "but forecast.conservative_quantile is null, so there is none",
                       hint="setting forecast.conservative_quantile (e.g. 0.10) or risk_weight: 0.")
    origins = tuple((_dotted(path), o.file if o.line is None else f"{o.file}, line {o.line}")
                    for path, o in ck.origins.items())
    return Scenario(**kwargs, base_dir=base_dir, source=source, origins=origins)
