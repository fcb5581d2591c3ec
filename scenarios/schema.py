"""Scenario: everything a run needs (DESIGN.md section 7), as small frozen objects.

``load_scenario`` reads YAML (with ``extends:`` deep-merged first and ``--set`` dotted
overrides applied last) and validates it strictly; see scenarios/loader.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import pandas as pd

DEFAULT_REWORK_OVERHEAD = MappingProxyType(
    {"<5%": 0.02, "5-10%": 0.05, "10-15%": 0.08, "15-20%": 0.12, ">20%": 0.2})
FORECAST_METHODS = ("replay", "seasonal", "trend")
BACKENDS = ("highs", "cbc", "ortools")


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
    interruptible_share: float | Mapping[str, float] | None = None  # overrides the history's split


@dataclass(frozen=True)
class Scenario:
    name: str = "scenario"
    catalog: str = "embedded"
    usage: UsageSpec = field(default_factory=UsageSpec)
    inventory: str | None = None
    horizon: Horizon = field(default_factory=Horizon)
    forecast: ForecastSpec = field(default_factory=ForecastSpec)
    products: ProductFilter = field(default_factory=ProductFilter)
    constraints: Constraints = field(default_factory=Constraints)
    solver: SolverSpec = field(default_factory=SolverSpec)
    base_dir: Path = field(default_factory=Path.cwd)
    source: str = "<defaults>"

    def resolve(self, path: str | None) -> Path | None:
        """A path from the scenario file, relative to the scenario's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)
