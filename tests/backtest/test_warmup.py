"""Trading from `start` with warm-up bars before it (SPEC §10): features and `ctx.history` see
the bars before `start`; nothing is traded, recorded or accounted before it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sqlorch import BacktestConfig, BacktestEngine, ConfigError, OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.bars.load import load_bars
from sqlorch.engine.features import field, sma
from sqlorch.engine.rule import Rule
from sqlorch.grid.search import GridSearch
from sqlorch.strategies import BuyAndHold, SMACross

START = "2000-01-01"
FIRST = datetime(2000, 1, 3)  # the first bar at or after START (a Monday)


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    """A Yahoo file of steadily rising bars from June 1999 (150 bars before 2000) to August 2000."""
    days = pl.date_range(datetime(1999, 6, 1), datetime(2000, 8, 31), "1d", eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    close = 10.0 + 0.05 * np.arange(len(days))
    path = tmp_path_factory.mktemp("data") / "rise.csv"
    pl.DataFrame({"Date": days, "Open": close - 0.01, "High": close + 0.1, "Low": close - 0.11, "Close": close,
                  "Adj Close": close, "Volume": 1000.0}).write_csv(path)
    return path


def config(cls=BacktestConfig, **settings) -> BacktestConfig:
    return cls(**{"start": START, "fill": "close", "warehouse": None, "log_dir": None, **settings})


def closes_before_start(csv: Path) -> np.ndarray:
    bars = load_bars(csv)
    return bars.filter(pl.col("ts") < datetime(2000, 1, 1))["close"].to_numpy()


def test_sma_100_is_ready_on_the_first_bar_at_or_after_start(csv):
    for strategy in (SMACross(fast=10, slow=100), Rule(field("close") > sma(100))):
        result = BacktestEngine(strategy, config()).run(csv)
        assert result.equity_curve["ts"][0] == FIRST
        assert result.fills["ts"][0] == FIRST  # signalled at the close of the first bar, filled there
        assert result.fills["price"][0] == Decimal(str(round(10.0 + 0.05 * len(closes_before_start(csv)), 6)))


def test_warmup_zero_reveals_nothing_before_start(csv):
    late = BacktestEngine(SMACross(fast=10, slow=100), config(warmup=0)).run(csv)
    cut = BacktestEngine(SMACross(fast=10, slow=100), config(warmup=0)).run(load_bars(csv, start=START))
    clock = late.equity_curve["ts"]
    assert clock[0] == FIRST and late.fills["ts"][0] == clock[99]  # SMA(100) ready after 100 traded bars
    assert late.fills.drop("order_id").equals(cut.fills.drop("order_id"))
    assert late.equity_curve.equals(cut.equity_curve)


def test_an_explicit_number_of_warmup_bars(csv):
    result = BacktestEngine(SMACross(fast=10, slow=100), config(warmup=60)).run(csv)
    clock = result.equity_curve["ts"]
    assert clock[0] == FIRST and result.fills["ts"][0] == clock[39]  # 60 warm-up + 40 traded = 100 bars


class Recorder:
    """Buys on every call; remembers when it was called and what history it saw."""

    def __init__(self, warmup=None, name="recorder"):
        self.name = name
        if warmup is not None:
            self.warmup = warmup
        self.calls: list[tuple[datetime, int, np.ndarray]] = []
        self.bars: list[int] = []

    def on_bar(self, ctx):
        history = ctx.history(ctx.symbols[0])
        self.calls.append((ctx.ts, len(history), history))
        self.bars.append(ctx.t)
        return [Signal.buy(ctx.symbols[0], 0.5)]


def test_warmup_bars_are_never_traded_nor_recorded(csv):
    recorder = Recorder(warmup=30)
    result = BacktestEngine(recorder, config(fill="next_open")).run(csv)
    traded = load_bars(csv, start=START)
    assert recorder.calls[0][0] == FIRST and len(recorder.calls) == traded.height
    assert result.equity_curve.height == traded.height and result.equity_curve["ts"][0] == FIRST
    assert result.fills["ts"].min() > FIRST  # next open
    rows = result.warehouse.query("select bar_count, bars_processed from runs where run_id = ?", [result.run_id])
    assert rows.row(0) == (traded.height, traded.height)
    first_bar = result.warehouse.query("select min(ts) as ts, min(bar_index) as i from signals where run_id = ?",
                                       [result.run_id])
    assert first_bar.row(0) == (FIRST, 0)


def test_a_python_strategy_sees_history_before_start(csv):
    before = closes_before_start(csv)
    recorder = Recorder(warmup=30)
    BacktestEngine(recorder, config()).run(csv)
    ts, seen, history = recorder.calls[0]
    assert ts == FIRST and seen == 31
    assert recorder.bars[:3] == [0, 1, 2]  # ctx.t counts traded bars, as bar_index does
    assert len(ctx_window_at_first(csv, 30)) == 31
    np.testing.assert_array_equal(history[:30], before[-30:])
    undeclared = Recorder()  # no warmup attribute and no features: nothing before start
    BacktestEngine(undeclared, config()).run(csv)
    assert undeclared.calls[0][1] == 1


def test_auto_is_the_longest_window_of_all_the_strategies(csv):
    recorder = Recorder(warmup=30)
    orchestrator = StrategyOrchestrator([(recorder, Decimal("0.3")), (SMACross(fast=10, slow=100), Decimal("0.3")),
                                         (BuyAndHold(), Decimal("0.3"))], config(OrchestratorConfig))
    result = orchestrator.run(csv)
    assert recorder.calls[0][1] == 100  # SMA(100) needs 99 bars before the first traded one
    assert result.equity_curve["ts"][0] == FIRST
    for sid in ("sma_cross", "buy_and_hold"):  # buy and hold buys at its first traded bar, not in the warm-up
        assert result.strategy_results[sid].fills["ts"][0] == FIRST
    told = config(OrchestratorConfig, warmup=10)
    recorder = Recorder(warmup=30)
    StrategyOrchestrator([(recorder, Decimal("0.5")), (SMACross(fast=10, slow=100), Decimal("0.5"))], told).run(csv)
    assert recorder.calls[0][1] == 11  # a number overrides every strategy's own


def test_a_bad_warmup_attribute_is_a_config_error_with_the_others(csv):
    bad = Recorder(warmup=-3)
    with pytest.raises(ConfigError) as info:
        StrategyOrchestrator([(bad, Decimal("0.5")), (Recorder(name="other"), Decimal("0.7"))],
                             config(OrchestratorConfig)).run(csv)
    problems = info.value.problems
    assert any("recorder" in p and "warmup must be a whole number of bars >= 0" in p for p in problems)
    assert any("weights add up to 1.2" in p for p in problems)


def test_grid_combinations_are_warmed_like_backtests(csv):
    grid = GridSearch(SMACross, {"fast": [5, 10], "slow": [60, 100]}, config(), workers=1).run(csv)
    table = grid.table.sort("fast", "slow")
    for row in table.iter_rows(named=True):
        alone = BacktestEngine(SMACross(fast=row["fast"], slow=row["slow"]), config(warmup=99)).run(csv)
        assert row["status"] == "completed" and row["final_equity"] == alone.final_equity
        assert row["trade_count"] == alone.metrics.trade_count
    cold = GridSearch(SMACross, {"fast": [10], "slow": [100]}, config(warmup=0), workers=1).run(csv)
    warm = table.filter((pl.col("fast") == 10) & (pl.col("slow") == 100))
    assert cold.table["final_equity"][0] != warm["final_equity"][0]
    facts = grid.warehouse.query("select bar_count from grid_runs where run_id = ?", [grid.run_id])
    assert facts["bar_count"][0] == load_bars(csv, start=START).height


def ctx_window_at_first(csv: Path, warmup: int) -> np.ndarray:
    """What ctx.window("close", 1000) holds at the first traded bar."""
    seen = []

    class Window:
        def on_bar(self, ctx):
            if not seen:
                seen.append(ctx.window("close", 1000))

    Window.warmup = warmup
    BacktestEngine(Window(), config()).run(csv)
    return seen[0]


def test_rules_decide_after_warmup_as_the_same_rules_in_python():
    """The built-ins side by side from a start with warm-up, compiled and decided in Python: the
    same signals and fills (the wake schedule and first_bar treat the first traded bar as the
    first bar in both)."""
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.engine.stepper import compiled
    from sqlorch.strategies import DonchianBreakout, Momentum, RSIStrategy

    def in_python(rule):
        base = type(rule)
        python = type(f"{base.__name__}InPython", (base,), {"on_bar": lambda self, ctx: base.on_bar(self, ctx),
                                                              "label": property(lambda self, label=rule.label: label)})
        copy = object.__new__(python)
        copy.__dict__.update(rule.__dict__)  # its name too
        assert compiled(rule) and not compiled(copy)
        return copy

    line_up = [BuyAndHold(), SMACross(5, 20), Momentum(10), RSIStrategy(7, 40, 60), DonchianBreakout(10)]
    for k, rule in enumerate(line_up):
        rule.name = f"s{k}"
    bars = synthetic_bars(6, 2, seed=11)
    start = bars["ts"].unique().sort()[300]
    cfg = OrchestratorConfig(start=start, warehouse=None, log_dir=None)
    weights = [Decimal("0.2")] * 5
    runs = [StrategyOrchestrator(list(zip(strategies, weights)), cfg).run(bars)
            for strategies in (line_up, [in_python(rule) for rule in line_up])]
    query = "SELECT strategy_id, bar_index, symbol, side, reason FROM signals WHERE run_id = ? ORDER BY ALL"
    signals = [r.strategy_results["s0"].warehouse.query(query, [r.run_id]).rows() for r in runs]
    assert signals[0] == signals[1] and len(signals[0]) > 50
    assert min(row[1] for row in signals[0]) == 0  # buy and hold (at least) signals on the first traded bar
    assert runs[0].fills.drop("order_id").equals(runs[1].fills.drop("order_id"))
    assert runs[0].equity_curve["ts"][0] == start
