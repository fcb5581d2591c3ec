"""Review 6, gpuladder driven by an unattended script (cron): ``-o`` targets a script
points at (a FIFO, a symlink), and the exit code of an interrupted run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gpuladder.cli import main

HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "ours"
CUR = str(OURS / "cur_legacy_ours.csv")
CAT = str(OURS / "catalog")
HEADER = "id,product,family,quantity,start,end\n"


def from_export(out) -> object:
    return CliRunner().invoke(main, ["inventory", "from-export", CUR, "--catalog", CAT, "-o", str(out)])


def test_output_to_a_fifo_is_written_through_not_replaced(tmp_path):
    """`-o /dev/full`, `-o /dev/stdout` or a named pipe: temp file + rename put a regular
    file in place of the device (as root, /dev/full itself became a 5 kB JSON file)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        res = from_export(fifo)
        got = b""
        while chunk := os.read(reader, 65536):
            got += chunk
    finally:
        os.close(reader)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got.decode().startswith(HEADER) and "ri-cur-ours-1" in got.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_output_through_a_symlink_updates_the_file_it_points_to(tmp_path):
    """plan.json -> plans/current.json: the rename replaced the link by a file, so the
    file the link points to kept last month's content without a word."""
    (tmp_path / "plans").mkdir()
    real = tmp_path / "plans" / "current.csv"
    real.write_text("last month\n")
    link = tmp_path / "inventory.csv"
    link.symlink_to(real)
    res = from_export(link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith(HEADER) and "ri-cur-ours-1" in real.read_text()
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["current.csv"]


def test_a_dangling_symlink_is_written_at_its_target(tmp_path):
    link = tmp_path / "inventory.csv"
    link.symlink_to(tmp_path / "new.csv")
    res = from_export(link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and (tmp_path / "new.csv").read_text().startswith(HEADER)


def test_interrupt_exits_130_not_the_bad_input_code(tmp_path, monkeypatch):
    """Ctrl-C / SIGINT mid-run gave click's 'Aborted!' and exit 1, which DESIGN section 7
    reserves for bad input: a cron wrapper told the operator to fix the inputs."""
    import gpuladder.usage.inventory_export as ie

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ie, "commitments_from_export", interrupted)
    out = tmp_path / "inv.csv"
    out.write_text("previous\n")
    res = from_export(out)
    assert res.exit_code == 130
    assert "interrupted" in res.stderr and "Aborted" not in res.stderr
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["inv.csv"]


@pytest.mark.parametrize("target", ["fifo", "file"])
def test_a_failed_write_through_keeps_the_input_error_contract(tmp_path, target, monkeypatch):
    """A special file that refuses the bytes (e.g. /dev/full: ENOSPC) is exit 1 naming the
    output, never an internal error; a regular file still goes through temp + rename."""
    import errno

    import gpuladder.cli_io as cli_io

    path = tmp_path / "out"
    if target == "fifo":
        os.mkfifo(path)
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

        class Full:
            def __init__(self, *args, **kwargs):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def write(self, text):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(cli_io, "open", Full, raising=False)
        try:
            res = from_export(path)
        finally:
            os.close(reader)
        assert res.exit_code == 1
        assert "cannot write the output: No space left on device" in res.stderr
        assert "internal error" not in res.stderr and stat.S_ISFIFO(os.lstat(path).st_mode)
    else:
        path.write_text("old\n")
        res = from_export(path)
        assert res.exit_code == 0 and path.read_text().startswith(HEADER)
