"""The stepper: calls every strategy on every bar and decides fills with in-memory state.

Nothing here touches DuckDB. The stepper returns columnar records (signals, decisions,
fills) that the warehouse writes in bulk; SQL views do the accounting from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlorch.audit import EventLog
from sqlorch.config import BacktestConfig
from sqlorch.context import BarContext
from sqlorch.costs import Costs
from sqlorch.domain import CapitalPolicy, DecisionKind, FillMode, Side, Signal
from sqlorch.market import CLOSE, HIGH, LOW, MARK, OPEN, MarketView, Panel
from sqlorch.money import ZERO, to_money
from sqlorch.sleeve import Sleeve

PROGRESS_EVERY = 64  # bars between progress callbacks


@dataclass(slots=True)
class Order:
    """A sleeve's request to change its position in one symbol by `quantity` (signed)."""

    order_id: int
    sleeve: int
    symbol: int
    quantity: Decimal
    decided_at: int
    filled: Decimal = ZERO
    shortfall: str = ""  # why the fill fell short of the request, if it did


@dataclass(frozen=True)
class Failure:
    """A strategy raised: which one, at which bar, and what."""

    strategy_id: str
    bar_index: int
    error: BaseException


@dataclass
class StepRecords:
    """Rows for the warehouse, as tuples in the column order of their tables."""

    signals: list[tuple] = field(default_factory=list)
    decisions: list[tuple] = field(default_factory=list)
    fills: list[tuple] = field(default_factory=list)


@dataclass
class StepOutcome:
    """What a stepper run produced: records, final sleeves, bars done, and any failure."""

    records: StepRecords
    sleeves: list[Sleeve]
    bars_processed: int
    failure: Failure | None


class Stepper:
    """Runs strategies bar by bar over a panel, each trading its own sleeve.

    Per bar t: reveal bar t; fill pending orders at the open (next_open mode); call each
    strategy's `on_bar` and turn its signals into orders sized at the close of t; fill them
    at the close (close mode). Within a sleeve, reducing orders fill before increasing ones.
    """

    def __init__(
        self,
        panel: Panel,
        strategies: Sequence[tuple[str, object]],
        capitals: Sequence[Decimal],
        config: BacktestConfig,
        log: EventLog,
        on_progress: Callable[[int], None] | None = None,
    ):
        self.panel = panel
        self.strategies = list(strategies)
        self.config = config
        self.costs = Costs.from_config(config)
        self.log = log
        self.on_progress = on_progress
        self.timestamps = panel.timestamps.astype("datetime64[us]").tolist()
        self.view = MarketView(panel.symbols, self.timestamps, panel.data.shape)
        n = len(panel.symbols)
        self.sleeves = [Sleeve(sid, n, cap) for (sid, _), cap in zip(self.strategies, capitals)]
        self.contexts = [BarContext(sid, self.view, s) for (sid, _), s in zip(self.strategies, self.sleeves)]
        self.pending: list[dict[int, Order]] = [{} for _ in self.strategies]
        self.records = StepRecords()
        self._next_order_id = 0
        self._equity_cache: list[tuple[int, float]] = [(-1, 0.0)] * len(self.strategies)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> StepOutcome:
        """Step through every bar; stop at the first strategy that raises."""
        data = self.panel.data
        close_mode = self.config.fill == FillMode.CLOSE
        failure = None
        bars = len(self.panel)
        t = -1
        for t in range(bars):
            self.view.reveal(t, data[t])
            if not close_mode:
                self._fill_ready(t, OPEN)
            failure = self._call_strategies(t)
            if failure:
                break
            if close_mode:
                self._fill_ready(t, CLOSE)
            if self.on_progress and t % PROGRESS_EVERY == 0:
                self.on_progress(t + 1)
        self._close_book(t, failure)
        if self.on_progress:
            self.on_progress(t + 1)
        return StepOutcome(self.records, self.sleeves, t + 1, failure)

    def _call_strategies(self, t: int) -> Failure | None:
        for i, (strategy_id, strategy) in enumerate(self.strategies):
            ctx = self.contexts[i]
            try:
                if t == 0 and callable(getattr(strategy, "on_start", None)):
                    strategy.on_start(ctx)
                signals = strategy.on_bar(ctx)
                if isinstance(signals, Signal):
                    signals = (signals,)
                if signals:
                    self._take_signals(t, i, signals)
            except Exception as exc:  # a user's strategy may raise anything
                return Failure(strategy_id, t, exc)
        return None

    # -- signals to orders ----------------------------------------------------------------

    def _take_signals(self, t: int, i: int, signals: Iterable[Signal]) -> None:
        sleeve, ctx, book = self.sleeves[i], self.contexts[i], self.pending[i]
        for signal in signals:
            if not isinstance(signal, Signal):
                raise TypeError(f"on_bar must return Signal objects, got {type(signal).__name__}")
            j = ctx.index(signal.symbol)
            target = self._target(t, i, j, signal)
            replaced = book.pop(j, None)
            if replaced is not None:
                self._decide(replaced, t, DecisionKind.CANCELLED, f"replaced by a newer signal at bar {t}")
            order = None
            if target is None:
                order = self._new_order(i, j, ZERO, t)
                self._decide(order, t, DecisionKind.REJECTED, f"no price for {signal.symbol} yet")
            elif target != sleeve.qty.get(j, ZERO):
                order = self._new_order(i, j, target - sleeve.qty.get(j, ZERO), t)
                book[j] = order
            self.records.signals.append((
                sleeve.strategy_id, len(self.records.signals), t, signal.symbol, signal.side.value,
                signal.weight, signal.reason, target, order.order_id if order else None,
            ))
            self.log.emit(
                "strategy_signal", bar_index=t, strategy_id=sleeve.strategy_id,
                signal_type=signal.side.value, symbol=signal.symbol,
                bar_date=self.timestamps[t], capital_available=sleeve.available,
            )

    def _target(self, t: int, i: int, j: int, signal: Signal) -> Decimal | None:
        """Target quantity: floor_to_lot(weight x equity / close), signed; None without a price."""
        short = signal.side == Side.SELL and self.config.allow_short
        if signal.side == Side.EXIT or (signal.side == Side.SELL and not short) or signal.weight == 0:
            return ZERO
        price = float(self.panel.data[t, MARK, j])
        if price <= 0:
            return None
        lot = self.costs.lot
        lots = signal.weight * self._equity(t, i) / price / float(lot)
        if abs(lots - round(lots)) > max(1e-6, abs(lots) * 1e-12):
            quantity = Decimal(max(math.floor(lots), 0)) * lot
        else:  # too close to a lot boundary for floats: decide exactly
            equity = self.sleeves[i].equity(self.panel.data[t, MARK])
            quantity = self.costs.floor_to_lot(max(Decimal(repr(signal.weight)) * equity / to_money(price), ZERO))
        return -quantity if short else quantity

    def _equity(self, t: int, i: int) -> float:
        cached_t, value = self._equity_cache[i]
        if cached_t != t:
            value = self.sleeves[i].equity_float(self.panel.data[t, MARK])
            self._equity_cache[i] = (t, value)
        return value

    def _new_order(self, i: int, j: int, quantity: Decimal, t: int) -> Order:
        self._next_order_id += 1
        return Order(self._next_order_id, i, j, quantity, t)

    # -- fills ----------------------------------------------------------------------------

    def _fill_ready(self, t: int, price_field: int) -> None:
        """Fill every pending order whose symbol has a bar at t, at that bar's `price_field`."""
        has_bar = self.panel.data[t, CLOSE]
        for i, book in enumerate(self.pending):
            ready = [o for o in book.values() if not math.isnan(has_bar[o.symbol])]
            if not ready:
                continue
            sleeve = self.sleeves[i]
            reducing, increasing = [], []
            for order in ready:
                held = sleeve.qty.get(order.symbol, ZERO)
                if held and (held > 0) != (order.quantity > 0):
                    part = order.quantity if abs(order.quantity) <= abs(held) else -held
                    reducing.append((order, part, True))
                    if part != order.quantity:
                        increasing.append((order, order.quantity - part, False))
                else:
                    increasing.append((order, order.quantity, True))
            for order, quantity, charge_fee in reducing:
                self._execute(t, price_field, order, quantity, charge_fee, reduces=True)
            for order, quantity, charge_fee in increasing:
                self._execute(t, price_field, order, quantity, charge_fee, reduces=False)
            for order in ready:
                del book[order.symbol]
                self._decide_filled(order, t)

    def _execute(self, t: int, price_field: int, order: Order, quantity: Decimal,
                 charge_fee: bool, reduces: bool) -> None:
        sleeve, j, row = self.sleeves[order.sleeve], order.symbol, self.panel.data[t]
        buying = quantity > 0
        price = self.costs.fill_price(to_money(row[price_field, j]), buying,
                                      to_money(row[HIGH, j]), to_money(row[LOW, j]))
        if not reduces:
            available = sleeve.available
            cost = abs(quantity) * price + self.costs.commission(quantity, price, charge_fee)
            if cost > available:
                if self.config.on_insufficient_capital == CapitalPolicy.REJECT:
                    affordable = ZERO
                else:
                    affordable = self.costs.affordable(available, price, charge_fee)
                order.shortfall = (f"needs {cost:.2f} for {abs(quantity)} at {price}, "
                                   f"{available:.2f} available")
                if affordable <= 0:
                    return
                quantity = affordable if buying else -affordable
        commission = self.costs.commission(quantity, price, charge_fee)
        realized = sleeve.apply_fill(j, quantity, price, commission)
        order.filled += quantity
        self.records.fills.append((
            len(self.records.fills) + 1, order.order_id, sleeve.strategy_id, t,
            self.panel.symbols[j], quantity, price, commission, realized,
        ))

    def _decide_filled(self, order: Order, t: int) -> None:
        if order.filled == order.quantity:
            self._decide(order, t, DecisionKind.ACCEPTED, "")
            return
        kind = DecisionKind.REJECTED if order.filled == 0 else DecisionKind.CLIPPED
        self._decide(order, t, kind, order.shortfall)
        sleeve = self.sleeves[order.sleeve]
        self.log.emit(
            "capital_limit_hit", bar_index=t, strategy_id=sleeve.strategy_id,
            used_capital=sleeve.used, allocation_limit=sleeve.allocated,
            rejected_signal={
                "symbol": self.panel.symbols[order.symbol], "requested": order.quantity,
                "filled": order.filled, "decision": kind.value, "bar_date": self.timestamps[t],
            },
        )

    def _decide(self, order: Order, t: int | None, kind: DecisionKind, reason: str) -> None:
        self.records.decisions.append((
            order.order_id, self.sleeves[order.sleeve].strategy_id, self.panel.symbols[order.symbol],
            order.decided_at, t, order.quantity, order.filled, kind.value, reason,
        ))

    def _close_book(self, t: int, failure: Failure | None) -> None:
        """Orders still pending at the end expire (or are cancelled if the run failed)."""
        for book in self.pending:
            for order in book.values():
                symbol = self.panel.symbols[order.symbol]
                if failure:
                    self._decide(order, None, DecisionKind.CANCELLED,
                                 f"run stopped: strategy {failure.strategy_id!r} failed")
                else:
                    self._decide(order, None, DecisionKind.EXPIRED, f"no bar of {symbol} after the signal")
            book.clear()
