"""Reports of grid runs (HTML and Markdown): heatmaps, the top-K table, sensitivity, failures,
self-contained pages; and the grid charts."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from grid_strategies import Exploding
from markupsafe import Markup

from sqlorch import BacktestConfig, GridSearch
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.report import charts
from sqlorch.report.grid import grid_report_context, metric_text, render_grid, write_grid_reports
from sqlorch.strategies import Momentum, RSIStrategy, SMACross


@pytest.fixture(scope="module")
def bars():
    return synthetic_bars(symbols=2, years=1, seed=4)


@pytest.fixture(scope="module")
def searched(bars, tmp_path_factory):
    """One grid run with two strategies: SMACross over two parameters (a constraint drops some)
    and RSI over three; plus the path of its warehouse."""
    path = tmp_path_factory.mktemp("grid") / "w.duckdb"
    config = BacktestConfig(warehouse=str(path), log_dir=None, commission_bps=1.0)
    result = GridSearch([(SMACross, {"fast": [3, 5, 10], "slow": [10, 20, 40]}, "fast < slow"),
                         (RSIStrategy, {"period": [7, 14], "low": [25, 30], "high": [65, 75]})],
                        config, workers=1).run(bars)
    return result


def test_html_and_markdown_have_heatmaps_top_k_and_sensitivity(searched, tmp_path: Path):
    paths = write_grid_reports(searched.warehouse, searched.run_id, tmp_path, top=3)
    html, md = paths["html"].read_text(), paths["md"].read_text()
    # the heatmap of SMACross, best cell outlined, and the three of RSI's pairs
    assert 'aria-label="sharpe_ratio of sma_cross by fast and slow"' in html
    assert html.count('class="best"') == 2 * 4  # wide and narrow drawings, 1 + 3 heatmaps
    for pair in ("period and low", "period and high", "low and high"):
        assert f"sharpe_ratio of rsi_strategy by {pair}" in html
    assert "other parameters at their best values" in html
    # the top-3 table, best first, as many rows as asked
    table = html.split('<table class="top">')[1].split("</table>")[0]
    assert len(re.findall(r"<tr", table)) == 1 + 3 and '<tr class="total"><td class="num">1</td>' in table
    assert "<h3>Top 3</h3>" in html and "### Top 3" in md
    # sensitivity: charts, per-value tables and the spread of every metric
    assert "sharpe_ratio by fast" in html and "Every metric's spread by parameter" in html
    assert "| fast | combinations | mean | lowest | highest |" in md
    # Markdown: no pictures (a code host shows inline SVG as text); the heatmap as numbers, and a
    # link to the HTML report written beside it
    assert "<svg" not in md and "| fast \\ slow | 10 | 20 | 40 |" in md
    assert f"in the HTML report, [{paths['html'].name}]({paths['html'].name})" in md
    # self-contained
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_context_numbers_come_from_the_results(searched):
    context = grid_report_context(searched.warehouse, searched.run_id, top=2)
    sma = context["strategies"][0]
    assert sma["strategy_id"] == "sma_cross" and sma["constraint"] == "fast < slow"
    assert sma["best"]["params"] == searched.best_params["sma_cross"]
    (heatmap,) = sma["heatmaps"]
    assert heatmap["row_values"] == [3, 5, 10] and heatmap["column_values"] == [10, 20, 40]
    table = searched.table
    for i, fast in enumerate(heatmap["row_values"]):
        for j, slow in enumerate(heatmap["column_values"]):
            rows = table.filter((table["strategy"] == "sma_cross") & (table["fast"] == fast) & (table["slow"] == slow))
            expected = rows["sharpe_ratio"][0] if rows.height else None
            assert heatmap["matrix"][i][j] == expected
    fast = next(s for s in sma["sensitivity"] if s["parameter"] == "fast")
    by_value = {int(v["value"]): v["mean"] for v in fast["values"]}
    for value, mean in by_value.items():
        assert mean == pytest.approx(table.filter((table["strategy"] == "sma_cross") & (table["fast"] == value))
                                     ["sharpe_ratio"].mean())
    assert fast["spread"] == pytest.approx(max(by_value.values()) - min(by_value.values()))
    assert [r["rank"] for r in sma["top"]] == [1, 2]
    rsi = context["strategies"][1]
    assert len(rsi["heatmaps"]) == 3 and rsi["heatmaps"][0]["others"] == {"high": rsi["best"]["params"]["high"]}


def test_failures_single_parameters_and_nothing_to_rank(bars, tmp_path: Path):
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = GridSearch([(Exploding, {"fast": [3, 5], "slow": [20], "explode_at": [-1, 30]}),
                         (Exploding, {"fast": [3], "slow": [20], "explode_at": [10]}),
                         (Momentum, {"lookback": [5, 10]})], config, workers=1).run(bars)
    context = grid_report_context(result.warehouse, result.run_id)
    first, broken, momentum = context["strategies"]
    assert first["failed"] == 2 and first["errors"][0]["count"] == 2
    assert first["errors"][0]["error"].startswith("ValueError: boom at 30")
    assert first["varying"] == ["fast", "explode_at"] and first["fixed"] == {"slow": 20}
    assert broken["best"] is None and broken["heatmaps"] == []
    assert momentum["heatmaps"] == [] and momentum["varying"] == ["lookback"]
    html, md = render_grid(context, "html"), render_grid(context, "md")
    assert "No combination has a defined sharpe_ratio: nothing to rank." in html
    assert "A heatmap needs two parameters with several values; this grid varies 1." in html
    assert "2 × ValueError: boom at 30" in html and "### Failed combinations" in md
    with pytest.raises(Exception, match="unknown report format"):
        render_grid(context, "pdf")
    with pytest.raises(Exception, match="no grid run 'nope'"):
        grid_report_context(result.warehouse, "nope")


def test_metric_text():
    assert metric_text(0.1234, "total_return") == "12.34%"
    assert metric_text(1.234, "sharpe_ratio") == "1.23"
    assert metric_text(12.0, "trade_count") == "12"
    assert metric_text(None, "cagr") == metric_text(math.nan, "cagr") == "\u2013"


def test_grid_charts():
    assert charts.sequential_color(None) == "#dddddd"
    assert charts.sequential_color(0) == "#fde725" and charts.sequential_color(1) == "#440154"
    assert charts.sequential_color(2) == charts.sequential_color(1)
    empty = charts.grid_heatmap("a", [1], "b", [2], [[None]], "t")
    assert isinstance(empty, Markup) and "no completed combination" in empty
    lower = charts.grid_heatmap("a", [1, 2], "b", [3], [[0.1], [0.2]], "vol", higher_is_better=False, best=(0, 0))
    # lower is better: the lower value gets the darker colour
    assert lower.index(charts.sequential_color(1.0)) < lower.index(charts.sequential_color(0.0))
    assert "better 0.1" in lower and "0.2 worse" in lower
    flat = charts.grid_heatmap("a", list(range(60)), "b", list(range(40)),
                               [[1.0] * 40 for _ in range(60)], "big", size=charts.NARROW)
    assert flat.count("<rect") > 2400 and 'class="cell"' not in flat  # no room for numbers
    assert "no data" in charts.range_chart([1], [None], [None], [None], "t")
    drawn = charts.range_chart([1, 2], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5], "flat", y_format=charts.percent_axis)
    assert drawn.count("<circle") == 2


def test_long_value_lists_are_shortened():
    from sqlorch.report.grid import values_text

    assert values_text([1, 2, 3]) == "1, 2, 3"
    assert values_text(list(range(5, 45))) == "5, 6, 7, \u2026, 44 (40 values)"


def test_markdown_alone_names_the_command_for_the_html_report(searched) -> None:
    context = grid_report_context(searched.warehouse, searched.run_id)
    md = render_grid({**context, "warehouse": "my runs/w.duckdb"}, "md")
    command = f"`sqlorch report {searched.run_id} --format html --warehouse 'my runs/w.duckdb'`"
    assert f"- Charts (heatmaps, sensitivity): in the HTML report ({command})" in md
    assert "<svg" not in md


def test_reports_say_how_much_of_the_best_is_luck(searched, tmp_path: Path):
    paths = write_grid_reports(searched.warehouse, searched.run_id, tmp_path, top=3)
    html, md = paths["html"].read_text(), paths["md"].read_text()
    assert '<section id="overfitting">' in html and "## How much of the best is luck" in md
    strategy, combination = searched.best_trial
    assert f"Best trial: {strategy} #{combination} (" in md
    assert f"Deflated Sharpe ratio: **{searched.deflated_sharpe_ratio:.3f}** against the {searched.trials} " \
           "completed trials of this search" in md
    assert f"Probability of backtest overfitting: **{searched.pbo * 100:.2f}%** over 12,870 splits of 16 blocks" in md
    # the histogram of the logits: a chart in HTML, a table in Markdown whose splits add up
    assert "share of CSCV splits by the logit" in html and "in-sample against out-of-sample Sharpe ratio" in html
    rows = [line.split("|") for line in md.split("| logit | splits | share | overfit |")[1].split("\n\n")[0]
            .splitlines()[2:]]
    assert sum(int(r[2]) for r in rows) == 12870
    overfit = sum(int(r[2]) for r in rows if r[4].strip() == "yes")
    assert math.isclose(overfit / 12870, searched.pbo)
    # trade counts and PSR beside the ranked metrics
    assert "closed_trade_count" in md.split("### Top 3")[1].split("\n")[2]
    assert "<svg" not in md


def test_logit_histogram_bins_end_at_zero():
    import numpy as np

    from sqlorch.report.grid import logit_histogram

    bins = logit_histogram(np.array([-1.2, -0.3, 0.0, 0.4, 2.1, 2.1]))
    assert sum(b["count"] for b in bins) == 6
    assert [b["count"] for b in bins if b["overfit"]] and sum(b["count"] for b in bins if b["overfit"]) == 3
    assert next(b for b in bins if b["label"] == "(-0.25, 0]")["count"] == 1  # 0 counts as overfit
    assert logit_histogram(np.array([])) == []


def test_scatter_chart_draws_near_points_once_and_escapes_titles():
    svg = charts.scatter_chart([0.0, 0.0001, 1.0, math.nan], [0.0, 0.0, -1.0, 2.0], "<t>", "x", "y")
    assert svg.count("<circle") == 2 and "&lt;t&gt;" in svg
    assert "no data" in charts.scatter_chart([], [], "t", "x", "y")


def test_a_strategy_called_overfitting_keeps_its_charts(bars, tmp_path: Path):
    from sqlorch.grid.spec import Grid

    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = GridSearch([Grid(SMACross, {"fast": [3, 5], "slow": [20, 40]}, name="overfitting")], config,
                        workers=1).run(bars)
    html = render_grid(grid_report_context(result.warehouse, result.run_id), "html")
    assert 'aria-label="sharpe_ratio of overfitting by fast and slow"' in html
    assert "share of CSCV splits by the logit" in html
