"""The report's Trades section says how trades ended (issue 26): per exit type (signal,
stop-loss, take-profit, trailing stop, rebalance, still open) the trades of every strategy, their
win rate and P&L, and each strategy's count; and how each of the best and worst trades ended.
The numbers are checked against the trades table, summed here in polars."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch import OrchestratorConfig, Rule, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.features import sma
from sqlorch.report.run import EXIT_TYPES, report_context, write_reports
from sqlorch.store.warehouse import Warehouse, frame
from sqlorch.strategies import Momentum


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> SimpleNamespace:
    """A trend Rule with a 3% stop and a 6% target beside Momentum without protective orders,
    on 4 symbols x 1 year, rendered in both formats."""
    home = tmp_path_factory.mktemp("exits")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, commission_bps=1.0)
    trend = Rule(entry=sma(5) > sma(20), exit=sma(5) < sma(20), stop_loss=0.03, take_profit=0.06, name="trend")
    result = StrategyOrchestrator([(trend, Decimal("0.5")), (Momentum(lookback=10), Decimal("0.5"))],
                                  config).run(synthetic_bars(symbols=4, years=1, seed=11))
    warehouse = Warehouse(config.warehouse)
    paths = write_reports(warehouse, result.run_id, home / "reports")
    with duckdb.connect(config.warehouse, read_only=True) as con:
        trades = frame(con, "SELECT * FROM trades WHERE run_id = ?", [result.run_id])
    return SimpleNamespace(result=result, context=report_context(warehouse, result.run_id), trades=trades,
                           html=paths["html"].read_text(), md=paths["md"].read_text())


def expected_rows(trades: pl.DataFrame) -> dict[str, dict]:
    """Per exit type: trades, wins (closed with a gain), P&L, and the count per strategy."""
    rows = {}
    for (exit_type,), part in trades.group_by("exit_type"):
        rows[exit_type] = {
            "trades": part.height,
            "wins": part.filter((pl.col("status") == "closed") & (pl.col("pnl") > 0)).height,
            "pnl": float(part["pnl"].cast(pl.Float64).sum()),
            "counts": dict(part.group_by("strategy_id").len().iter_rows()),
        }
    return rows


def test_the_run_ended_trades_every_way_the_fixture_means(run) -> None:
    by_strategy = {sid: set(part["exit_type"]) for (sid,), part in run.trades.group_by("strategy_id")}
    assert {"stop_loss", "take_profit"} <= by_strategy["trend"]
    assert by_strategy["momentum"] <= {"signal", "open"}  # no protective orders: only its own exits


def test_exit_counts_equal_the_trades_table(run) -> None:
    expected = expected_rows(run.trades)
    rows = run.context["exits"]["rows"]
    assert [r["exit_type"] for r in rows] == [e for e in EXIT_TYPES if e in expected]  # in the fixed order
    for row in rows:
        want = expected[row["exit_type"]]
        assert row["trades"] == want["trades"] and row["wins"] == want["wins"]
        assert row["pnl"] == pytest.approx(want["pnl"], rel=1e-12)
        assert {s: n for s, n in row["counts"].items() if n} == want["counts"]
        assert row["closed"] == (0 if row["exit_type"] == "open" else row["trades"])
    assert sum(r["trades"] for r in rows) == run.trades.height
    assert run.context["exits"]["strategies"] == ["trend", "momentum"]  # line-up order


def test_html_shows_each_exit_type_with_its_count_and_pnl(run) -> None:
    table = re.search(r'<table class="exits">(.*?)</table>', run.html, re.S).group(1)
    header = [unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
    assert header == ["Ended by", "Trades", "Win rate", "P&L", "trend", "momentum"]
    expected = expected_rows(run.trades)
    for exit_type, want in expected.items():
        row = re.search(rf'<tr data-exit="{exit_type}">(.*?)</tr>', table, re.S).group(1)
        cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[0] == EXIT_TYPES[exit_type]
        assert int(cells[1]) == want["trades"]
        assert float(cells[3].replace(",", "")) == pytest.approx(want["pnl"], abs=0.005)
        assert [int(c) for c in cells[4:]] == [want["counts"].get(s, 0) for s in ("trend", "momentum")]
    # the best and worst trades say how each ended
    extremes = re.findall(r'<td class="minor exit">(.*?)</td>', run.html)
    assert extremes and set(extremes) <= {label.lower() for label in EXIT_TYPES.values()}


def test_markdown_shows_the_same_table(run) -> None:
    lines = [line for line in run.md.splitlines() if line.startswith("| ")]
    assert "| ended by | trades | win rate | P&L | trend | momentum |" in lines
    for exit_type, want in expected_rows(run.trades).items():
        label = EXIT_TYPES[exit_type].lower()
        row = next(line for line in lines if line.startswith(f"| {label} | "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[1]) == want["trades"]
        assert [int(c) for c in cells[4:]] == [want["counts"].get(s, 0) for s in ("trend", "momentum")]
    assert "| strategy | symbol | entry | exit | bars | ended by | return | P&L |" in lines


def test_cli_run_with_a_stop_in_toml_reports_stop_losses(tmp_path: Path, monkeypatch) -> None:
    """End to end: a configuration whose built-in strategy has a stop, run by `sqlorch run`; the
    Markdown report it writes counts the stop-losses."""
    monkeypatch.chdir(tmp_path)
    synthetic_bars(symbols=3, years=1, seed=5).write_parquet(tmp_path / "bars.parquet")
    (tmp_path / "run.toml").write_text(textwrap.dedent("""\
        [data]
        paths = ["bars.parquet"]

        [[strategies]]
        class = "sma_cross"
        weight = "1"
        params = { fast = 5, slow = 20, stop_loss = 0.02 }
        """))
    result = CliRunner().invoke(cli, ["run", "run.toml", "--report-dir", "reports"])
    assert result.exit_code == 0, result.output
    md = next((tmp_path / "reports").glob("*.md")).read_text()
    stop_row = next(line for line in md.splitlines() if line.startswith("| stop-loss | "))
    assert int(stop_row.split("|")[2]) > 0
