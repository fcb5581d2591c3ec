"""Build the usage histories of the bundled example scenarios from real GPU traces.

Sources (as copied to ../shared/data/traces/, see that folder's README):

* ``helios-earth-by-vc.csv``: SenseTime Helios "Earth" cluster, hourly GPUs in use per
  virtual cluster (tenant), May 2020, V100 — CC BY 4.0 trace, via the MIT-licensed
  S-Lab-System-Group/HeliosArtifact.
* ``philly-nodes.csv``: Microsoft Philly, hourly *servers* in use, Oct-Dec 2017 —
  CC BY 4.0 trace, via the same HeliosArtifact.

What we did to them, and only this:

* picked virtual clusters (tenants) whose shape fits each example (steady, bursty, ...)
  and mapped each group to a real catalog family, converting GPUs to instances by the
  family's GPUs per instance (Philly counts servers: each server is taken as one 8-GPU
  instance; the trace does not say which servers had 2 or 8 GPUs);
* shifted timestamps by a whole number of weeks (weekday pattern kept): Helios by 338
  weeks (ends 2026-11-22, like ``sample_usage.csv``), Philly by 466 weeks (ends 2026-11-20);
* left out the hours the traces' README calls logging gaps, so they show up as gaps to
  be masked (Helios: all of 2020-05-10 and 2020-05-12 14:00-15:00; Philly: 2017-10-25
  15:00 to 2017-10-26 17:00, missing or reading zero).

Which demand may run on spot is not in the traces; the scenarios say it
(``usage.interruptible_share``).

Run: python scenarios/examples/build_examples.py ../shared/data/traces/
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HELIOS = "helios-earth-by-vc.csv"
PHILLY = "philly-nodes.csv"
SHIFTS = {HELIOS: pd.Timedelta(weeks=338), PHILLY: pd.Timedelta(weeks=466)}
GAPS = {
    HELIOS: [("2020-05-10T00:00Z", "2020-05-11T00:00Z"), ("2020-05-12T14:00Z", "2020-05-12T16:00Z")],
    PHILLY: [("2017-10-25T15:00Z", "2017-10-26T18:00Z")],
}
# output file: (trace, {family: (trace groups, GPUs per instance of the family)})
EXAMPLES = {
    "steady_inference_usage.csv": (HELIOS, {
        "aws/us-east-1/g5.12xlarge": (["vc6YE"], 4),
        "gcp/us-central1/g2-standard-48": (["vcpDC"], 4),
    }),
    "bursty_training_usage.csv": (HELIOS, {
        "gcp/us-central1/a2-highgpu-8g": (["vcMod", "vchbv"], 8),
        "aws/us-east-1/p3.16xlarge": (["vc8Sj", "vcdI0", "vcira"], 8),
    }),
    "fast_growth_usage.csv": (PHILLY, {
        "aws/us-east-1/p4d.24xlarge": (["node"], 1),
    }),
    # Steadier groups than bursty-training's: a commitment must stay 95% used on the
    # forecast's P10 trajectory for a year. vcvlY (was AWS) and vcTJs (was Azure, with
    # vc3sl) wander so much that their P10 reaches zero within the year, so the default
    # floor honestly bought nothing on AWS or Azure. The trace's two steady tenants, vc6YE
    # and vcpDC, also make steady-inference; vc3sl, vcJLV and vchbv partly offset each other.
    "multicloud_usage.csv": (HELIOS, {
        "aws/us-east-1/p5.48xlarge": (["vc6YE"], 8),
        "gcp/us-central1/a3-highgpu-8g": (["vcpDC"], 8),
        "azure/eastus/Standard_ND96isr_H100_v5": (["vc3sl", "vcJLV", "vchbv"], 8),
        "azure/eastus/Standard_NC24ads_A100_v4": (["vcSoL", "vccaA"], 1),
    }),
}


def read_trace(folder: Path, name: str) -> pd.DataFrame:
    raw = pd.read_csv(folder / name)
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True)
    for start, end in GAPS[name]:
        raw = raw[~((raw["timestamp"] >= pd.Timestamp(start)) & (raw["timestamp"] < pd.Timestamp(end)))]
    return raw


def build(folder: Path, trace: str, mapping: dict) -> pd.DataFrame:
    raw = read_trace(folder, trace)
    frames = []
    for family, (groups, per_instance) in mapping.items():
        g = raw[raw["family"].isin(groups)].groupby("timestamp", as_index=False)["gpus"].sum()
        frames.append(pd.DataFrame({"timestamp": g["timestamp"] + SHIFTS[trace], "family": family,
                                    "instances": (g["gpus"] / per_instance).round(3)}))
    out = pd.concat(frames).sort_values(["timestamp", "family"])
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    traces = Path(sys.argv[1])
    for out_name, (trace, mapping) in EXAMPLES.items():
        df = build(traces, trace, mapping)
        df.to_csv(here / out_name, index=False, lineterminator="\n")
        print(f"wrote {out_name}: {len(df)} rows")
