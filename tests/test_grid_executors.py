"""The executors behind a grid search: local worker processes (and the in-process shortcut),
worker failures, and a search that stops half-way."""

from __future__ import annotations

import warnings

import duckdb
import pytest
from grid_strategies import die, double

from sqlorch import BacktestConfig, GridSearch, SqlorchError
from sqlorch.demo import synthetic_bars
from sqlorch.executors import LocalExecutor, Results, default_workers, make_executor
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


def test_classes_workers_cannot_import_run_in_this_process():
    class Local(SMACross):
        pass

    search = GridSearch(Local, {"fast": [3, 5], "slow": [20]}, BacktestConfig(warehouse=None, log_dir=None),
                        workers=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = search.run(synthetic_bars(symbols=1, years=1))
    assert "cannot import it" in str(caught[0].message)
    assert result.table["status"].to_list() == ["completed", "completed"]


def test_a_search_whose_results_cannot_be_written_is_failed(tmp_path, monkeypatch):
    import sqlorch.grid

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sqlorch.grid, "finish_grid", refuse)
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    with pytest.raises(OSError, match="disk full"):
        GridSearch(SMACross, {"fast": [3], "slow": [20]}, config, workers=1).run(synthetic_bars(symbols=1, years=1))
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status, error FROM grid_runs").fetchall() == [("failed", "OSError: disk full")]
