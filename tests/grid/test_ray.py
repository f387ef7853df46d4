"""The Ray executor against a local Ray instance started here: the same rows as local worker
processes, the bars put in the object store once, and clear errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

from grid_strategies import Exploding, double  # noqa: E402

from sqlorch import BacktestConfig, GridSearch, SqlorchError  # noqa: E402
from sqlorch.bars.synthetic import synthetic_bars  # noqa: E402
from sqlorch.grid.executors import RayExecutor  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance for this module; its workers import the tests' strategies."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).parent.parent)}})
    yield ray
    ray.shutdown()


def test_ray_gives_the_rows_of_local_processes(local_ray, tmp_path, monkeypatch):
    bars = synthetic_bars(symbols=2, years=1, seed=8)
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None, commission_bps=2.0)
    grid = {"fast": [3, 5], "slow": [15, 30], "explode_at": [-1, 100]}
    local = GridSearch(Exploding, grid, config, workers=2, batch_size=3).run(bars)
    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    remote = GridSearch(Exploding, grid, config, executor="ray", batch_size=3).run(bars)
    assert remote.table.equals(local.table)
    assert remote.best_params == local.best_params
    assert len(puts) == 1 and puts[0].bars.height == bars.height  # the bars travel once
    assert set(remote.table["status"]) == {"completed", "failed"}
    with remote.warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT executor, workers, batches FROM grid_runs WHERE run_id = ?",
                           [remote.run_id]).fetchall() == [("ray", 2, 3)]
    assert ray.is_initialized()  # the executor leaves a connection it did not open


def test_ray_executor_maps_and_connects(local_ray, monkeypatch):
    executor = RayExecutor()
    assert executor.slots() == 2
    assert sorted(executor.map(double, 7, [1, 2, 3])) == [(0, 7), (1, 14), (2, 21)]
    executor.close()
    assert ray.is_initialized()

    opened, closed = [], []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: opened.append(kw))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 16.0})
    monkeypatch.setattr(ray, "shutdown", lambda: closed.append(True))
    with RayExecutor("ray://head:10001") as mine:
        assert mine.slots() == 16
    assert opened[0]["address"] == "ray://head:10001" and closed == [True]

    def refuse(**kw):
        raise ConnectionError("no cluster there")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(SqlorchError, match="cannot connect to the Ray cluster at 10.0.0.1:6379: no cluster there"):
        RayExecutor("10.0.0.1:6379").slots()


def test_a_walk_forward_on_ray_chooses_as_one_on_local_processes(local_ray, tmp_path):
    from sqlorch import WalkForward

    bars = synthetic_bars(symbols=2, years=3, seed=8)
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    grid = {"fast": [3, 5], "slow": [15, 30], "explode_at": [-1]}
    local = WalkForward(Exploding, grid, config, train=300, test=150, workers=2).run(bars)
    remote = WalkForward(Exploding, grid, config, train=300, test=150, executor="ray").run(bars)
    assert remote.folds["params"].to_list() == local.folds["params"].to_list()
    assert remote.equity_curve["equity"].to_list() == local.equity_curve["equity"].to_list()
    with duckdb.connect(config.warehouse, read_only=True) as con:
        executors = con.execute("SELECT DISTINCT executor FROM grid_runs g JOIN walkforward_folds f "
                                "ON f.grid_run_id = g.run_id WHERE f.run_id = ?", [remote.run_id]).fetchall()
    assert executors == [("ray",)]
