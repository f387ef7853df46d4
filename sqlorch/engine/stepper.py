"""The stepper: calls every strategy on every bar it is due and decides fills with in-memory
state (a `Book`).

Nothing here touches DuckDB. The stepper returns records (signals, decisions, fills, conflicts,
transfers, rebalances) that the warehouse writes in bulk; SQL views do the accounting from them.
One stepper serves every run: a backtest (one sleeve), an orchestrated run (sleeves that meet on
symbols and rebalance) and a grid search's combinations (isolated sleeves, see
`EngineSettings.isolated`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from sqlorch.bars.panel import CLOSE, MARK, Panel
from sqlorch.engine.book import Book
from sqlorch.engine.conflicts import get_resolver
from sqlorch.engine.context import BarContext
from sqlorch.engine.domain import DecisionKind, Signal
from sqlorch.engine.events import EventLog
from sqlorch.engine.features import Feature, FeatureSet, declared, wakes_on_rise
from sqlorch.engine.fills import BarFills, FillPrices, Meeting
from sqlorch.engine.market import Market
from sqlorch.engine.rebalance import Rebalancer
from sqlorch.engine.records import Records
from sqlorch.engine.settings import EngineSettings
from sqlorch.engine.sizing import Sizer
from sqlorch.engine.sleeve import Sleeve
from sqlorch.engine.strategy import call_on_bar
from sqlorch.errors import SleeveLimitError
from sqlorch.money import MICRO, PICO, micro_of

PROGRESS_EVERY = 64  # bars between progress callbacks, or
PROGRESS_SECONDS = 0.5  # seconds, whichever comes first (slow strategies still move the bar)
MAX_SIGNALS_PER_CALL = 100_000  # SPEC §5: more from one on_bar call is an error


@dataclass(frozen=True)
class Failure:
    """A strategy raised: which one, at which bar, and what."""

    strategy_id: str
    bar_index: int
    error: BaseException


@dataclass
class StepOutcome:
    """What a stepper run produced: records, final sleeves, bars stepped, and the failure that
    stopped the run (or, with isolated sleeves, `failed`: the sleeves that stopped alone)."""

    records: Records
    sleeves: list[Sleeve]
    bars_processed: int
    failure: Failure | None
    failed: dict[int, Failure] = field(default_factory=dict)


class Stepper:
    """Runs strategies bar by bar over a panel, each trading its own sleeve.

    Per bar t: reveal bar t; fill pending orders at the open (next_open mode); rebalance if
    the sleeves drifted; call each strategy due and turn its signals into orders sized at the
    close of t; fill them at the close (close mode). Work per bar follows the sleeves with
    something to do (a strategy due, an order pending), never all sleeves.
    """

    def __init__(
        self,
        panel: Panel,
        strategies: Sequence[tuple[str, object]],
        capitals: Sequence[Decimal],
        weights: Sequence[Decimal],
        settings: EngineSettings,
        log: EventLog,
        on_progress: Callable[[int], None] | None = None,
        use_wake: bool = True,
    ):
        self.panel = panel
        self.strategies = list(strategies)
        self.ids = [sid for sid, _ in self.strategies]
        self.settings = settings
        self.on_progress = on_progress
        self.timestamps = panel.timestamps.astype("datetime64[us]").tolist()
        declarations = [declared(strategy) for _, strategy in self.strategies]
        self.feature_set = FeatureSet(panel, [f for features, wake in declarations for f in features + wake])
        self.fill_prices = FillPrices.of(panel, settings.costs, settings.close_mode)
        self.market = Market(panel.symbols, self.timestamps, panel.data.shape, self.feature_set.features)
        self.index = {s: j for j, s in enumerate(panel.symbols)}
        self.wake = self._wake_schedule([wake for _, wake in declarations], use_wake)
        self.due_lists, self.due_at = _due_patterns(self.wake)
        self.recheck: set[int] = set()  # strategies that signalled: called again on the next bar
        self.book = Book(self.ids, panel.symbols, [micro_of(c) * MICRO for c in capitals], log, self.timestamps)
        self.contexts = [BarContext(sid, self.market.view(), s) for sid, s in zip(self.ids, self.book.sleeves)]
        marks = panel.data[:, MARK]
        self.sizer = Sizer(self.book.sleeves, settings.costs, settings.allow_short, marks)
        threshold = None if settings.isolated else settings.rebalance_threshold
        self.rebalancer = Rebalancer(self.book, weights, threshold, settings.rebalance_every, settings.costs, marks)
        priorities = settings.priorities
        ranks = [priorities.get(sid, len(priorities) + 1 + i) for i, sid in enumerate(self.ids)]
        self.meeting = Meeting(settings.conflict_mode, get_resolver(settings.conflict_mode), ranks, list(weights),
                               self.rebalancer)
        self.failed: dict[int, Failure] = {}  # isolated sleeves whose strategy failed

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
        """Step through every bar; stop at the first strategy that raises (an isolated sleeve's
        strategy only ends that sleeve). Bars on which nothing can happen (no strategy due, no
        order pending, no rebalancing check) are revealed in one block with the next bar that
        needs work."""
        data, features, book = self.panel.data, self.feature_set, self.book
        close_mode = self.settings.close_mode
        next_busy = self._next_busy_bars()
        bars, failure, t = len(self.panel), None, 0
        progressed = time.monotonic()
        while t < bars:
            if not self.recheck and not book.waiting:
                t = next_busy[t]
                if t == bars:
                    break
            start = self.market.t + 1
            self.market.reveal(t, data[start : t + 1], features.rows(start, t + 1))
            try:
                if not close_mode:
                    self._fill_ready(t)
                if self.rebalancer.check(t):
                    self.sizer.forget()
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
        return StepOutcome(book.records, book.sleeves, processed, failure, self.failed)

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
        failed = self.failed
        for i in due:
            if failed and i in failed:
                continue
            strategy_id, strategy = self.strategies[i]
            ctx = self.contexts[i]
            ctx.at(t)
            try:
                signals = call_on_bar(strategy, ctx, t)
                if signals:
                    self.recheck.add(i)
                    self._take_signals(t, i, signals)
            except (Exception, SystemExit) as exc:  # a user's strategy may raise anything, or exit
                failure = Failure(strategy_id, t, exc)
                if not self.settings.isolated:
                    return failure
                failed[i] = failure
                self.book.drop_pending(i, DecisionKind.CANCELLED, lambda _: f"strategy {strategy_id!r} failed", t)
        return None

    # -- signals to orders ----------------------------------------------------------------

    def _take_signals(self, t: int, i: int, signals: Iterable[Signal]) -> None:
        book = self.book
        sleeve, ctx, index, log, target_of = book.sleeves[i], self.contexts[i], self.index, book.log, self.sizer.target
        sid, held, pending = sleeve.strategy_id, sleeve.qty, book.pending[i]
        sleeve_indexes, seqs, bars, taken, symbols, targets, order_ids, event_seqs, times, capitals = \
            book.records.signals.lists
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
                target = target_of(t, i, j, signal)
                if target is None:
                    book.cancel_pending(i, j, t, "a newer signal")
                    order = book.new_order(i, j, 0, t)
                    book.decide(order, t, DecisionKind.REJECTED, f"no price for {symbol} yet")
                else:  # book.place(i, j, target - held.get(j, 0), t), inlined: once per signal
                    if j in pending:
                        book.cancel_pending(i, j, t, "a newer signal")
                    quantity = target - held.get(j, 0)
                    if quantity:
                        order = pending[j] = book.new_order(i, j, quantity, t)
                        book.waiting.add(i)
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

    # -- fills ----------------------------------------------------------------------------

    def _fill_ready(self, t: int) -> None:
        """Fill every pending order whose symbol has a bar at t."""
        if not self.book.waiting:
            return
        ready = self.book.ready(self.panel.data[t, CLOSE].tolist())
        if ready:
            BarFills(self.book, self.settings, self.fill_prices, self.meeting, t).run(ready)

    def _close_book(self, failure: Failure | None) -> None:
        """Orders still pending at the end expire (or are cancelled if the run failed)."""
        for i in sorted(self.book.waiting):
            if failure:
                self.book.drop_pending(i, DecisionKind.CANCELLED,
                                       lambda _: f"run stopped: strategy {failure.strategy_id!r} failed")
            else:
                self.book.drop_pending(i, DecisionKind.EXPIRED, lambda symbol: f"no bar of {symbol} after the signal")


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
