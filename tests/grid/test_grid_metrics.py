"""The grid's numpy metrics against DuckDB's own arithmetic: exact division of amounts, running
sums and Welford's deviation with undefined values, the ratio macro, and amounts too large for
exact 64-bit sums (which fall back to floats within the project's tolerance)."""

from __future__ import annotations

import math
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from sqlorch import BacktestConfig, BacktestEngine, GridSearch
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.grid.metrics import _downside, _mean_and_deviation, divide_exact, final_amount, ratio
from sqlorch.money import isclose
from sqlorch.store.warehouse import decimal_column
from sqlorch.strategies import SMACross


def test_divide_exact_rounds_like_duckdb_decimal_casts():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.integers(-10**17, 10**18, 20_000), rng.integers(1, 10**9, 1000),
                             rng.integers(2**60, 2**62, 1000)]).astype(np.int64)
    for scale in (6, 12):
        con = duckdb.connect()
        con.register("t", pa.table({"v": decimal_column(values.tolist(), scale)}))
        cast = np.array([r[0] for r in con.execute("SELECT v::DOUBLE FROM t").fetchall()])
        assert np.array_equal(divide_exact(values, 10**scale), cast)
        assert np.array_equal(divide_exact(values, 10**scale), [int(v) / 10**scale for v in values.tolist()])
    assert divide_exact(np.array([], dtype=np.int64), 10).size == 0


def test_final_amount_rounds_half_away_from_zero():
    assert final_amount(1_000_000_500_000) == Decimal("1.000001")
    assert final_amount(-1_000_000_500_000) == Decimal("-1.000001")
    assert final_amount(2_000_000_499_999) == Decimal("2.000000")


def test_ratio_follows_the_sql_macro():
    out = ratio(np.array([1.0, -1.0, 0.0, 1.0, 0.0, 3.0]), np.array([0.0, 0.0, 0.0, np.nan, np.nan, 2.0]))
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])
    assert out[3] == math.inf and math.isnan(out[4]) and out[5] == 1.5


def test_running_mean_deviation_and_downside_match_duckdb_with_undefined_values():
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0005, 0.01, size=(300, 4))
    returns[rng.random((300, 4)) < 0.05] = np.nan  # undefined returns (0 / 0), NULL in SQL
    returns[:, 3] = np.nan
    returns[5, 3] = 0.01
    count, mean, deviation = _mean_and_deviation(returns)
    downside = _downside(returns)
    con = duckdb.connect()
    for column in range(4):
        values = [None if math.isnan(v) else v for v in returns[:, column].tolist()]
        con.register("t", pa.table({"bar": list(range(300)), "x": pa.array(values, pa.float64())}))
        n, avg, sd, down = con.execute(
            "SELECT count(x), avg(x), stddev_samp(x), sqrt(avg(least(x, 0) ^ 2)) FROM (SELECT * FROM t ORDER BY bar)"
        ).fetchall()[0]
        assert count[column] == n and mean[column] == avg and downside[column] == down
        assert (sd is None and math.isnan(deviation[column])) or deviation[column] == sd


def test_amounts_beyond_64_bits_fall_back_to_floats_within_tolerance():
    bars = synthetic_bars(symbols=2, years=1, seed=9)
    for settings in ({"lot_size": 0}, {"lot_size": 1}):
        config = BacktestConfig(warehouse=None, log_dir=None, initial_capital=Decimal("5000000000"),
                                commission_bps=1.0, **settings)
        result = GridSearch(SMACross, {"fast": [3, 8], "slow": [20]}, config, workers=1).run(bars)
        for row in result.table.iter_rows(named=True):
            alone = BacktestEngine(SMACross(fast=row["fast"], slow=20), config).run(bars)
            expected = alone.metrics.as_dict()
            for name in METRIC_NAMES:
                a, b = row[name], expected[name]
                assert (math.isnan(a) and math.isnan(b)) or isclose(a, b), (settings, name, a, b)
            assert row["final_equity"] == alone.final_equity


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_one_bar_and_no_trade_grids(fill):
    bars = synthetic_bars(symbols=1, years=1, seed=2).head(1)
    config = BacktestConfig(warehouse=None, log_dir=None, fill=fill)
    result = GridSearch(SMACross, {"fast": [2], "slow": [3]}, config, workers=1).run(bars)
    row = result.table.row(0, named=True)
    alone = BacktestEngine(SMACross(fast=2, slow=3), config).run(bars).metrics.as_dict()
    for name in METRIC_NAMES:
        assert (isinstance(alone[name], float) and math.isnan(alone[name]) and math.isnan(row[name])) \
            or row[name] == alone[name], name
    assert result.best_params == {} and result.table["rank"].is_null().all()
