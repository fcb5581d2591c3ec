"""A family under three weeks old borrows the fleet's drift (solver/forecast.py, fleet_drift).

Its own few days cannot show how its level drifts over months: a flat week gave a zero
band, and the default floor then let a plan buy 3-year reservations for every instance of
a family seen for 8 days. Its band is now at least the median relative drift of the
families old enough to be calibrated on their own rolling-origin errors."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from gpuladder.scenarios.schema import ForecastSpec, Horizon
from gpuladder.solver.forecast import make_forecast, student_t_quantile
from gpuladder.usage.history import profile_from_frames

OLD, YOUNG = "aws/us-east-1/p5.48xlarge", "aws/us-east-1/p4d.24xlarge"
START = pd.Timestamp("2026-09-07T00:00Z")  # a Monday


def wandering(n_hours: int, seed: int = 3) -> np.ndarray:
    """20 instances plus a random walk of the day level and hourly noise."""
    rng = np.random.default_rng(seed)
    days = n_hours // 24
    level = 20 + np.cumsum(rng.normal(0, 0.6, days))
    return np.repeat(level, 24) + rng.normal(0, 0.5, n_hours)


def forecast(columns: dict, days: int, months: int = 12):
    idx = pd.date_range(START, periods=days * 24, freq="h", tz="UTC")
    demand = pd.DataFrame(columns, index=idx)
    return make_forecast(profile_from_frames(demand, demand * 0.0), ForecastSpec("seasonal", 90, 0.0, 0.10),
                         Horizon(None, months))


def young(n_hours: int, age_days: int, level: float = 6.0) -> np.ndarray:
    return np.where(np.arange(n_hours) >= n_hours - age_days * 24, level, 0.0)


@pytest.mark.parametrize("age_days", [8, 13, 20])
def test_a_young_flat_family_gets_the_fleets_relative_band(age_days):
    days = 63
    old = wandering(days * 24)
    fc = forecast({OLD: old, YOUNG: young(days * 24, age_days)}, days)
    alone = forecast({OLD: old}, days)
    for name in ("P10", "P50", "P90"):   # the old family's paths do not depend on the young one
        np.testing.assert_allclose(fc.path(name).demand_instances[OLD], alone.path(name).demand_instances[OLD])
    p10, p50, p90 = (fc.path(n).demand_instances[YOUNG].to_numpy() for n in ("P10", "P50", "P90"))
    np.testing.assert_allclose(p50, 6.0)
    assert p10[-1] < p10[0] < 6.0 and p90[-1] > p90[0] > 6.0      # a band, widening with the horizon
    # the same relative shift as the old family's band, read with the normal quantile instead
    # of the old family's Student t (8 origins: 6 degrees of freedom)
    o10 = fc.path("P10").demand_instances[OLD].to_numpy()
    o50 = fc.path("P50").demand_instances[OLD].to_numpy()
    ok = (o10 > 0) & (p10 > 0)
    assert ok.sum() > 24 * 30
    mean_old = old[-90 * 24:].mean()
    expected = NormalDist().inv_cdf(0.1) / student_t_quantile(0.1, 6) * 6.0 / mean_old
    np.testing.assert_allclose((6.0 - p10[ok]) / (o50[ok] - o10[ok]), expected, rtol=1e-9)
    assert any(n.startswith(YOUNG) and "fleet's drift" in n and "1 family" in n for n in fc.notes)


def test_a_family_three_weeks_old_keeps_its_own_band():
    """At 21 days the family fits its own trend and its band is its own rolling-origin
    errors: a flat history has none, so P10 = P50 (the rule's edge, stated)."""
    days = 63
    fc = forecast({OLD: wandering(days * 24), YOUNG: young(days * 24, 21)}, days)
    np.testing.assert_allclose(fc.path("P10").demand_instances[YOUNG], 6.0)
    assert not any(n.startswith(YOUNG) and "fleet's drift" in n for n in fc.notes)


def test_without_an_old_family_there_is_no_fleet_to_borrow_from():
    """A whole history of 10 days: no family is calibrated, each keeps its in-sample band."""
    days = 10
    fc = forecast({OLD: np.full(days * 24, 9.0), YOUNG: np.full(days * 24, 6.0)}, days)
    np.testing.assert_allclose(fc.path("P10").demand_instances[YOUNG], 6.0)
    np.testing.assert_allclose(fc.path("P10").demand_instances[OLD], 9.0)
    assert not any("fleet's drift" in n for n in fc.notes)


def test_a_steady_fleet_lends_no_band():
    """The old family is noiseless: its calibrated drift is zero, and so is the young one's."""
    days = 63
    fc = forecast({OLD: np.full(days * 24, 20.0), YOUNG: young(days * 24, 10)}, days)
    np.testing.assert_allclose(fc.path("P10").demand_instances[YOUNG], 6.0)
    assert not any("fleet's drift" in n for n in fc.notes)


def test_a_fleet_of_vanishing_levels_lends_nothing_and_warns_nothing():
    """An old family at 1e-200 instances (its level squared is 0): its relative drift is not
    a number and is left out, without a floating-point warning."""
    import warnings

    days = 63
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fc = forecast({OLD: wandering(days * 24) * 1e-200, YOUNG: young(days * 24, 10)}, days)
    np.testing.assert_allclose(fc.path("P10").demand_instances[YOUNG], 6.0)
