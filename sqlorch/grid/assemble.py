"""The worker side of a combination search (`sqlorch.grid.combine`): single runs of the line-up's
strategies, orchestrated re-runs of subsets, and the metrics of a subset's portfolio.

Two ways to a subset's portfolio, giving the same numbers:
- assembled (`run_singles`, then `assemble`): each member runs once alone, an isolated sleeve
  of the one engine at the capital it has in the subset; where the members cannot interact
  (see `sqlorch.grid.combine`), the subset's equity is exactly the sum of its members' equities
  (integers, micro units) plus its unallocated cash, its trades are theirs, and it holds a
  position wherever one of them does;
- re-run (`rerun`): the subset as an orchestrated run (`Stepper`, conflicts, rebalancing and the
  allocation policy included). Its equity comes from all its fills as one book: capital moved
  between sleeves nets out, so the portfolio's cash is the initial capital plus every fill's cash
  flow (-notional -commission, as the warehouse's trades count it).
Both then go through `measure`: the metrics of `sqlorch.backtest.metrics` (the grid's numpy
definition, kept equal to the warehouse SQL by a property test) and the trial statistics of
`sqlorch.grid.overfitting`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from sqlorch.backtest.metrics import bar_returns, equity_curves, sleeve_metrics, trade_stats
from sqlorch.backtest.runner import gc_paused, plan_sleeves
from sqlorch.bars.panel import MARK
from sqlorch.config.settings import OrchestratorConfig
from sqlorch.engine import layout as L
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper, compiled
from sqlorch.engine.strategy import own_id, strategy_ids
from sqlorch.errors import SqlorchError
from sqlorch.grid.batch import GridData, prepare
from sqlorch.grid.overfitting import trial_statistics
from sqlorch.money import MICRO, from_micro, round_half_even_array

CHUNK = 2048  # subsets measured at once (bars x CHUNK floats per array)
EXACT = 2.0 ** 52  # below this, sums of integer amounts held as floats are exact


@dataclass(frozen=True)
class CombineData(GridData):
    """What every task of one combination search shares: the grid's (bars, clock, settings as a
    plain `BacktestConfig` for single runs) plus the line-up's strategies and the orchestrated
    settings of a subset's run (no warehouse, no log)."""

    strategies: tuple[object, ...] = ()
    orchestrator: OrchestratorConfig | None = None


@dataclass(frozen=True)
class SingleRun:
    """One strategy run alone at one capital: its equity at every bar (int64 micro units),
    whether it held a position, its `trade_stats`, the (bar x symbols + symbol) keys of its orders
    (where they were resolved), and the error that stopped it (None if it completed)."""

    equity: np.ndarray
    held: np.ndarray
    trades: tuple[int, int, int, int, int]
    orders: np.ndarray
    error: str | None = None


@dataclass(frozen=True)
class Trial:
    """A subset under a policy: its number (1, 2, ... in search order), members (positions in
    the line-up), their weights (summing to at most 1) and the policy."""

    number: int
    members: tuple[int, ...]
    weights: tuple[Decimal, ...]
    policy: str


class Unlogged(EventLog):
    """An event log that numbers events and keeps none: a combination's runs leave their numbers
    in the warehouse, not an audit trail (encoding each rebalance's event costs a tenth of a
    re-run)."""

    def emit(self, name: str, *, bar_index: int | None = None, flush: bool = False, hold: bool = False,
             **fields: Any) -> None:
        self.seq += 1

    def add(self, name: str, seq: int, now: int, stamp: str, *, bar_index: int | None = None, **fields: Any) -> None:
        pass


def fresh(strategy: object) -> object:
    """A copy of a line-up's strategy for one run: a compiled `Rule` as it is (the engine keeps
    its state, never the rule), any other a deep copy (a Python strategy may keep state)."""
    return strategy if compiled(strategy) else copy.deepcopy(strategy)


def run_singles(data: CombineData, item: Sequence[tuple[int, Decimal]]) -> list[SingleRun]:
    """Run each (line-up position, capital) of `item` alone, all in one pass over the bars as
    isolated sleeves; one `SingleRun` each, in order."""
    prepared = prepare(data)
    strategies = [fresh(data.strategies[member]) for member, _ in item]
    with gc_paused():
        stepper = Stepper(prepared.full, [(own_id(s), s) for s in strategies], [capital for _, capital in item],
                          [Decimal(1)] * len(item), data.config.engine_settings(isolated=True),
                          Unlogged("combine", "backtest"))
        outcome = stepper.run()
    errors: dict[int, str] = {}
    stopped = dict(outcome.failed)
    if outcome.failure:
        stopped.update({i: outcome.failure for i in range(len(item)) if i not in stopped})
    for i, failure in stopped.items():
        errors[i] = (f"{type(failure.error).__name__}: {failure.error} "
                     f"(at bar {prepared.timestamps[failure.bar_index].item()})")
    marks = prepared.panel.data[:, MARK]
    fills = outcome.records.rows_of("fills")
    capitals = [sleeve.initial for sleeve in outcome.sleeves]
    equity, held = equity_curves(marks, fills, capitals)
    trades = trade_stats(fills, capitals)
    orders = outcome.records.rows_of("orders")
    orders = orders[orders[:, L.OD_RESOLVED] >= 0]
    symbols = len(prepared.panel.symbols)
    runs = []
    for i in range(len(item)):
        own = orders[orders[:, L.OD_SLEEVE] == i]
        keys = np.unique(own[:, L.OD_RESOLVED] * symbols + own[:, L.OD_SYMBOL])
        runs.append(SingleRun(np.rint(equity[:, i] * MICRO).astype(np.int64), held[:, i].copy(), trades[i], keys,
                              errors.get(i)))
    return runs


def subset_settings(config: OrchestratorConfig, policy: str, ids: Sequence[str] | None = None) -> OrchestratorConfig:
    """The settings of a subset's orchestrated run under `policy`: the configuration's, its
    `priorities` kept for the strategies of the subset (`ids`, their ids in its run) only."""
    priorities = config.priorities
    if priorities and ids is not None:
        priorities = {sid: rank for sid, rank in priorities.items() if sid in ids} or None
    return dataclasses.replace(config, allocation=policy, priorities=priorities)


def rerun(data: CombineData, item: Sequence[Trial]) -> list[tuple]:
    """Run each trial of `item` as an orchestrated run of its members (each a fresh copy of the
    line-up's strategy); one row per trial: (number, status, error, *`measure`'s fields)."""
    prepared = prepare(data)
    marks = prepared.panel.data[:, MARK]
    assert data.orchestrator is not None
    capital = int(data.orchestrator.initial_capital * MICRO)
    rows: list[tuple] = []
    curves, helds, trades, numbers = [], [], [], []
    for trial in item:
        members = [fresh(data.strategies[m]) for m in trial.members]
        try:
            config = subset_settings(data.orchestrator, trial.policy, strategy_ids(members))
            sleeves = plan_sleeves(list(zip(members, trial.weights)), config)
        except SqlorchError as exc:
            rows.append((trial.number, "failed", str(exc)))
            continue
        with gc_paused():
            stepper = Stepper(prepared.full, list(zip(sleeves.ids, sleeves.strategies)), sleeves.capitals,
                              sleeves.weights, config.engine_settings(), Unlogged("combine", "orchestrator"),
                              memo=prepared.features)
            outcome = stepper.run()
        if outcome.failure:
            failure = outcome.failure
            rows.append((trial.number, "failed", f"{failure.strategy_id}: {type(failure.error).__name__}: "
                         f"{failure.error} (at bar {prepared.timestamps[failure.bar_index].item()})"))
            continue
        equity, held, stats = portfolio_book(marks, outcome.records.rows_of("fills"),
                                             [int(c * MICRO) for c in sleeves.capitals], capital)
        curves.append(equity)
        helds.append(held)
        trades.append(stats)
        numbers.append(trial.number)
    if numbers:
        measured = measure(np.stack(curves, axis=1), np.stack(helds, axis=1), trades, capital, data)
        rows += [(number, "completed", None, *values) for number, values in zip(numbers, measured)]
    return rows


def flows(fills: np.ndarray) -> np.ndarray:
    """Each fill's cash flow (int64 micro units): -notional - commission for a buy, notional -
    commission for a sale, the notional |quantity| x price / 1e6 rounded half to even (in int64
    where the products fit, else in Python integers)."""
    quantity, price, commission = (fills[:, c] for c in (L.FL_QUANTITY, L.FL_PRICE, L.FL_COMMISSION))
    size = np.abs(quantity)
    if len(fills) and float(size.max()) * float(price.max()) >= 2.0 ** 62:
        size, price = size.astype(object), price.astype(object)
    whole = round_half_even_array(size * price, MICRO).astype(np.int64)
    return np.where(quantity < 0, whole, -whole) - commission


def portfolio_book(marks: np.ndarray, fills: np.ndarray, capitals: Sequence[int],
                   capital: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """An orchestrated run's portfolio from its fills alone: its equity at every bar (int64 micro
    units: `capital` plus every fill's flow, plus the positions at their marks), whether any sleeve
    held a position, and the sum of its sleeves' `trade_stats` (each sleeve's cash rebuilt from its
    own flows, so that capital moved in or out is no trade's P&L). `capitals` are the sleeves'."""
    flow = flows(fills)
    book = fills.copy()
    book[:, L.FL_SLEEVE] = 0
    book[:, L.FL_CASH] = capital + np.cumsum(flow)
    equity, _ = equity_curves(marks, book, [capital])
    own = fills.copy()
    for i, start in enumerate(capitals):
        mine = own[:, L.FL_SLEEVE] == i
        own[mine, L.FL_CASH] = start + np.cumsum(flow[mine])
    _, held = equity_curves(marks, own, list(capitals))
    stats = tuple(int(v) for v in np.array(trade_stats(own, capitals), dtype=np.int64).reshape(-1, 5).sum(axis=0))
    return np.rint(equity[:, 0] * MICRO).astype(np.int64), held.any(axis=1), stats  # type: ignore[return-value]


def assemble(singles: Sequence[SingleRun], members: Sequence[Sequence[int]], unallocated: Sequence[int],
             capital: int, data: GridData) -> list[tuple]:
    """`measure` of each subset assembled from single runs: `members[k]` are the positions in
    `singles` of subset k's members (each at its capital in the subset), `unallocated[k]` its
    unallocated cash (micro units)."""
    equity = np.stack([s.equity for s in singles], axis=1)
    held = np.stack([s.held for s in singles], axis=1).astype(np.float64)
    stats = np.array([s.trades for s in singles], dtype=np.int64).reshape(-1, 5)
    exact = float(np.abs(equity).max(initial=0)) * max(len(singles), 1) + max(unallocated, default=0) < EXACT
    values = equity.astype(np.float64) if exact else None
    out: list[tuple] = []
    for lo in range(0, len(members), CHUNK):
        part = members[lo:lo + CHUNK]
        incidence = np.zeros((len(singles), len(part)))
        for k, positions in enumerate(part):
            incidence[list(positions), k] = 1.0
        if values is not None:  # integers below 2^52: the float sums are exact
            summed = np.rint(values @ incidence).astype(np.int64)
        else:
            summed = np.stack([equity[:, list(p)].sum(axis=1) for p in part], axis=1)
        summed += np.asarray(unallocated[lo:lo + CHUNK], dtype=np.int64)[None, :]
        trades = [tuple(int(v) for v in stats[list(p)].sum(axis=0)) for p in part]
        out += measure(summed, (held @ incidence) > 0, trades, capital, data)
    return out


def measure(equity: np.ndarray, held: np.ndarray, trades: Sequence[tuple[int, ...]], capital: int,
            data: GridData) -> list[tuple]:
    """Per column of `equity` [bars, subsets] (int64 micro units) and `held`: the values of
    METRIC_NAMES, final equity (Decimal), closed trades, the moments of its per-bar returns
    (count, mean, stdev, skewness, kurtosis) and its block sums for the PBO (None if too few
    returns) — the fields of a grid's rows after the error (`sqlorch.grid.batch.RESULT_FIELDS`)."""
    curves = equity.astype(np.float64) / MICRO
    returns = bar_returns(curves)
    values = sleeve_metrics(curves, held, [capital] * equity.shape[1], trades, data.periods_per_year,
                            data.config.risk_free_rate, data.benchmark.closes if data.benchmark else None, returns)
    moments, sums = trial_statistics(returns, data.pbo_blocks)
    count, mean, stdev, skewness, kurtosis = (m.tolist() for m in moments)
    final = equity[-1].tolist()
    return [(*values[k], from_micro(final[k]), trades[k][1], count[k], mean[k], stdev[k], skewness[k], kurtosis[k],
             None if sums is None else sums[:, :, k].copy()) for k in range(equity.shape[1])]
