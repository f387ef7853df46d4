"""Parameter grid search: every combination of a strategy's parameter values, backtested in
parallel, ranked by a metric, and kept in the warehouse (`grid_runs`, `grid_results`).

    search = GridSearch(SMACross, {"fast": [5, 10, 20], "slow": [30, 50, 100]}, config,
                        metric="sharpe_ratio", constraint="fast < slow", study="sma")
    result = search.run(bars)        # GridResult: run_id, table, best_params, and how much is luck:
                                     # deflated_sharpe_ratio, probabilistic_sharpe_ratio, pbo, trials

Each combination's numbers are those of a standalone `BacktestEngine(SMACross(**params),
config).run(bars)`: it trades its own sleeve with the whole initial capital. Combinations are
cut into batches of one strategy; a batch runs in one pass over the bars (`sqlorch.grid.batch`), and
batches run in parallel on an executor (`sqlorch.grid.executors`: worker processes, or a Ray
cluster). Everything is validated before any work; a combination whose strategy raises is
recorded as failed and the others go on.

Every completed combination is a trial (SPEC §9) with the moments of its per-bar returns; a
search's `study` gathers the trials of every search given the same name. The search's best trial
gets its probabilistic and deflated Sharpe ratios (N = the study's completed trials), and the
search its probability of backtest overfitting by CSCV (`sqlorch.grid.overfitting`).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sqlorch.config.settings import BacktestConfig
from sqlorch.engine.events import encode
from sqlorch.errors import ConfigError, SqlorchError, did_you_mean
from sqlorch.grid.executors import EXECUTORS, Executor, LocalExecutor, _import_ray, make_executor
from sqlorch.grid.spec import Grid, Params, check_instances

__all__ = ["Grid", "GridResult", "GridSearch", "plan_batches", "rank_column", "worker_config"]
from sqlorch.backtest.benchmark import benchmark_of
from sqlorch.backtest.metrics import per_bar_rate
from sqlorch.backtest.results import METRIC_NAMES, Presentable
from sqlorch.backtest.runner import class_reference, config_json, dataset_id, new_run_id, periods_per_year, run_bars
from sqlorch.bars.panel import Panel
from sqlorch.engine.strategy import unique_ids
from sqlorch.grid.batch import RESULT_FIELDS, TRIAL_FIELDS, Batch, GridData, run_batch
from sqlorch.grid.overfitting import (
    PBO_BLOCKS,
    check_trial_options,
    deflated_sharpe_ratio,
    pbo,
    probabilistic_sharpe_ratio,
)
from sqlorch.grid.storage import fail_grid, finish_grid, register_grid
from sqlorch.store.warehouse import Warehouse

LOWER_IS_BETTER = frozenset({"volatility", "tracking_error"})
"""Metrics ranked ascending; every other metric ranks higher values first."""
BATCHES_PER_SLOT = 2  # a few batches per worker, so that none waits long for the last one
BATCH_CELLS = 2_000_000  # most bars x symbols x combinations in one batch (bounds a worker's memory)
SMALL_WORK = 1_500_000  # bars x symbols x combinations (a second or so) worth starting worker processes for

Progress = Callable[[int, int], None]
"""Called with (combinations done, combinations in all) as batches finish."""


@dataclass(frozen=True, eq=False, repr=False)
class GridResult(Presentable):
    """A finished grid search.

    `table` has one row per combination: strategy, combination (1, 2, ... in grid order),
    the parameters, the metrics (NaN where undefined, null if failed), final_equity,
    closed_trade_count, the moments of its per-bar returns (return_count, mean_return,
    stdev_return, skewness, kurtosis), its probabilistic_sharpe_ratio, status (`completed` or
    `failed`), error, and rank by `metric` within the strategy (1 = best; null if failed,
    undefined, or with fewer closed trades than `min_trades`). `best_params` is the best
    combination's parameters; with several strategies, a dict of them by strategy (also in
    `best_by_strategy` either way). `warehouse` holds the run. In a notebook it shows each
    strategy's best combinations and heatmap; `report()` writes the grid report.

    How much of the best is luck (SPEC §9): `best_trial` is the search's best trial ((strategy,
    combination): the rank-1 combination with the best metric, the first strategy's on a tie;
    None if nothing ranks), `probabilistic_sharpe_ratio` its PSR(0), `deflated_sharpe_ratio` its
    DSR against the `trials` completed trials of `study` (this search's own when None), and `pbo`
    the probability of backtest overfitting of this search's completed trials over `pbo_blocks`
    blocks. NaN where undefined.
    """

    run_id: str
    table: pl.DataFrame
    best_params: dict[str, Any]
    metric: str
    best_by_strategy: dict[str, dict[str, Any]]
    warehouse: Warehouse
    study: str | None = None
    trials: int = 0
    deflated_sharpe_ratio: float = math.nan
    probabilistic_sharpe_ratio: float = math.nan
    pbo: float = math.nan
    best_trial: tuple[str, int] | None = None
    min_trades: int = 0
    pbo_blocks: int = PBO_BLOCKS

    def __repr__(self) -> str:
        done = self.table.filter(pl.col("status") == "completed").height
        lines = [f"<GridResult run {self.run_id}: {self.table.height} combinations ({done} completed), "
                 f"ranked by {self.metric}"]
        for strategy, params in self.best_by_strategy.items():
            best = self.table.filter((pl.col("strategy") == strategy) & (pl.col("rank") == 1))
            value = best[self.metric][0] if best.height else None
            shown = "n/a" if value is None or value != value else f"{value:.4g}"
            lines.append(f"  {strategy}: best {params} ({self.metric} {shown})")
        lines.append(f"  deflated Sharpe ratio {_shown(self.deflated_sharpe_ratio)} over {self.trials} trials"
                     f"{f' of study {self.study}' if self.study else ''}, probabilistic Sharpe ratio "
                     f"{_shown(self.probabilistic_sharpe_ratio)}, PBO {_shown(self.pbo)}")
        return "\n".join(lines) + ">"

    def top(self, k: int = 10, strategy: str | None = None) -> pl.DataFrame:
        """The k best combinations of each strategy (or of one), best first."""
        ranked = self.table.filter(pl.col("rank") <= k)
        if strategy is not None:
            ranked = ranked.filter(pl.col("strategy") == strategy)
        order = {sid: position for position, sid in enumerate(self.best_by_strategy)}
        return ranked.with_columns(pl.col("strategy").replace_strict(order, return_dtype=pl.Int64).alias("_order")) \
            .sort("_order", "rank").drop("_order")


class GridSearch:
    """Backtest every combination of parameter values of one or several strategies.

    `strategy_class` is a strategy class with `param_grid` ({parameter: [values]}), or a list
    of `Grid`s or (class, {parameter: [values]}) pairs, one per strategy; each strategy gets
    its own best parameters. `config` is a `BacktestConfig` (every combination trades the
    whole initial capital). `metric` ranks the combinations (a `PerformanceMetrics` name;
    higher is better, except volatility and tracking_error). `constraint` drops combinations: a callable taking
    the parameters (a dict that also reads as attributes) or an expression like "fast < slow"
    (for a list of grids, it applies to those without their own). `workers` is how many
    processes run batches at once (default: every core); `executor="ray"` sends the batches to
    a Ray cluster instead (`address`, see `sqlorch.grid.executors.RayExecutor`), or pass any
    `Executor`. `batch_size` caps the combinations run in one pass over the bars.
    `sql_metrics` computes each combination's metrics with the warehouse's SQL views instead
    of numpy (the same numbers, about twenty times slower).

    `study` names the study whose trials this search adds to (None: its own study), for the
    deflated Sharpe ratio; `min_trades` leaves combinations with fewer closed trades unranked
    (they stay trials); `pbo_blocks` is CSCV's even number of blocks S (2 to 20, default 16).

    Everything is checked at construction, every problem reported at once in a ConfigError.
    """

    def __init__(self, strategy_class: Any, param_grid: Mapping[str, Any] | None = None,
                 config: BacktestConfig | None = None, metric: str = "sharpe_ratio",
                 constraint: Callable[[Params], Any] | str | None = None, workers: int | None = None, *,
                 executor: str | Executor = "local", address: str | None = None, batch_size: int | None = None,
                 sql_metrics: bool = False, study: str | None = None, min_trades: int = 0,
                 pbo_blocks: int = PBO_BLOCKS):
        problems: list[str] = []
        problems += check_trial_options(study, min_trades, pbo_blocks)
        if isinstance(param_grid, BacktestConfig) and config is None:  # GridSearch([...grids], config)
            param_grid, config = None, param_grid
        self.config = config if config is not None else BacktestConfig()
        if not isinstance(self.config, BacktestConfig):
            problems.append(f"config must be a BacktestConfig, got {type(config).__name__}")
        if metric not in METRIC_NAMES:
            problems.append(f"metric: {metric!r} is not a metric{did_you_mean(str(metric), METRIC_NAMES)}; "
                            f"metrics are {', '.join(METRIC_NAMES)}")
        for name, value in (("workers", workers), ("batch_size", batch_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name}: must be a whole number >= 1, got {value!r}")
        if isinstance(executor, str) and executor not in EXECUTORS:
            problems.append(f"executor: {executor!r} is not one of {', '.join(EXECUTORS)}"
                            f"{did_you_mean(executor, EXECUTORS)}")
        elif not isinstance(executor, (str, Executor)):
            problems.append(f"executor: give \"local\", \"ray\" or an Executor, got {executor!r}")
        self.grids = _grids(strategy_class, param_grid, constraint, problems)
        try:
            self.strategy_ids = unique_ids([g.strategy_id for g in self.grids], [bool(g.name) for g in self.grids])
        except ConfigError as exc:
            problems += exc.problems
            self.strategy_ids = []
        self.combinations: list[list[Params]] = []
        self.dropped = 0
        if not problems:
            for grid, sid in zip(self.grids, self.strategy_ids):
                try:
                    kept, dropped = grid.combinations()
                except ConfigError as exc:
                    problems += exc.problems
                    continue
                if not kept:
                    problems.append(f"grid {sid}: the constraint drops every one of its {grid.size} combinations")
                problems += check_instances(grid, kept)
                self.combinations.append(kept)
                self.dropped += dropped
        if problems:
            raise ConfigError(problems)
        if executor == "ray":
            _import_ray()  # a clear message now if Ray is missing, before any work
        self.metric = metric
        self.workers = workers
        self.executor = executor
        self.address = address
        self.batch_size = batch_size
        self.sql_metrics = sql_metrics
        self.study = study
        self.min_trades = min_trades
        self.pbo_blocks = pbo_blocks

    @property
    def size(self) -> int:
        """How many combinations will run (after constraints)."""
        return sum(len(c) for c in self.combinations)

    def run(self, bars: Any, progress: Progress | None = None, on_wait: Callable[[str], None] | None = None,
            source: str = "", warehouse: Warehouse | None = None) -> GridResult:
        """Run every combination over `bars` (whatever `load_bars` accepts) and write the search
        to the configured warehouse (or `warehouse`, which searches and runs may share, an
        in-memory one too). A combination whose strategy raises is recorded as failed."""
        config = self.config
        # every combination sees the same warm-up: with "auto", the most any of them needs
        warming = config.start is not None and config.warmup == "auto"
        strategies = (g.strategy_class(**params) for g, kept in zip(self.grids, self.combinations) for params in kept)
        window, _, full = run_bars(bars, config, strategies if warming else ())
        panel = full.traded()
        data = GridData(window, dataset_id(panel), config.periods_per_year or periods_per_year(panel.timestamps),
                        worker_config(config), self.sql_metrics,
                        tuple(dict.fromkeys(p for g in self.grids if (p := _import_root(g.strategy_class)))),
                        benchmark=benchmark_of(config, panel), warmup=full.first,
                        warmup_id=dataset_id(full) if full.first else "", pbo_blocks=self.pbo_blocks)
        executor = make_executor(self._executor_kind(len(panel) * len(panel.symbols)), self.workers, self.address)
        try:
            batches = plan_batches(list(zip(self.strategy_ids, [g.strategy_class for g in self.grids],
                                            self.combinations)),
                                   executor.slots(), len(panel), len(panel.symbols), self.batch_size)
            if isinstance(executor, LocalExecutor) and not executor.in_process(len(batches)):
                _check_sendable([g.strategy_class for g in self.grids])
            warehouse = warehouse or Warehouse(config.warehouse, config.lock_timeout, on_wait)
            return self._run(data, panel, batches, executor, progress, warehouse, source)
        finally:
            if executor is not self.executor:
                executor.close()

    def _executor_kind(self, cells: int) -> str | Executor:
        """The executor to use: worker processes (unless `workers` was given) only for enough work
        to pay for starting them."""
        if self.executor != "local" or self.workers == 1:
            return self.executor
        if self.workers is None and self.size * cells < SMALL_WORK:
            return make_executor("local", 1)
        return self.executor

    def _run(self, data: GridData, panel: Panel, batches: list[Batch], executor: Executor,
             progress: Progress | None, warehouse: Warehouse, source: str) -> GridResult:
        config = self.config
        run_id = new_run_id()
        started = time.monotonic()
        with executor.map(run_batch, data, batches) as running:  # the workers start while the search registers
            register_grid(warehouse, run_id, data.traded_bars(), data.dataset_id, {
                "source": source or "python", "metric": self.metric, "executor": executor.name,
                "workers": min(executor.slots(), len(batches)), "batches": len(batches),
                "strategy_count": len(self.grids), "combination_count": self.size, "dropped_count": self.dropped,
                "initial_capital": config.initial_capital, "periods_per_year": data.periods_per_year,
                "bar_count": len(panel), "symbol_count": len(panel.symbols), "grids": self._grids_json(),
                "config": config_json(config), "study": self.study, "min_trades": self.min_trades,
                "pbo_blocks": self.pbo_blocks,
            })
            rows: dict[tuple[str, int], tuple] = {}
            try:
                for _, batch_rows in running:
                    for row in batch_rows:
                        rows[(row[0], row[1])] = row
                    if progress:
                        progress(len(rows), self.size)
            except BaseException as exc:  # interrupted, or a worker died: the search is not complete
                fail_grid(warehouse, run_id, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
                raise
        table, params, sums = self._table(rows, data.periods_per_year)
        best = {}
        for sid, combinations, number in zip(self.strategy_ids, self.combinations,
                                             _best_numbers(table, self.strategy_ids)):
            best[sid] = dict(combinations[number - 1]) if number else {}
        best_row = best_trial_row(table, self.metric)
        psr = math.nan if best_row is None else table["probabilistic_sharpe_ratio"][best_row]
        overfitting = pbo(sums, per_bar_rate(config.risk_free_rate, data.periods_per_year)) \
            if sums is not None else None

        def deflate(trials: int, variance: float) -> float:
            if best_row is None:
                return math.nan
            row = table.row(best_row, named=True)
            return deflated_sharpe_ratio(row["sharpe_ratio"] / math.sqrt(data.periods_per_year),
                                         row["return_count"], row["skewness"], row["kurtosis"], trials, variance)

        try:
            found = finish_grid(warehouse, run_id, table, params,
                                {sid: class_reference(g.strategy_class)
                                 for sid, g in zip(self.strategy_ids, self.grids)},
                                {"completed_count": int((table["status"] == "completed").sum()),
                                 "failed_count": int((table["status"] == "failed").sum()),
                                 "best": encode(best), "duration_seconds": time.monotonic() - started,
                                 "probabilistic_sharpe_ratio": psr,
                                 "pbo": overfitting.pbo if overfitting else math.nan},
                                self.study, deflate,
                                _split_columns(table, overfitting, data.periods_per_year) if overfitting else None)
        except BaseException as exc:  # the results could not be written: the search never shows completed
            fail_grid(warehouse, run_id, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
            raise
        best_params = best[self.strategy_ids[0]] if len(self.grids) == 1 else best
        return GridResult(run_id, table, best_params, self.metric, best, warehouse, self.study, found["trials"],
                          found["deflated_sharpe_ratio"], _float(psr),
                          overfitting.pbo if overfitting else math.nan,
                          None if best_row is None else (table["strategy"][best_row], table["combination"][best_row]),
                          self.min_trades, self.pbo_blocks)

    def _grids_json(self) -> str:
        return encode([{"strategy_id": sid, "class": class_reference(g.strategy_class),
                        "params": {k: list(v) for k, v in g.params.items()}, "constraint": g.constraint_text()}
                       for sid, g in zip(self.strategy_ids, self.grids)])

    def _table(self, rows: Mapping[tuple[str, int], tuple],
               periods_per_year: int) -> tuple[pl.DataFrame, list[dict], Any]:
        """The result table in grid order, each row's parameters, and the block sums [3, S, N]
        of its N completed trials, in grid order (None if fewer than 2 trials or any lacks them)."""
        ordered, params = [], []
        for sid, combinations in zip(self.strategy_ids, self.combinations):
            for number, combination in enumerate(combinations, start=1):
                ordered.append(dict(zip(RESULT_FIELDS, rows[(sid, number)])))
                params.append(dict(combination))
        names = list(dict.fromkeys(name for combination in params for name in combination))
        columns: dict[str, pl.Series] = {
            "strategy": pl.Series([r["strategy_id"] for r in ordered], dtype=pl.String),
            "combination": pl.Series([r["combination"] for r in ordered], dtype=pl.Int64),
        }
        for name in names:
            columns[name] = pl.Series(name, [p.get(name) for p in params], strict=False)
        table = pl.DataFrame({**columns, **trial_columns(ordered, periods_per_year)})
        return table.with_columns(rank_column(table, self.metric, self.min_trades)), params, block_sums_of(ordered)


def trial_columns(ordered: Sequence[Mapping[str, Any]], periods_per_year: int) -> dict[str, pl.Series]:
    """A search's result columns after its own: the metrics, final equity, the trial's fields,
    each completed trial's PSR, status and error, from rows (dicts) in the search's order."""
    columns: dict[str, pl.Series] = {}
    for name in METRIC_NAMES:
        dtype = pl.Int64 if name == "trade_count" else pl.Float64
        columns[name] = pl.Series(name, [r[name] for r in ordered], dtype=dtype, strict=False)
    columns["final_equity"] = pl.Series([r["final_equity"] for r in ordered], dtype=pl.Decimal(38, 6))
    for name in TRIAL_FIELDS:
        dtype = pl.Int64 if name in ("closed_trade_count", "return_count") else pl.Float64
        columns[name] = pl.Series(name, [r[name] for r in ordered], dtype=dtype, strict=False)
    root = math.sqrt(periods_per_year)
    columns["probabilistic_sharpe_ratio"] = pl.Series([
        None if r["status"] != "completed" else probabilistic_sharpe_ratio(
            _float(r["sharpe_ratio"]) / root, r["return_count"], _float(r["skewness"]), _float(r["kurtosis"]))
        for r in ordered], dtype=pl.Float64)
    columns["status"] = pl.Series([r["status"] for r in ordered], dtype=pl.String)
    columns["error"] = pl.Series([r["error"] for r in ordered], dtype=pl.String)
    return columns


def block_sums_of(ordered: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """The block sums [3, S, N] of the N completed rows, in order (None if fewer than 2, or any
    lacks them)."""
    completed = [r["block_sums"] for r in ordered if r["status"] == "completed"]
    return np.stack(completed, axis=2) if len(completed) > 1 and all(b is not None for b in completed) else None


def rank_column(table: pl.DataFrame, metric: str, min_trades: int = 0) -> pl.Series:
    """Each combination's rank by `metric` within its strategy (1 = best; ties in grid order);
    null for failed combinations, undefined values and (`min_trades` > 0) combinations with
    fewer closed trades (column closed_trade_count)."""
    sign = 1 if metric in LOWER_IS_BETTER else -1
    entries: dict[str, list[tuple[float, int]]] = {}
    closed = table["closed_trade_count"] if min_trades else pl.Series([0] * table.height)
    for k, ((strategy, status, value), trades) in enumerate(
            zip(table.select("strategy", "status", metric).iter_rows(), closed)):
        if status == "completed" and value is not None and not math.isnan(value) and \
                (trades or 0) >= min_trades:
            entries.setdefault(strategy, []).append((sign * value, k))
    ranks: list[int | None] = [None] * table.height
    for ranked in entries.values():
        for rank, (_, k) in enumerate(sorted(ranked), start=1):
            ranks[k] = rank
    return pl.Series("rank", ranks, dtype=pl.Int64)


def best_trial_row(table: pl.DataFrame, metric: str) -> int | None:
    """The row of the search's best trial: among the combinations ranked first (one per
    strategy), the best by `metric`, the earlier strategy on a tie; None if nothing ranks."""
    sign = 1 if metric in LOWER_IS_BETTER else -1
    firsts = [(sign * value, k) for k, (rank, value) in enumerate(table.select("rank", metric).iter_rows())
              if rank == 1]
    return min(firsts)[1] if firsts else None


def _split_columns(table: pl.DataFrame, overfitting: Any, periods_per_year: int) -> dict[str, Any]:
    """The rows of `grid_pbo_splits`: per CSCV split with an in-sample best, that trial and its
    Sharpe ratios (annualised as sharpe_ratio), out-of-sample rank and logit."""
    trials = table.filter(pl.col("status") == "completed").select("strategy", "combination")
    kept = np.flatnonzero(overfitting.best >= 0)
    best = overfitting.best[kept]
    root = math.sqrt(periods_per_year)
    return {"split": (kept + 1).tolist(), "strategy_id": trials["strategy"].gather(best).to_list(),
            "combination": trials["combination"].gather(best).to_list(),
            "in_sample_sharpe_ratio": (overfitting.in_sample[kept] * root).tolist(),
            "out_of_sample_sharpe_ratio": (overfitting.out_of_sample[kept] * root).tolist(),
            "out_of_sample_rank": overfitting.rank[kept].tolist(), "logit": overfitting.logit[kept].tolist()}


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _shown(value: float) -> str:
    return "n/a" if value != value else f"{value:.4g}"


def _best_numbers(table: pl.DataFrame, strategy_ids: Sequence[str]) -> list[int | None]:
    """Per strategy, the combination number ranked first (None if none ranks)."""
    first = dict(table.filter(pl.col("rank") == 1).select("strategy", "combination").iter_rows())
    return [first.get(sid) for sid in strategy_ids]


def worker_config(config: BacktestConfig) -> BacktestConfig:
    """The settings a worker needs: the `BacktestConfig` fields only (one sleeve alone has no
    conflicts nor rebalancing), no warehouse and no log."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(BacktestConfig)}
    return BacktestConfig(**{**values, "warehouse": None, "log_dir": None})


def plan_batches(work: Sequence[tuple[str, type, Sequence[Params]]], slots: int, bars: int, symbols: int,
                 batch_size: int | None = None) -> list[Batch]:
    """Cut each strategy's combinations into batches of near-equal size: about
    `BATCHES_PER_SLOT` per worker, at most `batch_size`, and small enough for memory."""
    total = sum(len(c) for _, _, c in work)
    size = batch_size or max(1, math.ceil(total / (slots * BATCHES_PER_SLOT)))
    size = max(1, min(size, BATCH_CELLS // max(1, bars * symbols)))
    batches = []
    for sid, cls, combinations in work:
        numbered = [(number, dict(p)) for number, p in enumerate(combinations, start=1)]
        parts = math.ceil(len(numbered) / size)
        for k in range(parts):
            chunk = numbered[k * len(numbered) // parts:(k + 1) * len(numbered) // parts]
            batches.append(Batch(sid, cls, tuple(chunk)))
    return batches


def _grids(strategy_class: Any, param_grid: Mapping[str, Any] | None,
           constraint: Callable[[Params], Any] | str | None, problems: list[str]) -> list[Grid]:
    """The grids asked for: one class with its grid, or a list of Grids / (class, grid) pairs."""
    single = isinstance(strategy_class, (type, Grid))
    if not single and not (isinstance(strategy_class, Sequence) and not isinstance(strategy_class, str)):
        problems.append(f"give a strategy class and its parameter grid, or a list of (class, grid) pairs; "
                        f"got {strategy_class!r}")
        return []
    items = [strategy_class] if single else list(strategy_class)
    if isinstance(strategy_class, type):
        items = [(strategy_class, param_grid if param_grid is not None else {})]
    elif param_grid is not None:
        problems.append("param_grid goes with a single strategy class; with several, give each its grid "
                        "in the list: [(SMACross, {...}), (Momentum, {...})]")
    if not items:
        problems.append("no strategies: give at least one (class, grid) pair")
    grids = []
    for number, item in enumerate(items, start=1):
        try:
            if isinstance(item, Grid):
                grids.append(dataclasses.replace(item, constraint=constraint)
                             if item.constraint is None and constraint is not None else item)
            elif isinstance(item, tuple) and len(item) in (2, 3):
                grids.append(Grid(item[0], item[1], item[2] if len(item) == 3 else constraint))
            else:
                problems.append(f"strategy #{number}: give a Grid or a (class, {{parameter: values}}) pair, "
                                f"got {item!r}")
        except ConfigError as exc:
            problems += exc.problems
    return grids


def _import_root(cls: type) -> str | None:
    """The directory to put on sys.path to import `cls`'s module by name (None if it has no file,
    or is sqlorch's own)."""
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file or cls.__module__.split(".")[0] == "sqlorch" or cls.__module__ == "__main__":
        return None
    root = Path(file).resolve().parent
    for _ in range(cls.__module__.count(".") + (Path(file).name == "__init__.py")):
        root = root.parent
    return str(root)


def _check_sendable(classes: Sequence[type]) -> None:
    """SqlorchError naming the first strategy class that cannot travel to worker processes: a
    class defined in a script, a notebook or a function travels by value (cloudpickle), with
    what it refers to, and fails if any of that cannot be pickled (an open file, a lock...)."""
    import cloudpickle

    for cls in classes:
        try:
            cloudpickle.dumps(cls)
        except Exception as exc:
            raise SqlorchError(
                f"the strategy class {cls.__qualname__} cannot be sent to worker processes "
                f"({type(exc).__name__}: {exc}): it, or something it refers to, cannot be pickled; define the "
                "class in a module (workers then import it by name), or pass workers=1 to run in this "
                "process") from None
