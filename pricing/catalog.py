"""The price catalog: families (on-demand, spot, interruption bucket) and commitment products.

Canonical form (DESIGN.md section 3) is a folder with ``families.csv`` and
``commitments.csv``. This module loads and validates it once, at the edge; the
``PriceCatalog`` it returns is read-only.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from gpuladder.errors import InputError, did_you_mean
from gpuladder.textcsv import read_text_csv
from gpuladder.units import MAX_TERM_MONTHS, MAX_USD_PER_HOUR

FAMILY_COLUMNS = [
    "family", "provider", "region", "instance_type", "gpu_model", "gpus_per_instance",
    "on_demand_usd_per_hour", "spot_usd_per_hour", "interruption_bucket", "source", "as_of",
]
SCOPE_FAMILIES = "scope_families"   # set by PriceCatalog.subset
COMMITMENT_COLUMNS = [
    "product", "provider", "kind", "term_months", "payment", "upfront_share", "family",
    "rate_usd_per_hour", "source", "as_of",
]
INTERRUPTION_BUCKETS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
PAYMENTS = ("no_upfront", "partial_upfront", "all_upfront")
KINDS = ("reservation", "savings_plan")
PRODUCT_COLUMNS = ["provider", "kind", "term_months", "payment", "upfront_share"]
ESTIMATE_PREFIX = "estimate:"
MAX_GPUS_PER_INSTANCE = 1024


@dataclass(frozen=True)
class PriceCatalog:
    """Validated prices. ``families`` is indexed by family key, ``commitments`` has one row
    per (product, covered family). Both frames are sorted and must not be mutated."""

    families: pd.DataFrame
    commitments: pd.DataFrame
    origin: str

    @property
    def family_keys(self) -> list[str]:
        return list(self.families.index)

    def products(self) -> pd.DataFrame:
        """One row per product: provider, kind, term, payment, upfront share, number of
        families covered, and whether any of its rates is an estimate."""
        c = self.commitments
        g = c.groupby("product", sort=True)
        out = g[PRODUCT_COLUMNS].first()
        out["n_families"] = g["family"].nunique()
        out["estimate"] = c["source"].str.startswith(ESTIMATE_PREFIX).groupby(c["product"], sort=True).any()
        return out

    def subset(self, families) -> "PriceCatalog":
        """The catalog restricted to ``families`` (commitment rows of other families dropped).
        Each commitment row keeps, in ``scope_families``, how many families its product
        covers in the whole catalog: savings plans apply narrowest scope first (DESIGN.md
        section 4), and cut to one family a Compute and an EC2 Instance plan look alike."""
        fam = self.families.loc[sorted(set(families))]
        com = self.commitments.assign(scope_families=self.commitments["product"].map(self.scope_family_counts()))
        com = com[com["family"].isin(fam.index)]
        return PriceCatalog(fam, com.reset_index(drop=True), self.origin)

    def scope_family_counts(self) -> pd.Series:
        """product -> the number of families it covers (in the whole catalog this one was
        cut from by ``subset``)."""
        com = self.commitments
        if SCOPE_FAMILIES in com.columns:
            return com.groupby("product")[SCOPE_FAMILIES].first().astype(int)
        return com.groupby("product")["family"].nunique()

    def effective_spot_usd_per_hour(self, overhead_by_bucket: dict[str, float]) -> pd.Series:
        """Spot price x (1 + rework overhead of the family's interruption bucket), capped at
        on-demand; on-demand where the family has no spot market."""
        f = self.families
        over = f["interruption_bucket"].map(overhead_by_bucket).fillna(0.0).astype(float)
        eff = f["spot_usd_per_hour"] * (1.0 + over)
        eff = eff.where(eff.notna(), f["on_demand_usd_per_hour"])
        return np.minimum(eff, f["on_demand_usd_per_hour"]).rename("effective_spot_usd_per_hour")


def embedded_catalog_dir() -> Path:
    """Folder of the embedded snapshot shipped with the package."""
    return Path(str(resources.files("gpuladder.pricing") / "data"))


def embedded_catalog() -> PriceCatalog:
    """The embedded snapshot (see pricing/data/README.md for sources and estimates)."""
    return load_catalog(embedded_catalog_dir(), origin="embedded")


def load_catalog(path, origin: str | None = None) -> PriceCatalog:
    """Read and validate a canonical catalog folder. Raises InputError naming file, row, column."""
    path = Path(path)
    if path.is_file():
        raise InputError("is a file, not a catalog folder", file=str(path),
                         hint="passing the folder that holds families.csv and commitments.csv.")
    if not path.is_dir():
        raise InputError("catalog folder not found", file=str(path),
                         hint="passing a folder with families.csv and commitments.csv "
                              "(`gpuladder catalog export DIR` writes one to start from).")
    families = _read_csv(path / "families.csv", FAMILY_COLUMNS)
    commitments = _read_csv(path / "commitments.csv", COMMITMENT_COLUMNS)
    fam = _validate_families(families, str(path / "families.csv"))
    com = _validate_commitments(commitments, fam, str(path / "commitments.csv"))
    return PriceCatalog(fam, com, origin or str(path))


def catalog_from_frames(families: pd.DataFrame, commitments: pd.DataFrame, *, origin: str,
                        files: tuple[str, str] = ("families.csv", "commitments.csv")) -> PriceCatalog:
    """Validate in-memory tables in the canonical columns (text or numbers; NaN = empty),
    exactly as ``load_catalog`` validates the files. ``files`` name them in error messages."""
    fam_text = _as_text(families, FAMILY_COLUMNS, files[0])
    com_text = _as_text(commitments, COMMITMENT_COLUMNS, files[1])
    fam = _validate_families(fam_text, files[0])
    com = _validate_commitments(com_text, fam, files[1])
    return PriceCatalog(fam, com, origin)


def open_catalog(specs=None) -> PriceCatalog:
    """The catalog named by ``specs``: ``None`` or ``"embedded"`` is the embedded snapshot, a
    path is a catalog folder; a sequence of them is merged left to right (later rows replace
    earlier ones), e.g. ``["embedded", "fetched/"]`` lays a live AWS fetch over the snapshot."""
    if specs is None or isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    specs = [s for s in specs if s is not None] or ["embedded"]
    catalogs = [embedded_catalog() if str(s) == "embedded" else load_catalog(s) for s in specs]
    out = catalogs[0]
    for cat in catalogs[1:]:
        out = merge_catalogs(out, cat)
    return out


def merge_catalogs(base: PriceCatalog, override: PriceCatalog) -> PriceCatalog:
    """``override`` rows replace ``base`` rows with the same family / (product, family).

    Estimated base rates (derived from on-demand) of a family whose on-demand price the
    override changes are scaled by new / old on-demand and take that price's ``as_of``. A
    published base rate left above the new on-demand price is refused (InputError). The
    override may reprice a product's families, not change the product's terms."""
    fam = pd.concat([base.families[~base.families.index.isin(override.families.index)],
                     override.families]).sort_index()
    key = ["product", "family"]
    b = base.commitments.set_index(key)
    o = override.commitments.set_index(key)
    kept = b[~b.index.isin(o.index)].copy()
    _check_same_products(kept, o, base.origin, override.origin)
    fams = kept.index.get_level_values("family")
    ratio = (fam["on_demand_usd_per_hour"].reindex(fams).to_numpy()
             / base.families["on_demand_usd_per_hour"].reindex(fams).to_numpy())
    rescale = kept["source"].str.startswith(ESTIMATE_PREFIX).to_numpy() & ~np.isclose(ratio, 1.0)
    if rescale.any():
        kept.loc[rescale, "rate_usd_per_hour"] = kept.loc[rescale, "rate_usd_per_hour"] * ratio[rescale]
        kept.loc[rescale, "source"] = kept.loc[rescale, "source"] + f" (scaled to the on-demand price of {override.origin})"
        kept.loc[rescale, "as_of"] = fam["as_of"].reindex(fams[rescale]).to_numpy()
    com = pd.concat([kept, o]).reset_index()
    com = com.sort_values(key).reset_index(drop=True)
    od = fam["on_demand_usd_per_hour"].reindex(com["family"]).to_numpy()
    above = com["rate_usd_per_hour"].to_numpy() > od * (1 + 1e-9)
    if above.any():
        r = com.iloc[int(above.argmax())]
        raise InputError(f"after laying {override.origin} over {base.origin}, the rate {r['rate_usd_per_hour']:g} of "
                         f"product '{r['product']}' is above the new on-demand price {od[above.argmax()]:g} of "
                         f"{r['family']}", file=override.origin, column="on_demand_usd_per_hour",
                         hint="adding that product's rate for the family to the overriding catalog, or checking "
                              "the on-demand price.")
    return PriceCatalog(fam, com, f"{base.origin}+{override.origin}")


def _check_same_products(kept: pd.DataFrame, override: pd.DataFrame, base_origin: str, override_origin: str) -> None:
    """An override may reprice a product's families, not redefine the product: its term,
    payment, kind, provider and upfront share must be those of the base rows it joins."""
    b = kept.groupby(level="product")[PRODUCT_COLUMNS].first()
    o = override.groupby(level="product")[PRODUCT_COLUMNS].first()
    common = o.index.intersection(b.index)
    for col in PRODUCT_COLUMNS:
        differs = b.loc[common, col].ne(o.loc[common, col])
        if differs.any():
            p = differs.idxmax()
            raise InputError(f"product '{p}' has {col} {o.loc[p, col]} here but {b.loc[p, col]} in {base_origin}, "
                             f"which it is laid over", file=override_origin, column=col,
                             hint=f"giving its rows the {col} of {base_origin} ({b.loc[p, col]}), or a product id "
                                  "of its own for a different product.")


def export_catalog(catalog: PriceCatalog, folder) -> list[Path]:
    """Write the canonical files into ``folder`` (each written to a temp file, then renamed)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder ({exc.strerror})", file=str(folder),
                         hint="choosing a folder you can write to.") from None
    fam = catalog.families.reset_index()[FAMILY_COLUMNS]
    com = catalog.commitments[COMMITMENT_COLUMNS]
    written = []
    for name, frame in (("families.csv", fam), ("commitments.csv", com)):
        target = folder / name
        atomic_write_text(target, frame.to_csv(index=False, lineterminator="\n"))
        written.append(target)
    return written


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file in the same folder + rename. A
    symlink's target is replaced (not the link); a device or pipe (``-o /dev/stdout``, a
    FIFO) is written in place, since a rename would put a regular file where it was. An
    existing file keeps its permission bits, and its owner and group where the process may
    set them; a new one gets 0666 less the umask, as ``open(target, "w")`` would give it."""
    target = Path(target)
    try:
        special = not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        special = False
    if special and not target.is_dir():
        try:
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise InputError(f"cannot write the output: {exc.strerror or exc}", file=str(target),
                             hint="freeing space on the output's device or writing elsewhere with -o FILE.") from None
        return
    target = Path(os.path.realpath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent or "."))
    except OSError as exc:
        raise _unwritable(target, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            os.fchmod(fh.fileno(), _mode_for(target))
            _keep_owner(fh.fileno(), target)
            fh.write(text)
        os.replace(tmp, target)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _unwritable(target, exc) from None
        raise


def _keep_owner(fd: int, target: Path) -> None:
    """Give the new file the replaced one's owner and group where the process may (root may;
    others only to a group of their own): a root cron job rewriting a team's inventory.csv
    would otherwise leave it root's, read-only to the team."""
    try:
        st = os.stat(target)
    except OSError:
        return
    mine = os.fstat(fd)
    if (st.st_uid, st.st_gid) == (mine.st_uid, mine.st_gid):
        return
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except OSError:
        try:
            os.fchown(fd, -1, st.st_gid)
        except OSError:
            pass


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _unwritable(target: Path, exc: OSError) -> InputError:
    folder = target.parent if str(target.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        return InputError(f"cannot write the output: {folder} is a file, not a folder", file=str(target),
                          hint="choosing another path.")
    if not folder.is_dir():
        return InputError(f"cannot write the output: the folder {folder} does not exist", file=str(target),
                          hint=f"creating it first (mkdir -p {folder}) or choosing another path.")
    return InputError(f"cannot write the output ({exc.strerror or exc})", file=str(target),
                      hint="choosing a path you can write to (and a disk with free space); "
                           "nothing was written and any previous file is unchanged.")


# ---------------------------------------------------------------- validation helpers

def format_number(value) -> str:
    """Shortest text that reads back as the same float ('' for NaN): 55.04, 8, 0.125."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return np.format_float_positional(float(value), trim="-")


def _as_text(df: pd.DataFrame, columns: list[str], file: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"missing column '{missing[0]}'", file=file, column=missing[0],
                         hint=f"adding the column; expected columns: {', '.join(columns)}.")
    out = {}
    for col in columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = [format_number(v) for v in s.astype(float)]
        else:
            out[col] = s.astype(object).where(s.notna(), "").astype(str).str.strip().tolist()
    return pd.DataFrame(out, index=pd.RangeIndex(2, 2 + len(df)), dtype=str)

def _read_csv(file: Path, columns: list[str]) -> pd.DataFrame:
    return read_text_csv(file, columns, what="file")


def _numeric(df: pd.DataFrame, col: str, file: str, *, required: bool, minimum: float = 0.0,
             strictly_positive: bool = False, hint: str = "", maximum: float | None = None) -> pd.Series:
    raw = df[col]
    num = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
    bad_text = raw.ne("") & num.isna()
    if bad_text.any():
        r = bad_text.idxmax()
        raise InputError(f"'{raw[r]}' is not a number", file=file, row=int(r), column=col,
                         hint=hint or "writing a plain decimal number such as 3.06.")
    if np.isinf(num).any():
        r = np.isinf(num).idxmax()
        raise InputError(f"'{raw[r]}' is not a finite number", file=file, row=int(r), column=col,
                         hint=hint or "writing a plain decimal number such as 3.06.")
    if required and num.isna().any():
        r = num.isna().idxmax()
        raise InputError("missing value", file=file, row=int(r), column=col,
                         hint=hint or "filling in the value.")
    low = num < minimum if not strictly_positive else num <= minimum
    if low.any():
        r = low.idxmax()
        what = "must be positive" if strictly_positive else f"must be at least {minimum:g}"
        raise InputError(f"{num[r]:g} {what}", file=file, row=int(r), column=col,
                         hint=hint or "correcting the price; prices are USD per instance-hour.")
    if maximum is not None and (num > maximum).any():
        r = (num > maximum).idxmax()
        raise InputError(f"{raw[r]} is implausibly large (more than {maximum:,.0f})", file=file, row=int(r),
                         column=col, hint=hint or "correcting the price; prices are USD per instance-hour.")
    return num


def _choice(df: pd.DataFrame, col: str, allowed, file: str) -> None:
    bad = ~df[col].isin(allowed)
    if bad.any():
        r = bad.idxmax()
        raise InputError(f"'{df[col][r]}' is not one of {', '.join(allowed)}.{did_you_mean(df[col][r], allowed)}",
                         file=file, row=int(r), column=col, hint=f"using one of {', '.join(allowed)}.")


def _no_empty(df: pd.DataFrame, cols, file: str) -> None:
    for col in cols:
        empty = df[col].eq("")
        if empty.any():
            r = empty.idxmax()
            raise InputError("missing value", file=file, row=int(r), column=col,
                             hint="filling in the value (every row carries its source and as_of date).")


def _dates(df: pd.DataFrame, col: str, file: str) -> None:
    parsed = pd.to_datetime(df[col], errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().any():
        r = parsed.isna().idxmax()
        raise InputError(f"'{df[col][r]}' is not an ISO date", file=file, row=int(r), column=col,
                         hint="writing the date as YYYY-MM-DD.")


def _validate_families(df: pd.DataFrame, file: str) -> pd.DataFrame:
    if df.empty:
        raise InputError("no families", file=file,
                         hint="adding at least one row (`gpuladder catalog export DIR` writes a full example).")
    _no_empty(df, ["family", "provider", "region", "instance_type", "gpu_model",
                   "interruption_bucket", "source", "as_of"], file)
    dup = df["family"].duplicated(keep="first")
    if dup.any():
        r = dup.idxmax()
        first = df.index[df["family"].eq(df["family"][r])][0]
        raise InputError(f"duplicate family '{df['family'][r]}' (first at row {first})", file=file,
                         row=int(r), column="family", hint="keeping one row per family.")
    expected = df["provider"] + "/" + df["region"] + "/" + df["instance_type"]
    bad = df["family"].ne(expected)
    if bad.any():
        r = bad.idxmax()
        raise InputError(f"family '{df['family'][r]}' is not provider/region/instance_type "
                         f"('{expected[r]}')", file=file, row=int(r), column="family",
                         hint="writing the family as provider/region/instance_type.")
    _choice(df, "interruption_bucket", INTERRUPTION_BUCKETS, file)
    _dates(df, "as_of", file)
    out = df.copy()
    out["gpus_per_instance"] = _numeric(df, "gpus_per_instance", file, required=True,
                                        strictly_positive=True, maximum=MAX_GPUS_PER_INSTANCE,
                                        hint="giving the number of GPUs (or accelerators) per instance.")
    out["on_demand_usd_per_hour"] = _numeric(df, "on_demand_usd_per_hour", file, required=True,
                                             strictly_positive=True, maximum=MAX_USD_PER_HOUR)
    out["spot_usd_per_hour"] = _numeric(
        df, "spot_usd_per_hour", file, required=False, strictly_positive=True, maximum=MAX_USD_PER_HOUR,
        hint="giving a positive spot price, or leaving it empty when the family has no spot market.")
    return out.set_index("family").sort_index()


def _validate_commitments(df: pd.DataFrame, fam: pd.DataFrame, file: str) -> pd.DataFrame:
    _no_empty(df, ["product", "provider", "kind", "term_months", "payment", "upfront_share",
                   "family", "source", "as_of"], file)
    _choice(df, "kind", KINDS, file)
    _choice(df, "payment", PAYMENTS, file)
    _dates(df, "as_of", file)
    unknown = ~df["family"].isin(fam.index)
    if unknown.any():
        r = unknown.idxmax()
        raise InputError(f"unknown family '{df['family'][r]}'.{did_you_mean(df['family'][r], fam.index)}",
                         file=file, row=int(r), column="family",
                         hint="adding the family to families.csv or correcting the key.")
    dup = df.duplicated(["product", "family"], keep="first")
    if dup.any():
        r = dup.idxmax()
        raise InputError(f"duplicate row for product '{df['product'][r]}' and family '{df['family'][r]}'",
                         file=file, row=int(r), column="product", hint="keeping one row per product and family.")
    out = df.copy()
    term = _numeric(df, "term_months", file, required=True, strictly_positive=True, maximum=MAX_TERM_MONTHS,
                    hint="giving the term in whole months (12 or 36).")
    if (term != term.round()).any():
        r = (term != term.round()).idxmax()
        raise InputError(f"{term[r]:g} is not a whole number of months", file=file, row=int(r),
                         column="term_months", hint="giving the term in whole months (12 or 36).")
    out["term_months"] = term.astype(int)
    share = _numeric(df, "upfront_share", file, required=True,
                     hint="giving the share paid upfront as a number from 0 to 1.")
    if (share > 1).any():
        r = (share > 1).idxmax()
        raise InputError(f"{share[r]:g} is above 1", file=file, row=int(r), column="upfront_share",
                         hint="giving the share paid upfront as a number from 0 to 1 (0.5, not 50).")
    pay = df["payment"]
    disagrees = (((pay == "no_upfront") & (share != 0)) | ((pay == "all_upfront") & (share != 1))
                 | ((pay == "partial_upfront") & ((share <= 0) | (share >= 1))))
    if disagrees.any():
        r = disagrees.idxmax()
        raise InputError(f"upfront_share {df['upfront_share'][r]} does not agree with payment '{pay[r]}'", file=file,
                         row=int(r), column="upfront_share",
                         hint="giving no_upfront 0, all_upfront 1 (the whole term paid on the purchase date) and "
                              "partial_upfront the share paid upfront, between 0 and 1 (about 0.5).")
    out["upfront_share"] = share
    rate = _numeric(df, "rate_usd_per_hour", file, required=True, strictly_positive=True)
    od = fam["on_demand_usd_per_hour"].reindex(df["family"]).to_numpy()
    above = rate.to_numpy() > od * (1 + 1e-9)
    if above.any():
        r = df.index[above.argmax()]
        raise InputError(f"commitment rate {rate[r]:g} is above the on-demand price "
                         f"{od[above.argmax()]:g} of {df['family'][r]}", file=file, row=int(r),
                         column="rate_usd_per_hour",
                         hint="checking the rate: it is the effective amortized $ per instance-hour.")
    out["rate_usd_per_hour"] = rate
    prov = fam["provider"].reindex(df["family"]).to_numpy()
    wrong = df["provider"].to_numpy() != prov
    if wrong.any():
        r = df.index[wrong.argmax()]
        raise InputError(f"provider '{df['provider'][r]}' does not match the family's provider "
                         f"'{prov[wrong.argmax()]}'", file=file, row=int(r), column="provider",
                         hint="covering only families of the product's own provider.")
    first_row = pd.Series(out.index, index=out.index).groupby(out["product"]).transform("first")
    for col in PRODUCT_COLUMNS:
        differs = out[col].ne(out.groupby("product")[col].transform("first"))
        if differs.any():
            r = differs.idxmax()
            raise InputError(f"product '{df['product'][r]}' has more than one {col}: {df[col][r]} here, "
                             f"{df[col][first_row[r]]} at row {first_row[r]}", file=file, row=int(r), column=col,
                             hint=f"giving every row of a product the same {col}, or naming the variants apart.")
    return out.sort_values(["product", "family"]).reset_index(drop=True)
