"""The engine's state in one place: each sleeve's capital and positions, the orders pending
per sleeve and symbol, and the run's records. Sizing, fills and rebalancing change it through
its methods; none of them reaches into the stepper."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence

from sqlorch.engine.domain import DecisionKind
from sqlorch.engine.events import EventLog
from sqlorch.engine.orders import Order
from sqlorch.engine.records import Records
from sqlorch.engine.sleeve import Sleeve
from sqlorch.money import MICRO, PICO

_ACCEPTED = DecisionKind.ACCEPTED


class Book:
    """Sleeves (`sleeves[i]`, in strategy-list order), their pending orders (`pending[i]`:
    symbol index -> Order, at most one per symbol) and the records of everything decided.

    `waiting` holds the sleeves with pending orders, so per-bar work follows them, not all
    sleeves. Order ids count from 1 in the order orders are made.
    """

    def __init__(self, ids: Sequence[str], symbols: Sequence[str], capitals: Sequence[int], log: EventLog,
                 timestamps: Sequence[dt.datetime]):
        self.ids = list(ids)
        self.symbols = symbols
        self.sleeves = [Sleeve(sid, len(symbols), capital) for sid, capital in zip(ids, capitals)]
        self.pending: list[dict[int, Order]] = [{} for _ in ids]
        self.waiting: set[int] = set()
        self.records = Records(self.ids, symbols)
        self.log = log
        self.timestamps = timestamps
        self.order_count = 0

    def new_order(self, i: int, j: int, quantity: int, t: int, rebalance: int | None = None) -> Order:
        """A new order of sleeve i for `quantity` micro-shares of symbol j, decided at bar t
        (not queued)."""
        self.order_count += 1
        return Order(self.order_count, i, j, quantity, t, rebalance=rebalance)

    def place(self, i: int, j: int, quantity: int, t: int, rebalance: int | None = None) -> Order | None:
        """Queue sleeve i's order to change its position in symbol j by `quantity` micro-shares,
        replacing (cancelling) a pending one. No order (None) for a zero change."""
        book = self.pending[i]
        if j in book:
            self.cancel_pending(i, j, t, "a rebalancing order" if rebalance is not None else "a newer signal")
        if not quantity:
            return None
        order = book[j] = self.new_order(i, j, quantity, t, rebalance)
        self.waiting.add(i)
        return order

    def cancel_pending(self, i: int, j: int, t: int, by: str) -> None:
        """Cancel sleeve i's pending order on symbol j, if any, replaced `by` something at bar t."""
        book = self.pending[i]
        replaced = book.pop(j, None)
        if replaced is not None:
            self.decide(replaced, t, DecisionKind.CANCELLED, f"replaced by {by} at bar {t}")
            if not book:
                self.waiting.discard(i)

    def decide(self, order: Order, t: int | None, kind: DecisionKind, reason: str) -> None:
        """Record an order's fate in the decisions table."""
        order.resolved_at, order.kind, order.reason = t, kind, reason
        self.records.decisions.append(order)

    def ready(self, has_bar: list[float]) -> list[tuple[int, list[Order]]]:
        """Take out every pending order whose symbol has a bar now (`has_bar[j]` not NaN): per
        sleeve with any, in sleeve order."""
        ready = []
        for i in sorted(self.waiting):
            book = self.pending[i]
            orders = [o for o in book.values() if not math.isnan(has_bar[o.symbol])]
            if not orders:
                continue
            if len(orders) == len(book):
                book.clear()
                self.waiting.discard(i)
            else:
                for order in orders:
                    del book[order.symbol]
            ready.append((i, orders))
        return ready

    def decide_filled(self, orders: Iterable[Order], t: int) -> None:
        """Record filled orders' decisions: accepted, or clipped/rejected by capital (with the
        `capital_limit_hit` event)."""
        decisions = self.records.decisions
        for order in orders:
            if order.filled == order.quantity:  # self.decide(order, t, _ACCEPTED, ""), inlined: once per fill
                order.resolved_at, order.kind = t, _ACCEPTED
                decisions.append(order)
                continue
            kind = DecisionKind.REJECTED if order.filled == 0 else DecisionKind.CLIPPED
            self.decide(order, t, kind, order.shortfall)
            sleeve = self.sleeves[order.sleeve]
            self.log.emit(
                "capital_limit_hit", bar_index=t, strategy_id=sleeve.strategy_id,
                used_capital=sleeve.used / PICO, allocation_limit=sleeve.allocated / PICO,
                rejected_signal={
                    "symbol": self.symbols[order.symbol], "requested": order.quantity / MICRO,
                    "filled": order.filled / MICRO, "decision": kind.value, "bar_date": self.timestamps[t],
                },
            )

    def drop_pending(self, i: int, kind: DecisionKind, reason: Callable[[str], str], t: int | None = None) -> None:
        """Decide every order sleeve i still has pending as `kind` (expired, or cancelled), for
        `reason(symbol)`."""
        for order in self.pending[i].values():
            self.decide(order, t, kind, reason(self.symbols[order.symbol]))
        self.pending[i].clear()
        self.waiting.discard(i)
