"""Warm-up pieces: features' look-back, a strategy's warm-up, the trading window, the panel."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from sqlorch.bars.panel import CLOSE, MARK, Panel
from sqlorch.bars.window import trading_window
from sqlorch.engine.features import FeatureSet, change, field, first_bar, has_bar, highest, lookback, lowest, rsi, sma
from sqlorch.engine.rule import Rule
from sqlorch.engine.strategy import warmup_bars, warmup_of
from sqlorch.errors import DataError
from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross


@pytest.mark.parametrize("feature, bars", [
    (sma(100), 99), (sma(1), 0), (change(20), 20), (rsi(14), 14), (highest(20, lag=1), 20), (lowest(5), 4),
    (sma(5, of=change(3)), 7), (sma(10) > sma(30), 29), ((rsi(3) < 30) & (change(8) > 0), 8), (~(sma(4) > 1), 3),
    (field("close"), 0), (first_bar(), 0), (has_bar(), 0), (field("close") > 3, 0),
])
def test_lookback_is_the_bars_needed_before_a_value(feature, bars):
    assert lookback(feature) == bars


def test_lookback_matches_where_values_start():
    """The first bar with a value is bar `lookback` (0-based) of a gap-free series."""
    data = np.full((40, 6, 1), 10.0)
    data[:, CLOSE, 0] = data[:, MARK, 0] = 10.0 + np.sin(np.arange(40))
    panel = Panel(np.arange(40).astype("datetime64[D]").astype("datetime64[us]"), ("A",), data)
    for feature in (sma(7), change(5), rsi(6), highest(4, lag=2), sma(3, of=change(2))):
        values = FeatureSet(panel, [feature]).numbers[:, 0, 0]
        assert np.flatnonzero(~np.isnan(values))[0] == lookback(feature), feature


class Plain:
    def on_bar(self, ctx):
        return None


class Declared(Plain):
    warmup = 42


def test_strategy_warmup():
    assert warmup_of(SMACross(fast=10, slow=100)) == 99
    assert warmup_of(Momentum(lookback=20)) == 20
    assert warmup_of(RSIStrategy(period=14)) == 14
    assert warmup_of(DonchianBreakout(period=20)) == 20
    assert warmup_of(BuyAndHold()) == 0
    assert warmup_of(Plain()) == 0
    assert warmup_of(Declared()) == 42
    features = Plain()
    features.features = [sma(25)]
    assert warmup_of(features) == 24
    told = Rule(sma(10) > sma(50))
    told.warmup = 300  # a strategy's own word wins (e.g. more bars for RSI's smoothing)
    assert warmup_of(told) == 300


@pytest.mark.parametrize("bad", [-1, 2.5, "10", True])
def test_a_bad_warmup_attribute_is_a_value_error(bad):
    strategy = Plain()
    strategy.warmup = bad
    with pytest.raises(ValueError, match="warmup must be a whole number of bars >= 0"):
        warmup_of(strategy)


def test_warmup_bars_auto_is_the_longest_and_a_number_is_taken_as_is():
    strategies = [SMACross(fast=5, slow=30), Declared(), Momentum(lookback=60), BuyAndHold()]
    assert warmup_bars("auto", strategies) == 60
    assert warmup_bars("auto", []) == 0
    assert warmup_bars(7, strategies) == 7
    assert warmup_bars(0, strategies) == 0


def bars_of(days: dict[str, range]) -> pl.DataFrame:
    rows = [(s, datetime(2000, 1, 1) + timedelta(days=d), 1.0, 1.0, 1.0, 1.0, 0.0)
            for s, span in days.items() for d in span]
    return pl.DataFrame(rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"],
                        orient="row").sort("ts", "symbol")


def test_trading_window_keeps_warmup_clock_bars_before_start():
    bars = bars_of({"A": range(0, 20), "B": range(10, 20)})
    window, warm = trading_window(bars, "2000-01-11", 3)  # day 10 on, plus 3 clock bars before
    assert warm == 3
    assert window["ts"].min() == datetime(2000, 1, 8) and window.height == 3 + 20
    traded, none = trading_window(bars, "2000-01-11", 0)
    assert none == 0 and traded["ts"].min() == datetime(2000, 1, 11)
    everything, warm = trading_window(bars, "2000-01-11", 1000)  # asks for more than there is
    assert warm == 10 and everything.height == bars.height
    same, warm = trading_window(bars, None, 50)  # no start: nothing before it
    assert warm == 0 and same.equals(bars)


def test_trading_window_drops_symbols_that_cannot_trade():
    bars = bars_of({"A": range(0, 20), "GONE": range(0, 5)})
    window, warm = trading_window(bars, datetime(2000, 1, 11), 8)
    assert warm == 8 and window["symbol"].unique().to_list() == ["A"]


def test_trading_window_without_bars_from_start_is_a_data_error():
    with pytest.raises(DataError, match=r"no bars at or after start 2001-01-01 \(the bars loaded cover 2000-01-01 "
                                        r"to 2000-01-20\); move start earlier \(or end later\)"):
        trading_window(bars_of({"A": range(0, 20)}), "2001-01-01", 5)


def test_panel_traded_is_the_clock_from_first_with_marks_carried_over():
    bars = bars_of({"A": range(0, 6), "B": [1]})
    bars = bars.with_columns(pl.Series("close", [float(k) for k in range(1, bars.height + 1)]))
    panel = Panel.from_bars(bars, first=2)
    traded = panel.traded()
    assert len(panel) == 6 and len(traded) == 4 and traded.first == 0
    assert traded.timestamps[0] == panel.timestamps[2]
    assert np.isnan(traded.data[0, CLOSE, 1]) and traded.data[0, MARK, 1] == panel.data[1, CLOSE, 1]
    whole = Panel.from_bars(bars)
    assert whole.first == 0 and whole.traded() is whole


def test_first_bar_is_each_symbols_first_traded_bar():
    bars = bars_of({"A": range(0, 6), "B": range(3, 6)})
    panel = Panel.from_bars(bars, first=4)
    values = FeatureSet(panel, [first_bar()]).conditions[:, 0]
    assert values[:, 0].tolist() == [False] * 4 + [True, False]
    assert values[:, 1].tolist() == [False] * 4 + [True, False]
