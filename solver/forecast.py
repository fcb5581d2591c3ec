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

Each path is a trajectory, ``max(0, level(t) + dev_p(h) + r(t)) x growth(h)`` (``h`` =
hours after the origin, the first hour after the history): ``dev_p`` shifts the *level* of
the whole path, ``r`` (the same in every path) gives it the history's day-to-day and
hour-to-hour variation around that level. The optimizer reads each path as one scenario of
the horizon (expected cost on each path's duration curve; the utilization floor, over the
horizon, on P50 and the conservative path), so P10 is a 1-in-10 *level* with realistic days
and hours, not the 1-in-10 day repeated every day: that path would be far more adverse than
a 1-in-10 outcome of the horizon, whose months average the day noise out. Hence the band
holds only the persistent error (the anchored level's error and its drift), and the i.i.d.
day noise is replayed, not banded. The P10-P90 band is meant to cover the mean of a week or
a month about 80% of the time; single days and hours fall outside it more often.

``level(t) = season(hour of week) + anchor + slope x damped(h)``
  - ``season`` and ``slope``: the OLS fit above. A span shorter than ``TREND_MIN_DAYS``
    (three weeks) gets no slope: with two observations of each hour of the week a slope
    is mostly noise. One shorter than ``MIN_HISTORY_DAYS`` gets a flat level (its mean).
  - ``anchor``: the mean residual of the fit over the last ``ANCHOR_DAYS`` (7) days of
    observed hours. A regression line's end is a weighted average of the whole window, so
    a step change inside the window is half averaged away; the anchor restarts the path
    from the level of the last week instead. A whole week, because a week's mean residual
    holds every hour of the week once and so does not alias the weekly profile; shorter
    windows follow the last days' noise.
  - ``damped(h) = tau x (1 - exp(-h / tau))`` with ``tau`` = the hours fitted (the span
    ``L``): Gardner and McKenzie's damped trend in continuous time (damping factor
    ``exp(-1 / L)`` per hour, ``exp(-24 / L)`` per day: 0.965 for a 4-week fit). It
    follows the fitted slope at first and saturates: the trend adds at most
    ``slope x L``, as much again as it moved over the fit, however long the horizon.
    Rule rather than estimate: a 3-4 week history cannot tell how long a slope will last,
    and it is not extrapolated further ahead than the history reaches back.

``r(t)``: the fit's own hourly residuals replayed week by week, aligned on the hour of the
  week (cycling through the fitted weeks), as two parts: each hour's deviation from its
  day's mean (the troughs inside a day a committed floor must survive) and each day's
  deviation from its week's mean (days with ``MIN_DAY_HOURS`` observed hours, scaled by
  ``sqrt(k / (k - 1))`` over the week's ``k`` such days, which restores the variance that
  removing the mean takes out). The week means are left out: week-to-week changes of the
  residuals are level changes, which the anchor and the band already carry (replayed too,
  they would count twice). Each replayed week's day deviations sum to zero, so a path's
  weekly mean is its level. Hours and days a week lacks take those of the nearest week.

``dev_p(h)``: the level shift of path ``p`` (0 for P50), ``t_p x sqrt(v(h))``, ``v(h)`` the
  variance of the level's error ``h`` days ahead, measured on the history by rolling origins:
  - the forecaster as it would have run at each of up to ``MAX_ORIGINS`` (8) origins,
    whole days before the real one, spread evenly over the family's history inside the
    lookback window (the first needs ``MIN_HISTORY_DAYS`` of the family's observed hours
    before it): same anchor, damping and family rules, fitted on the window's hours
    before that origin. The lookback window bounds the calibration as it bounds the fit:
    a regime the user chose to leave out of the fit does not widen the band either;
  - each origin's day-mean errors ``e(h)`` (days with at least ``MIN_DAY_HOURS`` observed
    hours) at every lead up to the real origin, P50 level against the actual day mean;
  - ``E[e(h)^2] = c0 + c1 x h`` (``h`` in days, ``c0, c1 >= 0``) fitted to the squared
    errors by least squares weighted by ``1 / (c0 + c1 h)^2`` (a squared normal error has
    variance ``2 sigma^4``; iterated from equal weights): a local level model, day noise
    plus a level that drifts as a random walk. Root mean square, not a centred spread: an
    in-sample bias widens the band;
  - the split: ``e(h) = lambda(h) + eps``, a persistent part (the anchored level's error,
    variance ``a``, plus the drift, ``c1 h``) and i.i.d. day noise of variance ``s2``, so
    ``c0 = a + s2``. Two consecutive days of one origin differ by one day of drift and two
    noises, ``E[(e(h + 1) - e(h))^2] = c1 + 2 s2``: ``s2`` = (mean squared step - c1) / 2,
    clipped to ``[0, c0 x 7 / 8]`` (the anchor averages a week of the noise, so even pure
    day noise leaves ``a >= s2 / 7 = c0 / 8``). Day levels scattered i.i.d. give ``a`` near
    ``c0 / 8``; a random walk gives ``a`` near ``c0`` (a week's mean lags the walk's current
    level by about ``2 c1``, and there is little noise to remove). Not taken: ``c0 / 7``
    alone misses that lag; the mean error of each origin's first week rests on at most 8
    numbers and holds a week of noise too;
  - ``v(h) = a + c1 h`` up to ``H``, the longest lead scored; beyond it ``v(H) x (L + h) /
    (L + H)`` (``L`` = the days fitted): the old rule's square-root growth continued from
    what was measured. A few weeks of leads cannot show drift slower than that, so a
    measured absence of drift is not extrapolated over a year; a year ahead is an
    extrapolation of what a few weeks showed, nothing more;
  - ``t_p``: the p-quantile of Student's t with ``origins - 2`` degrees of freedom, not
    the normal one: errors of one origin share its level error, so the variance rests
    on about one independent error per origin, less the two fitted parameters.
    Empirical quantiles are not used: a few dozen overlapping errors cannot place a 10%
    quantile.
  Origins whose span was under three weeks fitted no slope, so their errors hold nothing
  of the slope's uncertainty; when the final fit has a slope and some origin did not,
  ``t_p x se(slope) x damped(h)`` is added in quadrature (``se``: from the final fit's
  day-mean residuals, inflated for their lag-1 autocorrelation; bounded, as the damped
  trend is).

  Fallback, when the family's observed history is shorter than ``MIN_HISTORY_DAYS +
  CALIBRATION_MIN_DAYS`` (two weeks: not one week can be scored after the first origin):
  ``q_p x sqrt(1 / n + h / L)`` in quadrature with ``z_p x se(slope) x damped(h)``, where
  ``q_p`` is the p-quantile of the in-sample day-mean residuals (centred on their median,
  scaled up for the parameters spent on day levels) and ``n`` the days the anchor averages
  (7, or the span). It is the old day-level rule ``q_p x sqrt(1 + h / L)`` read the same
  way: of ``q^2 (1 + h / L)``, ``q^2`` is day noise (now replayed) and ``q^2 h / L`` drift;
  the anchor's error ``q^2 / n`` is added. ``Forecast.notes`` names the families.

So P10 <= P50 <= P90 at every hour (one ``r`` for all paths, ``max(0, .)`` monotone) and
the band widens with the horizon. A history the
forecaster would have predicted exactly from every origin (a noiseless weekly profile)
gives three equal paths; a noiseless straight line does not: the damped trend falls
short of it, the rolling origins measure by how much, and the band says so.

The interruptible share of each path is the family's hour-of-week share in the history.

Families: one with no demand in the last ``VANISHED_AFTER_DAYS`` days it was observed (its own
observed hours after its last demand: masked ones do not count) forecasts zero; one that
started inside the window is fitted on its own span (from its first non-zero hour). One with under ``MIN_HISTORY_DAYS`` of observed demand of its own (and
none before the lookback window: a short window on an old family is not news) gets its mean level
as P50, zero for the paths below the median and twice the P50 for those above it: a few
days cannot tell whether a workload stays, and the weighted mean of P10 / P50 / P90 stays
the P50 (0.3 x 0 + 0.4 x m + 0.3 x 2m = m). One younger than ``TREND_MIN_DAYS`` (three
weeks: too young for a trend of its own) cannot show either how its level drifts over
months, and a flat week would give it no band at all; its shift is at least ``z_p x
sqrt(V(h)) x m`` (``m`` its mean level, ``V(h)`` the median over the families with a
span of three weeks or more and a rolling-origin band of ``v(h) + (se x damped(h))^2``
divided by their mean level squared): the fleet's drift, relative to level. Without such
a family it keeps its own band. Gaps (NaN, masked hours) are left out of every fit and every score, never
read as zero. A history with less than ``MIN_HISTORY_DAYS`` of observed hours is refused
(use replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from gpuladder.errors import DomainError
from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.solver.forecast_stats import (  # noqa: F401 - student_t_quantile: part of this module's API
    ANCHOR_DAYS, MIN_DAY_HOURS, day_noise, fleet_drift, in_sample_spread, variance_by_lead,
    student_t_quantile)
from gpuladder.units import HOUR, add_months, hourly_index
from gpuladder.usage.history import DemandProfile

PATH_QUANTILES = (("P10", 0.10, 0.3), ("P50", 0.50, 0.4), ("P90", 0.90, 0.3))  # name, quantile, weight
MIN_HISTORY_DAYS = 7
NEW_FAMILY_PATHS = ("under a week of its own demand: the paths below the median are zero and those above it twice "
                    "its mean level (it may stop or double)")
NEW_FAMILY_NOTE = NEW_FAMILY_PATHS + ", so nothing is committed to it on the conservative path"
NEW_FAMILY_UNGUARDED_NOTE = NEW_FAMILY_PATHS + (
    ", but forecast.conservative_quantile is {cq}, so the utilization floor holds on P50 alone and the plan may "
    "commit to its mean level for a whole term; with --set forecast.conservative_quantile=0.1 the floor commits "
    "nothing to it")
TREND_MIN_DAYS = 21
SHORT_LOOKBACK_DAYS = 28   # a lookback under four weeks, with older history left out, is noted
VANISHED_AFTER_DAYS = 7
CALIBRATION_MIN_DAYS = 7  # days to score after the first rolling origin
MAX_ORIGINS = 8
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
    are, and a horizon that overlaps the usage but runs past either end repeats it on its
    own clock (the hour one usage length later or earlier); a horizon that lies wholly
    elsewhere has the usage laid from its start and repeated. Masked hours (NaN) take the
    value of the same hour one week earlier or later where there is one, else zero."""
    demand = profile.demand_instances
    inter = profile.interruptible_instances
    if demand.empty:
        raise DomainError("no usage to replay")
    hours = hourly_index(demand.index[0], demand.index[-1] + HOUR)  # an hour without a row is masked
    demand, inter = _fill_masked(demand.reindex(hours)), _fill_masked(inter.reindex(hours))
    if index[0] <= demand.index[-1] and index[-1] >= demand.index[0]:
        pos = np.floor(((index - demand.index[0]) / HOUR).to_numpy(dtype=float)).astype(int) % len(demand)
    else:
        pos = np.arange(len(index)) % len(demand)
    d = pd.DataFrame(demand.to_numpy()[pos], index=index, columns=demand.columns)
    i = np.minimum(pd.DataFrame(inter.to_numpy()[pos], index=index, columns=demand.columns), d)
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
class _Level:
    """One family's point forecast, fitted on its span; ``t`` is in hours from the origin
    of this fit (the hour after its last history hour)."""

    season: np.ndarray          # (168,) value at t = 0 for each hour of the week
    slope_per_hour: float
    anchor: float               # mean residual of the last ANCHOR_DAYS of observed hours
    resid: np.ndarray           # y - (season + slope x t) on the span, NaN where masked
    t: np.ndarray               # the span's hours
    how: np.ndarray
    span_hours: float
    day_params: int             # parameters the fit spent on day levels
    note: str

    @property
    def anchor_days(self) -> float:
        """Days the anchor averages (a week, or the whole span if shorter)."""
        return float(np.clip(self.span_hours / 24, 1.0, ANCHOR_DAYS))

    def at(self, t: np.ndarray, how: np.ndarray) -> np.ndarray:
        """level(t): the fit before the origin, anchored and damped after it."""
        return self.season[how] + self.slope_per_hour * self.damped(t) + np.where(t >= 0, self.anchor, 0.0)

    def damped(self, t: np.ndarray) -> np.ndarray:
        tau = self.span_hours
        return np.where(t >= 0, -tau * np.expm1(-np.maximum(t, 0.0) / tau), t)


@dataclass(frozen=True)
class _Band:
    """dev_q(h), the level shift of a path: calibrated, or the in-sample fallback
    (``day_deviations`` set); see the module docstring."""

    level_c0: float                           # variance of the anchored level's error at lead 0
    c1_per_day: float                         # drift of the level, variance per day of lead
    measured_days: float                      # the longest lead the calibration scored
    dof: float
    slope_se: float                           # per hour; 0 when the origins' errors hold the slope's
    day_deviations: np.ndarray | None = None  # fallback: in-sample day-mean residuals

    def shift(self, q: float, t: np.ndarray, level: _Level) -> np.ndarray:
        """dev_q(t), t in hours from the origin."""
        if q == 0.5:
            return np.zeros_like(t)
        h = np.maximum(t, 0.0)
        if self.day_deviations is None:
            t_q = student_t_quantile(q, self.dof)
            return np.sign(t_q) * np.sqrt(t_q * t_q * (self.variance(h / 24, level.span_hours / 24)
                                                       + (self.slope_se * level.damped(h)) ** 2))
        z = NormalDist().inv_cdf(q)
        q_day = float(np.quantile(self.day_deviations, q))
        return np.sign(z) * np.sqrt(q_day ** 2 * (1.0 / level.anchor_days + h / level.span_hours)
                                    + (z * self.slope_se * level.damped(h)) ** 2)

    def variance(self, h_days: np.ndarray, span_days: float) -> np.ndarray:
        """v(h): the fitted line up to the longest lead measured, H; beyond it the variance
        at H grows in proportion to (L + h) / (L + H)."""
        at_h = self.level_c0 + self.c1_per_day * self.measured_days
        growth = (span_days + h_days) / (span_days + self.measured_days)
        return np.where(h_days <= self.measured_days, self.level_c0 + self.c1_per_day * h_days, at_h * growth)


def fit_forecast(profile: DemandProfile, spec: ForecastSpec, index: pd.DatetimeIndex) -> Forecast:
    """``seasonal`` or ``trend`` forecast over ``index`` (see the module docstring)."""
    demand = profile.demand_instances
    observed = demand.notna().any(axis=1).to_numpy()
    n_obs = int(observed.sum())
    if n_obs < MIN_HISTORY_DAYS * 24:
        raise DomainError(
            f"the usage history holds {n_obs} observed hour(s) ({_days_text(n_obs)} days); a {spec.method} "
            f"forecast needs at least {MIN_HISTORY_DAYS} days. You can fix this by giving more history "
            "or by planning on the history itself: --set forecast.method=replay.")
    origin = profile.index[-1] + HOUR
    keep = profile.index >= origin - pd.Timedelta(days=spec.lookback_days)
    hist_index = profile.index[keep]
    history = _History(((hist_index - origin) / HOUR).to_numpy(), *hour_of_week(hist_index),
                       spec.lookback_days * 24.0, spec.method)
    t_future = ((index - origin) / HOUR).to_numpy()
    how_future, week_future = hour_of_week(index)
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
    notes = []
    new_note = NEW_FAMILY_NOTE if cq is not None and cq < 0.5 else NEW_FAMILY_UNGUARDED_NOTE.format(
        cq="null" if cq is None else f"{cq:g}")
    history_days = (origin - profile.index[0]) / pd.Timedelta(days=1)
    if spec.lookback_days < SHORT_LOOKBACK_DAYS and history_days > spec.lookback_days:
        notes.append(f"lookback_days is {spec.lookback_days}, so the fit sees {spec.lookback_days} of the "
                     f"{history_days:.0f} days of history: too few for a trend ({TREND_MIN_DAYS} days) or a band "
                     f"calibrated on several weeks of its own errors; --set forecast.lookback_days="
                     f"{min(int(np.ceil(history_days)), 90)} uses more (bench/README.md, forecast calibration)")
    out = {name: np.zeros((len(families), len(index))) for name, _, _ in quantiles}  # family-major
    inter_out = {name: np.zeros((len(families), len(index))) for name, _, _ in quantiles}
    fits = []
    for j, fam in enumerate(families):
        y = demand[fam].to_numpy(dtype=float)[keep]
        fitted = history.fit_at(y, 0.0)
        if fitted is None:
            notes.append(f"{fam}: no demand in the last {VANISHED_AFTER_DAYS} observed days; forecast zero")
            continue
        level, span = fitted
        # new: under a week of observed demand of its own, and none before the lookback window
        # (an old family seen through a short window or a gap keeps its band)
        new = (np.count_nonzero(~np.isnan(y[span])) < MIN_HISTORY_DAYS * 24
               and not (np.nan_to_num(demand[fam].to_numpy(dtype=float)[~keep]) > 0).any())
        band, band_note = (None, new_note) if new else history.band(y, level)
        notes += [f"{fam}: {n}" for n in (level.note, band_note) if n]
        base = level.at(t_future, how_future)
        weeks, first_week = _residual_weeks(level.resid, history.how[span], history.week[span])
        base = base + weeks[(week_future - first_week) % weeks.shape[0], how_future]
        yi = profile.interruptible_instances[fam].to_numpy(dtype=float)[keep][span]
        share = _interruptible_share(y[span], yi, history.how[span])[how_future]
        fits.append((j, fam, level, band, base, share, float(np.nanmean(y[span]))))
    fleet = fleet_drift([(b, lv, m) for _, _, lv, b, _, _, m in fits if b is not None and b.day_deviations is None
                         and lv.span_hours >= TREND_MIN_DAYS * 24 and m > 0], t_future)
    for j, fam, level, band, base, share, mean in fits:
        young = fleet is not None and band is not None and level.span_hours < TREND_MIN_DAYS * 24
        widened = False
        for name, q, _ in quantiles:
            if band is None:
                path = np.maximum(base, 0.0) * (0.0 if q < 0.5 else 1.0 if q == 0.5 else 2.0) * growth
            else:
                shift = band.shift(q, t_future, level)
                if young:
                    pooled = NormalDist().inv_cdf(q) * np.sqrt(fleet[0]) * mean
                    wider = np.abs(pooled) > np.abs(shift)
                    widened |= bool(wider[t_future >= 0].any())
                    shift = np.where(wider, pooled, shift)
                path = np.maximum(base + shift, 0.0) * growth
            out[name][j] = path
            inter_out[name][j] = share * path
        if widened:
            notes.append(f"{fam}: its own history is too short to show drift over the horizon; its band is at "
                         f"least the fleet's drift relative to level (median of {fleet[1]} "
                         f"{'family' if fleet[1] == 1 else 'families'} with calibrated bands)")
    paths = tuple(
        DemandPath(name, weight, pd.DataFrame(out[name].T, index=index, columns=families, copy=False),
                   pd.DataFrame(inter_out[name].T, index=index, columns=families, copy=False))
        for name, _, weight in quantiles)
    return Forecast(spec.method, paths, expected="P50", conservative=conservative, notes=tuple(notes))


@dataclass(frozen=True)
class _History:
    """The hours a forecast may look at, the last ``lookback_days`` (t in hours from the
    real origin, < 0), shared by the families; a family's demand is passed as an array
    over the same hours."""

    t: np.ndarray
    how: np.ndarray
    week: np.ndarray
    lookback_hours: float
    method: str

    def fit_at(self, y: np.ndarray, origin: float) -> tuple[_Level, np.ndarray] | None:
        """The forecaster as it would have run with its origin at ``origin``: (its level
        fit, the positions of the hours it fitted), or None if the family had vanished."""
        window = np.flatnonzero((self.t >= origin - self.lookback_hours) & (self.t < origin))
        nonzero = np.flatnonzero(np.nan_to_num(y[window]) > 0)
        if not len(nonzero):
            return None
        absent_hours = np.count_nonzero(~np.isnan(y[window[nonzero[-1] + 1:]]))  # masked hours are not absence
        if absent_hours >= VANISHED_AFTER_DAYS * 24:
            return None
        span = window[nonzero[0]:]
        return _fit_level(y[span], self.t[span] - origin, self.how[span], self.method), span

    def band(self, y: np.ndarray, level: _Level) -> tuple[_Band, str]:
        """The band of a family whose final fit is ``level``: rolling-origin calibrated,
        or the in-sample fallback (with a note)."""
        seen = ~np.isnan(y) & (np.cumsum(np.nan_to_num(y) > 0) > 0)  # observed, from the first demand on
        ready = np.flatnonzero(np.cumsum(seen) >= MIN_HISTORY_DAYS * 24)
        k_max = int(-self.t[ready[0]] // 24) if len(ready) else 0  # whole days after the first usable origin
        if k_max < CALIBRATION_MIN_DAYS:
            need = MIN_HISTORY_DAYS + CALIBRATION_MIN_DAYS
            return _in_sample_band(level, f"{_days_text(seen.sum())} days of observed history, too short for "
                                          f"rolling-origin calibration (needs {need})")
        all_sloped = True
        leads, errors, steps = [], [], []
        origins = np.unique(np.round(np.linspace(1, k_max, MAX_ORIGINS)).astype(int))
        for k in origins:
            origin = -24.0 * k
            fitted = self.fit_at(y, origin)
            ahead = np.flatnonzero((self.t >= origin) & ~np.isnan(y))
            t_ahead = self.t[ahead] - origin
            pred = 0.0 if fitted is None else np.maximum(fitted[0].at(t_ahead, self.how[ahead]), 0.0)
            all_sloped &= fitted is not None and fitted[0].slope_per_hour != 0.0
            day = (t_ahead // 24).astype(int)
            n_hours = np.bincount(day)
            full = n_hours >= MIN_DAY_HOURS
            errors.append(np.bincount(day, y[ahead] - pred)[full] / n_hours[full])
            leads.append(np.flatnonzero(full) + 0.5)
            steps.append(np.diff(errors[-1])[np.diff(leads[-1]) == 1])
        leads = np.concatenate(leads)
        if not len(leads):   # every hour after the usable origins masked: nothing to score
            return _in_sample_band(level, "no whole observed day after any rolling origin to score it on")
        c0, c1 = variance_by_lead(leads, np.concatenate(errors) ** 2)
        noise = day_noise(np.concatenate(steps), c0, c1)
        se = 0.0 if all_sloped or level.slope_per_hour == 0.0 else in_sample_spread(level)[1]
        return _Band(c0 - noise, c1, float(leads.max()), max(len(origins) - 2, 1), se), ""


def _in_sample_band(level: _Level, why: str) -> tuple[_Band, str]:
    deviations, se = in_sample_spread(level)
    return _Band(0.0, 0.0, 0.0, 0.0, se, deviations), f"{why}; P10/P90 from the in-sample day-mean residuals"


def _fit_level(y: np.ndarray, t: np.ndarray, how: np.ndarray, method: str) -> _Level:
    """Fit one family on its span (y may hold NaN for masked hours; t < 0)."""
    obs = ~np.isnan(y)
    yo, to, ho = y[obs], t[obs], how[obs]
    span_hours = float(t[-1] - t[0] + 1)
    span_days = span_hours / 24
    note = ""
    season = np.zeros(WEEK_HOURS)
    slope = 0.0
    if span_days < MIN_HISTORY_DAYS:
        season[:] = yo.mean()
        note = f"only {_days_text(span_hours)} days of demand; forecast at its mean level, no trend"
    elif method == "trend":
        if span_days >= TREND_MIN_DAYS:
            slope, level = np.polyfit(to, yo, 1)
        else:
            level = yo.mean()
            note = f"only {_days_text(span_hours)} days of demand; level without trend"
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
            note = f"only {_days_text(span_hours)} days of demand; weekly profile without trend"
        season = np.interp(np.arange(WEEK_HOURS), np.flatnonzero(seen), y_mean - slope * t_mean,
                           period=WEEK_HOURS)
    resid = np.full(len(y), np.nan)
    resid[obs] = yo - (season[ho] + slope * to)
    anchor = float(resid[obs][-ANCHOR_DAYS * 24:].mean())
    day_params = 1 if span_days < MIN_HISTORY_DAYS else 2 if method == "trend" else 7 + (slope != 0.0)
    return _Level(season, float(slope), anchor, resid, t, how, span_hours, day_params, note)


def _days_text(n_hours: float) -> str:
    """Hours as days rounded down to a tenth: 167 h is 6.9 days, not the 7.0 a limit of 7 days refuses."""
    return f"{np.floor(n_hours / 24 * 10 + 1e-9) / 10:.1f}"


def _residual_weeks(resid: np.ndarray, how: np.ndarray, week: np.ndarray) -> tuple[np.ndarray, int]:
    """``r`` as (week, hour of week): within-day deviations plus the day deviations from
    the week's mean (module docstring), each week's day deviations summing to zero."""
    first = int(week[0])
    n_weeks = int(week[-1]) - first + 1
    grid = np.full((n_weeks, WEEK_HOURS), np.nan)
    grid[week - first, how] = resid
    days = grid.reshape(n_weeks, 7, 24)
    n = (~np.isnan(days)).sum(axis=2)
    day_mean = np.divide(np.nansum(days, axis=2), n, out=np.zeros(n.shape), where=n > 0)
    within = _fill_weeks((days - day_mean[:, :, None]).reshape(n_weeks, WEEK_HOURS))
    counted = n >= MIN_DAY_HOURS
    k = counted.sum(axis=1, keepdims=True)
    week_mean = np.divide(np.where(counted, day_mean, 0.0).sum(axis=1, keepdims=True), k,
                          out=np.zeros(k.shape), where=k > 0)
    scale = np.sqrt(np.divide(k, k - 1, out=np.zeros(k.shape), where=k > 1))
    day_dev = _fill_weeks(np.where(counted & (k > 1), (day_mean - week_mean) * scale, np.nan))
    day_dev = day_dev - day_dev.mean(axis=1, keepdims=True)
    return within + np.repeat(day_dev, 24, axis=1), first


def _fill_weeks(grid: np.ndarray) -> np.ndarray:
    """NaN cells of a (week, slot) grid take the same slot of the nearest earlier week that
    has one, else of the nearest later one, else 0."""
    return pd.DataFrame(grid).ffill().bfill().fillna(0.0).to_numpy()


def _interruptible_share(y: np.ndarray, yi: np.ndarray, how: np.ndarray) -> np.ndarray:
    """Share of demand that was interruptible, per hour of the week (the overall share
    where an hour of the week saw no demand)."""
    ok = ~np.isnan(y) & ~np.isnan(yi)
    dem = np.bincount(how[ok], y[ok], WEEK_HOURS)
    inter = np.bincount(how[ok], np.minimum(yi[ok], y[ok]), WEEK_HOURS)
    overall = inter.sum() / dem.sum() if dem.sum() > 0 else 0.0
    share = np.divide(inter, dem, out=np.full(WEEK_HOURS, overall), where=dem > 0)
    return np.clip(share, 0.0, 1.0)
