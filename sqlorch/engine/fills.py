"""The fill phase of one bar: conflicts resolved, quantities decided, fills booked.

1. Orders of several sleeves on one symbol form a conflict; the configured resolver decides
   which stand (the others are cancelled).
2. Each sleeve's legs are sized against its available capital at the prices it would get
   alone (clip or reject). That is conservative: a netted order never gets a worse price,
   nor pays more commission, than it would alone.
3. Legs are booked. A netting resolver's standing orders on a symbol share one price, the
   net order's (slipped by the net's direction; the bare price if they cancel out), and the
   commission on the net quantity, split pro rata to each leg's quantity.
Booking order: rebalancing sales first (their proceeds go to underweight sleeves), then
each sleeve's reducing legs before its increasing ones, in strategy-list and signal order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from sqlorch.bars.panel import CLOSE, HIGH, LOW, OPEN, Panel
from sqlorch.engine.book import Book
from sqlorch.engine.conflicts import ConflictOrder, NetSignal, Resolver
from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import ConflictOutcome, DecisionKind
from sqlorch.engine.orders import Leg, Order
from sqlorch.engine.records import Conflict
from sqlorch.engine.records import ConflictOrder as ConflictOrderRow
from sqlorch.engine.settings import EngineSettings
from sqlorch.errors import SleeveLimitError, SqlorchError
from sqlorch.money import MAX_SLEEVE_EQUITY, MICRO, PICO, from_micro

_MAX_CASH = MAX_SLEEVE_EQUITY * PICO


@dataclass(frozen=True)
class Meeting:
    """How the sleeves of a run meet on a symbol: the resolver (by its configured name), each
    sleeve's rank (1 highest) and weight as the resolver sees them, and the rebalancer whose
    sales pay underweight sleeves (inactive without rebalancing)."""

    mode: str
    resolver: Resolver
    ranks: Sequence[int]
    weights: Sequence[Decimal]
    rebalancer: object


@dataclass(frozen=True)
class FillPrices:
    """Per bar and symbol, in micro units: the price orders fill at (the open, or the close in
    close mode), and what an order alone pays buying or gets selling there (slipped, never
    beyond the bar's high or low). Computed once per run, on arrays."""

    base: np.ndarray
    buy: np.ndarray
    sell: np.ndarray

    @classmethod
    def of(cls, panel: Panel, costs: Costs, close_mode: bool) -> FillPrices:
        base, high, low = (_micro(panel.data[:, field]) for field in (CLOSE if close_mode else OPEN, HIGH, LOW))
        return cls(base, *costs.fill_prices(base, high, low))


def _micro(prices: np.ndarray) -> np.ndarray:
    """Prices (NaN where there is no bar) in micro units, rounded half even as `to_micro` does."""
    return np.rint(np.nan_to_num(prices) * MICRO).astype(np.int64)


class BarFills:
    """Fills the orders `ready` at bar t on `book`, at the run's fill prices of that bar.
    Isolated sleeves (`settings.isolated`) never form conflicts: each fills alone."""

    def __init__(self, book: Book, settings: EngineSettings, prices: FillPrices, meeting: Meeting, t: int):
        self.book = book
        self.settings = settings
        self.costs = settings.costs
        self.prices = prices
        self.meeting = meeting
        self.t = t
        self.buy, self.sell = prices.buy[t].tolist(), prices.sell[t].tolist()  # as Python ints

    def run(self, ready: list[tuple[int, list[Order]]]) -> None:
        """Resolve, size and book the orders (per sleeve with any, in sleeve order);
        SleeveLimitError if a sleeve's cash passes the bound."""
        symbols = [o.symbol for _, orders in ready for o in orders]
        if self.settings.isolated or len(set(symbols)) == len(symbols):  # no two sleeves meet: no conflict
            standing, conflicts = ready, {}
        else:
            standing, conflicts = self._resolve(ready, symbols)
        legs = self._legs(standing)
        self._size(legs)
        if conflicts:
            by_symbol = _legs_by_symbol(legs, conflicts)
            prices, commissions = self._net(by_symbol, conflicts)
            self._book(legs, prices, commissions)
            self._record_conflicts(conflicts, by_symbol, prices, commissions)
        else:
            self._book(legs, {}, {})
        self.book.decide_filled([order for _, orders in standing for order in orders], self.t)

    # -- 1. conflicts ---------------------------------------------------------------------

    def _resolve(self, ready: list[tuple[int, list[Order]]], symbols: list[int]
                 ) -> tuple[list[tuple[int, list[Order]]], dict[int, Clash]]:
        """Orders that stand, per sleeve; and the conflicts, per symbol index (`symbols`: of
        the orders, in order)."""
        resolver = self.meeting.resolver
        groups: dict[int, list[Order]] = {j: [] for j, n in Counter(symbols).items() if n > 1}
        for _, orders in ready:
            for order in orders:
                group = groups.get(order.symbol)
                if group is not None:
                    group.append(order)
        cancelled: set[int] = set()
        conflicts: dict[int, Clash] = {}
        for j, orders in groups.items():
            kept = orders if type(resolver) is NetSignal else self._kept(orders)  # net_signal keeps all
            if len(kept) < len(orders):
                kept_ids = {o.order_id for o in kept}
                cancelled.update(o.order_id for o in orders if o.order_id not in kept_ids)
            conflicts[j] = Clash(orders, kept, resolver.nets and len(kept) > 1)
        if not cancelled:
            return ready, conflicts
        book = self.book
        for j, conflict in conflicts.items():
            names = [book.ids[o.sleeve] for o in conflict.kept] or ["none"]
            for order in conflict.orders:
                if order.order_id in cancelled:
                    book.decide(order, self.t, DecisionKind.CANCELLED,
                                f"conflict on {book.symbols[j]}: {self.meeting.mode} kept {', '.join(names)}")
        return [(i, [o for o in orders if o.order_id not in cancelled]) for i, orders in ready], conflicts

    def _kept(self, orders: list[Order]) -> list[Order]:
        """The orders the resolver keeps, in their order; SqlorchError if it returns others."""
        views = [self._view(o) for o in orders]
        kept_ids = {v.order_id for v in self.meeting.resolver.resolve(views)}
        if not kept_ids <= {v.order_id for v in views}:
            raise SqlorchError(f"conflict resolver {self.meeting.mode!r} returned orders that were "
                               "not in the conflict; it must return a subset of the orders it was given")
        return [o for o in orders if o.order_id in kept_ids]

    def _view(self, order: Order) -> ConflictOrder:
        book, meeting = self.book, self.meeting
        return ConflictOrder(order.order_id, book.ids[order.sleeve], book.symbols[order.symbol],
                             from_micro(order.quantity), meeting.ranks[order.sleeve], meeting.weights[order.sleeve])

    # -- 2. legs, sized against capital ---------------------------------------------------

    def _legs(self, standing: list[tuple[int, list[Order]]]) -> list[Leg]:
        """Every leg in booking order."""
        first, rest = [], []
        sleeves = self.book.sleeves
        for i, orders in standing:
            sleeve = sleeves[i]
            reducing, increasing = [], []
            for order in orders:
                held = sleeve.qty.get(order.symbol, 0)
                if held and (held > 0) != (order.quantity > 0):
                    part = order.quantity if abs(order.quantity) <= abs(held) else -held
                    (first if order.rebalance is not None else reducing).append(Leg(order, part, True, True))
                    if part != order.quantity:
                        increasing.append(Leg(order, order.quantity - part, False, False))
                else:
                    increasing.append(Leg(order, order.quantity, True, False))
            rest += reducing + increasing
        return first + rest

    def price(self, j: int, buying: bool) -> int:
        """What an order alone pays (buying) or gets (selling) for symbol j at this bar (micro)."""
        return self.buy[j] if buying else self.sell[j]

    def _size(self, legs: Sequence[Leg]) -> None:
        """Clip or reject increasing legs to what each sleeve can pay, in booking order."""
        costs, sleeves, buy, sell = self.costs, self.book.sleeves, self.buy, self.sell
        rebalancer, clip = self.meeting.rebalancer, self.settings.clip
        available = {leg.order.sleeve: sleeves[leg.order.sleeve].available for leg in legs}
        for leg in legs:
            order, quantity = leg.order, leg.quantity
            i, j, buying = order.sleeve, order.symbol, quantity > 0
            sleeve = sleeves[i]
            if leg.reduces:
                leg.price = price = buy[j] if buying else sell[j]
                leg.commission = commission = costs.commission(quantity, price, leg.charge_fee)
                change = sleeve.available_change(j, quantity, price, commission)
                available[i] += change
                if order.rebalance is not None and change > 0:  # its proceeds move to other sleeves
                    for receiver, amount in rebalancer.split(order.rebalance, change):
                        available[i] -= amount
                        available[receiver] = available.get(receiver, sleeves[receiver].available) + amount
                continue
            price = buy[j]  # a short sale reserves at most the buying price
            cost = costs.cost(quantity, price, leg.charge_fee)
            if cost > available[i]:
                affordable = costs.affordable(available[i], price, leg.charge_fee) if clip else 0
                order.shortfall = (f"needs {cost / PICO:.2f} for {abs(quantity) / MICRO:g} at {price / MICRO:g}, "
                                   f"{available[i] / PICO:.2f} available")
                leg.quantity = quantity = affordable if buying else -affordable
                cost = costs.cost(quantity, price, leg.charge_fee)
            if quantity:
                available[i] -= cost
                if buying:  # it fills at the price it was sized at
                    leg.price, leg.commission = price, (cost - abs(quantity) * price) // MICRO

    # -- 3. netting and booking -----------------------------------------------------------

    def _net(self, by_symbol: dict[int, list[Leg]], conflicts: dict[int, Clash]) -> tuple[dict[int, int], dict[int, int]]:
        """Per netted symbol: the common price; per netted leg (by id): its commission share."""
        prices: dict[int, int] = {}
        shares: dict[int, int] = {}
        costs = self.costs
        for j, conflict in conflicts.items():
            if not conflict.nets:
                continue
            group = [leg for leg in by_symbol[j] if leg.quantity]
            net = sum(leg.quantity for leg in group)
            price = self.price(j, net > 0) if net else int(self.prices.base[self.t, j])
            prices[j] = price
            total = costs.commission(net, price) if net else 0
            gross = sum(abs(leg.quantity) for leg in group)
            alone = {id(leg): costs.commission(leg.quantity, price, leg.charge_fee) for leg in group}
            for leg in group:
                shares[id(leg)] = total * abs(leg.quantity) // gross
            for _ in range(total - sum(shares[id(leg)] for leg in group)):
                # the micro-unit dust goes where it stays within the standalone commission
                leg = max(group, key=lambda g: alone[id(g)] - shares[id(g)])
                shares[id(leg)] += 1
        return prices, shares

    def _book(self, legs: Sequence[Leg], prices: dict[int, int], shares: dict[int, int]) -> None:
        costs, sleeves, fills, t = self.costs, self.book.sleeves, self.book.records.fills, self.t
        rebalancer = self.meeting.rebalancer
        for leg in legs:
            quantity, order = leg.quantity, leg.order
            if not quantity:
                continue
            j = order.symbol
            if j in prices:
                price = prices[j]
                commission = shares[id(leg)] if id(leg) in shares else costs.commission(quantity, price, leg.charge_fee)
            elif leg.commission >= 0:
                price, commission = leg.price, leg.commission
            else:
                price = self.price(j, quantity > 0)
                commission = costs.commission(quantity, price, leg.charge_fee)
            sleeve = sleeves[order.sleeve]
            cash_before = sleeve.cash
            leg.realized = sleeve.apply_fill(j, quantity, price, commission)
            if abs(sleeve.cash) > _MAX_CASH:
                raise SleeveLimitError(sleeve.strategy_id, sleeve.cash / PICO)
            leg.price, leg.commission, leg.bar = price, commission, t
            order.filled += quantity
            fills.append(leg)
            if order.rebalance is not None and leg.reduces:
                rebalancer.pay_out(order.rebalance, order.sleeve, sleeve.cash - cash_before, t)

    def _record_conflicts(self, conflicts: dict[int, Clash], by_symbol: dict[int, list[Leg]],
                          prices: dict[int, int], shares: dict[int, int]) -> None:
        book, costs = self.book, self.costs
        ids, log, records = book.ids, book.log, book.records
        quoted = [log.json_text(sid) for sid in ids]
        for j, conflict in conflicts.items():
            symbol = book.symbols[j]
            orders, kept = conflict.orders, {o.order_id for o in conflict.kept}
            price = prices.get(j)
            net = gross = paid = alone = 0
            for leg in by_symbol[j]:
                quantity = leg.quantity
                if quantity and leg.order.order_id in kept:
                    net += quantity
                    gross += abs(quantity)
                    each = costs.commission(quantity, price or self.price(j, quantity > 0), leg.charge_fee)
                    alone += each
                    paid += shares.get(id(leg), each)
            strategies = [ids[o.sleeve] for o in orders]
            standing = [ids[o.sleeve] for o in conflict.kept]
            outcome = conflict.outcome
            if outcome == ConflictOutcome.NETTED:
                text = (f"netted: {(gross - abs(net)) / MICRO:g} crossed internally, {abs(net) / MICRO:g} "
                        f"{'bought' if net > 0 else 'sold' if net < 0 else 'sent'} at {price / MICRO:g}")
            elif outcome == ConflictOutcome.RESOLVED:
                text = f"{', '.join(standing)} stood; {', '.join(s for s in strategies if s not in standing) or 'none'} cancelled"
            else:
                text = "all cancelled"
            listed = "[" + ",".join([f'{{"strategy_id":{quoted[o.sleeve]},"order_id":{o.order_id},'
                                     f'"quantity":{o.quantity / MICRO!r}}}' for o in orders]) + "]"
            now, stamp = log.now()
            mode = self.meeting.mode
            seq = log.conflict(stamp, symbol, strategies, listed, mode, text, book.timestamps[self.t])
            conflict_id = len(records.conflicts) + 1
            records.conflicts.append(Conflict(
                conflict_id, self.t, symbol, mode, strategies, standing, listed, text,
                net, (gross - abs(net)) // 2, paid, alone, alone - paid, seq, now))
            for o in orders:
                records.conflict_orders.append(ConflictOrderRow(conflict_id, ids[o.sleeve], o.order_id, o.quantity,
                                                                o.order_id in kept))


@dataclass(slots=True)
class Clash:
    """The orders of several sleeves on one symbol at one bar: those that stood, and whether the
    standing ones are netted."""

    orders: list[Order]
    kept: list[Order]
    nets: bool

    @property
    def outcome(self) -> ConflictOutcome:
        """How it was settled."""
        if self.nets:
            return ConflictOutcome.NETTED
        return ConflictOutcome.RESOLVED if self.kept else ConflictOutcome.ALL_CANCELLED


def _legs_by_symbol(legs: Sequence[Leg], conflicts: dict[int, Clash]) -> dict[int, list[Leg]]:
    """The legs of each conflict's symbol, in booking order."""
    by_symbol: dict[int, list[Leg]] = {j: [] for j in conflicts}
    for leg in legs:
        group = by_symbol.get(leg.order.symbol)
        if group is not None:
            group.append(leg)
    return by_symbol
