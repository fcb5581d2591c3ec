"""Forecast: the future demand the optimizer plans on, as weighted hourly paths.

Output is a ``Forecast``: one or more ``DemandPath`` objects over the horizon's hours, each
a complete hour x family frame (no NaN, >= 0).

Methods (``forecast.method``):

- ``replay``: the usage IS the future (see ``replay``).
- ``seasonal``: per family, ordinary least squares of demand on an hour-of-week profile
  (168 levels) plus a linear trend, fitted on the last ``lookback_days`` of history.
- ``trend``: level + linear trend, no seasonality.

``growth_per_month`` compounds on top of every method: the path at ``m`` months after the
forecast origin is multiplied by ``(1 + growth) ** m`` (mean calendar months).

Paths of ``seasonal`` and ``trend``: ``P10``, ``P50``, ``P90`` with weights 0.3 / 0.4 /
0.3 (Swanson's rule, the usual three-point approximation of the mean of a distribution
from its P10/P50/P90); the optimizer minimises the weighted expected cost. When
``forecast.conservative_quantile`` is not 0.10, 0.5 or 0.90, one more path at that
quantile is built with weight 0 (it only serves the utilization floor).

Each path is ``max(0, fit(t) + r(t) + dev_p(h)) x growth(h)``, where
  - ``fit`` is the fitted model extrapolated to hour ``t``;
  - ``r`` replays the fit's own hourly residuals, week by week aligned on the hour of the
    week (cycling through the fitted weeks), so each path keeps the history's hourly
    variability: a smooth path would hide the troughs a committed floor must survive;
  - ``dev_p(h)`` shifts the level of path ``p`` at ``h`` hours after the origin. It comes
    from the history: ``Q_p``, the p-quantile of the day-mean residuals (centred on
    their median), widened as ``sqrt(1 + h / L)`` (``L`` = hours fitted), combined in
    quadrature with the uncertainty of the extrapolated slope, ``z_p x se(slope) x h``
    (``se`` from the day-mean residuals). So P10 <= P50 <= P90 at every hour, the bands
    widen with the horizon and a noiseless history gives three equal paths.

The interruptible share of each path is the family's hour-of-week share in the history.

Families: one with no demand in the last ``VANISHED_AFTER_DAYS`` observed days forecasts
zero; one that started inside the window is fitted on its own span (from its first
non-zero hour). A span shorter than ``TREND_MIN_DAYS`` (three weeks) gets no trend: with
two observations of each hour of the week a slope is mostly noise, and extrapolating it
over a commitment's term over-commits. One shorter than ``MIN_HISTORY_DAYS`` gets a flat
level (its mean). Gaps (NaN, masked hours) are left out of every fit, never read as zero.
A history with less than ``MIN_HISTORY_DAYS`` of observed hours is refused (use replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError
from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.units import HOUR, add_months, hourly_index
from gpuladder.usage.history import DemandProfile

PATH_QUANTILES = (("P10", 0.10, 0.3), ("P50", 0.50, 0.4), ("P90", 0.90, 0.3))  # name, quantile, weight
MIN_HISTORY_DAYS = 7
TREND_MIN_DAYS = 21
VANISHED_AFTER_DAYS = 7
MIN_DAY_HOURS = 12  # a day enters the spread estimate with at least this many observed hours
WEEK_HOURS = 7 * 24
MEAN_MONTH_HOURS = (pd.Timedelta(days=365.25) / 12) / HOUR
_EPOCH_HOUR_OF_WEEK = 3 * 24  # 1970-01-01 00:00 UTC was a Thursday (Monday 00:00 = 0)


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
    notes: tuple[str, ...] = ()    # what the forecast did per family (vanished, short span, ...)

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
    """The forecast of ``spec.method`` over the horizon, with ``growth_per_month`` on top
    (for replay, compounding from the horizon's start)."""
    index = resolve_horizon(horizon, profile, spec.method)
    if spec.method == "replay":
        fc = replay(profile, index)
        if spec.growth_per_month == 0:
            return fc
        factor = growth_factor(index, index[0], spec.growth_per_month)[:, None]
        paths = tuple(DemandPath(p.name, p.weight, p.demand_instances * factor,
                                 p.interruptible_instances * factor) for p in fc.paths)
        return Forecast(fc.method, paths, fc.expected, fc.conservative, fc.notes)
    if spec.method not in ("seasonal", "trend"):
        raise DomainError(f"unknown forecast method '{spec.method}'; use replay, seasonal or trend")
    return fit_forecast(profile, spec, index)


def growth_factor(index: pd.DatetimeIndex, origin: pd.Timestamp, growth_per_month: float) -> np.ndarray:
    """``(1 + growth) ** months`` since ``origin`` (none before it), per hour of ``index``."""
    months = np.maximum(((index - origin) / HOUR).to_numpy(dtype=float), 0.0) / MEAN_MONTH_HOURS
    return np.power(1.0 + growth_per_month, months)


def hour_of_week(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(hour of the week with Monday 00:00 UTC = 0, week number), vectorized."""
    hours = index.as_unit("s").asi8 // 3600 + _EPOCH_HOUR_OF_WEEK
    return hours % WEEK_HOURS, hours // WEEK_HOURS


@dataclass(frozen=True)
class _Fit:
    """One family's model; ``t`` is in hours from the forecast origin."""

    season: np.ndarray          # (168,) value at t = 0 for each hour of the week
    slope_per_hour: float
    residual_weeks: np.ndarray  # (weeks, 168) residuals aligned on the hour of the week
    first_week: int             # week number of residual_weeks[0]
    day_deviations: np.ndarray  # day-mean residuals minus their median
    slope_se: float             # standard error of the slope, per hour
    span_hours: float
    interruptible_share: np.ndarray  # (168,)


def fit_forecast(profile: DemandProfile, spec: ForecastSpec, index: pd.DatetimeIndex) -> Forecast:
    """``seasonal`` or ``trend`` forecast over ``index`` (see the module docstring)."""
    demand = profile.demand_instances
    observed = demand.notna().any(axis=1).to_numpy()
    n_obs = int(observed.sum())
    if n_obs < MIN_HISTORY_DAYS * 24:
        raise DomainError(
            f"the usage history holds {n_obs} observed hour(s) ({n_obs / 24:.1f} days); a {spec.method} "
            f"forecast needs at least {MIN_HISTORY_DAYS} days. You can fix this by giving more history "
            "or by planning on the history itself: --set forecast.method=replay.")
    origin = profile.index[-1] + HOUR
    window = profile.index >= origin - pd.Timedelta(days=spec.lookback_days)
    last_observed = profile.index[observed][-1]
    win_index = profile.index[window]
    t_hist = ((win_index - origin) / HOUR).to_numpy()
    how_hist, week_hist = hour_of_week(win_index)
    t_future = ((index - origin) / HOUR).to_numpy()
    how_future, week_future = hour_of_week(index)
    h_future = np.maximum(t_future, 0.0)
    growth = growth_factor(index, origin, spec.growth_per_month)

    quantiles = [(name, q, w) for name, q, w in PATH_QUANTILES]
    conservative = None
    cq = spec.conservative_quantile
    if cq is not None:
        match = [name for name, q, _ in PATH_QUANTILES if np.isclose(q, cq)]
        conservative = match[0] if match else f"P{round(cq * 100, 4):g}"
        if not match:
            quantiles.append((conservative, cq, 0.0))

    families = list(demand.columns)
    out = {name: np.zeros((len(families), len(index))) for name, _, _ in quantiles}  # family-major
    inter_out = {name: np.zeros((len(families), len(index))) for name, _, _ in quantiles}
    notes = []
    for j, fam in enumerate(families):
        y = demand[fam].to_numpy(dtype=float)[window]
        yi = profile.interruptible_instances[fam].to_numpy(dtype=float)[window]
        nonzero = np.flatnonzero(np.nan_to_num(y) > 0)
        last_nonzero = win_index[nonzero[-1]] if len(nonzero) else None
        if last_nonzero is None or last_observed - last_nonzero >= pd.Timedelta(days=VANISHED_AFTER_DAYS):
            notes.append(f"{fam}: no demand in the last {VANISHED_AFTER_DAYS} observed days; forecast zero")
            continue
        s0 = nonzero[0]
        fit, note = _fit_family(y[s0:], yi[s0:], t_hist[s0:], how_hist[s0:], week_hist[s0:], spec.method)
        if note:
            notes.append(f"{fam}: {note}")
        base = fit.season[how_future] + fit.slope_per_hour * t_future
        rows = (week_future - fit.first_week) % fit.residual_weeks.shape[0]
        base = base + fit.residual_weeks[rows, how_future]
        share = fit.interruptible_share[how_future]
        for name, q, _ in quantiles:
            path = np.maximum(base + _level_shift(fit, q, h_future), 0.0) * growth
            out[name][j] = path
            inter_out[name][j] = share * path
    paths = tuple(
        DemandPath(name, weight, pd.DataFrame(out[name].T, index=index, columns=families, copy=False),
                   pd.DataFrame(inter_out[name].T, index=index, columns=families, copy=False))
        for name, _, weight in quantiles)
    return Forecast(spec.method, paths, expected="P50", conservative=conservative, notes=tuple(notes))


def _level_shift(fit: _Fit, q: float, h: np.ndarray) -> np.ndarray:
    """dev_q(h): the level shift of the q-path, h hours after the origin."""
    if q == 0.5:
        return np.zeros_like(h)
    z = NormalDist().inv_cdf(q)
    q_day = float(np.quantile(fit.day_deviations, q))
    spread = np.sqrt(q_day ** 2 * (1.0 + h / fit.span_hours) + (z * fit.slope_se * h) ** 2)
    return np.sign(q - 0.5) * spread


def _fit_family(y: np.ndarray, yi: np.ndarray, t: np.ndarray, how: np.ndarray, week: np.ndarray,
                method: str) -> tuple[_Fit, str]:
    """Fit one family on its span (y may hold NaN for masked hours)."""
    obs = ~np.isnan(y)
    yo, to, ho = y[obs], t[obs], how[obs]
    span_hours = float(t[-1] - t[0] + 1)
    span_days = span_hours / 24
    note = ""
    season = np.zeros(WEEK_HOURS)
    slope = 0.0
    if span_days < MIN_HISTORY_DAYS:
        season[:] = yo.mean()
        note = f"only {span_days:.1f} days of demand; forecast at its mean level, no trend"
    elif method == "trend":
        slope, level = np.polyfit(to, yo, 1)
        season[:] = level
    else:
        count = np.bincount(ho, minlength=WEEK_HOURS)
        seen = count > 0
        y_mean = np.bincount(ho, yo, WEEK_HOURS)[seen] / count[seen]
        t_mean = np.bincount(ho, to, WEEK_HOURS)[seen] / count[seen]
        if span_days >= TREND_MIN_DAYS:
            pos = np.cumsum(seen) - 1
            dy, dt = yo - y_mean[pos[ho]], to - t_mean[pos[ho]]
            denom = float(dt @ dt)
            slope = float(dy @ dt) / denom if denom > 0 else 0.0
        else:
            note = f"only {span_days:.1f} days of demand; weekly profile without trend"
        season = np.interp(np.arange(WEEK_HOURS), np.flatnonzero(seen), y_mean - slope * t_mean,
                           period=WEEK_HOURS)
    resid = np.full(len(y), np.nan)
    resid[obs] = yo - (season[ho] + slope * to)
    day_params = 1 if span_days < MIN_HISTORY_DAYS else 2 if method == "trend" else 7 + (slope != 0.0)
    spread = _spread(resid, t, day_params, slope != 0.0)
    if spread is None and len(yo) > 1:  # too few days to judge the weekly model by its own residuals
        line = np.polyfit(to, yo, 1)
        line_resid = np.full(len(y), np.nan)
        line_resid[obs] = yo - np.polyval(line, to)
        spread = _spread(line_resid, t, 2, slope != 0.0)
    day_deviations, slope_se = spread if spread is not None else (np.zeros(1), 0.0)
    return _Fit(season, slope, *_residual_weeks(resid, how, week), day_deviations, slope_se, span_hours,
                _interruptible_share(y, yi, how)), note


def _residual_weeks(resid: np.ndarray, how: np.ndarray, week: np.ndarray) -> tuple[np.ndarray, int]:
    """Residuals as (week, hour of week); hours without one take the same hour of the
    nearest week that has one, else 0."""
    first = int(week[0])
    grid = np.full((int(week[-1]) - first + 1, WEEK_HOURS), np.nan)
    grid[week - first, how] = resid
    grid = pd.DataFrame(grid).ffill().bfill().fillna(0.0).to_numpy()
    return grid, first


def _spread(resid: np.ndarray, t: np.ndarray, day_params: int,
            slope_fitted: bool) -> tuple[np.ndarray, float] | None:
    """(day-mean residuals minus their median, standard error of the slope per hour), or
    None with fewer than ``day_params + 2`` days.

    In-sample residuals understate out-of-sample errors by the parameters the model spent
    on day levels (``day_params``: 7 day-of-week levels of the weekly profile, + 1 for a
    slope): the deviations are scaled by sqrt((n + p) / (n - p)) over n days, the ratio of
    the variance of a new day's error, s^2 (1 + p/n), to the expected in-sample residual
    variance, s^2 (1 - p/n)."""
    day = np.floor(t / 24).astype(int)
    day -= day.min()
    ok = ~np.isnan(resid)
    n_hours = np.bincount(day[ok], minlength=day.max() + 1)
    full = n_hours >= MIN_DAY_HOURS
    means = np.bincount(day[ok], resid[ok], minlength=day.max() + 1)[full] / n_hours[full]
    n = len(means)
    if n < day_params + 2:
        return None
    deviations = (means - np.median(means)) * np.sqrt((n + day_params) / (n - day_params))
    se = 0.0
    if slope_fitted:
        centers = np.bincount(day[ok], t[ok], minlength=day.max() + 1)[full] / n_hours[full]
        sxx = float(((centers - centers.mean()) ** 2).sum())
        s_day = np.sqrt(float(means @ means) / (n - day_params))
        se = s_day / np.sqrt(sxx) * np.sqrt(_persistence(means)) if sxx > 0 else 0.0
    return deviations, se


def _persistence(day_means: np.ndarray) -> float:
    """(1 + rho) / (1 - rho) for the lag-1 autocorrelation rho of the day-mean residuals
    (clipped to [0, 0.9]): day levels that wander for days hold less information about the
    slope than independent days, so its standard error grows by the square root of this."""
    if len(day_means) < 4:
        return 1.0
    a, b = day_means[:-1], day_means[1:]
    denom = float(np.sqrt((a @ a) * (b @ b)))
    rho = float(np.clip((a @ b) / denom, 0.0, 0.9)) if denom > 0 else 0.0
    return (1.0 + rho) / (1.0 - rho)


def _interruptible_share(y: np.ndarray, yi: np.ndarray, how: np.ndarray) -> np.ndarray:
    """Share of demand that was interruptible, per hour of the week (the overall share
    where an hour of the week saw no demand)."""
    ok = ~np.isnan(y) & ~np.isnan(yi)
    dem = np.bincount(how[ok], y[ok], WEEK_HOURS)
    inter = np.bincount(how[ok], np.minimum(yi[ok], y[ok]), WEEK_HOURS)
    overall = inter.sum() / dem.sum() if dem.sum() > 0 else 0.0
    share = np.divide(inter, dem, out=np.full(WEEK_HOURS, overall), where=dem > 0)
    return np.clip(share, 0.0, 1.0)
