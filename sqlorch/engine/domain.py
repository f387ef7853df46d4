"""Small immutable domain types: sides, signals, modes and decision kinds."""

from __future__ import annotations

import enum
import math
import operator
from dataclasses import dataclass
from decimal import Decimal

from sqlorch.errors import did_you_mean


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
    TRIGGERED = "triggered"  # a protective order (stop-loss, take-profit, trailing stop) that fired and filled


class OrderType(enum.StrEnum):
    """What kind of order a decision or fill was (SPEC §8): a market order (to a target, an exit
    or a rebalance), an entry with a price condition, or a protective order."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"


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


ORDER_OPTIONS = ("stop_loss", "stop_loss_price", "take_profit", "take_profit_price", "trail", "limit", "stop",
                 "expires")
"""The order options of a buy or sell signal (SPEC §8), in the order they are listed."""


@dataclass(frozen=True, slots=True)
class Orders:
    """The order options of one buy or sell signal (SPEC §8), validated: every field None when
    not given. Fractions (`stop_loss`, `take_profit`, `trail`) are floats of the entry's fill
    price; prices (`*_price`, `limit`, `stop`) are Decimals; `expires` is a number of bars.

    Build with `Orders.of(side, **options)`, which raises one ValueError listing every problem:
    an unknown option (with a suggestion), a value that is not a finite number > 0 (fractions
    of a stop below 1, prices from 0.000001 to 1e9), two stops (`stop_loss`, `stop_loss_price`,
    `trail`), two take-profits, both `limit` and `stop`, `expires` that is not a whole number
    >= 1 or without `limit` or `stop`."""

    stop_loss: float | None = None
    stop_loss_price: Decimal | None = None
    take_profit: float | None = None
    take_profit_price: Decimal | None = None
    trail: float | None = None
    limit: Decimal | None = None
    stop: Decimal | None = None
    expires: int | None = None

    @classmethod
    def of(cls, side: Side, **options: object) -> Orders | None:
        """The options of a `side` signal, or None if none were given (all None)."""
        if not options:
            return None
        problems, values = [], {}
        for name, value in options.items():
            if name not in ORDER_OPTIONS:
                problems.append(f"unknown order option {name!r}{did_you_mean(name, ORDER_OPTIONS)}; "
                                f"options are {', '.join(ORDER_OPTIONS)}")
                continue
            if value is None:
                continue
            if name == "expires":
                try:
                    bars = operator.index(value) if not isinstance(value, bool) else 0  # ints, numpy integers
                except TypeError:
                    bars = 0
                if bars < 1:
                    problems.append(f"expires must be a whole number of bars >= 1, got {value!r}")
                else:
                    values[name] = bars
                continue
            number = weight_number(value)
            if number is None or not math.isfinite(number) or number <= 0:
                problems.append(f"{name} must be a finite number > 0, got {value!r}")
                continue
            if name in ("stop_loss", "trail", "take_profit"):
                if name != "take_profit" and number >= 1 and side == Side.BUY:
                    problems.append(f"{name} is a fraction of the entry price below 1 (0.05 = 5%), got {value!r}")
                    continue
                if name == "take_profit" and number >= 1 and side == Side.SELL:
                    problems.append(f"take_profit of a short is a fraction of the entry price below 1, got {value!r}")
                    continue
                values[name] = number
            else:
                price = value if isinstance(value, Decimal) else Decimal(repr(number))
                if not MIN_PRICE <= price <= MAX_PRICE:
                    problems.append(f"{name} must be from {MIN_PRICE} to {MAX_PRICE}, got {value!r}")
                    continue
                values[name] = price
        stops = [n for n in ("stop_loss", "stop_loss_price", "trail") if n in values]
        if len(stops) > 1:
            problems.append(f"give one stop per position, not {' and '.join(stops)}")
        if "take_profit" in values and "take_profit_price" in values:
            problems.append("give take_profit or take_profit_price, not both")
        if "limit" in values and "stop" in values:
            problems.append("give limit or stop for an entry, not both")
        if "expires" in values and "limit" not in values and "stop" not in values:
            problems.append("expires applies to limit and stop entries; give limit= or stop= with it")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values) if values else None

    @property
    def protective(self) -> bool:
        """Whether it attaches a stop-loss, take-profit or trailing stop."""
        return any(v is not None for v in (self.stop_loss, self.stop_loss_price, self.take_profit,
                                            self.take_profit_price, self.trail))

    @property
    def order_type(self) -> OrderType:
        """The entry's type: limit, stop or market."""
        return OrderType.LIMIT if self.limit is not None else OrderType.STOP if self.stop is not None \
            else OrderType.MARKET

    def as_dict(self) -> dict[str, float | int]:
        """The options given, as JSON-ready numbers (prices as floats), in ORDER_OPTIONS order."""
        return {name: (float(v) if isinstance(v, Decimal) else v) for name in ORDER_OPTIONS
                if (v := getattr(self, name)) is not None}


MIN_PRICE, MAX_PRICE = Decimal("0.000001"), Decimal(10**9)  # SPEC §3: the prices the engine holds


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's request: hold `weight` x sleeve equity in `symbol` (buy/sell) or go flat (exit).

    Build with `Signal.buy`, `Signal.sell` or `Signal.exit`. `weight` is a fraction of the
    sleeve's equity at the close of the signalling bar: any finite number >= 0 (an int, float,
    numpy scalar or Decimal, kept as a float). Above 1 it asks for more than the sleeve has,
    which is sized as usual and then clipped or rejected by the capital rule. NaN, infinite or
    negative weights raise ValueError (in a strategy: the run fails naming it and the bar).

    `orders`: the order options of a buy or sell (SPEC §8, see `Orders`), given to `buy` and
    `sell` as keywords: protective orders `stop_loss=0.05` or `stop_loss_price=`,
    `take_profit=0.10` or `take_profit_price=`, `trail=0.08`; entry conditions `limit=` or
    `stop=` (prices) and `expires=n` (bars). Invalid options raise ValueError; an exit takes none.
    """

    symbol: str
    side: Side
    weight: float = 1.0
    reason: str = ""
    orders: Orders | None = None

    def __post_init__(self) -> None:
        weight = self.weight
        if type(weight) is float and 0.0 <= weight <= 1.0 and type(self.symbol) is str and self.symbol \
                and type(self.reason) is str and self.orders is None:  # the usual case, checked first
            return
        if self.orders is not None:
            if not isinstance(self.orders, Orders):
                raise ValueError(f"Signal orders must be an Orders (give the options to Signal.buy or Signal.sell "
                                 f"as keywords), got {self.orders!r}")
            if self.side == Side.EXIT:
                raise ValueError("Signal.exit takes no order options (it closes the position at the next fill)")
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
    def buy(cls, symbol: str, weight: float = 1.0, reason: str = "", **orders: object) -> Signal:
        """Target a long position worth `weight` x sleeve equity; `orders`: the options of SPEC §8
        (e.g. `stop_loss=0.05, take_profit=0.10`)."""
        return cls(symbol, Side.BUY, weight, reason, Orders.of(Side.BUY, **orders) if orders else None)

    @classmethod
    def sell(cls, symbol: str, weight: float = 1.0, reason: str = "", **orders: object) -> Signal:
        """Target a short worth `weight` x sleeve equity if shorts are allowed, else go flat;
        `orders`: the options of SPEC §8 (mirrored for a short: the stop above the entry)."""
        return cls(symbol, Side.SELL, weight, reason, Orders.of(Side.SELL, **orders) if orders else None)

    @classmethod
    def exit(cls, symbol: str, reason: str = "", **orders: object) -> Signal:
        """Target a flat position. It takes no order options (ValueError if given)."""
        if orders:
            raise ValueError(f"Signal.exit takes no order options, got {', '.join(sorted(orders))}; it closes the "
                             "position at the next fill (cancelling its protective orders)")
        return cls(symbol, Side.EXIT, 0.0, reason)
