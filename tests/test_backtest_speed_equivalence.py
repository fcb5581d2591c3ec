"""Backtest re-plans made cheaper (session 8, bench/README.md "Backtest on real traces"): the
same results as the code before.

- a daily backtest on the embedded catalog (one AWS family, reservations and savings plans,
  the floor on P50 and P10, demand that rises and then falls, so that later re-plans hold
  purchases the forecast no longer uses and go through plan.py's sunk-shortfall retry):
  every policy's cost, savings, captures, fees after the span and purchases equal the
  figures recorded from the code before the change (commits 0c6f147 and 7e72a87 alike);
- the same backtest with modeldata's caches holding nothing (every table computed afresh,
  as before) gives the same results to the bit, notes and purchase ids included;
- the hindsight re-plans' actual usage, now cut from the span's replay, equals replaying
  the profile from the re-plan date (masked hours filled the same way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpuladder.scenarios.loader import load_scenario
from gpuladder.solver import modeldata, plan
from gpuladder.solver.backtest import BacktestOptions, backtest_scenario
from gpuladder.units import hourly_index

FAMILY = "aws/us-east-1/p3.16xlarge"
T0 = pd.Timestamp("2026-03-02T00:00Z")   # a Monday
DAYS = 12
MASKED = slice(200, 206)                 # six hours of the span without rows (gaps: mask)


def write_case(folder):
    idx = hourly_index(T0, T0 + pd.Timedelta(days=DAYS))
    days = np.arange(len(idx)) / 24
    rng = np.random.default_rng(8)
    level = np.where(days < 8, 40 + 2.5 * days, 30.0)
    demand = np.round(np.maximum(level + 5 * np.sin(2 * np.pi * days) + rng.normal(0, 1.5, len(idx)), 0), 3)
    keep = np.ones(len(idx), bool)
    keep[MASKED] = False
    pd.DataFrame({"timestamp": idx[keep].strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                  "instances": demand[keep]}).to_csv(folder / "u.csv", index=False)
    path = folder / "s.yaml"
    path.write_text("name: s\ncatalog: embedded\nusage: {path: u.csv, gaps: mask}\n"
                    "forecast: {method: seasonal, lookback_days: 7, conservative_quantile: 0.10}\n"
                    "products: {providers: [aws], terms_months: [12, 36]}\n"
                    "constraints: {min_utilization: 0.95}\n")
    return path


def fingerprint(bt) -> dict:
    """Per policy, as computed (no rounding): cost, savings, waste, capture, capture within
    the rules, fees after the span, and the purchases (date, product, quantity)."""
    out = {"notes": bt.notes}
    for p in bt.policies:
        k = p.kpis
        it = p.purchases.items.sort_values(["start", "product", "family"])
        out[p.name] = (k.cost_usd, k.savings_usd, k.waste_usd, p.capture, p.capture_within_rules,
                       p.fees_after_span_usd,
                       tuple(zip(it["start"].dt.strftime("%m-%d"), it["product"], it["quantity"])))
    return out


# Recorded from the code before the change (commit 0c6f147, `git archive` on PYTHONPATH):
# print(fingerprint(run(folder))); floats as Python prints them, which read back exactly.
REFERENCE = {"gpuladder": (61093.00343241686,
                           46146.28776758313,
                           15368.772504395994,
                           0.8859640653335781,
                           0.9036542689666757,
                           11772639.264000002,
                           (("03-09", "aws-ec2sp-us-east-1-p3-3y-all_upfront", 431.104),
                            ("03-10", "aws-ec2sp-us-east-1-p3-3y-all_upfront", 18.491))),
             "hindsight": (55153.33244250975,
                           52085.95875749024,
                           3357.697962455997,
                           1.0,
                           1.0199671796241951,
                           8233192.223999999,
                           (("03-09", "aws-ec2sp-us-east-1-p3-3y-all_upfront", 314.436),)),
             "hindsight_within_rules": (56172.982599088726,
                                        51066.30860091127,
                                        1722.5138777460052,
                                        0.980423703798438,
                                        1.0,
                                        7517243.112000001,
                                        (("03-09", "aws-ec2sp-us-east-1-p3-3y-all_upfront", 287.093),)),
             "notes": ("the span is 120 hours: it scores the first days of each purchase and says little about a plan whose "
                       "terms run for years; an earlier --start gives a span of weeks",
                       "provider_lookback_60d equals provider_lookback_30d here: no re-plan sees more than 11 days of history",
                       "6 hour(s) of the span have no usage data; every policy is scored on them as replay fills them (the "
                       "same hour one or two weeks away)"),
             "on_demand": (107239.2912, -1.4551915228366852e-11, 0.0, -2.793826892218665e-16, -2.849611735614502e-16, 0.0, ()),
             "provider_lookback_30d": (62864.369424000004,
                                       44374.92177599999,
                                       18965.80546497,
                                       0.8519555526011823,
                                       0.8689667021518005,
                                       12756502.191888003,
                                       (("03-09", "aws-ri-3y-all_upfront", 51.0), ("03-10", "aws-ri-3y-all_upfront", 1.0))),
             "provider_lookback_60d": (62864.369424000004,
                                       44374.92177599999,
                                       18965.80546497,
                                       0.8519555526011823,
                                       0.8689667021518005,
                                       12756502.191888003,
                                       (("03-09", "aws-ri-3y-all_upfront", 51.0), ("03-10", "aws-ri-3y-all_upfront", 1.0))),
             "provider_lookback_7d": (63763.77556800001,
                                      43475.51563199998,
                                      19865.21160897,
                                      0.8346878250704749,
                                      0.8513541868037857,
                                      13002040.069200002,
                                      (("03-09", "aws-ri-3y-all_upfront", 51.0), ("03-10", "aws-ri-3y-all_upfront", 2.0)))}


def run(folder):
    return backtest_scenario(load_scenario(write_case(folder)), BacktestOptions(replan_every="1D"))


def test_daily_backtest_equals_the_figures_of_the_code_before(tmp_path, monkeypatch):
    """Equal to the last bit on the machine that recorded them; a relative 1e-9 here, so
    that another platform's float sums do not fail it. One re-plan goes through the
    sunk-shortfall retry (three prepares of one forecast: the cached path), gpuladder's among them."""
    measured = []
    sunk = plan.sunk_floor_shortfall
    monkeypatch.setattr(plan, "sunk_floor_shortfall", lambda *a, **k: measured.append(sunk(*a, **k)) or measured[-1])
    got = fingerprint(run(tmp_path))
    assert len(measured) == 3 and all(m is not None for m in measured)   # gpuladder 1, hindsight_within_rules 2
    assert got.keys() == REFERENCE.keys()
    assert got["notes"] == REFERENCE["notes"]
    for name in REFERENCE.keys() - {"notes"}:
        *figures, bought = got[name]
        *ref_figures, ref_bought = REFERENCE[name]
        assert figures == pytest.approx(ref_figures, rel=1e-9, abs=1e-6), name
        assert [b[:2] for b in bought] == [b[:2] for b in ref_bought], name
        assert [b[2] for b in bought] == pytest.approx([b[2] for b in ref_bought], rel=1e-9), name
    assert len(REFERENCE["gpuladder"][-1]) == 2


def test_without_the_caches_every_figure_is_the_same_to_the_bit(tmp_path, monkeypatch):
    def everything(bt):
        return {"notes": bt.notes, **{p.name: (p.kpis.as_dict(), p.capture, p.capture_within_rules,
                                               p.fees_after_span_usd, p.purchases.items.to_dict("records"))
                                      for p in bt.policies}}
    warm = everything(run(tmp_path))
    monkeypatch.setattr(modeldata, "_PREPARED", modeldata._Memo(0))
    monkeypatch.setattr(modeldata, "_CATALOG_TABLES", modeldata._Memo(0))
    assert everything(run(tmp_path)) == warm


def test_hindsight_replans_read_the_replay_of_the_rest_of_the_span(tmp_path):
    from gpuladder.scenarios.runner import load_inputs
    from gpuladder.solver.backtest import _actual_from
    from gpuladder.solver.forecast import replay

    profile = load_inputs(load_scenario(write_case(tmp_path))).profile
    assert profile.masked.sum() == MASKED.stop - MASKED.start
    start, end = T0 + pd.Timedelta(days=7), T0 + pd.Timedelta(days=DAYS)
    actual = replay(profile, hourly_index(start, end))
    for t in (start, T0 + pd.Timedelta(hours=203), T0 + pd.Timedelta(days=9)):
        cut, again = _actual_from(actual, t), replay(profile, hourly_index(t, end))
        assert (cut.method, cut.expected, cut.conservative) == (again.method, again.expected, again.conservative)
        for a, b in zip(cut.paths, again.paths, strict=True):
            assert (a.name, a.weight) == (b.name, b.weight)
            pd.testing.assert_frame_equal(a.demand_instances, b.demand_instances, check_freq=True)
            pd.testing.assert_frame_equal(a.interruptible_instances, b.interruptible_instances, check_freq=True)
