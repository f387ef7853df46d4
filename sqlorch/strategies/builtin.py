"""The built-in strategies. All are long-only and equal-weight: each symbol's position targets
1/N of the sleeve's equity (N = symbols in the run). They signal only on a change of state:
a buy when a flat symbol's entry condition holds, an exit when a held symbol's exit
condition holds.

Their conditions are declared features (sqlorch.engine.features), computed once per run and read
one bar at a time; `wake_on` with `wake_on_rise` lets the stepper skip the bars where no
condition turned true (the strategies would return nothing there: a buy needs the entry
condition true on a flat symbol, an exit the exit condition true on a held one, and the two
conditions exclude each other, so a symbol can only become ready to trade when one of them
rises, or right after a signal of the strategy, when the stepper calls it anyway).
"""

from __future__ import annotations

import numpy as np

from sqlorch.engine import features as ft
from sqlorch.engine.context import BarContext
from sqlorch.engine.domain import Signal
from sqlorch.errors import ConfigError


def _check(problems: list[tuple[bool, str]]) -> None:
    failed = [message for ok, message in problems if not ok]
    if failed:
        raise ConfigError(failed)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class _EqualWeightLongOnly:
    """Turns per-symbol entry/exit conditions (boolean features) into buy and exit signals."""

    params: dict
    entry: ft.Feature
    exit: ft.Feature | None = None

    _signals: tuple[tuple[str, ...], list[Signal], list[Signal]] = ((), [], [])  # symbols, exits, buys

    def _declare(self, entry: ft.Feature, exit: ft.Feature | None) -> None:
        # a symbol trades only on its own bars: the conditions include having one
        self.entry = entry & ft.has_bar()
        self.exit = exit & ft.has_bar() if exit is not None else None
        self.features = tuple(f for f in (self.entry, self.exit) if f is not None)
        self.wake_on = self.features
        self.wake_on_rise = True  # a condition turning false never makes them trade

    def on_bar(self, ctx: BarContext) -> list[Signal]:
        held = ctx.positions > 0
        entry = ctx.now(self.entry)
        # per symbol, the condition that matters: exit where held, entry where flat
        ready = (entry & ~held if self.exit is None else np.where(held, ctx.now(self.exit), entry)).nonzero()[0]
        if not len(ready):  # the usual case
            return []
        _, exits, buys = self._signals_for(ctx.symbols)
        ready, holding = ready.tolist(), held[ready].tolist()
        return ([exits[j] for j, h in zip(ready, holding) if h]
                + [buys[j] for j, h in zip(ready, holding) if not h])

    def _signals_for(self, symbols: tuple[str, ...]) -> tuple[tuple[str, ...], list[Signal], list[Signal]]:
        """Per symbol, the exit and the buy signal (1/N of the sleeve) this strategy sends:
        made once per run's symbols, and shared (signals are immutable)."""
        if self._signals[0] is not symbols and self._signals[0] != symbols:
            name, weight = type(self).__name__, 1.0 / len(symbols)
            self._signals = (symbols, [Signal.exit(s, reason=f"{name} exit") for s in symbols],
                             [Signal.buy(s, weight, reason=f"{name} entry") for s in symbols])
        return self._signals

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class BuyAndHold(_EqualWeightLongOnly):
    """Buy every symbol (1/N of the sleeve each) at its first bar and hold it to the end."""

    def __init__(self) -> None:
        self.params = {}
        self._declare(ft.first_bar(), None)


class SMACross(_EqualWeightLongOnly):
    """Long while the `fast`-bar simple moving average of closes is above the `slow` one:
    enter when fast > slow, exit when fast < slow."""

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        _check([(_whole(fast), f"sma_cross fast must be a whole number >= 1, got {fast!r}"),
                (_whole(slow), f"sma_cross slow must be a whole number >= 1, got {slow!r}"),
                (not (_whole(fast) and _whole(slow)) or fast < slow,
                 f"sma_cross fast ({fast}) must be less than slow ({slow})")])
        self.fast, self.slow = fast, slow
        self.params = {"fast": fast, "slow": slow}
        self._declare(ft.sma(fast) > ft.sma(slow), ft.sma(fast) < ft.sma(slow))


class Momentum(_EqualWeightLongOnly):
    """Long while the `lookback`-bar return (close_t / close_(t-lookback) - 1) is positive."""

    def __init__(self, lookback: int = 20) -> None:
        _check([(_whole(lookback), f"momentum lookback must be a whole number >= 1, got {lookback!r}")])
        self.lookback = lookback
        self.params = {"lookback": lookback}
        self._declare(ft.change(lookback) > 0, ft.change(lookback) <= 0)


class RSIStrategy(_EqualWeightLongOnly):
    """Wilder's RSI over `period` bars (see `sqlorch.engine.features.rsi`): enter below `low`, exit
    above `high`."""

    def __init__(self, period: int = 14, low: float = 30, high: float = 70) -> None:
        _check([(_whole(period), f"rsi period must be a whole number >= 1, got {period!r}"),
                (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high < 100,
                 f"rsi needs 0 < low < high < 100, got low={low!r}, high={high!r}")])
        self.period, self.low, self.high = period, low, high
        self.params = {"period": period, "low": low, "high": high}
        self._declare(ft.rsi(period) < low, ft.rsi(period) > high)


class DonchianBreakout(_EqualWeightLongOnly):
    """Enter when the close breaks above the highest high of the prior `period` bars; exit
    when it breaks below their lowest low."""

    def __init__(self, period: int = 20) -> None:
        _check([(_whole(period), f"donchian period must be a whole number >= 1, got {period!r}")])
        self.period = period
        self.params = {"period": period}
        self._declare(ft.field("close") > ft.highest(period, "high", lag=1),
                      ft.field("close") < ft.lowest(period, "low", lag=1))
