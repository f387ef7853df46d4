"""Results in a notebook: `_repr_html_` shows the comparison table and the equity chart (a
grid: its best combinations and heatmap), escaped and self-contained; `report(path=None)`
writes the report and returns its path."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from sqlorch import BacktestConfig, BacktestEngine, GridSearch, OrchestratorConfig, StrategyOrchestrator
from sqlorch.backtest.results import PRESENTERS
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.errors import SqlorchError
from sqlorch.report.filters import num, pct
from sqlorch.report.run import is_report
from sqlorch.strategies import BuyAndHold, Momentum, SMACross

BARS = synthetic_bars(symbols=3, years=1, seed=5)


class Hostile(Momentum):
    name = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("notebook")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None)
    return StrategyOrchestrator([(BuyAndHold(), Decimal("0.5")), (Hostile(lookback=10), Decimal("0.5"))],
                                config).run(BARS)


def _rows(page: str) -> dict[str, list[str]]:
    """The comparison table's cells by strategy (tags stripped)."""
    rows = {}
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_package_wires_the_presenters() -> None:
    assert set(PRESENTERS) == {"html", "report"}


def test_an_orchestrated_result_shows_its_comparison_and_equity_chart(run) -> None:
    page = run._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    rows = _rows(page)
    comparison = {r["strategy_id"]: r for r in run.comparison_table.iter_rows(named=True)}
    assert set(rows) == {"buy_and_hold", "&lt;script&gt;alert(1)&lt;/script&gt;", "portfolio"}
    portfolio = comparison["portfolio"]
    assert rows["portfolio"][:4] == [pct(portfolio["weight"]), pct(portfolio["total_return"]),
                                     pct(portfolio["cagr"]), num(portfolio["sharpe_ratio"])]
    assert rows["portfolio"][-1] == str(portfolio["trade_count"])
    svg = re.findall(r"<svg[^>]*aria-label=\"([^\"]+)\"", page)
    assert svg == ["Return on starting capital"]
    assert page.count("<path d=") == 3  # two sleeves and the portfolio
    assert page.startswith('<div class="sqlorch-result">') and ".sqlorch-result " in page  # CSS scoped to it


def test_a_sleeve_shows_its_own_row_and_curve(run) -> None:
    page = run.strategy_results["buy_and_hold"]._repr_html_()
    assert list(_rows(page)) == ["buy_and_hold"] and page.count("<path d=") == 1
    assert f"Sleeve buy_and_hold of run {run.run_id}" in page


def test_report_writes_the_html_report_where_asked_or_under_reports(run, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = run.report()
    assert default == Path("reports") / f"{run.run_id}.html" and is_report(default)
    assert "<h2>Comparison</h2>" in default.read_text()
    assert run.report(default) == default  # a report may be replaced
    markdown = run.strategy_results["buy_and_hold"].report(tmp_path / "out" / "run.md")
    assert markdown.read_text().startswith(f"# sqlorch run {run.run_id}")  # a sleeve writes its run's report
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    with pytest.raises(SqlorchError, match="not a sqlorch report"):
        run.report(mine)
    assert mine.read_text() == "my notes"
    with pytest.raises(SqlorchError, match=r"cannot tell the format of run\.pdf") as caught:
        run.report("run.pdf")
    assert "--format" not in str(caught.value)


def test_a_backtest_in_memory_shows_itself_too(tmp_path) -> None:
    result = BacktestEngine(SMACross(fast=5, slow=20), BacktestConfig(warehouse=None, log_dir=None)).run(BARS)
    assert list(_rows(result._repr_html_())) == ["sma_cross"]
    assert is_report(result.report(tmp_path / "r.html"))


def test_a_grid_shows_its_best_combinations_and_heatmap(tmp_path) -> None:
    grid = GridSearch(SMACross, {"fast": [3, 5, 8], "slow": [20, 40]},
                      BacktestConfig(warehouse=str(tmp_path / "g.duckdb"), log_dir=None), workers=1).run(BARS)
    page = grid._repr_html_()
    rows = [r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S) if "<td" in r]
    assert len(rows) == 5  # the top 5 of 6
    best = grid.table.filter(grid.table["rank"] == 1).row(0, named=True)
    first = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0], re.S)]
    assert first[:4] == ["1", str(best["fast"]), str(best["slow"]), num(best["sharpe_ratio"])]
    assert 'aria-label="sharpe_ratio of sma_cross by fast and slow"' in page
    assert f"deflated Sharpe ratio {num(grid.deflated_sharpe_ratio, 3)} over\n  6 trials" in page
    path = grid.report(tmp_path / "grid.md")
    assert path.read_text().startswith(f"# sqlorch grid {grid.run_id}")
