"""The command line's shared plumbing (cli.py): error handling and exit codes, atomic
output, and the -o / --format options."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from pathlib import Path

import click

from gpuladder.errors import GpuladderError, InputError
from gpuladder.pricing.catalog import atomic_write_text
from gpuladder.solver.backends.threads import solve_still_running, stop_solver_processes

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away
EXIT_INTERRUPTED = 130  # 128 + SIGINT: exit 1 would read as bad input to a script
EXIT_TERMINATED = 143   # 128 + SIGTERM: a scheduler's timeout or stop (systemd, timeout, Kubernetes)


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, as KeyboardInterrupt is, so that no ``except
    Exception`` swallows it and ``atomic_write_text`` removes its temporary file."""


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # a second SIGTERM must not cut the clean-up short
    raise Terminated()


def _on_sigterm_raise():
    """Make SIGTERM raise ``Terminated`` in the main thread; returns the handler to put
    back, or None when SIGTERM is left alone: off the main thread (Python cannot set a
    handler there), ignored by the parent on purpose, or handled by an embedding program."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        return None
    signal.signal(signal.SIGTERM, _raise_terminated)
    return previous


def _exit_interrupted(code: int) -> None:
    """Exit with ``code``; at once (``os._exit``, streams flushed) when an interrupted solve
    is still running on its thread (``solve_still_running``). Solver processes still
    running (CBC on a candidate's thread) are stopped first."""
    stop_solver_processes()
    if solve_still_running():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what is still
    buffered cannot fail again (the recipe of the Python docs for SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. click's test runner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def handle_errors(fn):
    """Turn library errors into a message on stderr and the error's exit code; a closed
    output pipe (``gpuladder ... | head -1``) ends quietly with exit code 141, an
    interrupt (Ctrl-C, SIGINT) with 130, a SIGTERM with 143 (no output file half-written
    either way; an existing -o file is left as it was)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = _on_sigterm_raise()
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            _stdout_to_devnull()
            sys.exit(EXIT_BROKEN_PIPE)
        except GpuladderError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: stopped; no output file is left half-written", err=True)
            _exit_interrupted(EXIT_INTERRUPTED)
        except Terminated:
            click.echo("terminated (SIGTERM): stopped; no output file is left half-written", err=True)
            _exit_interrupted(EXIT_TERMINATED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the traceback behind a switch
            if os.environ.get("GPULADDER_DEBUG"):
                raise
            click.echo(f"internal error (a bug in gpuladder, please report it): {type(exc).__name__}: {exc}\n"
                       "  Set GPULADDER_DEBUG=1 to see the traceback.", err=True)
            sys.exit(1)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def emit(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` (``atomic_write_text``: temp file + rename; a symlink's
    target is replaced, a device or pipe written in place), or to stdout."""
    if not text.endswith("\n"):
        text += "\n"
    if output in (None, "-"):
        try:
            _write_stdout(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            _stdout_to_devnull()
            raise InputError(f"cannot write the output: {exc.strerror or exc}",
                             hint="freeing space on the output's device or writing elsewhere with -o FILE.") from None
    else:
        atomic_write_text(Path(output), text)
        click.echo(f"wrote {output}", err=True)


def _write_stdout(text: str) -> None:
    """``text`` to stdout, all of it or an error. A reader that leaves while a long output is
    being written (``gpuladder catalog show | head -1``) cuts one write short, and Python's
    stdout took the short count as done: the rest was dropped and the command exited 0
    (measured: 73,728 of 272,566 bytes). Written to the file descriptor in a loop, the next
    write fails with EPIPE, and the command exits 141 as a cut pipe should."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):   # not a real file (e.g. click's test runner)
        click.echo(text, nl=False)
        return
    sys.stdout.flush()
    view = memoryview(text.encode(sys.stdout.encoding or "utf-8", sys.stdout.errors or "strict"))
    while view:
        view = view[os.write(fd, view):]


def writable_file(ctx, param, value):
    """-o FILE: its folder must exist and be writable (checked before any work is done)."""
    if value in (None, "-"):
        return value
    folder = Path(value).expanduser().parent
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(f"'{folder}' is a file, not a folder; choose another path")
    if not folder.is_dir():
        raise click.BadParameter(f"the folder '{folder}' does not exist; create it first (mkdir -p {folder}) "
                                 "or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write into the folder '{folder}'; choose a folder you can write to")
    return value


def writable_folder(ctx, param, value):
    """An output FOLDER: created if missing, so its nearest existing ancestor must be a
    writable folder (checked before any work is done)."""
    if value is None:
        return value
    here = Path(value).expanduser().absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise click.BadParameter(f"'{here}' is a file, so the folder '{value}' cannot be created there")
    if not os.access(here, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write into the folder '{here}'; choose a folder you can write to")
    return value


FORMAT_BY_EXTENSION = {".json": "json", ".csv": "csv", ".md": "md", ".html": "html"}


def format_for_output(fmt: str | None, output: str | None, formats) -> tuple[str, str | None]:
    """(the format to write, a note for stderr or None). No --format: the -o file's
    extension (.json, .csv, .md, .html) when the command writes that format, else the
    command's first format (table). An explicit --format is kept; a note says when the -o
    file's extension names another format."""
    named = None if output in (None, "-") else FORMAT_BY_EXTENSION.get(Path(output).suffix.lower())
    if fmt is None:
        if named is None:
            return formats[0], None
        if named in formats:
            return named, None
        return formats[0], (f"{output}: this command does not write {named}; writing {formats[0]} "
                            f"(--format: {', '.join(formats)})")
    if named is not None and named != fmt:
        return fmt, f"writing {fmt} (--format {fmt}) to {output}, whose extension says {named}"
    return fmt, None


def output_options(formats=("table", "json")):
    """The shared --format / -o bundle. Without --format, the -o file's extension picks the
    format (``format_for_output``); the command receives the format to write in ``fmt``."""
    formats = tuple(formats)
    inferred = [f".{f}" for f in formats if f in FORMAT_BY_EXTENSION.values()]

    def deco(fn):
        @functools.wraps(fn)
        def resolved(*args, fmt=None, output=None, **kwargs):
            fmt, note = format_for_output(fmt, output, formats)
            if note:
                click.echo(f"note: {note}", err=True)
            return fn(*args, fmt=fmt, output=output, **kwargs)

        by_ext = f"-o FILE's extension ({', '.join(inferred)}), else " if inferred else ""
        resolved = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                                callback=writable_file, help="Write to FILE (atomically) instead of stdout.")(resolved)
        resolved = click.option("--format", "fmt", type=click.Choice(list(formats)), default=None,
                                help=f"Output format [default: {by_ext}{formats[0]}].")(resolved)
        return resolved

    return deco
