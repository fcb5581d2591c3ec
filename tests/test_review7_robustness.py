"""Review 7, gpuladder under a scheduler (cron, systemd, ``timeout``, Kubernetes) that
branches on exit codes: SIGTERM, the permissions of a rewritten ``-o`` file, re-plan
intervals too short to finish, the exit code of a bad ``--set`` and the bench script's
options."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.cli_io import EXIT_TERMINATED
from gpuladder.pricing.catalog import atomic_write_text
from gpuladder.solver.backtest import parse_replan_every

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "examples" / "steady-inference.yaml"
OLD_PLAN = '{"old": "plan, kept"}\n'


# ---------------------------------------------------------------- 1. SIGTERM

# Runs `gpuladder <args>` in a fresh interpreter, with one function made to wait: it
# touches the marker file, then sleeps (a plan that is still solving, or a write that has
# not been renamed yet), so the test sends SIGTERM at a known moment.
DRIVER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    marker, where, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]

    def stall():
        marker.write_text("ready")
        time.sleep(60)

    if where == "solve":
        import gpuladder.scenarios.runner as runner
        real_run = runner.run_scenario
        def slow_run(scenario):
            plan = real_run(scenario)
            stall()
            return plan
        runner.run_scenario = slow_run
    else:
        real_replace = os.replace
        def slow_replace(src, dst):
            stall()
            real_replace(src, dst)
        os.replace = slow_replace

    from gpuladder.cli import main
    main(args, prog_name="gpuladder")
""")


def terminate_midway(tmp_path: Path, where: str, args: list[str]) -> subprocess.CompletedProcess:
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(marker), where, *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("where", ["solve", "write"])
def test_sigterm_exits_143_and_leaves_no_partial_output(tmp_path, where):
    """A scheduler's timeout sends SIGTERM: the default action killed the process (return
    code -15, no message) and, during the write, left `.plan.json.XXXX` next to the output."""
    out = tmp_path / "plan.json"
    out.write_text(OLD_PLAN)
    res = terminate_midway(tmp_path, where, ["plan", str(EXAMPLE), "--format", "json", "-o", str(out)])
    assert res.returncode == EXIT_TERMINATED == 143, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("terminated (SIGTERM)") and "half-written" in last
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert out.read_text() == OLD_PLAN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker", "plan.json"]


def test_sigterm_handler_is_put_back_after_the_command():
    """In-process callers (tests, notebooks) keep their own SIGTERM disposition."""
    before = signal.getsignal(signal.SIGTERM)
    assert CliRunner().invoke(main, ["validate", str(EXAMPLE)]).exit_code == 0
    assert signal.getsignal(signal.SIGTERM) is before


# ---------------------------------------------------------------- 2. permissions of -o


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444])
def test_rewrite_keeps_the_existing_files_mode(tmp_path, mode):
    """The temp file + rename gave every rewritten file 0666 & ~umask: a 0600 file of
    prices or purchases became world-readable (0644)."""
    target = tmp_path / "plan.json"
    target.write_text("old\n")
    target.chmod(mode)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_rewrite_through_a_symlink_keeps_the_targets_mode(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old\n")
    real.chmod(0o600)
    (tmp_path / "link.json").symlink_to(real)
    atomic_write_text(tmp_path / "link.json", "new\n")
    assert (tmp_path / "link.json").is_symlink() and real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "new.json", "x\n")
        with open(tmp_path / "by_open.json", "w") as fh:
            fh.write("x\n")
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "by_open.json").stat().st_mode)
    assert expected == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == expected


# ---------------------------------------------------------------- 3. --replan-every


@pytest.mark.parametrize("text", ["1h", "12h", "23h", "23H", "30min", "3600s"])
def test_replan_every_under_a_day_is_refused(text):
    """`--replan-every 1h` was accepted: ~720 MIP solves over a month, hours of run time."""
    with pytest.raises(ValueError, match="at least one day"):
        parse_replan_every(text)


@pytest.mark.parametrize("text, step", [("24h", pd.Timedelta(days=1)), ("1D", pd.Timedelta(days=1)),
                                        ("36h", pd.Timedelta(hours=36)), ("86400s", pd.Timedelta(days=1)),
                                        ("1W", pd.DateOffset(weeks=1)), ("1M", pd.DateOffset(months=1))])
def test_replan_every_of_a_day_or_more_is_kept(text, step):
    assert parse_replan_every(text) == step


@pytest.mark.parametrize("value, words", [("1h", "at least one day"), ("30min", "at least one day"),
                                          ("0D", "not a re-plan interval"), ("-1D", "not a re-plan interval")])
def test_replan_every_bad_values_exit_like_other_bad_option_values(value, words):
    """Bad option values are click's usage errors (exit 2, the option named), as
    `--plan-months 0` and `--start soon` are."""
    res = CliRunner().invoke(main, ["backtest", str(EXAMPLE), "--replan-every", value])
    assert res.exit_code == 2, res.output
    assert "'--replan-every'" in res.output and words in res.output and "use e.g. 1M" in res.output
    for other in (["--plan-months", "0"], ["--start", "soon"]):
        assert CliRunner().invoke(main, ["backtest", str(EXAMPLE), *other]).exit_code == 2


# ---------------------------------------------------------------- 4. --set exit codes


def scenario_with(tmp_path: Path, start_text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {EXAMPLE}\nhorizon: {{start: {start_text}}}\n")
    return path


@pytest.mark.parametrize("item, words", [
    ("horizon.start=2027-13-01", "month must be in 1..12"),       # a date with no 13th month
    ("horizon.start=2027-02-30", "day is out of range"),
    ("horizon.nope=1", "unknown key 'nope'"),
    ("horizon.months=soon", "expected a whole number"),
])
def test_a_bad_set_key_or_value_is_bad_input_exit_1(item, words):
    """`--set horizon.start=2027-13-01` exited 2 (usage error) while an unknown key or a
    wrong type exited 1; a --set is scenario input, as the same line in a file is."""
    res = CliRunner().invoke(main, ["validate", str(EXAMPLE), "--set", item])
    assert res.exit_code == 1, res.output
    assert f"--set {item}" in res.output and words in res.output


def test_the_same_bad_date_in_a_file_exits_1(tmp_path):
    res = CliRunner().invoke(main, ["validate", str(scenario_with(tmp_path, "2027-13-01"))])
    assert res.exit_code == 1 and "month must be in 1..12" in res.output
    assert CliRunner().invoke(main, ["validate", str(scenario_with(tmp_path, "2027-01-01"))]).exit_code == 0


@pytest.mark.parametrize("item", ["horizon.start", "=2027-01-01", "horizon.start=[2027"])
def test_a_set_that_is_not_key_equals_yaml_stays_a_usage_error(item):
    """The shape of the option itself (no `=`, no key, an unclosed bracket: mostly shell
    quoting) is a command-line usage error, as click's own are."""
    assert CliRunner().invoke(main, ["validate", str(EXAMPLE), "--set", item]).exit_code == 2


# ---------------------------------------------------------------- 5. bench/backtest_traces.py


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "backtest_traces.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_bench_backtest_traces_help():
    """`--help` was taken as the traces folder: a traceback (FileNotFoundError)."""
    res = bench("--help")
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert res.stdout.startswith("usage: backtest_traces.py") and "--grid" in res.stdout


def test_bench_backtest_traces_unknown_option_and_missing_folder(tmp_path):
    res = bench("--nope")
    assert res.returncode == 2 and "unrecognized arguments: --nope" in res.stderr and "Traceback" not in res.stderr
    res = bench(str(tmp_path / "missing"))
    assert res.returncode == 2 and "missing" in res.stderr and "Traceback" not in res.stderr
