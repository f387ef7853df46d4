"""Strategies for the grid tests, in a module of their own so that worker processes (and Ray
workers) can import them by name."""

from __future__ import annotations

import numpy as np

from sqlorch import Rule, Signal
from sqlorch.features import sma
from sqlorch.strategies import SMACross


class Exploding(SMACross):
    """SMACross that raises at bar `explode_at` (never if negative); called on every bar."""

    def __init__(self, fast: int = 5, slow: int = 20, explode_at: int = -1):
        super().__init__(fast=fast, slow=slow)
        self.wake_on = None
        self.explode_at = explode_at
        self.params = {"fast": fast, "slow": slow, "explode_at": explode_at}

    def on_bar(self, ctx):
        if ctx.t == self.explode_at:
            raise ValueError(f"boom at {ctx.t}")
        return super().on_bar(ctx)


class Flipper:
    """Called on every bar (no wake_on): every `period` bars it flips between long and short
    (flat when shorts are not allowed) on each symbol, `weight` of the sleeve each, and signals
    symbols before their first bar too (rejected: no price yet)."""

    def __init__(self, period: int = 5, weight: float = 0.4):
        if period < 1:
            raise ValueError("period must be at least 1")
        self.period = period
        self.weight = weight
        self.started = False

    def on_start(self, ctx) -> None:
        self.started = True

    def on_bar(self, ctx):
        if ctx.t % self.period:
            return None
        side = Signal.buy if (ctx.t // self.period) % 2 == 0 else Signal.sell
        return (side(symbol, self.weight) for symbol in ctx.symbols)  # a generator, on purpose


class BadSignals:
    """Returns something that is not a Signal at bar `at`, or an unknown symbol at `at + 1`."""

    def __init__(self, at: int = 3, kind: str = "type"):
        self.at = at
        self.kind = kind

    def on_bar(self, ctx):
        if ctx.t == self.at:
            return ["not a signal"] if self.kind == "type" else [Signal.buy("NOPE", 0.5)]
        if ctx.t == 1:
            return Signal.buy(ctx.symbols[0], 0.5)
        return None


class Threshold:
    """Long each symbol while its close is above `level` x its first close; takes **kwargs
    (so any parameter name is accepted)."""

    def __init__(self, level: float = 1.0, **extra):
        self.level = level
        self.extra = extra
        self.first: np.ndarray | None = None

    def on_bar(self, ctx):
        closes = ctx.marks
        if self.first is None:
            self.first = closes.copy()
        above = closes > self.first * self.level
        held = ctx.positions > 0
        return ([Signal.buy(s, 1.0 / len(ctx.symbols)) for s, a, h in zip(ctx.symbols, above, held) if a and not h]
                + [Signal.exit(s) for s, a, h in zip(ctx.symbols, above, held) if h and not a])


def double(shared, item):
    """A task for executors: the shared value times the item."""
    return shared * item


def die(shared, item):
    """A task that kills its worker process."""
    import os

    os._exit(3)


class StoppedCross(Rule):
    """An SMA cross whose entries carry a stop-loss and an optional take-profit: the grid's order
    parameters, run by the compiled engine as a Rule (a take-profit of 0: none)."""

    def __init__(self, fast: int = 5, slow: int = 20, stop_loss: float = 0.05, take_profit: float = 0.0):
        super().__init__(sma(fast) > sma(slow), sma(fast) < sma(slow), stop_loss=stop_loss,
                         take_profit=take_profit or None)
        self.params = {"fast": fast, "slow": slow, "stop_loss": stop_loss, "take_profit": take_profit}


class StoppedBuyer:
    """A Python strategy called on every bar: buys every symbol it does not hold at `weight`,
    with a stop-loss of `stop_loss` (a fraction), or a trailing stop instead when `trail` is not 0."""

    def __init__(self, stop_loss: float = 0.05, trail: float = 0.0, weight: float = 0.3):
        self.stop_loss, self.trail, self.weight = stop_loss, trail, weight

    def on_bar(self, ctx):
        options = {"trail": self.trail} if self.trail else {"stop_loss": self.stop_loss}
        return [Signal.buy(s, self.weight, **options) for s, held, here in zip(ctx.symbols, ctx.positions, ctx.has_bar)
                if held == 0 and here]
