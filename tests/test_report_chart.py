"""The HTML report's ladder chart: commitments in force by month, worked by hand.

Tiny catalog: 12-month reservations at $2.50/h (no upfront) and $2.40/h (all upfront).
Book: inventory of 1 no-upfront reservation 2025-06-01 -> 2026-06-01 ($2.50/h) and a
purchase of 2 all-upfront ones 2026-01-01 -> 2027-01-01 ($4.80/h amortized) plus 1 more
bought 2026-04-01 -> 2027-04-01 ($2.40/h). From 2026-01-01 the months run to 2027-03
(the last expiry is 2027-04-01): 15 bars.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import load_catalog
from gpuladder.report.chart import committed_by_month, ladder_svg, mix_by_month, mix_charts
from gpuladder.solver.book import make_purchases
from tiny_catalog import FAMILY, write_tiny_case, write_tiny_catalog

T0 = pd.Timestamp("2026-01-01T00:00Z")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    cat = load_catalog(write_tiny_catalog(tmp_path_factory.mktemp("cat")))
    inventory = make_purchases(cat, pd.DataFrame({"product": ["test-ri-1y"], "family": [FAMILY], "quantity": [1.0],
                                                  "start": [pd.Timestamp("2025-06-01T00:00Z")]}),
                               origin="inventory", id_prefix="inv")
    bought = make_purchases(cat, pd.DataFrame({"product": ["test-ri-1y-all"] * 2, "family": [FAMILY] * 2,
                                               "quantity": [2.0, 1.0],
                                               "start": [T0, pd.Timestamp("2026-04-01T00:00Z")]}))
    return inventory.concat(bought)


def test_committed_by_month_by_hand(book):
    frame = committed_by_month(book, T0)
    assert len(frame) == 15 and frame.index[0] == T0 and frame.index[-1] == pd.Timestamp("2027-03-01T00:00Z")
    inventory = np.r_[[2.5] * 5, [0.0] * 10]                 # in force at the starts of Jan-May 2026
    purchases = np.r_[[4.8] * 3, [7.2] * 9, [2.4] * 3]       # +2.40 from April 2026; the 2 expire 2027-01-01
    assert frame["inventory"].to_numpy() == pytest.approx(inventory)
    assert frame["purchase"].to_numpy() == pytest.approx(purchases)


def test_nothing_committed_gives_no_chart(book):
    assert committed_by_month(book, pd.Timestamp("2027-04-01T00:00Z")).empty
    assert "nothing to chart" in ladder_svg(committed_by_month(book, pd.Timestamp("2028-01-01T00:00Z")),
                                            pd.Timestamp("2028-02-01T00:00Z"))


def test_svg_bars_are_to_scale_and_carry_their_figures(book):
    frame = committed_by_month(book, T0)
    svg = ET.fromstring(ladder_svg(frame, pd.Timestamp("2026-07-01T00:00Z")))   # well-formed XML
    months = svg.findall(f"{SVG}g")
    assert len(months) == 15
    assert months[4].find(f"{SVG}title").text == (
        "2026-05: $9.70/h in force (existing inventory $2.50/h, this plan's purchases $7.20/h)")
    heights = [sum(float(r.get("height")) for r in g.findall(f"{SVG}rect")) for g in months]
    totals = (frame["inventory"] + frame["purchase"]).to_numpy()
    assert np.array(heights) / max(heights) == pytest.approx(totals / totals.max(), abs=2e-3)
    (line,) = svg.findall(f"{SVG}line[@class='marker']")
    bar_x = [float(g.find(f"{SVG}rect").get("x")) for g in months]
    assert bar_x[6] - 0.1 * (bar_x[1] - bar_x[0]) == pytest.approx(float(line.get("x1")), abs=0.1)   # July bar's left edge


def test_html_report_embeds_the_chart(tmp_path):
    (tmp_path / "s.yaml").write_text("name: t\n" + write_tiny_case(tmp_path) + "constraints: {min_utilization: null}\n")
    res = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "html"])
    assert res.exit_code == 0, res.output
    assert "<h2>Commitments in force by month</h2>" in res.stdout
    ladder, mix = [ET.fromstring(s[s.index("<svg"):] + "</svg>") for s in res.stdout.split("</svg>")[:2]]
    # 2 all-upfront reservations at $2.40 (tests/test_plan_cli.py): $4.80/h for 12 months
    titles = [g.find(f"{SVG}title").text for g in ladder.findall(f"{SVG}g")]
    assert len(titles) == 12 and all("$4.80/h in force" in t for t in titles)
    # demand 3,3,2,1 with 2 reserved: reserved 2,2,2,1 (mean 1.75), on-demand 1,1,0,0 (0.5)
    (month,) = [g.find(f"{SVG}title").text for g in mix.findall(f"{SVG}g")]
    assert month == ("2026-01: 2.25 instances (reserved 1.75, savings plan 0.00, spot 0.00, on-demand 0.50)")
    assert "class='marker'" in res.stdout and ">horizon end</text>" in res.stdout


def test_mix_by_month_adds_up_to_the_simulated_demand(monkeypatch):
    """The bundled example over 3 months: per family and month the four sources sum to the
    mean demand the simulator dispatched; one chart per family, the costliest first, at
    most MAX_MIX_CHARTS."""
    from gpuladder.report import chart
    from gpuladder.scenarios.loader import load_scenario
    from gpuladder.scenarios.runner import run_scenario

    plan = run_scenario(load_scenario("scenarios/examples/default.yaml", ("horizon.months=3",)))
    sim = plan.simulation
    for fam in sim.hourly.demand_instances.columns:
        frame = mix_by_month(sim, fam)
        demand = sim.hourly.demand_instances[fam]
        assert len(frame) == 3
        for when, row in frame.iterrows():
            month = demand[(demand.index >= when) & (demand.index < when + pd.offsets.MonthBegin(1))]
            assert row.sum() == pytest.approx(month.mean(), rel=1e-9)
    charts = mix_charts(sim)
    costliest = sim.by_family["cost_usd"].idxmax()
    assert len(charts) == 4 and costliest in charts[0]
    monkeypatch.setattr(chart, "MAX_MIX_CHARTS", 2)
    assert len(chart.mix_charts(sim)) == 2
