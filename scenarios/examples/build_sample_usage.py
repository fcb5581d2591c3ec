"""Build the bundled sample usage history from the real Helios "Earth" GPU trace.

Source: S-Lab-System-Group/HeliosArtifact (MIT), SenseTime Helios trace (CC BY 4.0),
as copied to ../shared/data/traces/helios-earth-by-vc.csv (hourly GPUs in use per
virtual cluster, May 2020, V100). What we did to it, and only this:

* grouped the 16 virtual clusters (tenants) into four workloads and mapped each to a
  catalog family, converting GPUs to instances by the family's GPUs per instance;
* marked the research workload as interruptible (spot-eligible) — the trace has no such
  flag; that split is ours;
* shifted timestamps by a whole number of weeks (weekday pattern kept) so the month
  ends 2026-11-22;
* left out the hours the trace's README calls logging gaps (all of 2020-05-10 and
  2020-05-12 14:00-15:00 read zero), so they show up as gaps to be masked.

Run: python scenarios/examples/build_sample_usage.py ../shared/data/traces/helios-earth-by-vc.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

WORKLOADS = {
    # family: (virtual clusters, GPUs per instance, interruptible)
    "aws/us-east-1/p5.48xlarge": (["vc6YE"], 8, False),
    "gcp/us-central1/a3-highgpu-8g": (["vcvlY", "vcLJZ", "vcpDC"], 8, False),
    "gcp/us-central1/a2-highgpu-8g": (["vc3sl", "vcTJs", "vcMod", "vchbv", "vc8Sj"], 8, True),
    "aws/us-east-1/g6e.12xlarge": (["vcSoL", "vccaA", "vcJLV", "vcgkz", "vcdI0", "vcira", "vcJkd"], 4, False),
}
SHIFT = pd.Timedelta(weeks=338)
GAPS = [("2020-05-10T00:00Z", "2020-05-11T00:00Z"), ("2020-05-12T14:00Z", "2020-05-12T16:00Z")]


def build(trace: Path) -> pd.DataFrame:
    raw = pd.read_csv(trace)
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True)
    for start, end in GAPS:
        raw = raw[~((raw["timestamp"] >= pd.Timestamp(start)) & (raw["timestamp"] < pd.Timestamp(end)))]
    frames = []
    for family, (vcs, gpus, interruptible) in WORKLOADS.items():
        g = raw[raw["family"].isin(vcs)].groupby("timestamp", as_index=False)["gpus"].sum()
        inst = (g["gpus"] / gpus).round(3)
        frames.append(pd.DataFrame({"timestamp": g["timestamp"] + SHIFT, "family": family, "instances": inst,
                                    "interruptible_instances": inst if interruptible else 0.0}))
    out = pd.concat(frames).sort_values(["timestamp", "family"])
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    df = build(Path(sys.argv[1]))
    df.to_csv(here / "sample_usage.csv", index=False, lineterminator="\n")
    print(f"wrote {len(df)} rows")
