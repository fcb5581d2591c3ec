"""atomic_write_text (every file gpuladder writes: usage convert, catalog export, inventory,
plan -o) replaces a symlink's target, not the link, and writes a pipe in place instead of
putting a regular file where it was."""

from __future__ import annotations

import os
import threading

from gpuladder.pricing.catalog import atomic_write_text


def test_a_symlink_keeps_pointing_at_the_new_content(tmp_path):
    real = tmp_path / "usage-2026-11.csv"
    real.write_text("old\n")
    link = tmp_path / "usage.csv"
    link.symlink_to(real)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_named_pipe_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "out.pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    atomic_write_text(fifo, "a,b\n1,2\n")
    reader.join(timeout=10)
    assert got == ["a,b\n1,2\n"]
    assert not fifo.is_file() and fifo.exists()
