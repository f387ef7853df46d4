"""Strategies that misbehave (issue 20): odd weights, endless signals, exits, interrupts, sleeves
that outgrow the engine's bounds. Each ends the run with a clear error naming the strategy and
bar, the run recorded as failed; nothing is silently missing."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import duckdb
import numpy as np
import pytest

from sqlorch import BacktestConfig, BacktestEngine, Signal, StrategyError

buy, exit_ = Signal.buy, Signal.exit
FLAT = {"A": [(d, 10, 10) for d in range(6)]}


def memory(**kwargs) -> BacktestConfig:
    return BacktestConfig(warehouse=None, log_dir=None, **kwargs)


def on_file(tmp_path, **kwargs) -> BacktestConfig:
    return BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=str(tmp_path / "logs"), **kwargs)


def status_of(tmp_path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute("SELECT status, error FROM runs").fetchall()


# -- weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [np.float32(0.5), np.float64(0.5), D("0.5"), 0.5, np.int64(1) / 2])
def test_numpy_scalars_and_decimals_are_weights(make_bars, script, weight):
    result = BacktestEngine(script({0: [buy("A", weight)]}), memory(initial_capital=D(1000))).run(make_bars(FLAT))
    # floor(0.5 x 1000 / 10) = 50 shares at the next open, 10
    assert result.fills["quantity"].to_list() == [D(50)]


@pytest.mark.parametrize("weight", [2, 1e300])
def test_weights_above_one_are_sized_and_clipped_by_capital(make_bars, script, weight):
    result = BacktestEngine(script({0: [buy("A", weight)]}), memory(initial_capital=D(1000))).run(make_bars(FLAT))
    # asks for 2000 (or far more) worth at 10; the cash affords floor(1000 / 10) = 100
    assert result.fills["quantity"].to_list() == [D(100)]


@pytest.mark.parametrize(("weight", "shown"), [(float("nan"), "nan"), (-0.1, "-0.1"), (float("inf"), "inf")])
def test_nan_infinite_and_negative_weights_fail_naming_strategy_and_bar(make_bars, script, day, weight, shown):
    with pytest.raises(StrategyError) as info:
        BacktestEngine(script({2: lambda ctx: [buy("A", weight)]}, name="odd"), memory()).run(make_bars(FLAT))
    assert info.value.strategy_id == "odd" and info.value.bar_ts == day(2)
    assert f"Signal weight must be a finite number >= 0, got {shown}" in str(info.value)


# -- too many signals, exits, interrupts ------------------------------------------------------


class Endless:
    """Returns an endless generator of signals at bar 1."""

    def on_bar(self, ctx):
        if ctx.t == 1:
            return (buy("A", 0.1) for _ in itertools.count())
        return None


def test_an_endless_generator_fails_after_the_signal_cap(make_bars, tmp_path, day):
    with pytest.raises(StrategyError) as info:
        BacktestEngine(Endless(), on_file(tmp_path)).run(make_bars(FLAT))
    assert info.value.strategy_id == "endless" and info.value.bar_ts == day(1)
    assert "on_bar returned more than 100,000 signals at one bar" in str(info.value)
    assert status_of(tmp_path)[0][0] == "failed"


class Exiting:
    def on_bar(self, ctx):
        if ctx.t == 2:
            raise SystemExit(3)
        return None


def test_system_exit_in_a_strategy_fails_the_run(make_bars, tmp_path, day):
    with pytest.raises(StrategyError) as info:
        BacktestEngine(Exiting(), on_file(tmp_path)).run(make_bars(FLAT))
    assert info.value.strategy_id == "exiting" and info.value.bar_ts == day(2)
    assert isinstance(info.value.error, SystemExit)
    (status, error), = status_of(tmp_path)
    assert status == "failed" and "SystemExit: 3" in error


class Interrupted:
    def on_bar(self, ctx):
        if ctx.t == 2:
            raise KeyboardInterrupt
        return None


def test_an_interrupt_stops_the_run_and_leaves_it_failed(make_bars, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        BacktestEngine(Interrupted(), on_file(tmp_path)).run(make_bars(FLAT))
    (status, error), = status_of(tmp_path)
    assert status == "failed" and error.startswith("KeyboardInterrupt")
    (log,) = (tmp_path / "logs").iterdir()
    assert '"event":"backtest.backtest_failed"' in log.read_text().splitlines()[-1]


# -- the bounds of SPEC §3 -----------------------------------------------------------------------


def test_a_sleeve_past_9e12_fails_the_run_with_that_reason(make_bars, script, day):
    # 1e12 buys 1e10 shares at 100; at 1,000 the sleeve is worth 1e13 when it sizes again
    bars = make_bars({"A": [(0, 100, 100), (1, 100, 100), (2, 1000, 1000), (3, 1000, 1000)]})
    strategy = script({0: [buy("A", 1.0)], 2: [buy("A", 0.5)]}, name="big")
    with pytest.raises(StrategyError) as info:
        BacktestEngine(strategy, memory(initial_capital=D(10**12))).run(bars)
    assert info.value.strategy_id == "big" and info.value.bar_ts == day(2)
    assert "sleeve 'big' reached 10,000,000,000,000, past 9e12" in str(info.value)


# -- progress ------------------------------------------------------------------------------------


def test_progress_moves_at_least_every_half_second_on_slow_strategies(make_bars, script, monkeypatch):
    import sqlorch.engine.stepper

    clock = itertools.count(step=0.6)  # every reading of the clock: 0.6 s later
    monkeypatch.setattr(sqlorch.engine.stepper.time, "monotonic", lambda: next(clock))
    calls = []
    bars = make_bars({"A": [(d, 10, 10) for d in range(10)]})
    BacktestEngine(script({d: [] for d in range(10)}), memory()).run(bars, progress=lambda done, _: calls.append(done))
    assert calls[:9] == list(range(1, 10))  # every bar, not every 64th
