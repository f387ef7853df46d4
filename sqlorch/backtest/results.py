"""Result types, read back from the warehouse once a run is written."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from sqlorch.backtest.correlation import load_matrix
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame

PRESENTERS: dict[str, Callable[..., Any]] = {}
"""How results display themselves, filled in by the `sqlorch` package when it is imported (this
package may not import the reports): "html" (result -> the HTML a notebook shows) and "report"
(result, path or None -> the path of the report written)."""


class Presentable:
    """What every result offers in a notebook: `_repr_html_` (Jupyter shows the comparison table
    and the equity chart) and `report(path=None)` (writes the full report, HTML or, for a .md
    path, Markdown; default reports/<run_id>.html; returns its path)."""

    def _repr_html_(self) -> str:
        return PRESENTERS["html"](self)

    def report(self, path: str | Path | None = None) -> Path:
        """Write this run's report to `path` (default reports/<run_id>.html) and return its path;
        never over a file that is not a sqlorch report."""
        return PRESENTERS["report"](self, path)


METRIC_NAMES = ("total_return", "cagr", "volatility", "sharpe_ratio", "sortino_ratio", "max_drawdown",
                "calmar_ratio", "win_rate", "profit_factor", "trade_count", "exposure",
                "alpha", "beta", "tracking_error", "information_ratio")
BENCHMARK_METRICS = METRIC_NAMES[-4:]
"""The metrics against a benchmark (SPEC §10): NaN for a run without one."""


@dataclass(frozen=True)
class PerformanceMetrics:
    """Performance of one equity curve (SPEC §3): floats, NaN where undefined.

    `max_drawdown` is a negative fraction; `trade_count` counts round trips, open ones
    included; `win_rate` and `profit_factor` use closed trades only. Sharpe, Sortino and
    alpha are net of the risk-free rate; `alpha` (annualised), `beta`, `tracking_error`
    (annualised) and `information_ratio` (annualised) are measured against the run's
    benchmark, as empyrical defines them (docs/reports.md), NaN without one.
    """

    total_return: float = math.nan
    cagr: float = math.nan
    volatility: float = math.nan
    sharpe_ratio: float = math.nan
    sortino_ratio: float = math.nan
    max_drawdown: float = math.nan
    calmar_ratio: float = math.nan
    win_rate: float = math.nan
    profit_factor: float = math.nan
    trade_count: int = 0
    exposure: float = math.nan
    alpha: float = math.nan
    beta: float = math.nan
    tracking_error: float = math.nan
    information_ratio: float = math.nan

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PerformanceMetrics:
        """Metrics from a row of the `metrics` table (NULL becomes NaN)."""
        values = {name: math.nan if row.get(name) is None else float(row[name]) for name in METRIC_NAMES}
        values["trade_count"] = int(row.get("trade_count") or 0)
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        """The metrics by name."""
        return dataclasses.asdict(self)


def headline(metrics: PerformanceMetrics) -> str:
    """A result's headline figures in one phrase: return, Sharpe, max drawdown, trades."""
    def percent(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.2%}"

    sharpe = "n/a" if math.isnan(metrics.sharpe_ratio) else f"{metrics.sharpe_ratio:.2f}"
    return (f"return {percent(metrics.total_return)}, sharpe {sharpe}, max drawdown {percent(metrics.max_drawdown)}, "
            f"{metrics.trade_count} trades")


@dataclass(frozen=True, eq=False, repr=False)
class BacktestResult(Presentable):
    """One strategy's run (or one sleeve of an orchestrated run). Its `fills`, `trades` and
    per-bar `equity_curve` are read from the warehouse on first use. `repr()` is one line: the
    run, the strategy, its final equity and headline figures; in a notebook it shows its row of
    the comparison and its equity curve; `report()` writes its run's report."""

    run_id: str
    strategy_id: str
    metrics: PerformanceMetrics
    final_equity: Decimal
    warehouse: Warehouse = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return (f"<BacktestResult run {self.run_id}: {self.strategy_id}, final equity {self.final_equity:,.2f}, "
                f"{headline(self.metrics)}>")

    @cached_property
    def fills(self) -> pl.DataFrame:
        """ts, strategy_id, symbol, quantity (signed), price, commission, realized_pnl,
        order_id, order_type (market, limit, stop, stop_loss, take_profit, trailing_stop): one row
        per fill, in the order they were booked."""
        return self.warehouse.query(sql_text("queries", "strategy_fills"), [self.run_id, self.strategy_id])

    @cached_property
    def trades(self) -> pl.DataFrame:
        """One row per round trip, by entry bar and symbol."""
        return self.warehouse.query(sql_text("queries", "strategy_trades"), [self.run_id, self.strategy_id])

    @cached_property
    def equity_curve(self) -> pl.DataFrame:
        """ts, cash, equity: one row per clock bar."""
        return self.warehouse.query(sql_text("queries", "strategy_equity_curve"), [self.run_id, self.strategy_id])


@dataclass(frozen=True, eq=False)
class StrategyAllocation:
    """A sleeve's capital: its weight and starting capital, the final allocated, used and
    available capital, and their `history` (ts, allocated_capital, used_capital,
    available_capital) over every bar, read from the warehouse on first use."""

    run_id: str
    strategy_id: str
    weight: Decimal
    initial_capital: Decimal
    allocated_capital: Decimal
    used_capital: Decimal
    available_capital: Decimal
    warehouse: Warehouse = dataclasses.field(repr=False)

    @cached_property
    def history(self) -> pl.DataFrame:
        """ts, allocated_capital, used_capital, available_capital: one row per clock bar."""
        return self.warehouse.query(sql_text("queries", "allocation_history"), [self.run_id, self.strategy_id])


@dataclass(frozen=True, eq=False, repr=False)
class OrchestratorResult(Presentable):
    """Several strategies run side by side, each in its own sleeve, and their portfolio.
    Its `fills` and per-bar `equity_curve` are read from the warehouse on first use. `repr()`
    is a line for the portfolio and one per strategy; in a notebook it shows the comparison table
    and the equity curves; `report()` writes the run's report."""

    run_id: str
    aggregate_metrics: PerformanceMetrics
    strategy_results: dict[str, BacktestResult]
    comparison_table: pl.DataFrame
    allocations: dict[str, StrategyAllocation]
    final_equity: Decimal
    warehouse: Warehouse = dataclasses.field(repr=False)
    # Pearson correlation of the strategies' daily returns (view strategy_correlations):
    # column strategy_id, then one column per strategy, in list order; NaN where undefined
    correlation: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)

    @cached_property
    def fills(self) -> pl.DataFrame:
        """Every sleeve's fills (columns as `BacktestResult.fills`), in the order they were booked."""
        return self.warehouse.query(sql_text("queries", "run_fills"), [self.run_id])

    @cached_property
    def equity_curve(self) -> pl.DataFrame:
        """The portfolio's ts, cash (incl. unallocated capital) and equity, one row per bar."""
        return self.warehouse.query(sql_text("queries", "portfolio_equity_curve"), [self.run_id])

    def __repr__(self) -> str:
        lines = [f"<OrchestratorResult run {self.run_id}: {len(self.strategy_results)} strategies, final equity "
                 f"{self.final_equity:,.2f}, {headline(self.aggregate_metrics)}"]
        lines += [f"  {sid}: final equity {r.final_equity:,.2f}, {headline(r.metrics)}"
                  for sid, r in self.strategy_results.items()]
        return "\n".join(lines) + ">"


def load_orchestrator_result(warehouse: Warehouse, run_id: str, correlation: bool = True) -> OrchestratorResult:
    """Read an orchestrated run's result from the warehouse (the correlation matrix only if
    `correlation`); fills, trades and per-bar series are read when first used."""
    with warehouse.connect(read_only=True) as con:
        metrics = {row["series"]: PerformanceMetrics.from_row(row)
                   for row in frame(con, sql_text("queries", "run_metrics"), [run_id]).iter_rows(named=True)}
        comparison = frame(con, sql_text("queries", "run_comparison"), [run_id])
        sleeves = con.execute(sql_text("queries", "sleeve_capital"), [run_id]).fetchall()
        (final_equity,), = con.execute(sql_text("queries", "final_equity"), [run_id]).fetchall()
        matrix = load_matrix(con, run_id) if correlation else pl.DataFrame()
    results, capital = {}, {}
    for strategy_id, weight, initial, equity, allocated, used, available in sleeves:
        results[strategy_id] = BacktestResult(
            run_id, strategy_id, metrics.get(strategy_id, PerformanceMetrics()), equity, warehouse)
        capital[strategy_id] = StrategyAllocation(
            run_id, strategy_id, weight, initial, allocated, used, available, warehouse)
    return OrchestratorResult(
        run_id, metrics.get("portfolio", PerformanceMetrics()), results, comparison, capital,
        final_equity, warehouse, matrix)


def load_backtest_result(warehouse: Warehouse, run_id: str) -> BacktestResult:
    """Read a single-strategy run's result from the warehouse views."""
    result = load_orchestrator_result(warehouse, run_id, correlation=False)
    (only,) = result.strategy_results.values()
    return only
