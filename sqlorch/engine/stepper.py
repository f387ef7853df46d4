"""The stepper: calls every strategy on every bar and decides fills with in-memory state.

Nothing here touches DuckDB. The stepper returns columnar records (signals, decisions,
fills, conflicts, transfers, rebalances) that the warehouse writes in bulk; SQL views do
the accounting from them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from sqlorch.config.settings import BacktestConfig
from sqlorch.engine.conflicts import get_resolver
from sqlorch.engine.context import BarContext
from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import ConflictMode, DecisionKind, FillMode, Side, Signal
from sqlorch.engine.events import EventLog
from sqlorch.engine.features import Feature, FeatureSet, declared, wakes_on_rise
from sqlorch.engine.fills import BarFills, FillPrices
from sqlorch.engine.market import CLOSE, MARK, Market, Panel
from sqlorch.engine.orders import Order, Records
from sqlorch.engine.rebalance import Rebalancer
from sqlorch.engine.sleeve import Sleeve
from sqlorch.engine.strategy import call_on_bar
from sqlorch.errors import SleeveLimitError
from sqlorch.money import MAX_QUANTITY, MAX_SLEEVE_EQUITY, MICRO, PICO, micro_of, ratio_of, to_micro

PROGRESS_EVERY = 64  # bars between progress callbacks, or
PROGRESS_SECONDS = 0.5  # seconds, whichever comes first (slow strategies still move the bar)
MAX_SIGNALS_PER_CALL = 100_000  # SPEC §5: more from one on_bar call is an error
_MAX_TARGET = MAX_QUANTITY * MICRO  # micro-shares
_SELL, _EXIT = Side.SELL, Side.EXIT  # (an enum member costs a lookup each time it is named)
_ACCEPTED = str(DecisionKind.ACCEPTED)


@dataclass(frozen=True)
class Failure:
    """A strategy raised: which one, at which bar, and what."""

    strategy_id: str
    bar_index: int
    error: BaseException


@dataclass
class StepOutcome:
    """What a stepper run produced: records, final sleeves, bars stepped, and any failure."""

    records: Records
    sleeves: list[Sleeve]
    bars_processed: int
    failure: Failure | None


class Stepper:
    """Runs strategies bar by bar over a panel, each trading its own sleeve.

    Per bar t: reveal bar t; fill pending orders at the open (next_open mode); rebalance if
    the sleeves drifted; call each strategy's `on_bar` and turn its signals into orders
    sized at the close of t; fill them at the close (close mode).
    """

    def __init__(
        self,
        panel: Panel,
        strategies: Sequence[tuple[str, object]],
        capitals: Sequence[Decimal],
        weights: Sequence[Decimal],
        config: BacktestConfig,
        log: EventLog,
        on_progress: Callable[[int], None] | None = None,
        use_wake: bool = True,
    ):
        self.panel = panel
        self.strategies = list(strategies)
        self.ids = [sid for sid, _ in self.strategies]
        self.weights = list(weights)
        self.config = config
        self.costs = Costs.from_config(config)
        self.log = log
        self.on_progress = on_progress
        self.timestamps = panel.timestamps.astype("datetime64[us]").tolist()
        declarations = [declared(strategy) for _, strategy in self.strategies]
        self.feature_set = FeatureSet(panel, [f for features, wake in declarations for f in features + wake])
        self.fill_prices = FillPrices.of(panel, self.costs, config.fill == FillMode.CLOSE)
        self.market = Market(panel.symbols, self.timestamps, panel.data.shape, self.feature_set.features)
        self.index = {s: j for j, s in enumerate(panel.symbols)}
        self.wake = self._wake_schedule([wake for _, wake in declarations], use_wake)
        self.due_lists, self.due_at = _due_patterns(self.wake)
        self.recheck: set[int] = set()  # strategies that signalled: called again on the next bar
        n = len(panel.symbols)
        self.sleeves = [Sleeve(sid, n, micro_of(cap) * MICRO) for sid, cap in zip(self.ids, capitals)]
        self.contexts = [BarContext(sid, self.market.view(), s) for sid, s in zip(self.ids, self.sleeves)]
        self.pending: list[dict[int, Order]] = [{} for _ in self.strategies]
        self.records = Records(self.ids, panel.symbols)
        mode = getattr(config, "conflict_mode", ConflictMode.NET_SIGNAL)
        self.conflict_mode = str(mode.value if isinstance(mode, ConflictMode) else mode)
        self.resolver = get_resolver(self.conflict_mode)
        priorities = getattr(config, "priorities", None) or {}
        self.ranks = [priorities.get(sid, len(priorities) + 1 + i) for i, sid in enumerate(self.ids)]
        self.rebalancer = Rebalancer(self)
        self._next_order_id = 0
        self._equity_cache: list[tuple[int, float]] = [(-1, 0.0)] * len(self.strategies)

    def _wake_schedule(self, wakes: list[list[Feature]], use_wake: bool) -> np.ndarray:
        """[bars, strategies]: when each strategy must be called. A strategy with `wake_on`
        promises no signals on bars where none of those features changed (with
        `wake_on_rise`: where none of those conditions turned true), unless it returned
        signals on the bar before; the others are called on every bar."""
        schedule = np.ones((len(self.panel), len(self.strategies)), dtype=bool)
        if use_wake:
            for i, (wake, (_, strategy)) in enumerate(zip(wakes, self.strategies)):
                if wake:
                    schedule[:, i] = self.feature_set.woken(wake, wakes_on_rise(strategy))
        return schedule

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> StepOutcome:
        """Step through every bar; stop at the first strategy that raises. Bars on which
        nothing can happen (no strategy due, no order pending, no rebalancing check) are
        revealed in one block with the next bar that needs work."""
        data, features = self.panel.data, self.feature_set
        close_mode = self.config.fill == FillMode.CLOSE
        next_busy = self._next_busy_bars()
        bars, failure, t = len(self.panel), None, 0
        progressed = time.monotonic()
        while t < bars:
            if not self.recheck and not any(self.pending):
                t = next_busy[t]
                if t == bars:
                    break
            start = self.market.t + 1
            self.market.reveal(t, data[start : t + 1], features.rows(start, t + 1))
            try:
                if not close_mode:
                    self._fill_ready(t)
                self.rebalancer.check(t)
                failure = self._call_strategies(t)
                if failure:
                    break
                if close_mode:
                    self._fill_ready(t)
            except SleeveLimitError as exc:
                failure = Failure(exc.strategy_id, t, exc)
                break
            if self.on_progress and (t // PROGRESS_EVERY != (start - 1) // PROGRESS_EVERY
                                     or time.monotonic() - progressed > PROGRESS_SECONDS):
                self.on_progress(t + 1)
                progressed = time.monotonic()
            t += 1
        processed = t + 1 if failure else bars
        self._close_book(failure)
        if self.on_progress:
            self.on_progress(processed)
        return StepOutcome(self.records, self.sleeves, processed, failure)

    def _next_busy_bars(self) -> list[int]:
        """For every bar t, the first bar >= t on which a strategy is due or the rebalancer
        checks (len(panel) if none): bars between need no work unless an order is pending."""
        busy = self.wake.any(axis=1)
        busy[0] = True
        if self.rebalancer.active:
            busy[:: self.rebalancer.every] = True
        bars = len(busy)
        positions = np.where(busy, np.arange(bars), bars)
        return np.minimum.accumulate(positions[::-1])[::-1].tolist() + [bars]

    def _call_strategies(self, t: int) -> Failure | None:
        due = self.due_lists[self.due_at[t]]
        if not due and not self.recheck:
            return None
        if self.recheck:
            due = sorted(self.recheck.union(due))
            self.recheck = set()
        for i in due:
            strategy_id, strategy = self.strategies[i]
            ctx = self.contexts[i]
            ctx.at(t)
            try:
                signals = call_on_bar(strategy, ctx, t)
                if signals:
                    self.recheck.add(i)
                    self._take_signals(t, i, signals)
            except (Exception, SystemExit) as exc:  # a user's strategy may raise anything, or exit
                return Failure(strategy_id, t, exc)
        return None

    # -- signals to orders ----------------------------------------------------------------

    def _take_signals(self, t: int, i: int, signals: Iterable[Signal]) -> None:
        sleeve, ctx, index, log = self.sleeves[i], self.contexts[i], self.index, self.log
        sid, held, book = sleeve.strategy_id, sleeve.qty, self.pending[i]
        sleeve_indexes, seqs, bars, taken, symbols, targets, order_ids, event_seqs, times, capitals = \
            self.records.signals.lists
        first, (now, stamp) = log.seq, log.now()  # the signals' events: numbered from first, logged now
        capital = sleeve.available / PICO  # orders leave the capital available unchanged
        try:
            for count, signal in enumerate(signals, start=1):
                if count > MAX_SIGNALS_PER_CALL:
                    raise ValueError(f"on_bar returned more than {MAX_SIGNALS_PER_CALL:,} signals at one bar; "
                                     "return at most one signal per symbol")
                if type(signal) is not Signal and not isinstance(signal, Signal):
                    raise TypeError(f"on_bar must return Signal objects, got {type(signal).__name__}")
                symbol = signal.symbol
                j = index.get(symbol)
                if j is None:
                    j = ctx.index(symbol)  # raises, with a hint
                target = self._target(t, i, j, signal)
                if target is None:
                    self._cancel_pending(i, j, t, "a newer signal")
                    order = self._new_order(i, j, 0, t)
                    self.decide(order, t, DecisionKind.REJECTED, f"no price for {symbol} yet")
                else:  # self.place(i, j, target - held.get(j, 0), t), inlined: once per signal
                    if j in book:
                        self._cancel_pending(i, j, t, "a newer signal")
                    quantity = target - held.get(j, 0)
                    if quantity:
                        self._next_order_id += 1
                        order = book[j] = Order(self._next_order_id, i, j, quantity, t)
                    else:
                        order = None
                taken.append(signal)
                symbols.append(j)
                targets.append(target)
                order_ids.append(order.order_id if order else None)
        finally:  # the signals taken, even if a later one was invalid; the same for all of them:
            n, seq = len(taken) - len(sleeve_indexes), len(sleeve_indexes)
            sleeve_indexes += [i] * n
            seqs += range(seq, seq + n)
            bars += [t] * n
            event_seqs += range(first, first + n)
            times += [now] * n
            capitals += [capital] * n
            log.signals(stamp, sid, self.timestamps[t], capital, taken[seq:])

    def place(self, i: int, j: int, quantity: int, t: int, rebalance: int | None = None) -> Order | None:
        """Queue sleeve i's order to change its position in symbol j by `quantity` micro-shares,
        replacing a pending one. No order (None) for a zero change."""
        book = self.pending[i]
        if j in book:
            self._cancel_pending(i, j, t, "a rebalancing order" if rebalance is not None else "a newer signal")
        if not quantity:
            return None
        order = book[j] = self._new_order(i, j, quantity, t, rebalance)
        return order

    def _cancel_pending(self, i: int, j: int, t: int, by: str) -> None:
        replaced = self.pending[i].pop(j, None)
        if replaced is not None:
            self.decide(replaced, t, DecisionKind.CANCELLED, f"replaced by {by} at bar {t}")

    def _target(self, t: int, i: int, j: int, signal: Signal) -> int | None:
        """Target quantity (micro-shares): floor_to_lot(weight x equity / close), signed; None
        without a price."""
        side, weight = signal.side, signal.weight
        short = side == _SELL and self.config.allow_short
        if side == _EXIT or (side == _SELL and not short) or weight == 0:
            return 0
        price = float(self.panel.data[t, MARK, j])
        if price <= 0:
            return None
        lot = self.costs.lot
        cached_t, equity = self._equity_cache[i]
        if cached_t != t:
            equity = self.sleeves[i].equity_float(self.panel.data[t, MARK])
            if equity > MAX_SLEEVE_EQUITY:
                raise SleeveLimitError(self.ids[i], equity)
            self._equity_cache[i] = (t, equity)
        lots = weight * equity / price * (MICRO / lot)
        if lots * lot >= _MAX_TARGET:  # a weight far above 1: more than any position may hold
            quantity = self.costs.floor_to_lot(_MAX_TARGET)
        elif abs(lots - round(lots)) > max(1e-6, abs(lots) * 1e-12):
            quantity = max(math.floor(lots), 0) * lot
        else:  # too close to a lot boundary for floats: decide exactly
            numerator, denominator = ratio_of(weight)
            exact = self.sleeves[i].equity(self.panel.data[t, MARK])
            quantity = self.costs.floor_to_lot(max(numerator * exact // (denominator * to_micro(price)), 0))
        return -quantity if short else quantity

    def equity_changed(self) -> None:
        """Forget cached sleeve equities (cash moved between sleeves)."""
        self._equity_cache = [(-1, 0.0)] * len(self.strategies)

    def _new_order(self, i: int, j: int, quantity: int, t: int, rebalance: int | None = None) -> Order:
        self._next_order_id += 1
        return Order(self._next_order_id, i, j, quantity, t, rebalance=rebalance)

    # -- fills and decisions --------------------------------------------------------------

    def _fill_ready(self, t: int) -> None:
        """Fill every pending order whose symbol has a bar at t."""
        if not any(self.pending):
            return
        has_bar = self.panel.data[t, CLOSE].tolist()
        ready = []
        for book in self.pending:
            orders = [o for o in book.values() if not math.isnan(has_bar[o.symbol])]
            if len(orders) == len(book):
                book.clear()
            else:
                for order in orders:
                    del book[order.symbol]
            ready.append(orders)
        if any(ready):
            BarFills(self, t).run(ready)

    def decide_filled(self, orders: Iterable[Order], t: int) -> None:
        """Record filled orders' decisions: accepted, or clipped/rejected by capital."""
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
                    "symbol": self.panel.symbols[order.symbol], "requested": order.quantity / MICRO,
                    "filled": order.filled / MICRO, "decision": kind.value, "bar_date": self.timestamps[t],
                },
            )

    def decide(self, order: Order, t: int | None, kind: DecisionKind | str, reason: str) -> None:
        """Record an order's fate in the decisions table."""
        order.resolved_at, order.kind, order.reason = t, str(kind), reason
        self.records.decisions.append(order)

    def _close_book(self, failure: Failure | None) -> None:
        """Orders still pending at the end expire (or are cancelled if the run failed)."""
        for book in self.pending:
            for order in book.values():
                symbol = self.panel.symbols[order.symbol]
                if failure:
                    self.decide(order, None, DecisionKind.CANCELLED,
                                f"run stopped: strategy {failure.strategy_id!r} failed")
                else:
                    self.decide(order, None, DecisionKind.EXPIRED, f"no bar of {symbol} after the signal")
            book.clear()


def _due_patterns(wake: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """The distinct sets of strategies due on a bar (as lists of strategy indexes), and for
    every bar the position of its set: bars with the same strategies due share one list."""
    if wake.shape[1] <= 62:  # one integer per bar: far faster than unique rows
        codes = wake.astype(np.int64) @ (np.int64(1) << np.arange(wake.shape[1], dtype=np.int64))
        patterns, pattern_of_bar = np.unique(codes, return_inverse=True)
        rows = (patterns[:, None] >> np.arange(wake.shape[1])) & 1
    else:
        packed, pattern_of_bar = np.unique(np.packbits(wake, axis=1), axis=0, return_inverse=True)
        rows = np.unpackbits(packed, axis=1)[:, : wake.shape[1]]
    return [np.flatnonzero(row).tolist() for row in rows], pattern_of_bar.ravel().tolist()
