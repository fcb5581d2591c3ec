"""Scenario: everything a run needs (DESIGN.md section 7), as small frozen objects.

``load_scenario`` reads YAML (with ``extends:`` deep-merged first and ``--set`` dotted
overrides applied last) and validates it strictly; see scenarios/loader.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd


class FrozenMap(Mapping):
    """A read-only, hashable and picklable mapping (family or bucket -> number)."""

    __slots__ = ("_data",)

    def __init__(self, data=()):
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __setattr__(self, name, value):
        raise AttributeError("FrozenMap is read-only")

    def __reduce__(self):
        return (FrozenMap, (self._data,))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


DEFAULT_REWORK_OVERHEAD = FrozenMap(
    {"<5%": 0.02, "5-10%": 0.05, "10-15%": 0.08, "15-20%": 0.12, ">20%": 0.2})
FORECAST_METHODS = ("replay", "seasonal", "trend")
BACKENDS = ("highs", "cbc", "ortools")
USAGE_FORMATS = ("canonical", "focus", "cur", "cur2")
DEFAULT_SPOT_CAP_SHARE = 0.6
OTHER_FAMILIES_KEY = "*"  # in a spot_cap map: the cap of every family not listed


@dataclass(frozen=True)
class Horizon:
    start: pd.Timestamp | None = None  # None: the usage's first hour (replay) or the hour after it
    months: int = 12


@dataclass(frozen=True)
class ForecastSpec:
    method: str = "seasonal"
    lookback_days: int = 90
    growth_per_month: float = 0.0
    conservative_quantile: float | None = 0.10
    risk_weight: float = 0.0   # objective: (expected cost + w x conservative path's cost) / (1 + w)


@dataclass(frozen=True)
class ProductFilter:
    """Which catalog products may be bought; None = no restriction on that attribute."""

    providers: tuple[str, ...] | None = None
    terms_months: tuple[int, ...] | None = (12, 36)
    payments: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Constraints:
    min_utilization: float | None = 0.95
    spot_cap: float | Mapping[str, float] | None = 0.6
    spot_rework_overhead: Mapping[str, float] = DEFAULT_REWORK_OVERHEAD
    max_upfront_usd_per_quarter: float | None = None
    max_committed_usd_per_hour: float | None = None
    max_expiring_share_per_quarter: float | None = None
    max_bought_share_per_step: float | None = None
    ladder_step_months: int = 1
    fiscal_year_start_month: int = 1   # budget and ladder quarters: 1 = calendar (Jan/Apr/Jul/Oct)

    def spot_cap_share(self, family: str) -> float | None:
        """The spot cap of ``family``: a number applies to every family; in a map, a family
        not listed takes the ``"*"`` entry (the loader always fills it in: 0.6 unless the
        scenario gives ``default``). None: no cap (every interruptible instance may run on
        spot)."""
        cap = self.spot_cap
        if cap is None or not isinstance(cap, Mapping):
            return cap
        return cap.get(family, cap.get(OTHER_FAMILIES_KEY, DEFAULT_SPOT_CAP_SHARE))


@dataclass(frozen=True)
class SolverSpec:
    backend: str = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 0.001


@dataclass(frozen=True)
class UsageSpec:
    path: str | None = None
    format: str | None = None  # None: detected
    gaps: str = "error"        # error | zero | mask
    until: pd.Timestamp | None = None  # the history ends before this hour; later rows are left out
    interruptible_share: float | Mapping[str, float] | None = None  # overrides the history's split

    def interruptible_share_for(self, family: str) -> float | None:
        """The interruptible share that overrides the history's split for ``family``; None
        keeps the history's split (no override, or a map that does not list the family)."""
        share = self.interruptible_share
        if share is None or not isinstance(share, Mapping):
            return share
        return share.get(family)


@dataclass(frozen=True)
class Scenario:
    name: str = "scenario"
    catalog: str | tuple[str, ...] = "embedded"  # several: laid over each other, later wins
    usage: UsageSpec = field(default_factory=UsageSpec)
    inventory: str | None = None
    horizon: Horizon = field(default_factory=Horizon)
    forecast: ForecastSpec = field(default_factory=ForecastSpec)
    products: ProductFilter = field(default_factory=ProductFilter)
    constraints: Constraints = field(default_factory=Constraints)
    solver: SolverSpec = field(default_factory=SolverSpec)
    base_dir: Path = field(default_factory=Path.cwd)
    source: str = "<defaults>"
    # (dotted key, where it was set: "FILE, line N" or "--set KEY=VALUE"), for the checks
    # that can only run with the data (usage.until against the history, product ids)
    origins: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    def where(self, key: str) -> str:
        """Where ``key`` (dotted) got its value: the file and line, the ``--set`` item, or the
        command-line option (--usage, --catalog, --inventory); the nearest enclosing key's
        place (``catalog[1]`` -> ``catalog``), else the scenario's file (a key not written)."""
        places = dict(self.origins)
        while key:
            if key in places:
                return places[key]
            key = key.rpartition("[")[0] if key.endswith("]") else key.rpartition(".")[0]
        return self.source

    def resolve(self, path: str | None) -> Path | None:
        """A path from the scenario file, relative to the scenario's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def apply_overrides(scenario: Scenario, *, usage_path=None, usage_format=None, gaps=None, catalog=(),
                    inventory=None, backend=None, time_limit_s=None) -> Scenario:
    """Command-line file and solver overrides; relative paths are relative to the current
    directory (not to the scenario file)."""
    usage, given = scenario.usage, []
    if usage_path is not None:
        usage = replace(usage, path=str(Path(usage_path).expanduser().resolve()))
        given.append(("usage.path", f"--usage {usage_path}"))
    if usage_format is not None:
        usage = replace(usage, format=usage_format)
    if gaps is not None:
        usage = replace(usage, gaps=gaps)
    out = replace(scenario, usage=usage)
    if catalog:
        specs = tuple(c if c == "embedded" else str(Path(c).expanduser().resolve()) for c in catalog)
        out = replace(out, catalog=specs[0] if len(specs) == 1 else specs)
        given.append(("catalog", " ".join(f"--catalog {c}" for c in catalog)))
        given += [(f"catalog[{i}]", f"--catalog {c}") for i, c in enumerate(catalog) if len(catalog) > 1]
    if inventory is not None:
        out = replace(out, inventory=str(Path(inventory).expanduser().resolve()))
        given.append(("inventory", f"--inventory {inventory}"))
    replaced = tuple(k for k, _ in given)
    out = replace(out, origins=tuple((k, v) for k, v in out.origins
                                     if not any(k == r or k.startswith(r + "[") for r in replaced)) + tuple(given))
    solver = out.solver
    if backend is not None:
        solver = replace(solver, backend=backend)
    if time_limit_s is not None:
        solver = replace(solver, time_limit_s=float(time_limit_s))
    return replace(out, solver=solver)
