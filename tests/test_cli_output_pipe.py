"""Writing the output can fail: the reader of a pipe goes away (``gpuladder ... | head -1``)
or the device is full (``>/dev/full``). Neither is a bug in gpuladder: a closed pipe ends
quietly with exit code 141 (128 + SIGPIPE), a failed write says so plainly with exit 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "gpuladder.cli"]


def test_closed_pipe_ends_quietly_with_141():
    """The reading end is closed before gpuladder writes: its first write fails with EPIPE."""
    proc = subprocess.Popen(CLI + ["validate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "internal error" not in err and "Broken" not in err and "Exception ignored" not in err


def test_pipe_into_head_has_no_internal_error():
    """The literal shell case; the whole report may still fit in the pipe (exit 0), otherwise 141."""
    done = subprocess.run(["bash", "-c", " ".join(CLI) + " validate | head -1; exit ${PIPESTATUS[0]}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 141)
    assert done.stdout.startswith("scenario 'default'") and done.stdout.count("\n") == 1
    assert "internal error" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_reader_leaving_mid_output_is_a_closed_pipe_not_a_success():
    """The catalog table (about 270 KB) is more than a pipe holds (64 KB): the reader takes a
    line and leaves while gpuladder is still writing. Python's stdout took the short write as
    done, dropped the rest and exited 0 (a script could not tell a cut output from a whole
    one); now the next write fails and the exit is 141."""
    proc = subprocess.Popen(CLI + ["catalog", "show"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"family")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "internal error" not in err and "Exception ignored" not in err


def test_the_whole_output_reaches_a_reader_that_stays():
    done = subprocess.run(CLI + ["catalog", "show", "--format", "csv"], capture_output=True, timeout=120)
    assert done.returncode == 0
    assert done.stdout.count(b"\n") == 2220 + 1   # the embedded catalog's families and the header


@pytest.mark.parametrize("args", [["validate"], ["catalog", "show", "--format", "csv"]])
def test_full_device_is_an_input_error_not_a_bug(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run(CLI + args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert "error: cannot write the output: No space left on device" in done.stderr
    assert "internal error" not in done.stderr and "Exception ignored" not in done.stderr
