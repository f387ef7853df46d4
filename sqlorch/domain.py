"""Small immutable domain types: sides, signals, modes and decision kinds."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Side(enum.StrEnum):
    """What a signal asks for: go long, go short (or flatten), or go flat."""

    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"


class FillMode(enum.StrEnum):
    """When an order decided at the close of bar t fills."""

    NEXT_OPEN = "next_open"  # at the open of the symbol's next bar
    CLOSE = "close"  # at the close of bar t itself (same-bar)


class CapitalPolicy(enum.StrEnum):
    """What happens to an increasing order that costs more than the sleeve's cash."""

    CLIP = "clip"
    REJECT = "reject"


class OverweightPolicy(enum.StrEnum):
    """What happens when strategy weights add up to more than 1."""

    REJECT = "reject"
    NORMALIZE = "normalize"


class ConflictMode(enum.StrEnum):
    """How the orchestrator resolves orders of several strategies on one symbol and bar."""

    NET_SIGNAL = "net_signal"
    FIRST_WINS = "first_wins"
    CANCEL_BOTH = "cancel_both"
    WEIGHTED = "weighted"


class DecisionKind(enum.StrEnum):
    """The fate of one order, as recorded in the `decisions` table."""

    ACCEPTED = "accepted"  # filled in full
    CLIPPED = "clipped"  # filled in part: the sleeve's cash did not cover all of it
    REJECTED = "rejected"  # not filled: no cash for even one lot
    EXPIRED = "expired"  # not filled: the symbol had no later bar
    CANCELLED = "cancelled"  # not filled: replaced by a newer signal on the same symbol


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's request: hold `weight` x sleeve equity in `symbol` (buy/sell) or go flat (exit).

    Build with `Signal.buy`, `Signal.sell` or `Signal.exit`. `weight` is a fraction of the
    sleeve's equity at the close of the signalling bar, between 0 and 1 (inclusive).
    """

    symbol: str
    side: Side
    weight: float = 1.0
    reason: str = ""

    def __post_init__(self) -> None:
        weight = self.weight
        if type(weight) is float and 0.0 <= weight <= 1.0 and type(self.symbol) is str and self.symbol \
                and type(self.reason) is str:  # the usual case, checked first
            return
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ValueError(f"Signal symbol must be a non-empty string, got {self.symbol!r}")
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) \
                or not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"Signal weight must be a number between 0 and 1, got {self.weight!r}")
        if not isinstance(self.reason, str):
            raise ValueError(f"Signal reason must be a string, got {self.reason!r}"
                             + (" (Signal.exit takes no weight)" if self.side == Side.EXIT else ""))

    @classmethod
    def buy(cls, symbol: str, weight: float = 1.0, reason: str = "") -> Signal:
        """Target a long position worth `weight` x sleeve equity."""
        return cls(symbol, Side.BUY, weight, reason)

    @classmethod
    def sell(cls, symbol: str, weight: float = 1.0, reason: str = "") -> Signal:
        """Target a short worth `weight` x sleeve equity if shorts are allowed, else go flat."""
        return cls(symbol, Side.SELL, weight, reason)

    @classmethod
    def exit(cls, symbol: str, reason: str = "") -> Signal:
        """Target a flat position."""
        return cls(symbol, Side.EXIT, 0.0, reason)
