"""The shape of a CSV export, checked before its rows are trusted.

Exports joined line by line (``cat jan.csv feb.csv``) repeat their header inside the file.
A repeated header identical in the columns read is skipped (counted as a skipped row). A
header of another column set means the rows after it are read in the first header's
places: one with another number of fields (CUR columns change from month to month) would
have every row after it skipped as malformed, one with the same columns in another order
would be misread silently. Both are refused, naming the row.

An export without its end column whose rows all start at midnight is a daily export that,
read as hourly, would put each day's usage into its first hour: refused too."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from gpuladder.errors import InputError

if TYPE_CHECKING:
    from gpuladder.usage.export import ExportRead

REPEATED_HEADER = "repeated header row (exports joined; not usage)"
_HINT = ("joining the exports by column name rather than line by line, e.g. with DuckDB: COPY (SELECT * FROM "
         "read_csv(['jan.csv', 'feb.csv'], union_by_name = true, all_varchar = true)) TO 'q.csv' (HEADER).")


class JoinedHeaders:
    """Finds the header rows of a CSV export inside its data."""

    def __init__(self, file: str, header: tuple[str, ...]):
        self.file = file
        self.lower = {c.strip().lower() for c in header}
        self.lower_array = pa.array(sorted(self.lower))
        self.repeated = 0
        self.examples: list[tuple[int | None, str]] = []

    def is_header_line(self, text: str) -> bool:
        """A malformed line (a wrong number of fields) that is a header: most fields are names."""
        try:
            fields = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            return False
        named = sum(f.strip().lower() in self.lower for f in fields)
        return named >= max(2, len(fields) // 2)

    def foreign(self, row: int | None, fields: int, expected: int) -> InputError:
        return InputError(f"the header of another export ({fields} fields; the first header has {expected}): "
                          "exports with other columns were joined line by line, so the rows after it would be "
                          "read in the first header's places", file=self.file, row=row, hint=_HINT)

    def find(self, table: pa.Table, offset: int) -> list[int]:
        """Indices of ``table``'s rows that repeat the header (counted); InputError for a
        header whose columns are in other places. ``offset``: the table's first record."""
        if not table.num_rows or not table.num_columns:
            return []
        hits = [pc.cast(pc.fill_null(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(col)),
                                              value_set=self.lower_array), False), pa.int32())
                for col in table.columns[:2]]
        if not any(pc.any(pc.cast(h, pa.bool_())).as_py() for h in hits):
            return []   # a header row has a name in its first two columns read (most rows: none)
        for col in table.columns[2:]:
            hits.append(pc.cast(pc.fill_null(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(col)),
                                                      value_set=self.lower_array), False), pa.int32()))
        total = hits[0]
        for h in hits[1:]:
            total = pc.add(total, h)
        header = pc.greater_equal(total, min(2, table.num_columns))
        if not pc.any(header).as_py():
            return []
        rows = pc.indices_nonzero(header).to_pylist()
        names = [c.split("#", 1)[0] for c in table.column_names]
        for i in rows:
            for col, name in zip(table.column_names, names):
                value = table[col][i].as_py()
                if (value or "").strip().lower() != name.strip().lower():
                    raise InputError(f"the header of another export ('{value}' in this column): exports whose "
                                     "columns are in other places were joined line by line, so the rows after "
                                     "it would be misread", file=self.file, row=offset + i + 2, column=name,
                                     hint=_HINT)
        self.repeated += len(rows)
        self.examples += [(offset + i + 2, "") for i in rows][:max(0, 3 - len(self.examples))]
        return rows


def refuse_daily_without_end(read: ExportRead, end_column: str) -> ExportRead:
    """Without an end column each row is read as one hour. An export whose usage rows all
    start at midnight, on two days or more, is a daily one: read so, each day's usage
    would fall into its first hour. ``read`` is returned when it is not such an export."""
    hours = read.present_hours
    if len(hours) >= 2 and (hours.hour == 0).all():
        raise InputError(f"the export has no {end_column} column and every usage row starts at midnight "
                         f"({len(hours)} days): a daily export read as hourly would put each day's usage "
                         "in its first hour", file=read.file, column=end_column,
                         hint=f"exporting the file with its {end_column} column (or an hourly export).")
    return read
