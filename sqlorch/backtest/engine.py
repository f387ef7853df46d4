"""The two public entry points: one strategy (`BacktestEngine`) or several side by side
(`StrategyOrchestrator`). Both run on the same stepper; the engine is the one-sleeve case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlorch.backtest.correlation import high_pairs, log_correlation_warning
from sqlorch.backtest.results import BacktestResult, OrchestratorResult, load_backtest_result, load_orchestrator_result
from sqlorch.backtest.runner import Progress, execute, plan_sleeves
from sqlorch.config.settings import BacktestConfig, OrchestratorConfig
from sqlorch.engine.strategy import IStrategy
from sqlorch.store.warehouse import Warehouse


class BacktestEngine:
    """Backtest one strategy with all of `config.initial_capital`.

    `run(bars)` accepts whatever `load_bars` does (paths, globs, DataFrames, Arrow tables).
    """

    def __init__(self, strategy: IStrategy, config: BacktestConfig | None = None):
        self.config = config or BacktestConfig()
        self.sleeves = plan_sleeves([(strategy, Decimal(1))], self.config)

    def run(self, bars: Any, progress: Progress | None = None,
            on_wait: Callable[[str], None] | None = None, warehouse: Warehouse | None = None) -> BacktestResult:
        """Run the backtest; raise StrategyError (run recorded as failed) if the strategy raises.
        `warehouse` (default: `config.warehouse`) lets runs share one, an in-memory one too."""
        warehouse = warehouse or Warehouse(self.config.warehouse, self.config.lock_timeout, on_wait)
        with warehouse.held():
            record = execute("backtest", self.sleeves, self.config, bars, warehouse, progress)
            return load_backtest_result(warehouse, record.run_id)


class StrategyOrchestrator:
    """Run several strategies in one backtest, each trading its own sleeve of capital.

    `strategies` is a list of (strategy, weight) with Decimal weights > 0 adding up to at most
    1 (`on_overweight="normalize"` scales them instead); otherwise ValueError (ConfigError).
    """

    def __init__(self, strategies: Sequence[tuple[IStrategy, Decimal]], config: OrchestratorConfig | None = None):
        self.config = config or OrchestratorConfig()
        self.sleeves = plan_sleeves(list(strategies), self.config)

    def run(self, bars: Any, progress: Progress | None = None,
            on_wait: Callable[[str], None] | None = None, source: str = "",
            warehouse: Warehouse | None = None) -> OrchestratorResult:
        """Run all strategies over `bars`; raise StrategyError if one raises. Pairs of strategies
        whose daily returns correlate above 0.8 are logged as `orchestrator.correlation_warning`.

        `warehouse` (default: `config.warehouse`, waiting with `on_wait`) may be given inside
        its `held()` block, to go on reading the run through the same connection."""
        warehouse = warehouse or Warehouse(self.config.warehouse, self.config.lock_timeout, on_wait)
        with warehouse.held():  # the run's writes, its result and the correlation check: one open
            record = execute("orchestrator", self.sleeves, self.config, bars, warehouse, progress, source)
            result = load_orchestrator_result(warehouse, record.run_id)
            log_correlation_warning(warehouse, record.run_id, record.log_path, "orchestrator",
                                    high_pairs(result.correlation))
        return result
