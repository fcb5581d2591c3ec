"""Forecast methods: replay, seasonal, trend (solver/forecast.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuladder.errors import DomainError
from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.solver.forecast import MEAN_MONTH_HOURS, hour_of_week, make_forecast
from gpuladder.usage.history import profile_from_frames

FAM = "aws/us-east-1/p5.48xlarge"
FAM2 = "gcp/us-central1/a3-highgpu-8g"
START = pd.Timestamp("2025-11-03T00:00Z")  # a Monday


def hours(days: int, start: pd.Timestamp = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=days * 24, freq="h", tz="UTC")


def weekly_pattern(index: pd.DatetimeIndex) -> np.ndarray:
    """10 instances on weekdays with a +/-3 daily swing, 6 fewer on weekends."""
    how, _ = hour_of_week(index)
    day, hour = how // 24, how % 24
    return 10 + 3 * np.sin(2 * np.pi * hour / 24) - 6 * (day >= 5)


def profile(columns: dict, index: pd.DatetimeIndex, inter_share: float | dict = 0.0):
    demand = pd.DataFrame(columns, index=index)
    if isinstance(inter_share, dict):
        inter = pd.DataFrame({f: demand[f] * s for f, s in inter_share.items()}, index=index)
    else:
        inter = demand * inter_share
    return profile_from_frames(demand, inter)


def spec(method="seasonal", lookback_days=90, growth=0.0, cq=0.10) -> ForecastSpec:
    return ForecastSpec(method, lookback_days, growth, cq)


def band(fc, fam=FAM) -> pd.Series:
    return fc.path("P90").demand_instances[fam] - fc.path("P10").demand_instances[fam]


def test_seasonal_recovers_a_noise_free_weekly_pattern_and_trend_exactly():
    idx = hours(8 * 7)
    slope = 0.002  # instances per hour
    t = np.arange(len(idx))
    fc = make_forecast(profile({FAM: weekly_pattern(idx) + slope * t}, idx), spec(), Horizon(None, 3))
    future_t = len(idx) + np.arange(len(fc.index))
    truth = weekly_pattern(fc.index) + slope * future_t
    assert fc.index[0] == idx[-1] + pd.Timedelta(hours=1)
    for name in ("P10", "P50", "P90"):  # no residuals: no uncertainty
        np.testing.assert_allclose(fc.path(name).demand_instances[FAM], truth, atol=1e-6)


def test_seasonal_recovers_pattern_and_trend_through_noise():
    rng = np.random.default_rng(7)
    idx = hours(12 * 7)
    t = np.arange(len(idx))
    y = weekly_pattern(idx) + 0.003 * t + rng.normal(0, 0.5, len(idx))
    fc = make_forecast(profile({FAM: y}, idx), spec(), Horizon(None, 2))
    p50 = fc.path("P50").demand_instances[FAM].to_numpy()
    truth = weekly_pattern(fc.index) + 0.003 * (len(idx) + np.arange(len(fc.index)))
    weeks = len(fc.index) // 168
    err_by_week = (p50 - truth)[:weeks * 168].reshape(weeks, 168).mean(axis=1)
    assert np.abs(err_by_week).max() < 0.25          # level and trend within 0.25 instances
    profile_err = (p50 - truth)[:4 * 168].reshape(4, 168).mean(axis=0)
    assert np.abs(profile_err).mean() < 0.3          # the hour-of-week shape is kept


def test_trend_method_fits_level_and_slope_without_seasonality():
    idx = hours(30)
    fc = make_forecast(profile({FAM: 20 - 0.01 * np.arange(len(idx))}, idx), spec("trend"), Horizon(None, 1))
    expected = 20 - 0.01 * (len(idx) + np.arange(len(fc.index)))
    np.testing.assert_allclose(fc.path("P50").demand_instances[FAM], np.maximum(expected, 0), atol=1e-6)


def noisy_history(scale: float, seed: int = 3, days: int = 70):
    """Weekly pattern + trend + day-level wander + hourly noise, all scaled by ``scale``."""
    rng = np.random.default_rng(seed)
    idx = hours(days)
    day_level = np.repeat(rng.normal(0, 1.0, days), 24)
    noise = day_level + rng.normal(0, 0.5, len(idx))
    return idx, 40 + weekly_pattern(idx) + 0.001 * np.arange(len(idx)), noise * scale


def test_bands_widen_with_the_horizon():
    idx, signal, noise = noisy_history(1.0)
    fc = make_forecast(profile({FAM: signal + noise}, idx), spec(), Horizon(None, 12))
    width = band(fc)
    month = int(MEAN_MONTH_HOURS)
    assert width.iloc[-month:].mean() > 1.5 * width.iloc[:month].mean() > 0
    assert (np.diff(width.to_numpy()) >= -1e-9).all()  # never narrows (no clipping at this level)


def test_band_width_comes_from_the_history_residuals():
    idx, signal, noise = noisy_history(1.0)
    h = Horizon(None, 6)
    w1 = band(make_forecast(profile({FAM: signal + noise}, idx), spec(), h))
    w2 = band(make_forecast(profile({FAM: signal + 2 * noise}, idx), spec(), h))
    np.testing.assert_allclose(w2, 2 * w1, rtol=1e-6)  # twice the residuals, twice the band
    assert w1.iloc[0] > 0.5  # day-level wander of sd 1 shows: not a hard-coded factor of the level


def test_quantile_paths_are_ordered_and_weighted():
    idx, signal, noise = noisy_history(1.0)
    fc = make_forecast(profile({FAM: signal + noise}, idx), spec(cq=0.05), Horizon(None, 12))
    d = {p.name: p.demand_instances[FAM].to_numpy() for p in fc.paths}
    assert (d["P5"] <= d["P10"] + 1e-12).all() and (d["P10"] <= d["P50"]).all() and (d["P50"] <= d["P90"]).all()
    assert [(p.name, p.weight) for p in fc.paths] == [("P10", 0.3), ("P50", 0.4), ("P90", 0.3), ("P5", 0.0)]
    assert (fc.expected, fc.conservative) == ("P50", "P5")


@pytest.mark.parametrize("cq, conservative, names", [
    (None, None, ["P10", "P50", "P90"]),
    (0.10, "P10", ["P10", "P50", "P90"]),
    (0.5, "P50", ["P10", "P50", "P90"]),
    (0.025, "P2.5", ["P10", "P50", "P90", "P2.5"]),
])
def test_conservative_path(cq, conservative, names):
    idx, signal, noise = noisy_history(1.0, days=21)
    fc = make_forecast(profile({FAM: signal + noise}, idx), spec(cq=cq), Horizon(None, 1))
    assert fc.conservative == conservative and [p.name for p in fc.paths] == names


@pytest.mark.parametrize("method", ["seasonal", "trend", "replay"])
def test_growth_what_if_compounds_monthly(method):
    idx, signal, noise = noisy_history(1.0, days=28)
    prof = profile({FAM: signal + noise}, idx, 0.25)
    base = make_forecast(prof, spec(method), Horizon(None, 12))
    grown = make_forecast(prof, spec(method, growth=0.05), Horizon(None, 12))
    months = np.arange(len(base.index)) / MEAN_MONTH_HOURS  # origin = the first forecast hour here
    for b, g in zip(base.paths, grown.paths):
        np.testing.assert_allclose(g.demand_instances[FAM], b.demand_instances[FAM] * 1.05 ** months, rtol=1e-9)
        np.testing.assert_allclose(g.interruptible_instances[FAM],
                                   b.interruptible_instances[FAM] * 1.05 ** months, rtol=1e-9)
    last = base.path(base.expected).demand_instances[FAM].iloc[-168:]
    h = len(base.index) - 168 + int(np.argmax(last.to_numpy()))
    ratio = grown.path(base.expected).demand_instances[FAM].iloc[h] / base.path(base.expected).demand_instances[FAM].iloc[h]
    assert ratio == pytest.approx(1.05 ** (h / MEAN_MONTH_HOURS))  # about 1.05 ** 12 at the end


def test_masked_gap_does_not_pull_the_level_down():
    idx, signal, noise = noisy_history(1.0, days=42)
    y = signal + noise
    gap = (idx >= pd.Timestamp("2025-12-01T00:00Z")) & (idx < pd.Timestamp("2025-12-04T00:00Z"))
    masked = np.where(gap, np.nan, y)
    zeroed = np.where(gap, 0.0, y)
    h = Horizon(None, 3)
    full = make_forecast(profile({FAM: y}, idx), spec(), h).path("P50").demand_instances[FAM].mean()
    with_gap = make_forecast(profile({FAM: masked}, idx), spec(), h).path("P50").demand_instances[FAM].mean()
    as_zero = make_forecast(profile({FAM: zeroed}, idx), spec(), h).path("P50").demand_instances[FAM].mean()
    assert abs(with_gap - full) < 0.01 * full
    assert as_zero < full - 0.05 * full  # what reading the gap as zero would have done


def test_masked_hours_are_left_out_of_the_fit_exactly():
    """Noise-free: with a masked gap the fit is still exact (an all-zero gap would not be)."""
    idx = hours(28)
    y = weekly_pattern(idx) + 0.002 * np.arange(len(idx))
    y[100:160] = np.nan
    fc = make_forecast(profile({FAM: y}, idx), spec(), Horizon(None, 1))
    truth = weekly_pattern(fc.index) + 0.002 * (len(idx) + np.arange(len(fc.index)))
    np.testing.assert_allclose(fc.path("P50").demand_instances[FAM], truth, atol=1e-6)


@pytest.mark.parametrize("method", ["seasonal", "trend"])
def test_short_history_is_refused_unless_replay(method):
    idx = hours(6)
    prof = profile({FAM: weekly_pattern(idx)}, idx)
    with pytest.raises(DomainError, match=r"144 observed hour\(s\) \(6.0 days\).*at least 7 days.*forecast.method=replay"):
        make_forecast(prof, spec(method), Horizon(None, 1))
    fc = make_forecast(prof, spec("replay"), Horizon(None, 1))
    assert fc.paths[0].demand_instances[FAM].sum() > 0


def test_masked_hours_do_not_count_as_history():
    idx = hours(9)
    y = weekly_pattern(idx).astype(float)
    y[:3 * 24] = np.nan
    with pytest.raises(DomainError, match="at least 7 days"):
        make_forecast(profile({FAM: y}, idx), spec(), Horizon(None, 1))


def test_vanished_family_forecasts_zero_and_recent_absence_does_not():
    idx = hours(35)
    live = weekly_pattern(idx)
    gone = np.where(np.arange(len(idx)) < len(idx) - 8 * 24, 5.0, 0.0)    # absent 8 days
    paused = np.where(np.arange(len(idx)) < len(idx) - 6 * 24, 5.0, 0.0)  # absent 6 days
    fc = make_forecast(profile({FAM: live, FAM2: gone, "aws/us-west-2/p4d.24xlarge": paused}, idx),
                       spec(), Horizon(None, 2))
    for p in fc.paths:
        assert (p.demand_instances[FAM2] == 0).all() and (p.interruptible_instances[FAM2] == 0).all()
    assert fc.path("P50").demand_instances["aws/us-west-2/p4d.24xlarge"].sum() > 0
    assert any(n.startswith(FAM2) and "forecast zero" in n for n in fc.notes)


def test_family_that_appeared_recently_is_fitted_on_its_own_span():
    idx = hours(60)
    t = np.arange(len(idx))
    new = np.where(t >= len(idx) - 20 * 24, weekly_pattern(idx) + 5, 0.0)  # started 20 days ago
    fc = make_forecast(profile({FAM: weekly_pattern(idx), FAM2: new}, idx), spec(), Horizon(None, 1))
    np.testing.assert_allclose(fc.path("P50").demand_instances[FAM2], weekly_pattern(fc.index) + 5, atol=1e-6)


def test_family_with_a_few_days_gets_its_mean_level():
    idx = hours(30)
    t = np.arange(len(idx))
    new = np.where(t >= len(idx) - 3 * 24, 4.0 + (t % 2), 0.0)  # 3 days alternating 4, 5
    fc = make_forecast(profile({FAM: weekly_pattern(idx), FAM2: new}, idx), spec(), Horizon(None, 1))
    p50 = fc.path("P50").demand_instances[FAM2]
    assert p50.mean() == pytest.approx(4.5, abs=0.05) and p50.min() >= 4.0 - 1e-9
    assert any(n.startswith(FAM2) and "mean level" in n for n in fc.notes)


def test_interruptible_share_follows_the_hour_of_week():
    idx = hours(28)
    how, _ = hour_of_week(idx)
    d = weekly_pattern(idx)
    inter = np.where(how // 24 < 5, 0.5, 0.0) * d  # half interruptible on weekdays, none at weekends
    prof = profile_from_frames(pd.DataFrame({FAM: d}, index=idx), pd.DataFrame({FAM: inter}, index=idx))
    fc = make_forecast(prof, spec(), Horizon(None, 1))
    fhow, _ = hour_of_week(fc.index)
    for p in fc.paths:
        share = p.interruptible_instances[FAM] / p.demand_instances[FAM]
        np.testing.assert_allclose(share, np.where(fhow // 24 < 5, 0.5, 0.0), atol=1e-12)


def test_horizon_start_after_the_history_widens_from_the_origin():
    idx, signal, noise = noisy_history(1.0, days=28)
    prof = profile({FAM: signal + noise}, idx)
    later = make_forecast(prof, spec(), Horizon(pd.Timestamp("2026-06-01T00:00Z"), 1))
    now = make_forecast(prof, spec(), Horizon(None, 1))
    assert later.index[0] == pd.Timestamp("2026-06-01T00:00Z")
    assert band(later).iloc[0] > band(now).iloc[0]


def test_lookback_limits_the_fit():
    idx = hours(56)
    t = np.arange(len(idx))
    y = np.where(t < 28 * 24, 100.0, 10.0) + weekly_pattern(idx)  # level dropped four weeks ago
    fc = make_forecast(profile({FAM: y}, idx), spec(lookback_days=21), Horizon(None, 1))
    np.testing.assert_allclose(fc.path("P50").demand_instances[FAM], weekly_pattern(fc.index) + 10, atol=1e-6)


@st.composite
def histories(draw):
    days = draw(st.integers(8, 24))
    n = days * 24
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    level = draw(st.floats(0, 50))
    spikes = rng.random(n) < draw(st.floats(0, 0.5))
    y = np.clip(level + rng.normal(0, draw(st.floats(0, 20)), n) + spikes * rng.exponential(30, n), 0, None)
    y[rng.random(n) < draw(st.floats(0, 0.3))] = 0.0
    gap = draw(st.integers(0, 36))
    start = draw(st.integers(0, n - 1))
    y[start:start + gap] = np.nan
    share = rng.random(n)
    return pd.DataFrame({FAM: y}, index=hours(days)), share, draw(st.sampled_from(["seasonal", "trend"])), \
        draw(st.sampled_from([None, 0.1, 0.05])), draw(st.floats(-0.2, 0.3))


@settings(max_examples=60, deadline=None)
@given(histories())
def test_property_paths_are_ordered_nonnegative_and_complete(case):
    demand, share, method, cq, growth = case
    prof = profile_from_frames(demand, demand.mul(share, axis=0))
    if prof.demand_instances[FAM].notna().sum() < 7 * 24:
        with pytest.raises(DomainError):
            make_forecast(prof, spec(method, growth=growth, cq=cq), Horizon(None, 4))
        return
    fc = make_forecast(prof, spec(method, growth=growth, cq=cq), Horizon(None, 4))
    paths = {p.name: p for p in fc.paths}
    for p in fc.paths:
        d, i = p.demand_instances[FAM].to_numpy(), p.interruptible_instances[FAM].to_numpy()
        assert np.isfinite(d).all() and (d >= 0).all()
        assert (i >= 0).all() and (i <= d + 1e-9).all()
    assert (paths["P10"].demand_instances.to_numpy() <= paths["P50"].demand_instances.to_numpy() + 1e-9).all()
    assert (paths["P50"].demand_instances.to_numpy() <= paths["P90"].demand_instances.to_numpy() + 1e-9).all()
    if cq == 0.05:
        assert (paths["P5"].demand_instances.to_numpy() <= paths["P10"].demand_instances.to_numpy() + 1e-9).all()
    assert sum(p.weight for p in fc.paths) == pytest.approx(1.0)
