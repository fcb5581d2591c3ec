"""AWS Cost and Usage Report (legacy and 2.0) -> classified rows.

Columns used (either spelling; matched case-insensitively):

| logical | legacy CSV | Athena / CUR 2.0 |
|---|---|---|
| start, end | lineItem/UsageStartDate, lineItem/UsageEndDate | line_item_usage_start_date, line_item_usage_end_date |
| line item type | lineItem/LineItemType | line_item_line_item_type |
| usage type | lineItem/UsageType | line_item_usage_type |
| amount (hours) | lineItem/UsageAmount | line_item_usage_amount |
| instance type | product/instanceType | product_instance_type, or ``product`` map key instance_type |
| region | product/region, product/regionCode | product_region_code, product_region, or ``product`` map key region_code / region |
| zone, location | lineItem/AvailabilityZone, product/location | line_item_availability_zone, product_location |

Rules: ``Usage`` rows of ``BoxUsage``/``SpotUsage`` usage types are demand (SpotUsage is
interruptible); ``DiscountedUsage`` (reserved instance) and ``SavingsPlanCoveredUsage``
rows are demand already covered; ``RIFee``, ``Fee``, ``SavingsPlanRecurringFee``,
``SavingsPlanUpfrontFee`` and ``SavingsPlanNegation`` rows are not demand (they carry
commitment data, read by ``usage/inventory_export.py``); nor are the other usage types
billed on an instance (``SoftwareUsage`` Marketplace software, data transfer, EBS). Region:
the product's region column, else the usage type's prefix (``USE1-`` ...; see
``instance_types``), else the availability zone, else the location name, else us-east-1 for
an unprefixed usage type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.usage.arrow_columns import (as_float, as_string, as_utc, clean_strings, column, first_valid,
                                           null_strings, per_unique)
from gpuladder.usage.export import (Classified, ExportFile, ExportRead, require_columns, resolve_columns, scan,
                                    span_hours, with_reason)

from gpuladder.usage.instance_hours import vm_instance_ids
from gpuladder.usage.shape import refuse_daily_without_end
from gpuladder.usage.instance_types import (AWS_DEFAULT_REGION, AWS_LOCATION_NAMES, AWS_REGION_PREFIXES,
                                            map_values, region_from_zone)

CUR_COLUMNS: dict[str, tuple[str, ...]] = {
    "start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "end": ("lineItem/UsageEndDate", "line_item_usage_end_date"),
    "line_item_type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "amount": ("lineItem/UsageAmount", "line_item_usage_amount"),
    "zone": ("lineItem/AvailabilityZone", "line_item_availability_zone"),
    "instance_type": ("product/instanceType", "product_instance_type"),
    "region": ("product/regionCode", "product/region", "product_region_code", "product_region"),
    "location": ("product/location", "product_location"),
    "product": ("product",),
    "resource": ("lineItem/ResourceId", "line_item_resource_id"),
}
CUR_END = "lineItem/UsageEndDate (line_item_usage_end_date)"
CUR_REQUIRED = {"start": "lineItem/UsageStartDate (line_item_usage_start_date)",
                "line_item_type": "lineItem/LineItemType (line_item_line_item_type)",
                "usage_type": "lineItem/UsageType (line_item_usage_type)",
                "amount": "lineItem/UsageAmount (line_item_usage_amount)"}

DEMAND_LINE_ITEMS = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
COVERED_LINE_ITEMS = ("DiscountedUsage", "SavingsPlanCoveredUsage")
FEE_LINE_ITEMS = ("RIFee", "Fee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")
INSTANCE_USAGE = ("BoxUsage", "SpotUsage")
TENANCY_USAGE = ("DedicatedUsage", "HostUsage", "HostBoxUsage", "ReservedHostUsage", "DedicatedRes")

LICENSE_CHARGE = "software license charge of a VM (not instance-hours)"
TENANCY = "dedicated or host tenancy usage (not supported)"
NOT_INSTANCE_USAGE_TYPE = "not instance usage (usage type is not BoxUsage/SpotUsage)"

_USAGE_TYPE_RE = r"^(?:(?P<prefix>[A-Z]{2,4}\d?)-)?(?P<kind>[A-Za-z]+)(?::(?P<itype>[A-Za-z0-9._-]+))?$"


def parse_usage_type(usage_type: pa.Array) -> dict[str, pa.Array]:
    """``USE1-BoxUsage:p5.48xlarge`` -> prefix ``USE1``, region ``us-east-1``, kind
    ``BoxUsage``, instance type ``p5.48xlarge`` (only for instance kinds). ``region`` is
    null for an unknown prefix; ``has_prefix`` tells an unprefixed usage type apart."""
    return per_unique(pc.fill_null(usage_type, ""), _parse_distinct_usage_types)


def _parse_distinct_usage_types(usage_type: pa.Array) -> dict[str, pa.Array]:
    m = pc.extract_regex(usage_type, _USAGE_TYPE_RE)
    valid = pc.is_valid(m)
    prefix = pc.if_else(valid, pc.struct_field(m, "prefix"), "")
    kind = pc.if_else(valid, pc.struct_field(m, "kind"), "")
    itype = pc.struct_field(m, "itype")
    is_instance = pc.is_in(kind, value_set=pa.array(INSTANCE_USAGE + TENANCY_USAGE))
    itype = pc.if_else(pc.and_(is_instance, pc.not_equal(pc.fill_null(itype, ""), "")), itype,
                       pa.scalar(None, pa.string()))
    return {"prefix": prefix, "kind": kind, "instance_type": itype,
            "region": map_values(prefix, AWS_REGION_PREFIXES), "has_prefix": pc.not_equal(prefix, "")}


def product_attribute(arr: pa.Array | None, *keys: str) -> pa.Array | None:
    """Value of the first of ``keys`` in the CUR 2.0 ``product`` column: a map (Parquet)
    or its JSON text (CSV)."""
    if arr is None:
        return None
    out = None
    for key in keys:
        if pa.types.is_map(arr.type):
            v = pc.map_lookup(arr, pa.scalar(key, arr.type.key_type), "first")
            v = as_string(v)
        else:
            v = per_unique(pc.fill_null(as_string(arr), ""), lambda d, k=key: clean_strings(pc.struct_field(
                pc.extract_regex(d, rf'"{k}"\s*:\s*"(?P<v>[^"]*)"'), "v")))
        out = v if out is None else pc.coalesce(out, v)
    return out


def classify_cur(table: pa.Table, cols: dict[str, str]) -> Classified:
    n = table.num_rows
    start = as_utc(column(table, cols, "start"))
    end_raw = column(table, cols, "end")
    spans = span_hours(start, None if end_raw is None else as_utc(end_raw))
    line_type = pc.fill_null(as_string(column(table, cols, "line_item_type")), "")
    usage_type = as_string(column(table, cols, "usage_type"))
    ut = parse_usage_type(usage_type)
    product = column(table, cols, "product")
    itype = first_valid(as_string(column(table, cols, "instance_type")) if "instance_type" in cols else None,
                        product_attribute(product, "instance_type", "instanceType"),
                        ut["instance_type"])
    itype = pc.if_else(pc.is_valid(ut["instance_type"]), itype, pa.scalar(None, pa.string()))
    zone = column(table, cols, "zone")
    location = column(table, cols, "location")
    region = first_valid(
        as_string(column(table, cols, "region")) if "region" in cols else None,
        product_attribute(product, "region_code", "region", "regionCode"),
        ut["region"],
        region_from_zone(as_string(zone)) if zone is not None else None,
        map_values(as_string(location), AWS_LOCATION_NAMES) if location is not None else None,
        pc.if_else(ut["has_prefix"], pa.scalar(None, pa.string()), AWS_DEFAULT_REGION))

    reason = null_strings(n)
    reason = with_reason(reason, pc.is_in(line_type, value_set=pa.array(FEE_LINE_ITEMS)),
                         "commitment fee (not demand)")
    reason = with_reason(reason, pc.equal(line_type, "SavingsPlanNegation"),
                         "savings plan negation (not demand)")
    not_usage = pc.invert(pc.is_in(line_type, value_set=pa.array(DEMAND_LINE_ITEMS)))
    reason = with_reason(reason, not_usage, "tax, credit, refund or discount line item (not usage)")
    reason = with_reason(reason, pc.equal(ut["kind"], "SoftwareUsage"), LICENSE_CHARGE)
    reason = with_reason(reason, pc.is_in(ut["kind"], value_set=pa.array(TENANCY_USAGE)), TENANCY)
    reason = with_reason(reason, pc.is_null(itype), NOT_INSTANCE_USAGE_TYPE)
    reason = with_reason(reason, pc.is_null(region),
                         "unknown region (usage-type prefix not in the region table)")
    detail = pc.binary_join_element_wise(pc.fill_null(usage_type, "(no usage type)"), " (", line_type, ")", "")
    return Classified(
        start=start, span_hours=spans,
        provider=pa.repeat(pa.scalar("aws", pa.string()), n), region=region, instance_type=itype,
        amount_hours=as_float(column(table, cols, "amount")),
        interruptible=pc.equal(ut["kind"], "SpotUsage"),
        covered=pc.is_in(line_type, value_set=pa.array(COVERED_LINE_ITEMS)),
        reason=reason, detail=detail,
        instance_id=vm_instance_ids(column(table, cols, "resource")) if "resource" in cols else None)


def read_cur(export: ExportFile, fmt: str) -> ExportRead:
    """Scan a legacy CUR or CUR 2.0 export (CSV, gzip CSV or Parquet)."""
    cols = resolve_columns(export, CUR_COLUMNS)
    require_columns(export, cols, CUR_REQUIRED, "AWS CUR" if fmt == "cur" else "AWS CUR 2.0")
    read = scan(export, fmt, sorted(set(cols.values())), lambda t: classify_cur(t, cols),
                instance_column=cols.get("resource"))
    return read if "end" in cols else refuse_daily_without_end(read, CUR_END)
