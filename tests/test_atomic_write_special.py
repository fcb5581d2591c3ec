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


def test_the_replaced_file_keeps_its_owner_and_group(tmp_path, monkeypatch):
    """A root cron job rewriting a team's inventory.csv left it owned by root (read-only to
    the team, mode 0644 kept). As root the owner is really kept; otherwise the call that
    keeps it is checked (a non-root process cannot own a file it did not create)."""
    target = tmp_path / "inventory.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(target, 4321, 8765)
    else:
        calls = []
        monkeypatch.setattr(os, "fchown", lambda fd, uid, gid: calls.append((uid, gid)))
        monkeypatch.setattr(os, "stat", _stat_owned_by(os.stat, target, 4321, 8765))
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n" and (os.stat(target).st_mode & 0o777) == 0o640
    if os.geteuid() == 0:
        assert (os.stat(target).st_uid, os.stat(target).st_gid) == (4321, 8765)
    else:
        assert calls[0] == (4321, 8765)


def test_an_owner_the_process_may_not_set_does_not_stop_the_write(tmp_path, monkeypatch):
    target = tmp_path / "plan.json"
    target.write_text("old\n")
    tried = []

    def refuse(fd, uid, gid):
        tried.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    monkeypatch.setattr(os, "stat", _stat_owned_by(os.stat, target, 4321, 8765))
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert tried == [(4321, 8765), (-1, 8765)]           # owner and group, then the group alone
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".plan.json.")]


def _stat_owned_by(real_stat, target, uid, gid):
    """os.stat that reports ``target`` as owned by uid:gid (other paths as they are)."""
    def fake(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        if os.fspath(path) != os.fspath(target):
            return st
        fields = list(st)
        fields[4], fields[5] = uid, gid
        return os.stat_result(fields)
    return fake
