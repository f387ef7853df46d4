"""The HTML and Markdown reports of a small run: their numbers equal the warehouse views, the
correlation section equals numpy, flags follow the 0.3 / 0.8 thresholds, the page is self-
contained, the orchestrator's activity is summarized (and "none" when there is none), and the
`sqlorch report` / `sqlorch run` commands write them."""

from __future__ import annotations

import html
import math
import re
import shutil
import textwrap
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Signal, StrategyError, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.report.run import render, report_context, write_reports
from sqlorch.store.warehouse import Warehouse, frame
from sqlorch.strategies import BuyAndHold, Momentum

COLUMNS = ("weight", "total_return", "cagr", "sharpe_ratio", "sortino_ratio", "max_drawdown", "win_rate",
           "trade_count", "contribution")


class Hold:
    """Buys `symbols` (equal weights) at the first bar and holds them."""

    def __init__(self, name: str, symbols: list[str]):
        self.name, self.symbols = name, symbols

    def on_bar(self, ctx):
        return [Signal.buy(s, 0.95 / len(self.symbols)) for s in self.symbols] if ctx.t == 0 else None


class Cells(HTMLParser):
    """Collects, per `<tr data-strategy>`, the cells with `data-column`; every `data-value`
    in document order; and the text of `svg text` elements."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: dict[str, dict[str, tuple[str, str]]] = {}
        self.values: list[tuple[str | None, str]] = []  # (data-value, shown text)
        self.svg_text: list[str] = []
        self._row: str | None = None
        self._cell: dict | None = None
        self._in_svg_text = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._row = a.get("data-strategy")
        if tag == "td" and "data-value" in a:
            self._cell = {"column": a.get("data-column"), "value": a["data-value"], "text": ""}
        if tag == "text":
            self._in_svg_text = True
            self.svg_text.append("")

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            cell, self._cell = self._cell, None
            self.values.append((cell["value"], cell["text"].strip()))
            if self._row is not None and cell["column"]:
                self.rows.setdefault(self._row, {})[cell["column"]] = (cell["value"], cell["text"].strip())
        if tag == "text":
            self._in_svg_text = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        if self._in_svg_text:
            self.svg_text[-1] += data


def strip_values(page: str) -> str:
    return re.sub(r' data-value="[^"]*"', "", page)


def percent(text: str) -> float:
    return float(text.rstrip("%").replace(",", "")) / 100


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> SimpleNamespace:
    """A 5-strategy run on 4 symbols x 1 year with a near-twin pair (buy_and_hold and twin) and
    two single-symbol sleeves, rendered in both formats."""
    home = tmp_path_factory.mktemp("report")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=None, commission_bps=1.0)
    symbols = ["ALFA", "BRVO", "CHRL", "DLTA"]
    strategies = [(BuyAndHold(), Decimal("0.2")), (Hold("twin", symbols), Decimal("0.2")),
                  (Momentum(lookback=10), Decimal("0.2")), (Hold("alfa", ["ALFA"]), Decimal("0.15")),
                  (Hold("brvo", ["BRVO"]), Decimal("0.15"))]
    result = StrategyOrchestrator(strategies, config).run(synthetic_bars(symbols=4, years=1, seed=11))
    paths = write_reports(Warehouse(config.warehouse), result.run_id, home / "reports")
    con = duckdb.connect(config.warehouse, read_only=True)
    comparison = frame(con, "SELECT * EXCLUDE (run_id) FROM comparison WHERE run_id = ? "
                            "ORDER BY position NULLS LAST", [result.run_id])
    con.close()
    return SimpleNamespace(result=result, config=config, home=home, comparison=comparison,
                           html=paths["html"].read_text(), md=paths["md"].read_text(), paths=paths)


def view(small, sql: str) -> pl.DataFrame:
    with duckdb.connect(small.config.warehouse, read_only=True) as con:
        return frame(con, sql, [small.result.run_id])


def test_html_comparison_table_equals_the_view(small) -> None:
    rows = Cells(small.html).rows
    assert list(rows) == ["buy_and_hold", "twin", "momentum", "alfa", "brvo", "portfolio"]
    for expected in small.comparison.iter_rows(named=True):
        shown = rows[expected["strategy_id"]]
        for column in COLUMNS:
            raw, text = shown[column]
            value = expected[column]
            if value is None:
                assert raw == "" and text == "\u2013", (expected["strategy_id"], column)
                continue
            assert same(float(raw), float(value)), (expected["strategy_id"], column, raw, value)
            if column == "trade_count":
                assert int(text) == value
            elif column in ("sharpe_ratio", "sortino_ratio"):
                assert float(text) == pytest.approx(value, abs=0.005)
            else:
                assert percent(text) == pytest.approx(value, abs=0.00005), (column, text, value)


def _md_table(md: str, heading: str) -> list[list[str]]:
    section = md.split(heading, 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    table = []
    for line in lines:
        if line.startswith("| ---") or line.startswith("| ---:"):
            continue
        table.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        if len(table) > 1 and not section.split(line, 1)[1].startswith("\n|"):
            break
    return table


def test_markdown_comparison_table_equals_the_view(small) -> None:
    header, *rows = _md_table(small.md, "## Comparison")
    assert header[0] == "strategy" and len(header) == 10
    assert [r[0] for r in rows] == small.comparison["strategy_id"].to_list()
    for cells, expected in zip(rows, small.comparison.iter_rows(named=True)):
        for text, column in zip(cells[1:], COLUMNS):
            value = expected[column]
            if value is None:
                assert text == "\u2013"
            elif column == "trade_count":
                assert int(text) == value
            elif column in ("sharpe_ratio", "sortino_ratio"):
                assert float(text) == pytest.approx(value, abs=0.005)
            else:
                assert percent(text) == pytest.approx(value, abs=0.00005), (column, text, value)


def test_contributions_add_up_in_the_report(small) -> None:
    rows = Cells(small.html).rows
    parts = sum(float(rows[s]["contribution"][0]) for s in rows if s != "portfolio")
    assert parts == pytest.approx(float(rows["portfolio"]["total_return"][0]), abs=1e-9)


def test_monthly_table_equals_the_monthly_and_annual_views(small) -> None:
    monthly = view(small, "SELECT month, ret FROM monthly_returns WHERE run_id = ? AND series = 'portfolio' "
                          "ORDER BY month")
    annual = view(small, "SELECT year, ret FROM annual_returns WHERE run_id = ? AND series = 'portfolio' "
                         "ORDER BY year")
    section = small.html.split('<section id="monthly">', 1)[1].split("</section>", 1)[0]
    shown = [float(v) for v, _ in Cells(section).values if v != ""]
    # the table runs Jan..Dec then the year, per year; the synthetic year is 2023-01-02 .. 2023-12-29
    assert annual["year"].to_list() == [2023] and monthly.height == 12
    assert shown[:12] == monthly["ret"].to_list()
    assert shown[12] == pytest.approx(annual["ret"][0], abs=1e-12)
    total = small.comparison.filter(pl.col("strategy_id") == "portfolio")["total_return"][0]
    assert float(np.prod(1 + monthly["ret"].to_numpy()) - 1) == pytest.approx(total, abs=1e-9)
    md_rows = _md_table(small.md, "## Monthly returns of the portfolio")[1:]
    assert [percent(c) for c in md_rows[0][1:13]] == pytest.approx(monthly["ret"].to_list(), abs=0.0005)
    assert percent(md_rows[0][13].strip("*")) == pytest.approx(annual["ret"][0], abs=0.0005)


def _numpy_correlation(small) -> tuple[list[str], np.ndarray]:
    ids = small.comparison["strategy_id"].to_list()[:-1]
    returns = []
    for sid in ids:
        equity = small.result.strategy_results[sid].equity_curve["equity"].cast(pl.Float64).to_numpy()
        returns.append(equity[1:] / equity[:-1] - 1)
    return ids, np.corrcoef(np.vstack(returns))


def test_correlation_sections_equal_numpy(small) -> None:
    ids, expected = _numpy_correlation(small)
    np.testing.assert_allclose(small.result.correlation.drop("strategy_id").to_numpy(), expected, atol=1e-9)
    # the heatmap writes each cell's value with two decimals, row by row (wide drawing first)
    heatmap = small.html.split("Correlation of daily returns</title>", 1)[1].split("</svg>", 1)[0]
    cells = [float(t) for t in Cells(heatmap).svg_text if re.fullmatch(r"-?\d\.\d\d", t)]
    assert cells == pytest.approx(expected.flatten().tolist(), abs=0.005)
    header, *rows = _md_table(small.md, "## Correlation of daily returns")
    assert header == ["strategy", "1", "2", "3", "4", "5"]
    assert [r[0] for r in rows] == [f"{i + 1} {sid}" for i, sid in enumerate(ids)]
    shown = np.array([[float(c) for c in r[1:]] for r in rows])
    np.testing.assert_allclose(shown, expected, atol=0.005)


def test_pairs_are_flagged_at_0_3_and_0_8(small) -> None:
    ids, rho = _numpy_correlation(small)
    high = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids)) if rho[i, j] > 0.8]
    low = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids)) if rho[i, j] < 0.3]
    assert ("buy_and_hold", "twin") in high and ("alfa", "brvo") in low  # the fixture's design
    middle = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids))
              if 0.3 <= rho[i, j] <= 0.8]
    assert middle  # so the test also sees pairs that must not be listed
    context = report_context(Warehouse(small.config.warehouse), small.result.run_id)
    assert sorted(context["high"].select("strategy_a", "strategy_b").iter_rows()) == sorted(high)
    assert sorted(context["diversifying"].select("strategy_a", "strategy_b").iter_rows()) == sorted(low)
    alert = small.html.split('id="high-correlation-warning"', 1)[1].split("</div>", 1)[0]
    for a, b in high:
        assert f"{a} and {b} moved together" in alert
        assert f"{a} and {b} moved together" in small.md.split("## Comparison")[0]
    together = small.md.split("- Moving together", 1)[1].split("\n", 1)[0]
    diversifying = small.md.split("- Diversifying", 1)[1].split("\n", 1)[0]
    for a, b in middle:
        assert f"{a} and {b} (" not in together + diversifying
    for a, b in low:
        assert f"{a} and {b} (" in diversifying


def test_html_is_one_self_contained_page(small) -> None:
    page = small.html
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "@font-face"):
        assert forbidden not in lowered, forbidden
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}
    assert '<meta name="viewport"' in page and "@media print" in page and "@media (max-width" in page


def test_charts_are_svg_drawn_from_the_data(small) -> None:
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", small.html, flags=re.S)
    titles = [re.search(r"<title>(.*?)</title>", s).group(1) for s in svgs]
    for title in ("Return on starting capital", "Drawdown from the running peak",
                  "Contribution to the portfolio&#39;s return", "Correlation of daily returns",
                  "Capital in use, share of each sleeve"):
        assert titles.count(title) == 2, title  # a wide and a narrow drawing
    equity = svgs[titles.index("Return on starting capital")]
    lines = dict(re.findall(r'<path d="([^"]+)"[^>]*><title>([^:<]+):', equity)[i][::-1]
                 for i in range(6))
    assert set(lines) == {"buy_and_hold", "twin", "momentum", "alfa", "brvo", "portfolio"}
    bars = small.result.equity_curve.height
    assert all(d.count("M") == 1 and d.count("L") == bars - 1 for d in lines.values())
    legend = re.findall(r'class="legend">([^<]+)<', equity)
    assert legend == ["buy_and_hold", "twin", "momentum", "alfa", "brvo", "portfolio"]
    assert len(re.findall(r'class="tick">[A-Z][a-z]{2} 2023<', equity)) >= 4  # calendar ticks


def test_activity_says_none_when_nothing_happened(tmp_path: Path) -> None:
    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    strategies = [(Hold("alfa", ["ALFA"]), Decimal("0.5")), (Hold("brvo", ["BRVO"]), Decimal("0.5"))]
    result = StrategyOrchestrator(strategies, config).run(synthetic_bars(symbols=2, years=1, seed=11))
    context = report_context(Warehouse(config.warehouse), result.run_id)
    page, md = render(context, "html"), render(context, "md")
    for text in (page, md):
        assert "None: every order fitted its sleeve's cash" in text
        assert "None: no two strategies traded the same symbol" in text
        assert "None: rebalancing is off" in text
    for anchor in ("sql-blocks", "sql-conflicts", "sql-rebalances", "sql-correlations", "sql-monthly"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    for anchor, heading in (("sql-capital-limit-blocks", "### SQL: Capital-limit blocks"),
                            ("sql-conflicts", "### SQL: Conflicts"), ("sql-rebalances", "### SQL: Rebalances")):
        assert f"](#{anchor})" in md and heading + "\n" in md  # GitHub's anchor of the heading


def test_activity_summarizes_blocks_conflicts_and_rebalances(small, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(small.config.warehouse, db)
    run_id = small.result.run_id
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM conflicts WHERE run_id = ?", [run_id])
        con.execute("DELETE FROM conflict_orders WHERE run_id = ?", [run_id])
        con.execute("""INSERT INTO decisions (run_id, order_id, strategy_id, symbol, decided_bar, requested_quantity,
                                              filled_quantity, kind, reason)
                       VALUES (?, 9001, 'momentum', 'ALFA', 40, 50, 0, 'rejected', 'not enough cash'),
                              (?, 9002, 'momentum', 'BRVO', 41, 30, 12, 'clipped', 'cash for 12')""",
                    [run_id, run_id])
        con.execute("""INSERT INTO conflicts (run_id, conflict_id, bar_index, ts, symbol, mode, strategies, standing,
                                              outcome, net_quantity, crossed_quantity, commission_saved)
                       VALUES (?, 1, 10, TIMESTAMP '2023-01-16', 'ALFA', 'net_signal', ['momentum', 'alfa'],
                               ['momentum', 'alfa'], 'netted: 5 to the market, 20 crossed', 5, 20, 0.5),
                              (?, 2, 12, TIMESTAMP '2023-01-18', 'BRVO', 'first_wins', ['momentum', 'brvo'],
                               ['momentum'], 'brvo cancelled', 3, 0, 0.25)""", [run_id, run_id])
        con.execute("""INSERT INTO conflict_orders (run_id, conflict_id, strategy_id, order_id, quantity, stood)
                       VALUES (?, 1, 'momentum', 1, 25, true), (?, 1, 'alfa', 2, -20, true),
                              (?, 2, 'momentum', 3, 3, true), (?, 2, 'brvo', 4, 5, false)""", [run_id] * 4)
        con.execute("""INSERT INTO rebalances (run_id, rebalance_id, bar_index, ts, strategy_id, equity_before,
                                               share_before, target_share, target_equity, cash_moved, position_trade)
                       VALUES (?, 1, 100, TIMESTAMP '2023-05-24', 'alfa', 25000, 0.30, 0.19, 15600, -3000, -6400),
                              (?, 1, 100, TIMESTAMP '2023-05-24', 'brvo', 10000, 0.08, 0.19, 15600, 3000, 2600)""",
                    [run_id, run_id])
        blocked = con.execute("SELECT count(*) FROM decisions WHERE run_id = ? AND kind IN ('clipped', 'rejected')",
                              [run_id]).fetchall()[0][0]
    context = report_context(Warehouse(db), run_id)
    page, md = render(context, "html"), render(context, "md")
    counts = dict(re.findall(r'<div class="card" id="(\w+)">\s*<div class="count">(\d+)</div>', page))
    assert counts == {"blocks": str(blocked), "conflicts": "2", "rebalances": "1"} and blocked >= 2
    blocks = page.split("<h3>Capital-limit blocks</h3>", 1)[1].split("<h3>Conflicts</h3>", 1)[0]
    assert "<td>rejected</td>" in blocks and "<td>clipped</td>" in blocks
    conflicts = page.split("<h3>Conflicts</h3>", 1)[1].split("<h3>Rebalances</h3>", 1)[0]
    assert "brvo cancelled" in conflicts
    assert "momentum, brvo" in conflicts
    by_mode = dict(re.findall(r"<td>(net_signal|first_wins)</td>(.*?)</tr>", conflicts, flags=re.S))
    assert re.findall(r">([^<]+)</td>", by_mode["net_signal"]) == ["1", "1", "0", "0.50"]
    assert re.findall(r">([^<]+)</td>", by_mode["first_wins"]) == ["1", "1", "1", "0.25"]
    pairs = re.findall(r'<td class="name" title="[^"]*">(\w+) / (\w+)</td>(.*?)</tr>', conflicts, flags=re.S)
    assert [(a, b, re.findall(r">([^<]+)</td>", rest)) for a, b, rest in pairs] == [
        ("momentum", "alfa", ["1", "1", "0", "0"]), ("momentum", "brvo", ["1", "0", "1", "0"])]
    rebalances = page.split("<h3>Rebalances</h3>", 1)[1].split("Orders by decision", 1)[0]
    assert "11.0%" in rebalances  # |0.30 - 0.19|
    assert "3,000.00" in rebalances and "-3,000.00" in rebalances
    assert f"{blocked} orders clipped or rejected" in md and "2 conflicts" in md and "1 rebalance (" in md
    assert "| net_signal | 1 | 1 | 0 | 0.50 |" in md and "| momentum / brvo | 1 | 0 | 1 | 0 |" in md


def test_report_of_a_failed_run_says_so(tmp_path: Path) -> None:
    class Breaks:
        name = "breaks"

        def on_bar(self, ctx):
            if ctx.t == 30:
                raise ValueError("<b>bad</b> input")

    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    with pytest.raises(StrategyError) as failure:
        StrategyOrchestrator([(BuyAndHold(), Decimal("0.5")), (Breaks(), Decimal("0.5"))], config).run(
            synthetic_bars(symbols=2, years=1, seed=1))
    paths = write_reports(Warehouse(config.warehouse), failure.value.run_id, tmp_path)
    page, md = paths["html"].read_text(), paths["md"].read_text()
    assert '<span class="badge failed">failed</span>' in page
    assert "&lt;b&gt;bad&lt;/b&gt; input" in page and "<b>bad</b>" not in page
    assert "Status: **failed**" in md and "&lt;b&gt;bad&lt;/b&gt; input" in md


def test_report_of_a_single_strategy_backtest(tmp_path: Path) -> None:
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = BacktestEngine(Momentum(lookback=5), config).run(synthetic_bars(symbols=2, years=1, seed=1))
    paths = write_reports(Warehouse(config.warehouse), result.run_id, tmp_path)
    assert "One strategy: no pairs to compare." in paths["html"].read_text()
    assert "One strategy: no pairs to compare." in paths["md"].read_text()


def _write_config(path: Path) -> Path:
    path.write_text(textwrap.dedent("""
        [data]
        synthetic = { symbols = 3, years = 1, seed = 8 }
        [[strategies]]
        class = "buy_and_hold"
        weight = "0.5"
        [[strategies]]
        class = "momentum"
        weight = "0.5"
    """))
    return path


def test_cli_run_writes_both_reports_and_report_rewrites_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", str(_write_config(tmp_path / "two.toml")), "--quiet"])
    assert ran.exit_code == 0, ran.output
    run_id = ran.stdout.split()[1].rstrip(":")
    assert f"report     reports/{run_id}.html" in ran.stdout and f"summary    reports/{run_id}.md" in ran.stdout
    first = (tmp_path / "reports" / f"{run_id}.html").read_text()
    assert (tmp_path / "reports" / f"{run_id}.md").read_text().startswith(f"# sqlorch run {run_id}")

    (tmp_path / "reports" / f"{run_id}.html").unlink()
    latest = runner.invoke(cli, ["report"])
    assert latest.exit_code == 0, latest.output
    assert latest.stdout.strip() == f"report     reports/{run_id}.html"
    # same data, same page (data-value attributes may differ in the last bits: DuckDB's parallel avg)
    assert strip_values((tmp_path / "reports" / f"{run_id}.html").read_text()) == strip_values(first)

    md = runner.invoke(cli, ["report", run_id, "--format", "md", "-o", "out/latest.md"])
    assert md.exit_code == 0 and (tmp_path / "out" / "latest.md").read_text().startswith(f"# sqlorch run {run_id}")


def test_cli_report_errors_are_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(cli, ["report"])
    assert missing.exit_code == 1 and "no warehouse at warehouse/sqlorch.duckdb" in missing.stderr
    ran = runner.invoke(cli, ["run", str(_write_config(tmp_path / "two.toml")), "--quiet", "--no-report"])
    assert ran.exit_code == 0 and "report " not in ran.stdout and not (tmp_path / "reports").exists()
    unknown = runner.invoke(cli, ["report", "20000101-000000-abcdef"])
    assert unknown.exit_code == 1
    run_id = ran.stdout.split()[1].rstrip(":")
    assert (f"no run '20000101-000000-abcdef' in warehouse/sqlorch.duckdb (the latest: {run_id}); "
            "`sqlorch runs` lists them") in unknown.stderr
    bad = runner.invoke(cli, ["report", "--format", "pdf"])
    assert bad.exit_code == 2 and "'pdf' is not one of 'html', 'md'" in bad.stderr


def test_report_on_an_empty_warehouse_says_run_first(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "empty.duckdb")
    with warehouse.connect():
        pass
    from sqlorch.errors import SqlorchError
    from sqlorch.report.run import latest_run_id

    with pytest.raises(SqlorchError, match="no finished runs in .*empty.duckdb; run `sqlorch run` first"):
        latest_run_id(warehouse)
    with pytest.raises(SqlorchError, match="unknown report format 'pdf'"):
        render({}, "pdf")


def test_html_escapes_are_undone_by_a_parser(small) -> None:
    # the page parses, and what a reader sees of the warnings is plain text
    text = html.unescape(re.sub(r"<[^>]+>", " ", small.html))
    assert "buy_and_hold and twin moved together" in text


def test_long_runs_are_bucketed_for_the_charts_keeping_the_troughs(small, monkeypatch) -> None:
    import sqlorch.report.run as report

    monkeypatch.setattr(report, "CHART_POINTS", 40)
    monkeypatch.setattr(report, "USAGE_POINTS", 20)
    context = report_context(Warehouse(small.config.warehouse), small.result.run_id)
    curves = context["curves"]
    bars = small.result.equity_curve.height
    assert curves.group_by("series").len()["len"].to_list() == [math.ceil(bars / math.ceil(bars / 40))] * 6
    troughs = dict(curves.group_by("series").agg(pl.col("drawdown").min()).iter_rows())
    for row in small.comparison.iter_rows(named=True):
        assert troughs[row["strategy_id"]] == row["max_drawdown"]  # the deepest point survives bucketing
    last = curves.filter(pl.col("series") == "portfolio").sort("ts").row(-1, named=True)
    assert last["ts"] == small.result.equity_curve["ts"][-1]
    assert last["equity"] == float(small.result.final_equity)
    usage = context["usage"]
    step = context["usage_step"]
    assert step == math.ceil(bars / 20) and usage.group_by("strategy_id").len()["len"].max() <= 20
    # the capital-usage strips: each span's average share in use
    first = usage.filter(pl.col("strategy_id") == "momentum").sort("ts").row(0, named=True)
    expected = view(small, "SELECT avg(used_capital::DOUBLE / allocated_capital::DOUBLE) AS a FROM allocations "
                           "WHERE run_id = ? AND strategy_id = 'momentum' AND bar_index < " + str(step))["a"][0]
    assert first["average_use"] == pytest.approx(expected, abs=1e-12)
    assert context["usage_summary"]["average_use"].to_list() == pytest.approx(
        view(small, "SELECT strategy_id, avg(used_capital::DOUBLE / allocated_capital::DOUBLE) AS a "
                    "FROM allocations WHERE run_id = ? GROUP BY strategy_id")
        .join(context["strategies"].select("strategy_id", "position"), on="strategy_id")
        .sort("position")["a"].to_list(), abs=1e-12)


def test_intraday_run_report_uses_days_and_times(tmp_path: Path) -> None:
    import datetime as dt

    rows = []
    rng = np.random.default_rng(3)
    for symbol in ("AAA", "BBB"):
        price = 20.0
        for day in range(6):
            for hour in range(9, 16):
                ts = dt.datetime(2024, 3, 4) + dt.timedelta(days=day, hours=hour)
                close = price * float(np.exp(rng.normal(0, 0.01)))
                rows.append((symbol, ts, price, max(price, close), min(price, close), close, 1.0))
                price = close
    bars = pl.DataFrame(rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"], orient="row")
    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None, lot_size=0)
    result = StrategyOrchestrator([(Hold("aaa", ["AAA"]), Decimal("0.5")), (Hold("bbb", ["BBB"]), Decimal("0.5"))],
                                  config).run(bars)
    context = report_context(Warehouse(config.warehouse), result.run_id)
    assert context["pairs"]["days"].to_list() == [5]  # 6 days, 5 day-to-day returns
    page = render(context, "html")
    assert re.search(r'class="tick">0\d Mar( \d\d:00)?<', page)
    assert "2024-03-04 09:00 to 2024-03-09 15:00" in render(context, "md")


def test_trades_section_sums_the_trades_table(small) -> None:
    context = report_context(Warehouse(small.config.warehouse), small.result.run_id)
    trades = view(small, "SELECT * FROM trades WHERE run_id = ?")
    assert trades.height > 10
    # per symbol, computed here in polars from the trades table
    expected = trades.group_by("symbol").agg(
        pl.len().alias("trades"), pl.col("pnl").cast(pl.Float64).sum().alias("pnl"),
        pl.col("bars_held").mean().alias("average_bars"),
        ((pl.col("status") == "closed") & (pl.col("pnl") > 0)).sum().alias("wins"))
    got = context["trade_symbols"]
    assert got["pnl"].to_list() == sorted(got["pnl"].to_list(), reverse=True)
    joined = got.join(expected, on="symbol", suffix="_expected")
    assert joined.height == expected.height
    for row in joined.iter_rows(named=True):
        assert row["trades"] == row["trades_expected"] and row["wins"] == row["wins_expected"]
        assert row["pnl"] == pytest.approx(row["pnl_expected"], rel=1e-12)
        assert row["average_bars"] == pytest.approx(row["average_bars_expected"])
    # the best and worst: the largest gains and losses, at most EXTREME_TRADES of each
    pnl = sorted(float(v) for v in trades["pnl"])
    best, worst = context["best_trades"]["pnl"].to_list(), context["worst_trades"]["pnl"].to_list()
    assert best == pytest.approx([v for v in pnl[::-1] if v > 0][:5])
    assert worst == pytest.approx([v for v in pnl if v < 0][:5])
    # holding times per strategy, in line-up order
    momentum = trades.filter(pl.col("strategy_id") == "momentum")
    row = context["holding"].filter(pl.col("strategy_id") == "momentum").row(0, named=True)
    assert row["trades"] == momentum.height and row["longest_bars"] == momentum["bars_held"].max()
    assert row["median_bars"] == pytest.approx(momentum["bars_held"].median())
    winners = momentum.filter((pl.col("status") == "closed") & (pl.col("pnl") > 0))
    assert row["median_winner_bars"] == pytest.approx(winners["bars_held"].median())
    assert context["holding"]["strategy_id"].to_list() == [
        s for s in context["strategies"]["strategy_id"] if s in set(trades["strategy_id"])]
    page = html.unescape(small.html)
    assert 'id="trades"' in small.html and "Best trades" in page and "Holding times" in page
    assert "## Trades" in small.md and "| symbol | trades | win rate | P&L | average bars held |" in small.md


def test_a_run_without_trades_says_so(tmp_path: Path) -> None:
    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = StrategyOrchestrator([(Hold("none", []), Decimal("1"))], config).run(synthetic_bars(symbols=1, years=1))
    paths = write_reports(Warehouse(config.warehouse), result.run_id, tmp_path / "reports")
    assert "No trades: no strategy opened a position." in paths["html"].read_text()
    assert "No trades: no strategy opened a position." in paths["md"].read_text()
