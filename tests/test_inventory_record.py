"""The re-ladder loop for scripts: stable purchase ids in the plan JSON, ``expiring[].renewed_by``,
and ``gpuladder inventory record`` (usage/inventory_record.py), which appends the bought
purchases to the inventory CSV.

Unless said otherwise: family t/r1/f0 at $4/h on demand from 2026-01-01, a 12-month
reservation ``ri`` at $2.5/h, an existing commitment ending on 01-11."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli_cases import write_flat_case
from model_instances import EXACT_SOLVE, Product, START, catalog, family, forecast, horizon, problem
from gpuladder.cli import main
from gpuladder.errors import InputError
from gpuladder.report.plan import PLAN_SCHEMA, render_plan
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.plan import plan_problem, purchase_ids
from gpuladder.usage import inventory_record
from gpuladder.usage.inventory import load_inventory
from gpuladder.usage.inventory_record import record_purchases

EXPIRY = START + pd.Timedelta(days=10)
YEAR = pd.DateOffset(months=12)
F0 = family(0)
HEADER = "id,product,family,quantity,start,end\n"


def _held(cat, rows) -> CommitmentBook:
    frame = pd.DataFrame(rows, columns=["id", "product", "family", "quantity", "start", "end"])
    book = make_purchases(cat, frame.drop(columns="end"), origin="inventory")
    return CommitmentBook(book.items.assign(end=pd.to_datetime(frame["end"], utc=True)))


def _ri_catalog():
    return catalog([4.0], [None], [Product("ri", "reservation", 12, {F0: 2.5})])


def _plan(cat, demand, inventory, months=2):
    idx = horizon(months)
    d = demand(idx) if callable(demand) else np.full(len(idx), float(demand))
    return plan_problem(problem(forecast(idx, d[:, None]), cat, inventory=inventory), EXACT_SOLVE)


def _write_json(plan, path):
    path.write_text(render_plan(plan, "json"))
    return path


# ---------------------------------------------------------------- ids and renewed_by

def test_a_flat_renewal_names_its_purchase():
    """3 reserved until 01-11, demand 3/h: the plan buys 3 on 01-11 and the expiring row says
    which purchase renews it, by the id the JSON and the CSV give that purchase."""
    cat = _ri_catalog()
    inv = _held(cat, [("old", "ri", F0, 3.0, EXPIRY - YEAR, EXPIRY)])
    plan = _plan(cat, 3.0, inv)
    doc = json.loads(render_plan(plan, "json"))
    assert [(p["id"], p["date"], p["quantity"]) for p in doc["purchases"]] == [("gl-2026-01-11-ri-r1-f0",
                                                                                "2026-01-11", 3.0)]
    assert doc["expiring"] == [{"id": "old", "product": "ri", "family": F0, "quantity": 3.0,
                                "expires": "2026-01-11T00:00Z", "renew": True, "renewed_quantity": 3.0,
                                "renewed_by": ["gl-2026-01-11-ri-r1-f0"]}]
    csv = render_plan(plan, "csv").splitlines()
    assert csv[0].endswith(",expires,estimate,id") and csv[1].endswith(",2027-01-11,false,gl-2026-01-11-ri-r1-f0")
    again = json.loads(render_plan(_plan(cat, 3.0, inv), "json"))
    assert [p["id"] for p in again["purchases"]] == ["gl-2026-01-11-ri-r1-f0"]   # the same on a re-run


def test_falling_demand_lets_it_expire_with_no_renewal_named():
    """Demand 3/h until the expiry, then none: nothing is bought, the row reads let expire and
    ``renewed_by`` is empty."""
    cat = _ri_catalog()
    inv = _held(cat, [("old", "ri", F0, 3.0, EXPIRY - YEAR, EXPIRY)])
    plan = _plan(cat, lambda idx: np.where(idx < EXPIRY, 3.0, 0.0), inv)
    doc = json.loads(render_plan(plan, "json"))
    assert doc["purchases"] == []
    assert [(e["id"], e["renew"], e["renewed_quantity"], e["renewed_by"]) for e in doc["expiring"]] == [
        ("old", False, 0.0, [])]


def test_commitments_expiring_together_share_the_purchases_in_order():
    """5 held to the end, 3 (b) and 2 (c) ending after month 1 and 4 (d) ending on 01-11
    (one group: d's next ladder step is 02-01 too); demand 14/h in January, then 12/h. The
    plan buys 4 on 01-11 and 3 on 02-01, shared out in expiry and id order: d is renewed
    by the first, b by the second, c by none."""
    cat = _ri_catalog()
    feb = START + pd.DateOffset(months=1)
    inv = _held(cat, [("a-stay", "ri", F0, 5.0, START, START + pd.DateOffset(months=3)),
                      ("b-first", "ri", F0, 3.0, START, feb), ("c-second", "ri", F0, 2.0, START, feb),
                      ("d-early", "ri", F0, 4.0, EXPIRY - pd.DateOffset(months=1), EXPIRY)])
    plan = _plan(cat, lambda idx: np.where(idx < feb, 14.0, 12.0), inv)
    doc = json.loads(render_plan(plan, "json"))
    assert [(p["id"], p["quantity"]) for p in doc["purchases"]] == [("gl-2026-01-11-ri-r1-f0", 4.0),
                                                                    ("gl-2026-02-01-ri-r1-f0", 3.0)]
    rows = {e["id"]: (e["renewed_quantity"], e["renewed_by"]) for e in doc["expiring"]}
    assert rows == {"d-early": (4.0, ["gl-2026-01-11-ri-r1-f0"]), "b-first": (3.0, ["gl-2026-02-01-ri-r1-f0"]),
                    "c-second": (0.0, [])}


def test_one_expiry_renewed_by_two_purchases_names_both():
    """2 held to the end, 5 ending on 01-11; demand 7/h, 4/h from 01-11, 7/h from 02-01. The
    plan buys 2 on 01-11 and 3 on 02-01 (its next ladder step): together they renew the 5."""
    cat = _ri_catalog()
    feb = START + pd.DateOffset(months=1)
    inv = _held(cat, [("stay", "ri", F0, 2.0, START, START + YEAR), ("x", "ri", F0, 5.0, EXPIRY - YEAR, EXPIRY)])
    plan = _plan(cat, lambda idx: np.where((idx >= EXPIRY) & (idx < feb), 4.0, 7.0), inv)
    doc = json.loads(render_plan(plan, "json"))
    assert [(p["id"], p["quantity"]) for p in doc["purchases"]] == [("gl-2026-01-11-ri-r1-f0", 2.0),
                                                                    ("gl-2026-02-01-ri-r1-f0", 3.0)]
    assert [(e["id"], e["renew"], e["renewed_quantity"], e["renewed_by"]) for e in doc["expiring"]] == [
        ("x", True, 5.0, ["gl-2026-01-11-ri-r1-f0", "gl-2026-02-01-ri-r1-f0"])]


@pytest.mark.parametrize("seed", range(8))
def test_renewed_by_agrees_with_renewed_quantity(seed):
    """Random held reservations ending in a 3-month horizon, random demand per 10 days:
    ``renewed_by`` is empty exactly when ``renewed_quantity`` is 0, names only the plan's
    purchases, dated from the first expiry of its group's day to the renewal's step."""
    rng = np.random.default_rng(seed)
    cat = _ri_catalog()
    rows = [(f"h{i}", "ri", F0, float(rng.integers(1, 5)), e - YEAR, e)
            for i, e in enumerate(START + pd.to_timedelta(rng.integers(0, 80, size=rng.integers(2, 5)), unit="D"))]
    levels = rng.integers(0, 12, size=10).astype(float)
    plan = _plan(cat, lambda idx: levels[np.minimum((idx - START).days // 10, 9)], _held(cat, rows), months=3)
    doc = json.loads(render_plan(plan, "json"))
    dates = {p["id"]: pd.Timestamp(p["date"], tz="UTC") for p in doc["purchases"]}
    assert len(dates) == len(doc["purchases"])
    for e in doc["expiring"]:
        assert bool(e["renewed_by"]) == (e["renewed_quantity"] > 0), e
        assert set(e["renewed_by"]) <= set(dates)
        assert all(dates[i] >= pd.Timestamp(e["expires"]).floor("D") - pd.DateOffset(months=1) for i in e["renewed_by"])


def test_an_id_the_inventory_holds_takes_a_suffix():
    """The held reservation that ends on 01-11 happens to carry the id its renewal would get:
    the renewal reads ``-2`` (an inventory id is never reused, so it can be recorded)."""
    cat = _ri_catalog()
    inv = _held(cat, [("gl-2026-01-11-ri-r1-f0", "ri", F0, 3.0, EXPIRY - YEAR, EXPIRY)])
    doc = json.loads(render_plan(_plan(cat, 3.0, inv), "json"))
    assert [p["id"] for p in doc["purchases"]] == ["gl-2026-01-11-ri-r1-f0-2"]
    assert doc["expiring"][0]["renewed_by"] == ["gl-2026-01-11-ri-r1-f0-2"]


def test_purchase_ids_off_midnight_and_odd_characters():
    """A purchase at 06:00 carries the hour; a savings plan has no family part; characters
    outside A-Za-z0-9._- read '_'."""
    names = ["x y", "0"]
    cat = catalog([4.0, 4.0], [None, None], [Product("ri", "reservation", 12, {family(0, names): 2.5}),
                                             Product("sp/1", "savings_plan", 12, {family(1, names): 2.0})],
                  names=names)
    book = make_purchases(cat, pd.DataFrame({
        "product": ["sp/1", "ri"], "family": ["", family(0, names)], "quantity": [1.5, 2.0],
        "start": [START, START + pd.Timedelta(hours=6)]}))
    assert purchase_ids(book).sort_index().tolist() == ["gl-2026-01-01-sp_1", "gl-2026-01-01T0600Z-ri-r1-fx_y"]


# ---------------------------------------------------------------- recording

def test_a_savings_plan_is_recorded_as_dollars_per_hour_with_no_family(tmp_path):
    """$7/h held until 01-11, renewed by $6.999/h: the row is the id, the product, an empty
    family, 6.999 and the term's dates; the file loads as inventory."""
    cat = catalog([4.0], [None], [Product("sp", "savings_plan", 12, {F0: 2.3333})])
    plan = _plan(cat, 3.0, _held(cat, [("sp-old", "sp", "", 7.0, EXPIRY - YEAR, EXPIRY)]))
    rec = record_purchases(_write_json(plan, tmp_path / "plan.json"))
    assert rec.text == HEADER + "gl-2026-01-11-sp,sp,,6.999,2026-01-11,2027-01-11\n"
    assert rec.added_ids == ("gl-2026-01-11-sp",) and rec.later_purchases == 0
    (tmp_path / "inv.csv").write_text(rec.text)
    book = load_inventory(tmp_path / "inv.csv", cat)
    assert book.items[["id", "kind", "family", "quantity"]].values.tolist() == [
        ["gl-2026-01-11-sp", "savings_plan", "", 6.999]]


def _two_step_plan_json(tmp_path):
    """Demand 3/h in January, 5/h from February: 3 bought on 01-01, 2 more on 02-01."""
    cat = _ri_catalog()
    plan = _plan(cat, lambda idx: np.where(idx < START + pd.DateOffset(months=1), 3.0, 5.0), CommitmentBook.empty())
    assert plan.purchases[["date", "quantity"]].values.tolist() == [[START, 3.0],
                                                                   [START + pd.DateOffset(months=1), 2.0]]
    return _write_json(plan, tmp_path / "plan.json"), cat


def test_through_selects_the_steps_recorded(tmp_path):
    path, _ = _two_step_plan_json(tmp_path)
    first = record_purchases(path)
    assert first.added_ids == ("gl-2026-01-01-ri-r1-f0",) and first.later_purchases == 1
    assert first.next_date == pd.Timestamp("2026-02-01", tz="UTC")
    both = record_purchases(path, None, "2026-02-01")
    assert both.text == HEADER + ("gl-2026-01-01-ri-r1-f0,ri,t/r1/f0,3,2026-01-01,2027-01-01\n"
                                  "gl-2026-02-01-ri-r1-f0,ri,t/r1/f0,2,2026-02-01,2027-02-01\n")
    assert record_purchases(path, None, "2026-01-31T23:00:00Z").added_ids == ("gl-2026-01-01-ri-r1-f0",)
    assert first.notes == ()
    assert both.notes == ("a purchase recorded starts 2026-02-01, on or after the plan's next ladder step "
                          "(2026-02-01): it is recorded as bought now, queued to start then; if you buy it only "
                          "then, leave it to a later plan (--through a date before it)",)


def test_the_default_records_the_first_step_with_its_mid_step_renewal(tmp_path):
    """3 reserved until 01-11, demand 3/h in January and 5/h from February: the plan renews 3 on
    01-11 and adds 2 on 02-01, its next ladder step (horizon.next_step). A monthly script run on
    01-01 buys what the plan dates before 02-01, the renewal included (it used to record only
    the first date's purchases, so the renewal was never bought and 01-11 to 02-01 ran on
    demand); the February purchase is the next plan's to decide."""
    cat = _ri_catalog()
    inv = _held(cat, [("old", "ri", F0, 3.0, EXPIRY - YEAR, EXPIRY)])
    plan = _plan(cat, lambda idx: np.where(idx < START + pd.DateOffset(months=1), 3.0, 5.0), inv)
    path = _write_json(plan, tmp_path / "plan.json")
    doc = json.loads(path.read_text())
    assert doc["horizon"]["next_step"] == "2026-02-01T00:00Z"
    assert [(p["id"], p["quantity"]) for p in doc["purchases"]] == [("gl-2026-01-11-ri-r1-f0", 3.0),
                                                                   ("gl-2026-02-01-ri-r1-f0", 2.0)]
    rec = record_purchases(path)
    assert rec.added_ids == ("gl-2026-01-11-ri-r1-f0",) and rec.later_purchases == 1 and rec.notes == ()
    assert rec.through == pd.Timestamp("2026-01-31T23:59:59", tz="UTC")
    res = CliRunner().invoke(main, ["inventory", "record", str(path)])
    assert res.exit_code == 0, res.output
    assert ("recorded 1 purchase dated before 2026-02-01, the plan's next ladder step: gl-2026-01-11-ri-r1-f0"
            in res.stderr)
    assert "not recorded: 1 later purchase (from 2026-02-01)" in res.stderr


def test_a_plan_whose_first_purchase_is_in_a_later_step_records_nothing_now(tmp_path):
    """Nothing bought before the next step: a monthly script has nothing to buy this month."""
    doc = _plan_doc(id="gl-2026-06-01-ri-r1-f0", date="2026-06-01", expires="2027-06-01")
    doc["horizon"] = {"start": "2026-01-01T00:00Z", "months": 12, "end": "2027-01-01T00:00Z",
                      "next_step": "2026-02-01T00:00Z"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    rec = record_purchases(path)
    assert rec.added_ids == () and rec.text == HEADER and rec.later_purchases == 1


def test_a_first_purchase_months_after_the_start_is_recorded_with_a_note(tmp_path):
    """A plan JSON without horizon.next_step (written by hand) starts 2026-01-01 and buys first
    on 2026-06-01: recorded (the default is then the first purchase date), with a note that it
    is recorded as bought now."""
    doc = _plan_doc(id="gl-2026-06-01-ri-r1-f0", date="2026-06-01", expires="2027-06-01")
    doc["horizon"] = {"start": "2026-01-01T00:00Z", "months": 12, "end": "2027-01-01T00:00Z"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    res = CliRunner().invoke(main, ["inventory", "record", str(path)])
    assert res.exit_code == 0 and res.stdout == HEADER + "gl-2026-06-01-ri-r1-f0,ri,t/r1/f0,3,2026-06-01,2027-06-01\n"
    assert ("note: a purchase recorded starts 2026-06-01, a month or more after the plan's start (2026-01-01): "
            "it is recorded as bought now, queued to start then") in res.stderr
    doc["horizon"]["start"] = "2026-05-15T00:00Z"
    path.write_text(json.dumps(doc))
    assert record_purchases(path).notes == ()


def test_the_existing_file_is_kept_byte_for_byte(tmp_path):
    """BOM, CRLF, an extra column in another order, a quoted note, no final line break: the
    old bytes stay, the row follows in the file's columns and line ending, and it loads."""
    path, cat = _two_step_plan_json(tmp_path)
    old = ("\ufeffid,product,family,note,quantity,start,end\r\n"
           'held-1,ri,t/r1/f0,"bought, by hand",1,2025-06-01,2026-06-01').encode("utf-8")
    inv = tmp_path / "inv.csv"
    inv.write_bytes(old)
    res = CliRunner().invoke(main, ["inventory", "record", str(path), "--inventory", str(inv), "-o", str(inv)])
    assert res.exit_code == 0, res.output
    new = inv.read_bytes()
    assert new == old + b"\r\ngl-2026-01-01-ri-r1-f0,ri,t/r1/f0,,3,2026-01-01,2027-01-01\r\n"
    assert load_inventory(inv, cat).items["id"].tolist() == ["held-1", "gl-2026-01-01-ri-r1-f0"]
    assert ("recorded 1 purchase dated before 2026-02-01, the plan's next ladder step: gl-2026-01-01-ri-r1-f0"
            in res.stderr)
    assert "not recorded: 1 later purchase (from 2026-02-01)" in res.stderr


def test_a_failed_write_leaves_the_old_inventory(tmp_path, monkeypatch):
    path, _ = _two_step_plan_json(tmp_path)
    inv = tmp_path / "inv.csv"
    inv.write_text(HEADER + "held-1,ri,t/r1/f0,1,2025-06-01,2026-06-01\n")
    before = inv.read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    res = CliRunner().invoke(main, ["inventory", "record", str(path), "--inventory", str(inv), "-o", str(inv)])
    monkeypatch.undo()
    assert res.exit_code == 1 and "No space left on device" in res.stderr
    assert inv.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inv.csv", "plan.json"]   # no temporary file left


def test_nothing_bought_writes_the_inventory_as_it_is(tmp_path):
    cat = _ri_catalog()
    plan = _plan(cat, 0.0, CommitmentBook.empty())
    path = _write_json(plan, tmp_path / "plan.json")
    res = CliRunner().invoke(main, ["inventory", "record", str(path)])
    assert res.exit_code == 0 and res.stdout == HEADER and "recorded nothing: the plan buys nothing" in res.stderr


# ---------------------------------------------------------------- refusals

def _plan_doc(**purchase):
    p = {"id": "gl-2026-01-01-ri-r1-f0", "date": "2026-01-01", "provider": "t", "product": "ri",
         "kind": "reservation", "family": F0, "scope": None, "term_months": 12, "payment": "no_upfront",
         "quantity": 3.0, "upfront_usd": 0.0, "recurring_usd_per_hour": 7.5, "expires": "2027-01-01"}
    p.update(purchase)
    return {"schema": PLAN_SCHEMA, "purchases": [{k: v for k, v in p.items() if v is not ...}]}


@pytest.mark.parametrize("content,message", [
    ("date,provider,product\n", "not JSON (line 1, column 1: Expecting value); a plan in table, CSV"),
    (json.dumps({"schema": "gpuladder.backtest/1"}), "not a gpuladder.plan/1 plan (schema 'gpuladder.backtest/1')"),
    (json.dumps([1, 2]), "not a gpuladder.plan/1 plan (no 'schema' key)"),
    (json.dumps(_plan_doc(id=...)), "purchase 1 (purchases[0]): has no 'id' (a plan written before gpuladder"),
    (json.dumps(_plan_doc(id="a,b")), "id \"a,b\" is not an id the inventory CSV keeps as written"),
    (json.dumps(_plan_doc(quantity=-1)), "quantity -1 is not a positive number"),
    (json.dumps(_plan_doc(date="2026-13-01")), "'date' '2026-13-01' is not an ISO 8601 date"),
    (json.dumps(_plan_doc(kind="capacity_block")), "kind 'capacity_block' cannot be written in the inventory file"),
    (json.dumps(_plan_doc(family=None)), "a reservation without a family cannot be written"),
    (json.dumps(_plan_doc(kind="savings_plan")), "a savings plan with family 't/r1/f0' cannot be written"),
])
def test_a_bad_plan_file_is_refused(tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content)
    res = CliRunner().invoke(main, ["inventory", "record", str(path), "-o", str(tmp_path / "inv.csv")])
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith(f"error: {path}: ") and message in res.stderr and "You can fix this by" in res.stderr
    assert not (tmp_path / "inv.csv").exists()


def test_recording_the_same_plan_twice_is_refused(tmp_path):
    path, _ = _two_step_plan_json(tmp_path)
    inv = tmp_path / "inv.csv"
    inv.write_text(HEADER + "held-1,ri,t/r1/f0,1,2025-06-01,2026-06-01\n")
    for expected in (0, 1):
        res = CliRunner().invoke(main, ["inventory", "record", str(path), "--inventory", str(inv), "-o", str(inv)])
        assert res.exit_code == expected, res.output
    assert (f"error: {inv}, row 3, column 'id': id 'gl-2026-01-01-ri-r1-f0' of the plan's purchase 1 (2026-01-01 ri "
            "t/r1/f0) is already in the inventory: this plan's purchases were recorded before (recording the same "
            "plan twice)") in res.stderr
    assert inv.read_text().count("gl-2026-01-01-ri-r1-f0") == 1


def test_other_refusals(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan_doc()))
    with pytest.raises(InputError, match="inventory file not found"):
        record_purchases(path, tmp_path / "missing.csv")
    with pytest.raises(InputError, match="plan file not found"):
        record_purchases(tmp_path / "nope.json")
    with pytest.raises(InputError, match="--through '2026-02-30' is not an ISO 8601 date"):
        record_purchases(path, None, "2026-02-30")
    with pytest.raises(InputError, match="--through '' is not an ISO 8601 date"):
        record_purchases(path, None, "")
    (tmp_path / "inv.csv").write_text("id,product,quantity\n")
    with pytest.raises(InputError, match="missing column 'family'"):
        record_purchases(path, tmp_path / "inv.csv")
    doc = _plan_doc()
    doc["purchases"].append(dict(doc["purchases"][0], date="2026-02-01"))
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="purchases 1 and 2 have the same id"):
        record_purchases(path)


def test_the_plan_schema_is_the_reports():
    assert inventory_record.PLAN_SCHEMA == PLAN_SCHEMA


# ---------------------------------------------------------------- the monthly loop, end to end

G5 = "aws/us-east-1/g5.12xlarge"
RI = "aws-ri-1y-no_upfront"
RENEWAL = f"gl-2027-02-01-{RI}-us-east-1-g5.12xlarge"


def test_the_monthly_loop_plan_record_plan(tmp_path):
    """10 g5 held until 2027-02-01, replay of 10/h, 13-month horizons, a run on each 1st.
    January's plan renews them with 10 bought on 02-01, its next ladder step: nothing to buy
    in January, so nothing recorded. February's plan buys the same purchase (same id) in its
    first step, renewed_by names it; recorded. March's plan holds it (buys nothing before
    2028-02-01) and lists it as expiring then, renewed by the purchase of that day; validate
    accepts the inventory; recording February again is refused."""
    write_flat_case(tmp_path, G5, 10.0, "2026-12-01", 14, [f"m1-1,{RI},{G5},10,2026-02-01,2027-02-01"],
                    "usage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2027-01-01', months: 13}\n"
                    "forecast: {method: replay}\nproducts: {providers: [aws], terms_months: [12], "
                    "payments: [no_upfront], kinds: [reservation]}\nconstraints: {spot_cap: 0}\n")
    run = CliRunner().invoke
    scenario, inv = str(tmp_path / "s.yaml"), str(tmp_path / "inv.csv")
    held = open(inv).read()

    def month(start):
        out = str(tmp_path / f"{start}.json")
        res = run(main, ["plan", scenario, "--set", f"horizon.start={start}", "--format", "json", "-o", out])
        assert res.exit_code == 0, res.output
        rec = run(main, ["inventory", "record", out, "--inventory", inv, "-o", inv])
        assert rec.exit_code == 0, rec.output
        return json.loads(open(out).read()), rec.stderr, out

    jan, said, _ = month("2027-01-01")
    assert [p["id"] for p in jan["purchases"]] == [RENEWAL] and jan["horizon"]["next_step"] == "2027-02-01T00:00Z"
    assert "recorded 0 purchases dated before 2027-02-01" in said and open(inv).read() == held
    feb, said, feb_json = month("2027-02-01")
    nxt = f"gl-2028-02-01-{RI}-us-east-1-g5.12xlarge"
    assert [p["id"] for p in feb["purchases"]] == [RENEWAL, nxt]    # its horizon reaches 2028-03-01
    assert f"dated before 2027-03-01, the plan's next ladder step: {RENEWAL}" in said
    assert "not recorded: 1 later purchase (from 2028-02-01)" in said
    assert [(e["id"], e["renew"], e["renewed_by"]) for e in feb["expiring"]] == [("m1-1", True, [RENEWAL])]
    assert open(inv).read() == held + f"{RENEWAL},{RI},{G5},10,2027-02-01,2028-02-01\n"
    assert run(main, ["validate", scenario]).exit_code == 0
    mar, said, _ = month("2027-03-01")
    assert [(p["id"], p["quantity"]) for p in mar["purchases"]] == [(nxt, 10.0)]
    assert [(e["id"], e["expires"], e["renew"], e["renewed_by"]) for e in mar["expiring"]] == [
        (RENEWAL, "2028-02-01T00:00Z", True, [nxt])]
    assert "recorded 0 purchases" in said
    again = run(main, ["inventory", "record", feb_json, "--inventory", inv, "-o", inv])
    assert again.exit_code == 1 and "recording the same plan twice" in again.stderr

def test_a_quarterly_ladder_records_the_quarter_with_its_renewal(tmp_path):
    """The same fleet on a quarterly ladder from 2027-01-01: the next step is 2027-04-01, so the
    renewal on 02-01 (the held commitment's expiry day, inside the first step) is this run's to
    buy and record."""
    write_flat_case(tmp_path, G5, 10.0, "2026-12-01", 14, [f"m1-1,{RI},{G5},10,2026-02-01,2027-02-01"],
                    "usage: usage.csv\ninventory: inv.csv\nhorizon: {start: '2027-01-01', months: 12}\n"
                    "forecast: {method: replay}\nproducts: {providers: [aws], terms_months: [12], "
                    "payments: [no_upfront], kinds: [reservation]}\n"
                    "constraints: {spot_cap: 0, ladder_step_months: 3}\n")
    out, inv = str(tmp_path / "q.json"), str(tmp_path / "inv.csv")
    run = CliRunner().invoke
    assert run(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json", "-o", out]).exit_code == 0
    doc = json.loads(open(out).read())
    assert doc["horizon"]["next_step"] == "2027-04-01T00:00Z"
    assert [(p["id"], p["date"]) for p in doc["purchases"]] == [(RENEWAL, "2027-02-01")]
    res = run(main, ["inventory", "record", out, "--inventory", inv, "-o", inv])
    assert res.exit_code == 0, res.output
    assert f"recorded 1 purchase dated before 2027-04-01, the plan's next ladder step: {RENEWAL}" in res.stderr
    assert open(inv).read().splitlines()[-1] == f"{RENEWAL},{RI},{G5},10,2027-02-01,2028-02-01"
