"""A benchmark and a risk-free rate (SPEC §10): alpha, beta, tracking error, information
ratio, and Sharpe and Sortino net of the risk-free rate, against numbers worked out
independently.

The run: tests/golden/two_symbols.csv (AAA and BBB, 20 daily bars), two sleeves of 10000 that
each buy 0.9 of their equity in one symbol at the first close (AAA: floor(9000 / 50.00) = 180
shares filled at the next open 50.20; BBB: floor(9000 / 80.00) = 112 at 80.10) and hold, no
costs, risk_free_rate 0.03 a year, 252 bars a year. The benchmark is tests/golden/IDX.csv (a
file of its own: its first close is on the third bar, it has no bar on 2024-01-16 and one after
the run's last bar), or BBB (a symbol of the data).

How the literals were obtained: a throwaway script (not in the repository) built the equity
curves by hand from the CSV files (cash + shares x close), put the benchmark on the clock (its
last close at or before each bar, NaN before its first) and called empyrical-reloaded 0.7.1:
alpha_beta(r, b, risk_free=rf, annualization=252), sharpe_ratio(r, risk_free=rf, ...),
sortino_ratio(r, required_return=rf, ...), excess_sharpe(r, b) x sqrt(252), with
rf = 1.03^(1/252) - 1; tracking error = std(r - b, ddof=1) x sqrt(252) (empyrical has none).
The same script checked that empyrical's figures equal the formulas of docs/reports.md to 1e-12.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.backtest.results import BENCHMARK_METRICS, METRIC_NAMES
from sqlorch.errors import ConfigError
from sqlorch.money import isclose

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
BARS = str(GOLDEN / "two_symbols.csv")

EXPECTED = {
    ("hold_aaa", "IDX"): dict(alpha=0.38496339669577484, beta=2.2340525089538406, tracking_error=0.20288367223978485,
                              information_ratio=3.6158915496253137, sharpe_ratio=4.939561009917036,
                              sortino_ratio=8.604350894215106),
    ("hold_bbb", "IDX"): dict(alpha=0.1504590024527186, beta=0.3235987794216495, tracking_error=0.22337544966742612,
                              information_ratio=-0.37281442649915736, sharpe_ratio=-0.7769777295160049,
                              sortino_ratio=-1.1307692001470495),
    ("portfolio", "IDX"): dict(alpha=0.24333823249958075, beta=1.3285923293040212, tracking_error=0.1243571455459865,
                               information_ratio=2.6251673575419674, sharpe_ratio=3.297136355413027,
                               sortino_ratio=5.758465860870475),
    ("hold_aaa", "BBB"): dict(alpha=2.290121046907207, beta=-0.09861804044382264, tracking_error=0.36334068450243445,
                              information_ratio=3.793169277602029, sharpe_ratio=4.939561009917036,
                              sortino_ratio=8.604350894215106),
    ("hold_bbb", "BBB"): dict(alpha=-0.020110821565156423, beta=0.8974813866477538,
                              tracking_error=0.025464667738636856, information_ratio=-0.12177638938265371,
                              sharpe_ratio=-0.7769777295160049, sortino_ratio=-1.1307692001470495),
    ("portfolio", "BBB"): dict(alpha=0.79604709513199, beta=0.37847674556887406, tracking_error=0.19936539431257114,
                               information_ratio=3.4641396748219697, sharpe_ratio=3.297136355413027,
                               sortino_ratio=5.758465860870475),
}


class Hold:
    """Buys `symbol` with 0.9 of the sleeve at the first close, then holds."""

    def __init__(self, symbol: str):
        self.symbol, self.name, self.started = symbol, f"hold_{symbol.lower()}", False

    def on_bar(self, ctx):
        if not self.started:
            self.started = True
            return [Signal.buy(self.symbol, 0.9)]
        return None


def run(**settings):
    config = OrchestratorConfig(initial_capital=Decimal(20000), warehouse=None, log_dir=None, risk_free_rate=0.03,
                                **settings)
    return StrategyOrchestrator([(Hold("AAA"), Decimal("0.5")), (Hold("BBB"), Decimal("0.5"))], config).run(BARS)


def figures(metrics) -> dict[str, float]:
    return {name: getattr(metrics, name) for name in EXPECTED[("portfolio", "IDX")]}


@pytest.mark.parametrize("benchmark", ["IDX", "BBB"])
def test_metrics_against_a_benchmark_equal_empyrical(benchmark: str) -> None:
    result = run(**({"benchmark_path": str(GOLDEN / "IDX.csv")} if benchmark == "IDX" else {"benchmark": "BBB"}))
    # the curves the expected numbers were computed from (cash + shares x close)
    assert result.strategy_results["hold_aaa"].final_equity == Decimal("10954")
    assert result.strategy_results["hold_bbb"].final_equity == Decimal("9876.8")
    series = {**{sid: r.metrics for sid, r in result.strategy_results.items()}, "portfolio": result.aggregate_metrics}
    for sid, metrics in series.items():
        got, expected = figures(metrics), EXPECTED[(sid, benchmark)]
        assert all(isclose(got[k], expected[k]) for k in expected), (sid, got, expected)
    table = result.comparison_table
    assert table["strategy_id"].to_list() == ["hold_aaa", "hold_bbb", "portfolio"]
    for row in table.iter_rows(named=True):
        expected = EXPECTED[(row["strategy_id"], benchmark)]
        assert all(isclose(row[k], expected[k]) for k in BENCHMARK_METRICS)


def test_the_portfolio_is_measured_on_its_own_curve() -> None:
    """The portfolio's figures come from the summed curve, not from the sleeves' figures."""
    result = run(benchmark_path=str(GOLDEN / "IDX.csv"))
    portfolio = figures(result.aggregate_metrics)
    sleeves = [figures(r.metrics) for r in result.strategy_results.values()]
    for name in ("alpha", "tracking_error", "information_ratio"):
        average = sum(s[name] for s in sleeves) / 2
        assert not isclose(portfolio[name], average), name
        assert isclose(portfolio[name], EXPECTED[("portfolio", "IDX")][name])


def test_the_benchmark_is_stored_on_the_clock_and_not_traded() -> None:
    result = run(benchmark_path=str(GOLDEN / "IDX.csv"))
    stored = result.warehouse.query("SELECT bar_index, symbol, close::DOUBLE AS close FROM benchmarks "
                                    "WHERE run_id = ? ORDER BY bar_index", [result.run_id])
    assert stored.height == 20 and set(stored["symbol"]) == {"IDX"}
    closes = stored["close"].to_list()
    assert closes[:3] == [None, None, 4000.0]  # none before its first close
    assert closes[9:11] == [4071.3, 4071.3]  # no bar on 2024-01-16: the last close carried
    assert closes[-1] == 4097.3  # its bar after the run's end is not used
    assert set(result.fills["symbol"]) == {"AAA", "BBB"}


def test_without_a_benchmark_its_metrics_are_nan_and_the_rate_still_counts() -> None:
    result = run()
    metrics = result.aggregate_metrics
    assert all(math.isnan(getattr(metrics, name)) for name in BENCHMARK_METRICS)
    assert isclose(metrics.sharpe_ratio, EXPECTED[("portfolio", "IDX")]["sharpe_ratio"])
    assert isclose(metrics.sortino_ratio, EXPECTED[("portfolio", "IDX")]["sortino_ratio"])
    assert result.comparison_table["alpha"].null_count() == 3
    assert METRIC_NAMES[-4:] == BENCHMARK_METRICS


def test_a_zero_rate_gives_the_metrics_of_before() -> None:
    """risk_free_rate 0 leaves Sharpe and Sortino as they were: mean / std x sqrt(252)."""
    config = BacktestConfig(warehouse=None, log_dir=None)
    metrics = BacktestEngine(Hold("AAA"), config).run(BARS).metrics
    with_rate = BacktestEngine(Hold("AAA"), BacktestConfig(warehouse=None, log_dir=None, risk_free_rate=0.03)).run(
        BARS).metrics
    assert metrics.sharpe_ratio > with_rate.sharpe_ratio and metrics.total_return == with_rate.total_return


def test_an_unknown_benchmark_symbol_names_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        run(benchmark="BBC")
    assert info.value.problems == ["benchmark: unknown symbol 'BBC' (did you mean 'BBB'?); the benchmark must be a "
                                   "symbol of the data, or give benchmark_path"]


@pytest.mark.parametrize("sql_metrics", [False, True])
def test_a_grid_combination_carries_the_figures_of_its_own_backtest(sql_metrics: bool) -> None:
    """Grid combinations are measured against the same benchmark and rate, numpy or SQL."""
    from sqlorch import GridSearch

    config = BacktestConfig(initial_capital=Decimal(10000), warehouse=None, log_dir=None, risk_free_rate=0.03,
                            benchmark_path=str(GOLDEN / "IDX.csv"))
    grid = GridSearch(Hold, {"symbol": ["AAA", "BBB"]}, config, workers=1, sql_metrics=sql_metrics).run(BARS)
    rows = {row["symbol"]: row for row in grid.table.iter_rows(named=True)}
    for symbol in ("AAA", "BBB"):
        expected = EXPECTED[(f"hold_{symbol.lower()}", "IDX")]
        assert all(isclose(rows[symbol][k], expected[k]) for k in expected), (symbol, rows[symbol])
