"""Small immutable domain types: sides, signals, modes and decision kinds."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import Decimal


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


class ConflictOutcome(enum.StrEnum):
    """How a conflict was settled: the standing orders netted into one, some stood and the
    others were cancelled, or every order was cancelled."""

    NETTED = "netted"
    RESOLVED = "resolved"
    ALL_CANCELLED = "all_cancelled"


class DecisionKind(enum.StrEnum):
    """The fate of one order, as recorded in the `decisions` table."""

    ACCEPTED = "accepted"  # filled in full
    CLIPPED = "clipped"  # filled in part: the sleeve's cash did not cover all of it
    REJECTED = "rejected"  # not filled: no cash for even one lot
    EXPIRED = "expired"  # not filled: the symbol had no later bar
    CANCELLED = "cancelled"  # not filled: replaced by a newer signal on the same symbol


def weight_number(value: object) -> float | None:
    """A weight as a float: from an int, float, Decimal or numpy scalar (not a bool); None if
    it is none of these."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        item = value.item()
        return float(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else None
    return None


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's request: hold `weight` x sleeve equity in `symbol` (buy/sell) or go flat (exit).

    Build with `Signal.buy`, `Signal.sell` or `Signal.exit`. `weight` is a fraction of the
    sleeve's equity at the close of the signalling bar: any finite number >= 0 (an int, float,
    numpy scalar or Decimal, kept as a float). Above 1 it asks for more than the sleeve has,
    which is sized as usual and then clipped or rejected by the capital rule. NaN, infinite or
    negative weights raise ValueError (in a strategy: the run fails naming it and the bar).
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
        if not isinstance(self.reason, str):
            raise ValueError(f"Signal reason must be a string, got {self.reason!r}"
                             + (" (Signal.exit takes no weight)" if self.side == Side.EXIT else ""))
        number = weight_number(weight)
        if number is None or not math.isfinite(number) or number < 0:
            raise ValueError(f"Signal weight must be a finite number >= 0, got {weight!r}")
        object.__setattr__(self, "weight", number)

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
