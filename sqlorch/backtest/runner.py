"""One run end to end: validate, register, step, write, in that order.

Everything is validated before the first bar. The run is registered (status `running`,
its bars stored) while the strategies step, and written in one transaction after, so the
warehouse never shows a half-written run as complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import inspect
import json
import os
import secrets
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from sqlorch.backtest.benchmark import Benchmark, benchmark_of, data_symbols
from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import MARK, Panel
from sqlorch.bars.window import trading_window
from sqlorch.config.settings import BacktestConfig, OrchestratorConfig, check_weight
from sqlorch.engine import layout
from sqlorch.engine.allocation import AllocationError, bounds_problem
from sqlorch.engine.domain import OverweightPolicy
from sqlorch.engine.events import EventLog, encode
from sqlorch.engine.features import declared
from sqlorch.engine.records import Amount, Coded, Columns, Lists, Nullable, Records
from sqlorch.engine.stepper import StepOutcome, Stepper
from sqlorch.engine.strategy import strategy_ids, warmup_bars, warmup_of
from sqlorch.errors import ConfigError, SqlorchError, StrategyError, did_you_mean
from sqlorch.money import MICRO, from_micro, from_pico, micro_of
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import (
    Warehouse,
    coded_column,
    decimal_column,
    insert,
    instant_column,
    list_column,
    materialize,
    plain_column,
    register_dataset,
    setting,
    timestamp_column,
)

Progress = Callable[[int, int], None]
"""Called with (bars done, bars in all) while a run steps."""


@dataclass(frozen=True)
class Sleeves:
    """The validated line-up of a run: ids, strategies, weights and sleeve capital."""

    ids: list[str]
    strategies: list[object]
    weights: list[Decimal]
    capitals: list[Decimal]
    unallocated: Decimal
    requested: list[Decimal]  # the weights as given; differ from `weights` if normalized


@dataclass(frozen=True)
class RunRecord:
    """Where a finished run lives: its id and the warehouse holding it."""

    run_id: str
    warehouse: Warehouse
    log_path: Path | None


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def plan_sleeves(pairs: Sequence[tuple[object, Any]], config: BacktestConfig) -> Sleeves:
    """Check strategies and weights (each > 0, sum <= 1 unless normalized); raise one ConfigError
    listing every problem."""
    strategies = [s for s, _ in pairs]
    problems: list[str] = []
    try:
        ids = strategy_ids(strategies)
    except ConfigError as exc:
        problems += exc.problems
        ids = [f"#{k}" for k in range(1, len(strategies) + 1)]
    weights = []
    for sid, (_, weight) in zip(ids, pairs):
        try:
            weights.append(check_weight(weight, config.initial_capital))
        except ValueError as exc:
            problems.append(f"weight of {sid}: {exc}")
    if not pairs:
        problems.append("no strategies: give at least one (strategy, weight) pair")
    for sid, strategy in zip(ids, strategies):
        try:
            declared(strategy)
            warmup_of(strategy)
        except (TypeError, ValueError) as exc:
            problems.append(f"strategy {sid}: {exc}")
    orchestrated = isinstance(config, OrchestratorConfig)
    for name in (config.priorities or {}) if orchestrated else {}:
        if name not in ids:
            problems.append(f"priorities: {name!r} is not a strategy of this run{did_you_mean(name, ids)}; "
                            f"strategies are {', '.join(ids)}")
    total = sum(weights, Decimal(0))
    normalize = orchestrated and config.on_overweight == OverweightPolicy.NORMALIZE
    if total > 1 and not normalize:
        problems.append(f"weights add up to {total}, more than 1; lower them or set on_overweight = \"normalize\"")
    budget = float(min(total, Decimal(1)))
    if orchestrated and len(weights) == len(pairs) and pairs and not (isinstance(config.allocation, str) and
                                                                      config.allocation == "fixed"):
        bounds = bounds_problem(len(weights), budget, config.min_weight, config.max_weight)
        if bounds:
            problems.append(f"min_weight, max_weight: {bounds}")
    if problems:
        raise ConfigError(problems)
    requested = weights
    if total > 1:
        warnings.warn(f"weights add up to {total}; scaled down proportionally to sum to 1", stacklevel=3)
        weights = [w / total for w in weights]
    capitals = [from_micro(micro_of(config.initial_capital * w)) for w in weights]  # never more than there is
    return Sleeves(ids, strategies, weights, capitals, config.initial_capital - sum(capitals, Decimal(0)),
                   requested)


def periods_per_year(timestamps: np.ndarray) -> int:
    """Bars per year inferred from the clock: 252 daily, 52 weekly, 12 monthly, or
    252 x bars per day for intraday bars."""
    if len(timestamps) < 2:
        return 252
    spacing_days = float(np.median(np.diff(timestamps)) / np.timedelta64(1, "D"))
    if spacing_days >= 25:
        return 12
    if spacing_days >= 5:
        return 52
    if spacing_days >= 0.9:
        return 252
    days = len(np.unique(timestamps.astype("datetime64[D]")))
    return 252 * max(1, round(len(timestamps) / days))


def dataset_id(panel: Panel) -> str:
    """A content hash of the bars: equal data share one dataset in the warehouse."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update("\0".join(panel.symbols).encode())
    digest.update(panel.timestamps.astype("datetime64[us]").tobytes())
    for start in range(0, len(panel), 256):  # the prices in blocks of bars: no copy of them all
        digest.update(np.ascontiguousarray(panel.data[start : start + 256, :5]))
    return digest.hexdigest()


def _describe(strategy: object) -> tuple[str, str]:
    """(module:Class, parameters as JSON): `params` if the strategy has it, else the arguments of
    its constructor that it keeps as attributes of the same name with simple values (not the
    counters or state it keeps besides, nor its `name`)."""
    params = getattr(strategy, "params", None)
    if not isinstance(params, dict):
        params = {k: v for k in _constructor_arguments(type(strategy))
                  if isinstance(v := getattr(strategy, k, None), (bool, int, float, str))}
    return class_reference(type(strategy)), encode(params)


def _constructor_arguments(cls: type) -> list[str]:
    """The names a class's constructor takes (keyword-passable, `name` and `self` aside)."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # a constructor Python cannot describe
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in list(signature.parameters.values())[1:] if p.kind in kinds and p.name != "name"]


def class_reference(cls: type) -> str:
    """A class as "module:Class", as a configuration file names it."""
    return f"{cls.__module__}:{cls.__qualname__}"


def config_json(config: BacktestConfig) -> str:
    """The settings of a run or grid search as JSON (values that are not JSON as text)."""
    settings = {f.name: getattr(config, f.name) for f in fields(config)}
    return json.dumps(settings, default=lambda v: dict(v) if isinstance(v, Mapping) else str(v), sort_keys=True)


def execute(kind: str, sleeves: Sleeves, config: BacktestConfig, bars: Any, warehouse: Warehouse,
            progress: Progress | None = None, source: str = "") -> RunRecord:
    """Run `sleeves` over `bars` and write everything to `warehouse` (the file is released
    while the strategies step, even inside `warehouse.held()`).

    `kind` is "backtest" (one strategy; events prefixed `backtest.`) or "orchestrator". The run
    is in the warehouse as `running` before any strategy is called, so a process that dies
    leaves it `incomplete`, never missing. Raises StrategyError (after recording the run as
    failed) if a strategy raises or exits; SqlorchError if the log or the warehouse cannot be
    written (the run is then failed, or incomplete, and its log never says completed).
    """
    _, bars, full = run_bars(bars, config, sleeves.strategies)
    panel = full.traded()
    benchmark = benchmark_of(config, panel)
    run_id = new_run_id()
    started = time.monotonic()
    log_path = Path(config.log_dir) / f"{run_id}.jsonl" if config.log_dir else None
    log = EventLog(run_id, "backtest" if kind == "backtest" else "orchestrator", log_path)
    try:
        registering = _register(warehouse, run_id, kind, sleeves, config, bars, panel, source, benchmark)
    except BaseException as exc:
        log.discard()  # nothing happened: no log of it
        if isinstance(exc, (duckdb.Error, OSError)):
            raise SqlorchError(f"could not write to the warehouse {warehouse.path}: {exc}; nothing was recorded. "
                               "Free disk space or fix the file, then run again") from exc
        raise
    timestamps = panel.timestamps.astype("datetime64[us]")
    log.emit("backtest_started", flush=True, strategy_count=len(sleeves.ids),
             total_capital=config.initial_capital,
             weights=dict(zip(sleeves.ids, (float(w) for w in sleeves.weights))),
             symbols=list(panel.symbols), date_range=[timestamps[0].item(), timestamps[-1].item()])
    if sleeves.requested != sleeves.weights:
        log.emit("weights_normalized", before=dict(zip(sleeves.ids, sleeves.requested)),
                 after=dict(zip(sleeves.ids, sleeves.weights)))
    try:
        with gc_paused():
            with quick_gil_handover():
                stepper = Stepper(full, list(zip(sleeves.ids, sleeves.strategies)), sleeves.capitals,
                                  sleeves.weights, config.engine_settings(), log,
                                  (lambda done: progress(done, len(panel))) if progress else None)
                outcome = stepper.run()
                del stepper  # its features and view: memory the SQL below can use
                registering.result()
                _log_outcome(log, outcome, timestamps, time.monotonic() - started, sleeves.unallocated, panel)
                _write_outcome(warehouse, run_id, outcome, log, timestamps, time.monotonic() - started)
        _write_log(warehouse, run_id, log)  # written: now the log may say so
    except BaseException as exc:  # interrupted, the warehouse unwritable, or a bug: never left looking alive
        log.discard_held()
        log.emit("backtest_failed", flush=True, error_type=type(exc).__name__, error_message=str(exc))
        registering.exception()  # waits for the bars to be stored (or not)
        _mark_failed(warehouse, run_id, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (duckdb.Error, OSError)):
            raise SqlorchError(f"could not write run {run_id} to the warehouse {warehouse.path or '(memory)'}: "
                               f"{exc}; it is recorded as failed (or, if that could not be written either, shows "
                               "as incomplete). Free disk space or fix the file, then run again") from exc
        raise
    finally:
        log.close()
    failure = outcome.failure
    if failure and isinstance(failure.error, AllocationError):
        raise SqlorchError(f"{failure.error} (run {run_id} recorded as failed)") from failure.error
    if failure:
        raise StrategyError(failure.strategy_id, timestamps[failure.bar_index].item(), failure.error,
                            run_id) from failure.error
    return RunRecord(run_id, warehouse, log_path)


def run_bars(source: Any, config: BacktestConfig, strategies: Iterable[object]
             ) -> tuple[pl.DataFrame, pl.DataFrame, Panel]:
    """(the bars of a run: the warm-up bars `config.warmup` asks for (see `warmup_bars`) and the
    bars from `config.start` to `config.end`; the bars it trades, from `start` on; the panel of all
    of them, its `first` the first traded bar). `source` (whatever `load_bars` accepts) is loaded
    up to `end`, adjusted as `config.adjust` says, and cut at `start` only after the warm-up."""
    loaded = load_bars(source, end=config.end, round_prices=config.round_prices, symbols=data_symbols(config),
                       adjust=config.adjust)
    window, warmup = trading_window(loaded, config.start, warmup_bars(config.warmup, strategies))
    full = Panel.from_bars(window, warmup)
    first = full.timestamps[warmup].astype("datetime64[us]").item()
    return window, window.filter(pl.col("ts") >= first) if warmup else window, full


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Stepping and writing create hundreds of thousands of small records and no reference
    cycles; the cyclic garbage collector would only scan them over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


HANDOVER_SECONDS = 0.0001
"""The switch interval while a run steps and writes (see quick_gil_handover)."""
_HANDOVER = {"runs": 0, "interval": 0.0}  # runs inside quick_gil_handover, the interval before the first
_HANDOVER_LOCK = threading.Lock()


@contextlib.contextmanager
def quick_gil_handover(seconds: float = HANDOVER_SECONDS) -> Iterator[None]:
    """While the strategies step, the thread storing the bars needs the GIL briefly and often
    (DuckDB takes it between tasks of a query), and so does the thread inserting the records
    while the next table's columns are built. Python makes it wait up to the switch interval
    (5 ms) each time: on L, 2 s of waiting; at 0.5 ms still 0.2 s more than at 0.1 ms. The
    interval only matters while another thread waits for the GIL. Runs in several threads at
    once restore it when the last ends."""
    with _HANDOVER_LOCK:
        if not _HANDOVER["runs"]:
            _HANDOVER["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_HANDOVER["interval"], seconds))
        _HANDOVER["runs"] += 1
    try:
        yield
    finally:
        with _HANDOVER_LOCK:
            _HANDOVER["runs"] -= 1
            if not _HANDOVER["runs"]:
                sys.setswitchinterval(_HANDOVER["interval"])


def _register(warehouse: Warehouse, run_id: str, kind: str, sleeves: Sleeves, config: BacktestConfig,
              bars: pl.DataFrame, panel: Panel, source: str, benchmark: Benchmark | None = None) -> Future:
    """Record the run as `running` with its strategies and benchmark (waiting here, before any work, if
    another process holds the file), then store the bars (once per content) and the run's
    dataset on another thread: DuckDB stores them (releasing the GIL) while the strategies
    step. The warehouse is released when done."""
    run = {
        "run_id": [run_id], "kind": [kind], "status": ["running"],
        "started_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        "initial_capital": [config.initial_capital], "unallocated_capital": [sleeves.unallocated],
        "periods_per_year": [config.periods_per_year or periods_per_year(panel.timestamps)],
        "bar_count": [len(panel)], "strategy_count": [len(sleeves.ids)],
        "symbol_count": [len(panel.symbols)], "config": [config_json(config)],
        "pid": [os.getpid()], "hostname": [socket.gethostname()], "sqlorch_version": [sqlorch_version()],
        "risk_free_rate": [config.risk_free_rate],
    }
    described = [_describe(s) for s in sleeves.strategies]  # user objects: read on this thread
    strategies = {
        "run_id": [run_id] * len(sleeves.ids), "strategy_id": sleeves.ids,
        "position": list(range(1, len(sleeves.ids) + 1)),
        "class_name": [d[0] for d in described], "params": [d[1] for d in described],
        "weight": sleeves.weights, "initial_capital": sleeves.capitals,
    }
    with warehouse.transaction() as con:
        insert(con, "runs", run)
        insert(con, "run_strategies", strategies)
        if benchmark is not None:
            insert(con, "benchmarks", benchmark.columns(run_id, panel.timestamps))

    def store() -> None:
        try:
            # one DuckDB thread: the other core steps the strategies (L: 0.1 s faster)
            with warehouse.transaction() as con, setting(con, "threads", 1):
                data_id = dataset_id(panel)
                register_dataset(con, bars, data_id, source or "python")
                con.execute(sql_text("queries", "set_run_dataset"), [data_id, run_id])
        finally:
            warehouse.release()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlorch-register")
    registering = pool.submit(store)
    pool.shutdown(wait=False)
    return registering


def _log_outcome(log: EventLog, outcome: StepOutcome, timestamps: np.ndarray, seconds: float,
                 unallocated: Decimal, panel: Panel) -> None:
    """The engine's capital_limit_hit events, then the run's end: failed, or completed (held
    back from the file until the run is written)."""
    _capital_limit_events(log, outcome.records, timestamps)
    failure = outcome.failure
    if failure:
        log.emit("backtest_failed", flush=True, bar_index=failure.bar_index, strategy_id=failure.strategy_id,
                 error_type=type(failure.error).__name__, error_message=str(failure.error),
                 bar_date=timestamps[failure.bar_index].item())
        return
    marks = panel.data[outcome.bars_processed - 1, MARK]
    orders = outcome.records.rows_of("orders")
    log.emit("backtest_completed", hold=True, duration_seconds=round(seconds, 6),
             trade_count=sum(s.trades_opened for s in outcome.sleeves),
             final_equity=from_pico(sum(s.equity(marks) for s in outcome.sleeves)) + unallocated,
             error_count=int((orders[:, layout.OD_KIND] == layout.REJECTED).sum()))


def _capital_limit_events(log: EventLog, records: Records, timestamps: np.ndarray) -> None:
    """A capital_limit_hit event for every order the engine clipped or rejected for capital,
    numbered as the engine numbered it, with the sleeve's capital at that moment."""
    orders = records.rows_of("orders")
    hit = np.flatnonzero(orders[:, layout.OD_EVENT] >= 0)
    if not len(hit):
        return
    now, stamp = records.logged_at, _stamp(records.logged_at)
    for row in orders[hit].tolist():
        t = row[layout.OD_RESOLVED]
        log.add("capital_limit_hit", row[layout.OD_EVENT], now, stamp, bar_index=t,
                strategy_id=records.strategy_ids[row[layout.OD_SLEEVE]],
                used_capital=row[layout.OD_USED] / MICRO, allocation_limit=row[layout.OD_ALLOCATED] / MICRO,
                rejected_signal={
                    "symbol": records.symbols[row[layout.OD_SYMBOL]], "requested": row[layout.OD_QUANTITY] / MICRO,
                    "filled": row[layout.OD_FILLED] / MICRO, "decision": layout.KINDS[row[layout.OD_KIND]],
                    "bar_date": timestamps[t].item()})


def _stamp(micros: int) -> str:
    """Microseconds since the epoch as the ISO text (to the millisecond) events carry."""
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=micros)).isoformat(timespec="milliseconds")


INSTANT_COLUMNS = {"logged_at"}
"""Record columns holding wall-clock times as microseconds since the epoch (see EventLog.now)."""
BAR_COLUMNS = (("bar_index", "ts"), ("bar", "ts"), ("decided_bar", "decided_ts"), ("resolved_bar", "resolved_ts"))
"""Record columns holding bar indexes, and the timestamp columns made from them."""


def _arrow(name: str, values: Any) -> pa.Array:
    """One record column as an Arrow column: amounts as DECIMAL, names dictionary-encoded."""
    if isinstance(values, Amount):
        return decimal_column(values.values, values.scale, values.valid)
    if isinstance(values, Coded):
        return coded_column(values.indexes, values.names)
    if isinstance(values, Lists):
        return list_column(values.bounds, values.names.tolist())
    if isinstance(values, Nullable):
        return pl.Series(values.values).set(pl.Series(~values.valid), None).to_arrow()  # type: ignore[arg-type]
    if name in INSTANT_COLUMNS:
        return instant_column(values)
    if isinstance(values, np.ndarray):
        return pl.Series(values).to_arrow()
    return plain_column(values)


def _columns(run_id: str, records: Columns, timestamps: np.ndarray) -> dict[str, Any]:
    """Records as warehouse columns: amounts as DECIMAL, bar indexes also as timestamps."""
    columns: dict[str, Any] = {"run_id": pl.repeat(run_id, len(records), eager=True).to_arrow()}
    for name, values in zip(records.names, records.lists):
        columns[name] = _arrow(name, values)
    for bars, ts in BAR_COLUMNS:
        if bars in columns:
            values = dict(zip(records.names, records.lists))[bars]
            if isinstance(values, Nullable):
                columns[ts] = timestamp_column(values.values, timestamps, values.valid)
            else:
                columns[ts] = timestamp_column(values, timestamps)
    return columns


def _write_outcome(warehouse: Warehouse, run_id: str, outcome: StepOutcome, log: EventLog,
                   timestamps: np.ndarray, seconds: float) -> None:
    """Write the run's records and final status in one transaction."""
    records, failure = outcome.records, outcome.failure
    status, error = "completed", None
    if failure:
        status = "failed"
        error = (f"{failure.strategy_id} at {timestamps[failure.bar_index].item()}: "
                 f"{type(failure.error).__name__}: {failure.error}")
    logged = Columns("seq", "ts", "event", "strategy_id", "bar_index", "payload")
    for row in sorted(log.rows):
        logged.append(row)
    events = _columns(run_id, logged, timestamps)
    events["ts"] = instant_column(logged["ts"])  # the wall-clock time of the event, not its bar's
    # one table is inserted (DuckDB releases the GIL) while the next one's columns are built;
    # the connection is used by one thread at a time
    with warehouse.transaction() as con, ThreadPoolExecutor(1, thread_name_prefix="sqlorch-write") as writer:
        inserting = writer.submit(insert, con, "logged_events", events)
        for table, rows in records.tables():
            columns = _columns(run_id, rows, timestamps)
            del rows
            inserting.result()
            inserting = writer.submit(insert, con, table, columns)
        inserting.result()
        del events, columns
        log.rows.clear()
        con.execute(sql_text("queries", "finish_run"), [status, error, seconds, outcome.bars_processed, run_id])
        materialize(con, run_id)


def _write_log(warehouse: Warehouse, run_id: str, log: EventLog) -> None:
    """The run's JSONL file, every event in order, as the warehouse's `events` view has it."""
    if log.path is None:
        return
    lines = warehouse.query(sql_text("queries", "event_lines"), [run_id])["payload"].to_list()
    log.rewrite(lines)


def _mark_failed(warehouse: Warehouse, run_id: str, error: str) -> None:
    try:
        with warehouse.transaction() as con:
            con.execute(sql_text("queries", "fail_run"), [error, run_id])
    except Exception:  # the original error matters more than this one
        pass


def sqlorch_version() -> str:
    """The version of sqlorch, stamped on every run and grid search."""
    from sqlorch import __version__

    return __version__
