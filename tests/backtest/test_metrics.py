"""The numpy metrics (sqlorch/backtest/metrics.py) in the cases the property test of
test_conformance.py seldom draws: the ratio macro's rules, rounding of final amounts, amounts
beyond 64 bits, one bar and no trades."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from sqlorch import BacktestConfig, BacktestEngine, GridSearch
from sqlorch.backtest.metrics import final_amount, ratio
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.money import isclose
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
