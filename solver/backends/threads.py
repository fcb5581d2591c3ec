"""Where solves run, so that an interrupt can stop them: the name of every thread a solve
runs on, whether one is still running, and the solver processes started (CBC).

HiGHS's main-thread solves run on highspy's own thread (``backends/highs.py``), SCIP's on
a thread of ours (``backends/ortools.py``), so that an interrupt can cancel them; the
product-set search runs candidates on threads (``in_background``, for ``solver/plan.py``);
all name them ``SOLVE_THREAD_NAME``. CBC runs as a child process (``backends/cbc.py``), registered here
so that an interrupt stops it instead of leaving it to run out its time limit."""

from __future__ import annotations

import shutil
import subprocess
import threading

SOLVE_THREAD_NAME = "gpuladder-solve"
INTERRUPT_POLL_S = 0.1      # how often a waiting main thread lets a signal's handler run
CANCEL_WAIT_S = 2.0         # how long an interrupted solve gets to stop
_CHILDREN: dict[subprocess.Popen, str] = {}   # solver process -> its scratch folder
_CHILDREN_LOCK = threading.Lock()


def solve_still_running() -> bool:
    """True while a solve thread is still running (after an interrupt): the process must
    then end with ``os._exit``, as a normal exit tears down HiGHS's worker threads under a
    running solve (C++ std::terminate, exit code -6: measured)."""
    return any(t.name == SOLVE_THREAD_NAME and t.is_alive() for t in threading.enumerate())


def wait_for_solve(start, stop) -> None:
    """Run a blocking solve ``start()`` so that Ctrl-C and SIGTERM reach the program at once:
    on the main thread it runs on a daemon thread while this one waits in short steps (a
    signal's Python handler runs only between the main thread's bytecodes); an interrupt
    calls ``stop()``, gives the solve CANCEL_WAIT_S to end and propagates. Off the main
    thread ``start()`` runs here. ``start()``'s exception is raised here."""
    if threading.current_thread() is not threading.main_thread():
        start()
        return
    box: dict = {}

    def run():
        try:
            start()
        except BaseException as exc:   # handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name=SOLVE_THREAD_NAME)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(INTERRUPT_POLL_S)
    except BaseException:
        stop()
        thread.join(CANCEL_WAIT_S)
        raise
    if "error" in box:
        raise box["error"]


def run_solver_process(args: list[str], folder: str) -> int:
    """Run a solver's command line to its end and return its exit code. The process and its
    scratch ``folder`` are registered until then: an interrupt on this thread stops the
    process (``stop_solver_processes``) before propagating, and one on the main thread
    while this runs on a candidate's thread stops it through ``handle_errors``."""
    child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN[child] = folder
    try:
        return child.wait()
    except BaseException:
        _stop(child)
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.pop(child, None)


def stop_solver_processes() -> int:
    """Stop every registered solver process and remove its scratch folder; the number
    stopped (an interrupt's clean-up)."""
    with _CHILDREN_LOCK:
        running = list(_CHILDREN.items())
        _CHILDREN.clear()
    for child, folder in running:
        _stop(child)
        shutil.rmtree(folder, ignore_errors=True)
    return len(running)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(CANCEL_WAIT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def in_background(fn, *args):
    """Start ``fn(*args)`` on another thread and return the function that waits for its result
    (raising its exception). The solvers release the GIL, so on two cores the product-set
    search's candidates solve side by side (bench/README.md, "plan_problem since the floor
    fix"). A daemon thread: Ctrl-C is not held up until its solve ends."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller, which re-raises it
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name=SOLVE_THREAD_NAME)
    thread.start()

    def result():
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]
    return result
