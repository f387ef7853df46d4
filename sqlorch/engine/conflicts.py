"""Conflict resolution: what stands when several strategies order one symbol on one bar.

A resolver is a small object registered under a name. It receives the bar's orders for one
symbol (one per strategy, in strategy-list order) and returns the ones that stand; the
others are cancelled. If its `nets` attribute is true, the standing orders are crossed
internally and only their net goes to the market (one order, one price, commission on the
net quantity split pro rata). The four `ConflictMode`s are registered resolvers; register
your own with `register_resolver(name, resolver)` and use `conflict_mode = name`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from sqlorch.engine.domain import ConflictMode
from sqlorch.errors import did_you_mean


@dataclass(frozen=True)
class ConflictOrder:
    """One strategy's order in a conflict, as a resolver sees it.

    `quantity` is the signed change requested, in shares (positive buys); `priority` is 1 for the
    highest (list position, or `priorities` when given); `weight` is the strategy's
    normalized capital weight.
    """

    order_id: int
    strategy_id: str
    symbol: str
    quantity: Decimal
    priority: int
    weight: Decimal

    @property
    def buying(self) -> bool:
        """Whether the order buys."""
        return self.quantity > 0


@runtime_checkable
class Resolver(Protocol):
    """Decides which of one symbol's conflicting orders stand."""

    nets: bool

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]: ...


def _directions(orders: Sequence[ConflictOrder]) -> set[bool]:
    return {o.buying for o in orders}


class NetSignal:
    """Every order stands; they are crossed internally and the net goes to the market."""

    nets = True

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]:
        return list(orders)


class FirstWins:
    """Only the highest-priority strategy's order stands."""

    nets = False

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]:
        return [min(orders, key=lambda o: o.priority)]


class CancelBoth:
    """If the orders disagree in direction, all are cancelled; if they agree, all stand."""

    nets = False

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]:
        return list(orders) if len(_directions(orders)) == 1 else []


class Weighted:
    """The direction with the larger sum of strategy weights wins; the other side is
    cancelled. A tie cancels both sides."""

    nets = False

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]:
        buying = sum((o.weight for o in orders if o.buying), Decimal(0))
        selling = sum((o.weight for o in orders if not o.buying), Decimal(0))
        if buying == selling and buying and selling:
            return []
        return [o for o in orders if o.buying == (buying > selling)]


_REGISTRY: dict[str, Resolver] = {
    ConflictMode.NET_SIGNAL.value: NetSignal(),
    ConflictMode.FIRST_WINS.value: FirstWins(),
    ConflictMode.CANCEL_BOTH.value: CancelBoth(),
    ConflictMode.WEIGHTED.value: Weighted(),
}


def register_resolver(name: str, resolver: Resolver) -> None:
    """Make `resolver` available as `conflict_mode = name` (replacing one of that name)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a resolver needs a non-empty name, got {name!r}")
    if not callable(getattr(resolver, "resolve", None)) or not isinstance(getattr(resolver, "nets", None), bool):
        raise TypeError("a resolver needs a resolve(orders) method and a boolean nets attribute")
    _REGISTRY[name] = resolver


def resolver_names() -> list[str]:
    """The names `conflict_mode` accepts."""
    return list(_REGISTRY)


def get_resolver(name: str) -> Resolver:
    """The resolver registered as `name`; ValueError with a hint if none is."""
    try:
        return _REGISTRY[str(name)]
    except KeyError:
        names = resolver_names()
        raise ValueError(f"{name!r} is not one of {', '.join(names)}{did_you_mean(str(name), names)}; "
                         "register your own with sqlorch.engine.conflicts.register_resolver") from None
