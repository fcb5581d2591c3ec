"""Existing commitments (inventory CSV of DESIGN.md section 3) -> CommitmentBook.

``id,product,family,quantity,start,end``: quantity in instances for a reservation, or
$/h of commitment for a savings plan (``family`` empty). Existing commitments are
sunk: the plan honours them, uses them first and plans around their expiries.
"""

from __future__ import annotations

import warnings


import numpy as np
import pandas as pd

from gpuladder.errors import InputError, did_you_mean
from gpuladder.textcsv import read_text_csv
from gpuladder.pricing.catalog import PriceCatalog
from gpuladder.solver.book import BOOK_COLUMNS, CommitmentBook, make_purchases
from gpuladder.units import MAX_INSTANCES
from gpuladder.usage.history import parse_utc_timestamps

INVENTORY_COLUMNS = ["id", "product", "family", "quantity", "start", "end"]
TERM_TOLERANCE = pd.Timedelta(days=3)  # providers count a year as 365 days; calendar years vary


def load_inventory(path, catalog: PriceCatalog) -> CommitmentBook:
    file = str(path)
    df = read_text_csv(path, INVENTORY_COLUMNS, what="inventory file")
    return inventory_from_frame(df, catalog, file=file)


def inventory_from_frame(df: pd.DataFrame, catalog: PriceCatalog, *, file: str) -> CommitmentBook:
    """Validate rows (string columns as in the CSV, index = row numbers) and price them."""
    if df.empty:
        return CommitmentBook.empty()
    for col in ("id", "product", "quantity", "start", "end"):
        empty = df[col].eq("")
        if empty.any():
            raise InputError("missing value", file=file, row=int(empty.idxmax()), column=col,
                             hint="filling in the value.")
    dup = df["id"].duplicated()
    if dup.any():
        r = int(dup.idxmax())
        raise InputError(f"commitment id '{df['id'][r]}' appears twice (overlapping records)",
                         file=file, row=r, column="id", hint="keeping one row per commitment id.")
    products = catalog.products()
    unknown = ~df["product"].isin(products.index)
    if unknown.any():
        r = int(unknown.idxmax())
        raise InputError(f"unknown product '{df['product'][r]}'.{did_you_mean(df['product'][r], products.index)}",
                         file=file, row=r, column="product",
                         hint="using a product id of the catalog (`gpuladder catalog show`).")
    kind = products["kind"].reindex(df["product"]).to_numpy()
    is_sp = kind == "savings_plan"
    fam = df["family"].to_numpy()
    sp_with_family = is_sp & (fam != "")
    if sp_with_family.any():
        r = int(df.index[sp_with_family.argmax()])
        raise InputError("a savings plan has no family (its scope is the product)", file=file,
                         row=r, column="family", hint="leaving family empty for savings plans.")
    res_missing = ~is_sp & (fam == "")
    if res_missing.any():
        r = int(df.index[res_missing.argmax()])
        raise InputError("a reservation needs its family", file=file, row=r, column="family",
                         hint="writing the family as provider/region/instance_type.")
    covered = set(zip(catalog.commitments["product"], catalog.commitments["family"]))
    for r, prod, f, sp in zip(df.index, df["product"], fam, is_sp):
        if not sp and (prod, f) not in covered:
            msg = (f"family '{f}' is not in the catalog.{did_you_mean(f, catalog.family_keys)}"
                   if f not in catalog.families.index else f"product '{prod}' does not cover family '{f}'")
            raise InputError(msg, file=file, row=int(r), column="family",
                             hint="correcting the family or the product.")
    qty = pd.to_numeric(df["quantity"], errors="coerce")
    bad = qty.isna() | (qty <= 0) | np.isinf(qty)
    if bad.any():
        r = int(bad.idxmax())
        raise InputError(f"quantity '{df['quantity'][r]}' must be a positive number", file=file, row=r,
                         column="quantity", hint="giving instances (reservations) or $/h (savings plans).")
    if (qty > MAX_INSTANCES).any():
        r = int((qty > MAX_INSTANCES).idxmax())
        raise InputError(f"quantity '{df['quantity'][r]}' is implausibly large (more than {MAX_INSTANCES:,.0f})",
                         file=file, row=r, column="quantity",
                         hint="giving instances (reservations) or $/h of commitment (savings plans).")
    provider = products["provider"].reindex(df["product"]).to_numpy()
    partial = ~is_sp & (provider == "aws") & (qty.to_numpy() != np.round(qty.to_numpy()))
    if partial.any():
        r = int(df.index[partial.argmax()])
        warnings.warn(f"{file} row {r}, column 'quantity': {partial.sum()} AWS reservation row(s) count part of an "
                      f"instance (first: {df['quantity'][r]}); an AWS reservation is a whole number of instances "
                      "of its type, so check the count unless it is a size-flexible reservation normalised to "
                      "this family's size", stacklevel=2)
    start = parse_utc_timestamps(df["start"], file=file, column="start", dates=True)
    end = parse_utc_timestamps(df["end"], file=file, column="end", dates=True)
    before = end <= start
    if before.any():
        r = int(before.idxmax())
        raise InputError(f"end {df['end'][r]} is not after start {df['start'][r]}", file=file, row=r,
                         column="end", hint="checking the dates (end = start + term).")
    book = make_purchases(catalog, pd.DataFrame({
        "id": df["id"].to_numpy(), "product": df["product"].to_numpy(), "family": fam,
        "quantity": qty.to_numpy(), "start": start.to_numpy()}), origin="inventory")
    it = book.items.copy()
    off = (it["end"] - end.reset_index(drop=True)).abs() > TERM_TOLERANCE
    if off.any():
        i = int(np.argmax(off.to_numpy()))
        r = int(df.index[i])
        raise InputError(f"end {df['end'][r]} contradicts the product's term of {it['term_months'][i]} months "
                         f"from {df['start'][r]}", file=file, row=r, column="end",
                         hint="checking the product (term) or the dates.")
    it["end"] = end.to_numpy()  # keep the provider's own end date
    return CommitmentBook(it[BOOK_COLUMNS])
