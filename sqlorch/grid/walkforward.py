"""Walk-forward optimisation (SPEC §9): search a grid on a train span, run its best combination
on the test span that follows, move on, and stitch the test spans into one out-of-sample curve.

Folds are consecutive spans of the clock (calendar spans like "3y", "18m", "90d", "2w", or a
number of bars). In fold k the train span starts k steps after the first bar (at the first bar,
`anchored`) and the test span starts where it ends; `step` is the test span unless given. Each
fold's search is a grid run of its own (`grid_runs`, no warm-up); its best combination per
strategy runs again on the train span (a run: the in-sample curve) and on the test span (a
run trading from the test span's first bar, with the bars before it as warm-up, from the
previous fold's final equity). The folds are in `walkforward_folds`, the stitched curve in the
view `walkforward_equity`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from sqlorch.backtest.benchmark import data_symbols
from sqlorch.backtest.engine import BacktestEngine
from sqlorch.backtest.metrics import sleeve_metrics
from sqlorch.backtest.results import METRIC_NAMES, PerformanceMetrics, Presentable
from sqlorch.backtest.runner import config_json, new_run_id, periods_per_year, sqlorch_version
from sqlorch.bars.load import load_bars
from sqlorch.config.settings import BacktestConfig
from sqlorch.engine.events import encode
from sqlorch.errors import ConfigError, SqlorchError
from sqlorch.grid.executors import EXECUTORS, Executor, make_executor
from sqlorch.grid.search import GridSearch
from sqlorch.money import MICRO
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame, insert

_SPAN = re.compile(r"^\s*(\d+)\s*([ymwd])\s*$", re.IGNORECASE)
_UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days"}


@dataclass(frozen=True)
class Span:
    """A length of time on the clock: `count` years, months, weeks or days, or `count` bars."""

    count: int
    unit: str  # "y", "m", "w", "d" or "bars"

    @classmethod
    def parse(cls, value: Any, name: str, problems: list[str]) -> Span | None:
        """A span from "3y", "18m", "2w", "90d" or a whole number of bars (an int or its text);
        None, with a problem naming `name`, for anything else."""
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return cls(value, "bars")
        text = str(value).strip() if isinstance(value, str) else ""
        if text.isdigit() and int(text) > 0:
            return cls(int(text), "bars")
        match = _SPAN.match(text)
        if match and int(match.group(1)) > 0:
            return cls(int(match.group(1)), match.group(2).lower())
        problems.append(f"{name}: {value!r} is not a span; give years, months, weeks or days like \"3y\", "
                        "\"18m\", \"2w\", \"90d\", or a whole number of bars like 750")
        return None

    def __str__(self) -> str:
        return f"{self.count} bars" if self.unit == "bars" else f"{self.count}{self.unit}"

    def after(self, clock: np.ndarray, index: int, times: int = 1) -> int:
        """The index of the first bar of `clock` at or after `times` spans past its bar `index`
        (`len(clock)` when that is beyond the last bar)."""
        if self.unit == "bars":
            return min(index + self.count * times, len(clock))
        if index >= len(clock):
            return len(clock)
        base = clock[index].astype("datetime64[us]")
        if self.unit in ("y", "m"):
            months = self.count * times * (12 if self.unit == "y" else 1)
            month = base.astype("datetime64[M]")
            target = (month + months).astype("datetime64[us]") + (base - month.astype("datetime64[us]"))
        else:
            target = base + np.timedelta64(self.count * times * (7 if self.unit == "w" else 1), "D")
        return int(np.searchsorted(clock, target, side="left"))


@dataclass(frozen=True)
class Fold:
    """A fold's bars on the clock: train [train_lo, train_hi), test [test_lo, test_hi)."""

    number: int
    train_lo: int
    train_hi: int
    test_lo: int
    test_hi: int


def plan_folds(clock: np.ndarray, train: Span, test: Span, step: Span | None = None,
               anchored: bool = False) -> list[Fold]:
    """The folds over `clock` (sorted datetime64): while a test span has a bar. A train span of
    fewer than 2 bars is skipped; a test span ends where the next fold's begins (overlapping
    steps), or at the last bar."""
    step = step or test
    bounds = []
    for k in range(len(clock)):
        lo = 0 if anchored else step.after(clock, 0, k)
        hi = step.after(clock, train.after(clock, 0), k) if anchored else train.after(clock, lo)
        if hi >= len(clock) or (not anchored and lo >= len(clock)):
            break
        if hi - lo >= 2:
            bounds.append((lo, hi, test.after(clock, hi)))
    folds = []
    for n, (lo, hi, end) in enumerate(bounds):
        following = bounds[n + 1][1] if n + 1 < len(bounds) else len(clock)
        folds.append(Fold(n + 1, lo, hi, hi, min(end, following)))
    return folds


@dataclass(frozen=True, eq=False, repr=False)
class WalkForwardResult(Presentable):
    """A finished walk-forward. `folds` (polars): strategy_id, fold, train_start, train_end,
    test_start, test_end (inclusive), params, in_sample and out_of_sample (the metric), grid and
    test run ids, the train search's deflated_sharpe_ratio and pbo; `equity_curve`: the stitched
    out-of-sample curve (strategy_id, ts, equity); `metrics` of that curve and `efficiency` (its
    CAGR / the mean in-sample CAGR of the chosen combinations): the values themselves for one
    strategy, else dicts by strategy (always in `metrics_by_strategy` and `efficiency_by_strategy`).
    In a notebook it shows its folds and curves; `report()` writes its report."""

    run_id: str
    folds: pl.DataFrame
    equity_curve: pl.DataFrame
    metrics_by_strategy: dict[str, PerformanceMetrics]
    efficiency_by_strategy: dict[str, float]
    metric: str
    warehouse: Warehouse

    @property
    def metrics(self) -> PerformanceMetrics | dict[str, PerformanceMetrics]:
        return _single(self.metrics_by_strategy)

    @property
    def efficiency(self) -> float | dict[str, float]:
        return _single(self.efficiency_by_strategy)

    def __repr__(self) -> str:
        lines = [f"<WalkForwardResult run {self.run_id}: {self.folds['fold'].n_unique()} folds, "
                 f"parameters chosen by {self.metric}"]
        for sid, m in self.metrics_by_strategy.items():
            efficiency = self.efficiency_by_strategy[sid]
            lines.append(f"  {sid}: out of sample return {_percent(m.total_return)}, sharpe "
                         f"{'n/a' if math.isnan(m.sharpe_ratio) else f'{m.sharpe_ratio:.2f}'}, efficiency "
                         f"{'n/a' if math.isnan(efficiency) else f'{efficiency:.2f}'}")
        return "\n".join(lines) + ">"


def _single(values: dict) -> Any:
    return next(iter(values.values())) if len(values) == 1 else values


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2%}"


class WalkForward:
    """Walk-forward optimisation of one or several strategies' grids (each its own choices).

    `grid` and `param_grid` are what `GridSearch` takes (a class with its grid, or a list of
    `Grid`s or (class, grid) pairs); `config` the run settings (`start` and `end` bound the
    folds). `train`, `test` and `step` are spans ("3y", "18m", "2w", "90d" or a number of bars);
    `anchored` keeps every train span starting at the first bar. `metric` chooses each fold's
    parameters; `workers`, `executor` and `address` run the searches as `GridSearch` does (one
    pool of workers for every fold), `study` gathers their trials, `min_trades` leaves thinner
    combinations unranked. Everything is checked at construction, every problem at once.
    """

    def __init__(self, grid: Any, param_grid: Mapping[str, Any] | None = None, config: BacktestConfig | None = None,
                 *, train: Any = "3y", test: Any = "1y", step: Any = None, anchored: bool = False,
                 metric: str = "sharpe_ratio", constraint: Any = None, workers: int | None = None,
                 executor: str | Executor = "local", address: str | None = None, study: str | None = None,
                 min_trades: int = 0):
        problems: list[str] = []
        self.train = Span.parse(train, "train", problems)
        self.test = Span.parse(test, "test", problems)
        self.step = Span.parse(step, "step", problems) if step is not None else None
        if not isinstance(anchored, bool):
            problems.append(f"anchored: true or false, got {anchored!r}")
        if isinstance(executor, str) and executor not in EXECUTORS:
            problems.append(f"executor: {executor!r} is not one of {', '.join(EXECUTORS)}")
        try:  # the grids, config and metric as a search of them checks them
            self.search = GridSearch(grid, param_grid, config, metric, constraint, workers, executor=executor,
                                     address=address, study=study, min_trades=min_trades)
        except ConfigError as exc:
            problems += exc.problems
        if problems:
            raise ConfigError(problems)
        self._grid = (grid, param_grid, constraint)
        self.study, self.min_trades = study, min_trades
        self.config = self.search.config
        self.metric = metric
        self.anchored = anchored
        self.workers, self.executor, self.address = workers, executor, address

    def run(self, bars: Any, progress: Callable[[int, int], None] | None = None,
            on_wait: Callable[[str], None] | None = None, source: str = "") -> WalkForwardResult:
        """Run every fold over `bars` (whatever `load_bars` accepts) and write the walk-forward
        (its folds, their searches and test runs) to the configured warehouse."""
        config = self.config
        loaded = load_bars(bars, end=config.end, round_prices=config.round_prices, symbols=data_symbols(config),
                           adjust=config.adjust)
        inner = dataclasses.replace(config, symbols=None, adjust="none")  # the bars are read once, here
        clock = loaded["ts"].unique().sort().to_numpy()
        if config.start is not None:
            clock = clock[clock >= np.datetime64(_midnight(config.start), "us")]
        folds = plan_folds(clock, self.train, self.test, self.step, self.anchored)
        if not folds:
            raise SqlorchError(f"no fold fits: {len(clock)} bars from {_day(clock, 0)} to {_day(clock, -1)} hold no "
                               f"train span of {self.train} followed by a test span; shorten train or load more bars")
        run_id = new_run_id()
        warehouse = Warehouse(config.warehouse, config.lock_timeout, on_wait)
        started = time.monotonic()
        with warehouse.transaction() as con:
            insert(con, "walkforward_runs", {key: [value] for key, value in {
                "run_id": run_id, "status": "running", "started_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "source": source or "python", "metric": self.metric, "train": str(self.train), "test": str(self.test),
                "step": str(self.step or self.test), "anchored": self.anchored, "fold_count": len(folds),
                "initial_capital": config.initial_capital,
                "periods_per_year": config.periods_per_year or periods_per_year(clock),
                "strategy_count": len(self.search.grids), "grids": self.search._grids_json(),
                "config": config_json(config), "sqlorch_version": sqlorch_version()}.items()})
        executor = make_executor(self.executor, self.workers, self.address)  # one pool for every fold
        try:
            rows = self._folds(run_id, loaded, inner, clock, folds, executor, progress, warehouse)
            with warehouse.transaction() as con:
                insert(con, "walkforward_folds", {name: [row[name] for row in rows] for name in rows[0]})
                con.execute(sql_text("queries", "complete_walkforward_run"),
                            [len(folds), time.monotonic() - started, run_id])
        except BaseException as exc:
            _fail(warehouse, run_id, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
            raise
        finally:
            if executor is not self.executor:
                executor.close()
        return load_walkforward_result(warehouse, run_id)

    def _folds(self, run_id: str, loaded: pl.DataFrame, inner: BacktestConfig, clock: np.ndarray, folds: list[Fold],
               executor: Executor, progress: Callable[[int, int], None] | None,
               warehouse: Warehouse) -> list[dict[str, Any]]:
        """Search and test every fold into `warehouse`; a row of `walkforward_folds` per fold and
        strategy."""
        grid, param_grid, constraint = self._grid
        equity = dict.fromkeys(self.search.strategy_ids, Decimal(inner.initial_capital))
        classes = dict(zip(self.search.strategy_ids, (g.strategy_class for g in self.search.grids)))
        rows = []
        for done, fold in enumerate(folds):
            train = dataclasses.replace(inner, start=_ts(clock, fold.train_lo), end=_ts(clock, fold.train_hi - 1),
                                        warmup=0)
            searched = GridSearch(grid, param_grid, train, self.metric, constraint, executor=executor,
                                  study=self.study, min_trades=self.min_trades).run(loaded, warehouse=warehouse)
            for sid, params in searched.best_by_strategy.items():
                chosen = searched.table.filter((pl.col("strategy") == sid) & (pl.col("rank") == 1))
                start_equity = equity[sid]
                train_run = test_run = None
                out_of_sample = math.nan
                if params:  # the choice on its train span again, as a run: the in-sample curve
                    train_run = BacktestEngine(classes[sid](**params), train).run(loaded, warehouse=warehouse).run_id
                if params and start_equity > 0:
                    test = dataclasses.replace(inner, start=_ts(clock, fold.test_lo),
                                               end=_ts(clock, fold.test_hi - 1), warmup="auto",
                                               initial_capital=start_equity)
                    result = BacktestEngine(classes[sid](**params), test).run(loaded, warehouse=warehouse)
                    test_run, equity[sid] = result.run_id, result.final_equity
                    out_of_sample = getattr(result.metrics, self.metric)
                rows.append({
                    "run_id": run_id, "strategy_id": sid, "fold": fold.number,
                    "train_start": _ts(clock, fold.train_lo), "train_end": _ts(clock, fold.train_hi - 1),
                    "test_start": _ts(clock, fold.test_lo), "test_end": _ts(clock, fold.test_hi - 1),
                    "grid_run_id": searched.run_id, "train_run_id": train_run, "test_run_id": test_run,
                    "params": encode(params),
                    "in_sample": chosen[self.metric][0] if chosen.height else None, "out_of_sample": out_of_sample,
                    "in_sample_cagr": chosen["cagr"][0] if chosen.height else None,
                    "deflated_sharpe_ratio": searched.deflated_sharpe_ratio, "pbo": searched.pbo,
                    "start_equity": start_equity, "final_equity": equity[sid]})
            if progress:
                progress(done + 1, len(folds))
        return rows


def load_walkforward_result(warehouse: Warehouse, run_id: str) -> WalkForwardResult:
    """A walk-forward's result read back from the warehouse: its folds (in grid order), the
    stitched curves and their metrics (the grid's numpy definition, over the test runs' equity,
    holdings and round trips together) and efficiencies."""
    with warehouse.connect(read_only=True) as con:
        (metric, grids, initial_capital, ppy), = con.execute(sql_text("queries", "walkforward_settings"),
                                                              [run_id]).fetchall()
        folds = frame(con, sql_text("queries", "walkforward_fold_rows"), [run_id])
        curve = frame(con, sql_text("queries", "walkforward_curve"), [run_id])
        stats = {r["strategy_id"]: r for r in
                 frame(con, sql_text("queries", "walkforward_trade_stats"), [run_id]).iter_rows(named=True)}
    ids = [g["strategy_id"] for g in json.loads(grids)]
    capital = int(Decimal(initial_capital) * MICRO)
    metrics, efficiency = {}, {}
    for sid in ids:
        own = curve.filter(pl.col("strategy_id") == sid)
        s = stats.get(sid) or {}
        trades = [(s.get("trades") or 0, s.get("closed") or 0, s.get("wins") or 0,
                   round((s.get("gross_profit") or 0) * MICRO), round((s.get("gross_loss") or 0) * MICRO))]
        metrics[sid] = PerformanceMetrics(**dict(zip(METRIC_NAMES, sleeve_metrics(
            own["equity"].to_numpy()[:, None], own["held"].to_numpy()[:, None], [capital], trades, ppy)[0]))) \
            if own.height else PerformanceMetrics()
        chosen = folds.filter((pl.col("strategy_id") == sid) & pl.col("test_run_id").is_not_null())
        in_sample = chosen["in_sample_cagr"].drop_nulls().mean() if chosen.height else None
        efficiency[sid] = metrics[sid].cagr / in_sample if in_sample else math.nan
    order = {sid: i for i, sid in enumerate(ids)}
    folds = folds.sort(pl.col("strategy_id").replace_strict(order, return_dtype=pl.Int64), "fold")
    return WalkForwardResult(run_id, folds, curve.select("strategy_id", "ts", "equity"), metrics, efficiency,
                             metric, warehouse)


def _ts(clock: np.ndarray, index: int) -> dt.datetime:
    return clock[index].astype("datetime64[us]").item()


def _day(clock: np.ndarray, index: int) -> str:
    return f"{_ts(clock, index):%Y-%m-%d}" if len(clock) else "-"


def _midnight(value: dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())


def _fail(warehouse: Warehouse, run_id: str, error: str, seconds: float) -> None:
    """Mark a walk-forward that stopped as failed; never raises (the original error matters more)."""
    try:
        with warehouse.transaction() as con:
            con.execute(sql_text("queries", "fail_walkforward_run"), [error, seconds, run_id])
    except Exception:
        pass
