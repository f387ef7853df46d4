"""Features (sqlorch/engine/features.py): values against plain re-implementations, causality, and
the wake-up contract of the built-in strategies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import numpy as np
import polars as pl
import pytest

from sqlorch import BacktestConfig, BacktestEngine, ConfigError, Signal, StrategyError
from sqlorch.bars.panel import Panel
from sqlorch.engine import features as ft
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper
from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross


def random_bars(seed: int, symbols: int = 3, bars: int = 120, gaps: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(days=d) for d in range(bars)]
    rows = []
    for k in range(symbols):
        close = 50 * np.cumprod(1 + rng.normal(0, 0.02, bars))
        start = 0 if k == 0 or not gaps else int(rng.integers(0, 20))
        missing = set(rng.integers(start + 1, bars, 4).tolist()) if gaps and k else set()
        for t in range(start, bars):
            if t in missing:
                continue
            c = round(float(close[t]), 2)
            o = round(c * (1 + rng.normal(0, 0.005)), 2)
            rows.append((f"S{k}", days[t], o, max(o, c) + 0.1, min(o, c) - 0.1, c, 1000.0))
    return pl.DataFrame(rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"], orient="row")


def values(feature: ft.Feature, panel: Panel) -> np.ndarray:
    return ft.compute(feature, panel, {})


def naive_window(closes: np.ndarray, n: int, reduce, lag: int = 0) -> np.ndarray:
    out = np.full(closes.shape, np.nan)
    for t in range(closes.shape[0]):
        end = t - lag
        if end - n + 1 >= 0:
            out[t] = reduce(closes[end - n + 1:end + 1], axis=0)  # NaN inside the window -> NaN
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_window_features_match_a_plain_loop(seed: int) -> None:
    panel = Panel.from_bars(random_bars(seed))
    close, high, low = (panel.data[:, f, :] for f in (3, 1, 2))
    np.testing.assert_allclose(values(ft.sma(7), panel), naive_window(close, 7, np.mean), equal_nan=True)
    np.testing.assert_array_equal(values(ft.highest(5, lag=1), panel), naive_window(high, 5, np.max, lag=1))
    np.testing.assert_array_equal(values(ft.lowest(5), panel), naive_window(low, 5, np.min))
    expected = np.full(close.shape, np.nan)
    expected[4:] = close[4:] / close[:-4] - 1
    np.testing.assert_array_equal(values(ft.change(4), panel), expected)
    assert np.isnan(values(ft.sma(7), panel)[:6]).all()


def test_conditions_and_logic() -> None:
    panel = Panel.from_bars(random_bars(3))
    fast, slow = values(ft.sma(3), panel), values(ft.sma(9), panel)
    with np.errstate(invalid="ignore"):
        above = (fast > slow).astype(float)
    np.testing.assert_array_equal(values(ft.sma(3) > ft.sma(9), panel), above)
    np.testing.assert_array_equal(values(~(ft.sma(3) > ft.sma(9)), panel), 1 - above)
    both = values((ft.sma(3) > ft.sma(9)) & (ft.change(2) > 0), panel)
    assert set(np.unique(both)) <= {0.0, 1.0}
    assert (ft.sma(3) > 2).args[1] == ft.Feature("const", (2.0,))
    assert (ft.rsi(3) <= 30).boolean and not ft.rsi(3).boolean
    with pytest.raises(TypeError):
        ft.sma(3) > "x"
    with pytest.raises(ValueError, match="whole number of bars"):
        ft.sma(0)
    with pytest.raises(ValueError, match="unknown field"):
        ft.sma(3, of="price")


def test_features_of_conditions_count_them_as_one_and_zero() -> None:
    panel = Panel.from_bars(random_bars(5, symbols=8))
    above = ft.sma(3) > ft.sma(9)
    with np.errstate(invalid="ignore"):
        ones = (values(ft.sma(3), panel) > values(ft.sma(9), panel)).astype(float)
    np.testing.assert_array_equal(values(ft.sma(4, of=above), panel), naive_window(ones, 4, np.mean))
    np.testing.assert_array_equal(values(ft.highest(3, of=above, lag=1), panel), naive_window(ones, 3, np.max, lag=1))
    has = (~np.isnan(panel.data[:, 3, :])).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(values(ft.change(1, of=ft.has_bar()), panel)[1:], has[1:] / has[:-1] - 1)
    wilder = values(ft.rsi(3, of=above), panel)  # a condition has a value at every bar
    for j in range(8):
        np.testing.assert_array_equal(wilder[:, j], ft._wilder(np.ascontiguousarray(ones[:, j]), 3))
    features = ft.FeatureSet(panel, [ft.sma(3), above, ft.Feature("const", (2.5,)), ~above])
    assert features.columns == {ft.sma(3): 0, above: 0, ft.Feature("const", (2.5,)): 1, ~above: 1}
    assert features.conditions.dtype == bool and features.numbers.dtype == np.float64
    np.testing.assert_array_equal(features.conditions[:, 0], ones == 1)
    np.testing.assert_array_equal(features.conditions[:, 1], ones == 0)
    np.testing.assert_array_equal(features.numbers[:, 0], values(ft.sma(3), panel))
    assert (features.numbers[:, 1] == 2.5).all() and features.changed[:, 2].tolist() == [True] + [False] * (len(panel) - 1)


def test_has_bar_first_bar_and_changes() -> None:
    bars = random_bars(4, symbols=2, bars=30)
    panel = Panel.from_bars(bars)
    has = ~np.isnan(panel.data[:, 3, :])
    np.testing.assert_array_equal(values(ft.has_bar(), panel), has.astype(float))
    first = values(ft.first_bar(), panel)
    assert (first.sum(axis=0) == 1).all()
    for j in range(2):
        assert first[np.argmax(has[:, j]), j] == 1.0
    rows = np.array([[1.0, np.nan], [1.0, np.nan], [2.0, np.nan], [2.0, 3.0]])
    assert ft.changes(rows).tolist() == [True, False, True, True]


def test_waking_on_a_change_or_on_a_rise() -> None:
    closes = [[1, 5], [2, 5], [3, 5], [2, 6], [1, 7], [2, 6]]  # two symbols
    bars = pl.DataFrame([{"symbol": s, "ts": dt.datetime(2024, 1, 1 + t), "open": float(c), "high": float(c),
                          "low": float(c), "close": float(c), "volume": 1.0}
                         for t, row in enumerate(closes) for s, c in zip(("A", "B"), row)])
    up = ft.change(1) > 0  # A: -, T, T, F, F, T   B: -, F, F, T, T, F
    high = ft.field("close") > 4.5  # A never, B always
    features = ft.FeatureSet(Panel.from_bars(bars), [up, high])
    assert features.woken([up]).tolist() == [True, True, False, True, False, True]
    assert features.woken([up], on_rise=True).tolist() == [False, True, False, True, False, True]
    assert features.woken([high], on_rise=True).tolist() == [True] + [False] * 5  # true from bar 0
    assert features.woken([up, high], on_rise=True).tolist() == [True, True, False, True, False, True]


def test_waking_on_a_rise_needs_conditions() -> None:
    class Rising:
        features = wake_on = (ft.sma(3),)
        wake_on_rise = True

        def on_bar(self, ctx):
            return None

    with pytest.raises(ConfigError, match="Rising sets wake_on_rise, so its wake_on features must be conditions"):
        BacktestEngine(Rising(), BacktestConfig(warehouse=None, log_dir=None))


def test_values_never_depend_on_later_bars() -> None:
    """Change every bar after t: no feature's values up to t move."""
    bars = random_bars(5)
    cut = bars["ts"].unique().sort()[60]
    later = pl.col("ts") > cut
    shaken = bars.with_columns(*(pl.when(later).then(pl.col(c) * 3).otherwise(pl.col(c)).alias(c)
                                 for c in ("open", "high", "low", "close")))
    features = [ft.sma(5), ft.highest(10, lag=1), ft.lowest(3), ft.change(4), ft.rsi(6), ft.first_bar(),
                ft.sma(2) > ft.sma(6)]
    before, after = Panel.from_bars(bars), Panel.from_bars(shaken)
    for feature in features:
        np.testing.assert_array_equal(values(feature, before)[:61], values(feature, after)[:61], err_msg=repr(feature))


def run_stepper(strategies, bars, use_wake: bool, capital: D = D(100000)):
    config = BacktestConfig(initial_capital=capital, commission_bps=5.0, warehouse=None, log_dir=None)
    share = capital / len(strategies)
    stepper = Stepper(Panel.from_bars(bars), [(f"s{i}", s) for i, s in enumerate(strategies)],
                      [share] * len(strategies), [D(1) / len(strategies)] * len(strategies), config.engine_settings(),
                      EventLog("test", "backtest"), use_wake=use_wake)
    return stepper.run()


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_waking_on_changes_gives_the_same_run_as_calling_every_bar(seed: int) -> None:
    """The built-ins promise no signals on bars where none of their `wake_on` conditions turned
    true (unless they signalled the bar before): skipping those bars changes nothing, even with
    orders clipped and rejected for lack of cash."""
    bars = random_bars(seed, symbols=4, bars=150)

    def line_up():
        return [BuyAndHold(), SMACross(fast=3, slow=8), Momentum(lookback=5), RSIStrategy(period=6, low=40, high=60),
                DonchianBreakout(period=6)]

    woken = run_stepper(line_up(), bars, use_wake=True, capital=D(30000))
    every = run_stepper(line_up(), bars, use_wake=False, capital=D(30000))
    def signals(outcome):  # but the time each was logged
        return [row[:10] + row[11:] for row in outcome.records.rows("signals")]

    assert signals(woken) == signals(every)
    assert woken.records.rows("fills") == every.records.rows("fills")
    assert woken.records.rows("decisions") == every.records.rows("decisions")
    assert any(d[7] in ("clipped", "rejected") for d in every.records.rows("decisions"))


class Undeclared:
    def on_bar(self, ctx):
        ctx.now(ft.sma(5))


class Declared:
    features = (ft.sma(2),)

    def __init__(self):
        self.seen = []

    def on_bar(self, ctx):
        self.seen.append((ctx.t, ctx.now(ft.sma(2)).tolist(), ctx.changed(ft.sma(2))))
        return [Signal.buy("S0", 0.1)] if ctx.t == 0 else None


def test_declared_features_are_read_bar_by_bar() -> None:
    bars = random_bars(9, symbols=1, bars=5, gaps=False)
    strategy = Declared()
    BacktestEngine(strategy, BacktestConfig(warehouse=None, log_dir=None)).run(bars)
    closes = bars.sort("ts")["close"].to_list()
    assert [t for t, _, _ in strategy.seen] == [0, 1, 2, 3, 4]
    assert np.isnan(strategy.seen[0][1][0]) and strategy.seen[0][2]  # bar 0 counts as a change
    assert strategy.seen[2][1] == [pytest.approx((closes[1] + closes[2]) / 2)]


def test_undeclared_and_bad_features_are_explained() -> None:
    bars = random_bars(10, symbols=1, bars=5, gaps=False)
    with pytest.raises(StrategyError, match="feature sma\\(5, field\\('close'\\)\\) is not declared"):
        BacktestEngine(Undeclared(), BacktestConfig(warehouse=None, log_dir=None)).run(bars)

    class Bad:
        features = ("sma",)

        def on_bar(self, ctx):
            return None

    with pytest.raises(ConfigError, match="strategy bad: Bad declares 'sma', which is not a feature"):
        BacktestEngine(Bad(), BacktestConfig(warehouse=None, log_dir=None))


def test_rsi_over_many_aligned_symbols_equals_the_per_symbol_loop() -> None:
    """With every symbol on every bar, RSI is computed in one pass over time for all symbols;
    it must give exactly the floats of the per-symbol loop."""
    rng = np.random.default_rng(12)
    closes = np.round(50 * np.cumprod(1 + rng.normal(0, 0.02, (300, 12)), axis=0), 2)
    across = ft._wilder_across(closes, 9)
    one_by_one = np.column_stack([ft._wilder(np.ascontiguousarray(closes[:, j]), 9) for j in range(12)])
    np.testing.assert_array_equal(across, one_by_one)
    closes[:, 3] = 40.0  # a flat symbol: RSI 50
    assert (ft._wilder_across(closes, 9)[9:, 3] == 50.0).all()
