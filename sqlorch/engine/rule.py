"""`Rule`: a strategy declared from features (SPEC §2), decided entirely inside the compiled
engine: no Python runs for it per bar.

    from sqlorch import Rule
    from sqlorch.features import sma
    trend = Rule(entry=sma(10) > sma(30), exit=sma(10) < sma(30))

On every bar where `entry` is true for a symbol the sleeve does not hold, a buy (a sell with
`side="short"`) of `weight` x sleeve equity ("equal" = 1 / the number of symbols); where `exit`
is true for a held symbol, an exit. A symbol trades only on its own bars. `on_bar` gives the
same signals in Python (what the engine would decide), for reading and for tests.

Order options (SPEC §8) go on every entry: `Rule(entry, exit, stop_loss=0.05, take_profit=0.10)`
or `trail=0.08`. A Rule takes only the fraction forms (`stop_loss`, `take_profit`, `trail`): it
has no price of its own to give `stop_loss_price`, `take_profit_price`, `limit` or `stop`, and
`expires` only applies to those; write a Python strategy for them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sqlorch.engine.context import BarContext
from sqlorch.engine.domain import ORDER_OPTIONS, Orders, Side, Signal, weight_number
from sqlorch.engine.features import Feature, has_bar
from sqlorch.errors import ConfigError

SIDES = ("long", "short")
RULE_OPTIONS = ("stop_loss", "take_profit", "trail")
"""The order options a Rule takes: fractions of each entry's fill price."""


class Rule:
    """A strategy from an `entry` and an optional `exit` condition (boolean features), a
    `weight` ("equal" or a number >= 0) and a `side` ("long" or "short"). `name` becomes the
    strategy id (default: the class name in snake_case). `orders`: `stop_loss`, `take_profit`
    and `trail`, fractions of each entry's fill price (SPEC §8), attached to every entry; the
    price forms, `limit`, `stop` and `expires` are for Python strategies' signals (a Rule has no
    price to give them). Invalid arguments raise one ConfigError listing every problem."""

    def __init__(self, entry: Feature, exit: Feature | None = None, weight: Any = "equal", side: str = "long",
                 name: str | None = None, **orders: Any):
        problems = []
        for what, condition in (("entry", entry), ("exit", exit)):
            if condition is None and what == "exit":
                continue
            if not isinstance(condition, Feature) or not condition.boolean:
                problems.append(f"{what} must be a condition built from sqlorch.features (a comparison such as "
                                f"sma(10) > sma(30), combined with & | ~), got {condition!r}")
        if side not in SIDES:
            problems.append(f"side must be one of {', '.join(SIDES)}, got {side!r}")
        if weight != "equal":
            number = weight_number(weight)
            if number is None or not math.isfinite(number) or number < 0:
                problems.append(f"weight must be \"equal\" or a finite number >= 0, got {weight!r}")
        self.orders: Orders | None = None
        priced = [k for k in orders if k in ORDER_OPTIONS and k not in RULE_OPTIONS]
        if priced:
            problems.append(f"a Rule takes the order options {', '.join(RULE_OPTIONS)} (fractions of each entry's "
                            f"fill price), not {', '.join(priced)}: a rule has no price to give them; write a Python "
                            "strategy returning Signal.buy(..., limit=...) for prices")
        elif orders:
            try:
                self.orders = Orders.of(Side.SELL if side == "short" else Side.BUY, **orders)
            except ValueError as exc:
                problems.append(str(exc))
        if name is not None and (not isinstance(name, str) or not name.strip()):
            problems.append("name must be a non-empty string")
        if problems:
            raise ConfigError(problems)
        if name is not None:
            self.name = name
        # a symbol trades only on its own bars: the conditions include having one
        self.entry = entry & has_bar()
        self.exit = exit & has_bar() if exit is not None else None
        self.weight = weight if weight == "equal" else float(weight_number(weight))
        self.side = side
        self.features = tuple(f for f in (self.entry, self.exit) if f is not None)
        self.wake_on = self.features
        self.wake_on_rise = True  # a condition turning false never makes a rule trade
        self._signals: tuple[tuple[str, ...], list[Signal], list[Signal]] = ((), [], [])

    def weight_for(self, symbols: int) -> float:
        """The weight of an entry when the run has `symbols` symbols."""
        return 1.0 / symbols if self.weight == "equal" else self.weight

    @property
    def label(self) -> str:
        """What its signals' reasons say it is: the class name."""
        return type(self).__name__

    def on_bar(self, ctx: BarContext) -> list[Signal]:
        """The rule's signals at this bar, as the compiled engine decides them."""
        held = ctx.positions != 0
        entry = ctx.now(self.entry)
        exits = (held & ctx.now(self.exit)) if self.exit is not None else np.zeros_like(held)
        entries = ~held & entry
        if not exits.any() and not entries.any():
            return []
        _, exit_signals, entry_signals = self._signals_for(ctx.symbols)
        return ([exit_signals[j] for j in np.flatnonzero(exits).tolist()]
                + [entry_signals[j] for j in np.flatnonzero(entries).tolist()])

    def _signals_for(self, symbols: tuple[str, ...]) -> tuple[tuple[str, ...], list[Signal], list[Signal]]:
        """Per symbol, the exit and the entry signal this rule sends: made once per run's
        symbols, and shared (signals are immutable)."""
        if self._signals[0] is not symbols and self._signals[0] != symbols:
            weight, side = self.weight_for(len(symbols)), Side.SELL if self.side == "short" else Side.BUY
            self._signals = (symbols, [Signal.exit(s, reason=f"{self.label} exit") for s in symbols],
                             [Signal(s, side, weight, f"{self.label} entry", self.orders) for s in symbols])
        return self._signals

    def __repr__(self) -> str:
        params = getattr(self, "params", None)
        if isinstance(params, dict):
            return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
        return f"Rule(entry={self.entry!r}, exit={self.exit!r}, weight={self.weight!r}, side={self.side!r})"

