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

import numpy as np

from sqlorch.engine import kernel
from sqlorch.engine import layout as L
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


class _Builtin:
    """A built-in mode. The compiled engine resolves it without calling `resolve`; called from
    Python (say, by a resolver of your own that falls back to it), `resolve` runs the engine's
    rule (`sqlorch.engine.kernel.stand`) on the orders."""

    mode: int
    nets = False

    def resolve(self, orders: Sequence[ConflictOrder]) -> Sequence[ConflictOrder]:
        orders = list(orders)
        n = len(orders)
        rows = np.zeros((n, L.OD_COLUMNS), dtype=np.int64)
        rows[:, L.OD_SLEEVE] = np.arange(n)
        rows[:, L.OD_QUANTITY] = [1 if o.buying else -1 for o in orders]
        ranks = np.array([o.priority for o in orders], dtype=np.int64)
        weights = np.array([int(o.weight * L.WEIGHT_SCALE) for o in orders], dtype=np.int64)
        stands = np.ones(n, dtype=np.int64)
        extras = np.zeros((1, L.EX_COLUMNS), dtype=np.int64)  # market orders: they have none
        kernel.stand(0, 0, 0, np.arange(n, dtype=np.int64), n, stands, rows, extras, self.mode, ranks, weights,
                     np.zeros((n, 4), dtype=np.int64))
        return [o for o, stood in zip(orders, stands) if stood]


class NetSignal(_Builtin):
    """Every order stands; they are crossed internally and the net goes to the market."""

    mode, nets = L.NET_SIGNAL, True


class FirstWins(_Builtin):
    """Only the highest-priority strategy's order stands."""

    mode = L.FIRST_WINS


class CancelBoth(_Builtin):
    """If the orders disagree in direction, all are cancelled; if they agree, all stand."""

    mode = L.CANCEL_BOTH


class Weighted(_Builtin):
    """The direction with the larger sum of strategy weights wins; the other side is
    cancelled. A tie cancels both sides."""

    mode = L.WEIGHTED


_REGISTRY: dict[str, Resolver] = {
    ConflictMode.NET_SIGNAL.value: NetSignal(),
    ConflictMode.FIRST_WINS.value: FirstWins(),
    ConflictMode.CANCEL_BOTH.value: CancelBoth(),
    ConflictMode.WEIGHTED.value: Weighted(),
}


def engine_mode(resolver: Resolver) -> int:
    """The compiled engine's code for `resolver`: one of the four built-in modes, which it
    resolves itself, or PYTHON_RESOLVER (a resolver of your own, a subclass of a built-in
    included), which it calls back."""
    return resolver.mode if type(resolver) in (NetSignal, FirstWins, CancelBoth, Weighted) else L.PYTHON_RESOLVER


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
