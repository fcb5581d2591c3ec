"""Existing AWS commitments from the account itself, with boto3:
``ec2.describe_reserved_instances`` (active reservations, per region) and
``savingsplans.describe_savings_plans`` (active savings plans; one global endpoint).

Each becomes a ``FoundCommitment`` and is matched to a catalog product like the ones read
from exports (``usage/inventory_export.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from gpuladder.awserrors import aws_errors
from gpuladder.errors import InputError
from gpuladder.usage.inventory_export import (FoundCommitment, payment_key, term_months_between)

ClientFactory = Callable[[str, str], object]
SAVINGS_PLANS_REGION = "us-east-1"
YEAR_SECONDS = 365 * 24 * 3600
SP_TYPES = {"Compute": "compute", "EC2Instance": "ec2_instance"}


@dataclass(frozen=True)
class AwsInventory:
    commitments: tuple[FoundCommitment, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def fetch_aws_commitments(regions: tuple[str, ...] = (), client_factory: ClientFactory | None = None) -> AwsInventory:
    """Active reserved instances of ``regions`` (default: the configured region) and every
    active savings plan of the account."""
    with _aws_errors("creating the AWS session"):
        factory, default_region = (client_factory, None) if client_factory else _session_factory()
    regions = tuple(dict.fromkeys(regions)) or ((default_region,) if default_region else ())
    if not regions:
        raise InputError("no AWS region given and none configured",
                         hint="passing --region R (repeatable) or setting AWS_DEFAULT_REGION.")
    found, notes = [], []
    for region in regions:
        with _aws_errors(f"listing reserved instances in {region}"):
            ec2 = factory("ec2", region)
            resp = ec2.describe_reserved_instances(Filters=[{"Name": "state", "Values": ["active"]}])
        for ri in resp.get("ReservedInstances", []):
            found.append(_reservation(ri, region, notes))
    with _aws_errors("listing savings plans"):
        sp = factory("savingsplans", SAVINGS_PLANS_REGION)
        plans, token = [], None
        while True:
            page = sp.describe_savings_plans(states=["active"], **({"nextToken": token} if token else {}))
            plans.extend(page.get("savingsPlans", []))
            token = page.get("nextToken")
            if not token:
                break
    for plan in plans:
        found.append(_savings_plan(plan, notes))
    return AwsInventory(tuple(found), tuple(notes))


def _utc(value) -> pd.Timestamp | None:
    if value in (None, ""):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _term(seconds, start, end) -> int | None:
    if seconds:
        years = float(seconds) / YEAR_SECONDS
        if abs(years - round(years)) < 0.01 and round(years) in (1, 3):
            return 12 * int(round(years))
    return term_months_between(start, end)


def _reservation(ri: dict, region: str, notes: list[str]) -> FoundCommitment:
    start, end = _utc(ri.get("Start")), _utc(ri.get("End"))
    rid = ri.get("ReservedInstancesId", "?")
    if ri.get("OfferingClass") == "convertible":
        notes.append(f"{rid}: a convertible reservation, read as the standard product of the same term and payment")
    if "Linux" not in str(ri.get("ProductDescription", "Linux")):
        notes.append(f"{rid}: {ri.get('ProductDescription')} reservation; the catalog prices Linux")
    return FoundCommitment(
        rid, "aws", "reservation", "", f"aws/{region}/{ri.get('InstanceType', '')}", region, "",
        float(ri["InstanceCount"]) if ri.get("InstanceCount") is not None else None, start, end,
        _term(ri.get("Duration"), start, end), payment_key(ri.get("OfferingType")),
        "aws ec2.describe_reserved_instances")


def _savings_plan(plan: dict, notes: list[str]) -> FoundCommitment:
    start, end = _utc(plan.get("start")), _utc(plan.get("end"))
    sid = plan.get("savingsPlanId") or plan.get("savingsPlanArn", "?")
    sp_type = plan.get("savingsPlanType", "")
    if sp_type not in SP_TYPES:
        notes.append(f"{sid}: a {sp_type} savings plan does not cover EC2 instances; not matched")
    commitment = plan.get("commitment")
    return FoundCommitment(
        sid, "aws", "savings_plan", SP_TYPES.get(sp_type, ""), "", plan.get("region", "") or "",
        plan.get("ec2InstanceFamily", "") or "", float(commitment) if commitment not in (None, "") else None,
        start, end, _term(plan.get("termDurationInSeconds"), start, end), payment_key(plan.get("paymentOption")),
        "aws savingsplans.describe_savings_plans")


def _session_factory() -> tuple[ClientFactory, str | None]:
    import boto3

    session = boto3.session.Session()
    return (lambda service, region: session.client(service, region_name=region)), session.region_name


def _aws_errors(what: str):
    return aws_errors(what, "ec2:DescribeReservedInstances and savingsplans:DescribeSavingsPlans")
