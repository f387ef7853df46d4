"""The scenarios the core engine must get right, through the public API only."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl
import pytest

import sqlorch
from sqlorch import (
    BacktestConfig,
    BacktestEngine,
    BarContext,
    IStrategy,
    OrchestratorConfig,
    Signal,
    StrategyOrchestrator,
)
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross

BARS = synthetic_bars(symbols=4, years=1, seed=11)


def test_public_names() -> None:
    for name in ("BacktestEngine", "BacktestConfig", "StrategyOrchestrator", "OrchestratorConfig", "ConflictMode",
                 "Signal", "Side", "BarContext", "IStrategy", "load_bars", "BacktestResult", "OrchestratorResult",
                 "PerformanceMetrics", "StrategyAllocation"):
        assert hasattr(sqlorch, name), name


def _memory(**overrides) -> dict:
    return {"warehouse": None, "log_dir": None, **overrides}


def test_two_strategies_half_and_half_add_up_at_every_bar() -> None:
    config = OrchestratorConfig(**_memory(commission_bps=5.0, slippage_bps=2.0))
    result = StrategyOrchestrator([(SMACross(fast=5, slow=20), Decimal("0.5")),
                                   (Momentum(lookback=10), Decimal("0.5"))], config).run(BARS)
    assert set(result.strategy_results) == {"sma_cross", "momentum"}
    for sleeve in result.strategy_results.values():
        assert sleeve.fills.height > 0, f"{sleeve.strategy_id} never traded"
    sleeves = [r.equity_curve["equity"] for r in result.strategy_results.values()]
    total = sleeves[0] + sleeves[1]  # no unallocated cash at 50/50
    assert (result.equity_curve["equity"] - total).abs().max() == 0
    assert result.final_equity == sum(r.final_equity for r in result.strategy_results.values())


def test_unallocated_cash_is_part_of_the_portfolio() -> None:
    result = StrategyOrchestrator([(BuyAndHold(), Decimal("0.3")), (RSIStrategy(), Decimal("0.45"))],
                                  OrchestratorConfig(**_memory())).run(BARS)
    unallocated = Decimal("25000")
    sleeves = sum(r.equity_curve["equity"] for r in result.strategy_results.values())
    assert ((result.equity_curve["equity"] - sleeves) == unallocated).all()
    cash = sum(r.equity_curve["cash"] for r in result.strategy_results.values())
    assert ((result.equity_curve["cash"] - cash) == unallocated).all()


class Only:
    """Wraps a strategy so that it trades only `symbols` (sleeves that never meet)."""

    def __init__(self, strategy, symbols: set[str]) -> None:
        self.strategy, self.symbols = strategy, symbols
        self.name = type(strategy).__name__.lower()
        self.features = getattr(strategy, "features", ())  # what the wrapped strategy reads

    def on_start(self, ctx: BarContext) -> None:
        if hasattr(self.strategy, "on_start"):
            self.strategy.on_start(ctx)

    def on_bar(self, ctx: BarContext) -> list[Signal]:
        return [s for s in self.strategy.on_bar(ctx) or [] if s.symbol in self.symbols]


LINE_UP = [(SMACross, {"fast": 5, "slow": 15}, Decimal("0.4")), (DonchianBreakout, {"period": 10}, Decimal("0.35")),
           (RSIStrategy, {"period": 7}, Decimal("0.25"))]
SYMBOLS = sorted(BARS["symbol"].unique())


@pytest.mark.parametrize("costs, apart", [
    ({}, False),  # without costs, even sleeves trading the same symbols stay independent (netting is free)
    ({"commission_bps": 10.0, "commission_per_order": "1.5", "slippage_bps": 5.0}, True),
])
def test_each_sleeve_equals_a_standalone_engine_run(costs: dict, apart: bool) -> None:
    def make(k: int):
        cls, params, _ = LINE_UP[k]
        return Only(cls(**params), {SYMBOLS[k]} if apart else set(SYMBOLS))

    total = Decimal("250000")
    orchestrated = StrategyOrchestrator(
        [(make(k), weight) for k, (_, _, weight) in enumerate(LINE_UP)],
        OrchestratorConfig(initial_capital=total, **costs, **_memory())).run(BARS)
    assert sum(r.fills.height for r in orchestrated.strategy_results.values()) > 30
    for k, ((_, _, weight), sleeve) in enumerate(zip(LINE_UP, orchestrated.strategy_results.values())):
        alone = BacktestEngine(make(k), BacktestConfig(initial_capital=total * weight, **costs, **_memory())).run(BARS)
        assert alone.fills.drop("strategy_id", "order_id").equals(sleeve.fills.drop("strategy_id", "order_id"))
        assert alone.equity_curve.equals(sleeve.equity_curve)
        assert alone.final_equity == sleeve.final_equity
        assert alone.metrics == sleeve.metrics


class BuyEverything:
    """Asks for every symbol at full weight on every bar, until bar `stop`; then exits all."""

    name = "greedy"

    def __init__(self, stop: int) -> None:
        self.stop = stop

    def on_bar(self, ctx: BarContext) -> list[Signal]:
        if ctx.t >= self.stop:
            return [Signal.exit(s) for s in ctx.symbols]
        return [Signal.buy(s, 1.0) for s in ctx.symbols]


def test_a_greedy_sleeve_never_holds_more_than_it_can_pay(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    config = OrchestratorConfig(warehouse=str(path), log_dir=str(tmp_path / "logs"), commission_bps=2.0)
    result = StrategyOrchestrator([(BuyEverything(stop=100), Decimal("0.3")), (BuyAndHold(), Decimal("0.3"))],
                                  config).run(BARS)
    greedy = result.allocations["greedy"]
    assert greedy.initial_capital == Decimal("30000")
    history = greedy.history
    assert (history["used_capital"] <= history["allocated_capital"]).all()
    assert (history["available_capital"] >= 0).all()
    assert (result.strategy_results["greedy"].equity_curve["cash"] >= 0).all()
    # it ran out of cash and was told so
    with duckdb.connect(str(path), read_only=True) as con:
        hits = con.execute("SELECT payload FROM events WHERE run_id = ? AND event = 'orchestrator.capital_limit_hit'",
                           [result.run_id]).fetchall()
        limited = con.execute("SELECT count(*) FROM decisions WHERE run_id = ? AND strategy_id = 'greedy' "
                              "AND kind IN ('clipped', 'rejected')", [result.run_id]).fetchall()[0][0]
    assert hits and limited == len(hits)
    first = json.loads(hits[0][0])
    assert first["strategy_id"] == "greedy"
    assert {"used_capital", "allocation_limit", "rejected_signal"} <= set(first)
    assert first["allocation_limit"] <= 30000 * 1.5
    # the other sleeve is untouched by the greedy one
    assert result.allocations["buy_and_hold"].initial_capital == Decimal("30000")
    # after the exit at bar 100 the capital is available again
    at = history.row(101, named=True)
    before = history.row(99, named=True)
    assert before["used_capital"] > 0 and at["used_capital"] == 0
    assert at["available_capital"] == at["allocated_capital"] > 0


class MeanRevert:
    """A user's own strategy written only against IStrategy: buy the symbol that fell most
    over 5 bars, exit when it is up again."""

    def on_bar(self, ctx: BarContext):
        closes = ctx.window("close", 6)
        if len(closes) < 6:
            return None
        change = closes[-1] / closes[0] - 1
        worst = int(np.nanargmin(change))
        signals = [Signal.exit(s) for s, c, held in zip(ctx.symbols, change, ctx.positions) if held and c > 0]
        if change[worst] < -0.02 and ctx.position(ctx.symbols[worst]) == 0:
            signals.append(Signal.buy(ctx.symbols[worst], 0.5, reason="oversold"))
        return signals


def test_a_users_strategy_runs_in_engine_and_orchestrator() -> None:
    assert isinstance(MeanRevert(), IStrategy)
    alone = BacktestEngine(MeanRevert(), BacktestConfig(**_memory())).run(BARS)
    assert alone.strategy_id == "mean_revert" and alone.fills.height > 0
    both = StrategyOrchestrator([(MeanRevert(), Decimal("0.5")), (MeanRevert(), Decimal("0.5"))],
                                OrchestratorConfig(**_memory())).run(BARS)
    assert list(both.strategy_results) == ["mean_revert", "mean_revert_2"]
    half = BacktestEngine(MeanRevert(), BacktestConfig(initial_capital=Decimal("50000"), **_memory())).run(BARS)
    assert both.strategy_results["mean_revert_2"].equity_curve.equals(half.equity_curve)


def test_result_shapes() -> None:
    result = StrategyOrchestrator([(Momentum(), Decimal("0.6")), (BuyAndHold(), Decimal("0.4"))],
                                  OrchestratorConfig(**_memory())).run(BARS)
    lazy = {"fills", "trades", "equity_curve"}  # read from the warehouse on first use
    assert not lazy & set(vars(result)) and not lazy & set(vars(result.strategy_results["momentum"]))
    clock = BARS["ts"].unique().sort()
    assert result.equity_curve.columns == ["ts", "cash", "equity"]
    assert result.equity_curve["ts"].equals(clock.alias("ts"))
    assert result.comparison_table.columns == ["strategy_id", "weight", "total_return", "cagr", "sharpe_ratio",
                                               "sortino_ratio", "max_drawdown", "win_rate", "trade_count",
                                               "contribution", "alpha", "beta", "tracking_error",
                                               "information_ratio"]
    assert result.comparison_table["strategy_id"].to_list() == ["momentum", "buy_and_hold", "portfolio"]
    contributions = result.comparison_table["contribution"].to_list()
    assert contributions[0] + contributions[1] == pytest.approx(result.aggregate_metrics.total_return, rel=1e-9)
    each = pl.concat([r.fills for r in result.strategy_results.values()])  # all sleeves' fills are each's
    assert result.fills.height > 0
    assert result.fills.sort("order_id", "quantity").equals(each.sort("order_id", "quantity"))
    assert {"ts", "strategy_id", "symbol", "quantity", "price", "commission"} <= set(result.fills.columns)
    assert result.fills.schema["price"] == pl.Decimal(18, 6)
    trades = result.strategy_results["buy_and_hold"].trades
    assert trades.height == 4 and set(trades["status"]) == {"open"}
    assert result.allocations["momentum"].weight == Decimal("0.6")
    assert isinstance(result.final_equity, Decimal)


def test_flat_strategy_has_nan_metrics_not_errors() -> None:
    class Idle:
        def on_bar(self, ctx):
            return None

    result = BacktestEngine(Idle(), BacktestConfig(**_memory())).run(BARS)
    m = result.metrics
    assert m.total_return == 0 and m.trade_count == 0 and m.exposure == 0
    assert all(np.isnan(v) for v in (m.sharpe_ratio, m.sortino_ratio, m.win_rate, m.profit_factor, m.calmar_ratio))
    assert result.trades.is_empty()


def test_results_show_themselves_in_a_few_lines() -> None:
    """repr() of a result: the run, final equity and headline figures, a line per strategy
    (SPEC §10), not the nested objects."""
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.strategies import Momentum, SMACross

    bars = synthetic_bars(4, 1, seed=2)
    config = OrchestratorConfig(warehouse=None, log_dir=None)
    result = StrategyOrchestrator([(SMACross(), Decimal("0.5")), (Momentum(), Decimal("0.5"))], config).run(bars)
    lines = repr(result).splitlines()
    assert len(lines) == 3 and len(repr(result)) < 600
    assert lines[0].startswith(f"<OrchestratorResult run {result.run_id}: 2 strategies, final equity "
                               f"{result.final_equity:,.2f}, return ")
    assert lines[1].startswith("  sma_cross: final equity ") and "sharpe" in lines[1] and "trades" in lines[1]
    one = result.strategy_results["momentum"]
    assert repr(one) == (f"<BacktestResult run {result.run_id}: momentum, final equity {one.final_equity:,.2f}, "
                         f"return {one.metrics.total_return:.2%}, sharpe {one.metrics.sharpe_ratio:.2f}, "
                         f"max drawdown {one.metrics.max_drawdown:.2%}, {one.metrics.trade_count} trades>")


class Counting:
    """A strategy with constructor parameters and state of its own besides."""

    def __init__(self, lookback: int = 5, *, label: str = "x", name: str = "counting", **extra):
        self.lookback, self.label, self.name = lookback, label, name
        self.n = 0  # a counter, not a parameter
        self.threshold = 0.5  # an attribute no constructor argument sets
        self._seen: list = []

    def on_bar(self, ctx):
        self.n += 1


def test_the_line_up_records_only_constructor_parameters(tmp_path) -> None:
    path = str(tmp_path / "w.duckdb")
    result = BacktestEngine(Counting(lookback=7), BacktestConfig(warehouse=path, log_dir=None)).run(BARS)
    with duckdb.connect(path, read_only=True) as con:
        (params,), = con.execute("SELECT params FROM run_strategies WHERE run_id = ?", [result.run_id]).fetchall()
    assert json.loads(params) == {"lookback": 7, "label": "x"}
