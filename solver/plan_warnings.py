"""The warnings a plan carries (solver/plan.py): estimated rates, the solver's time limit
and compression, lock-in after the horizon, upfront budgets reduced by the inventory,
prices dated more than a year before the horizon, floors lowered by the inventory's sunk
shortfall, and purchases the simulator measures under the floor. Text from catalog dates,
the book's arithmetic and the simulator; every cost a plan prints comes from the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.solver.book import CommitmentBook, fees_after
from gpuladder.solver.lp import SolveStatus
from gpuladder.solver.modeldata import ModelData, PlanningProblem
from gpuladder.solver.quarters import upfront_budget_notes
from gpuladder.units import HOUR

if TYPE_CHECKING:
    from gpuladder.solver.plan import SolverReport

__all__ = ["estimated_products", "held_floor_keys", "lock_in_warning", "shortfall_note", "simulated_floor_warning",
           "solver_warnings", "stale_price_warning", "upfront_budget_warning"]


def estimated_products(prods: pd.DataFrame) -> set[str]:
    """Products with an estimated rate (none when the catalog has no commitment products)."""
    if prods.empty or "estimate" not in prods:
        return set()
    return set(prods.index[prods["estimate"].astype(bool)])


def lock_in_warning(book: CommitmentBook, horizon_end: pd.Timestamp) -> list[str]:
    """When most of the purchases' amortized fees fall after the horizon: the plan's cost
    charges only the hours inside it (DESIGN section 5), so it never weighed them."""
    bought = book.of_origin("purchase")
    if len(bought) == 0:
        return []
    after = fees_after(bought, horizon_end)
    total = float((bought.amortized_usd_per_hour() * ((bought.items["end"] - bought.items["start"]) / HOUR)).sum())
    if after <= 0.5 * total:
        return []
    longest = int(bought.items.loc[bought.items["end"] > horizon_end, "term_months"].max())
    return [f"{after / total:.0%} of the purchases' amortized fees (${after:,.0f}) fall after the horizon's end; "
            "the plan's cost charges only the hours inside the horizon, so it did not weigh them against their "
            f"use there. To weigh them, plan over the terms: --set horizon.months={longest}"]


STALE_PRICE_DAYS = 365
STALE_NAMED = 5
SPOT_DATE_RE = r"spot_usd_per_hour: .*? as of (\d{4}-\d{2}-\d{2})"


def upfront_budget_warning(problem: PlanningProblem, data: ModelData) -> list[str]:
    """Why less upfront was bought: a quarter's budget reduced by the inventory bought in it
    before the horizon's start (a monthly re-ladder's earlier purchases), or used up."""
    return upfront_budget_notes(problem.constraints.max_upfront_usd_per_quarter, problem.inventory,
                                data.inv_upfront_usd, data.horizon_start, data.fiscal_year_start_month)


def stale_price_warning(catalog: PriceCatalog, data: ModelData, spot_families: pd.Index) -> list[str]:
    """The families with demand whose prices are dated more than STALE_PRICE_DAYS before the
    horizon's start (the embedded AWS prices outside us-east-1 are from 2024-04-04, before
    the mid-2025 GPU price cuts: p4d.24xlarge was $32.77/h, now $21.96/h); and of
    ``spot_families`` (interruptible demand), those whose spot price alone is that old: a
    spot price carried over from an older source names its date in ``source``
    ("spot_usd_per_hour: SOURCE as of DATE"; 26 us-east-1 families of the embedded catalog
    have 2024-04-04 spot under 2026-07-20 on-demand)."""
    used = data.prices.index[data.prices["peak_instances"] > 0]
    fams = catalog.families.reindex(used)
    as_of = pd.to_datetime(fams["as_of"], utc=True)
    limit = data.horizon_start - pd.Timedelta(days=STALE_PRICE_DAYS)
    old = as_of[as_of < limit].sort_values()
    spot_dated = fams["source"].astype(str).str.extract(SPOT_DATE_RE, expand=False)
    spot_as_of = pd.to_datetime(spot_dated.where(fams["spot_usd_per_hour"].notna() & used.isin(spot_families)),
                                utc=True)
    old_spot = spot_as_of[(spot_as_of < limit) & ~spot_as_of.index.isin(old.index)].sort_values()
    out = []
    if not old.empty:
        out.append(f"prices dated more than a year before the horizon's start ({data.horizon_start:%Y-%m-%d}): "
                   f"{_named(old)}; on-demand, spot and commitment rates may have changed since. Refresh AWS "
                   "prices with `gpuladder catalog fetch aws`, or lay a catalog folder with current prices over "
                   "the embedded one (--catalog embedded --catalog DIR)")
    if not old_spot.empty:
        out.append(f"spot prices dated more than a year before the horizon's start ({data.horizon_start:%Y-%m-%d}), "
                   f"carried over from an older source (their on-demand prices are newer): {_named(old_spot)}; the "
                   "plan's spot share rests on them. Refresh AWS prices with `gpuladder catalog fetch aws`, or set "
                   "spot_usd_per_hour in a catalog folder laid over the embedded one")
    return out


def _named(dates: pd.Series) -> str:
    named = ", ".join(f"{f} ({d:%Y-%m-%d})" for f, d in dates.iloc[:STALE_NAMED].items())
    return named + (f" and {len(dates) - STALE_NAMED} more" if len(dates) > STALE_NAMED else "")


def solver_warnings(purchases: pd.DataFrame, catalog: PriceCatalog, report: "SolverReport", status,
                    topped_up: bool = False) -> list[str]:
    out = []
    prods = catalog.products()
    est = sorted(set(purchases["product"]) & estimated_products(prods))
    if est:
        provider = prods["provider"].reindex(est) if "provider" in prods else pd.Series(dtype=object)
        how = []
        if (provider == "aws").any():
            how.append("refresh the AWS ones with `gpuladder catalog fetch aws`")
        if (provider != "aws").any():
            how.append("check the others against the provider's price list and lay a catalog folder with the "
                       "published rates over the embedded one (--catalog embedded --catalog DIR)")
        out.append("this plan relies on estimated commitment rates (no public rate file): "
                   + ", ".join(est) + "; " + "; ".join(how) + " before buying")
    if status == SolveStatus.TIME_LIMIT:
        gap = f"{report.gap:.2%}" if report.gap is not None else "unknown"
        out.append(f"the solver stopped on its time limit: best plan found, gap {gap}")
    if not report.exact:
        out.append(f"model compression in play (layers: {report.resolution}; savings plans split per period): "
                   f"model objective differs from the simulated cost by {round(report.difference_share, 5) + 0.0:+.3%}"
                   + ("; the objective is of the model's own purchases, the cost of the purchases after the "
                      "simulator's top-up below (its saving is in this difference)" if topped_up else ""))
    return out


def floor_keys(items: pd.DataFrame) -> pd.Series:
    """The key a commitment's utilization floor is held on: a reservation's family, a
    savings plan's product (with ``kind``, the floor rows' (kind, key))."""
    return items["family"].where(items["kind"] == "reservation", items["product"])


def held_floor_keys(items: pd.DataFrame) -> set:
    """The (kind, key) of the floors ``items`` (an inventory's rows) hold commitments on."""
    return set(zip(items["kind"], floor_keys(items)))


def shortfall_note(shortfall: pd.Series, held: set) -> str:
    """The warning for the floors lowered by the sunk shortfall (plan.sunk_floor_shortfall):
    ``shortfall`` (kind, key, path, window) -> amount; ``held``: the (kind, key) the inventory
    holds (reservations: their family; savings plans: their product). A row of a key not held
    misses the floor only because the model reads its use net of the held commitments'
    capacity (docs/model.md, floor rows): it is named apart, not as a commitment that exists."""
    mine, others = [], []
    for (kind, key), group in shortfall.groupby(level=[0, 1]):
        worst = float(group.groupby(level=2).sum().max())   # over the windows, the worst path
        text = (f"reservations of {key}: {worst:,.0f} instance-hours" if kind == "reservation"
                else f"savings plan {key}: ${worst:,.0f} of commitment")
        (mine if (kind, key) in held else others).append(text)
    out = []
    if mine:
        out.append("existing commitments miss the utilization floor on the forecast even if nothing is bought ("
                   + "; ".join(mine) + ")")
    if others:
        lead = ("the floors of products not held are lowered too, since the model reads their use net of the "
                "held commitments' capacity (" if mine else
                "existing commitments make the model miss the utilization floor even if nothing is bought, "
                "through products they do not hold: it reads their use net of the held commitments' capacity (")
        out.append(lead + "; ".join(others) + ")")
    return "; ".join(out) + "; each floor was lowered by exactly that much, so what the plan buys is still held to it"


FLOOR_CHECK_TOLERANCE = 1e-3   # a share: what rounding the purchases may cost the model's floor


def simulated_floor_warning(book: CommitmentBook, sims: dict, paths: tuple, min_utilization: float | None,
                            difference_share: float) -> list[str]:
    """What the plan bought of a savings-plan product, or of a family's reservations, that the
    inventory does not hold (all of its use is the plan's), used less than ``min_utilization``
    over the horizon on a path of ``paths`` (the expected and the conservative one) as the
    billing simulator measures it. The model holds the floor on its own reading of use, which
    for savings plans coupling several families is the period's spend distribution (DESIGN
    section 5): where that reading is off, the simulator, which is the truth, says so here."""
    if min_utilization is None:
        return []
    it = book.items
    key = floor_keys(it)
    mine = it["origin"] == "purchase"
    held = held_floor_keys(it[~mine])
    new = mine & ~pd.Series([k in held for k in zip(it["kind"], key)], index=it.index)
    if not new.any():
        return []
    short = []
    for path in (p for p in dict.fromkeys(paths) if p is not None):
        bc = sims[path].by_commitment.loc[it.loc[new, "id"]]
        use = bc.groupby([it.loc[new, "kind"].to_numpy(), key[new].to_numpy()])[["used_usd", "amortized_fee_usd"]].sum()
        for (kind, k), r in use.iterrows():
            if r.amortized_fee_usd > 0 and r.used_usd < (min_utilization - FLOOR_CHECK_TOLERANCE) * r.amortized_fee_usd:
                what = f"reservations of {k}" if kind == "reservation" else k
                short.append(f"{what} is used {r.used_usd / r.amortized_fee_usd:.1%} on {path}")
    if not short:
        return []
    return [f"the billing simulator measures less use than the model for what this plan buys: "
            f"{'; '.join(short)}, below the {min_utilization:.0%} floor (the model reads savings plans that "
            f"cover several families through each period's spend; model vs simulator "
            f"{round(difference_share, 5) + 0.0:+.3%}); check these purchases before buying, or leave the product "
            "out (products.ids) and plan again"]

