"""Review 11: the human reports a consultant hands to a client (plan md / html / table,
compare), checked against the plan JSON and by hand.

Tiny case (tests/tiny_catalog.py) plus a savings plan ``test-sp-1y`` at $2.30/h per
instance, no utilization floor, January 2026 of the demand 3, 3, 2, 1: the plan buys
$4.60/h of the plan (two instances at $2.30; the third, busy half the hours, is cheaper
on demand at $4 x 0.5), $4.60 x 730.5 = $3,360 a month."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pandas as pd
import pytest

from gpuladder.report.chart import ladder_svg
from gpuladder.report.plan import render_plan
from gpuladder.report.text import markdown_table, pct, usd
from gpuladder.scenarios.loader import load_scenario
from gpuladder.scenarios.runner import run_scenario
from tiny_catalog import FAMILY, write_tiny_case

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def sp_plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sp")
    base = write_tiny_case(folder)
    with open(folder / "cat" / "commitments.csv", "a") as f:
        f.write(f"test-sp-1y,test,savings_plan,12,no_upfront,0,{FAMILY},2.3,test fixture (ours),2026-01-01\n")
    (folder / "s.yaml").write_text("name: t\n" + base + "constraints: {min_utilization: null}\n")
    return run_scenario(load_scenario(str(folder / "s.yaml")))


def _ladder_row(text: str, fmt: str) -> list[str]:
    """The cells of the ladder's one purchase row in a table / md / html rendering."""
    if fmt == "html":
        table = text[text.index("<table>"):text.index("</table>")]
        return [c for c in re.findall(r"<td[^>]*>(.*?)</td>", table)]
    line = next(ln for ln in text.splitlines() if "test-sp-1y" in ln and ln.lstrip("| ").startswith("2026-01-01"))
    return [c.strip() for c in line.strip("|").split("|")] if fmt == "md" else re.split(r"\s{2,}", line.strip())


@pytest.mark.parametrize("fmt", ["table", "md", "html"])
def test_a_savings_plan_bought_reads_in_dollars_per_hour(sp_plan, fmt):
    """The ladder's quantity of a savings plan is $/h of commitment, not instances: a bare
    '4.600' beside reservation counts read as 4.6 instances."""
    (p,) = sp_plan.purchases.itertuples(index=False)
    assert (p.kind, p.quantity, p.recurring_usd_per_hour) == ("savings_plan", pytest.approx(4.6),
                                                              pytest.approx(4.6))
    row = _ladder_row(render_plan(sp_plan, fmt), fmt)
    assert row[0] == "2026-01-01" and row[3] == "(plan) test-sp-1y"
    assert row[6:9] == ["$4.600/h", "0", "3,360"]


def test_a_reservations_quantity_stays_a_count(sp_plan):
    purchases = sp_plan.purchases.copy()
    purchases.loc[:, ["kind", "family", "scope", "quantity"]] = ["reservation", FAMILY, None, 2.0]
    plan = dataclasses.replace(sp_plan, purchases=purchases)
    line = next(ln for ln in render_plan(plan, "table").splitlines() if ln.startswith("2026-01-01"))
    assert re.split(r"\s{2,}", line)[3:7] == [FAMILY, "12m", "no_upfront", "2"]


@pytest.mark.parametrize("fmt", ["table", "md", "html"])
def test_the_solver_line_never_says_minus_zero(sp_plan, fmt):
    """The simulator a hair below the model (-1e-9) read 'model vs simulator -0.0000%'
    (bursty-training.yaml)."""
    plan = dataclasses.replace(sp_plan, solver=dataclasses.replace(sp_plan.solver, difference_share=-1e-9))
    text = render_plan(plan, fmt)
    assert "model vs simulator +0.0000%" in text and "-0.0000%" not in text


def test_an_html_plan_that_buys_nothing_says_none_as_the_other_formats(sp_plan):
    plan = dataclasses.replace(sp_plan, purchases=sp_plan.purchases.iloc[0:0])
    html = render_plan(plan, "html")
    ladder = html[html.index("<h2>Purchase ladder</h2>"):html.index("<h2>Commitments in force")]
    assert "<table>" not in ladder and "<p>(none)</p>" in ladder
    md_tables = render_plan(plan, "md").count("\n| --- ")
    assert html.count("<table>") == md_tables == 3       # mix, KPIs, paths
    assert "(none)" in render_plan(plan, "table") and "(none)" in render_plan(plan, "md")


def _label_positions(svg: str) -> list[tuple[float, str]]:
    root = ET.fromstring(svg)
    return [(float(t.get("x")), t.text) for t in root.findall(f"{SVG}text")
            if t.text and re.fullmatch(r"\d{4}-\d\d", t.text)]


@pytest.mark.parametrize("start, months, labels", [
    ("2026-12-01", 45, ["2026-12", "2028-01", "2029-01", "2030-01"]),  # the bundled examples' chart
    ("2026-11-01", 40, ["2026-11", "2028-01", "2029-01", "2030-01"]),
    ("2026-10-01", 15, ["2026-10", "2027-01"]),                           # wide bars: room for both
    ("2026-01-01", 30, ["2026-01", "2027-01", "2028-01"]),
])
def test_month_labels_of_the_ladder_chart_do_not_overlap(start, months, labels):
    """The first bar is labelled, and each January; a January too close to the first
    label (a horizon starting in December: '2026-12' and '2027-01' 15 px apart, each
    about 40 px wide) is left out instead of printed over it."""
    index = pd.date_range(start, periods=months, freq="MS", tz="UTC")
    frame = pd.DataFrame({"inventory": 1.0, "purchase": 2.0}, index=index)
    found = _label_positions(ladder_svg(frame, index[min(12, months - 1)]))
    assert [text for _, text in found] == labels
    xs = [x for x, _ in found]
    assert all(b - a >= 45 for a, b in zip(xs, xs[1:]))


class _Balance(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> with {self.stack[-3:]} open")


def test_html_with_markup_in_names_is_well_formed_and_self_contained(sp_plan):
    name = "we<i>rd & <b>|</b> 'name'"
    plan = dataclasses.replace(sp_plan, scenario=name)
    html = render_plan(plan, "html")
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.stack == [] and parser.errors == []
    assert "we&lt;i&gt;rd &amp; &lt;b&gt;|&lt;/b&gt;" in html
    assert not re.search(r"(src|href)=|url\(|https?://(?!www\.w3\.org/2000/svg)", html)


def test_markdown_cells_and_heading_do_not_turn_names_into_markup(sp_plan):
    """A family or scenario named with < > & rendered as HTML inside the Markdown (a
    '<b>' made the rest bold, '&amp;' read '&')."""
    (line,) = markdown_table(["family"], [["g6e<b>&amp;|x"]], [False])[2:]
    assert line == "| g6e\\<b\\>\\&amp;\\|x |"
    md = render_plan(dataclasses.replace(sp_plan, scenario="a<i>b"), "md")
    assert md.startswith("# gpuladder plan: scenario 'a\\<i\\>b'")


def test_amounts_and_shares_that_round_to_zero_read_without_a_minus():
    """Float dust below zero (savings of -1e-9 on a plan that buys nothing) read '-0'."""
    assert [usd(-1e-9), usd(-0.3), usd(-0.6), usd(-0.004, 2), usd(1234.5)] == ["0", "0", "-1", "0.00", "1,234"]
    assert [pct(-1e-12), pct(-0.0004), pct(-0.0006), pct(0.278856), pct(float("nan"))] == \
        ["0.0%", "0.0%", "-0.1%", "27.9%", "-"]


@pytest.mark.parametrize("share, shown", [(-1e-9, "+0.000%"), (1e-9, "+0.000%"), (-0.00062, "-0.062%"),
                                          (0.0008, "+0.080%")])
def test_the_compression_warning_never_reads_minus_zero(share, shown):
    """bursty-training's model and simulator differ by -1e-9: the plan warned '-0.000%'
    (helper 28's review), in the table, compare's notes and the JSON warnings."""
    from gpuladder.pricing.catalog import embedded_catalog
    from gpuladder.solver.lp import SolveStatus
    from gpuladder.solver.plan import SolverReport
    from gpuladder.solver.plan_warnings import solver_warnings

    report = SolverReport("highs", "optimal", 0.0, 1.0, 1.0, 100.0, 100.0, share, False, "coarse", 10, 2, 5)
    purchases = pd.DataFrame({"product": pd.Series(dtype=str)})
    (line,) = solver_warnings(purchases, embedded_catalog(), report, SolveStatus.OPTIMAL)
    assert line.endswith(f"differs from the simulated cost by {shown}")


def test_json_numbers_that_round_to_zero_have_no_sign(sp_plan):
    """bursty-training's plan JSON said "difference_share": -0.0 (the model and the simulator
    differ by -1e-9); scripts comparing the text, or dividing by it, met a negative zero."""
    import json
    import math

    from gpuladder.report.text import json_value

    assert [math.copysign(1.0, json_value(v, 8)) for v in (-1e-12, -0.0, 0.0)] == [1.0, 1.0, 1.0]
    assert json_value(-0.004, 2) == 0.0 and json_value(-0.006, 2) == -0.01 and json_value(-1e-9, 8) == 0.0
    solver = dataclasses.replace(sp_plan.solver, difference_share=-1e-12, gap=-0.0)
    text = render_plan(dataclasses.replace(sp_plan, solver=solver), "json")
    assert not re.search(r"-0\.0(?![0-9])", text)
    doc = json.loads(text)["solver"]
    assert math.copysign(1.0, doc["difference_share"]) == 1.0 and math.copysign(1.0, doc["gap"]) == 1.0
