"""Correlation of the strategies' daily returns: the SQL views against numpy, the 0.3 / 0.8
flags at their boundaries, intraday bars resampled to days, and the high-correlation warning
in the result, the audit log, the events table and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch import OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.backtest import correlation
from sqlorch.backtest.correlation import DIVERSIFYING_BELOW, HIGH_ABOVE, flag, high_pairs, load_pairs, to_matrix
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.engine.events import encode
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, Momentum, RSIStrategy

TOLERANCE = 1e-9


class Hold:
    """Buys `symbols` (equal weights) at the first bar and holds them."""

    def __init__(self, name: str, symbols: list[str]):
        self.name, self.symbols = name, symbols

    def on_bar(self, ctx):
        if ctx.t == 0:
            return [Signal.buy(s, 0.95 / len(self.symbols)) for s in self.symbols]
        return None


class Idle:
    """Never trades: a flat equity curve, so its correlation with anything is undefined."""

    name = "idle"

    def on_bar(self, ctx):
        return None


def numpy_matrix(result, ids: list[str], day_of=lambda ts: ts) -> np.ndarray:
    """Pearson correlation of each sleeve's returns from day-end to day-end equity, by numpy."""
    series = []
    for sid in ids:
        curve = result.strategy_results[sid].equity_curve
        days = (curve.with_columns(pl.col("ts").dt.date().alias("day"), pl.col("equity").cast(pl.Float64))
                .group_by("day", maintain_order=True).agg(pl.col("equity").last()).sort("day"))
        equity = days["equity"].to_numpy()
        series.append(equity[1:] / equity[:-1] - 1)
    return np.corrcoef(np.vstack(series))


def matrix_values(matrix: pl.DataFrame) -> np.ndarray:
    return matrix.drop("strategy_id").to_numpy()


def _intraday_bars(days: int = 25, per_day: int = 4, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for symbol in ("AAA", "BBB"):
        price = 50.0
        for d in range(days):
            for k in range(per_day):
                ts = dt.datetime(2024, 3, 1) + dt.timedelta(days=d, hours=10 + 2 * k)
                close = price * float(np.exp(rng.normal(0, 0.01)))
                rows.append((symbol, ts, price, max(price, close), min(price, close), close, 100.0))
                price = close
    return pl.DataFrame(rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"], orient="row")


@pytest.fixture(scope="module")
def daily_run(tmp_path_factory):
    """Five sleeves on 4 symbols x 1 year: two holding the same symbol (correlation ~1), two on
    other symbols, and one that never trades."""
    home = tmp_path_factory.mktemp("corr")
    config = OrchestratorConfig(warehouse=str(home / "w.duckdb"), log_dir=str(home / "logs"))
    bars = synthetic_bars(symbols=4, years=1, seed=11)
    strategies = [(Hold("alfa_1", ["ALFA"]), Decimal("0.2")), (Hold("alfa_2", ["ALFA"]), Decimal("0.2")),
                  (Hold("brvo", ["BRVO"]), Decimal("0.2")), (Hold("chrl_dlta", ["CHRL", "DLTA"]), Decimal("0.2")),
                  (Idle(), Decimal("0.1"))]
    result = StrategyOrchestrator(strategies, config).run(bars)
    return result, config


def test_matrix_equals_numpy_on_the_same_returns(daily_run) -> None:
    result, config = daily_run
    ids = ["alfa_1", "alfa_2", "brvo", "chrl_dlta"]
    assert result.correlation.columns == ["strategy_id", *ids, "idle"]
    assert result.correlation["strategy_id"].to_list() == [*ids, "idle"]
    ours = matrix_values(result.correlation)
    np.testing.assert_allclose(ours[:4, :4], numpy_matrix(result, ids), rtol=0, atol=TOLERANCE)
    assert np.isnan(ours[4]).all() and np.isnan(ours[:, 4]).all()  # a flat series has no correlation
    assert ours[0, 1] > 0.999 and ours[0, 2] < DIVERSIFYING_BELOW  # same symbol vs another random walk


@pytest.mark.parametrize("bars", [synthetic_bars(symbols=4, years=1, seed=11), _intraday_bars()],
                         ids=["daily", "intraday"])
def test_the_matrix_product_equals_the_view(bars, monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix a result carries, computed as one product of the daily returns, equals the
    view strategy_correlations pair by pair (NaN where the view has NULL)."""
    products = []
    monkeypatch.setattr(correlation, "pearson", lambda r: products.append(r.shape) or PEARSON(r))
    strategies = [(Hold("a", ["AAA" if "AAA" in bars["symbol"] else "ALFA"]), Decimal("0.3")),
                  (Hold("b", bars["symbol"].unique().sort().to_list()[1:]), Decimal("0.3")),
                  (BuyAndHold(), Decimal("0.2")), (Idle(), Decimal("0.1"))]
    result = StrategyOrchestrator(strategies, OrchestratorConfig(warehouse=None, log_dir=None)).run(bars)
    with result.warehouse.connect(read_only=True) as con:
        view = to_matrix(load_pairs(con, result.run_id))
    assert products and products[0][0] == 4  # the product, not the view, made the matrix
    assert result.correlation.columns == view.columns
    np.testing.assert_allclose(matrix_values(result.correlation), matrix_values(view), rtol=0, atol=TOLERANCE)


PEARSON = correlation.pearson


def test_view_lists_every_ordered_pair_with_flags(daily_run) -> None:
    result, config = daily_run
    with duckdb.connect(config.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT strategy_a, strategy_b, days, correlation, flag FROM strategy_correlations "
            "WHERE run_id = ? ORDER BY position_a, position_b", [result.run_id]).fetchall()
        daily_days = con.execute("SELECT count(*) FROM daily_returns WHERE run_id = ? AND series = 'brvo'",
                                 [result.run_id]).fetchall()[0][0]
    assert len(rows) == 25
    matrix = result.correlation
    for a, b, days, rho, flagged in rows:
        assert days == daily_days == 251
        expected = matrix[b][matrix["strategy_id"].to_list().index(a)]
        if rho is None:
            assert math.isnan(expected) and flagged is None
        else:
            assert rho == pytest.approx(expected, abs=1e-15)
            assert flagged == (None if a == b else flag(rho))
    flags = {(a, b): f for a, b, _, _, f in rows}
    assert flags[("alfa_1", "alfa_2")] == flags[("alfa_2", "alfa_1")] == "high"
    assert flags[("alfa_1", "brvo")] == "diversifying"


@pytest.mark.parametrize("rho, expected", [
    (-1.0, "diversifying"), (0.0, "diversifying"), (0.2999999999, "diversifying"), (0.3, None),
    (0.55, None), (0.8, None), (0.8000000001, "high"), (1.0, "high"), (None, None), (math.nan, None),
])
def test_flags_at_the_thresholds_agree_in_sql_and_python(rho, expected) -> None:
    assert flag(rho) == expected
    with Warehouse(None).connect() as con:
        value = None if rho is None or math.isnan(rho) else rho
        assert con.execute("SELECT correlation_flag(?::DOUBLE)", [value]).fetchall() == [(expected,)]


def test_threshold_constants_are_the_issue_s() -> None:
    assert (DIVERSIFYING_BELOW, HIGH_ABOVE) == (0.3, 0.8)


def test_high_pairs_come_from_the_matrix_upper_triangle() -> None:
    pairs = pl.DataFrame({
        "strategy_a": ["a", "a", "a", "b", "b", "b", "c", "c", "c"],
        "strategy_b": ["a", "b", "c", "a", "b", "c", "a", "b", "c"],
        "position_a": [1, 1, 1, 2, 2, 2, 3, 3, 3], "position_b": [1, 2, 3, 1, 2, 3, 1, 2, 3],
        "correlation": [1.0, 0.81, 0.8, 0.81, 1.0, None, 0.8, None, 1.0],
    })
    matrix = to_matrix(pairs)
    assert matrix.columns == ["strategy_id", "a", "b", "c"]
    assert high_pairs(matrix) == [("a", "b", 0.81)]
    assert math.isnan(matrix["c"][1])
    assert to_matrix(pairs.head(0)).columns == ["strategy_id"]


def test_intraday_bars_are_resampled_to_days() -> None:
    config = OrchestratorConfig(warehouse=None, log_dir=None, lot_size=0)
    strategies = [(Hold("aaa", ["AAA"]), Decimal("0.3")), (Hold("bbb", ["BBB"]), Decimal("0.3")),
                  (Hold("both", ["AAA", "BBB"]), Decimal("0.3"))]
    result = StrategyOrchestrator(strategies, config).run(_intraday_bars())
    ids = ["aaa", "bbb", "both"]
    np.testing.assert_allclose(matrix_values(result.correlation), numpy_matrix(result, ids), rtol=0, atol=TOLERANCE)
    bar_returns = np.vstack([np.diff(r.equity_curve["equity"].cast(pl.Float64).to_numpy())
                             for r in result.strategy_results.values()])
    assert not np.allclose(np.corrcoef(bar_returns), matrix_values(result.correlation))  # not per bar


def test_daily_returns_equal_per_bar_returns_for_daily_bars(daily_run) -> None:
    result, config = daily_run
    with duckdb.connect(config.warehouse, read_only=True) as con:
        mismatch = con.execute("""
            SELECT count(*) FILTER (WHERE abs(d.ret - r.ret) > 1e-12 OR d.ret IS NULL), count(*)
            FROM returns r LEFT JOIN daily_returns d
              ON d.run_id = r.run_id AND d.series = r.series AND d.day = r.ts::DATE
            WHERE r.run_id = ?""", [result.run_id]).fetchall()[0]
    assert mismatch[0] == 0 and mismatch[1] == 6 * 251


def test_high_correlation_is_logged_once_in_jsonl_and_events(daily_run) -> None:
    result, config = daily_run
    lines = (Path(config.log_dir) / f"{result.run_id}.jsonl").read_text().splitlines()
    warnings = [line for line in lines if '"orchestrator.correlation_warning"' in line]
    assert len(warnings) == 1 and lines[-1] == warnings[0]
    event = json.loads(warnings[0])
    assert encode(event) == warnings[0]  # compact, same encoder as every other event
    assert event["run_id"] == result.run_id and event["threshold"] == HIGH_ABOVE
    assert [(p["strategy_a"], p["strategy_b"]) for p in event["pairs"]] == [("alfa_1", "alfa_2")]
    assert event["pairs"][0]["correlation"] > HIGH_ABOVE
    with duckdb.connect(config.warehouse, read_only=True) as con:
        rows = con.execute("SELECT seq, event, payload FROM events WHERE run_id = ? ORDER BY seq",
                           [result.run_id]).fetchall()
    assert [seq for seq, _, _ in rows] == list(range(len(rows)))
    assert rows[-1][1:] == ("orchestrator.correlation_warning", warnings[0])
    assert len(rows) == len(lines)


def test_no_warning_event_without_high_pairs(tmp_path: Path) -> None:
    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=str(tmp_path / "logs"))
    strategies = [(Hold("alfa", ["ALFA"]), Decimal("0.5")), (Hold("brvo", ["BRVO"]), Decimal("0.5"))]
    result = StrategyOrchestrator(strategies, config).run(synthetic_bars(symbols=2, years=1, seed=11))
    assert high_pairs(result.correlation) == []
    log = (tmp_path / "logs" / f"{result.run_id}.jsonl").read_text()
    assert "correlation_warning" not in log
    with duckdb.connect(config.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events WHERE event LIKE '%correlation_warning'").fetchall() == [(0,)]


def test_in_memory_run_has_the_matrix_and_the_event_in_the_table() -> None:
    config = OrchestratorConfig(warehouse=None, log_dir=None)
    pairs = [(BuyAndHold(), Decimal("0.3")), (Momentum(), Decimal("0.3")), (RSIStrategy(), Decimal("0.3"))]
    orchestrator = StrategyOrchestrator(pairs, config)
    result = orchestrator.run(synthetic_bars(symbols=3, years=1, seed=2))
    matrix = matrix_values(result.correlation)
    np.testing.assert_allclose(matrix, numpy_matrix(result, ["buy_and_hold", "momentum", "rsi_strategy"]),
                               rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-15)


def test_cli_run_prints_the_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "twins.toml").write_text(textwrap.dedent("""
        [data]
        synthetic = { symbols = 3, years = 1, seed = 4 }
        [[strategies]]
        name = "twin_a"
        class = "buy_and_hold"
        weight = "0.4"
        [[strategies]]
        name = "twin_b"
        class = "buy_and_hold"
        weight = "0.4"
    """))
    result = CliRunner().invoke(cli, ["run", "twins.toml", "--quiet", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "Warning: twin_a and twin_b moved together: correlation of daily returns 1.00 (above 0.8)" \
        in result.stdout
    assert not (tmp_path / "reports").exists()
