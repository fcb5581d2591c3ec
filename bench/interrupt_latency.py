"""How fast `gpuladder` stops when a solve is interrupted, per backend and signal: a
market-split MIP (tests/model_instances.py: branch and bound outlasts the wait) solved
in a child process under ``handle_errors``, the signal sent after WAIT_S, the time to the
child's exit, its exit code, and the solver processes (CBC) still running afterwards.

Run: python bench/interrupt_latency.py        (about 30 s)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WAIT_S = 3.0
CHILD = textwrap.dedent("""
    import signal
    import sys
    signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a terminal (see the tests)
    sys.path.insert(0, sys.argv[1])
    from model_instances import market_split
    from gpuladder.cli_io import handle_errors
    from gpuladder.solver.backends import solve
    from gpuladder.solver.lp import SolverOptions

    @handle_errors
    def main():
        print("solving", flush=True)
        solve(market_split(0), SolverOptions(backend=sys.argv[2], time_limit_s=120, mip_gap=0.0))
        print("finished", flush=True)

    main()
""")


def left_running(text: str) -> int:
    """Processes whose command line names ``text`` (Linux /proc)."""
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            count += text in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            pass
    return count


def measure(backend: str, sig: signal.Signals) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(Path(__file__).parents[1] / "tests"), backend],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, TMPDIR=scratch))
        child.stdout.readline()
        time.sleep(WAIT_S)
        t0 = time.perf_counter()
        child.send_signal(sig)
        out, _ = child.communicate(timeout=180)
        seconds = time.perf_counter() - t0
        time.sleep(0.5)
        orphans = left_running(scratch)
    finished = "yes" if "finished" in out else "no"
    return f"| {backend} | {sig.name} | {seconds:.2f} | {child.returncode} | {finished} | {orphans} |"


def main() -> None:
    print("| backend | signal | seconds to exit | exit code | solve ran to its end | solver processes left |")
    print("|---|---|---:|---:|---|---:|")
    for backend in ("highs", "cbc", "ortools"):
        for sig in (signal.SIGINT, signal.SIGTERM):
            print(measure(backend, sig), flush=True)


if __name__ == "__main__":
    main()
