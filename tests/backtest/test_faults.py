"""Faults a real desk runs into: two runs on one warehouse at once, a run killed mid-way,
a warehouse locked for too long. These start real `sqlorch` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

SQLORCH = [sys.executable, "-m", "sqlorch"]

SLOW_STRATEGY = '''
import time
from sqlorch import Signal

class Slow:
    """Buys everything on the first bar, then sleeps on every bar so the run takes a while."""
    def __init__(self, pause=0.01):
        self.pause = pause
    def on_bar(self, ctx):
        time.sleep(self.pause)
        if ctx.t == 0:
            return [Signal.buy(s, 1 / len(ctx.symbols)) for s in ctx.symbols]
'''


def write_config(directory: Path, name: str, strategy: str, params: str = "") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(f"""
        [data]
        synthetic = {{ symbols = 4, years = 1, seed = 3 }}

        [backtest]
        warehouse = "w.duckdb"
        log_dir = "logs"

        [[strategies]]
        class = "{strategy}"
        weight = "0.5"
        params = {{ {params} }}

        [[strategies]]
        class = "momentum"
        weight = "0.5"
    """))
    return path


def sqlorch(cwd: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([*SQLORCH, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def read(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Query the file read-only, waiting while a writer holds its lock."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                return con.execute(sql, params or []).fetchall()
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def statuses(warehouse: Path) -> dict[str, str]:
    return dict(read(warehouse, "SELECT run_id, status FROM runs"))


def hold_lock(warehouse: Path, seconds: float) -> subprocess.Popen:
    """Another process that opens the warehouse for writing and keeps it for `seconds`."""
    code = (f"import duckdb, time, sys; c = duckdb.connect({str(warehouse)!r}); "
            f"print('locked', flush=True); time.sleep({seconds})")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "slowstrat.py").write_text(SLOW_STRATEGY)
    return tmp_path


def test_two_runs_at_once_both_finish(workdir: Path) -> None:
    config = write_config(workdir, "a.toml", "buy_and_hold")
    first = sqlorch(workdir, "run", str(config), "--quiet")
    second = sqlorch(workdir, "run", str(config), "--quiet")
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "portfolio" in out
    assert sorted(statuses(workdir / "w.duckdb").values()) == ["completed", "completed"]


def test_second_run_waits_for_the_lock_and_says_so(workdir: Path) -> None:
    config = write_config(workdir, "a.toml", "buy_and_hold")
    subprocess.run([*SQLORCH, "run", str(config), "--quiet"], cwd=workdir, check=True, capture_output=True)
    holder = hold_lock(workdir / "w.duckdb", 2.0)
    started = time.monotonic()
    done = subprocess.run([*SQLORCH, "run", str(config), "--quiet"], cwd=workdir, capture_output=True, text=True)
    holder.wait()
    assert done.returncode == 0, done.stderr
    assert "waiting for the warehouse" in done.stderr and "locked by process" in done.stderr
    assert time.monotonic() - started >= 1.0
    assert sorted(statuses(workdir / "w.duckdb").values()) == ["completed", "completed"]


def test_lock_timeout_gives_a_clear_message(workdir: Path) -> None:
    config = write_config(workdir, "a.toml", "buy_and_hold")
    subprocess.run([*SQLORCH, "run", str(config), "--quiet"], cwd=workdir, check=True, capture_output=True)
    holder = hold_lock(workdir / "w.duckdb", 4.0)
    try:
        done = subprocess.run([*SQLORCH, "run", str(config), "--quiet", "--lock-timeout", "0.5"],
                              cwd=workdir, capture_output=True, text=True)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert "still locked by process" in done.stderr and "--lock-timeout" in done.stderr
    assert "Traceback" not in done.stderr


def test_killed_run_is_incomplete_and_earlier_runs_intact(workdir: Path) -> None:
    warehouse = workdir / "w.duckdb"
    fast = write_config(workdir, "fast.toml", "buy_and_hold")
    slow = write_config(workdir, "slow.toml", "slowstrat:Slow", "pause = 0.05")
    subprocess.run([*SQLORCH, "run", str(fast), "--quiet"], cwd=workdir, check=True, capture_output=True)
    (earlier,) = statuses(warehouse)
    comparison = "SELECT * FROM comparison WHERE run_id = ? ORDER BY strategy_id"
    before = read(warehouse, comparison, [earlier])

    victim = sqlorch(workdir, "run", str(slow), "--quiet")
    deadline = time.monotonic() + 60
    while "running" not in statuses(warehouse).values():  # registered, now stepping
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()

    # the file opens, the earlier run is untouched, the killed run never looks complete
    assert read(warehouse, comparison, [earlier]) == before
    killed = next(r for r, s in statuses(warehouse).items() if r != earlier)
    assert statuses(warehouse)[killed] == "running"
    listing = subprocess.run([*SQLORCH, "runs", "--warehouse", str(warehouse)], capture_output=True, text=True)
    assert listing.returncode == 0
    line = next(l for l in listing.stdout.splitlines() if l.startswith(killed))
    assert "incomplete" in line
    # the next writer records it as incomplete for SQL users too
    subprocess.run([*SQLORCH, "run", str(fast), "--quiet"], cwd=workdir, check=True, capture_output=True)
    assert statuses(warehouse)[killed] == "incomplete"


def test_kills_at_random_moments_never_leave_a_false_completed_run(workdir: Path) -> None:
    """Kill runs at several moments (registering, stepping, writing): every run the file says
    is completed has all its bars and its metrics."""
    warehouse = workdir / "w.duckdb"
    config = write_config(workdir, "slow.toml", "slowstrat:Slow", "pause = 0.002")
    for delay in (0.3, 0.8, 1.3, 1.8, 2.5):
        victim = sqlorch(workdir, "run", str(config), "--quiet")
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        completed = con.execute("SELECT run_id, bars_processed, bar_count FROM runs WHERE status = 'completed'").fetchall()
        for run_id, processed, total in completed:
            assert processed == total
            rows = con.execute("SELECT count(*) FROM comparison WHERE run_id = ?", [run_id]).fetchone()[0]
            assert rows == 3
        others = con.execute("SELECT status FROM runs WHERE status <> 'completed'").fetchall()
    assert all(status in ("running", "incomplete") for (status,) in others)


EXITING_STRATEGY = '''
import os

class Quitter:
    """Ends the whole process at bar 3, as a strategy calling os._exit would."""
    def on_bar(self, ctx):
        if ctx.t == 3:
            os._exit(7)
'''


def test_a_strategy_calling_os_exit_leaves_the_run_incomplete_never_missing(workdir: Path) -> None:
    (workdir / "quitter.py").write_text(EXITING_STRATEGY)
    config = write_config(workdir, "q.toml", "quitter:Quitter")
    done = subprocess.run([*SQLORCH, "run", str(config), "--quiet"], cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 7
    (run_id,) = statuses(workdir / "w.duckdb")
    listing = subprocess.run([*SQLORCH, "runs", "--warehouse", "w.duckdb"], cwd=workdir, capture_output=True,
                             text=True)
    assert "incomplete" in next(line for line in listing.stdout.splitlines() if line.startswith(run_id))


def test_ctrl_c_stops_the_run_and_leaves_it_failed(workdir: Path) -> None:
    config = write_config(workdir, "slow.toml", "slowstrat:Slow", "pause = 0.05")
    victim = sqlorch(workdir, "run", str(config), "--quiet")
    deadline = time.monotonic() + 60
    while "running" not in statuses(workdir / "w.duckdb").values():
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.1)
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=30)
    # 130, or ended by the signal itself (-2: Python re-raises SIGINT at exit when the interrupt
    # reaches it late, as on a loaded machine); a shell shows $? = 130 either way
    assert victim.returncode in (130, -signal.SIGINT) and "Interrupted." in err and "Traceback" not in err
    assert list(statuses(workdir / "w.duckdb").values()) == ["failed"]
    (log,) = (workdir / "logs").iterdir()
    assert '"event":"orchestrator.backtest_failed"' in log.read_text().splitlines()[-1]


def _file_size_limit(size: int):
    """For a child process: writes past `size` bytes fail with EFBIG, as on a full disk."""
    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.parametrize("size", [300_000, 1_000_000])
def test_a_full_disk_is_one_message_and_no_log_claims_completion(workdir: Path, size: int) -> None:
    done = subprocess.run([*SQLORCH, "run", "--warehouse", "w.duckdb", "--log-dir", "logs", "--no-report"],
                          cwd=workdir, capture_output=True, text=True, preexec_fn=_file_size_limit(size))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: could not write") and "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    for log in (workdir / "logs").iterdir():
        assert "backtest_completed" not in log.read_text()
    listing = subprocess.run([*SQLORCH, "runs", "--warehouse", "w.duckdb"], cwd=workdir, capture_output=True,
                             text=True)
    assert listing.returncode == 0 and "completed" not in listing.stdout


def test_an_unwritable_log_dir_is_one_message_before_anything_is_written(workdir: Path) -> None:
    (workdir / "afile").write_text("not a directory")
    done = subprocess.run([*SQLORCH, "run", "--warehouse", "w.duckdb", "--log-dir", "afile/logs"], cwd=workdir,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot write the audit log afile/logs/") and "--log-dir" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir / "w.duckdb").exists() or statuses(workdir / "w.duckdb") == {}
