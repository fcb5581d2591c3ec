"""Build the embedded price catalog (pricing/data/) from the shared GPU price table.

    python -m gpuladder.pricing.build_embedded \\
        --source /work/shared/data/prices/gpu_prices.csv --out pricing/data

Deterministic: the same source gives byte-identical files (no clock, sorted rows).
Writes ``families.csv``, ``commitments.csv`` and ``README.md`` (sources, licenses and
every estimate with its derivation). Rules:

* one family per (provider, region, instance_type): the newest ``as_of`` row;
  when that row has no spot price, an older row's spot price is carried over only if its
  on-demand price agrees within ``SPOT_CARRY_TOLERANCE`` (the price did not move);
* real commitments: GCP CUD 1y/3y (``cud_1y``/``cud_3y``);
* estimates (``source`` starting with ``estimate:``): AWS reservations, EC2 Instance and
  Compute Savings Plans, Azure reservations; rules in ``pricing/estimates.py``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gpuladder.errors import GpuladderError, InputError
from gpuladder.pricing.catalog import (COMMITMENT_COLUMNS, FAMILY_COLUMNS, INTERRUPTION_BUCKETS, PriceCatalog,
                                       atomic_write_text, catalog_from_frames, format_number)
from gpuladder.pricing.estimates import (BUCKET_RULE_TEXT, COMPUTE_SP_DISCOUNT_SCALE, PAYMENT_FACTOR,
                                         TERM_LABEL, UPFRONT_SHARE, aws_instance_family,
                                         interruption_buckets)

SOURCE_COLUMNS = ["provider", "region", "instance_type", "gpu_model", "gpus_per_instance",
                  "on_demand_hourly", "spot_hourly", "cud_1y", "cud_3y", "source_repo",
                  "source_path", "source_commit", "as_of"]
SPOT_CARRY_TOLERANCE = 0.005
RATE_DECIMALS = 6
RATIO_DECIMALS = 4
LICENSES = {
    "Cyclenerd/google-cloud-pricing-cost-calculator": "Apache-2.0",
    "anycloud-sh/catalog": "none stated",
    "aws/karpenter-provider-aws": "Apache-2.0",
    "vantage-sh/ec2instances.info": "MIT",
}


@dataclass(frozen=True)
class EmbeddedBuild:
    catalog: PriceCatalog
    families: pd.DataFrame     # canonical columns, text
    commitments: pd.DataFrame  # canonical columns, text
    readme: str


def build(source: Path) -> EmbeddedBuild:
    """Read ``source`` (gpu_prices.csv) and derive the canonical catalog and its README."""
    src = _read_source(source)
    fam, carried = _families(src)
    ratios = _cud_ratios(fam)
    com = pd.concat([_gcp_cud(fam), _aws_estimates(fam, ratios), _azure_estimates(fam, ratios)],
                    ignore_index=True)
    com = com.sort_values(["product", "family"]).reset_index(drop=True)
    fam_out = fam[FAMILY_COLUMNS].sort_values("family").reset_index(drop=True)
    fam_text = _text(fam_out, FAMILY_COLUMNS)
    com_text = _text(com, COMMITMENT_COLUMNS)
    catalog = catalog_from_frames(fam_text, com_text, origin="embedded")
    readme = _readme(src, fam, com, ratios, carried, Path(source).name)
    return EmbeddedBuild(catalog, fam_text, com_text, readme)


def write(result: EmbeddedBuild, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    targets = []
    for name, text in (("families.csv", result.families.to_csv(index=False, lineterminator="\n")),
                       ("commitments.csv", result.commitments.to_csv(index=False, lineterminator="\n")),
                       ("README.md", result.readme)):
        atomic_write_text(out / name, text)
        targets.append(out / name)
    return targets


# ---------------------------------------------------------------- families

def _read_source(source: Path) -> pd.DataFrame:
    if not Path(source).is_file():
        raise InputError("file not found", file=str(source), hint="passing the path of gpu_prices.csv.")
    df = pd.read_csv(source, dtype={"source_commit": str, "as_of": str})
    missing = [c for c in SOURCE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column '{missing[0]}'", file=str(source), column=missing[0],
                         hint="using the gpu_prices.csv layout of the shared data README.")
    df["family"] = df["provider"] + "/" + df["region"] + "/" + df["instance_type"]
    df["source"] = df["source_repo"] + ":" + df["source_path"] + "@" + df["source_commit"]
    return df


def _families(src: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ordered = src.sort_values(["family", "as_of", "source"], ascending=[True, False, True])
    newest = ordered.drop_duplicates("family", keep="first").set_index("family")
    older = ordered[ordered.duplicated("family", keep="first") & ordered["spot_hourly"].notna()]
    older = older.drop_duplicates("family", keep="first").set_index("family")
    cand = newest.loc[newest["spot_hourly"].isna() & newest.index.isin(older.index)]
    od_new = cand["on_demand_hourly"]
    od_old = older.loc[cand.index, "on_demand_hourly"]
    same = ((od_old - od_new).abs() <= SPOT_CARRY_TOLERANCE * od_new)
    keys = same[same].index
    fam = newest.copy()
    fam.loc[keys, "spot_hourly"] = older.loc[keys, "spot_hourly"]
    fam.loc[keys, "source"] = (fam.loc[keys, "source"] + "; spot_usd_per_hour: "
                               + older.loc[keys, "source"] + " as of " + older.loc[keys, "as_of"])
    carried = pd.DataFrame({"family": keys, "spot_as_of": older.loc[keys, "as_of"].to_numpy(),
                            "not_carried_price_moved": False})
    moved = same[~same].index
    carried = pd.concat([carried, pd.DataFrame({"family": moved, "spot_as_of": older.loc[moved, "as_of"].to_numpy(),
                                                "not_carried_price_moved": True})], ignore_index=True)
    fam = fam.reset_index()
    fam["on_demand_usd_per_hour"] = fam["on_demand_hourly"]
    fam["spot_usd_per_hour"] = fam["spot_hourly"]
    fam["interruption_bucket"] = interruption_buckets(fam["gpu_model"], fam["gpus_per_instance"])
    return fam, carried


# ---------------------------------------------------------------- commitments

def _cud_ratios(fam: pd.DataFrame) -> dict[int, float]:
    """Median GCP CUD rate / on-demand per term, over the families that publish one."""
    gcp = fam[fam["provider"] == "gcp"]
    out = {}
    for term, col in ((12, "cud_1y"), (36, "cud_3y")):
        r = (gcp[col] / gcp["on_demand_hourly"]).dropna()
        if r.empty:
            raise InputError(f"no GCP {col} rates to derive estimates from", column=col)
        out[term] = round(float(r.median()), RATIO_DECIMALS)
    return out


def _rows(fam: pd.DataFrame, *, product, provider: str, kind: str, term: int, payment: str,
          rate: pd.Series, source) -> pd.DataFrame:
    return pd.DataFrame({
        "product": product, "provider": provider, "kind": kind, "term_months": term,
        "payment": payment, "upfront_share": UPFRONT_SHARE[payment], "family": fam["family"].to_numpy(),
        "rate_usd_per_hour": rate.round(RATE_DECIMALS).to_numpy(), "source": source,
        "as_of": fam["as_of"].to_numpy(),
    })


def _gcp_cud(fam: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for term, col in ((12, "cud_1y"), (36, "cud_3y")):
        f = fam[(fam["provider"] == "gcp") & fam[col].notna()]
        parts.append(_rows(f, product=f"gcp-cud-{TERM_LABEL[term]}", provider="gcp", kind="reservation",
                           term=term, payment="no_upfront", rate=f[col], source=f["source"].to_numpy()))
    return pd.concat(parts, ignore_index=True)


def _aws_estimates(fam: pd.DataFrame, ratios: dict[int, float]) -> pd.DataFrame:
    f = fam[fam["provider"] == "aws"].reset_index(drop=True)
    od = f["on_demand_hourly"]
    ec2_family = aws_instance_family(f["instance_type"])
    parts = []
    for term, ratio in ratios.items():
        t = TERM_LABEL[term]
        basis = (f"on-demand x {ratio:g} (median GCP CUD {t} / on-demand in gpu_prices.csv)")
        for payment, factor in PAYMENT_FACTOR[term].items():
            ri_ratio = ratio * factor
            pay = f" x {factor:g} ({payment} factor)" if factor != 1.0 else ""
            parts.append(_rows(f, product=f"aws-ri-{t}-{payment}", provider="aws", kind="reservation",
                               term=term, payment=payment, rate=od * ri_ratio,
                               source=f"estimate: standard RI = {basis}{pay}"))
            parts.append(_rows(f, product=("aws-ec2sp-" + f["region"] + "-" + ec2_family + f"-{t}-{payment}").to_numpy(),
                               provider="aws", kind="savings_plan", term=term, payment=payment,
                               rate=od * ri_ratio,
                               source=f"estimate: EC2 Instance SP = standard RI rate = {basis}{pay}"))
            csp_ratio = 1.0 - (1.0 - ri_ratio) * COMPUTE_SP_DISCOUNT_SCALE
            parts.append(_rows(f, product=f"aws-csp-{t}-{payment}", provider="aws", kind="savings_plan",
                               term=term, payment=payment, rate=od * csp_ratio,
                               source=(f"estimate: Compute SP discount = EC2 Instance SP discount x 66/72 "
                                       f"(AWS 'up to 66%' vs 'up to 72%'); EC2 Instance SP = {basis}{pay}")))
    return pd.concat(parts, ignore_index=True)


def _azure_estimates(fam: pd.DataFrame, ratios: dict[int, float]) -> pd.DataFrame:
    f = fam[fam["provider"] == "azure"].reset_index(drop=True)
    parts = []
    for term, ratio in ratios.items():
        t = TERM_LABEL[term]
        parts.append(_rows(f, product=f"azure-ri-{t}-no_upfront", provider="azure", kind="reservation",
                           term=term, payment="no_upfront", rate=f["on_demand_hourly"] * ratio,
                           source=(f"estimate: reservation (monthly billing) = on-demand x {ratio:g} "
                                   f"(median GCP CUD {t} / on-demand in gpu_prices.csv)")))
    return pd.concat(parts, ignore_index=True)


def _text(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s):
            out[col] = [format_number(v) for v in s.astype(float)]
        else:
            out[col] = s.fillna("").astype(str)
    return out


# ---------------------------------------------------------------- README

def _readme(src: pd.DataFrame, fam: pd.DataFrame, com: pd.DataFrame, ratios: dict[int, float],
            carried: pd.DataFrame, source_name: str) -> str:
    sources = (src.groupby(["provider", "source_repo", "source_path", "source_commit", "as_of"])
               .size().rename("rows").reset_index())
    used = fam.groupby("source_repo").size()
    lines = ["| provider | repository : path @ commit | license | as_of | source rows | families using it |",
             "|---|---|---|---|---|---|"]
    for r in sources.itertuples():
        lines.append(f"| {r.provider} | {r.source_repo} : {r.source_path} @ {r.source_commit[:12]} | "
                     f"{LICENSES.get(r.source_repo, 'unknown')} | {r.as_of} | {r.rows} | {int(used.get(r.source_repo, 0))} |")
    source_table = "\n".join(lines)
    per_provider = fam.groupby("provider").agg(families=("family", "size"), regions=("region", "nunique"),
                                               instance_types=("instance_type", "nunique"),
                                               with_spot=("spot_hourly", lambda s: int(s.notna().sum())))
    prov_lines = ["| provider | families | regions | instance types | with spot price |", "|---|---|---|---|---|"]
    for p, r in per_provider.iterrows():
        prov_lines.append(f"| {p} | {r.families} | {r.regions} | {r.instance_types} | {r.with_spot} |")
    est_lines = ["| product ids | term | payment | rate / on-demand | upfront_share |", "|---|---|---|---|---|"]
    for term, ratio in ratios.items():
        t = TERM_LABEL[term]
        for payment, factor in PAYMENT_FACTOR[term].items():
            ri = ratio * factor
            csp = 1.0 - (1.0 - ri) * COMPUTE_SP_DISCOUNT_SCALE
            est_lines.append(f"| aws-ri-{t}-{payment}, aws-ec2sp-REGION-FAMILY-{t}-{payment} | {term} | "
                             f"{payment} | {ri:.4f} | {UPFRONT_SHARE[payment]:g} |")
            est_lines.append(f"| aws-csp-{t}-{payment} | {term} | {payment} | {csp:.4f} | {UPFRONT_SHARE[payment]:g} |")
        est_lines.append(f"| azure-ri-{t}-no_upfront | {term} | no_upfront | {ratio:.4f} | 0 |")
    products = com.groupby("product").agg(kind=("kind", "first"), families=("family", "size"))
    n_est = int(com["source"].str.startswith("estimate:").sum())
    az = fam[fam["provider"] == "azure"]
    az_spot_high = int((az["spot_hourly"] >= az["on_demand_hourly"]).sum())
    gcp = fam[fam["provider"] == "gcp"]
    series = gcp["instance_type"].str.rsplit("-", n=1).str[0]
    missing = {term: series[gcp[col].isna()].value_counts().sort_index() for term, col in ((12, "cud_1y"), (36, "cud_3y"))}
    n_no_cud_text = "; ".join(f"no {TERM_LABEL[term]} CUD: " + ", ".join(f"{name} {n}" for name, n in counts.items())
                              for term, counts in missing.items())
    kept = carried[~carried["not_carried_price_moved"]]
    moved = carried[carried["not_carried_price_moved"]]
    buckets = fam["interruption_bucket"].value_counts().reindex(INTERRUPTION_BUCKETS, fill_value=0)
    bucket_counts = ", ".join(f"`{b}` {n}" for b, n in buckets.items())
    aws = fam[fam["provider"] == "aws"]
    aws_dates = aws.groupby("as_of").agg(families=("family", "size"), regions=("region", "nunique"),
                                         repos=("source_repo", lambda s: ", ".join(sorted(s.unique()))))
    aws_lines = "\n".join(f"  * as_of {d}: {r.families} families in {r.regions} region(s), from {r.repos}"
                          for d, r in aws_dates.iterrows())
    moved_text = (f"Not carried where the on-demand price moved: {', '.join(moved['family'])}."
                  if len(moved) else "No older spot price was dropped for a moved on-demand price.")
    return f"""# Embedded GPU price catalog

Generated by `python -m gpuladder.pricing.build_embedded --source {source_name} --out pricing/data`
from the project's shared price table `{source_name}` ({len(src)} rows). Do not edit the CSVs by
hand: change the source or the rules in `pricing/build_embedded.py` / `pricing/estimates.py`
and regenerate. To adjust prices for your own runs, `gpuladder catalog export DIR`, edit, and
pass `--catalog DIR`.

Format: DESIGN.md section 3 (`families.csv`, `commitments.csv`). Money in USD, prices per
instance-hour, Linux. Every row carries `source` (`repository:path@commit`, or `estimate: ...`)
and `as_of` (the date of the source's prices).

## Sources and licenses (attribution)

The prices are facts published by the providers, collected by these projects; their files are
not copied, only the numbers.

{source_table}

## What the catalog holds

{chr(10).join(prov_lines)}

{len(fam)} families, {len(products)} commitment products, {len(com)} commitment rows
({n_est} of them estimates).

Rules:

* One row per `provider/region/instance_type`, from the newest `as_of` row of the source.
* AWS prices by date:
{aws_lines}

  karpenter's table covers us-east-1 only (on-demand, no spot); every other AWS region comes from
  ec2instances.info (2024-04-04), which predates the mid-2025 GPU price cuts (p4d was $32.77/h,
  now $21.96/h in us-east-1): outside us-east-1, p4d/p4de/p5 prices here are pre-cut list prices.
  Prefer `gpuladder catalog fetch aws` for current AWS prices.
* Spot carry-over: where the newest row has no spot price and an older row of the same family
  has one with the same on-demand price (within {SPOT_CARRY_TOLERANCE:.1%}), that spot price is kept
  and its source and date are named in `source` ({len(kept)} families: {', '.join(sorted(kept['family'].str.rsplit('/', n=1).str[0].unique())) or '-'};
  spot as of {', '.join(sorted(kept['spot_as_of'].unique())) or '-'}). {moved_text} A plan with
  interruptible demand on such a family more than a year after that date warns that its spot
  share rests on it.
* Empty `spot_usd_per_hour` means no spot price in the sources; the tool treats it as no spot
  market (spot = on-demand). Fill it in an exported catalog if you know better.
* {az_spot_high} Azure families publish a spot price at or above on-demand; they are kept as
  published. The tool caps the effective spot price at on-demand, so spot is never chosen there.
* `gpu_model` names are the source's (`H100-80GB` on AWS/GCP, `H100` on Azure); `gpus_per_instance`
  may be fractional (GCP G4 shares of an RTX PRO 6000).

## Real commitment rates

* `gcp-cud-1y`, `gcp-cud-3y` (kind `reservation`: a family-specific instance count; `no_upfront`,
  billed monthly): GCP resource-based committed-use discounts from `cud_1y` / `cud_3y` (the
  source's monthly price / 730 h). Family-specific because GCP requires a GPU commitment to have
  reservations attached (a machine type in a zone, charged whether a VM uses them or not), so
  the discount goes to that machine type. Families whose source row has no CUD price have no
  GCP commitment product of that term here (families by series, {n_no_cud_text}): the source
  lists none for A2 Ultra (A100-80GB) in any region.
  GCP's spend-based Compute flexible CUDs are not listed: no source here shows them discounting
  GPUs.

## Estimates (every `source` starting with `estimate:`)

No public file here holds AWS reservation or savings-plan rates or Azure reservation rates.
`gpuladder plan` says when a plan relies on one of these. Derivation:

1. Base ratio per term = median over GCP families of (CUD rate / on-demand) in the source:
   **1 year {ratios[12]:g}, 3 years {ratios[36]:g}** (rounded to {RATIO_DECIMALS} decimals).
2. AWS standard reservations (`aws-ri-<term>-<payment>`, one product per term x payment covering
   every AWS family) at no upfront = on-demand x base ratio.
   Partial / all upfront: times a payment factor (1y {PAYMENT_FACTOR[12]['partial_upfront']:g} / {PAYMENT_FACTOR[12]['all_upfront']:g},
   3y {PAYMENT_FACTOR[36]['partial_upfront']:g} / {PAYMENT_FACTOR[36]['all_upfront']:g}). AWS states only that a higher upfront payment gives a
   greater discount; the factors are our assumption. `upfront_share` is nominal: 0, 0.5, 1.
3. AWS EC2 Instance Savings Plans (`aws-ec2sp-<region>-<instance family>-<term>-<payment>`, kind
   `savings_plan`, one product per region and instance family such as `p5`, covering its sizes):
   the same rate as the standard reservation (AWS: both "up to 72%").
4. AWS Compute Savings Plans (`aws-csp-<term>-<payment>`, one product per term x payment covering
   every AWS family): discount = EC2 Instance SP discount x 66/72 (AWS: "up to 66%" vs "up to 72%"),
   so always a little dearer than the EC2 Instance plan.
5. Azure reservations (`azure-ri-<term>-no_upfront`): on-demand x base ratio. Azure charges the
   same total for monthly and upfront payment, so only the monthly (`no_upfront`) form is listed.
   Each is family-specific: Azure's instance size flexibility (a reservation also serving other
   sizes of its group by their ratio) is not modeled, so a plan's cost is an upper bound where
   several sizes of one group run. Azure's savings plan for compute is not listed (no rates, and
   which GPU series it covers is not confirmed here); to model one you hold, add its rows
   (kind `savings_plan`) to a catalog folder laid over the embedded one.
6. Rates are rounded to {RATE_DECIMALS} decimals; `as_of` is that of the family's on-demand price.
   Savings-plan rates are the $ of commitment one instance-hour consumes.

Rate / on-demand of each estimated product:

{chr(10).join(est_lines)}

## Interruption buckets (all estimates)

No public spot-interruption data is stored with the project. `interruption_bucket` is assigned by
rule ({BUCKET_RULE_TEXT}). Counts: {bucket_counts}. The bucket only selects the
rework overhead of the scenario (`constraints.spot_rework_overhead`); override it in an exported
catalog when you have measured interruption rates (e.g. from the AWS Spot Instance Advisor).
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpuladder.pricing.build_embedded",
                                     description="Build the embedded price catalog from gpu_prices.csv.")
    parser.add_argument("--source", required=True, type=Path, help="gpu_prices.csv")
    parser.add_argument("--out", required=True, type=Path, help="output folder (pricing/data)")
    args = parser.parse_args(argv)
    try:
        write(build(args.source), args.out)
    except GpuladderError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
