"""Scenario folders for command-line tests: a flat usage history, an inventory and a
scenario YAML written side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_flat_case(folder: Path, family: str, instances: float, start: str, days: int,
                    inventory_rows: list[str], scenario_yaml: str) -> Path:
    """``usage.csv`` (``instances`` of ``family`` every hour of ``days`` days from ``start``),
    ``inv.csv`` (the canonical header, then ``inventory_rows``) and ``s.yaml``; returns the
    scenario's path."""
    idx = pd.date_range(start, periods=days * 24, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "family": family, "instances": instances}).to_csv(
        folder / "usage.csv", index=False)
    (folder / "inv.csv").write_text("\n".join(["id,product,family,quantity,start,end", *inventory_rows]) + "\n")
    (folder / "s.yaml").write_text(scenario_yaml)
    return folder / "s.yaml"
