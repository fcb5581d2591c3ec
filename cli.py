"""gpuladder command line: a thin layer over the library (STYLE.md).

Each command parses its options, calls one library function and renders the result
with ``report/``. Data goes to stdout (or ``-o FILE``, written atomically), progress
and errors to stderr. Exit codes: 0 ok, 1 input/domain error, 2 usage error,
3 infeasible scenario.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from gpuladder import __version__
from gpuladder.errors import GpuladderError
from gpuladder.pricing.catalog import atomic_write_text


def handle_errors(fn):
    """Turn library errors into a message on stderr and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GpuladderError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def emit(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` atomically (temp file + rename), or to stdout."""
    if not text.endswith("\n"):
        text += "\n"
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        atomic_write_text(Path(output), text)
        click.echo(f"wrote {output}", err=True)


def output_options(formats=("table", "json")):
    """The shared --format / -o bundle."""

    def deco(fn):
        fn = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                          help="Write to FILE (atomically) instead of stdout.")(fn)
        fn = click.option("--format", "fmt", type=click.Choice(list(formats)), default=formats[0],
                          show_default=True, help="Output format.")(fn)
        return fn

    return deco


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpuladder")
def main():
    """Plan GPU cloud capacity purchases: committed floor, spot share, on-demand remainder.

    \b
    Example:
      gpuladder plan                      # bundled example scenario, embedded catalog
      gpuladder plan my.yaml --format json -o plan.json
    """


if __name__ == "__main__":  # pragma: no cover
    main()
