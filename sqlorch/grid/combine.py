"""Combination search (SPEC §9): every non-empty subset of a line-up of strategies (up to
`max_size` members) under every allocation policy listed, each what the orchestrated run of that
subset would give, ranked by a metric and kept in the warehouse as a search of kind
`combination` (`grid_runs`, one `grid_results` row per subset and policy: a trial).

    search = CombinationSearch([SMACross(), Momentum(), RSIStrategy()], config,
                               policies=["fixed", "risk_parity"], metric="sharpe_ratio")
    result = search.run(bars)      # CombinationResult: run_id, table, best, trials, DSR, PSR, PBO

Each subset trades the whole capital with the configuration's other settings: its members'
weights scaled to sum to 1 (equal weights where none were given), under the policy. A subset
and policy whose weight bounds cannot hold (`min_weight` x members > 1, or `max_weight` x
members < 1, under any policy but `fixed`) is `skipped`: the orchestrated run would refuse it.

Two ways to a subset's numbers (`sqlorch.grid.assemble`), equal by construction and by test:
- assembled: where its members cannot interact, a subset's portfolio is the sum of its members'
  runs alone at their capital in it. Members cannot interact when no capital moves (policy
  `fixed`, or a single member; no `rebalance_threshold`) and no two of them ever have orders on
  the same symbol at the same bar, or, under `net_signal` without commission and slippage,
  only where an order alone would fill at the net's price (buying and selling prices equal):
  netting then changes no fill. Each strategy runs once per capital it has in some subset.
- re-run: every other subset is an orchestrated run of its own, in parallel on the grid's
  executors.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
import polars as pl

from sqlorch.backtest.benchmark import benchmark_of
from sqlorch.backtest.metrics import per_bar_rate
from sqlorch.backtest.results import METRIC_NAMES, Presentable
from sqlorch.backtest.runner import (
    _describe,
    class_reference,
    config_json,
    dataset_id,
    new_run_id,
    periods_per_year,
    plan_sleeves,
    run_bars,
)
from sqlorch.config.settings import BacktestConfig, OrchestratorConfig, check_weight
from sqlorch.engine.allocation import allocator_names, bounds_problem
from sqlorch.engine.costs import Costs, FillPrices
from sqlorch.engine.domain import ConflictMode
from sqlorch.engine.events import encode
from sqlorch.engine.strategy import strategy_ids
from sqlorch.errors import ConfigError, did_you_mean
from sqlorch.grid.assemble import CombineData, SingleRun, Trial, assemble, rerun, run_singles, subset_settings
from sqlorch.grid.batch import TRIAL_FIELDS
from sqlorch.grid.executors import EXECUTORS, Executor, make_executor
from sqlorch.grid.overfitting import PBO_BLOCKS, check_trial_options, deflated_sharpe_ratio, pbo
from sqlorch.grid.search import (
    _import_root,
    _split_columns,
    best_trial_row,
    block_sums_of,
    rank_column,
    trial_columns,
    worker_config,
)
from sqlorch.grid.storage import fail_grid, finish_grid, register_grid
from sqlorch.money import MICRO
from sqlorch.store.warehouse import Warehouse, decimal_column, insert, timestamp_column

DEFAULT_POLICIES = ("equal",)
MOST_TRIALS = 1_000_000  # subsets x policies one search may try
STRATEGY = "combination"  # grid_results.strategy_id of every trial of a combination search
SLOTS_WORK = 64  # re-runs worth starting worker processes for
SMALL_WORK = 5_000_000  # single runs x bars x symbols worth starting worker processes for
WEIGHT_PLACES = Decimal(10) ** -18  # scaled weights are rounded down to this: their sum never passes 1

Progress = Callable[[int, int], None]
"""Called with (trials done, trials in all) as they finish."""


@dataclass(frozen=True, eq=False, repr=False)
class CombinationResult(Presentable):
    """A finished combination search.

    `table` has one row per subset and policy, in search order (policies in the order given,
    within each the subsets by size, then by position in the line-up): combination (1, 2, ...),
    strategies (the member ids), policy, size, weights (the members' configured weights scaled to
    sum to 1), the metrics (NaN where undefined, null unless completed), final_equity,
    closed_trade_count, the moments of its per-bar returns, probabilistic_sharpe_ratio, status
    (`completed`, `failed` or `skipped`), error (why), assembled (True if assembled from its
    members' runs alone, False if re-run as an orchestrated run) and rank by `metric` (1 = best;
    null if not completed, undefined, or with fewer closed trades than `min_trades`).

    `best` is the best trial's {"strategies": [...], "policy": ...} ({} if nothing ranks);
    `probabilistic_sharpe_ratio` its PSR(0), `deflated_sharpe_ratio` its DSR against the `trials`
    completed trials of `study` (this search's own when None), `pbo` the probability of backtest
    overfitting of this search's completed trials. `warehouse` holds the search.
    """

    run_id: str
    table: pl.DataFrame
    best: dict[str, Any]
    metric: str
    warehouse: Warehouse
    line_up: tuple[str, ...] = ()
    study: str | None = None
    trials: int = 0
    deflated_sharpe_ratio: float = math.nan
    probabilistic_sharpe_ratio: float = math.nan
    pbo: float = math.nan
    best_trial: int | None = None
    min_trades: int = 0
    pbo_blocks: int = PBO_BLOCKS

    def __repr__(self) -> str:
        done = self.table.filter(pl.col("status") == "completed").height
        best = "nothing ranks" if not self.best else \
            f"best {'+'.join(self.best['strategies'])} under {self.best['policy']}"
        return (f"<CombinationResult run {self.run_id}: {self.table.height} subsets x policies ({done} completed), "
                f"ranked by {self.metric}; {best}; deflated Sharpe ratio {_shown(self.deflated_sharpe_ratio)} over "
                f"{self.trials} trials, PBO {_shown(self.pbo)}>")

    def top(self, k: int = 10) -> pl.DataFrame:
        """The k best subsets and policies, best first."""
        return self.table.filter(pl.col("rank") <= k).sort("rank")


class CombinationSearch:
    """Run every non-empty subset of `line_up` under every policy of `policies` and rank them.

    `line_up`: strategies, or (strategy, weight) pairs (weights > 0; under `fixed` a subset's
    members keep their weights' proportions; none given: equal weights). `config`: an
    `OrchestratorConfig` (a `BacktestConfig` is taken as one with its values); its `allocation`
    is replaced by each policy, its `allocation_lookback`, `allocation_every`, `min_weight` and
    `max_weight` kept. `policies`: allocation policy names (built-in or registered). `max_size`:
    the most members a subset has (None: all of them). `metric` ranks the trials (higher is
    better, except volatility and tracking_error); `min_trades`, `study` and `pbo_blocks` as for
    `GridSearch`; `workers`, `executor` and `address` say where re-runs go (as for `GridSearch`).
    `assemble=False` re-runs every subset as an orchestrated run (the slow way, for checking).

    Everything is checked at construction, every problem reported at once in a ConfigError.
    """

    def __init__(self, line_up: Sequence[Any], config: BacktestConfig | None = None,
                 policies: Sequence[str] | str = DEFAULT_POLICIES, max_size: int | None = None,
                 metric: str = "sharpe_ratio", *, min_trades: int = 0, study: str | None = None,
                 pbo_blocks: int = PBO_BLOCKS, workers: int | None = None, executor: str | Executor = "local",
                 address: str | None = None, assemble: bool = True):
        problems: list[str] = []
        problems += check_trial_options(study, min_trades, pbo_blocks)
        self.config = _orchestrator_config(config, problems)
        self.strategies, self.weights = _line_up(line_up, self.config, problems)
        try:
            self.ids = strategy_ids(self.strategies) if self.strategies else []
        except ConfigError as exc:
            problems += exc.problems
            self.ids = []
        self.policies = _policies(policies, problems)
        if metric not in METRIC_NAMES:
            problems.append(f"metric: {metric!r} is not a metric{did_you_mean(str(metric), METRIC_NAMES)}; "
                            f"metrics are {', '.join(METRIC_NAMES)}")
        n = len(self.strategies)
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
            problems.append(f"max_size: must be a whole number >= 1, got {max_size!r}")
            max_size = None
        self.max_size = min(max_size or n, n)
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            problems.append(f"workers: must be a whole number >= 1, got {workers!r}")
        if isinstance(executor, str) and executor not in EXECUTORS:
            problems.append(f"executor: {executor!r} is not one of {', '.join(EXECUTORS)}"
                            f"{did_you_mean(executor, EXECUTORS)}")
        count = sum(math.comb(n, k) for k in range(1, self.max_size + 1)) * max(len(self.policies), 1)
        if count > MOST_TRIALS:
            problems.append(f"{count:,} subsets and policies are more than {MOST_TRIALS:,}; lower max_size")
        if problems:
            raise ConfigError(problems)
        self.metric = metric
        self.min_trades, self.study, self.pbo_blocks = min_trades, study, pbo_blocks
        self.workers, self.executor, self.address = workers, executor, address
        self.assemble = assemble
        self.trials, self.skipped = self._plan()

    @property
    def size(self) -> int:
        """How many subsets and policies the search tries (skipped ones included)."""
        return len(self.trials)

    def _plan(self) -> tuple[list[Trial], dict[int, str]]:
        """Every trial in search order, and why some are skipped (by number)."""
        trials, skipped = [], {}
        subsets = [c for k in range(1, self.max_size + 1) for c in itertools.combinations(range(len(self.ids)), k)]
        for policy in self.policies:
            for members in subsets:
                number = len(trials) + 1
                trials.append(Trial(number, members, scaled_weights([self.weights[m] for m in members]), policy))
                if policy != "fixed":
                    problem = bounds_problem(len(members), 1.0, self.config.min_weight, self.config.max_weight)
                    if problem:
                        skipped[number] = f"skipped: min_weight, max_weight: {problem}"
        return trials, skipped

    def run(self, bars: Any, progress: Progress | None = None, on_wait: Callable[[str], None] | None = None,
            source: str = "", warehouse: Warehouse | None = None) -> CombinationResult:
        """Run every subset and policy over `bars` (whatever `load_bars` accepts) and write the
        search to the configured warehouse (or `warehouse`)."""
        config = self.config
        window, _, full = run_bars(bars, config, self.strategies if config.start is not None and
                                   config.warmup == "auto" else ())
        panel = full.traded()
        ppy = config.periods_per_year or periods_per_year(panel.timestamps)
        data = CombineData(window, dataset_id(panel), ppy, worker_config(config), False,
                           tuple(dict.fromkeys(p for s in self.strategies if (p := _import_root(type(s))))),
                           benchmark=benchmark_of(config, panel), warmup=full.first,
                           warmup_id=dataset_id(full) if full.first else "", pbo_blocks=self.pbo_blocks,
                           strategies=tuple(self.strategies),
                           orchestrator=dataclasses.replace(config, warehouse=None, log_dir=None))
        executor = make_executor(self.executor, self.workers, self.address)
        warehouse = warehouse or Warehouse(config.warehouse, config.lock_timeout, on_wait)
        run_id = new_run_id()
        started = time.monotonic()
        register_grid(warehouse, run_id, data.traded_bars(), data.dataset_id, {
            "kind": "combination", "source": source or "python", "metric": self.metric, "executor": executor.name,
            "workers": executor.slots(), "batches": 0, "strategy_count": len(self.ids),
            "combination_count": self.size, "dropped_count": 0, "initial_capital": config.initial_capital,
            "periods_per_year": ppy, "bar_count": len(panel), "symbol_count": len(panel.symbols),
            "grids": self._line_up_json(), "config": config_json(config), "study": self.study,
            "min_trades": self.min_trades, "pbo_blocks": self.pbo_blocks})
        try:
            rows, assembled, alone = self._rows(data, panel, executor, progress)
            self._store_curves(warehouse, run_id, alone, panel)
            return self._finish(warehouse, run_id, rows, assembled, ppy, started)
        except BaseException as exc:  # interrupted, or a worker died: the search is not complete
            fail_grid(warehouse, run_id, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
            raise
        finally:
            if executor is not self.executor:
                executor.close()

    # -- the work ---------------------------------------------------------------------------------

    def _rows(self, data: CombineData, panel: Any, executor: Executor,
              progress: Progress | None) -> tuple[dict[int, tuple], set[int], list[SingleRun]]:
        """Every trial's row (number, status, error, *measured fields), which were assembled, and
        each line-up strategy's run alone with the whole capital."""
        rows: dict[int, tuple] = {n: (n, "skipped", why) for n, why in self.skipped.items()}
        capital = int(self.config.initial_capital * MICRO)
        candidates = [t for t in self.trials if t.number not in rows and self._may_assemble(t)]
        capitals = self._capitals(candidates)
        whole = self._capitals([Trial(0, (m,), (Decimal(1),), "fixed") for m in range(len(self.ids))])
        alone = [(m, whole[(Decimal(1),)][0]) for m in range(len(self.ids))]  # for the members' correlations
        needed = list(dict.fromkeys([*alone, *((m, c) for t in candidates
                                               for m, c in zip(t.members, capitals[t.weights]))]))
        singles: dict[tuple[int, Decimal], SingleRun] = {}
        if needed:  # in this process unless there is enough work to pay for starting workers
            cells = len(needed) * len(panel) * len(panel.symbols)
            parts = _split(needed, executor.slots() if cells >= SMALL_WORK else 1)
            with executor.map(run_singles, data, parts) as running:
                for index, runs in running:
                    singles.update(zip(parts[index], runs))
        clash = self._interactions(singles, panel)
        assembled: list[Trial] = []
        for trial in candidates:
            keys = list(zip(trial.members, capitals[trial.weights]))
            if any(clash[a, b] for a, b in itertools.combinations(trial.members, 2)):
                continue
            failed = next((singles[k].error for k in keys if singles[k].error), None)
            if failed:
                rows[trial.number] = (trial.number, "failed", failed)
                continue
            assembled.append(trial)
        if assembled:
            order = {key: i for i, key in enumerate(singles)}
            members = [[order[k] for k in zip(t.members, capitals[t.weights])] for t in assembled]
            unallocated = [capital - sum(int(c * MICRO) for c in capitals[t.weights]) for t in assembled]
            measured = assemble(list(singles.values()), members, unallocated, capital, data)
            for trial, values in zip(assembled, measured):
                rows[trial.number] = (trial.number, "completed", None, *values)
        if progress:
            progress(len(rows), self.size)
        again = [t for t in self.trials if t.number not in rows]
        if again:
            parts = _split(again, executor.slots() * 4 if len(again) >= SLOTS_WORK else 1)
            with executor.map(rerun, data, parts) as running:
                for _, part_rows in running:
                    rows.update((row[0], row) for row in part_rows)
                    if progress:
                        progress(len(rows), self.size)
        return rows, {t.number for t in assembled}, [singles[key] for key in alone]

    def _may_assemble(self, trial: Trial) -> bool:
        """Whether no capital moves between the trial's sleeves (so it may be assembled if its
        members' orders do not interact either)."""
        return self.assemble and self.config.rebalance_threshold is None and \
            (trial.policy == "fixed" or len(trial.members) == 1)

    def _capitals(self, trials: Sequence[Trial]) -> dict[tuple[Decimal, ...], list[Decimal]]:
        """The sleeves' capitals of each distinct weighting, as the orchestrated run computes them."""
        capitals: dict[tuple[Decimal, ...], list[Decimal]] = {}
        fixed = subset_settings(self.config, "fixed", ())  # capitals depend on the weights only
        for trial in trials:
            if trial.weights not in capitals:
                pairs = [(self.strategies[m], w) for m, w in zip(trial.members, trial.weights)]
                capitals[trial.weights] = plan_sleeves(pairs, fixed).capitals
        return capitals

    def _interactions(self, singles: dict[tuple[int, Decimal], SingleRun], panel: Any) -> np.ndarray:
        """[n, n]: whether two strategies' orders may interact in a subset: both have orders on one
        symbol at one bar (at any capital they run at), unless netting cannot change their fills
        (`net_signal` without commission or slippage, where buying and selling prices are equal)."""
        n = len(self.ids)
        keys: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(n)]
        for (member, _), single in singles.items():
            keys[member] = np.union1d(keys[member], single.orders)
        config = self.config
        mode = config.conflict_mode
        nets_freely = str(mode.value if isinstance(mode, ConflictMode) else mode) == ConflictMode.NET_SIGNAL.value \
            and config.commission_bps == 0 and config.commission_per_order == 0 and config.slippage_bps == 0
        same = None
        if nets_freely:
            prices = FillPrices.of(panel, Costs.from_config(config), config.engine_settings().close_mode)
            same = (prices.buy == prices.sell).reshape(-1)  # by bar x symbols + symbol
        clash = np.zeros((n, n), dtype=bool)
        for a, b in itertools.combinations(range(n), 2):
            common = np.intersect1d(keys[a], keys[b], assume_unique=True)
            clash[a, b] = clash[b, a] = bool(common.size) and (same is None or not same[common].all())
        return clash

    def _store_curves(self, warehouse: Warehouse, run_id: str, alone: Sequence[SingleRun], panel: Any) -> None:
        """Each line-up strategy's equity alone with the whole capital, into `combination_curves`."""
        bars = len(panel)
        equity = np.concatenate([single.equity for single in alone])
        with warehouse.transaction() as con:
            insert(con, "combination_curves", {
                "run_id": [run_id] * len(equity), "strategy_id": [sid for sid in self.ids for _ in range(bars)],
                "position": np.repeat(np.arange(1, len(self.ids) + 1), bars),
                "bar_index": np.tile(np.arange(bars), len(self.ids)),
                "ts": timestamp_column(np.tile(np.arange(bars), len(self.ids)),
                                       panel.timestamps.astype("datetime64[us]")),
                "equity": decimal_column(equity, 6)})

    # -- the result -------------------------------------------------------------------------------

    def _finish(self, warehouse: Warehouse, run_id: str, rows: dict[int, tuple], assembled: set[int], ppy: int,
                started: float) -> CombinationResult:
        table, params, sums = self._table(rows, assembled, ppy)
        stored = table.with_columns(pl.lit(STRATEGY).alias("strategy"))
        best_row = best_trial_row(stored, self.metric)
        psr = math.nan if best_row is None else table["probabilistic_sharpe_ratio"][best_row]
        overfitting = pbo(sums, per_bar_rate(self.config.risk_free_rate, ppy)) if sums is not None else None
        best = {} if best_row is None else {"strategies": table["strategies"][best_row].to_list(),
                                            "policy": table["policy"][best_row]}

        def deflate(trials: int, variance: float) -> float:
            if best_row is None:
                return math.nan
            row = table.row(best_row, named=True)
            return deflated_sharpe_ratio(row["sharpe_ratio"] / math.sqrt(ppy), row["return_count"], row["skewness"],
                                         row["kurtosis"], trials, variance)

        completed = int((table["status"] == "completed").sum())
        found = finish_grid(warehouse, run_id, stored, params, {STRATEGY: class_reference(CombinationSearch)},
                            {"completed_count": completed, "failed_count": table.height - completed,
                             "best": encode(best), "duration_seconds": time.monotonic() - started,
                             "probabilistic_sharpe_ratio": psr,
                             "pbo": overfitting.pbo if overfitting else math.nan},
                            self.study, deflate, _split_columns(stored, overfitting, ppy) if overfitting else None)
        return CombinationResult(run_id, table, best, self.metric, warehouse, tuple(self.ids), self.study,
                                 found["trials"], found["deflated_sharpe_ratio"], _float(psr),
                                 overfitting.pbo if overfitting else math.nan,
                                 None if best_row is None else int(table["combination"][best_row]),
                                 self.min_trades, self.pbo_blocks)

    def _table(self, rows: dict[int, tuple], assembled: set[int],
               ppy: int) -> tuple[pl.DataFrame, list[dict], Any]:
        """The result table in search order, each row's params (stored as JSON), and the block
        sums [3, S, N] of its N completed trials (None if fewer than 2, or any lacks them)."""
        fields = ("number", "status", "error", *METRIC_NAMES, "final_equity", *TRIAL_FIELDS, "block_sums")
        blank = (None,) * (len(fields) - 3)
        ordered = [dict(zip(fields, rows[t.number] + (blank if len(rows[t.number]) == 3 else ())))
                   for t in self.trials]
        members = [[self.ids[m] for m in t.members] for t in self.trials]
        columns: dict[str, Any] = {
            "combination": pl.Series([t.number for t in self.trials], dtype=pl.Int64),
            "strategies": pl.Series(members, dtype=pl.List(pl.String)),
            "policy": pl.Series([t.policy for t in self.trials], dtype=pl.String),
            "size": pl.Series([len(t.members) for t in self.trials], dtype=pl.Int64),
            "weights": pl.Series([[f"{w:f}" for w in t.weights] for t in self.trials], dtype=pl.List(pl.String)),
        }
        columns.update(trial_columns(ordered, ppy))
        columns["assembled"] = pl.Series([t.number in assembled for t in self.trials], dtype=pl.Boolean)
        table = pl.DataFrame(columns)
        ranked = table.with_columns(pl.lit(STRATEGY).alias("strategy"))
        table = table.with_columns(rank_column(ranked, self.metric, self.min_trades))
        params = [{"strategies": m, "policy": t.policy, "weights": [f"{w:f}" for w in t.weights],
                   "assembled": t.number in assembled} for m, t in zip(members, self.trials)]
        return table, params, block_sums_of(ordered)

    def _line_up_json(self) -> str:
        """The line-up and the search's settings, as grid_runs.grids keeps them."""
        described = [_describe(s) for s in self.strategies]
        return encode({"line_up": [{"strategy_id": sid, "class": cls, "params": params,
                                    "weight": None if w is None else str(w)}
                                   for sid, (cls, params), w in zip(self.ids, described, self.weights)],
                       "policies": list(self.policies), "max_size": self.max_size, "assemble": self.assemble})


def scaled_weights(weights: Sequence[Decimal | None]) -> tuple[Decimal, ...]:
    """A subset's weights: its members' configured weights scaled to sum to 1 (rounded down to 18
    places, so that their sum never passes 1), or equal weights 1/k where none were given."""
    if any(w is None for w in weights):
        weights = [Decimal(1)] * len(weights)
    total = sum(weights, Decimal(0))
    return tuple((w / total).quantize(WEIGHT_PLACES, rounding=ROUND_DOWN).normalize()  # type: ignore[operator]
                 for w in weights)


def _orchestrator_config(config: Any, problems: list[str]) -> OrchestratorConfig:
    if config is None:
        return OrchestratorConfig()
    if isinstance(config, OrchestratorConfig):
        return config
    if isinstance(config, BacktestConfig):
        values = {f.name: getattr(config, f.name) for f in dataclasses.fields(BacktestConfig)}
        return OrchestratorConfig(**values)
    problems.append(f"config must be an OrchestratorConfig, got {type(config).__name__}")
    return OrchestratorConfig()


def _line_up(line_up: Any, config: OrchestratorConfig, problems: list[str]) -> tuple[list[object], list[Any]]:
    """The strategies and their weights (None where none was given; all given or none)."""
    if isinstance(line_up, (str, bytes)) or not isinstance(line_up, Sequence) or not line_up:
        problems.append(f"line_up: give a list of strategies, or of (strategy, weight) pairs; got {line_up!r}")
        return [], []
    strategies, weights = [], []
    for number, item in enumerate(line_up, start=1):
        strategy, weight = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
        if weight is not None:
            try:
                weight = check_weight(weight, config.initial_capital)
            except ValueError as exc:
                problems.append(f"line_up #{number} weight: {exc}")
                weight = None
        strategies.append(strategy)
        weights.append(weight)
    if any(w is None for w in weights) and any(w is not None for w in weights):
        problems.append("line_up: give every strategy a weight, or none (equal weights)")
    return strategies, weights


def _policies(policies: Any, problems: list[str]) -> tuple[str, ...]:
    if isinstance(policies, str):
        policies = [p.strip() for p in policies.split(",")]
    if not isinstance(policies, Sequence) or not policies:
        problems.append(f"policies: give one or more allocation policies, like [\"equal\", \"risk_parity\"]; "
                        f"got {policies!r}")
        return ()
    names = allocator_names()
    kept = []
    for policy in policies:
        if not isinstance(policy, str) or policy not in names:
            problems.append(f"policies: {policy!r} is not an allocation policy{did_you_mean(str(policy), names)}; "
                            f"policies are {', '.join(names)}")
        elif policy in kept:
            problems.append(f"policies: {policy!r} is listed twice")
        else:
            kept.append(policy)
    return tuple(kept)


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """`items` cut into `parts` (at least 1) runs of near-equal length, in order."""
    parts = max(1, min(parts, len(items)))
    return [list(items[k * len(items) // parts:(k + 1) * len(items) // parts]) for k in range(parts)]


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _shown(value: float) -> str:
    return "n/a" if value != value else f"{value:.4g}"

