"""The built-in strategies. All are long-only and equal-weight: each symbol's position targets
1/N of the sleeve's equity (N = symbols in the run). They signal only on a change of state:
a buy when a flat symbol's entry condition holds, an exit when a held symbol's exit
condition holds. Conditions are computed for all symbols at once with numpy.
"""

from __future__ import annotations

import numpy as np

from sqlorch.context import BarContext
from sqlorch.domain import Signal
from sqlorch.errors import ConfigError


def _check(problems: list[tuple[bool, str]]) -> None:
    failed = [message for ok, message in problems if not ok]
    if failed:
        raise ConfigError(failed)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class _EqualWeightLongOnly:
    """Turns per-symbol entry/exit conditions into buy and exit signals."""

    params: dict

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray] | None:
        """(entries, exits) as boolean arrays over `ctx.symbols`, or None for no signal."""
        raise NotImplementedError

    def on_bar(self, ctx: BarContext) -> list[Signal]:
        found = self.conditions(ctx)
        if found is None:
            return []
        entries, exits = found
        held = ctx.positions > 0
        tradable = ctx.has_bar
        symbols, weight = ctx.symbols, 1.0 / len(ctx.symbols)
        name = type(self).__name__
        return ([Signal.exit(symbols[j], reason=f"{name} exit") for j in np.flatnonzero(exits & held & tradable)]
                + [Signal.buy(symbols[j], weight, reason=f"{name} entry")
                   for j in np.flatnonzero(entries & ~held & tradable)])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class BuyAndHold(_EqualWeightLongOnly):
    """Buy every symbol (1/N of the sleeve each) at its first bar and hold it to the end."""

    def __init__(self) -> None:
        self.params = {}

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray]:
        return ctx.has_bar, np.zeros(len(ctx.symbols), dtype=bool)


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

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray] | None:
        closes = ctx.window("close", self.slow)
        if len(closes) < self.slow:
            return None
        fast, slow = closes[-self.fast:].mean(axis=0), closes.mean(axis=0)
        return fast > slow, fast < slow


class Momentum(_EqualWeightLongOnly):
    """Long while the `lookback`-bar return (close_t / close_(t-lookback) - 1) is positive."""

    def __init__(self, lookback: int = 20) -> None:
        _check([(_whole(lookback), f"momentum lookback must be a whole number >= 1, got {lookback!r}")])
        self.lookback = lookback
        self.params = {"lookback": lookback}

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray] | None:
        closes = ctx.window("close", self.lookback + 1)
        if len(closes) <= self.lookback:
            return None
        change = closes[-1] / closes[0] - 1
        return change > 0, change <= 0


class RSIStrategy(_EqualWeightLongOnly):
    """Wilder's RSI over `period` bars: enter below `low`, exit above `high`.

    The first average gain/loss is the simple mean of the first `period` changes, then
    avg = (avg x (period - 1) + change) / period. RSI = 100 - 100 / (1 + gain / loss);
    100 when there were no losses (50 when no change at all).
    """

    def __init__(self, period: int = 14, low: float = 30, high: float = 70) -> None:
        _check([(_whole(period), f"rsi period must be a whole number >= 1, got {period!r}"),
                (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high < 100,
                 f"rsi needs 0 < low < high < 100, got low={low!r}, high={high!r}")])
        self.period, self.low, self.high = period, low, high
        self.params = {"period": period, "low": low, "high": high}

    def on_start(self, ctx: BarContext) -> None:
        n = len(ctx.symbols)
        self._previous = np.full(n, np.nan)
        self._changes = np.zeros(n, dtype=int)
        self._gain = np.zeros(n)
        self._loss = np.zeros(n)

    def rsi(self, ctx: BarContext) -> np.ndarray:
        """Update the averages with the current bar; the RSI of every symbol (NaN in warm-up)."""
        close = ctx.values("close")
        step = ~np.isnan(close) & ~np.isnan(self._previous)
        change = np.where(step, close - self._previous, 0.0)
        gain, loss = np.maximum(change, 0.0), np.maximum(-change, 0.0)
        n = self.period
        seeding = step & (self._changes < n)
        smoothing = step & (self._changes >= n)
        self._gain = np.where(seeding, self._gain + gain / n, np.where(smoothing, (self._gain * (n - 1) + gain) / n, self._gain))
        self._loss = np.where(seeding, self._loss + loss / n, np.where(smoothing, (self._loss * (n - 1) + loss) / n, self._loss))
        self._changes = self._changes + step
        self._previous = np.where(np.isnan(close), self._previous, close)
        with np.errstate(divide="ignore", invalid="ignore"):
            rsi = 100.0 - 100.0 / (1.0 + self._gain / self._loss)
        rsi = np.where(self._loss == 0, np.where(self._gain == 0, 50.0, 100.0), rsi)
        return np.where(self._changes >= n, rsi, np.nan)

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray]:
        rsi = self.rsi(ctx)
        return rsi < self.low, rsi > self.high


class DonchianBreakout(_EqualWeightLongOnly):
    """Enter when the close breaks above the highest high of the prior `period` bars; exit
    when it breaks below their lowest low."""

    def __init__(self, period: int = 20) -> None:
        _check([(_whole(period), f"donchian period must be a whole number >= 1, got {period!r}")])
        self.period = period
        self.params = {"period": period}

    def conditions(self, ctx: BarContext) -> tuple[np.ndarray, np.ndarray] | None:
        highs = ctx.window("high", self.period + 1)
        if len(highs) <= self.period:
            return None
        lows = ctx.window("low", self.period + 1)
        close = ctx.values("close")
        return close > highs[:-1].max(axis=0), close < lows[:-1].min(axis=0)
