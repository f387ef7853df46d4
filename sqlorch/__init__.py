"""sqlorch: several strategies in one backtest, each trading its own sleeve of capital,
every bar, signal, decision, fill and equity point in DuckDB."""

from sqlorch.config import BacktestConfig, OrchestratorConfig
from sqlorch.context import Bar, BarContext
from sqlorch.data import load_bars
from sqlorch.domain import ConflictMode, DecisionKind, Side, Signal
from sqlorch.engine import BacktestEngine, StrategyOrchestrator
from sqlorch.errors import ConfigError, DataError, SqlorchError, StrategyError, WarehouseLockedError
from sqlorch.grid import GridResult, GridSearch
from sqlorch.grid_spec import Grid
from sqlorch.results import BacktestResult, OrchestratorResult, PerformanceMetrics, StrategyAllocation
from sqlorch.strategy import IStrategy

__version__ = "0.1.0"

__all__ = [
    "BacktestConfig", "BacktestEngine", "BacktestResult", "Bar", "BarContext", "ConfigError",
    "ConflictMode", "DataError", "DecisionKind", "Grid", "GridResult", "GridSearch", "IStrategy", "OrchestratorConfig",
    "OrchestratorResult", "PerformanceMetrics", "Side", "Signal", "SqlorchError",
    "StrategyAllocation", "StrategyError", "StrategyOrchestrator", "WarehouseLockedError",
    "load_bars", "__version__",
]
