"""Built-in strategies (sqlorch/strategies/builtin.py) on hand-made series.

The strategies are driven by the real stepper (fill at the close, so a buy is held from the
next bar on), without a warehouse; expected signal bars are worked out in the comments.
"""

from __future__ import annotations

import math
from decimal import Decimal as D

import numpy as np
import pytest

from sqlorch import BacktestConfig, BacktestEngine, ConfigError
from sqlorch.bars.panel import Panel
from sqlorch.engine import features as ft
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper
from sqlorch.strategies import BUILTINS, BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross


def drive(strategy, bars, capital=D(10**9)):
    """Run `strategy` over `bars` bar by bar: [(bar, symbol, side, weight)] and the outcome."""
    config = BacktestConfig(initial_capital=capital, fill="close", warehouse=None, log_dir=None)
    stepper = Stepper(Panel.from_bars(bars), [("s", strategy)], [capital], [D(1)], config.engine_settings(),
                      EventLog("test", "backtest"))
    outcome = stepper.run()
    assert outcome.failure is None, outcome.failure
    assert not [d for d in outcome.records.rows("decisions") if d[7] != "accepted"]  # every signal filled
    return [(row[2], row[3], row[4], row[5]) for row in outcome.records.rows("signals")], outcome


def sides(signals):
    return [(t, side) for t, _, side, _ in signals]


def closes(values, start=0):
    return [(start + i, c) for i, c in enumerate(values)]


# ------------------------------------------------------------------------------ rules on one symbol


def test_sma_cross_enters_above_and_exits_below(make_bars):
    prices = [10, 10, 10, 11, 12, 13, 12, 10, 9, 9, 10, 12]
    # t  SMA2   SMA3
    # 2  10     10      equal: nothing
    # 3  10.5   10.33   fast > slow: buy
    # 6  12.5   12.33   still above
    # 7  11     11.67   fast < slow: exit
    # 9  9      9.33    below, flat
    # 10 9.5    9.33    above: buy
    signals, _ = drive(SMACross(fast=2, slow=3), make_bars({"A": closes(prices)}))
    assert sides(signals) == [(3, "buy"), (7, "exit"), (10, "buy")]
    assert signals[0][3] == 1.0  # one symbol: the whole sleeve
    assert "SMACross" in _reasons(SMACross(fast=2, slow=3), make_bars({"A": closes(prices)}))[0]


def _reasons(strategy, bars):
    _, outcome = drive(strategy, bars)
    return [row[6] for row in outcome.records.rows("signals")]


def test_momentum_long_while_lookback_return_is_positive(make_bars):
    prices = [10, 10, 11, 12, 11, 12, 10, 10, 11]
    # t2: 11/10 > 1 buy; t3: 12/10 hold; t4: 11/11 = 1 (not positive): exit; t5: 12/12: flat;
    # t6: 10/11, t7: 10/12 flat; t8: 11/10: buy
    signals, _ = drive(Momentum(lookback=2), make_bars({"A": closes(prices)}))
    assert sides(signals) == [(2, "buy"), (4, "exit"), (8, "buy")]


def test_donchian_breakout_over_the_prior_channel(make_bars):
    prices = [10, 10, 11, 10.2, 9, 8, 9.9, 10.6]
    bars = make_bars({"A": [(t, c, c + 0.5, c - 0.5, c) for t, c in enumerate(prices)]})
    # t2: 11 > max(high t0, t1) = 10.5: buy; t3: 10.2 >= min(low t1, t2) = 9.5: hold;
    # t4: 9 < min(low t2, t3) = 9.7: exit; t5: 8 <= 10.7; t6: 9.9 > max(high t4, t5) = 9.5: buy
    signals, _ = drive(DonchianBreakout(period=2), bars)
    assert sides(signals) == [(2, "buy"), (4, "exit"), (6, "buy")]


def test_rsi_enters_below_low_and_exits_above_high(make_bars):
    prices = [10, 9, 8, 7, 8, 9, 10, 6]
    # period 2; changes -1 -1 -1 +1 +1 +1 -4
    # t2: gain 0, loss 1 -> RSI 0: buy
    # t3: gain 0, loss 1 -> 0 (held); t4: gain .5, loss .5 -> 50
    # t5: gain .75, loss .25 -> 75 > 70: exit; t6: .875/.125 -> 87.5 (flat)
    # t7: gain .4375, loss 2.0625 -> 17.5 < 30: buy
    signals, _ = drive(RSIStrategy(period=2, low=30, high=70), make_bars({"A": closes(prices)}))
    assert sides(signals) == [(2, "buy"), (5, "exit"), (7, "buy")]


def test_buy_and_hold_buys_each_symbol_at_its_first_bar(make_bars):
    bars = make_bars({"A": closes([10] * 6), "B": closes([20] * 4, start=2), "C": closes([5, 5, 5, 5, 5, 5]),
                      "D": closes([7, 7], start=5)})
    signals, _ = drive(BuyAndHold(), bars)
    assert [(t, s, side) for t, s, side, _ in signals] == [
        (0, "A", "buy"), (0, "C", "buy"), (2, "B", "buy"), (5, "D", "buy")]
    assert {w for *_, w in signals} == {0.25}  # 1/N of the sleeve per symbol


def test_one_strategy_object_in_runs_of_different_symbols(make_bars):
    """The signals a built-in strategy sends are made once per run's symbols: a second run
    on other symbols gets its own (symbols and 1/N weight)."""
    strategy = BuyAndHold()
    first, _ = drive(strategy, make_bars({"A": closes([10] * 3), "B": closes([20] * 3)}))
    second, _ = drive(strategy, make_bars({"C": closes([5] * 3), "D": closes([6] * 3), "E": closes([7] * 3)}))
    again, _ = drive(strategy, make_bars({"A": closes([10] * 3), "B": closes([20] * 3)}))
    assert [(s, w) for _, s, _, w in first] == [("A", 0.5), ("B", 0.5)] == [(s, w) for _, s, _, w in again]
    assert [(s, w) for _, s, _, w in second] == [("C", 1 / 3), ("D", 1 / 3), ("E", 1 / 3)]


# ------------------------------------------------------------------------------ Wilder RSI


def wilder_rsi(prices, n):
    """Textbook Wilder RSI: the first averages are simple means of the first n changes, then
    avg = (avg x (n - 1) + x) / n. NaN during the warm-up."""
    prices = np.asarray(prices, dtype=float)
    change = np.diff(prices)
    gain, loss = np.clip(change, 0, None), np.clip(-change, 0, None)
    out = np.full(len(prices), np.nan)
    if len(change) < n:
        return out
    avg_gain, avg_loss = gain[:n].mean(), loss[:n].mean()

    def rsi(g, l):
        if l == 0:
            return 50.0 if g == 0 else 100.0
        return 100.0 - 100.0 / (1.0 + g / l)

    out[n] = rsi(avg_gain, avg_loss)
    for i in range(n, len(change)):
        avg_gain = (avg_gain * (n - 1) + gain[i]) / n
        avg_loss = (avg_loss * (n - 1) + loss[i]) / n
        out[i + 1] = rsi(avg_gain, avg_loss)
    return out


class RecordingRSI(RSIStrategy):
    """Records the RSI the strategy trades on at every bar (and trades on it as usual)."""

    def __init__(self, **params):
        super().__init__(**params)
        self.value = ft.rsi(self.period)
        self.features = self.features + (self.value,)
        self.wake_on = None  # called on every bar
        self.seen = {}

    def on_bar(self, ctx):
        self.seen[ctx.t] = ctx.now(self.value)
        return super().on_bar(ctx)


def test_wilder_rsi_matches_the_textbook(make_bars):
    rng = np.random.default_rng(3)
    a = np.round(100 * np.cumprod(1 + rng.normal(0, 0.02, 60)), 2)
    b = np.round(50 * np.cumprod(1 + rng.normal(0, 0.03, 45)), 2)
    b_days = [d for d in range(10, 60) if d not in (20, 21, 33, 40, 41)]  # late start and gaps
    bars = make_bars({"A": closes(a), "B": list(zip(b_days, b))})
    strategy = RecordingRSI(period=14)
    drive(strategy, bars)
    expected_a = wilder_rsi(a, 14)
    expected_b = wilder_rsi(b, 14)  # over B's own bars
    for t in range(60):
        got = strategy.seen[t]
        np.testing.assert_allclose(got[0], expected_a[t], rtol=1e-9, equal_nan=True)
        if t in b_days:
            np.testing.assert_allclose(got[1], expected_b[b_days.index(t)], rtol=1e-9, equal_nan=True)
    assert np.isnan(strategy.seen[13][0]) and not np.isnan(strategy.seen[14][0])
    assert np.isnan(strategy.seen[b_days[13]][1]) and not np.isnan(strategy.seen[b_days[14]][1])


def test_rsi_without_losses_is_100_and_without_change_50(make_bars):
    strategy = RecordingRSI(period=2)
    drive(strategy, make_bars({"UP": closes([1, 2, 3, 4]), "FLAT": closes([5, 5, 5, 5])}))
    assert strategy.seen[2].tolist() == [50.0, 100.0]  # symbols sorted: FLAT, UP
    assert math.isnan(strategy.seen[1][0])


def test_hand_computed_rsi_value(make_bars):
    # period 3, changes +2 -1 +1 -> gain 1, loss 1/3 -> RS 3 -> RSI 75; next change -2:
    # gain 2/3, loss (2/3 + 2)/3 = 8/9 -> RS 0.75 -> RSI 100 - 100/1.75 = 42.857142...
    strategy = RecordingRSI(period=3)
    drive(strategy, make_bars({"A": closes([10, 12, 11, 12, 10])}))
    assert strategy.seen[3][0] == pytest.approx(75.0, rel=1e-12)
    assert strategy.seen[4][0] == pytest.approx(100 - 100 / 1.75, rel=1e-12)


# ------------------------------------------------------------------------------ many symbols


def reference_sma_signals(series, start, fast, slow):
    """Per-symbol SMA cross, written plainly: [(bar, side)]."""
    out, held = [], False
    for i in range(slow - 1, len(series)):
        f = sum(series[i - fast + 1:i + 1]) / fast
        s = sum(series[i - slow + 1:i + 1]) / slow
        if not held and f > s:
            out.append((start + i, "buy"))
            held = True
        elif held and f < s:
            out.append((start + i, "exit"))
            held = False
    return out


def reference_momentum_signals(series, start, lookback):
    out, held = [], False
    for i in range(lookback, len(series)):
        change = series[i] / series[i - lookback] - 1
        if not held and change > 0:
            out.append((start + i, "buy"))
            held = True
        elif held and change <= 0:
            out.append((start + i, "exit"))
            held = False
    return out


@pytest.fixture
def universe(make_bars):
    """30 symbols x 80 days, random walks (rounded to cents); every third symbol starts late."""
    rng = np.random.default_rng(11)
    spec, series = {}, {}
    for k in range(30):
        start = int(rng.integers(5, 30)) if k % 3 == 0 else 0
        values = np.round(50 * np.cumprod(1 + rng.normal(0, 0.02, 80 - start)), 2).tolist()
        name = f"S{k:02d}"
        spec[name] = closes(values, start=start)
        series[name] = (start, values)
    return make_bars(spec), series


def test_sma_cross_vectorized_over_many_symbols(universe):
    bars, series = universe
    signals, _ = drive(SMACross(fast=3, slow=8), bars)
    for name, (start, values) in series.items():
        got = [(t, side) for t, s, side, _ in signals if s == name]
        assert got == reference_sma_signals(values, start, 3, 8), name
    assert {w for _, _, side, w in signals if side == "buy"} == {1 / 30}
    assert len(signals) > 60  # the data really trade


def test_momentum_vectorized_over_many_symbols(universe):
    bars, series = universe
    signals, _ = drive(Momentum(lookback=5), bars)
    for name, (start, values) in series.items():
        got = [(t, side) for t, s, side, _ in signals if s == name]
        assert got == reference_momentum_signals(values, start, 5), name


def test_builtins_run_through_the_engine(make_bars):
    bars = make_bars({"A": closes([10, 10, 10, 11, 12, 13, 12, 10, 9, 9, 10, 12])})
    result = BacktestEngine(SMACross(fast=2, slow=3), BacktestConfig(initial_capital=D(1000), warehouse=None,
                                                                      log_dir=None)).run(bars)
    # signals at bars 3 (buy), 7 (exit), 10 (buy) fill at the next open (= that bar's close here):
    # floor(1000 / 11) = 90, but at 12 the cash buys 83 (cash 4); sell 83 at 9 (cash 751);
    # floor(751 / 10) = 75, at 12 the cash buys 62
    assert [(ts.day - 1, float(q), float(p)) for ts, q, p in
            result.fills.select("ts", "quantity", "price").iter_rows()] == [(4, 83, 12), (8, -83, 9), (11, 62, 12)]
    assert result.strategy_id == "sma_cross"


# ------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize(("make", "messages"), [
    (lambda: SMACross(fast=0), ["sma_cross fast must be a whole number >= 1, got 0"]),
    (lambda: SMACross(fast=2.5, slow="x"), ["sma_cross fast must be a whole number >= 1, got 2.5",
                                            "sma_cross slow must be a whole number >= 1, got 'x'"]),
    (lambda: SMACross(fast=5, slow=5), ["sma_cross fast (5) must be less than slow (5)"]),
    (lambda: SMACross(fast=30, slow=10), ["sma_cross fast (30) must be less than slow (10)"]),
    (lambda: Momentum(lookback=0), ["momentum lookback must be a whole number >= 1, got 0"]),
    (lambda: Momentum(lookback=True), ["momentum lookback must be a whole number >= 1, got True"]),
    (lambda: RSIStrategy(period=-1), ["rsi period must be a whole number >= 1, got -1"]),
    (lambda: RSIStrategy(low=70, high=30), ["rsi needs 0 < low < high < 100, got low=70, high=30"]),
    (lambda: RSIStrategy(low=0), ["rsi needs 0 < low < high < 100, got low=0, high=70"]),
    (lambda: RSIStrategy(high=100), ["rsi needs 0 < low < high < 100, got low=30, high=100"]),
    (lambda: RSIStrategy(low="30"), ["rsi needs 0 < low < high < 100, got low='30', high=70"]),
    (lambda: DonchianBreakout(period=1.0), ["donchian period must be a whole number >= 1, got 1.0"]),
    # order options, checked as a Rule checks them
    (lambda: SMACross(stop_loss=2), ["stop_loss is a fraction of the entry price below 1 (0.05 = 5%), got 2"]),
    (lambda: Momentum(stop_loss=0.05, trail=0.1), ["give one stop per position, not stop_loss and trail"]),
    (lambda: BuyAndHold(take_profit=-0.1), ["take_profit must be a finite number > 0, got -0.1"]),
    (lambda: RSIStrategy(trail="x"), ["trail must be a finite number > 0, got 'x'"]),
])
def test_parameter_validation(make, messages):
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.problems == messages


def test_defaults_names_and_repr():
    assert (SMACross().fast, SMACross().slow) == (10, 30)
    assert Momentum().lookback == 20
    assert (RSIStrategy().period, RSIStrategy().low, RSIStrategy().high) == (14, 30, 70)
    assert DonchianBreakout().period == 20
    assert repr(SMACross(fast=3, slow=5)) == "SMACross(fast=3, slow=5)"
    assert repr(BuyAndHold()) == "BuyAndHold()"
    assert repr(SMACross(fast=3, slow=5, stop_loss=0.05)) == "SMACross(fast=3, slow=5, stop_loss=0.05)"
    assert BUILTINS == {"buy_and_hold": BuyAndHold, "sma_cross": SMACross, "momentum": Momentum,
                        "rsi": RSIStrategy, "donchian": DonchianBreakout}


# ------------------------------------------------------------------------------ order options


def test_builtins_take_a_rules_order_options():
    for make in BUILTINS.values():
        strategy = make(stop_loss=0.05, take_profit=0.1)
        assert (strategy.orders.stop_loss, strategy.orders.take_profit) == (0.05, 0.1)
        assert make(trail=0.08).orders.trail == 0.08
        assert make().orders is None and make(stop_loss=None).orders is None


def test_sma_cross_with_a_stop_loss_through_the_engine(make_bars):
    bars = make_bars({"A": [*closes([10, 10, 10, 11]), (4, 12, 12, 12, 12), (5, 12, 13, 10.5, 12.5),
                            *closes([13, 12, 10, 9, 9, 10, 12], start=6)]})
    result = BacktestEngine(SMACross(fast=2, slow=3, stop_loss=0.10),
                            BacktestConfig(initial_capital=D(1000), warehouse=None, log_dir=None)).run(bars)
    # buy at bar 3 (SMA2 10.5 > SMA3 10.33): 83 at bar 4's open of 12 (clipped from 90; cash 4), stop
    # 12 x 0.9 = 10.8, live from bar 5, whose low 10.5 reaches it: sold at 10.8 (cash 900.40). The
    # entry still holds (12.25 > 11.83): 69 at bar 6's open of 13 (clipped from 72; cash 3.40), stop
    # 11.70; bar 8 opens at 10, through it: sold at the open (cash 693.40). Buy at bar 11 (9.5 > 9.33):
    # 57 at 12 (clipped from 69). Without the stop the first position is held to bar 9's open.
    assert [(ts.day - 1, float(q), float(p), kind) for ts, q, p, kind in
            result.fills.select("ts", "quantity", "price", "order_type").iter_rows()] == [
        (4, 83, 12, "market"), (5, -83, 10.8, "stop_loss"), (6, 69, 13, "market"), (8, -69, 10, "stop_loss"),
        (12, 57, 12, "market")]


def test_an_order_option_of_0_means_none(make_bars):
    """So that a TOML grid can try no stop beside stops: the parameter is kept, the rule has none."""
    strategy = SMACross(fast=2, slow=3, stop_loss=0, take_profit=0.0)
    assert strategy.params == {"fast": 2, "slow": 3, "stop_loss": 0, "take_profit": 0.0}
    assert strategy.orders is None and SMACross(stop_loss=0, trail=0.08).orders.trail == 0.08
    bars = make_bars({"A": [*closes([10, 10, 10, 11]), (4, 12, 12, 12, 12), (5, 12, 13, 10.5, 12.5),
                            *closes([13, 12, 10, 9, 9, 10, 12], start=6)]})
    config = BacktestConfig(initial_capital=D(1000), warehouse=None, log_dir=None)
    fills = [BacktestEngine(s, config).run(bars).fills.select("ts", "quantity", "price").rows()
             for s in (strategy, SMACross(fast=2, slow=3))]
    assert fills[0] == fills[1] and len(fills[0]) > 1
    with pytest.raises(ConfigError, match="stop_loss"):
        SMACross(stop_loss=False)
