"""Statistics of the forecast's error band (solver/forecast.py): Student's t quantiles, the
variance of the level's error by lead time fitted to rolling-origin errors, the i.i.d. day
noise inside it, and day means of residuals with their persistence."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

ANCHOR_DAYS = 7
MIN_DAY_HOURS = 12  # a day enters a spread or error estimate with at least this many observed hours
VARIANCE_ITERATIONS = 4


def student_t_quantile(q: float, dof: float) -> float:
    """The q-quantile of Student's t with ``dof`` degrees of freedom, by the Cornish-Fisher
    expansion around the normal quantile (Abramowitz and Stegun 26.7.5). Against the
    exact values: within 0.3% for dof >= 4 and 0.025 <= q <= 0.975, within 2% for
    dof >= 5 and 0.001 <= q <= 0.999 (the calibration uses dof 5 or 6)."""
    z = NormalDist().inv_cdf(q)
    return (z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * dof ** 3))


def day_noise(steps: np.ndarray, c0: float, c1: float) -> float:
    """s2, the i.i.d. part of c0, from the error steps between consecutive days of an
    origin: E[step^2] = c1 + 2 s2; at most c0 x 7 / 8. No step scored: 0 (all persistent)."""
    if not len(steps):
        return 0.0
    return float(np.clip((float(steps @ steps) / len(steps) - c1) / 2, 0.0, c0 * ANCHOR_DAYS / (ANCHOR_DAYS + 1)))


def variance_by_lead(h_days: np.ndarray, sq_errors: np.ndarray) -> tuple[float, float]:
    """(c0, c1 >= 0) of E[e^2] = c0 + c1 h, by least squares weighted by 1 / (c0 + c1 h)^2
    (the variance of a squared normal error is 2 sigma^4), iterated from equal weights."""
    if len(h_days) == 0:
        return 0.0, 0.0
    w = np.ones_like(h_days)
    c0, c1 = float(sq_errors.mean()), 0.0
    for _ in range(VARIANCE_ITERATIONS):
        c0, c1 = nonnegative_line(h_days, sq_errors, w)
        var = c0 + c1 * h_days
        if not (var > 0).all():
            break
        w = (var.max() / var) ** 2     # scale-free: 1 / var^2 underflows for tiny demand levels
        if not np.isfinite(w).all():
            break
    return c0, c1


def nonnegative_line(h: np.ndarray, e2: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = w.sum()
    hm, em = (w @ h) / sw, (w @ e2) / sw
    sxx = float(w @ (h - hm) ** 2)
    c1 = float(w @ ((h - hm) * (e2 - em))) / sxx if sxx > 0 else 0.0
    c0 = em - c1 * hm
    if c1 < 0:
        return float(em), 0.0
    if c0 < 0:
        return 0.0, float((w * e2) @ h / ((w * h) @ h))
    return float(c0), c1


def day_means(resid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean residual, mean t) of the days with at least MIN_DAY_HOURS observed hours."""
    day = np.floor(t / 24).astype(int)
    day -= day.min()
    ok = ~np.isnan(resid)
    if not ok.any():
        return np.zeros(0), np.zeros(0)
    n_hours = np.bincount(day[ok], minlength=day.max() + 1)
    full = n_hours >= MIN_DAY_HOURS
    return (np.bincount(day[ok], resid[ok], minlength=day.max() + 1)[full] / n_hours[full],
            np.bincount(day[ok], t[ok], minlength=day.max() + 1)[full] / n_hours[full])


def persistence(day_means: np.ndarray) -> float:
    """(1 + rho) / (1 - rho) for the lag-1 autocorrelation rho of the day-mean residuals
    (clipped to [0, 0.9]): day levels that wander for days hold less information about the
    slope than independent days, so its standard error grows by the square root of this."""
    if len(day_means) < 4:
        return 1.0
    a, b = day_means[:-1], day_means[1:]
    denom = float(np.sqrt((a @ a) * (b @ b)))
    rho = float(np.clip((a @ b) / denom, 0.0, 0.9)) if denom > 0 else 0.0
    return (1.0 + rho) / (1.0 - rho)


def fleet_drift(calibrated: list, t_future: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(the median over ``calibrated`` = [(band, level, mean level)] of each family's level
    variance v(h) + (se x damped(h))^2 divided by its mean level squared, at each future
    hour; how many families) or None without any: the drift a young family's own few days
    cannot show, borrowed from the fleet's rolling-origin errors (solver/forecast.py's
    docstring). ``band``: its ``variance`` and ``slope_se``; ``level``: ``span_hours`` and
    ``damped``."""
    if not calibrated:
        return None
    h = np.maximum(t_future, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # a level so small its square is 0
        rel = [(b.variance(h / 24, lv.span_hours / 24) + (b.slope_se * lv.damped(h)) ** 2) / (m * m)
               for b, lv, m in calibrated]
    rel = [r for r in rel if np.isfinite(r).all()]
    return (np.median(np.vstack(rel), axis=0), len(rel)) if rel else None


def in_sample_spread(level) -> tuple[np.ndarray, float]:
    """(day-mean residuals minus their median, standard error of the slope per hour) of a
    forecast level fit (solver/forecast.py ``_Level``).

    In-sample residuals understate out-of-sample errors by the parameters the model spent
    on day levels (``day_params``: 7 day-of-week levels of the weekly profile, + 1 for a
    slope): the deviations are scaled by sqrt((n + p) / (n - p)) over n days, the ratio of
    the variance of a new day's error, s^2 (1 + p/n), to the expected in-sample residual
    variance, s^2 (1 - p/n). With fewer than p + 2 days the weekly model cannot be judged
    by its own residuals and a straight line's residuals stand in (p = 2)."""
    means, centers = day_means(level.resid, level.t)
    p = level.day_params
    if len(means) < p + 2:
        obs = ~np.isnan(level.resid)
        y = level.resid + level.season[level.how] + level.slope_per_hour * level.t
        line = np.full(len(y), np.nan)
        if obs.sum() > 1:
            line[obs] = y[obs] - np.polyval(np.polyfit(level.t[obs], y[obs], 1), level.t[obs])
        means, centers = day_means(line, level.t)
        p = 2
        if len(means) < p + 2:
            return np.zeros(1), 0.0
    deviations = (means - np.median(means)) * np.sqrt((len(means) + p) / (len(means) - p))
    se = 0.0
    sxx = float(((centers - centers.mean()) ** 2).sum())
    if level.slope_per_hour != 0.0 and sxx > 0:
        s_day = np.sqrt(float(means @ means) / (len(means) - p))
        se = s_day / np.sqrt(sxx) * np.sqrt(persistence(means))
    return deviations, se
