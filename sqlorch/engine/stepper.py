"""The stepper: runs every strategy over the bars on the compiled engine (sqlorch.engine.kernel).

Nothing here touches DuckDB. The stepper prepares the arrays the kernel steps over (prices,
marks, fill prices, the features, when each strategy is due), runs it, answers what it asks
of Python (the signals of Python strategies, Python conflict resolvers, rebalancing plans and
allocation policies' targets), and
returns the records (signals, decisions, fills, conflicts, transfers, rebalances) that the
warehouse writes in bulk; SQL views do the accounting from them. One stepper serves every run:
a backtest (one sleeve), an orchestrated run (sleeves that meet on symbols and rebalance) and a
grid search's combinations (isolated sleeves, see `EngineSettings.isolated`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from sqlorch.bars.panel import CLOSE, MARK, Panel
from sqlorch.engine import bridge, kernel
from sqlorch.engine import layout as L
from sqlorch.engine.allocation import Allocation, AllocationError, AllocationWindow, allocation_dates
from sqlorch.engine.conflicts import ConflictOrder, engine_mode, get_resolver
from sqlorch.engine.context import BarContext
from sqlorch.engine.costs import FillPrices
from sqlorch.engine.domain import Side, Signal
from sqlorch.engine.events import EventLog
from sqlorch.engine.features import Feature, FeatureSet, declared, wakes_on_rise
from sqlorch.engine.market import Market
from sqlorch.engine.orders import option_row, options_json
from sqlorch.engine.rebalance import Planner
from sqlorch.engine.records import AllocationTarget, Books, Records
from sqlorch.engine.rule import Rule
from sqlorch.engine.settings import EngineSettings
from sqlorch.engine.sleeve import SleeveView
from sqlorch.engine.strategy import call_on_bar
from sqlorch.errors import SleeveLimitError, SqlorchError
from sqlorch.money import MICRO, from_micro, micro_of

PROGRESS_SECONDS = 0.5  # the progress callback runs at least this often while Python strategies step
MAX_SIGNALS_PER_CALL = 100_000  # SPEC §5: more from one on_bar call is an error
_SIDES = {Side.BUY: L.BUY, Side.SELL: L.SELL, Side.EXIT: L.EXIT}


@dataclass(frozen=True)
class Failure:
    """A strategy raised (or its sleeve passed the engine's bounds): which one, at which bar,
    and what."""

    strategy_id: str
    bar_index: int
    error: BaseException


@dataclass
class StepOutcome:
    """What a stepper run produced: records, final sleeves, bars stepped, and the failure that
    stopped the run (or, with isolated sleeves, `failed`: the sleeves that stopped alone)."""

    records: Records
    sleeves: list[SleeveView]
    bars_processed: int
    failure: Failure | None
    failed: dict[int, Failure] = field(default_factory=dict)
    books: Books | None = None


class Stepper:
    """Runs strategies bar by bar over a panel, each trading its own sleeve.

    Per bar t: fill pending orders at the open (next_open mode); on an allocation date, move
    capital to the allocation policy's targets (`allocate`), else rebalance if the sleeves
    drifted; ask each strategy due for its signals and turn them into orders sized at the
    close of t; fill them at the close (close mode). A strategy is due on the bars its
    `wake_on` features change (turn true, with `wake_on_rise`), on every bar without them, and
    on the bar after it signalled. `Rule`s decide in compiled code; Python strategies are called
    with a `BarContext` on the bars they are due.

    The panel's warm-up bars (before `panel.first`) feed the features and are revealed to Python
    strategies (`ctx.history`, `ctx.window`) as the first traded bar is, but are never stepped:
    no strategy is called, nothing fills and no record is kept for them. Records number bars on
    the traded clock (`panel.traded()`: bar 0 is the first traded bar). `memo` shares computed
    features between runs over the same panel (see `FeatureSet`).
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
        books: bool = False,
        memo: dict | None = None,
    ):
        self.full = panel  # warm-up included: what features and Python strategies see
        self.first = panel.first
        panel = self.panel = panel.traded()  # what is stepped and recorded
        self.strategies = list(strategies)
        self.ids = [sid for sid, _ in self.strategies]
        self.settings = settings
        self.log = log
        self.on_progress = on_progress
        self.books = books
        self.timestamps = panel.timestamps.astype("datetime64[us]").tolist()
        declarations = [declared(strategy) for _, strategy in self.strategies]
        self.feature_set = FeatureSet(self.full, [f for features, wake in declarations for f in features + wake],
                                      memo)
        python = any(not compiled(strategy) for _, strategy in self.strategies)
        # the market Python strategies read, bar by bar (Rules need none: it holds a copy of the panel)
        clock = self.full.timestamps.astype("datetime64[us]").tolist() if self.first else self.timestamps
        self.market = Market(panel.symbols, clock, self.full.data.shape if python else (0, 0, 0),
                             self.feature_set.features if python else ())
        self.index = {s: j for j, s in enumerate(panel.symbols)}
        self.due = self._wake_schedule([wake for _, wake in declarations], use_wake)
        n, symbols = len(self.strategies), len(panel.symbols)
        self.sleeve_rows = np.zeros((n, L.SL_COLUMNS), dtype=np.int64)
        for i, capital in enumerate(capitals):
            self.sleeve_rows[i, [L.SL_CASH, L.SL_ALLOCATED, L.SL_INITIAL]] = micro_of(capital)
        self.positions = np.zeros((n, symbols), dtype=np.int64)
        self.sleeves = [SleeveView(sid, self.sleeve_rows[i], self.positions[i]) for i, sid in enumerate(self.ids)]
        self.contexts = [BarContext(sid, self.market.view(), s, self.first) if not compiled(strategy) else None
                         for (sid, strategy), s in zip(self.strategies, self.sleeves)]
        self.weights = list(weights)
        self.planner = Planner(self.sleeves, self.positions, self.weights, settings.costs.lot, panel.data[:, MARK], log,
                               self.timestamps)
        self.allocation = None  # the policy, when capital moves between sleeves (not `fixed`)
        if len(self.ids) >= 2 and not settings.isolated:
            allocation = Allocation(settings.allocation, [float(w) for w in self.weights], settings.allocation_lookback,
                                    settings.min_weight, settings.max_weight)
            self.allocation = allocation if allocation.active else None
        self.allocation_targets: list[AllocationTarget] = []
        self.reasons: dict[str, int] = {}
        self.signal_orders: dict[int, str] = {}  # signal row -> its order options (JSON), Python strategies'
        self.rule_orders: dict[int, str] = {}  # sleeve -> its rule's order options (JSON), on each entry
        self.failures: dict[int, Failure] = {}
        self._progressed = -PROGRESS_SECONDS  # the first call reports at once

    def _wake_schedule(self, wakes: list[list[Feature]], use_wake: bool) -> np.ndarray:
        """[bars, strategies]: when each strategy is due. A strategy with `wake_on` promises no
        signals on bars where none of those features changed (with `wake_on_rise`: where none of
        those conditions turned true), unless it returned signals on the bar before (the
        engine calls it then too); the others are due on every bar."""
        schedule = np.ones((len(self.panel), len(self.strategies)), dtype=bool)
        if use_wake:
            for i, (wake, (_, strategy)) in enumerate(zip(wakes, self.strategies)):
                if wake:
                    schedule[:, i] = self.feature_set.woken(wake, wakes_on_rise(strategy), self.first)
        return schedule

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> StepOutcome:
        """Step through every bar; stop at the first strategy that raises (an isolated sleeve's
        strategy only ends that sleeve)."""
        panel, settings, costs = self.panel, self.settings, self.settings.costs
        data = panel.data
        n, symbols = len(self.strategies), len(panel.symbols)
        kinds, entry, exit_, short, weight, entry_reason, exit_reason, rule_opts = self._rules()
        prices = FillPrices.of(panel, costs, settings.close_mode)
        marks = np.ascontiguousarray(data[:, MARK])  # one layout: one compiled signature
        self.marks_micro = np.rint(marks * MICRO).astype(np.int64)
        room = max(symbols, MAX_SIGNALS_PER_CALL if (kinds == L.PYTHON).any() else 1)
        self._signals = (np.zeros(room, dtype=np.int64), np.zeros(room, dtype=np.int64), np.zeros(room),
                         np.zeros(room, dtype=np.int64))  # what a strategy's call returned (see call_strategy)
        self._options = np.zeros((room, L.OP_COLUMNS), dtype=np.int64)  # the order options among them
        self._group = np.zeros((max(n, 1), 4), dtype=np.int64)  # a conflict's orders (see resolve)
        resolver = get_resolver(settings.conflict_mode)
        priorities = settings.priorities
        ranks = np.array([priorities.get(sid, len(priorities) + 1 + i) for i, sid in enumerate(self.ids)],
                         dtype=np.int64)
        scaled_weights = np.array([int(w * L.WEIGHT_SCALE) for w in self.weights], dtype=np.int64)
        threshold = -1.0 if settings.rebalance_threshold is None else float(settings.rebalance_threshold)
        counters = np.zeros(L.CT_COLUMNS, dtype=np.int64)
        counters[L.CT_EVENT] = self.log.seq
        logged_at = self.log.now()[0]
        kept = len(panel) if self.books else 0
        books = Books(np.zeros((kept, n), dtype=np.int64), np.zeros((kept, n)),
                      np.zeros((kept, n, symbols), dtype=np.int64))
        bars = len(panel) if self.allocation else 0
        self._alloc_due = (allocation_dates(self.timestamps, settings.allocation_every, settings.allocation_lookback)
                           if self.allocation else np.zeros(0, dtype=np.bool_))
        self._alloc_equity, self._alloc_flow = np.zeros((bars, n)), np.zeros((bars, n))  # see kernel.track_sleeves
        self._targets = np.array([float(t) for t in self.planner.targets])  # the kernel's, changed by allocations
        key = bridge.register(self)
        try:
            self._resolver, self._counters, self._ranks = resolver, counters, ranks
            out = kernel.run(
                key, 0, len(panel), self.due, kinds, entry, exit_, short, weight, entry_reason, exit_reason,
                self.feature_set.conditions[self.first:], ~np.isnan(data[:, CLOSE]), marks,
                prices.buy, prices.sell, prices.base, costs.commission_rate[0], costs.commission_rate[1],
                costs.fee, costs.lot, settings.clip, settings.allow_short, settings.close_mode, settings.isolated,
                engine_mode(resolver), bool(resolver.nets), ranks, scaled_weights, threshold,
                max(settings.rebalance_every, 1), self._targets,
                self.sleeve_rows, self.positions,
                np.zeros((n, symbols), dtype=np.int64), np.full((n, symbols), -1, dtype=np.int64),
                np.zeros((n, max(symbols, 1)), dtype=np.int64), counters, _table(64, L.OD_COLUMNS),
                _table(8, L.EX_COLUMNS),
                _table(64, L.SG_COLUMNS), np.zeros((64, 2)), _table(64, L.FL_COLUMNS), _table(8, L.CF_COLUMNS),
                _table(8, L.CO_COLUMNS), _table(8, 4), _table(1, max(n, 1)), books.cash, books.equity,
                books.positions, *self._signals, self._group, self._alloc_due, self._alloc_equity, self._alloc_flow,
                panel.data, costs.slippage_rate[0], costs.slippage_rate[1],
                np.zeros((n, symbols, L.PR_COLUMNS), dtype=np.int64),
                np.zeros((n, symbols, L.SP_COLUMNS), dtype=np.int64), self._options, rule_opts)
        finally:
            bridge.unregister(key)
        self.log.seq = int(counters[L.CT_EVENT])
        orders, signals, signal_floats, fills, conflicts, conflict_orders, transfers, _, extras = out
        reasons = list(self.reasons)
        records = Records(self.ids, panel.symbols, orders, signals, signal_floats, fills, conflicts, conflict_orders,
                          transfers, counters, reasons, settings.conflict_mode, logged_at, self.planner.rebalances,
                          self.allocation_targets, self.signal_orders, self.rule_orders, extras)
        failure = self._failure(counters)
        failed = {i: f for i, f in self.failures.items() if settings.isolated} if failure is None else {}
        processed = int(counters[L.CT_BARS])
        if self.on_progress:
            self.on_progress(processed)
        return StepOutcome(records, self.sleeves, processed, failure, failed, books if self.books else None)

    def _rules(self) -> tuple[np.ndarray, ...]:
        """Per strategy: its kind (compiled rule or Python), and for rules the columns of their
        entry and exit conditions, side, entry weight, reasons and order options (a row of
        layout OP_* columns; OP_SIGNAL -1 where none)."""
        n = len(self.strategies)
        options = np.zeros((n, L.OP_COLUMNS), dtype=np.int64)
        options[:, L.OP_SIGNAL] = -1
        kinds = np.full(n, L.PYTHON, dtype=np.int64)
        entry, exit_ = np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        short, weight = np.zeros(n, dtype=np.bool_), np.zeros(n)
        entry_reason, exit_reason = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        columns = self.feature_set.columns
        for i, (_, strategy) in enumerate(self.strategies):
            if not compiled(strategy):
                continue
            kinds[i] = L.RULE
            entry[i] = columns[strategy.entry]
            if strategy.exit is not None:
                exit_[i] = columns[strategy.exit]
            short[i] = strategy.side == "short"
            weight[i] = strategy.weight_for(len(self.panel.symbols))
            entry_reason[i] = self._reason(f"{strategy.label} entry")
            exit_reason[i] = self._reason(f"{strategy.label} exit")
            if strategy.orders is not None:
                options[i] = option_row(strategy.orders, Side.SELL if strategy.side == "short" else Side.BUY)
                self.rule_orders[i] = options_json(strategy.orders)
        return kinds, entry, exit_, short, weight, entry_reason, exit_reason, options

    def _reason(self, text: str) -> int:
        return self.reasons.setdefault(text, len(self.reasons))

    def _failure(self, counters: np.ndarray) -> Failure | None:
        status = counters[L.CT_STATUS]
        if status == L.DONE:
            return None
        return self.failures[int(counters[L.CT_STOP_SLEEVE])]

    # -- what the engine asks of Python -----------------------------------------------------------

    def call_strategy(self, i: int, t: int) -> int:
        """Python strategy i's signals at bar t, written into the engine's signal buffers: how
        many, or -(valid + 1) if it raised (after `valid` signals that stand)."""
        self._progress(t + 1)  # bar t is being stepped
        now = self.first + t  # on the market's clock, warm-up included
        start = self.market.t + 1
        if start <= now:
            self.market.reveal(now, self.full.data[start : now + 1], self.feature_set.rows(start, now + 1))
        strategy_id, strategy = self.strategies[i]
        ctx = self.contexts[i]
        ctx.at(now)
        symbols, sides, weights, reasons = self._signals
        taken = 0
        options = 0
        first_signal = int(self._counters[L.CT_SIGNALS])  # the row its first signal will have
        try:
            signals = call_on_bar(strategy, ctx, t)
            for count, signal in enumerate(signals or (), start=1):
                if count > MAX_SIGNALS_PER_CALL:
                    raise ValueError(f"on_bar returned more than {MAX_SIGNALS_PER_CALL:,} signals at one bar; "
                                     "return at most one signal per symbol")
                if type(signal) is not Signal and not isinstance(signal, Signal):
                    raise TypeError(f"on_bar must return Signal objects, got {type(signal).__name__}")
                j = self.index.get(signal.symbol)
                if j is None:
                    j = ctx.index(signal.symbol)  # raises, with a hint
                symbols[taken], sides[taken], weights[taken] = j, _SIDES[signal.side], signal.weight
                reasons[taken] = self._reason(signal.reason)
                if signal.orders is not None:
                    self._options[options] = option_row(signal.orders, signal.side)
                    self._options[options, L.OP_SIGNAL] = taken
                    self.signal_orders[first_signal + taken] = options_json(signal.orders)
                    options += 1
                    self._counters[L.CT_OPTIONS] = options
                taken = count
        except (Exception, SystemExit) as exc:  # a user's strategy may raise anything, or exit
            self.failures[i] = Failure(strategy_id, t, exc)
            return -(taken + 1)
        return taken

    def resolve(self, t: int, j: int, n: int) -> None:
        """Which of the n orders on symbol j the engine put in its group buffer (rows of order
        row, sleeve, quantity) stand, by the configured Python resolver: 1 or 0 into the
        buffer's last column. SqlorchError if it returns orders that were not in the conflict."""
        group = self._group
        views = [ConflictOrder(row + 1, self.ids[i], self.panel.symbols[j], from_micro(quantity), int(self._ranks[i]),
                               self.weights[i]) for row, i, quantity in group[:n, :3].tolist()]
        kept = {v.order_id for v in self._resolver.resolve(views)}
        if not kept <= {v.order_id for v in views}:
            raise SqlorchError(f"conflict resolver {self.settings.conflict_mode!r} returned orders that were not in "
                               "the conflict; it must return a subset of the orders it was given")
        group[:n, 3] = [v.order_id in kept for v in views]

    def exact_target(self, weight: float, cash: int, i: int, t: int, j: int, lot: int) -> int:
        """Sleeve i's target in symbol j at bar t, in exact integers (see bridge.exact_quantity)."""
        marks = self.marks_micro[t]
        return bridge.exact_quantity(weight, cash, self.positions[i], marks, marks[j], lot)

    def rebalance(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The rebalancing plan at bar t (see Planner.plan), its events numbered in the run's order;
        on an allocation date, towards the policy's new targets (see `allocate`). A plan numbered
        -1 if the policy failed (the failure is kept under the number of sleeves)."""
        self.log.seq = int(self._counters[L.CT_EVENT])
        try:
            if self._alloc_due.size and self._alloc_due[t]:
                self.allocate(t)
            plan = self.planner.plan(t)
        except AllocationError as exc:
            self.failures[len(self.ids)] = Failure(exc.policy, t, exc)
            n = len(self.ids)
            return np.zeros((0, 3), dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), -1
        finally:
            self._counters[L.CT_EVENT] = self.log.seq
        return plan

    def allocate(self, t: int) -> None:
        """The allocation at bar t (SPEC §7): the policy sees the sleeves' returns
        (E_t - F_t) / E_(t-1) - 1 over the last `lookback` bars up to t, and its targets become the
        sleeves' targets (of the sleeves' equity: weight / budget) for this rebalance and the drift
        band after it; recorded in `allocation_targets` and logged as `orchestrator.allocation`."""
        allocation = self.allocation
        assert allocation is not None
        lookback, equity, flow = allocation.lookback, self._alloc_equity, self._alloc_flow
        before, now, moved = equity[t - lookback : t], equity[t - lookback + 1 : t + 1], flow[t - lookback + 1 : t + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.where(before > 0, (now - moved) / np.where(before > 0, before, 1.0) - 1.0, 0.0)
        total = float(equity[t].sum())
        shares = equity[t] / total if total > 0 else np.full(len(self.ids), 1.0 / len(self.ids))
        budget = allocation.budget
        window = AllocationWindow(returns, tuple(self.ids), allocation.configured.copy(), shares * budget, budget, t,
                                  self.timestamps[t])
        weights, statistic = allocation.targets(window)
        self.planner.targets = [Decimal(repr(float(w))) / Decimal(repr(budget)) for w in weights]
        self._targets[:] = weights / budget
        for i, sid in enumerate(self.ids):
            stat = float(statistic[i])
            self.allocation_targets.append(AllocationTarget(t, sid, allocation.name, float(shares[i]),
                                                            float(weights[i]), stat if np.isfinite(stat) else None))
        self.log.emit("allocation", bar_index=t, bar_date=self.timestamps[t], policy=allocation.name,
                      before={sid: float(x) * budget for sid, x in zip(self.ids, shares)},
                      after={sid: float(w) for sid, w in zip(self.ids, weights)})

    def sleeve_limit(self, i: int, t: int, amount: float) -> None:
        """Sleeve i's equity or cash would reach `amount`, past the engine's bound, at bar t."""
        self.failures[i] = Failure(self.ids[i], t, SleeveLimitError(self.ids[i], amount))

    def progress(self, t: int) -> None:
        self._progress(t)

    def _progress(self, done: int) -> None:
        """Report `done` bars stepped, at most once every PROGRESS_SECONDS (the first at once)."""
        now = time.monotonic()
        if self.on_progress and now - self._progressed > PROGRESS_SECONDS:
            self.on_progress(done)
            self._progressed = now


def compiled(strategy: object) -> bool:
    """Whether the engine decides a strategy's signals itself: a `Rule` whose `on_bar` is the
    rule's own (a subclass that overrides it runs in Python)."""
    return isinstance(strategy, Rule) and type(strategy).on_bar is Rule.on_bar


def _table(rows: int, columns: int) -> np.ndarray:
    return np.zeros((rows, columns), dtype=np.int64)
