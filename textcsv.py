"""Read a small CSV file as text, with spreadsheet row numbers, for validation at the edge.

Every value stays a stripped string (the caller parses and validates it, naming the row);
the index is the spreadsheet row number (header = row 1), blank lines counted and then
dropped; a missing file, an unreadable file or a missing column is an InputError.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pandas as pd

from gpuladder.errors import InputError


def read_text_csv(path, columns: list[str], *, optional: tuple[str, ...] = (), what: str = "file") -> pd.DataFrame:
    """``columns`` must be present; ``optional`` ones are kept when present."""
    file = Path(path)
    header = ",".join(columns)
    if file.is_dir():
        article = "an" if what[:1] in "aeiou" else "a"
        raise InputError(f"is a folder, not {article} {what}", file=str(file),
                         hint=f"passing the path of a CSV with the header {header}.")
    if not file.is_file():
        raise InputError(f"{what} not found", file=str(file),
                         hint=f"passing the path of a CSV with the header {header}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False,
                             index_col=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(file), row=_first_line(file, _not_utf8),
                         hint=f"saving it as UTF-8 CSV with the header {header}.") from None
    except pd.errors.ParserWarning:
        raise _ragged(file, header) from None
    except pd.errors.ParserError as exc:
        raise _ragged(file, header, str(exc)) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty (no header row)", file=str(file),
                         hint=f"writing the header {header} and one row per record.") from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=str(file)) from None
    df.columns = [str(c).strip() for c in df.columns]
    names = list(df.columns)
    for c in names:          # pandas renames a repeated header name to name.1, name.2 ...
        base, dot, n = c.rpartition(".")
        if dot and n.isdigit() and base in names and base in columns + list(optional):
            raise InputError(f"column '{base}' appears more than once in the header", file=str(file), row=1,
                             column=base, hint=f"keeping one '{base}' column (the header is {header}).")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"missing column '{missing[0]}'", file=str(file), column=missing[0],
                         hint=f"using the header {header}" + (f"[,{','.join(optional)}]." if optional else "."))
    keep = columns + [c for c in optional if c in df.columns]
    df = df[keep].apply(lambda s: s.str.strip())
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df[df.ne("").any(axis=1)]


def _not_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _first_line(file: Path, bad) -> int | None:
    """The 1-based number of the first line of ``file`` for which ``bad(line)`` is true."""
    with open(file, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if bad(line):
                return number
    return None


def _ragged(file: Path, header: str, detail: str = "") -> InputError:
    """A row with more fields than the header (pandas would shift or drop its values), or a
    quote that never closes (pandas counts its row from 0 after the header)."""
    with open(file, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        names = next(rows, [])
        width, number, row = len(names), 1, names
        for number, row in enumerate(rows, start=2):
            if len(row) > width:
                return InputError(f"{len(row)} fields, but the header has {width}", file=str(file),
                                  row=rows.line_num, hint="removing the extra commas (or quoting a value that "
                                                          f"contains a comma) so every row matches {header}.")
    if "EOF inside string" in detail:   # the last record's last value opens a quote that never closes
        column = names[len(row) - 1] if 0 < len(row) <= width else None
        return InputError('a quote (") opens a value that is never closed: the rest of the file is read as '
                          "that value", file=str(file), row=number, column=column,
                          hint='removing the quote, or closing it; a value that holds a quote is written in quotes '
                               'with the quote doubled ("a ""b"" c").')
    return InputError(f"not a readable CSV ({detail.strip()})", file=str(file),
                      hint=f"saving it as UTF-8 CSV with the header {header}.")
