"""Many sleeves stepped in one pass over the bars, each trading alone: the grid's stepper.

A grid search runs many combinations of one strategy over the same bars. `SweepStepper` runs
them side by side in one pass, each in its own sleeve with the full capital, with the trading
rules of a `BacktestEngine` run (see `sqlorch.engine.stepper.Stepper` and `sqlorch.engine.fills.BarFills`,
whose one-sleeve case this is): signals sized at the close, fills at the next open or the
close, slippage, commissions, clipping or rejecting what a sleeve cannot pay, lots, shorts.
Sleeves never meet, so there are no conflicts and no rebalancing.

The features the strategies declare are computed once for all of them, and a strategy with
`wake_on` is only called on bars where one of those features changed (or after it signalled).
The work per bar is proportional to what happens on it (strategies woken, orders filled), not
to the number of sleeves. A strategy that raises ends its own sleeve (`errors`), not the pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from sqlorch.config.settings import BacktestConfig
from sqlorch.engine.context import BarContext
from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import CapitalPolicy, FillMode, Side, Signal
from sqlorch.engine.features import Feature, FeatureSet, declared, wakes_on_rise
from sqlorch.engine.fills import FillPrices
from sqlorch.engine.market import CLOSE, MARK, Market, Panel
from sqlorch.engine.orders import Order
from sqlorch.engine.sleeve import Sleeve
from sqlorch.engine.strategy import call_on_bar, snake_case
from sqlorch.money import MICRO, micro_of, ratio_of, to_micro


class SweepStepper:
    """Steps `strategies` over `panel`, each in its own sleeve starting with `capital`.

    After `run()`: `fills` holds (sleeve, bar, symbol, quantity, price, commission, cash after,
    realized P&L) per fill in booking order (integer micro units; cash and P&L in pico units;
    see `sqlorch.grid.metrics.FILL_FIELDS`), `first_equity` each
    sleeve's exact equity at the close of the first bar (pico units), `sleeves` their final
    books and `errors` {sleeve: (exception, bar)} for strategies that raised.
    """

    def __init__(self, panel: Panel, strategies: Sequence[object], capital: Decimal, config: BacktestConfig):
        self.panel = panel
        self.strategies = list(strategies)
        self.config = config
        self.costs = Costs.from_config(config)
        declarations = [declared(strategy) for strategy in self.strategies]
        self.feature_set = FeatureSet(panel, [f for features, wake in declarations for f in features + wake])
        timestamps = panel.timestamps.astype("datetime64[us]").tolist()
        self.market = Market(panel.symbols, timestamps, panel.data.shape, self.feature_set.features)
        n = len(panel.symbols)
        self.sleeves = [Sleeve(f"c{i}", n, micro_of(capital) * MICRO) for i in range(len(self.strategies))]
        # each strategy sees the id it would have in its own backtest (its sleeve's id is internal)
        self.contexts = [BarContext(_own_id(strategy), self.market.view(), sleeve)
                         for strategy, sleeve in zip(self.strategies, self.sleeves)]
        self.pending: list[dict[int, Order]] = [{} for _ in self.strategies]
        self.with_orders: set[int] = set()  # sleeves with pending orders
        self.errors: dict[int, tuple[BaseException, int]] = {}
        self.fills: list[tuple] = []
        self.first_equity: list[int] = []
        self.due = self._schedule([wake for _, wake in declarations])
        self._next_order_id = 0
        self.prices = FillPrices.of(panel, self.costs, config.fill == FillMode.CLOSE)

    def _schedule(self, wakes: list[list[Feature]]) -> list[list[int]]:
        """Per bar, the sleeves whose strategy must be called: those without `wake_on` always,
        the others when one of their wake-up features changed (turned true, with `wake_on_rise`)."""
        woken = np.ones((len(self.panel), len(self.strategies)), dtype=bool)
        for i, (wake, strategy) in enumerate(zip(wakes, self.strategies)):
            if wake:
                woken[:, i] = self.feature_set.woken(wake, wakes_on_rise(strategy))
        bars, sleeves = np.nonzero(woken)  # by bar, then sleeve
        bounds = np.searchsorted(bars, np.arange(len(self.panel) + 1)).tolist()
        listed = sleeves.tolist()
        return [listed[bounds[t]:bounds[t + 1]] for t in range(len(self.panel))]

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Step through every bar."""
        data = self.panel.data
        close_mode = self.config.fill == FillMode.CLOSE
        features = self.feature_set
        recheck: list[int] = []  # sleeves that signalled: called again on the next bar
        for t in range(len(self.panel)):
            self.market.reveal(t, data[t], features.rows(t, t + 1))
            if self.with_orders and not close_mode:
                self._fill_ready(t)
            due = self.due[t]
            if recheck:
                due = sorted(set(due).union(recheck))
            recheck = [i for i in due if self._call(t, i)]
            if self.with_orders and close_mode:
                self._fill_ready(t)
            if t == 0:
                marks = data[0, MARK]
                self.first_equity = [sleeve.equity(marks) for sleeve in self.sleeves]

    def _call(self, t: int, i: int) -> bool:
        """Call sleeve i's strategy at bar t; whether it returned signals."""
        if i in self.errors:
            return False
        strategy, ctx = self.strategies[i], self.contexts[i]
        ctx.at(t)
        try:
            signals = call_on_bar(strategy, ctx, t)
            if not signals:
                return False
            self._take_signals(t, i, signals)
            return True
        except Exception as exc:  # a user's strategy may raise anything: it ends this sleeve only
            self.errors[i] = (exc, t)
            self.pending[i].clear()
            self.with_orders.discard(i)
            return False

    # -- signals to orders ----------------------------------------------------------------

    def _take_signals(self, t: int, i: int, signals: Sequence[Signal]) -> None:
        sleeve, ctx = self.sleeves[i], self.contexts[i]
        for signal in signals:
            if not isinstance(signal, Signal):
                raise TypeError(f"on_bar must return Signal objects, got {type(signal).__name__}")
            j = ctx.index(signal.symbol)
            target = self._target(t, i, j, signal)
            # without a price the signal is rejected, but it still replaces a pending order
            self._place(i, j, 0 if target is None else target - sleeve.qty.get(j, 0), t)

    def _place(self, i: int, j: int, quantity: int, t: int) -> None:
        """Queue sleeve i's order to change its position in symbol j by `quantity` micro-shares,
        replacing a pending one (a newer signal wins)."""
        book = self.pending[i]
        book.pop(j, None)
        if quantity:
            self._next_order_id += 1
            book[j] = Order(self._next_order_id, i, j, quantity, t)
            self.with_orders.add(i)
        elif not book:
            self.with_orders.discard(i)

    def _target(self, t: int, i: int, j: int, signal: Signal) -> int | None:
        """Target quantity (micro-shares): floor_to_lot(weight x equity / close), signed; None
        without a price."""
        short = signal.side == Side.SELL and self.config.allow_short
        if signal.side == Side.EXIT or (signal.side == Side.SELL and not short) or signal.weight == 0:
            return 0
        marks = self.panel.data[t, MARK]
        price = float(marks[j])
        if price <= 0:
            return None
        lot = self.costs.lot
        lots = signal.weight * self.sleeves[i].equity_float(marks) / price * (MICRO / lot)
        if abs(lots - round(lots)) > max(1e-6, abs(lots) * 1e-12):
            quantity = max(math.floor(lots), 0) * lot
        else:  # too close to a lot boundary for floats: decide exactly
            numerator, denominator = ratio_of(signal.weight)
            equity = self.sleeves[i].equity(marks)
            quantity = self.costs.floor_to_lot(max(numerator * equity // (denominator * to_micro(price)), 0))
        return -quantity if short else quantity

    # -- fills ----------------------------------------------------------------------------

    def _fill_ready(self, t: int) -> None:
        """Fill every pending order whose symbol has a bar at t."""
        has_bar = self.panel.data[t, CLOSE]
        for i in sorted(self.with_orders):
            book = self.pending[i]
            ready = [order for order in book.values() if not math.isnan(has_bar[order.symbol])]
            if not ready:
                continue
            for order in ready:
                del book[order.symbol]
            if not book:
                self.with_orders.discard(i)
            self._fill(t, i, ready)

    def _price(self, t: int, j: int, buying: bool) -> int:
        """What an order pays (buying) or gets (selling) for symbol j at bar t (micro units)."""
        return int((self.prices.buy if buying else self.prices.sell)[t, j])

    def _fill(self, t: int, i: int, orders: list[Order]) -> None:
        """Sleeve i's orders at bar t: reducing legs before increasing ones (an order crossing
        zero has one of each, the fee on the first), increasing legs clipped or rejected to
        what the sleeve can pay, then booked."""
        sleeve, costs = self.sleeves[i], self.costs
        reducing, increasing = [], []
        for order in orders:
            held = sleeve.qty.get(order.symbol, 0)
            if held and (held > 0) != (order.quantity > 0):
                part = order.quantity if abs(order.quantity) <= abs(held) else -held
                reducing.append([order.symbol, part, True, True])
                if part != order.quantity:
                    increasing.append([order.symbol, order.quantity - part, False, False])
            else:
                increasing.append([order.symbol, order.quantity, True, False])
        legs = reducing + increasing
        available = sleeve.available
        clip = self.config.on_insufficient_capital == CapitalPolicy.CLIP
        for leg in legs:
            j, quantity, charge_fee, reduces = leg
            if reduces:
                price = self._price(t, j, quantity > 0)
                available += sleeve.available_change(j, quantity, price, costs.commission(quantity, price, charge_fee))
                continue
            price = self._price(t, j, True)  # a short sale reserves at most the buying price
            if costs.cost(quantity, price, charge_fee) > available:
                affordable = costs.affordable(available, price, charge_fee) if clip else 0
                leg[1] = quantity = affordable if quantity > 0 else -affordable
            if quantity:
                available -= costs.cost(quantity, price, charge_fee)
        for j, quantity, charge_fee, _ in legs:
            if quantity:
                price = self._price(t, j, quantity > 0)
                commission = costs.commission(quantity, price, charge_fee)
                realized = sleeve.apply_fill(j, quantity, price, commission)
                self.fills.append((i, t, j, quantity, price, commission, sleeve.cash, realized))


def _own_id(strategy: object) -> str:
    """The id a strategy gets when it runs alone: its `name`, else its class name in snake_case."""
    name = getattr(strategy, "name", None)
    return name if isinstance(name, str) and name.strip() else snake_case(type(strategy).__name__)
