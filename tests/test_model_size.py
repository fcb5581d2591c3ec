"""Model size does not depend on the number of hours: it is bounded by the distinct demand
levels of each (family, period, path) (layers) or the distinct joint hours of each
(component, period, path) (hour types)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model_instances import Product, catalog, family, forecast, problem
from gpuladder.solver.model import build_model
from gpuladder.solver.modeldata import ModelOptions, prepare
from gpuladder.units import hourly_index


def _size(start: str, end: str, pattern: np.ndarray, products, options=None):
    idx = hourly_index(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    demand = np.tile(pattern, (len(idx) // len(pattern) + 1, 1))[:len(idx)]
    cat = catalog([4.0, 6.0], [1.5, None], products)
    data = prepare(problem(forecast(idx, demand, np.floor(demand / 2)), cat, options=options))
    lp = build_model(data, problem(forecast(idx, demand), cat).constraints).lp
    return lp.n_cols, lp.n_rows, len(data.layers), len(data.types), len(idx)


def test_same_size_for_744_and_672_hours_and_for_repeated_patterns():
    pattern = np.array([[2.0, 1.0], [3.0, 0.0], [1.0, 1.0], [4.0, 2.0], [0.0, 3.0], [2.0, 2.0]])
    reserved = [Product("ri", "reservation", 1, {family(0): 2.5, family(1): 4.0})]
    jan = _size("2026-01-01", "2026-02-01", pattern, reserved)
    feb = _size("2026-02-01", "2026-03-01", pattern, reserved)
    assert jan[:4] == feb[:4] and jan[4] == 744 and feb[4] == 672
    plan = reserved + [Product("sp", "savings_plan", 1, {family(0): 2.8, family(1): 4.5})]
    jan = _size("2026-01-01", "2026-02-01", pattern, plan)
    feb = _size("2026-02-01", "2026-03-01", pattern, plan)
    assert jan[:4] == feb[:4]
    assert jan[3] == 6 * 2   # hour types: 6 distinct joint hours x 2 families


def test_layers_are_bounded_by_distinct_levels_and_max_layers():
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 60, size=(744, 2)).astype(float)
    products = [Product("ri", "reservation", 1, {family(0): 2.5, family(1): 4.0})]
    _, _, layers, _, _ = _size("2026-01-01", "2026-02-01", pattern, products, ModelOptions(max_layers=12))
    assert layers <= 2 * 12
    _, _, layers, _, _ = _size("2026-01-01", "2026-02-01", pattern, products, ModelOptions(max_layers=200))
    assert layers <= 2 * 61
