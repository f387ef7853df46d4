"""Grid search: every combination equals a standalone backtest, whatever the workers; ranking,
constraints, failures, validation, and what lands in the warehouse."""

from __future__ import annotations

import math
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from grid_strategies import BadSignals, Exploding, Flipper, Threshold

from sqlorch import BacktestConfig, BacktestEngine, ConfigError, GridSearch, OrchestratorConfig
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.grid.search import Grid, plan_batches
from sqlorch.money import isclose
from sqlorch.strategies import DonchianBreakout, Momentum, RSIStrategy, SMACross


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    """3 symbols x 1 year; one symbol starts late and another misses a few bars."""
    data = synthetic_bars(symbols=3, years=1, seed=11)
    late = data.filter((pl.col("symbol") != "CHRL") | (pl.col("ts") >= data["ts"].unique().sort()[40]))
    days = late["ts"].unique().sort()
    return late.filter(~((pl.col("symbol") == "BRVO") & pl.col("ts").is_in(days[100:104].to_list())))


def memory(**settings) -> BacktestConfig:
    return BacktestConfig(warehouse=None, log_dir=None, **settings)


def same(a, b) -> bool:
    """Equal, both undefined, or (floats) within the project's tolerance."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b or isclose(a, b)
    return a == b


def assert_standalone(result, bars, config, cls, grid_params=None):
    """Every completed row of `result.table` equals BacktestEngine(cls(**params), config)."""
    params_names = list(grid_params or [])
    for row in result.table.iter_rows(named=True):
        if row["status"] != "completed":
            continue
        params = {name: row[name] for name in params_names if row[name] is not None}
        alone = BacktestEngine(cls(**params), config).run(bars)
        expected = alone.metrics.as_dict()
        got = {name: row[name] for name in METRIC_NAMES}
        assert all(same(got[m], expected[m]) for m in METRIC_NAMES), (params, got, expected)
        assert row["final_equity"] == alone.final_equity, params


CONFIGS = {
    "costs": memory(commission_bps=5.0, slippage_bps=3.0),
    "close-fractional-fee": memory(fill="close", lot_size=0, commission_bps=2.0, commission_per_order=Decimal("1.5")),
    "small-reject-lots": memory(initial_capital=Decimal("2500"), lot_size=10, on_insufficient_capital="reject",
                                commission_bps=10.0),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_combination_equals_a_standalone_backtest(bars, name):
    config = CONFIGS[name]
    grid = {"fast": [3, 8], "slow": [15, 40]}
    result = GridSearch(SMACross, grid, config, workers=1).run(bars)
    assert result.table.height == 4 and set(result.table["status"]) == {"completed"}
    assert_standalone(result, bars, config, SMACross, grid)


def test_strategies_called_on_every_bar_shorts_and_rejected_signals_match(bars):
    config = memory(allow_short=True, commission_bps=1.0, slippage_bps=5.0, lot_size=0)
    grid = {"period": [3, 7], "weight": [0.3, 0.5]}
    result = GridSearch(Flipper, grid, config, workers=1).run(bars)
    assert_standalone(result, bars, config, Flipper, grid)
    assert (result.table["trade_count"] > 0).all()


def test_other_builtins_and_kwargs_strategies_match(bars):
    config = memory(commission_bps=2.0)
    cases = [(RSIStrategy, {"period": [5, 14], "high": [60, 70]}), (DonchianBreakout, {"period": [5, 20]}),
             (Momentum, {"lookback": [10, 30]}), (Threshold, {"level": [0.95, 1.05]})]
    for cls, grid in cases:
        result = GridSearch(cls, grid, config, workers=1).run(bars)
        assert_standalone(result, bars, config, cls, grid)


def test_sql_metrics_are_the_same_numbers(bars):
    config = CONFIGS["costs"]
    grid = {"fast": [3, 5], "slow": [20, 30]}
    fast = GridSearch(SMACross, grid, config, workers=1).run(bars).table
    sql = GridSearch(SMACross, grid, config, workers=1, sql_metrics=True).run(bars).table
    for a, b in zip(fast.iter_rows(named=True), sql.iter_rows(named=True)):
        assert all(same(a[m], b[m]) for m in METRIC_NAMES) and a["final_equity"] == b["final_equity"]


def test_results_do_not_depend_on_workers_nor_batches(bars):
    config = CONFIGS["costs"]
    grid = {"fast": [3, 5, 8], "slow": [15, 25, 40]}
    one = GridSearch(SMACross, grid, config, workers=1, batch_size=9).run(bars).table
    two = GridSearch(SMACross, grid, config, workers=2, batch_size=2).run(bars).table
    assert one.equals(two)


def test_best_params_rank_and_top(bars):
    grid = {"fast": [3, 5, 8], "slow": [15, 25, 40]}
    result = GridSearch(SMACross, grid, memory(), metric="total_return", workers=1).run(bars)
    table = result.table
    best = table.sort("total_return", descending=True).row(0, named=True)
    assert result.best_params == {"fast": best["fast"], "slow": best["slow"]}
    assert table.filter(pl.col("rank") == 1)["combination"].to_list() == [best["combination"]]
    assert sorted(table["rank"].to_list()) == list(range(1, 10))
    top = result.top(3)
    assert top["rank"].to_list() == [1, 2, 3]
    assert top["total_return"].is_sorted(descending=True)
    calm = GridSearch(SMACross, grid, memory(), metric="volatility", workers=1).run(bars)
    lowest = calm.table.sort("volatility").row(0, named=True)
    assert calm.best_params == {"fast": lowest["fast"], "slow": lowest["slow"]}


def test_several_strategies_get_their_own_best(bars):
    search = GridSearch([(SMACross, {"fast": [3, 5], "slow": [20, 30]}), Grid(Momentum, {"lookback": [5, 10, 20]}),
                         (SMACross, {"fast": [8], "slow": [40]})], memory(), workers=1)
    result = search.run(bars)
    assert list(result.best_params) == ["sma_cross", "momentum", "sma_cross_2"]
    assert set(result.best_params["momentum"]) == {"lookback"}
    assert result.best_params["sma_cross_2"] == {"fast": 8, "slow": 40}
    assert result.table.group_by("strategy").len().sort("strategy").rows() == [
        ("momentum", 3), ("sma_cross", 4), ("sma_cross_2", 1)]
    assert result.table.filter(pl.col("strategy") == "momentum")["fast"].is_null().all()
    assert result.top(1)["strategy"].to_list() == ["sma_cross", "momentum", "sma_cross_2"]


def test_constraints_drop_combinations(bars):
    grid = {"fast": [5, 10, 20], "slow": [10, 20, 30]}
    by_text = GridSearch(SMACross, grid, memory(), constraint="fast < slow", workers=1)
    by_call = GridSearch(SMACross, grid, memory(), constraint=lambda p: p.fast < p["slow"], workers=1)
    assert by_text.size == by_call.size == 6 and by_text.dropped == 3
    result = by_text.run(bars)
    assert (result.table["fast"] < result.table["slow"]).all()
    (dropped,) = duckdb_rows(result, "SELECT dropped_count FROM grid_runs WHERE run_id = ?")
    assert dropped == (3,)
    chained = GridSearch(SMACross, grid, memory(), constraint="5 < fast < slow and not slow == 30")
    assert chained.size == 1 and chained.combinations == [[{"fast": 10, "slow": 20}]]


def duckdb_rows(result, sql):
    with result.warehouse.connect(read_only=True) as con:
        return con.execute(sql, [result.run_id]).fetchall()


def test_a_failing_combination_is_recorded_and_the_others_go_on(bars):
    config = memory(commission_bps=1.0)
    grid = {"fast": [3, 5], "slow": [20], "explode_at": [-1, 60]}
    result = GridSearch(Exploding, grid, config, workers=1).run(bars)
    failed = result.table.filter(pl.col("status") == "failed")
    assert failed["explode_at"].to_list() == [60, 60]
    assert failed["error"][0].startswith("ValueError: boom at 60 (at bar ")
    assert failed["rank"].is_null().all() and failed["sharpe_ratio"].is_null().all()
    assert_standalone(result, bars, config, Exploding, grid)
    assert result.best_params["explode_at"] == -1
    counts = duckdb_rows(result, "SELECT completed_count, failed_count, status FROM grid_runs WHERE run_id = ?")
    assert counts == [(2, 2, "completed")]


def test_bad_signals_fail_their_combination_only(bars):
    result = GridSearch(BadSignals, {"at": [3, 5], "kind": ["type", "symbol"]}, memory(), workers=1).run(bars)
    assert set(result.table["status"]) == {"failed"}
    errors = result.table["error"].to_list()
    assert errors[0].startswith("TypeError: on_bar must return Signal objects, got str")
    assert "unknown symbol 'NOPE'" in errors[1]
    assert result.best_params == {}


def test_invalid_grids_fail_before_any_work_with_every_problem():
    with pytest.raises(ConfigError) as caught:
        GridSearch(SMACross, {"fast": [], "slwo": [30], "slow": [0, 50]}, memory(), metric="sharp_ratio",
                   workers=0, executor="spark")
    text = str(caught.value)
    assert "params.fast: the list of values is empty" in text
    assert "SMACross has no parameter 'slwo' (did you mean 'slow'?)" in text
    assert "metric: 'sharp_ratio' is not a metric (did you mean 'sharpe_ratio'?)" in text
    assert "workers: must be a whole number >= 1, got 0" in text
    assert "executor: 'spark' is not one of local, ray" in text
    with pytest.raises(ConfigError) as caught:
        GridSearch(SMACross, {"fast": [0, 5], "slow": [30, -1]}, memory())
    text = str(caught.value)
    assert "sma_cross fast must be a whole number >= 1, got 0" in text
    assert "sma_cross slow must be a whole number >= 1, got -1" in text
    with pytest.raises(ConfigError, match=r"(?s)fast \(50\) must be less than slow \(30\).*constraint"):
        GridSearch(SMACross, {"fast": [5, 50], "slow": [30]}, memory())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"constraint": "fast < slwo"}, "'slwo' is not a parameter of the grid (did you mean 'slow'?)"),
    ({"constraint": "fast <"}, "is not a valid expression"),
    ({"constraint": "__import__('os')"}, "is not allowed"),
    ({"constraint": "fast > 100"}, "the constraint drops every one of its 2 combinations"),
    ({"constraint": lambda p: p.nope}, "the constraint raised AttributeError"),
    ({"constraint": 42}, "constraint must be an expression"),
    ({"batch_size": True}, "batch_size: must be a whole number >= 1"),
    ({"config": OrchestratorConfig, "workers": 1}, "config must be a BacktestConfig"),
])
def test_invalid_searches_name_the_problem(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        GridSearch(SMACross, {"fast": [5, 10], "slow": [30]}, **kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize(("args", "message"), [
    ((dict, {"x": [1]}), "is not a strategy class"),
    ((SMACross, [5, 10]), "params must be a mapping"),
    ((SMACross, {"fast": [object()]}), "is not a number, string or boolean"),
    ((SMACross, {"fast": [5, 5]}), "5 listed more than once"),
    ((SMACross, {"fast": [float("nan")]}), "is not a finite number"),
    ((Threshold, {"status": [1]}), "has the name of a result column"),
    ((Threshold, {1: [1]}), "parameter names must be strings"),
])
def test_invalid_grid_values(args, message):
    with pytest.raises(ConfigError, match=message):
        Grid(*args)


def test_invalid_lists_of_grids():
    with pytest.raises(ConfigError, match="give a strategy class and its parameter grid"):
        GridSearch("sma_cross", {"fast": [5]})
    with pytest.raises(ConfigError, match="no strategies"):
        GridSearch([], memory())
    with pytest.raises(ConfigError, match=r"strategy #1: give a Grid or a \(class"):
        GridSearch([SMACross], memory())
    with pytest.raises(ConfigError, match="param_grid goes with a single strategy class"):
        GridSearch([(SMACross, {})], {"fast": [5]}, memory())
    with pytest.raises(ConfigError, match="name must be a non-empty string"):
        Grid(SMACross, {}, name="  ")
    with pytest.raises(ConfigError, match="strategy name 'x' is given to 2 strategies"):
        GridSearch([Grid(SMACross, {}, name="x"), Grid(SMACross, {}, name="x")], memory())
    # a generated id skips one given explicitly further on
    search = GridSearch([(SMACross, {}), (SMACross, {}), Grid(SMACross, {}, name="sma_cross_2")], memory())
    assert search.strategy_ids == ["sma_cross", "sma_cross_3", "sma_cross_2"]


def test_single_values_numpy_values_and_names(bars):
    import numpy as np

    grid = Grid(SMACross, {"fast": np.array([3, 5]), "slow": 30}, name="trend")
    assert grid.params == {"fast": (3, 5), "slow": (30,)} and grid.strategy_id == "trend"
    result = GridSearch(grid, config=memory(), workers=1).run(bars)
    assert result.table["strategy"].unique().to_list() == ["trend"]
    assert result.table["slow"].to_list() == [30, 30]


def test_the_warehouse_keeps_the_search(bars, tmp_path):
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = GridSearch(SMACross, {"fast": [3, 5], "slow": [20, 30]}, config, constraint="fast < slow",
                        workers=1).run(bars, source="test.toml")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        run = con.execute("SELECT status, metric, executor, combination_count, source, best FROM grid_runs").fetchall()
        assert run[0][:5] == ("completed", "sharpe_ratio", "local", 4, "test.toml")
        assert run[0][5] == '{"sma_cross":' + '{"fast":%d,"slow":%d}}' % tuple(result.best_params.values())
        rows = con.execute("SELECT combination, params, rank, final_equity FROM grid_results ORDER BY combination")
        assert [r[1] for r in rows.fetchall()] == ['{"fast":3,"slow":20}', '{"fast":3,"slow":30}',
                                                    '{"fast":5,"slow":20}', '{"fast":5,"slow":30}']
        params = con.execute("SELECT parameter, position, value, number FROM grid_parameters "
                             "WHERE combination = 2 ORDER BY position").fetchall()
        assert params == [("fast", 1, "3", 3.0), ("slow", 2, "30", 30.0)]
        sensitivity = con.execute("SELECT value, combinations, mean FROM grid_sensitivity WHERE parameter = 'fast' "
                                  "AND metric = 'total_return' ORDER BY number").fetchall()
        table = result.table
        for value, count, mean in sensitivity:
            returns = table.filter(pl.col("fast") == int(value))["total_return"]
            assert count == 2 and mean == pytest.approx(returns.mean())
    finally:
        con.close()


def test_batches_split_evenly_and_respect_memory():
    work = [("a", SMACross, [{"fast": k} for k in range(10)]), ("b", Momentum, [{"lookback": 1}])]
    batches = plan_batches(work, slots=2, bars=100, symbols=1)
    assert [len(b.combinations) for b in batches] == [2, 3, 2, 3, 1]
    assert [n for b in batches[:4] for n, _ in b.combinations] == list(range(1, 11))
    assert [len(b.combinations) for b in plan_batches(work, 1, 1_000_000, 10)] == [1] * 11


def test_a_grid_result_shows_itself_in_a_few_lines(bars):
    result = GridSearch(SMACross, {"fast": [3, 8], "slow": [15, 40]}, memory(), workers=1).run(bars)
    lines = repr(result).splitlines()
    assert lines[0] == f"<GridResult run {result.run_id}: 4 combinations (4 completed), ranked by sharpe_ratio"
    best = result.table.filter(pl.col("rank") == 1)["sharpe_ratio"][0]
    assert lines[1] == f"  sma_cross: best {result.best_params} (sharpe_ratio {best:.4g})"
    assert lines[2] == (f"  deflated Sharpe ratio {result.deflated_sharpe_ratio:.4g} over 4 trials, probabilistic "
                        f"Sharpe ratio {result.probabilistic_sharpe_ratio:.4g}, PBO {result.pbo:.4g}>")
