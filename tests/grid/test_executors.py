"""The executors behind a grid search: local worker processes (and the in-process shortcut),
what travels to them, their failures, prints and ends, and a search that stops half-way."""

from __future__ import annotations

import importlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings

import duckdb
import pytest
from grid_strategies import die, double

from sqlorch import BacktestConfig, GridSearch, SqlorchError
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.grid.executors import (
    LocalExecutor,
    RemoteTraceback,
    Results,
    close_workers,
    default_workers,
    make_executor,
)
from sqlorch.strategies import SMACross


def test_local_executor_runs_every_item_once():
    assert sorted(LocalExecutor(2).map(double, 10, [1, 2, 3])) == [(0, 10), (1, 20), (2, 30)]
    assert list(LocalExecutor(1).map(double, 3, [1, 2])) == [(0, 3), (1, 6)]
    assert default_workers() >= 1 and LocalExecutor().slots() == default_workers()


def test_a_dead_worker_is_a_clear_error():
    with pytest.raises(SqlorchError, match="a grid worker process died"):
        list(LocalExecutor(2).map(die, None, [1, 2]))


def test_make_executor():
    mine = LocalExecutor(3)
    assert make_executor(mine) is mine
    assert make_executor("local", 2).slots() == 2
    with pytest.raises(SqlorchError, match="unknown executor 'spark'"):
        make_executor("spark")


class Stopping(LocalExecutor):
    """Runs the first batch, then is interrupted."""

    def map(self, task, shared, items):
        def finished():
            yield 0, task(shared, items[0])
            raise KeyboardInterrupt

        return Results(finished())


def test_a_search_that_stops_is_recorded_as_failed(tmp_path):
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    search = GridSearch(SMACross, {"fast": [3, 5], "slow": [20, 30]}, config, executor=Stopping(1), batch_size=1)
    with pytest.raises(KeyboardInterrupt):
        search.run(synthetic_bars(symbols=1, years=1))
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status, error, combination_count FROM grid_runs").fetchall() == [
            ("failed", "KeyboardInterrupt: ", 4)]
        assert con.execute("SELECT count(*) FROM grid_results").fetchall() == [(0,)]


def test_classes_defined_in_a_function_run_in_worker_processes():
    class Local(SMACross):
        pass

    def where(shared, item):
        return os.getpid()

    grid, config, bars = {"fast": [3, 5], "slow": [20, 30]}, BacktestConfig(warehouse=None, log_dir=None), \
        synthetic_bars(symbols=1, years=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = GridSearch(Local, grid, config, workers=2, batch_size=1).run(bars)
    assert two.table.equals(GridSearch(Local, grid, config, workers=1).run(bars).table)
    assert two.table["status"].to_list() == ["completed"] * 4
    assert os.getpid() not in {pid for _, pid in LocalExecutor(2).map(where, None, [1, 2])}


def test_a_class_that_cannot_be_pickled_is_a_clear_error():
    class Locked(SMACross):
        guard = threading.Lock()

    search = GridSearch(Locked, {"fast": [3, 5], "slow": [20]}, BacktestConfig(warehouse=None, log_dir=None),
                        workers=2)
    with pytest.raises(SqlorchError, match=r"the strategy class .*Locked cannot be sent to worker processes "
                                           r"\(TypeError: cannot pickle '_thread.lock' object\).*define the class "
                                           r"in a module .* or pass workers=1"):
        search.run(synthetic_bars(symbols=1, years=1))
    with pytest.raises(SqlorchError, match="cannot send item #2 to worker processes"):
        LocalExecutor(2).map(double, 1, [1, threading.Lock()])


def test_an_exception_a_task_raises_is_raised_with_the_workers_traceback():
    def picky(shared, item):
        if item == 2:
            raise ValueError(f"no {item}")
        return item

    with pytest.raises(ValueError, match="no 2") as caught:
        list(LocalExecutor(2).map(picky, None, [1, 2, 3]))
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "in picky" in str(caught.value.__cause__) and "ValueError: no 2" in str(caught.value.__cause__)


def test_what_workers_print_shows_on_stderr_and_leaves_the_results_alone(capfd):
    def chatty(shared, item):
        print(f"print {item}")
        os.write(1, f"write {item}\n".encode())
        return shared * item

    close_workers()  # new workers, whose stderr is the one captured now
    assert sorted(LocalExecutor(2).map(chatty, 10, [1, 2])) == [(0, 10), (1, 20)]
    printed = capfd.readouterr()
    for text in ("print 1", "write 1", "print 2", "write 2"):  # (two workers' lines may interleave)
        assert text in printed.err
    assert printed.out == ""


def test_workers_wait_for_the_next_map_until_closed():
    def where(shared, item):
        return os.getpid()

    first = {pid for _, pid in LocalExecutor(2).map(where, None, [1, 2])}
    assert {pid for _, pid in LocalExecutor(2).map(where, None, [1, 2, 3])} == first
    close_workers()
    for pid in first:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def nap_or_wake(shared, item):
    """Item "nap": note this process's id in the file `shared`, then sleep for an hour; item
    "wake": wait for that note, then return."""
    if item == "nap":
        shared.write_text(str(os.getpid()))
        time.sleep(3600)
    while not shared.exists():
        time.sleep(0.01)
    return item


def test_an_interrupted_map_kills_its_busy_workers(tmp_path):
    note = tmp_path / "pid"
    with pytest.raises(KeyboardInterrupt):
        with LocalExecutor(2).map(nap_or_wake, note, ["nap", "wake"]) as running:
            for _, result in running:
                assert result == "wake"
                raise KeyboardInterrupt
    with pytest.raises(ProcessLookupError):  # killed and reaped: no such process any more
        os.kill(int(note.read_text()), 0)


def test_a_worker_killed_says_how():
    def killed(shared, item):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(SqlorchError, match=r"a grid worker process died \(killed by SIGKILL, out of memory\?"):
        list(LocalExecutor(2).map(killed, None, [1, 2]))


def test_a_module_workers_cannot_import_is_a_clear_error(tmp_path):
    (tmp_path / "grid_elsewhere.py").write_text("def triple(shared, item):\n    return 3 * item\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from grid_elsewhere import triple
    finally:
        sys.path.remove(str(tmp_path))
    try:
        with pytest.raises(SqlorchError, match=r"a worker process cannot load what it was sent \(ModuleNotFoundError: "
                                               r"No module named 'grid_elsewhere'\).* or pass workers=1"):
            list(LocalExecutor(2).map(triple, None, [1, 2]))
    finally:
        del sys.modules["grid_elsewhere"]


def test_a_worker_that_cannot_start_says_so(monkeypatch, capfd):
    close_workers()
    monkeypatch.setattr("sqlorch.grid.executors.PRELOAD", ("sqlorch_no_such_module",))
    with pytest.raises(SqlorchError, match=r"a grid worker process died while starting \(exit code 1; its error is "
                                           r"on stderr\): check that .* or pass workers=1"):
        list(LocalExecutor(2).map(double, 1, [1, 2]))
    assert "No module named 'sqlorch_no_such_module'" in capfd.readouterr().err


WORKERS_OF_A_DYING_PARENT = """
import os, signal, sys, threading, time
from pathlib import Path
from sqlorch.grid.executors import LocalExecutor

def where(shared, item):
    return os.getpid()

def nap(shared, item):
    (shared / str(os.getpid())).touch()
    time.sleep(3600)

pids = sorted({pid for _, pid in LocalExecutor(3).map(where, None, [1, 2, 3])})
print(*pids, flush=True)
naps = Path(sys.argv[1])
threading.Thread(target=list, args=(LocalExecutor(2).map(nap, naps, [1, 2]),), daemon=True).start()
while len(list(naps.iterdir())) < 2:  # two workers nap, one waits for work
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits for other processes' ends with pidfd_open (Linux)")
def test_workers_end_when_their_parent_dies(tmp_path):
    """Those waiting for work and those in the middle of a task alike."""
    naps = tmp_path / "naps"
    naps.mkdir()
    with open(tmp_path / "stderr", "w") as stderr:  # not a pipe: workers that outlive the parent would hold it
        done = subprocess.run([sys.executable, "-c", WORKERS_OF_A_DYING_PARENT, str(naps)], stdout=subprocess.PIPE,
                              stderr=stderr, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, (tmp_path / "stderr").read_text()
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 3 and len(list(naps.iterdir())) == 2
    for pid in pids:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # already gone
        try:
            ended, _, _ = select.select([handle], [], [], 60)  # readable once the process has ended
            assert ended, f"worker {pid} outlived its parent"
        finally:
            os.close(handle)


def test_a_search_whose_results_cannot_be_written_is_failed(tmp_path, monkeypatch):
    import sqlorch.grid.search

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sqlorch.grid.search, "finish_grid", refuse)
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    with pytest.raises(OSError, match="disk full"):
        GridSearch(SMACross, {"fast": [3], "slow": [20]}, config, workers=1).run(synthetic_bars(symbols=1, years=1))
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status, error FROM grid_runs").fetchall() == [("failed", "OSError: disk full")]


def test_workers_that_imported_the_users_modules_are_not_reused(tmp_path, monkeypatch):
    module = tmp_path / "grid_edited.py"
    module.write_text("def answer(shared, item):\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "grid_edited", raising=False)
    import grid_edited

    assert {result for _, result in LocalExecutor(2).map(grid_edited.answer, None, [1, 2])} == {1}
    module.write_text("def answer(shared, item):\n    return 22  # edited\n")
    importlib.reload(grid_edited)
    assert {result for _, result in LocalExecutor(2).map(grid_edited.answer, None, [1, 2])} == {22}
    del sys.modules["grid_edited"]
