"""The utilization floor holds in each month on the expected path and over the horizon on
the conservative path, worked by hand (STYLE.md's prices: on-demand $4.00/h, reservation
$2.50/h, here with a one-month term; floor 0.9).

January repeats the pattern 2,2,2,2 (186 times), February 2,2,2,1 (168 times). Per
pattern: 2 reserved cost 4 x 2 x 2.5 = 20 on either; 1 reserved on 2,2,2,1 costs
10 + 3 x 4 = 22. Two reserved in February are used 7 of 8 hours, 87.5% < 90%; over the
two months they would be used (2 x 744 + 1.75 x 672) / (2 x 1,416) = 94.1%."""

from __future__ import annotations

import numpy as np
import pytest

from model_instances import EXACT_SOLVE, NO_OVERHEAD, START, Product, catalog, forecast, horizon, patterned, problem
from gpuladder.scenarios.schema import Constraints
from gpuladder.solver.plan import plan_problem
from gpuladder.units import add_months

JAN, FEB = np.array([[2.0], [2.0], [2.0], [2.0]]), np.array([[2.0], [2.0], [2.0], [1.0]])
FLOOR = Constraints(min_utilization=0.9, spot_cap=None, spot_rework_overhead=NO_OVERHEAD)


def _catalog():
    return catalog([4.0], [None], [Product("ri-1m", "reservation", 1, {"t/r1/f0": 2.5})])


def _bought(plan) -> dict:
    return plan.purchases.groupby("date")["quantity"].sum().to_dict()


def test_the_expected_path_holds_the_floor_in_each_month():
    """Over the horizon, February's second instance would pass (94.1%); month by month it
    does not: 2 reserved in January, 1 in February, 186 x 20 + 168 x 22 = $7,416."""
    idx = horizon(2)
    demand = patterned(idx, [np.tile(JAN, (3, 1)), np.tile(FEB, (3, 1))])
    plan = plan_problem(problem(forecast(idx, demand), _catalog(), constraints=FLOOR), EXACT_SOLVE)
    assert _bought(plan) == {START: 2.0, add_months(START, 1): 1.0}
    assert plan.simulation.kpis.cost_usd == pytest.approx(186 * 20 + 168 * 22)
    by_month = plan.simulation.by_commitment.set_index("start")["utilization"]
    assert (by_month >= 0.9 - 1e-12).all()


def test_the_conservative_path_holds_it_over_the_horizon():
    """Expected path 2 every hour; the conservative path dips in February as above. Held
    over the horizon (94.1%) the conservative path allows 2 in February: 186 x 20 + 168 x
    20 = $7,080 on the expected path (1 in February would cost 168 x (10 + 4 x 4) more)."""
    idx = horizon(2)
    flat = patterned(idx, [np.tile(JAN, (3, 1)), np.tile(JAN, (3, 1))])
    dip = patterned(idx, [np.tile(JAN, (3, 1)), np.tile(FEB, (3, 1))])
    plan = plan_problem(problem(forecast(idx, flat, conservative=dip, weights=(1.0, 0.0)), _catalog(),
                                constraints=FLOOR), EXACT_SOLVE)
    assert _bought(plan) == {START: 2.0, add_months(START, 1): 2.0}
    assert plan.simulation.kpis.cost_usd == pytest.approx(186 * 20 + 168 * 20)
