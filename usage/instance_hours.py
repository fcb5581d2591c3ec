"""The same usage twice in a billing export: a VM runs at most one hour an hour.

Rows are repeated when exports that overlap are joined (two downloads of one month, or an
AWS CUR's earlier delivery of a month kept beside its latest); read as they are, they
double the demand and a plan buys twice the commitments.

First pass (``add``, as batches stream by): instance-hours per hour of the row's span,
summed per 64-bit key of (instance id, hour, span), 16 bytes a key; partial sums are
re-aggregated when they have doubled. A key above one hour an hour is a suspect. Only
then a second pass (``locate``) finds the suspects' rows and instance ids for the message.
Two different (instance, hour) pairs share a key with odds of about n^2 / 2^64."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.errors import InputError

_EC2_INSTANCE_RE = r"^\s*(?:arn:aws:ec2:[^/]*:instance/)?(?P<i>i-[0-9A-Za-z]{8,17})\s*$"
# Azure resource ids are case-insensitive (FOCUS exports lower-case them); a scale set's VMs
# ("/virtualMachineScaleSets/NAME/virtualMachines/N") are billed on the scale set's row
_AZURE_VM_RE = (r"^\s*(?P<i>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/"
                r"virtualmachines/[^/\s]+)/?\s*$")
# Compute Engine's resource name, bare, with the "//compute.googleapis.com/" service, or as
# the API's selfLink ("https://www.googleapis.com/compute/v1/projects/...")
_GCE_INSTANCE_RE = (r"^\s*(?://compute\.googleapis\.com/|https?://(?:www|compute)\.googleapis\.com/compute/"
                    r"(?:v1|beta|alpha)/)?(?P<i>projects/[^/]+/zones/[^/]+/instances/[^/\s]+)/?\s*$")
TOLERANCE_SHARE = 1e-6
MAX_SUSPECTS = 1000      # keys whose rows the second pass collects (the message names one)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def vm_instance_ids(arr: pa.Array) -> pa.Array:
    """The VM of each resource id, null for any other resource: an EC2 instance (``i-...``
    or its ARN), an Azure virtual machine (its resource id, lower-cased) or a Compute Engine
    instance (``projects/P/zones/Z/instances/N``). Only a single VM is sure to run at most
    one hour an hour (an Azure scale set's row holds all its VMs, a load balancer is not a
    machine)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    enc = pc.dictionary_encode(pc.fill_null(arr, ""))
    names = enc.dictionary
    ids = pc.coalesce(pc.struct_field(pc.extract_regex(names, _EC2_INSTANCE_RE), "i"),
                      pc.struct_field(pc.extract_regex(pc.utf8_lower(names), _AZURE_VM_RE), "i"),
                      pc.struct_field(pc.extract_regex(names, _GCE_INSTANCE_RE), "i"))
    return pc.take(ids, enc.indices)


def _keys(ids: pa.Array, hour: pa.Array, span: pa.Array) -> np.ndarray:
    enc = pc.dictionary_encode(ids)
    h = pd.util.hash_array(np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object))
    h = h[enc.indices.to_numpy(zero_copy_only=False)]
    when = pc.cast(pc.cast(hour, pa.timestamp("s")), pa.int64()).to_numpy(zero_copy_only=False).astype(np.uint64)
    with np.errstate(over="ignore"):
        return h ^ ((when * _MIX) + span.to_numpy(zero_copy_only=False).astype(np.uint64) * _MIX * _MIX)


def _sum(t: pa.Table) -> pa.Table:
    return t.group_by("key").aggregate([("per_hour", "sum")]).rename_columns(["key", "per_hour"])


class InstanceHours:
    """Instance-hours per hour of (instance id, hour, span); see the module's doc."""

    def __init__(self, column: str | None, compact_rows: int):
        self.column, self.compact_rows = column, compact_rows
        self.parts: list[pa.Table] = []
        self.compacted_rows = 0
        self.suspects: pa.Array | None = None
        self.over = 0
        self.found: list[pa.Table] = []

    @staticmethod
    def _rows(instance_id, hour, span, hours, demand):
        if instance_id is None:
            return None
        keep = pc.and_(demand, pc.is_valid(instance_id))
        if not pc.any(keep).as_py():
            return None
        return keep, pc.filter(instance_id, keep), pc.filter(hour, keep), pc.filter(span, keep), pc.filter(hours, keep)

    def add(self, instance_id: pa.Array | None, hour: pa.Array, span: pa.Array, hours: pa.Array,
            demand: pa.Array) -> None:
        """One batch of the first pass; ``demand``: which rows are demand."""
        picked = self._rows(instance_id, hour, span, hours, demand)
        if picked is None:
            return
        _, ids, hour, span, hours = picked
        per_hour = pc.divide(hours, pc.cast(span, pa.float64()))
        self.parts.append(_sum(pa.table({"key": _keys(ids, hour, span), "per_hour": per_hour})))
        if sum(p.num_rows for p in self.parts) > max(self.compact_rows, 2 * self.compacted_rows):
            self.parts = [_sum(pa.concat_tables(self.parts))]
            self.compacted_rows = self.parts[0].num_rows

    def suspect(self) -> bool:
        """After the first pass: is any instance billed more than one hour an hour?"""
        if not self.parts:
            return False
        t = _sum(pa.concat_tables(self.parts))
        self.parts = []
        over = pc.greater(t["per_hour"], 1.0 + TOLERANCE_SHARE)
        self.over = pc.sum(over).as_py() or 0
        if self.over:
            self.suspects = pc.sort_indices(t.filter(over)["key"])
            self.suspects = pc.take(t.filter(over)["key"], self.suspects)[:MAX_SUSPECTS]
        return bool(self.over)

    def locate(self, offset: int, instance_id: pa.Array | None, hour: pa.Array, span: pa.Array,
               hours: pa.Array, demand: pa.Array) -> None:
        """One batch of the second pass: keep the suspects' rows."""
        picked = self._rows(instance_id, hour, span, hours, demand)
        if picked is None:
            return
        keep, ids, hour, span, hours = picked
        keys = pa.array(_keys(ids, hour, span), pa.uint64())
        rows = pc.filter(pa.array(np.arange(offset + 2, offset + 2 + len(keep), dtype=np.int64)), keep)
        mine = pc.is_in(keys, value_set=self.suspects)
        if pc.any(mine).as_py():
            self.found.append(pa.table({"key": keys, "instance": ids, "start": hour, "span": span, "hours": hours,
                                        "row": rows}).filter(mine))

    def error(self, file: str) -> InputError:
        """The message naming the first suspect row (after ``locate``)."""
        hint = ("removing the repeated rows: exports that overlap (two downloads of one month, or an AWS CUR's "
                "earlier delivery of a month kept beside its latest) must not be joined; keep the latest file "
                "of each billing period.")
        if not self.found:   # the second read differed from the first (the file changed meanwhile)
            return InputError(f"{self.over} instance-hour(s) are billed more than once, so the export holds that "
                              "usage twice", file=file, column=self.column, hint=hint)
        t = pa.concat_tables(self.found)
        g = t.group_by("key").aggregate([("row", "min"), ("row", "max"), ("hours", "sum")])
        bad = g.sort_by([("row_min", "ascending")]).slice(0, 1).to_pylist()[0]
        first = t.filter(pc.equal(t["row"], bad["row_min"])).to_pylist()[0]
        start = pd.Timestamp(first["start"]).tz_convert("UTC")
        when = (f"the hour {start:%Y-%m-%dT%H:%MZ}" if first["span"] == 1
                else f"the {first['span']} hours from {start:%Y-%m-%dT%H:%MZ}")
        rows = (f"rows {bad['row_min']} and {bad['row_max']}" if bad["row_max"] != bad["row_min"]
                else f"row {bad['row_min']}")
        more = f"; {self.over - 1} more like it" if self.over > 1 else ""
        return InputError(f"instance {first['instance']} is billed {bad['hours_sum']:g} instance-hours in {when} "
                          f"({rows}); an instance runs at most one hour an hour, so the export holds that "
                          f"usage twice{more}", file=file, row=bad["row_min"], column=self.column, hint=hint)
