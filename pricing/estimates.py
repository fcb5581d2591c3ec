"""Documented estimation rules for what no public price file gives us.

* Interruption buckets: no public spot-interruption data is stored with the project, so
  each family gets a bucket from its GPU class (how scarce that accelerator is on spot
  markets) plus one bucket more for whole-node instances (8 or more GPUs).
* AWS reservations and savings plans, Azure reservations: rates are on-demand times a
  ratio derived from the real GCP committed-use discounts of the same term (see
  ``pricing/build_embedded.py`` and ``pricing/data/README.md``).

Every rule lives here so that the embedded snapshot and the live AWS loader agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpuladder.pricing.catalog import INTERRUPTION_BUCKETS

# GPU class -> base bucket index into INTERRUPTION_BUCKETS ("<5%", "5-10%", "10-15%", "15-20%", ">20%").
GPU_CLASS_BUCKET = {
    # frontier training accelerators: scarcest on every spot market
    "H100": 4, "H100-80GB": 4, "H200": 4, "B200": 4, "B300": 4, "MI300X": 4, "A100-80GB": 4,
    # previous-generation training / large inference GPUs
    "A100": 3, "A100-40GB": 3, "L40S": 3, "V100-32GB": 3, "Trainium": 3, "RTX-PRO-6000": 3,
    # mid-range inference GPUs and accelerators
    "A10G": 2, "A10": 2, "L4": 2, "V100": 2, "V100-16GB": 2, "Inferentia2": 2,
    # old, plentiful GPUs
    "T4": 1, "M60": 1, "MI25": 1,
}
UNKNOWN_CLASS_BUCKET = 3
WHOLE_NODE_GPUS = 8

BUCKET_RULE_TEXT = (
    "estimate by GPU class: H100/H200/B200/B300/MI300X/A100-80GB '>20%'; A100(-40GB)/L40S/"
    "V100-32GB/Trainium/RTX-PRO-6000 '15-20%'; A10G/A10/L4/V100(-16GB)/Inferentia2 '10-15%'; "
    "T4/M60/MI25 '5-10%'; unknown GPU '15-20%'; one bucket more (at most '>20%') for "
    f"instances with {WHOLE_NODE_GPUS} or more GPUs")


def interruption_buckets(gpu_model: pd.Series, gpus_per_instance: pd.Series) -> pd.Series:
    """The estimated interruption bucket of each family (vectorized over rows)."""
    base = gpu_model.map(GPU_CLASS_BUCKET).fillna(UNKNOWN_CLASS_BUCKET).astype(int).to_numpy()
    whole_node = pd.to_numeric(gpus_per_instance, errors="coerce").fillna(0).to_numpy() >= WHOLE_NODE_GPUS
    idx = np.minimum(base + whole_node.astype(int), len(INTERRUPTION_BUCKETS) - 1)
    return pd.Series(np.asarray(INTERRUPTION_BUCKETS, dtype=object)[idx], index=gpu_model.index,
                     name="interruption_bucket")


# Payment options, relative to the no-upfront rate of the same term. AWS states only that
# "Reserved Instances with a higher upfront payment provide greater discounts"; these
# factors are our assumption (larger for 3 years, where prepaying is worth more).
PAYMENT_FACTOR = {
    12: {"no_upfront": 1.0, "partial_upfront": 0.955, "all_upfront": 0.935},
    36: {"no_upfront": 1.0, "partial_upfront": 0.91, "all_upfront": 0.87},
}
UPFRONT_SHARE = {"no_upfront": 0.0, "partial_upfront": 0.5, "all_upfront": 1.0}
TERM_LABEL = {12: "1y", 36: "3y"}

# AWS publishes maximum discounts of "up to 72%" for EC2 Instance Savings Plans (and Standard
# RIs) and "up to 66%" for Compute Savings Plans: the Compute plan's discount is taken as the
# EC2 Instance plan's discount scaled by 66/72.
AWS_EC2SP_MAX_DISCOUNT = 0.72
AWS_CSP_MAX_DISCOUNT = 0.66
COMPUTE_SP_DISCOUNT_SCALE = AWS_CSP_MAX_DISCOUNT / AWS_EC2SP_MAX_DISCOUNT


def aws_instance_family(instance_type: pd.Series) -> pd.Series:
    """EC2 instance family of each instance type (``p5.48xlarge`` -> ``p5``)."""
    return instance_type.str.split(".", n=1).str[0]


__all__ = ["GPU_CLASS_BUCKET", "BUCKET_RULE_TEXT", "interruption_buckets", "PAYMENT_FACTOR",
           "UPFRONT_SHARE", "TERM_LABEL", "COMPUTE_SP_DISCOUNT_SCALE", "aws_instance_family"]
