"""Grid search over order options (SPEC §8, issue 26): a stop-loss given as a strategy
parameter is a grid parameter like any other, for Rules and Python strategies; every
combination equals a standalone backtest and the stop changes the outcome."""

from __future__ import annotations

import polars as pl
import pytest
from grid_strategies import StoppedBuyer, StoppedCross
from test_search import assert_standalone, memory

from sqlorch import GridSearch
from sqlorch.bars.synthetic import synthetic_bars


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return synthetic_bars(symbols=3, years=1, seed=5)


def test_a_rule_grid_over_stop_loss_and_take_profit(bars):
    config = memory(commission_bps=2.0, slippage_bps=5.0)
    grid = {"stop_loss": [0.02, 0.05, 0.1], "take_profit": [0.0, 0.08]}
    result = GridSearch(StoppedCross, grid, config, workers=1).run(bars)
    assert result.table.height == 6 and set(result.table["status"]) == {"completed"}
    assert result.table["final_equity"].n_unique() > 1  # the stops change the outcome
    assert_standalone(result, bars, config, StoppedCross, grid)


def test_a_python_strategy_grid_over_stop_loss_and_trail(bars):
    config = memory(commission_bps=1.0)
    grid = {"stop_loss": [0.02, 0.05, 0.1], "trail": [0.0, 0.07]}
    result = GridSearch(StoppedBuyer, grid, config, workers=2).run(bars)
    assert result.table.height == 6 and set(result.table["status"]) == {"completed"}
    assert result.table.filter(pl.col("trail") == 0)["final_equity"].n_unique() == 3
    assert (result.table["trade_count"] > 3).all()
    assert_standalone(result, bars, config, StoppedBuyer, grid)
