"""What `gpuladder catalog show` lists: families with their prices and the cheapest
commitment rate per term, filtered by provider, family pattern and GPU model."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpuladder.errors import InputError, did_you_mean
from gpuladder.pricing.catalog import ESTIMATE_PREFIX, PriceCatalog

VIEW_COLUMNS = ["family", "provider", "region", "instance_type", "gpu_model", "gpus_per_instance",
                "on_demand_usd_per_hour", "spot_usd_per_hour", "interruption_bucket", "as_of"]
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class CatalogQuery:
    """Filters; empty means no filter. ``family_glob`` matches the family key or the instance
    type (case-insensitive); ``gpu`` matches the GPU model exactly, as a prefix before '-'
    (``H100`` matches ``H100-80GB``) or as a glob."""

    providers: tuple[str, ...] = ()
    family_glob: str | None = None
    gpu: str | None = None


@dataclass(frozen=True)
class CatalogView:
    families: pd.DataFrame   # VIEW_COLUMNS + best_<T>m_usd_per_hour / _product / _estimate per term
    terms_months: tuple[int, ...]
    origin: str


def catalog_view(catalog: PriceCatalog, query: CatalogQuery = CatalogQuery()) -> CatalogView:
    """The families matching ``query``, sorted by key, with the cheapest commitment rate of
    each term over every product and payment option covering them."""
    fam = catalog.families.reset_index()
    mask = np.ones(len(fam), dtype=bool)
    if query.providers:
        known = sorted(fam["provider"].unique())
        wanted = [p.lower() for p in query.providers]
        for p in wanted:
            if p not in known:
                raise InputError(f"--provider '{p}' is not in the catalog.{did_you_mean(p, known)}",
                                 hint=f"using one of {', '.join(known)}.")
        mask &= fam["provider"].isin(wanted).to_numpy()
    if query.family_glob:
        pat = query.family_glob.lower()
        mask &= (_glob(fam["family"], pat) | _glob(fam["instance_type"], pat)).to_numpy()
    if query.gpu:
        g = query.gpu.lower()
        model = fam["gpu_model"].str.lower()
        if _GLOB_CHARS & set(g):
            mask &= _glob(fam["gpu_model"], g).to_numpy()
        else:
            mask &= (model.eq(g) | model.str.startswith(g + "-")).to_numpy()
    out = fam.loc[mask, VIEW_COLUMNS].sort_values("family").reset_index(drop=True)
    com = catalog.commitments
    com = com[com["family"].isin(out["family"])]
    terms = tuple(sorted(int(t) for t in catalog.commitments["term_months"].unique()))
    for term in terms:
        best = _cheapest(com[com["term_months"] == term])
        b = best.reindex(out["family"])
        out[f"best_{term}m_usd_per_hour"] = b["rate_usd_per_hour"].to_numpy()
        out[f"best_{term}m_product"] = b["product"].fillna("").to_numpy()
        out[f"best_{term}m_estimate"] = b["estimate"].fillna(False).astype(bool).to_numpy()
    return CatalogView(out, terms, catalog.origin)


def _glob(values: pd.Series, pattern: str) -> pd.Series:
    return values.str.lower().map(lambda v: fnmatch.fnmatchcase(v, pattern)).astype(bool)


def _cheapest(com: pd.DataFrame) -> pd.DataFrame:
    """Per family: the lowest rate (ties: real before estimate, then product id)."""
    c = com.assign(estimate=com["source"].str.startswith(ESTIMATE_PREFIX))
    c = c.sort_values(["family", "rate_usd_per_hour", "estimate", "product"])
    return c.drop_duplicates("family").set_index("family")[["rate_usd_per_hour", "product", "estimate"]]
