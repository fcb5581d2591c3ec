"""Large usage exports: generate a legacy AWS CUR with N rows (default 10 million) in /tmp
and time ``gpuladder usage summarize`` and ``load_usage`` on it in a fresh process
(wall seconds and peak RSS).

    python bench/usage_large.py                  # 10M rows, CSV
    python bench/usage_large.py --rows 1000000 --parquet --gzip

The file mixes GPU BoxUsage (on-demand), SpotUsage, DiscountedUsage (RI),
SavingsPlanCoveredUsage, fee and negation rows with EBS / data-transfer noise, hourly over
a year, across 6 regions and 8 GPU instance types, about 30 columns like a real CUR.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

PREFIXES = {"USE1": "us-east-1", "USE2": "us-east-2", "USW2": "us-west-2", "EUC1": "eu-central-1",
            "APN1": "ap-northeast-1", "EUW1": "eu-west-1"}
TYPES = ["p5.48xlarge", "p4d.24xlarge", "g5.xlarge", "g5.4xlarge", "g6.xlarge", "g6e.12xlarge",
         "inf2.xlarge", "trn1.32xlarge"]
LINE_ITEMS = [("Usage", "BoxUsage", 0.40), ("Usage", "SpotUsage", 0.12), ("DiscountedUsage", "BoxUsage", 0.10),
              ("SavingsPlanCoveredUsage", "BoxUsage", 0.08), ("SavingsPlanNegation", "BoxUsage", 0.02),
              ("RIFee", "HeavyUsage", 0.01), ("Usage", "EBS:VolumeUsage.gp3", 0.17),
              ("Usage", "DataTransfer-Out-Bytes", 0.10)]
EXTRA = ["bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate", "lineItem/UsageAccountId",
         "lineItem/ProductCode", "lineItem/Operation", "lineItem/ResourceId", "lineItem/CurrencyCode",
         "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/BlendedCost", "lineItem/LineItemDescription",
         "product/ProductName", "product/productFamily", "product/operatingSystem", "product/tenancy",
         "pricing/term", "pricing/unit", "reservation/ReservationARN", "savingsPlan/SavingsPlanARN"]


def chunk(rng: np.random.Generator, n: int, first_row: int) -> pa.Table:
    start = np.datetime64("2025-01-01T00:00:00", "s").astype(np.int64)
    hours = rng.integers(0, 365 * 24, n)
    ts = pa.array((start + hours * 3600).astype("datetime64[s]"))
    te = pa.array((start + (hours + 1) * 3600).astype("datetime64[s]"))
    probs = np.array([p for *_, p in LINE_ITEMS])
    li = rng.choice(len(LINE_ITEMS), n, p=probs / probs.sum())
    prefixes = list(PREFIXES)
    pre = rng.integers(0, len(prefixes), n)
    typ = rng.integers(0, len(TYPES), n)
    kinds = np.array([k for _, k, _ in LINE_ITEMS], dtype=object)[li]
    instance = np.isin(li, [0, 1, 2, 3, 4, 5])
    usage_type = np.where(instance, np.array(prefixes, dtype=object)[pre] + "-" + kinds + ":" +
                          np.array(TYPES, dtype=object)[typ], np.array(prefixes, dtype=object)[pre] + "-" + kinds)
    amount = np.where(instance, np.round(rng.uniform(0.1, 4.0, n), 6), np.round(rng.uniform(1, 500, n), 3))
    cols = {
        "identity/LineItemId": pc.cast(pa.array(np.arange(first_row, first_row + n)), pa.string()),
        "identity/TimeInterval": pc.binary_join_element_wise(pc.strftime(ts, "%Y-%m-%dT%H:%M:%SZ"),
                                                             pc.strftime(te, "%Y-%m-%dT%H:%M:%SZ"), "/"),
        "lineItem/LineItemType": pa.array(np.array([t for t, _, _ in LINE_ITEMS], dtype=object)[li]),
        "lineItem/UsageStartDate": pc.strftime(ts, "%Y-%m-%dT%H:%M:%SZ"),
        "lineItem/UsageEndDate": pc.strftime(te, "%Y-%m-%dT%H:%M:%SZ"),
        "lineItem/UsageType": pa.array(usage_type, pa.string()),
        "lineItem/UsageAmount": pa.array(amount),
        "lineItem/AvailabilityZone": pa.array(np.array(list(PREFIXES.values()), dtype=object)[pre] + "a"),
        "product/instanceType": pa.array(np.where(instance, np.array(TYPES, dtype=object)[typ], ""), pa.string()),
        "product/region": pa.array(np.array(list(PREFIXES.values()), dtype=object)[pre]),
    }
    filler = pa.array(np.array(["Anniversary", "123456789012", "2025-01-01T00:00:00Z", "123456789012",
                                "AmazonEC2", "RunInstances", "", "USD", "1.234", "2.468",
                                "2.468", "Linux/UNIX usage", "Amazon Elastic Compute Cloud",
                                "Compute Instance", "Linux", "Shared", "OnDemand", "Hrs", "", ""], dtype=object))
    for i, name in enumerate(EXTRA):
        cols[name] = pa.repeat(filler[i], n)
    return pa.table(cols)


def generate(path: Path, rows: int, *, gzip: bool, parquet: bool, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    step = 1_000_000
    first = chunk(rng, min(step, rows), 0)
    if parquet:
        writer = pq.ParquetWriter(path, first.schema, compression="snappy")
        write = writer.write_table
    else:
        sink = pa.output_stream(str(path), compression="gzip" if gzip else None)
        writer = pcsv.CSVWriter(sink, first.schema)
        write = writer.write_table
    write(first)
    done = first.num_rows
    while done < rows:
        t = chunk(rng, min(step, rows - done), done)
        write(t)
        done += t.num_rows
    writer.close()
    if not parquet:
        sink.close()


MEASURE = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
from gpuladder.usage.load import summarize_usage, load_usage
t0 = time.perf_counter()
s = summarize_usage(sys.argv[1])
t1 = time.perf_counter()
p = load_usage(sys.argv[1], gaps="zero")
t2 = time.perf_counter()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec from the generating parent
rss = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")][0] / 1024
gpu_h = sum(f.instance_hours for f in s.gpu_families)
print(f"{t1 - t0:.1f} {t2 - t1:.1f} {rss:.0f} {len(s.gpu_families)} {gpu_h:.0f} {len(p.index)}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--gzip", action="store_true", help="also time a gzip CSV")
    ap.add_argument("--parquet", action="store_true", help="also time a Parquet file")
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    variants = [("csv", False, False)] + ([("csv.gz", True, False)] if args.gzip else []) + \
        ([("parquet", False, True)] if args.parquet else [])
    print(f"{'file':<12} {'rows':>11} {'size_MB':>8} {'gen_s':>6} {'summarize_s':>11} {'load_s':>7} "
          f"{'peak_RSS_MB':>11} {'gpu_fams':>8} {'gpu_inst_h':>11} {'hours':>6}")
    for ext, gz, parquet in variants:
        path = Path(args.dir) / f"gpuladder-bench-cur-{args.rows}.{ext}"
        t0 = time.perf_counter()
        if not path.exists():
            generate(path, args.rows, gzip=gz, parquet=parquet)
        gen = time.perf_counter() - t0     # 0 when the file was kept from an earlier run
        out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                             check=True).stdout.split()
        size = os.path.getsize(path) / 1e6
        print(f"{ext:<12} {args.rows:>11} {size:>8.0f} {gen:>6.0f} {out[0]:>11} {out[1]:>7} {out[2]:>11} "
              f"{out[3]:>8} {out[4]:>11} {out[5]:>6}")
        if not args.keep:
            path.unlink()


if __name__ == "__main__":
    main()
