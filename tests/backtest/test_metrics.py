"""The numpy metrics (sqlorch/backtest/metrics.py) in the cases the property test of
test_conformance.py seldom draws: the ratio macro's rules, rounding of final amounts, amounts
beyond 64 bits, one bar and no trades."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from sqlorch import BacktestConfig, BacktestEngine, GridSearch
from sqlorch.backtest.metrics import final_amount, ratio, trade_stats
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.engine.layout import FL_BAR, FL_CASH, FL_COLUMNS, FL_QUANTITY, FL_SLEEVE, FL_SYMBOL
from sqlorch.money import MICRO, isclose
from sqlorch.strategies import SMACross


def test_final_amount_rounds_half_away_from_zero():
    assert final_amount(1_000_000_500_000) == Decimal("1.000001")
    assert final_amount(-1_000_000_500_000) == Decimal("-1.000001")
    assert final_amount(2_000_000_499_999) == Decimal("2.000000")


def test_ratio_follows_the_sql_macro():
    out = ratio(np.array([1.0, -1.0, 0.0, 1.0, 0.0, 3.0]), np.array([0.0, 0.0, 0.0, np.nan, np.nan, 2.0]))
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])
    assert math.isnan(out[3]) and math.isnan(out[4]) and out[5] == 1.5  # NaN stands for NULL


def test_amounts_beyond_64_bits_are_summed_exactly_too():
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


def test_trade_stats_count_round_trips_alike_compiled_or_in_python_integers():
    """Hand-made fills (quantities in shares, cash in units; a trade's P&L is what its fills did
    to the cash): sleeve 0 wins 50 on symbol 0 and keeps symbol 1 open, sleeve 1 loses 10. Cash
    shifted by 2^61 micro units takes the exact Python path (its sums could pass int64); the
    flows, and so the statistics, are the same."""
    rows = [  # sleeve, bar, symbol, quantity, cash after
        (0, 0, 0, 10, 900), (1, 0, 0, 2, 480), (0, 1, 1, 5, 850), (0, 2, 0, -10, 1000), (1, 3, 0, -2, 490)]
    fills = np.zeros((len(rows), FL_COLUMNS), dtype=np.int64)
    for k, (sleeve, bar, symbol, quantity, cash) in enumerate(rows):
        fills[k, [FL_SLEEVE, FL_BAR, FL_SYMBOL, FL_QUANTITY, FL_CASH]] = sleeve, bar, symbol, quantity * MICRO, \
            cash * MICRO
    expected = [(2, 1, 1, 50 * MICRO, 0), (1, 1, 0, 0, 10 * MICRO)]
    assert trade_stats(fills, [1000 * MICRO, 500 * MICRO]) == expected
    shifted = fills.copy()
    shifted[:, FL_CASH] += 2**61
    assert trade_stats(shifted, [1000 * MICRO + 2**61, 500 * MICRO + 2**61]) == expected
