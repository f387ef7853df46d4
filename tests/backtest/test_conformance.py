"""Conformance (issue 22): one engine, one definition of each metric.

- The same randomly drawn strategy and configuration give identical fills, metrics and final
  equity as a single-strategy backtest, as a sleeve of an orchestrated run (beside another
  strategy on other symbols: they never meet) and as a grid combination (an isolated sleeve).
- The numpy metrics a grid ranks by (sqlorch.backtest.metrics) equal the warehouse's SQL
  metrics (sql/load/metrics.sql) to within FLOAT_TOLERANCE on randomly drawn runs.
"""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from test_properties import Scripted, configs, examples, markets, scripts

from sqlorch import BacktestConfig, BacktestEngine, GridSearch, OrchestratorConfig, StrategyOrchestrator
from sqlorch.backtest.metrics import equity_curves, sleeve_metrics, trade_stats
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import MARK, Panel
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper
from sqlorch.money import MICRO, isclose


class Played(Scripted):
    """A scripted strategy whose script is one text parameter ("bar side symbol weight;..."), so
    that a grid search can take it as a parameter value."""

    def __init__(self, plan: str = ""):
        steps = [step.split() for step in plan.split(";") if step]
        super().__init__("played", [(int(t), side, symbol, float(weight)) for t, side, symbol, weight in steps])
        self.params = {"plan": plan}


def plan_text(script: list[tuple]) -> str:
    return ";".join(f"{t} {side} {symbol} {weight!r}" for t, side, symbol, weight in script)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or isclose(a, b)


def fills_of(result) -> list[tuple]:
    return result.fills.select("ts", "symbol", "quantity", "price", "commission").rows()


@st.composite
def lone_cases(draw):
    """A market of two symbols or more, one strategy's script on the first half of the symbols,
    another's on the rest, and a configuration without conflicts or rebalancing."""
    market = draw(markets().filter(lambda m: len(m.symbols) >= 2))
    half = len(market.symbols) // 2
    mine = draw(scripts(len(market.clock), market.symbols[:half]))
    other = draw(scripts(len(market.clock), market.symbols[half:]))
    cfg = draw(configs())
    cfg.pop("conflict_mode")
    weight = draw(st.sampled_from([Decimal("0.5"), Decimal("0.3"), Decimal("0.7")]))
    return market, mine, other, cfg, weight


@examples(40)
@given(lone_cases())
def test_a_backtest_a_sleeve_and_a_grid_combination_agree(case) -> None:
    market, mine, other, cfg, weight = case
    bars = market.frame()
    total = cfg.pop("initial_capital")
    capital = (total * weight).quantize(Decimal("0.000001"))  # the sleeve's (weights here have few digits)
    alone = BacktestEngine(Played(plan_text(mine)), BacktestConfig(initial_capital=capital, warehouse=None,
                                                                  log_dir=None, **cfg)).run(bars)
    orchestrated = StrategyOrchestrator(
        [(Played(plan_text(mine)), weight), (Scripted("other", other), 1 - weight)],
        OrchestratorConfig(initial_capital=total, warehouse=None, log_dir=None, **cfg)).run(bars)
    sleeve = orchestrated.strategy_results["played"]
    grid = GridSearch(Played, {"plan": [plan_text(mine)]}, BacktestConfig(
        initial_capital=capital, warehouse=None, log_dir=None, **cfg), workers=1).run(bars)
    row = grid.table.row(0, named=True)

    assert fills_of(sleeve) == fills_of(alone)
    assert sleeve.final_equity == alone.final_equity == row["final_equity"]
    expected = alone.metrics.as_dict()
    assert row["status"] == "completed", row["error"]
    for name in METRIC_NAMES:
        assert same(sleeve.metrics.as_dict()[name], expected[name]), name
        assert same(row[name], expected[name]), (name, row[name], expected[name])


@st.composite
def runs(draw):
    market = draw(markets())
    n = draw(st.integers(1, 3))
    plans = [draw(scripts(len(market.clock), market.symbols)) for _ in range(n)]
    cfg = draw(configs())
    cfg.pop("conflict_mode")
    return market, plans, cfg


@examples(60)
@given(runs())
def test_the_numpy_metrics_equal_the_sql_metrics(case) -> None:
    """Each strategy alone, its metrics from SQL (a backtest into an in-memory warehouse) and
    from numpy over the same engine's fills."""
    market, plans, cfg = case
    config = BacktestConfig(warehouse=None, log_dir=None, **cfg)
    bars = load_bars(market.frame())
    panel = Panel.from_bars(bars)
    for plan in plans:
        sql = BacktestEngine(Scripted("s", plan), config).run(bars)
        capital = int(config.initial_capital * MICRO)
        outcome = Stepper(panel, [("s", Scripted("s", plan))], [config.initial_capital], [Decimal(1)],
                          config.engine_settings(), EventLog("test", "backtest")).run()
        fills = outcome.records.rows_of("fills")
        equity, held = equity_curves(panel.data[:, MARK], fills, [capital])
        (values,) = sleeve_metrics(equity, held, [capital], trade_stats(fills, [capital]), periods_per_year=252)
        expected = sql.metrics.as_dict()
        for name, value in zip(METRIC_NAMES, values):
            assert same(float(value), float(expected[name])), (name, value, expected[name])
        # (the result's curve is DECIMAL(38, 6): within half a micro unit of the exact amount)
        assert all(abs(float(a) - b) <= 5e-7 or isclose(float(a), b) for a, b in zip(sql.equity_curve["equity"],
                                                                                    equity[:, 0]))


def test_the_checks_can_fail() -> None:
    """The comparisons above notice a difference: a metric moved by more than the tolerance."""
    assert not same(1.0, 1.0 + 1e-6) and same(1.0, 1.0 + 1e-12) and same(math.nan, math.nan)
    assert not same(math.nan, 0.0)
