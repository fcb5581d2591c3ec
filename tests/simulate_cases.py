"""Small catalogs, books and demand frames for the billing simulator's tests
(tests/test_simulate.py, tests/test_simulate_properties.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import load_catalog
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate

FAMILY_HEADER = ("family,provider,region,instance_type,gpu_model,gpus_per_instance,"
                 "on_demand_usd_per_hour,spot_usd_per_hour,interruption_bucket,source,as_of")
COMMITMENT_HEADER = "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of"
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def fam(name: str) -> str:
    return f"aws/us-east-1/{name}"


def make_catalog(folder, families, commitments=()):
    """families: (instance_type, on_demand, spot or None, bucket);
    commitments: (product, kind, term_months, payment, upfront_share, instance_type, rate)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [FAMILY_HEADER] + [
        f"{fam(t)},aws,us-east-1,{t},H100,8,{od!r},{'' if spot is None else repr(spot)},{bucket},test,2026-01-01"
        for t, od, spot, bucket in families]
    (folder / "families.csv").write_text("\n".join(rows) + "\n")
    rows = [COMMITMENT_HEADER] + [
        f"{p},aws,{k},{term},{pay},{share!r},{fam(t)},{rate!r},test,2026-01-01"
        for p, k, term, pay, share, t, rate in commitments]
    (folder / "commitments.csv").write_text("\n".join(rows) + "\n")
    return load_catalog(folder)


def frame(columns: dict[str, list[float]], start=T0) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    idx = pd.date_range(start, periods=n, freq="h", tz="UTC")
    return pd.DataFrame({fam(k): np.asarray(v, dtype=float) for k, v in columns.items()}, index=idx)


def buy(catalog, rows) -> CommitmentBook:
    """rows: (product, instance_type or None, quantity, start)."""
    if not rows:
        return CommitmentBook.empty()
    return make_purchases(catalog, pd.DataFrame({
        "id": [f"c{i}" for i in range(len(rows))],
        "product": [r[0] for r in rows],
        "family": ["" if r[1] is None else fam(r[1]) for r in rows],
        "quantity": [float(r[2]) for r in rows],
        "start": [pd.Timestamp(r[3]) for r in rows]}))


def run(catalog, book, demand, interruptible=None, cap=None, overhead=0.0):
    inter = demand * 0.0 if interruptible is None else interruptible
    return simulate(book, demand, inter, catalog, DispatchRules(cap, overhead))
