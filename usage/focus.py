"""FOCUS 1.0 - 1.3 cost and usage exports -> classified rows.

Columns used (matched case-insensitively): ``ChargePeriodStart``, ``ChargePeriodEnd``,
``ChargeCategory``, ``ChargeClass``, ``ConsumedQuantity``, ``ConsumedUnit``,
``PricingCategory``, ``CommitmentDiscountId``, ``CommitmentDiscountStatus``,
``ServiceProviderName`` (1.3) or ``ProviderName`` (1.0 - 1.2), ``RegionId``,
``AvailabilityZone``, and for the instance type, in this order: ``SkuPriceDetails``
(``InstanceType``; ``GpuCount`` > 0 marks a GPU instance), AWS's ``x_UsageType``, Azure's
``x_SkuDetails`` (``ServiceType``), then the ``ChargeDescription`` of AWS instance-hour
rows (``... Linux g5.4xlarge Instance Hour``).

Rules: a ``Usage`` row of an instance type with ``ConsumedUnit`` in hours is demand of
``ConsumedQuantity`` instance-hours; ``PricingCategory = Dynamic`` (spot) makes it
interruptible; a ``CommitmentDiscountId`` makes it covered (still demand).
``ChargeCategory = Purchase`` rows, other non-usage categories (Tax, Credit, Adjustment),
corrections and ``CommitmentDiscountStatus = Unused`` rows are not demand. Neither are the
companion rows billed beside a VM's instance-hour (``_companion_rows``): software licenses
(Azure ``x_SkuMeterCategory`` Virtual Machines Licenses or ``x_SkuDetails`` UsageType
ComputeHR_SW, AWS ``SoftwareUsage``, GCP "Licensing Fee for ..."), Azure's unused capacity
reservations (UsageType ComputeCR), a Compute Engine VM's vCPU / memory / GPU SKUs, and, when
``x_UsageType`` is given, any AWS usage type but BoxUsage / SpotUsage (tenancy rows as in the CUR).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.errors import InputError
from gpuladder.usage.cur import (LICENSE_CHARGE, NOT_INSTANCE_USAGE_TYPE, TENANCY, TENANCY_USAGE,
                                 parse_usage_type)
from gpuladder.usage.arrow_columns import (as_float, as_string, as_utc, clean_strings, column, first_valid,
                                           null_strings, per_unique)
from gpuladder.usage.export import (Classified, ExportFile, ExportRead, require_columns, resolve_columns, scan,
                                    span_hours, with_reason)
from gpuladder.usage.instance_hours import vm_instance_ids
from gpuladder.usage.shape import refuse_daily_without_end
from gpuladder.usage.instance_types import (map_values, provider_key, provider_of_instance_type,
                                            region_from_zone)

FOCUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "start": ("ChargePeriodStart",),
    "end": ("ChargePeriodEnd",),
    "category": ("ChargeCategory",),
    "charge_class": ("ChargeClass",),
    "quantity": ("ConsumedQuantity",),
    "unit": ("ConsumedUnit",),
    "pricing_category": ("PricingCategory",),
    "commitment_id": ("CommitmentDiscountId",),
    "commitment_status": ("CommitmentDiscountStatus",),
    "provider": ("ServiceProviderName", "ProviderName"),
    "region": ("RegionId",),
    "zone": ("AvailabilityZone",),
    "sku_details": ("SkuPriceDetails",),
    "usage_type": ("x_UsageType",),
    "azure_sku": ("x_SkuDetails",),
    "meter_category": ("x_SkuMeterCategory",),
    "description": ("ChargeDescription",),
    "sku": ("SkuId",),
    "resource": ("ResourceId",),
}
FOCUS_REQUIRED = {"start": "ChargePeriodStart", "category": "ChargeCategory",
                  "quantity": "ConsumedQuantity"}

_HOURS_UNIT_RE = r"(?i)^(?:1\s*)?(?:instance[- ]?)?(?:hours?|hrs?|h)$"
# Compute Engine bills a VM per part: "A3 Instance Core running in Americas" (vCPUs), "... Instance Ram
# ..." (memory), "Nvidia H100 80GB GPU running in ..." / "... GPU attached to Spot Preemptible VMs ..."
_GCE_PART_RE = r"(?i)(?:\binstance (?:core|ram)\b|\bgpus? (?:running|attached)\b)"
GCE_PART = "vCPU, memory or GPU part of a Compute Engine VM (not instance-hours)"
CAPACITY_RESERVATION = "unused capacity reservation (not demand)"
# "per On Demand Linux g5.4xlarge Instance Hour"; not "per t3a.small instance-hour" (EBS bandwidth)
_DESCRIPTION_TYPE_RE = (r"(?:^|\s)(?P<t>[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+)\s+(?:Spot\s+)?"
                        r"Instance[- ][Hh]our")


def _json_text(arr: pa.Array, key: str, value_re: str = r'"?(?P<v>[^",}]*)"?') -> pa.Array:
    return per_unique(pc.fill_null(arr, ""), lambda d: clean_strings(pc.struct_field(
        pc.extract_regex(d, rf'"{key}"\s*:\s*' + value_re), "v")))


def _lower(arr: pa.Array | None, n: int) -> pa.Array:
    return pc.fill_null(pc.utf8_lower(as_string(arr)), "") if arr is not None else pa.repeat(
        pa.scalar("", pa.string()), n)


def classify_focus(table: pa.Table, cols: dict[str, str]) -> Classified:
    n = table.num_rows
    start = as_utc(column(table, cols, "start"))
    end_raw = column(table, cols, "end")
    spans = span_hours(start, None if end_raw is None else as_utc(end_raw))
    category = _lower(column(table, cols, "category"), n)

    details = column(table, cols, "sku_details")
    details = as_string(details) if details is not None else None
    gpu_hint = None
    sources = []
    if details is not None:
        sources.append(_json_text(details, "InstanceType"))
        gpus = as_float(_json_text(details, "GpuCount"))
        gpu_hint = pc.fill_null(pc.greater(gpus, 0.0), False)
    usage_type = column(table, cols, "usage_type")
    ut = parse_usage_type(as_string(usage_type)) if usage_type is not None else None
    if ut is not None:
        sources.append(ut["instance_type"])
    azure = column(table, cols, "azure_sku")
    azure_usage = pa.repeat(pa.scalar("", pa.string()), n)
    if azure is not None:
        sources.append(_json_text(as_string(azure), "ServiceType", r'"(?P<v>[^"]+)"'))
        azure_usage = pc.fill_null(pc.utf8_lower(_json_text(as_string(azure), "UsageType", r'"(?P<v>[^"]+)"')), "")
    desc = as_string(column(table, cols, "description")) if "description" in cols else null_strings(n)
    sources.append(per_unique(pc.fill_null(desc, ""), lambda d: clean_strings(pc.struct_field(
        pc.extract_regex(d, _DESCRIPTION_TYPE_RE), "t"))))
    itype = first_valid(*sources)

    provider_raw = column(table, cols, "provider")
    if provider_raw is not None:
        names = as_string(provider_raw)
        uniq = [v for v in pc.unique(names).to_pylist() if v is not None]
        provider = map_values(names, {v: provider_key(v) for v in uniq})
    else:
        provider = null_strings(n)
    uniq_types = [v for v in pc.unique(itype).to_pylist() if v is not None]
    provider = first_valid(provider, map_values(itype, {t: provider_of_instance_type(t) or "unknown"
                                                        for t in uniq_types}))
    zone = column(table, cols, "zone")
    region = first_valid(as_string(column(table, cols, "region")) if "region" in cols else None,
                         region_from_zone(as_string(zone)) if zone is not None else None,
                         ut["region"] if ut is not None else None, null_strings(n))

    status = _lower(column(table, cols, "commitment_status"), n)
    unit = as_string(column(table, cols, "unit")) if "unit" in cols else null_strings(n)
    hours_unit = pc.fill_null(pc.match_substring_regex(pc.fill_null(unit, ""), _HOURS_UNIT_RE), False)
    reason = null_strings(n)
    reason = with_reason(reason, pc.equal(category, "purchase"), "commitment purchase (not demand)")
    reason = with_reason(reason, pc.not_equal(category, "usage"),
                         "tax, credit or adjustment charge (not usage)")
    reason = with_reason(reason, pc.equal(_lower(column(table, cols, "charge_class"), n), "correction"),
                         "correction of an earlier period (not supported)")
    reason = with_reason(reason, pc.equal(status, "unused"), "unused commitment (not demand)")
    reason = _companion_rows(reason, table, cols, ut, azure_usage, desc, provider)
    reason = with_reason(reason, pc.is_null(itype), "not instance usage (no instance type found)")
    reason = with_reason(reason, pc.invert(hours_unit), "consumed unit is not hours")
    reason = with_reason(reason, pc.is_null(region), "no region (RegionId empty)")

    pricing = _lower(column(table, cols, "pricing_category"), n)
    spot = pc.equal(pricing, "dynamic")
    if ut is not None:
        spot = pc.or_(spot, pc.equal(ut["kind"], "SpotUsage"))
    commitment = column(table, cols, "commitment_id")
    covered = (pc.is_valid(as_string(commitment)) if commitment is not None
               else pa.repeat(pa.scalar(False), n))
    sku = as_string(column(table, cols, "sku")) if "sku" in cols else null_strings(n)
    detail = pc.utf8_slice_codeunits(first_valid(desc, sku, pa.repeat(pa.scalar("", pa.string()), n)), 0, 90)
    return Classified(start=start, span_hours=spans, provider=provider, region=region, instance_type=itype,
                      amount_hours=as_float(column(table, cols, "quantity")), interruptible=spot,
                      covered=covered, reason=reason, detail=detail, gpu_hint=gpu_hint,
                      instance_id=vm_instance_ids(column(table, cols, "resource")) if "resource" in cols else None)


def _companion_rows(reason: pa.Array, table: pa.Table, cols: dict[str, str], ut: dict[str, pa.Array] | None,
                    azure_usage: pa.Array, desc: pa.Array, provider: pa.Array) -> pa.Array:
    """Rows billed beside a VM's instance-hour, on the same resource and hours, that are not
    instance-hours themselves (docs/decisions.md, "Companion rows"): software licenses (Azure
    ``UsageType`` ComputeHR_SW or meter category Virtual Machines Licenses, AWS SoftwareUsage,
    GCP "Licensing Fee for ..."), Azure's unused capacity reservations (ComputeCR), a Compute
    Engine VM's vCPU, memory and GPU SKUs, and AWS usage types that are no instance-hour."""
    n = table.num_rows
    meter = _lower(column(table, cols, "meter_category"), n)
    text = pc.fill_null(desc, "")
    license_row = pc.or_(pc.equal(meter, "virtual machines licenses"), pc.equal(azure_usage, "computehr_sw"))
    license_row = pc.or_(license_row, pc.match_substring_regex(text, r"(?i)^\s*licensing fee for\b"))
    if ut is not None:
        license_row = pc.or_(license_row, pc.equal(ut["kind"], "SoftwareUsage"))
    reason = with_reason(reason, license_row, LICENSE_CHARGE)
    reason = with_reason(reason, pc.equal(azure_usage, "computecr"), CAPACITY_RESERVATION)
    if ut is not None:
        usage_type = pc.fill_null(as_string(column(table, cols, "usage_type")), "")
        reason = with_reason(reason, pc.is_in(ut["kind"], value_set=pa.array(TENANCY_USAGE)), TENANCY)
        reason = with_reason(reason, pc.and_(pc.not_equal(usage_type, ""), pc.is_null(ut["instance_type"])),
                             NOT_INSTANCE_USAGE_TYPE)
    gce_part = pc.and_(pc.equal(pc.fill_null(provider, ""), "gcp"), pc.match_substring_regex(text, _GCE_PART_RE))
    return with_reason(reason, gce_part, GCE_PART)


def _refuse_focus_0_5(export: ExportFile, cols: dict[str, str]) -> None:
    """FOCUS 0.5 named ChargeCategory ``ChargeType`` and ConsumedQuantity ``UsageQuantity``."""
    old = resolve_columns(export, {"category": ("ChargeType",), "quantity": ("UsageQuantity",)})
    for key, new in (("category", "ChargeCategory"), ("quantity", "ConsumedQuantity")):
        if key not in cols and key in old:
            raise InputError(f"a FOCUS 0.5 export (it has {old[key]} where FOCUS 1.0 has {new}); gpuladder reads "
                             "FOCUS 1.0 - 1.3", file=export.name, row=1, column=old[key],
                             hint="exporting the FOCUS 1.0 (or later) version of the cost and usage data.")


def read_focus(export: ExportFile) -> ExportRead:
    """Scan a FOCUS export (CSV, gzip CSV or Parquet)."""
    cols = resolve_columns(export, FOCUS_COLUMNS)
    _refuse_focus_0_5(export, cols)
    require_columns(export, cols, FOCUS_REQUIRED, "FOCUS")
    read = scan(export, "focus", sorted(set(cols.values())), lambda t: classify_focus(t, cols),
                instance_column=cols.get("resource"))
    return read if "end" in cols else refuse_daily_without_end(read, "ChargePeriodEnd")
