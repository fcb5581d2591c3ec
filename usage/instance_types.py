"""Facts about instance types and regions that billing exports need, in one place.

* GPU recognition by the instance type itself (catalog or not): AWS ``p*``, ``g*``,
  ``gr*``, ``trn*``, ``inf*``, ``dl*``; GCP ``a2-``, ``a3-``, ``a4-``, ``a4x-``, ``g2-``,
  ``g4-``; Azure ``Standard_N*`` (NC, ND, NV, NG...).
* Provider names of FOCUS ``ProviderName`` / ``ServiceProviderName`` -> ``aws``,
  ``azure``, ``gcp``.
* AWS usage-type region prefixes (``USE1-BoxUsage:p5.48xlarge``) -> region codes. A usage
  type with no prefix is us-east-1 (AWS's convention for its first region).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

GPU_INSTANCE_PATTERN = (
    r"^(?:(?:p|g|gr|trn|inf|dl)\d+[a-z0-9-]*\.[a-z0-9-]+"          # AWS
    r"|(?:a2|a3|a4|a4x|g2|g4)-[a-z0-9-]+"                            # GCP
    r"|[Ss]tandard_[Nn][A-Za-z0-9_-]*)$"                              # Azure
)
_GPU_RE = re.compile(GPU_INSTANCE_PATTERN)

# AWS billing region prefixes (usage types and the price list use them).
AWS_REGION_PREFIXES: dict[str, str] = {
    "USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2",
    "UGW1": "us-gov-west-1", "UGE1": "us-gov-east-1",
    "CAN1": "ca-central-1", "CAN2": "ca-west-1", "MXC1": "mx-central-1",
    "SAE1": "sa-east-1",
    "EUC1": "eu-central-1", "EUC2": "eu-central-2", "EUW1": "eu-west-1", "EUW2": "eu-west-2",
    "EUW3": "eu-west-3", "EUN1": "eu-north-1", "EUS1": "eu-south-1", "EUS2": "eu-south-2",
    "EU": "eu-west-1",
    "APN1": "ap-northeast-1", "APN2": "ap-northeast-2", "APN3": "ap-northeast-3",
    "APS1": "ap-southeast-1", "APS2": "ap-southeast-2", "APS3": "ap-south-1",
    "APS4": "ap-southeast-3", "APS5": "ap-south-2", "APS6": "ap-southeast-4",
    "APS7": "ap-southeast-5", "APE1": "ap-east-1",
    "MES1": "me-south-1", "MEC1": "me-central-1", "ILC1": "il-central-1", "AFS1": "af-south-1",
}
AWS_DEFAULT_REGION = "us-east-1"

# product/location display names (CUR exports without product/region carry these).
AWS_LOCATION_NAMES: dict[str, str] = {
    "US East (N. Virginia)": "us-east-1", "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1", "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1", "South America (Sao Paulo)": "sa-east-1",
    "EU (Frankfurt)": "eu-central-1", "EU (Ireland)": "eu-west-1", "EU (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3", "EU (Stockholm)": "eu-north-1", "EU (Milan)": "eu-south-1",
    "EU (Spain)": "eu-south-2", "EU (Zurich)": "eu-central-2",
    "Asia Pacific (Tokyo)": "ap-northeast-1", "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3", "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2", "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Jakarta)": "ap-southeast-3", "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Melbourne)": "ap-southeast-4", "Asia Pacific (Hong Kong)": "ap-east-1",
    "Middle East (Bahrain)": "me-south-1", "Middle East (UAE)": "me-central-1",
    "Israel (Tel Aviv)": "il-central-1", "Africa (Cape Town)": "af-south-1",
    "AWS GovCloud (US-West)": "us-gov-west-1", "AWS GovCloud (US-East)": "us-gov-east-1",
}


def is_gpu_instance_type(instance_type: str) -> bool:
    """True for GPU / ML-accelerator instance types of AWS, GCP and Azure."""
    return bool(_GPU_RE.match(instance_type or ""))


def provider_key(name: str) -> str:
    """``aws`` / ``azure`` / ``gcp`` for the providers' display names; other names are
    lower-cased to their first word (``Oracle`` -> ``oracle``)."""
    low = (name or "").strip().lower()
    if low in ("aws", "amazon web services", "amazon") or low.startswith("amazon web services"):
        return "aws"
    if "microsoft" in low or "azure" in low:
        return "azure"
    if "google" in low or low == "gcp":
        return "gcp"
    word = re.split(r"[^a-z0-9]+", low)[0] if low else ""
    return word or "unknown"


def provider_of_instance_type(instance_type: str) -> str:
    """The provider an instance-type name belongs to ('' when it cannot be told)."""
    t = instance_type or ""
    if re.match(r"^[Ss]tandard_", t):
        return "azure"
    if re.match(r"^[a-z][a-z0-9]*-[a-z0-9-]+$", t):
        return "gcp"
    if re.match(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$", t):
        return "aws"
    return ""


def map_values(arr: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Vectorized dictionary lookup on a string array (null where not in ``mapping``)."""
    keys = pa.array(list(mapping.keys()), pa.string())
    values = pa.array(list(mapping.values()), pa.string())
    idx = pc.index_in(arr, value_set=keys)
    return pc.take(values, idx)


def region_from_zone(zone: pa.Array) -> pa.Array:
    """``us-east-1a`` -> ``us-east-1`` (null where it is not an AWS availability zone)."""
    enc = pc.dictionary_encode(zone)
    m = pc.extract_regex(enc.dictionary, r"^(?P<r>[a-z]{2}(?:-gov)?-[a-z]+-\d+)[a-z]$")
    return pc.take(pc.struct_field(m, "r"), enc.indices)
