"""Orders and their legs: what a sleeve asks for, and the parts that fill."""

from __future__ import annotations

from dataclasses import dataclass

from sqlorch.engine.domain import DecisionKind


@dataclass(slots=True)
class Order:
    """A sleeve's request to change its position in one symbol by `quantity` (signed); once
    decided, a row of the decisions table (see Records.decisions)."""

    order_id: int
    sleeve: int
    symbol: int
    quantity: int  # micro-shares
    decided_at: int
    filled: int = 0
    shortfall: str = ""  # why the fill fell short of the request, if it did
    rebalance: int | None = None  # the rebalance that placed it, if any
    resolved_at: int | None = None  # its decision (see Records.decisions): the bar, kind and reason
    kind: DecisionKind | None = None
    reason: str = ""


@dataclass(slots=True)
class Leg:
    """The part of an order that fills in one step: reducing a position or increasing it
    (an order crossing zero has one of each). Once booked, a fill (see Records.fills)."""

    order: Order
    quantity: int  # micro-shares: requested, then what the sleeve's capital allows
    charge_fee: bool  # the per-order fee is charged on an order's first leg only
    reduces: bool
    price: int = 0  # what it fills at alone once sized; booked: what it filled at (micro units)
    commission: int = -1  # its commission alone at that price once sized; booked: what it paid
    bar: int = -1  # booked: the bar it filled at
    realized: int = 0  # booked: the realized P&L before commission (pico units)
