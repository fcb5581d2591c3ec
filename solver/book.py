"""The commitment book: every commitment in force or bought, in one table.

Shared by the plan (purchases + inventory) and the billing simulator (which reads it
as plain data). One row per commitment:

``id, origin, product, provider, kind, family, quantity, start, end, term_months,
payment, upfront_usd, recurring_usd_per_hour``

* ``origin``: ``inventory`` (existing, sunk) or ``purchase`` (bought by the plan).
* ``kind='reservation'``: ``family`` set, ``quantity`` in instances.
* ``kind='savings_plan'``: ``family`` empty, ``quantity`` in $/h of commitment; the
  families it covers and their rates ($ of commitment per instance-hour) are the
  product's rows in the catalog.
* ``upfront_usd``: paid on ``start`` (0 for inventory bought before the horizon if the
  caller says so); ``recurring_usd_per_hour``: charged every hour in [start, end).
  Both are totals for the row (all units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.units import add_months, hours_between

SP_QUANTUM_USD_PER_HOUR = 0.001   # savings plans are bought in $0.001/h steps, rounded down (keeps floors met)


def plan_usd_per_hour_bought(usd_per_hour):
    """Savings-plan $/h as bought: rounded down to the $0.001/h quantum (a hair of float
    noise below a step counts as the step)."""
    return np.floor(np.asarray(usd_per_hour, dtype=float) / SP_QUANTUM_USD_PER_HOUR + 1e-6) * SP_QUANTUM_USD_PER_HOUR


BOOK_COLUMNS = ["id", "origin", "product", "provider", "kind", "family", "quantity", "start", "end",
                "term_months", "payment", "upfront_usd", "recurring_usd_per_hour"]


@dataclass(frozen=True)
class CommitmentBook:
    items: pd.DataFrame

    @staticmethod
    def empty() -> "CommitmentBook":
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in BOOK_COLUMNS})
        for c in ("quantity", "upfront_usd", "recurring_usd_per_hour"):
            df[c] = df[c].astype(float)
        df["term_months"] = df["term_months"].astype(int)
        df["start"] = pd.to_datetime(df["start"], utc=True)
        df["end"] = pd.to_datetime(df["end"], utc=True)
        return CommitmentBook(df)

    def __len__(self) -> int:
        return len(self.items)

    def concat(self, other: "CommitmentBook") -> "CommitmentBook":
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        return CommitmentBook(pd.concat([self.items, other.items], ignore_index=True))

    def of_origin(self, origin: str) -> "CommitmentBook":
        """The rows of one origin ("inventory" or "purchase")."""
        return CommitmentBook(self.items[self.items["origin"] == origin].reset_index(drop=True))

    def amortized_usd_per_hour(self) -> pd.Series:
        """Per row: recurring + upfront spread evenly over the term's hours."""
        it = self.items
        hours = (it["end"] - it["start"]) / pd.Timedelta(hours=1)
        return it["recurring_usd_per_hour"] + it["upfront_usd"] / hours

    def upfront_paid(self, since: pd.Timestamp, until: pd.Timestamp) -> pd.Series:
        """Upfront of the rows that start (and so pay it) in ``[since, until)``, the rows
        that paid nothing left out [$]."""
        it = self.items
        return it.loc[(it["start"] >= since) & (it["start"] < until) & (it["upfront_usd"] > 0), "upfront_usd"]


def fees_after(book: CommitmentBook, end: pd.Timestamp) -> float:
    """Amortized fees of ``book``'s commitments that fall after ``end`` [$]: (recurring $/h +
    upfront / term hours) x the hours from ``end`` (or the start, if later) to the expiry.
    The lock-in a plan (or a backtest policy) leaves beyond what it was scored on."""
    it = book.items
    if it.empty:
        return 0.0
    after = (it["end"] - it["start"].where(it["start"] > end, end)).clip(lower=pd.Timedelta(0)) / pd.Timedelta(hours=1)
    return float((book.amortized_usd_per_hour() * after).sum())


def unit_fee_usd_per_hour(catalog: PriceCatalog, product: str, family: str | None) -> float:
    """Effective amortized fee of one unit of ``product``: the family's reservation rate,
    or 1 $/h for a unit of savings-plan commitment."""
    com = catalog.commitments
    rows = com[com["product"] == product]
    if rows.empty:
        raise KeyError(product)
    if rows["kind"].iloc[0] == "savings_plan":
        return 1.0
    return float(rows.loc[rows["family"] == family, "rate_usd_per_hour"].iloc[0])


def make_purchases(catalog: PriceCatalog, purchases: pd.DataFrame, *, origin: str = "purchase",
                   id_prefix: str = "buy") -> CommitmentBook:
    """Turn ``purchases`` (columns product, family ('' for savings plans), quantity, start,
    optionally id) into book rows priced from the catalog, vectorized."""
    if purchases.empty:
        return CommitmentBook.empty()
    com = catalog.commitments
    meta = com.groupby("product")[["provider", "kind", "term_months", "payment", "upfront_share"]].first()
    p = purchases.reset_index(drop=True).copy()
    p["family"] = p["family"].fillna("").astype(str)
    m = meta.reindex(p["product"]).reset_index(drop=True)
    if m["kind"].isna().any():
        raise KeyError(p.loc[m["kind"].isna(), "product"].iloc[0])
    start = pd.to_datetime(p["start"], utc=True)
    end = pd.Series([add_months(s, t) for s, t in zip(start, m["term_months"])], dtype=start.dtype)
    hours = (end - start) / pd.Timedelta(hours=1)
    rate = com.set_index(["product", "family"])["rate_usd_per_hour"]
    is_sp = (m["kind"] == "savings_plan").to_numpy()
    res_rate = rate.reindex(pd.MultiIndex.from_arrays([p["product"], p["family"]])).to_numpy()
    unit = np.where(is_sp, 1.0, res_rate)
    if np.isnan(unit).any():
        i = int(np.flatnonzero(np.isnan(unit))[0])
        raise KeyError(f"{p['product'][i]} does not cover {p['family'][i]}")
    q = p["quantity"].astype(float).to_numpy()
    share = m["upfront_share"].astype(float).to_numpy()
    out = pd.DataFrame({
        "id": p["id"] if "id" in p else [f"{id_prefix}-{i + 1}" for i in range(len(p))],
        "origin": origin,
        "product": p["product"].to_numpy(),
        "provider": m["provider"].to_numpy(),
        "kind": m["kind"].to_numpy(),
        "family": np.where(is_sp, "", p["family"].to_numpy()),
        "quantity": q,
        "start": start.to_numpy(),
        "end": end.to_numpy(),
        "term_months": m["term_months"].astype(int).to_numpy(),
        "payment": m["payment"].to_numpy(),
        "upfront_usd": q * unit * hours.to_numpy() * share,
        "recurring_usd_per_hour": q * unit * (1.0 - share),
    })
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    return CommitmentBook(out[BOOK_COLUMNS])


__all__ = ["BOOK_COLUMNS", "CommitmentBook", "make_purchases", "unit_fee_usd_per_hour", "hours_between"]
