"""Forecast: the future demand the optimizer plans on, as weighted hourly paths.

Output is a ``Forecast``: one or more ``DemandPath`` objects (P10/P50/P90 or a replay)
over the horizon's hours, each a complete hour x family frame (no NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError
from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.units import HOUR, add_months, hourly_index
from gpuladder.usage.history import DemandProfile


@dataclass(frozen=True)
class DemandPath:
    name: str
    weight: float
    demand_instances: pd.DataFrame         # horizon hour x family, >= 0, no NaN
    interruptible_instances: pd.DataFrame  # same shape, <= demand


@dataclass(frozen=True)
class Forecast:
    method: str
    paths: tuple[DemandPath, ...]
    expected: str                  # name of the path the utilization floor uses (P50)
    conservative: str | None = None  # name of the path the floor must also be used in

    def path(self, name: str) -> DemandPath:
        for p in self.paths:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.paths[0].demand_instances.index

    @property
    def families(self) -> list[str]:
        return list(self.paths[0].demand_instances.columns)


def resolve_horizon(horizon: Horizon, profile: DemandProfile, method: str) -> pd.DatetimeIndex:
    """The horizon's hours. Without a start: replay plans the usage's own span from its
    first hour; the other methods start at the first hour after the history."""
    if horizon.start is not None:
        start = horizon.start
    elif method == "replay":
        start = profile.index[0]
    else:
        start = profile.index[-1] + HOUR
    return hourly_index(start, add_months(start, horizon.months))


def replay(profile: DemandProfile, index: pd.DatetimeIndex) -> Forecast:
    """The usage IS the future. Hours of the horizon that the usage covers are taken as they
    are; if the horizon lies elsewhere or is longer, the usage is laid from the horizon's
    start and repeated. Masked hours (NaN) take the value of the same hour one week
    earlier or later where there is one, else zero."""
    demand = profile.demand_instances
    inter = profile.interruptible_instances
    if demand.empty:
        raise DomainError("no usage to replay")
    demand, inter = _fill_masked(demand), _fill_masked(inter)
    if index[0] in demand.index and index[-1] in demand.index:
        d = demand.loc[index[0]:index[-1]]
        i = inter.loc[index[0]:index[-1]]
    else:
        pos = np.arange(len(index)) % len(demand)
        d = pd.DataFrame(demand.to_numpy()[pos], index=index, columns=demand.columns)
        i = pd.DataFrame(inter.to_numpy()[pos], index=index, columns=demand.columns)
    d = d.set_axis(index)
    i = np.minimum(i.set_axis(index), d)
    return Forecast("replay", (DemandPath("replay", 1.0, d, i),), expected="replay", conservative=None)


def _fill_masked(frame: pd.DataFrame) -> pd.DataFrame:
    if not frame.isna().any().any():
        return frame
    week = 7 * 24
    out = frame.copy()
    for shift in (week, -week, 2 * week, -2 * week):
        out = out.fillna(frame.shift(shift))
    return out.fillna(0.0)


def make_forecast(profile: DemandProfile, spec: ForecastSpec, horizon: Horizon) -> Forecast:
    index = resolve_horizon(horizon, profile, spec.method)
    if spec.method == "replay":
        return replay(profile, index)
    raise DomainError(f"forecast method '{spec.method}' is not available yet; use replay")
