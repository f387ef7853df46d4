"""Conformance (issue 22): one engine, one definition of each metric.

- The same randomly drawn strategy and configuration give identical fills, metrics and final
  equity as a single-strategy backtest, as a sleeve of an orchestrated run (beside another
  strategy on other symbols: they never meet) and as a grid combination (an isolated sleeve).
- A `Rule`, decided in compiled code, gives the same signals, decisions and fills as the same
  rule decided by Python (`on_bar` called by the engine): alone, as the five built-ins side by
  side, and in an orchestrated run that mixes Rules with Python strategies on shared symbols.
- The numpy metrics a grid ranks by (sqlorch.backtest.metrics) equal the warehouse's SQL
  metrics (sql/load/metrics.sql) to within FLOAT_TOLERANCE on randomly drawn runs.
"""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from test_properties import Scripted, configs, examples, markets, scripts

from sqlorch import BacktestConfig, BacktestEngine, GridSearch, OrchestratorConfig, Rule, StrategyOrchestrator
from sqlorch.backtest.benchmark import benchmark_of
from sqlorch.backtest.metrics import equity_curves, sleeve_metrics, trade_stats
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import MARK, Panel
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper, compiled
from sqlorch.engine.strategy import own_id
from sqlorch.features import change, field, first_bar, highest, lowest, rsi, sma
from sqlorch.money import MICRO, isclose
from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross


class Played(Scripted):
    """A scripted strategy whose script is one text parameter ("bar side symbol weight;..."), so
    that a grid search can take it as a parameter value."""

    def __init__(self, plan: str = ""):
        steps = [step.split() for step in plan.split(";") if step]
        super().__init__("played", [(int(t), side, symbol, float(weight)) for t, side, symbol, weight in steps])
        self.params = {"plan": plan}


def plan_text(script: list[tuple]) -> str:
    return ";".join(f"{t} {side} {symbol} {weight!r}" for t, side, symbol, weight in script)


ILL_CONDITIONED = 1e6
"""A Sharpe or Sortino ratio beyond this divides by a deviation of returns of about 1e-11, a
sub-cent move of the equity: there the last bit of an equity (DuckDB's DECIMAL to DOUBLE against
numpy's exact sum made a float once) moves the ratio by up to 1e-4 of itself."""


TINY_DRAWDOWN = 1e-9
"""A Calmar ratio over a drawdown below this (a sub-cent dip) divides the CAGR, itself
(E_last / E_first)^(ppy / n) - 1 with the power's last bit about 1e-16, by a number as small:
DuckDB's pow against numpy's moves such a ratio by up to 1e-5 of itself. It is compared as the
CAGR it is made of, Calmar x |max drawdown|."""


def same(a: float, b: float) -> bool:
    if abs(a) > ILL_CONDITIONED and abs(b) > ILL_CONDITIONED and (a > 0) == (b > 0):
        return math.isclose(a, b, rel_tol=1e-3)
    return (math.isnan(a) and math.isnan(b)) or a == b or isclose(a, b)


def same_metric(name: str, got: dict, expected: dict) -> bool:
    """`same` for metric `name` of two metric rows, the Calmar ratio over a tiny drawdown as
    its CAGR (see TINY_DRAWDOWN)."""
    drawdown = abs(expected["max_drawdown"])
    if name == "calmar_ratio" and drawdown < TINY_DRAWDOWN and not math.isnan(drawdown):
        return same(got[name] * drawdown, expected[name] * drawdown)
    return same(got[name], expected[name])


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
        assert same_metric(name, sleeve.metrics.as_dict(), expected), name
        assert same_metric(name, row, expected), (name, row[name], expected[name])


def in_python(rule: Rule) -> Rule:
    """The same rule decided in Python: a copy whose class overrides `on_bar` (calling the rule's
    own), so the engine calls it bar by bar; same id, same reasons."""
    base = type(rule)
    label, strategy_id = rule.label, own_id(rule)
    python = type(f"{base.__name__}InPython", (base,), {"on_bar": lambda self, ctx: base.on_bar(self, ctx),
                                                          "label": property(lambda self: label)})
    copy = object.__new__(python)
    copy.__dict__.update(rule.__dict__, name=strategy_id)
    assert compiled(rule) and not compiled(copy)
    return copy


def decided(result) -> dict[str, list[tuple]]:
    """What an engine run decided, table by table, in the warehouse's words."""
    con = result.warehouse  # (a Warehouse: its query returns a polars frame)
    tables = {"signals": "SELECT strategy_id, bar_index, symbol, side, weight, reason, target_quantity FROM signals "
                         "WHERE run_id = ?",
              "decisions": "SELECT strategy_id, symbol, decided_bar, resolved_bar, requested_quantity, "
                           "filled_quantity, kind, reason FROM decisions WHERE run_id = ?",
              "fills": "SELECT strategy_id, bar_index, symbol, quantity, price, commission, realized_pnl FROM fills "
                       "WHERE run_id = ?",
              "conflicts": "SELECT bar_index, symbol, strategies, standing, outcome FROM conflicts WHERE run_id = ?"}
    return {name: sorted(con.query(sql, [result.run_id]).rows(), key=repr) for name, sql in tables.items()}


CONDITIONS = {  # (entry, exit) from two window lengths a < b
    "sma cross": lambda a, b: (sma(a) > sma(b), sma(a) < sma(b)),
    "momentum": lambda a, b: (change(a) > 0, change(b) <= 0),
    "rsi": lambda a, b: (rsi(a) < 45, rsi(a) > 55),
    "breakout": lambda a, b: (field("close") > highest(a, lag=1), field("close") < lowest(b, lag=1)),
    "first bar": lambda a, b: (first_bar(), None),
    "open above close": lambda a, b: (field("open") > field("close"), (field("close") > sma(a)) | ~(sma(b) > 0)),
}


@st.composite
def rule_cases(draw):
    """A market, a Rule drawn from the features (with or without an exit, long or short, equal
    or fixed weight) and a configuration."""
    market = draw(markets(max_bars=60))
    a = draw(st.integers(1, 5))
    b = draw(st.integers(a + 1, 9))
    entry, exit_ = CONDITIONS[draw(st.sampled_from(sorted(CONDITIONS)))](a, b)
    if exit_ is not None and draw(st.booleans()):
        exit_ = None
    rule = Rule(entry, exit_, weight=draw(st.sampled_from(["equal", 0.3, 1.0, 0.0, 0.45])),
                side=draw(st.sampled_from(["long", "short"])), name="rule")
    cfg = draw(configs())
    cfg.pop("conflict_mode")
    return market, rule, cfg


@examples(60)
@given(rule_cases())
def test_a_rule_decides_as_the_same_rule_in_python(case) -> None:
    market, rule, cfg = case
    bars = market.frame()
    config = BacktestConfig(warehouse=None, log_dir=None, **cfg)
    engine, python = (BacktestEngine(strategy, config).run(bars) for strategy in (rule, in_python(rule)))
    assert decided(engine) == decided(python)
    assert engine.final_equity == python.final_equity


LINE_UP = (BuyAndHold(), SMACross(5, 20), Momentum(10), RSIStrategy(7, 40, 60), DonchianBreakout(10))


def test_the_five_builtins_decide_as_in_python() -> None:
    """The built-ins side by side in one orchestrated run, compiled and in Python: the same
    signals, decisions, fills and conflicts on two years of eight symbols."""
    bars = synthetic_bars(8, 2, seed=3)
    config = OrchestratorConfig(warehouse=None, log_dir=None, conflict_mode="net_signal")
    weights = [Decimal("0.2")] * 5
    engine = StrategyOrchestrator(list(zip(LINE_UP, weights)), config).run(bars)
    python = StrategyOrchestrator([(in_python(rule), w) for rule, w in zip(LINE_UP, weights)], config).run(bars)
    expected = decided(engine)
    assert len(expected["fills"]) > 100 and expected["conflicts"]
    assert decided(python) == expected
    assert {s: r.final_equity for s, r in engine.strategy_results.items()} == \
        {s: r.final_equity for s, r in python.strategy_results.items()}


@st.composite
def mixed_cases(draw):
    """Rules and scripted Python strategies trading the same symbols, in every conflict mode,
    with and without rebalancing."""
    market = draw(markets(max_bars=50))
    rules = [Rule(*CONDITIONS[kind](a, a + 3), name=f"rule_{k}")
             for k, (kind, a) in enumerate(draw(st.lists(st.tuples(st.sampled_from(sorted(CONDITIONS)),
                                                                   st.integers(1, 4)), min_size=1, max_size=3)))]
    scripted = [Scripted(f"script_{k}", draw(scripts(len(market.clock), market.symbols)))
                for k in range(draw(st.integers(1, 2)))]
    strategies = draw(st.permutations(rules + scripted))
    cfg = draw(configs())
    cfg["rebalance_threshold"] = draw(st.sampled_from([None, 0.05]))
    return market, strategies, cfg


@examples(40)
@given(mixed_cases())
def test_rules_and_python_strategies_in_one_orchestrator(case) -> None:
    """A mix of Rules and Python strategies gives what the same line-up gives with every Rule
    decided in Python: the compiled decisions meet Python's in conflicts, netting and
    rebalancing exactly as they would among Python strategies."""
    market, strategies, cfg = case
    bars = market.frame()
    weight = Decimal(1) / len(strategies)
    config = OrchestratorConfig(warehouse=None, log_dir=None, **cfg)
    mixed = StrategyOrchestrator([(s, weight) for s in strategies], config).run(bars)
    python = StrategyOrchestrator([(in_python(s) if isinstance(s, Rule) else s, weight) for s in strategies],
                                  config).run(bars)
    assert decided(mixed) == decided(python)
    assert mixed.final_equity == python.final_equity


@st.composite
def runs(draw):
    market = draw(markets())
    n = draw(st.integers(1, 3))
    plans = [draw(scripts(len(market.clock), market.symbols)) for _ in range(n)]
    cfg = draw(configs())
    cfg.pop("conflict_mode")
    cfg["risk_free_rate"] = draw(st.sampled_from([0.0, 0.03, -0.2]))
    cfg["benchmark"] = draw(st.sampled_from([None, *market.symbols]))
    return market, plans, cfg


@examples(60)
@given(runs())
def test_the_numpy_metrics_equal_the_sql_metrics(case) -> None:
    """Each strategy alone, its metrics from SQL (a backtest into an in-memory warehouse) and
    from numpy over the same engine's fills, with and without a risk-free rate and a benchmark
    (a symbol of the data, NaN before its first bar)."""
    market, plans, cfg = case
    config = BacktestConfig(warehouse=None, log_dir=None, **cfg)
    bars = load_bars(market.frame())
    panel = Panel.from_bars(bars)
    benchmark = benchmark_of(config, panel)
    for plan in plans:
        sql = BacktestEngine(Scripted("s", plan), config).run(bars)
        capital = int(config.initial_capital * MICRO)
        outcome = Stepper(panel, [("s", Scripted("s", plan))], [config.initial_capital], [Decimal(1)],
                          config.engine_settings(), EventLog("test", "backtest")).run()
        fills = outcome.records.rows_of("fills")
        equity, held = equity_curves(panel.data[:, MARK], fills, [capital])
        (values,) = sleeve_metrics(equity, held, [capital], trade_stats(fills, [capital]), periods_per_year=252,
                                   risk_free_rate=config.risk_free_rate,
                                   benchmark=benchmark.closes if benchmark else None)
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
    # a CI case: -3.15e-11 CAGR over a 1e-12 drawdown, the two paths' powers a last bit apart
    tiny = {"max_drawdown": -9.999778782798785e-13, "calmar_ratio": -31.499944487620738}
    assert same_metric("calmar_ratio", {"calmar_ratio": -31.500055512379262}, tiny)
    assert not same_metric("calmar_ratio", {"calmar_ratio": -31.6}, {**tiny, "max_drawdown": -0.01})
