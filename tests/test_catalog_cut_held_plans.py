"""A plan runs on the catalog cut to its families (``PriceCatalog.subset``): held savings
plans must bill there as they do on the whole catalog (helper 26's review).

Embedded prices used: g5.12xlarge in us-east-1, on-demand $5.672/h; its EC2 Instance
Savings Plan (g5, us-east-1, 1 year, no upfront) rate $3.57336/h, the Compute Savings Plan
(1 year, no upfront; 400+ families) rate $3.748247/h."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli_cases import write_flat_case
from gpuladder.cli import main
from gpuladder.pricing.catalog import embedded_catalog
from gpuladder.solver.book import make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate

G5 = "aws/us-east-1/g5.12xlarge"
EC2SP, CSP, P5SP = "aws-ec2sp-us-east-1-g5-1y-no_upfront", "aws-csp-1y-no_upfront", "aws-ec2sp-us-east-1-p5-1y-no_upfront"
T0 = pd.Timestamp("2027-01-01", tz="UTC")


@pytest.fixture(scope="module")
def emb():
    return embedded_catalog()


def test_rates_these_cases_use(emb):
    com = emb.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    assert (com[(EC2SP, G5)], com[(CSP, G5)]) == (3.57336, 3.748247)
    assert emb.families.loc[G5, "on_demand_usd_per_hour"] == 5.672
    assert emb.scope_family_counts()[EC2SP] < emb.scope_family_counts()[CSP]


@pytest.mark.parametrize("cut", [False, True])
def test_the_narrower_plan_applies_first_on_the_cut_catalog_too(emb, cut):
    """$17.8668/h of the EC2 Instance plan (5 instances at 3.57336) and $10/h of the Compute
    plan; demand 5 instances. Narrowest scope first (DESIGN.md section 4, as AWS applies
    them): the EC2 plan covers all 5 (used 100%), the Compute plan nothing (0%). Cut to g5,
    both products covered one family and the order fell to the product id: Compute first,
    10 / 3.748247 = 2.668 instances, the EC2 plan the other 2.332 (46.6%)."""
    cat = emb.subset([G5]) if cut else emb
    book = make_purchases(cat, pd.DataFrame({"id": ["ec2", "csp"], "product": [EC2SP, CSP], "family": ["", ""],
                                             "quantity": [17.8668, 10.0], "start": T0}))
    demand = pd.DataFrame({G5: np.full(24, 5.0)}, index=pd.date_range(T0, periods=24, freq="h", tz="UTC"))
    res = simulate(book, demand, demand * 0, cat, DispatchRules())
    used = res.by_commitment["utilization"]
    assert used["ec2"] == pytest.approx(1.0)
    assert used["csp"] == pytest.approx(0.0, abs=1e-9)
    # the Compute plan's $10/h is paid and idle; nothing runs on demand
    assert res.kpis.cost_usd == pytest.approx((17.8668 + 10.0) * 24)


def test_a_held_plan_for_families_without_usage_is_billed_not_refused(tmp_path):
    """A p5 savings plan held ($100.0004/h to 2027-03-01) while the usage is g5 only: the
    catalog cut to the run's families lost the p5 product and `plan` stopped ("not in the
    catalog", exit 1) where `validate` said all was well. It is idle: 100.0004 x 1,416 h
    (January and February 2027) of waste, and the plan lets it expire. The expiring row
    gives the inventory's quantity as held (it was rounded to 3 decimals: 100.0)."""
    scenario = write_flat_case(
        tmp_path, G5, 10.0, "2026-12-01", 31, [f"sp-p5,{P5SP},,100.0004,2026-03-01T00:00:00Z,2027-03-01T00:00:00Z"],
        "name: t\ncatalog: embedded\nusage: usage.csv\ninventory: inv.csv\n"
        "horizon: {start: '2027-01-01', months: 6}\nforecast: {method: replay}\n"
        "products: {providers: [aws], terms_months: [12], payments: [no_upfront], kinds: [reservation]}\n"
        "constraints: {spot_cap: 0.0}\n")
    res = CliRunner().invoke(main, ["plan", str(scenario), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (row,) = doc["expiring"]
    assert (row["id"], row["quantity"], row["renew"], row["renewed_quantity"]) == ("sp-p5", 100.0004, False, 0.0)
    assert doc["kpis"]["waste_usd"] == pytest.approx(100.0004 * 1416)
