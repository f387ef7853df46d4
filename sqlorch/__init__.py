"""sqlorch: several strategies in one backtest, each trading its own sleeve of capital,
every bar, signal, decision, fill and equity point in DuckDB."""

from sqlorch.backtest.engine import BacktestEngine, StrategyOrchestrator
from sqlorch.backtest.results import PRESENTERS as _PRESENTERS
from sqlorch.backtest.results import BacktestResult, OrchestratorResult, PerformanceMetrics, StrategyAllocation
from sqlorch.bars.load import load_bars
from sqlorch.config.settings import BacktestConfig, OrchestratorConfig
from sqlorch.engine.allocation import AllocationWindow, register_allocator
from sqlorch.engine.context import Bar, BarContext
from sqlorch.engine.domain import ConflictMode, DecisionKind, Side, Signal
from sqlorch.engine.rule import Rule
from sqlorch.engine.strategy import IStrategy
from sqlorch.errors import ConfigError, DataError, SqlorchError, StrategyError, WarehouseLockedError

__version__ = "0.1.0"


def _present(how: str):
    """A result's notebook view or report, drawn by sqlorch.report.notebook (imported on first use:
    a plain run does not load the templates)."""
    def call(*args):
        from sqlorch.report import notebook

        return getattr(notebook, how)(*args)

    return call


_PRESENTERS.update(html=_present("html"), report=_present("report"))

_LAZY = {"CombinationResult": "sqlorch.grid.combine", "CombinationSearch": "sqlorch.grid.combine",
         "Grid": "sqlorch.grid.spec", "GridResult": "sqlorch.grid.search", "GridSearch": "sqlorch.grid.search",
         "WalkForward": "sqlorch.grid.walkforward", "WalkForwardResult": "sqlorch.grid.walkforward"}


def __getattr__(name: str):
    """Grid search is imported on first use: a plain run does not pay for it."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sqlorch' has no attribute {name!r}")

__all__ = [
    "AllocationWindow", "BacktestConfig", "BacktestEngine", "BacktestResult", "Bar", "BarContext",
    "CombinationResult", "CombinationSearch", "ConfigError",
    "ConflictMode", "DataError", "DecisionKind", "Grid", "GridResult", "GridSearch", "IStrategy", "OrchestratorConfig",
    "OrchestratorResult", "PerformanceMetrics", "Rule", "Side", "Signal", "SqlorchError",
    "StrategyAllocation", "StrategyError", "StrategyOrchestrator", "WalkForward", "WalkForwardResult",
    "WarehouseLockedError", "load_bars", "register_allocator", "__version__",
]
