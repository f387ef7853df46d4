"""Orders and the rows a run produces for the warehouse."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Order:
    """A sleeve's request to change its position in one symbol by `quantity` (signed)."""

    order_id: int
    sleeve: int
    symbol: int
    quantity: int  # micro-shares
    decided_at: int
    filled: int = 0
    shortfall: str = ""  # why the fill fell short of the request, if it did
    rebalance: int | None = None  # the rebalance that placed it, if any


@dataclass(slots=True)
class Leg:
    """The part of an order that fills in one step: reducing a position or increasing it
    (an order crossing zero has one of each)."""

    order: Order
    quantity: int  # micro-shares: requested, then what the sleeve's capital allows
    charge_fee: bool  # the per-order fee is charged on an order's first leg only
    reduces: bool
    price: int = 0  # what it fills at alone, once sized (micro units)
    commission: int = -1  # its commission alone at that price, once sized (micro units)


@dataclass
class Records:
    """Rows for the warehouse, as tuples in the column order their writers expect."""

    signals: list[tuple] = field(default_factory=list)
    decisions: list[tuple] = field(default_factory=list)
    fills: list[tuple] = field(default_factory=list)
    conflicts: list[tuple] = field(default_factory=list)
    conflict_orders: list[tuple] = field(default_factory=list)
    transfers: list[tuple] = field(default_factory=list)
    rebalances: list[tuple] = field(default_factory=list)
