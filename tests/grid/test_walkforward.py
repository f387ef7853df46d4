"""Walk-forward optimisation: folds that never let a test span see its train span's future, each
fold's choice equal to a grid search of its train span alone, the stitched curve equal to the
test-span runs chained, warm-up only from before the test span; the CLI end to end."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch import BacktestConfig, BacktestEngine, ConfigError, GridSearch, Signal, SqlorchError, WalkForward
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.grid.walkforward import Fold, Span, plan_folds
from sqlorch.strategies import SMACross

BARS = synthetic_bars(symbols=3, years=6, seed=21)
GRID = {"fast": [5, 10], "slow": [20, 40]}


def _clock(days: int) -> np.ndarray:
    """Every day from 2020-01-01 on."""
    return (np.datetime64("2020-01-01", "D") + np.arange(days)).astype("datetime64[us]")


def test_folds_in_bars_roll_and_anchor() -> None:
    clock = _clock(100)
    assert plan_folds(clock, Span(30, "bars"), Span(20, "bars")) == [
        Fold(1, 0, 30, 30, 50), Fold(2, 20, 50, 50, 70), Fold(3, 40, 70, 70, 90), Fold(4, 60, 90, 90, 100)]
    assert plan_folds(clock, Span(30, "bars"), Span(20, "bars"), anchored=True)[-1] == Fold(4, 0, 90, 90, 100)
    # a step shorter than the test span: each test span ends where the next begins
    overlapping = plan_folds(clock, Span(30, "bars"), Span(20, "bars"), Span(10, "bars"))
    assert [(f.test_lo, f.test_hi) for f in overlapping[:3]] == [(30, 40), (40, 50), (50, 60)]
    assert overlapping[-1] == Fold(7, 60, 90, 90, 100)


def test_folds_in_calendar_spans() -> None:
    clock = _clock(5 * 365)  # 2020-01-01 ... 2024-12-29, every day
    folds = plan_folds(clock, Span(2, "y"), Span(1, "y"))
    days = [(str(clock[f.train_lo])[:10], str(clock[f.test_lo])[:10], str(clock[f.test_hi - 1])[:10]) for f in folds]
    assert days == [("2020-01-01", "2022-01-01", "2022-12-31"), ("2021-01-01", "2023-01-01", "2023-12-31"),
                    ("2022-01-01", "2024-01-01", "2024-12-29")]
    halves = plan_folds(clock, Span(18, "m"), Span(6, "m"))
    assert [f.test_hi - f.test_lo for f in halves][:2] == [184, 181]  # July to December 2021, then January to June
    assert len(plan_folds(clock, Span(52, "w"), Span(90, "d"))) == 17  # tests from day 364 + 90k < 1825: k = 0..16


@pytest.mark.parametrize("value, span", [("3y", Span(3, "y")), ("18M", Span(18, "m")), (" 2w ", Span(2, "w")),
                                         ("90d", Span(90, "d")), (750, Span(750, "bars")), ("750", Span(750, "bars"))])
def test_spans_parse(value, span) -> None:
    assert Span.parse(value, "train", []) == span


def test_bad_settings_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        WalkForward(SMACross, GRID, BacktestConfig(warehouse=None, log_dir=None), train="3 years", test=0,
                    metric="sharpe")
    text = str(caught.value)
    assert "train: '3 years' is not a span" in text and "test: 0 is not a span" in text and "metric: 'sharpe'" in text
    with pytest.raises(SqlorchError, match="no fold fits"):
        WalkForward(SMACross, GRID, BacktestConfig(warehouse=None, log_dir=None), train="10y", workers=1).run(BARS)


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    path = tmp_path_factory.mktemp("walk") / "w.duckdb"
    config = BacktestConfig(warehouse=str(path), log_dir=None, commission_bps=1.0)
    result = WalkForward(SMACross, GRID, config, train="2y", test="1y", workers=1).run(BARS)
    return config, result


def test_no_test_span_overlaps_its_train_span(walked) -> None:
    _, result = walked
    folds = result.folds.sort("fold")
    assert folds.height == 4  # 6 years: test years 3, 4, 5 and 6
    assert (folds["test_start"] > folds["train_end"]).all()
    assert (folds["test_start"].shift(-1).drop_nulls() > folds["test_end"].head(folds.height - 1)).all()


def test_each_fold_chooses_what_a_search_of_its_train_span_alone_chooses(walked) -> None:
    config, result = walked
    for fold in result.folds.iter_rows(named=True):
        alone = GridSearch(SMACross, GRID, dataclasses.replace(config, start=fold["train_start"],
                                                               end=fold["train_end"], warmup=0, warehouse=None),
                           workers=1).run(BARS)
        assert json.loads(fold["params"]) == alone.best_params
        best = alone.table.filter(pl.col("rank") == 1)
        assert fold["in_sample"] == pytest.approx(best["sharpe_ratio"][0], rel=1e-12)
        # the choice run again on its train span (the report's in-sample curve) gives the same figure
        with duckdb.connect(config.warehouse, read_only=True) as con:
            (sharpe,), = con.execute("SELECT sharpe_ratio FROM strategy_metrics WHERE run_id = ?",
                                     [fold["train_run_id"]]).fetchall()
        assert sharpe == pytest.approx(fold["in_sample"], rel=1e-9)


def test_the_stitched_curve_is_the_test_runs_chained(walked) -> None:
    config, result = walked
    curve, capital = result.equity_curve, Decimal(config.initial_capital)
    for fold in result.folds.sort("fold").iter_rows(named=True):
        assert fold["start_equity"] == capital
        alone = BacktestEngine(SMACross(**json.loads(fold["params"])), dataclasses.replace(
            config, start=fold["test_start"], end=fold["test_end"], initial_capital=capital, warehouse=None)).run(BARS)
        part = curve.filter(pl.col("ts").is_between(fold["test_start"], fold["test_end"]))
        assert part["ts"].to_list() == alone.equity_curve["ts"].to_list()
        assert part["equity"].to_list() == pytest.approx([float(v) for v in alone.equity_curve["equity"]], abs=1e-6)
        assert fold["out_of_sample"] == pytest.approx(alone.metrics.sharpe_ratio, rel=1e-12)
        capital = alone.final_equity
        assert fold["final_equity"] == capital
    assert curve["ts"].is_sorted() and curve["ts"].n_unique() == curve.height
    # the stitched curve's figures and the efficiency
    assert result.metrics.total_return == pytest.approx(float(capital / Decimal(config.initial_capital)) - 1)
    in_sample = result.folds["in_sample_cagr"].mean()
    assert result.efficiency == pytest.approx(result.metrics.cagr / in_sample)
    with duckdb.connect(config.warehouse, read_only=True) as con:
        (status, folds), = con.execute("SELECT status, fold_count FROM walkforward_runs").fetchall()
        stored = con.execute("SELECT count(*) FROM walkforward_equity WHERE run_id = ?", [result.run_id]).fetchone()
    assert (status, folds) == ("completed", 4) and stored == (curve.height,)
    # each fold's search, as stored, and its overfitting figures
    with duckdb.connect(config.warehouse, read_only=True) as con:
        searches = dict(con.execute("SELECT run_id, deflated_sharpe_ratio FROM grid_runs").fetchall())
    for fold in result.folds.iter_rows(named=True):
        assert fold["deflated_sharpe_ratio"] == pytest.approx(searches[fold["grid_run_id"]], nan_ok=True)
    assert "4 folds" in repr(result) and "efficiency" in repr(result)


class Looking:
    """Records, on its first bar, how far back its history reaches and when that bar is; buys
    `x` tenths of the first symbol then (so that its Sharpe ratio is defined)."""

    warmup = 30
    seen: list = []

    def __init__(self, x: int = 1):
        self.x = x

    def on_bar(self, ctx):
        if ctx.t == 0:
            Looking.seen.append((ctx.ts, len(ctx.history(ctx.symbols[0], "close", 10_000))))
            return [Signal.buy(ctx.symbols[0], self.x / 10)]


def test_warm_up_comes_only_from_before_the_test_span(tmp_path) -> None:
    Looking.seen.clear()
    config = BacktestConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    result = WalkForward(Looking, {"x": [1, 2]}, config, train=300, test=200, workers=1).run(BARS)
    tests = [(ts, n) for ts, n in Looking.seen if ts in set(result.folds["test_start"])]
    assert len(tests) == result.folds.height
    # a test run sees the 30 bars before its span and its first bar; a train search (no warm-up) only its first bar
    assert {n for _, n in tests} == {31}
    assert {n for ts, n in Looking.seen if ts in set(result.folds["train_start"])} == {1}


GRID_TOML = """
    [data]
    synthetic = {{ symbols = 3, years = 6, seed = 21 }}

    [backtest]
    warehouse = "w.duckdb"
    log_dir = "logs"

    [[strategies]]
    class = "sma_cross"
    params = {{ fast = [5, 10], slow = [20, 40] }}

    [[strategies]]
    class = "momentum"
    params = {{ lookback = [10, 20, 40] }}
"""


def test_cli_walks_forward_each_strategy_on_its_own(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wf.toml").write_text(textwrap.dedent(GRID_TOML.format()))
    result = CliRunner().invoke(cli, ["walkforward", "wf.toml", "--train", "2y", "--test", "1y", "--anchored",
                                      "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "4 folds, train 2y, test 1y, anchored; parameters chosen by sharpe_ratio" in out
    assert "sma_cross: out of sample" in out and "momentum: out of sample" in out and "efficiency" in out
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT strategy_id, fold, train_start FROM walkforward_folds ORDER BY 1, 2").fetchall()
        (anchored,), = con.execute("SELECT anchored FROM walkforward_runs").fetchall()
    assert len(rows) == 8 and anchored and len({r[2] for r in rows}) == 1  # anchored: one train start
    assert "sqlorch sql \"SELECT * FROM walkforward_folds WHERE run_id = " in out
    run_id = out.split()[1].rstrip(":")
    assert f"report     reports/{run_id}.html" in out and (tmp_path / "reports" / f"{run_id}.md").exists()
    bad = CliRunner().invoke(cli, ["walkforward", "wf.toml", "--train", "soon"])
    assert bad.exit_code == 1 and "train: 'soon' is not a span" in bad.stderr


def test_an_in_memory_walk_forward_keeps_its_searches_and_runs_together() -> None:
    result = WalkForward(SMACross, GRID, BacktestConfig(warehouse=None, log_dir=None), train=400, test=300,
                         workers=1).run(BARS)
    assert result.equity_curve.height == BARS["ts"].n_unique() - 400
    assert not np.isnan(result.metrics.sharpe_ratio) and result.folds["test_run_id"].is_not_null().all()


def test_the_report_and_the_notebook_view(walked, tmp_path) -> None:
    config, result = walked
    page = result._repr_html_()
    assert f"Walk-forward {result.run_id}" in page and page.count("<svg") == 2  # the curve, wide and narrow
    assert page.count("<tr><td>") == result.folds.height
    html = result.report(tmp_path / "wf.html").read_text()
    assert "walk-forward efficiency" in html and 'table class="folds"' in html
    assert f"{result.metrics.total_return:.2%}" in html
    assert 'aria-label="sharpe_ratio per fold, at its test span&#39;s start"' in html
    md = result.report(tmp_path / "wf.md").read_text()
    assert md.startswith(f"# sqlorch walk-forward {result.run_id}") and "<svg" not in md
    assert md.count("\n| ") == 2 + result.folds.height  # the header row, its rule and one row per fold
    # sqlorch report finds it in the warehouse and writes the same figures
    done = CliRunner().invoke(cli, ["report", result.run_id, "--warehouse", config.warehouse,
                                    "-o", str(tmp_path / "again.html")])
    assert done.exit_code == 0, done.output
    assert f"{result.metrics.total_return:.2%}" in (tmp_path / "again.html").read_text()
