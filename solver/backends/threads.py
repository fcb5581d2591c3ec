"""The name of every thread a solve runs on, and whether one is still running.

HiGHS's main-thread solves run on highspy's own thread (``backends/highs.py``, so that an
interrupt can cancel them) and the product-set search runs candidates on threads
(``solver/plan.py``); both name them ``SOLVE_THREAD_NAME``."""

from __future__ import annotations

import threading

SOLVE_THREAD_NAME = "gpuladder-solve"


def solve_still_running() -> bool:
    """True while a solve thread is still running (after an interrupt): the process must
    then end with ``os._exit``, as a normal exit tears down HiGHS's worker threads under a
    running solve (C++ std::terminate, exit code -6: measured)."""
    return any(t.name == SOLVE_THREAD_NAME and t.is_alive() for t in threading.enumerate())
