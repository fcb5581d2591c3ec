"""The tiny hand-worked catalog several CLI tests share: one family at $4/h on-demand ($1.50
spot, <5% interruptions) and 12-month reservations at $2.50/h (no upfront) and, optionally,
$2.40/h (all upfront)."""

from __future__ import annotations

from pathlib import Path

FAMILY = "test/r1/g1"


def write_tiny_catalog(folder: Path, family: str = FAMILY, all_upfront: bool = True) -> Path:
    """Writes ``folder/families.csv`` and ``folder/commitments.csv``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "families.csv").write_text(
        "family,provider,region,instance_type,gpu_model,gpus_per_instance,on_demand_usd_per_hour,"
        "spot_usd_per_hour,interruption_bucket,source,as_of\n"
        f"{family},test,r1,g1,H100,8,4.0,1.5,<5%,test fixture (ours),2026-01-01\n")
    rows = [f"test-ri-1y,test,reservation,12,no_upfront,0,{family},2.5,test fixture (ours),2026-01-01"]
    if all_upfront:
        rows.append(f"test-ri-1y-all,test,reservation,12,all_upfront,1,{family},2.4,test fixture (ours),2026-01-01")
    (folder / "commitments.csv").write_text(
        "product,provider,kind,term_months,payment,upfront_share,family,rate_usd_per_hour,source,as_of\n"
        + "\n".join(rows) + "\n")
    return folder


TINY_SCENARIO = ("catalog: cat\nusage: usage.csv\nhorizon: {start: '2026-01-01', months: 1}\n"
                 "forecast: {method: replay}\nproducts: {terms_months: [12]}\n")


def write_tiny_case(folder: Path) -> str:
    """The tiny catalog in ``folder/cat`` and January 2026 of the pattern 3, 3, 2, 1 in
    ``folder/usage.csv``; returns the scenario YAML that reads them (without a name)."""
    import numpy as np
    import pandas as pd

    write_tiny_catalog(folder / "cat")
    idx = pd.date_range("2026-01-01", "2026-01-31 23:00", freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": FAMILY,
                  "instances": np.tile([3.0, 3.0, 2.0, 1.0], len(idx) // 4)}).to_csv(folder / "usage.csv", index=False)
    return TINY_SCENARIO
