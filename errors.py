"""One small error hierarchy; each error carries the exit code of DESIGN.md section 7.

Exit codes: 0 ok, 1 input or domain error, 2 usage error (click), 3 infeasible scenario.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_INFEASIBLE = 3


class GpuladderError(Exception):
    """Base class: a message for the user and an exit code."""

    exit_code = EXIT_INPUT


class InputError(GpuladderError):
    """Bad input: names the file, the row and the column, and how to fix it.

    ``row`` is the spreadsheet row number: the header is row 1, the first data row is
    row 2 (for a CSV without quoted line breaks, that is also the line number);
    ``None`` when the problem is the whole file or a whole column.
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, hint: str | None = None):
        self.file, self.row, self.column, self.hint = file, row, column, hint
        self.detail = message
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        text = (", ".join(where) + ": " if where else "") + message
        if hint:
            text += f"\n  You can fix this by {hint}"
        super().__init__(text)


class DomainError(GpuladderError):
    """Valid input that describes something the tool cannot plan (exit 1)."""


class InfeasibleError(GpuladderError):
    """The scenario's constraints admit no plan; names the constraint groups to relax."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, groups: Iterable[str], detail: str = ""):
        self.groups = sorted(set(groups))
        self.detail = detail
        msg = "the scenario is infeasible"
        if self.groups:
            msg += "; relax " + ", ".join(self.groups)
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class ModelMismatchError(GpuladderError):
    """The model's objective and the billing simulator disagree beyond tolerance."""


def did_you_mean(word: str, choices: Iterable[str], n: int = 1) -> str:
    """' Did you mean 'x'?' or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
