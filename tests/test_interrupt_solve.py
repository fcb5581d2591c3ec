"""Ctrl-C and SIGTERM during a solve: the command stops at once (a Kubernetes or systemd
stop gives 30 s or less before SIGKILL), with its exit code, and not with a C++ abort from
HiGHS's threads torn down under a running solve (exit -6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from gpuladder.solver.backends import highs

# market_split (tests/model_instances.py): tiny to build, and branch and bound needs far
# longer than this test waits for it: a solve that only ends on its time limit.
CHILD = textwrap.dedent("""
    import signal
    import sys
    # as in a terminal: a shell without job control starts background jobs with SIGINT
    # ignored, and a test run from one would see no Ctrl-C at all
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, sys.argv[2])
    from model_instances import market_split
    from gpuladder.cli_io import handle_errors
    from gpuladder.solver.backends import solve
    from gpuladder.solver.lp import SolverOptions
    from gpuladder.solver.plan import _in_background

    options = SolverOptions(backend=sys.argv[3], time_limit_s=120, mip_gap=0.0)
    background = sys.argv[1] == "background"

    @handle_errors
    def main():
        if background:
            _in_background(solve, market_split(1), options)
        print("solving", flush=True)
        solve(market_split(0), options)
        print("finished", flush=True)

    main()
""")


def _run_child(mode: str, sig: int, backend: str = "highs", scratch: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **({"TMPDIR": str(scratch)} if scratch else {}))
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(Path(__file__).parent), backend],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "solving"
        threading.Event().wait(1.0)   # into the branch and bound
        child.send_signal(sig)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize("mode, sig, code, said", [
    ("alone", signal.SIGTERM, 143, "terminated (SIGTERM)"),
    ("alone", signal.SIGINT, 130, "interrupted"),
    ("background", signal.SIGTERM, 143, "terminated (SIGTERM)"),
])
def test_a_signal_stops_a_running_solve_with_its_exit_code(mode, sig, code, said):
    """The old code ran HiGHS on the main thread, where Python runs a signal's handler only
    after the solve returns (here: its 120 s time limit; the 20 s wait above fails); a solve
    left on another thread at exit aborted the process (-6)."""
    done = _run_child(mode, sig)
    assert done.returncode == code, done.stderr
    assert said in done.stderr
    assert "finished" not in done.stdout
    assert "terminate called" not in done.stderr


def _processes_naming(text: str) -> list[str]:
    """The command lines of the running processes that contain ``text`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:   # ended meanwhile
            continue
        line = b" ".join(args).decode(errors="replace")
        if text in line:
            found.append(line)
    return found


@pytest.mark.parametrize("backend, mode, sig, code", [
    ("cbc", "alone", signal.SIGTERM, 143),
    ("cbc", "alone", signal.SIGINT, 130),
    ("cbc", "background", signal.SIGTERM, 143),
    ("ortools", "alone", signal.SIGINT, 130),
    ("ortools", "alone", signal.SIGTERM, 143),
])
def test_cbc_and_scip_stop_too(backend, mode, sig, code, tmp_path):
    """CBC runs as a child process: PuLP's call left it running out its time limit after
    the program had exited, with its files in the temp folder (here TMPDIR). SCIP caught
    Ctrl-C itself, printed "pressed CTRL-C" to stdout and returned its best plan, so the
    program went on and exited 0; a SIGTERM waited for the solve's end (50 s measured)."""
    done = _run_child(mode, sig, backend, tmp_path)
    assert done.returncode == code, done.stderr
    assert "finished" not in done.stdout
    assert "CTRL-C" not in done.stdout
    assert _processes_naming(str(tmp_path)) == []
    assert not list(tmp_path.glob("gpuladder-cbc-*"))


class _FakeHighs:
    """What _run asks of a highspy.Highs, recording the calls."""

    def __init__(self, waits_before_interrupt: int):
        self.calls, self.left = [], waits_before_interrupt
        self.HandleUserInterrupt = False

    def startSolve(self):
        self.calls.append("start")
        return threading.Thread()

    def wait(self, timeout):
        self.calls.append("wait")
        if "cancel" in self.calls:
            return (True, None)
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return (False, None)

    def cancelSolve(self):
        self.calls.append("cancel")

    def run(self):
        self.calls.append("run")


def test_an_interrupt_while_waiting_cancels_the_solve_and_propagates():
    h = _FakeHighs(waits_before_interrupt=2)
    with pytest.raises(KeyboardInterrupt):
        highs._run(h)
    assert h.HandleUserInterrupt is True
    assert h.calls == ["start", "wait", "wait", "wait", "cancel", "wait"]


def test_off_the_main_thread_the_solve_runs_in_place():
    """Python sets signal handlers on the main thread only, and the product-set search's
    candidates already wait on their threads: there, h.run() as before."""
    h = _FakeHighs(waits_before_interrupt=0)
    worker = threading.Thread(target=highs._run, args=(h,))
    worker.start()
    worker.join()
    assert h.calls == ["run"]
