"""Read a small CSV file as text, with spreadsheet row numbers, for validation at the edge.

Every value stays a stripped string (the caller parses and validates it, naming the row);
the index is the spreadsheet row number (header = row 1), blank lines counted and then
dropped; a missing file, an unreadable file or a missing column is an InputError.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gpuladder.errors import InputError


def read_text_csv(path, columns: list[str], *, optional: tuple[str, ...] = (), what: str = "file") -> pd.DataFrame:
    """``columns`` must be present; ``optional`` ones are kept when present."""
    file = Path(path)
    header = ",".join(columns)
    if not file.is_file():
        raise InputError(f"{what} not found", file=str(file),
                         hint=f"passing the path of a CSV with the header {header}.")
    try:
        df = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV ({exc})", file=str(file),
                         hint=f"saving it as UTF-8 CSV with the header {header}.") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"missing column '{missing[0]}'", file=str(file), column=missing[0],
                         hint=f"using the header {header}" + (f"[,{','.join(optional)}]." if optional else "."))
    keep = columns + [c for c in optional if c in df.columns]
    df = df[keep].apply(lambda s: s.str.strip())
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df[df.ne("").any(axis=1)]
