"""One batch of a grid search: many combinations of one strategy in one pass over the bars.

This is the worker side of `sqlorch.grid.search`: `run_batch(data, batch)` returns one row per
combination. Every combination is an isolated sleeve of the one engine (`Stepper` with
`EngineSettings.isolated`: no conflicts, no rebalancing) trading the full initial capital, all
in one pass (features computed once, strategies woken only when their features change), so each
combination's fills are those of a standalone `BacktestEngine` run. Its metrics come from
`sqlorch.backtest.metrics` (numpy, kept equal to sql/load/metrics.sql by a property test), or,
with `GridData.sql_metrics`, from the warehouse SQL itself: the batch is written as one scratch
run into an in-memory DuckDB holding the warehouse schema and read back from the `metrics`
table. A combination whose strategy raises is recorded as failed; the others go on.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from sqlorch.backtest.benchmark import Benchmark
from sqlorch.backtest.metrics import bar_returns, equity_curves, final_amount, sleeve_metrics, trade_stats
from sqlorch.backtest.results import METRIC_NAMES, PerformanceMetrics
from sqlorch.backtest.runner import gc_paused
from sqlorch.bars.panel import MARK, Panel
from sqlorch.config.settings import BacktestConfig
from sqlorch.engine import layout as L
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import StepOutcome, Stepper
from sqlorch.engine.strategy import own_id
from sqlorch.grid.overfitting import PBO_BLOCKS, trial_statistics
from sqlorch.money import from_micro, micro_of
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import (
    BOOKS,
    Warehouse,
    coded_column,
    decimal_column,
    delete_run_rows,
    insert,
    materialize,
    register_dataset,
    timestamp_column,
)

TRIAL_FIELDS = ("closed_trade_count", "return_count", "mean_return", "stdev_return", "skewness", "kurtosis")
"""A trial's closed trades and the moments of its per-bar returns (`sqlorch.grid.overfitting.return_moments`)."""
RESULT_FIELDS = ("strategy_id", "combination", "status", "error", *METRIC_NAMES, "final_equity", *TRIAL_FIELDS,
                 "block_sums")
"""The fields of each row `run_batch` returns, in order; `block_sums` is the combination's
[3, pbo_blocks] slice of `sqlorch.grid.overfitting.block_sums` (None if failed, or fewer returns
than blocks), for the probability of backtest overfitting."""


@dataclass(frozen=True)
class GridData:
    """What every batch of one grid search shares: the validated bars (the first `warmup` clock
    bars of them warm-up, see `Panel.first`), the dataset id of the traded ones, the bars a year,
    the settings (a plain `BacktestConfig`), where metrics come from, and the directories to
    import the strategies' modules from."""

    bars: pl.DataFrame
    dataset_id: str
    periods_per_year: int
    config: BacktestConfig
    sql_metrics: bool = False
    import_paths: tuple[str, ...] = ()  # where the strategies' modules are, for worker processes
    benchmark: Benchmark | None = None  # on the clock of `bars`, when the settings name one
    warmup: int = 0  # clock bars at the start of `bars` revealed to the strategies but not traded
    warmup_id: str = ""  # with a warm-up, the dataset id of all the bars (a worker's copy is kept by both ids)
    pbo_blocks: int = PBO_BLOCKS  # CSCV's blocks: each combination's returns are summed by block

    def traded_bars(self) -> pl.DataFrame:
        """The bars traded (and stored as the dataset): those after the warm-up."""
        if not self.warmup:
            return self.bars
        start = self.bars["ts"].unique().sort()[self.warmup]
        return self.bars.filter(pl.col("ts") >= start)

    def install(self) -> None:
        """Make the strategies' modules importable in this (worker) process: an executor calls
        this once per worker, before any batch arrives."""
        for path in reversed(self.import_paths):
            if path not in sys.path:
                sys.path.insert(0, path)

    def release(self) -> None:
        """Free this (worker) process's copy of the bars: an executor calls this when a worker
        has run its batches and waits for other work."""
        global _prepared
        _prepared = None


@dataclass(frozen=True)
class Batch:
    """Combinations of one strategy class to run together: (combination number, parameters)."""

    strategy_id: str
    strategy_class: type
    combinations: tuple[tuple[int, Mapping[str, Any]], ...]


class _Prepared:
    """A worker's copy of the grid's bars: the panel (`full`, warm-up included; `panel`, the bars
    traded), and (for SQL metrics) an in-memory warehouse holding the traded bars with their
    clock and marks. Built once per worker process."""

    def __init__(self, data: GridData):
        self.dataset_id = data.dataset_id
        self.warmup_id = data.warmup_id
        self.full = Panel.from_bars(data.bars, data.warmup)
        self.panel = self.full.traded()
        self.timestamps = self.panel.timestamps.astype("datetime64[us]")
        self._bars = data.traded_bars()
        self._warehouse: Warehouse | None = None
        self.features: dict = {}  # features computed over `full`, shared by the runs of this worker

    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(None)
            with self._warehouse.transaction() as con:
                register_dataset(con, self._bars, self.dataset_id, "grid")
        return self._warehouse


_prepared: _Prepared | None = None  # one dataset per worker process, reused by its batches


def prepare(data: GridData) -> _Prepared:
    """This process's copy of `data`'s bars (made on the first call, kept for the next ones of the
    same search; a combination search's tasks use it too)."""
    global _prepared
    if _prepared is None or (_prepared.dataset_id, _prepared.warmup_id) != (data.dataset_id, data.warmup_id):
        _prepared = None  # free the previous dataset first
        _prepared = _Prepared(data)
    return _prepared


def run_batch(data: GridData, batch: Batch) -> list[tuple]:
    """Run every combination of `batch` over the grid's bars; one row per combination
    (fields `RESULT_FIELDS`): status `completed` with its metrics and final equity, or
    `failed` with the error."""
    prepared = prepare(data)
    failed: dict[int, str] = {}
    numbers, strategies = [], []
    for number, params in batch.combinations:
        try:
            strategies.append(batch.strategy_class(**params))
            numbers.append(number)
        except Exception as exc:  # a user's constructor may raise anything
            failed[number] = f"{type(exc).__name__}: {exc}"
    results: dict[int, tuple] = {}
    if strategies:
        capital = from_micro(micro_of(data.config.initial_capital))
        with gc_paused():
            # each combination sees the id it would have in its own backtest
            stepper = Stepper(prepared.full, [(own_id(s), s) for s in strategies], [capital] * len(strategies),
                              [Decimal(1)] * len(strategies), data.config.engine_settings(isolated=True),
                              EventLog("grid", "backtest"))
            outcome = stepper.run()
        stopped = {i: f for i, f in outcome.failed.items()}
        if outcome.failure:  # the pass itself stopped (a sleeve passed the engine's bounds): every sleeve with it
            stopped.update({i: outcome.failure for i in range(len(strategies)) if i not in stopped})
        for i, failure in stopped.items():
            error = failure.error
            failed[numbers[i]] = (f"{type(error).__name__}: {error} "
                                  f"(at bar {prepared.timestamps[failure.bar_index].item()})")
        results = dict(zip(numbers, _measure(prepared, data, outcome)))
    rows = []
    blank = (None,) * (len(METRIC_NAMES) + 1 + len(TRIAL_FIELDS) + 1)
    for number, _ in batch.combinations:
        if number in failed:
            rows.append((batch.strategy_id, number, "failed", failed[number], *blank))
        else:
            rows.append((batch.strategy_id, number, "completed", None, *results[number]))
    return rows


def _measure(prepared: _Prepared, data: GridData, outcome: StepOutcome) -> list[tuple]:
    """Each sleeve's metric values, final equity, closed trades, moments of its per-bar returns
    and block sums (the fields of `RESULT_FIELDS` after the error), from its fills (see
    sqlorch.backtest.metrics); with `data.sql_metrics` the metric values and final equity come
    from the warehouse SQL instead."""
    marks = prepared.panel.data[:, MARK]
    capitals = [sleeve.initial for sleeve in outcome.sleeves]
    fills = outcome.records.rows_of("fills")
    equity, held = equity_curves(marks, fills, capitals)
    trades = trade_stats(fills, capitals)
    returns = bar_returns(equity)
    if data.sql_metrics:
        measured = _sql_metrics(prepared, data, outcome)
    else:
        values = sleeve_metrics(equity, held, capitals, trades, data.periods_per_year, data.config.risk_free_rate,
                                data.benchmark.closes if data.benchmark else None, returns)
        measured = [(v, final_amount(sleeve.equity(marks[-1]))) for v, sleeve in zip(values, outcome.sleeves)]
    moments, sums = trial_statistics(returns, data.pbo_blocks)
    count, mean, stdev, skewness, kurtosis = (m.tolist() for m in moments)
    return [(*values, final_equity, trades[i][1], count[i], mean[i], stdev[i], skewness[i], kurtosis[i],
             None if sums is None else sums[:, :, i])  # a view: pickled alone, or stacked in this process
            for i, (values, final_equity) in enumerate(measured)]


_SCRATCH_TABLES = ("runs", "run_strategies", "fills", "benchmarks", *BOOKS)


def _sql_metrics(prepared: _Prepared, data: GridData, outcome: StepOutcome) -> list[tuple[tuple, Decimal]]:
    """Each sleeve's (metric values, final equity) computed by the warehouse SQL: the batch is
    written as one scratch run, one sleeve per combination, into the worker's in-memory
    warehouse; its books and metrics are materialized as for any run, read, and dropped."""
    run_id = "grid-batch-" + secrets.token_hex(6)
    config, panel = data.config, prepared.panel
    ids = [f"c{i}" for i in range(len(outcome.sleeves))]
    capital = from_micro(micro_of(config.initial_capital))
    with prepared.warehouse().transaction() as con:
        try:
            insert(con, "runs", {
                "run_id": [run_id], "kind": ["grid"], "status": ["completed"], "dataset_id": [prepared.dataset_id],
                "initial_capital": [config.initial_capital], "unallocated_capital": [Decimal(0)],
                "periods_per_year": [data.periods_per_year], "bar_count": [len(panel)],
                "bars_processed": [len(panel)], "strategy_count": [len(ids)], "symbol_count": [len(panel.symbols)],
                "risk_free_rate": [config.risk_free_rate],
            })
            if data.benchmark is not None:
                insert(con, "benchmarks", data.benchmark.columns(run_id, prepared.timestamps))
            insert(con, "run_strategies", {
                "run_id": [run_id] * len(ids), "strategy_id": ids, "position": list(range(1, len(ids) + 1)),
                "weight": [Decimal(1)] * len(ids), "initial_capital": [capital] * len(ids),
            })
            insert(con, "fills", _fill_columns(run_id, outcome.records.rows_of("fills"), ids, panel,
                                               prepared.timestamps))
            materialize(con, run_id)
            rows = con.execute(sql_text("queries", "grid_batch_metrics"), {"run_id": run_id}).fetchall()
        finally:
            for table in _SCRATCH_TABLES:
                delete_run_rows(con, table, run_id)
    found = {}
    for row in rows:
        named = dict(zip(("series", *METRIC_NAMES, "final_equity"), row))
        metrics = PerformanceMetrics.from_row(named)
        found[named["series"]] = (tuple(getattr(metrics, m) for m in METRIC_NAMES), named["final_equity"])
    return [found[sid] for sid in ids]


def _fill_columns(run_id: str, fills: np.ndarray, ids: Sequence[str], panel: Panel,
                  timestamps: Any) -> dict[str, Any]:
    """The engine's fills (rows laid out as layout.FL_*) as columns of the `fills` table."""
    bars = fills[:, L.FL_BAR]
    return {
        "run_id": [run_id] * len(bars), "fill_id": np.arange(1, len(bars) + 1),
        "strategy_id": coded_column(fills[:, L.FL_SLEEVE], ids), "bar_index": bars,
        "ts": timestamp_column(bars, timestamps), "symbol": coded_column(fills[:, L.FL_SYMBOL], panel.symbols),
        "quantity": decimal_column(fills[:, L.FL_QUANTITY], 6), "price": decimal_column(fills[:, L.FL_PRICE], 6),
        "commission": decimal_column(fills[:, L.FL_COMMISSION], 6),
        "realized_pnl": decimal_column(fills[:, L.FL_REALIZED], 6),
    }
