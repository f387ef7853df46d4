"""Every grid combination is a trial (SPEC §9): the moments of its per-bar returns, its closed
trades and PSR; a study's trials add up across searches (failed combinations are not trials);
the best trial's DSR, the search's PBO; min_trades; what lands in the warehouse."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from grid_strategies import Exploding

from sqlorch import BacktestConfig, BacktestEngine, ConfigError, GridSearch
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.grid.overfitting import block_sums, deflated_sharpe_ratio, pbo
from sqlorch.money import FLOAT_TOLERANCE, isclose
from sqlorch.strategies import SMACross

GRID = {"fast": [3, 5, 8], "slow": [20, 40]}


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return synthetic_bars(symbols=2, years=1, seed=5)


def config(tmp_path=None, **settings) -> BacktestConfig:
    return BacktestConfig(warehouse=str(tmp_path / "w.duckdb") if tmp_path else None, log_dir=None, **settings)


def standalone_returns(bars, params, cfg) -> np.ndarray:
    equity = BacktestEngine(SMACross(**params), cfg).run(bars).equity_curve["equity"].cast(pl.Float64).to_numpy()
    return equity[1:] / equity[:-1] - 1


def rows(result, sql):
    with result.warehouse.connect(read_only=True) as con:
        return con.execute(sql, [result.run_id]).fetchall()


def test_each_trial_has_the_moments_of_its_standalone_per_bar_returns(bars):
    cfg = config()
    result = GridSearch(SMACross, GRID, cfg, workers=1).run(bars)
    for row in result.table.iter_rows(named=True):
        r = standalone_returns(bars, {"fast": row["fast"], "slow": row["slow"]}, cfg)
        d = r - r.mean()
        m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
        assert row["return_count"] == len(r) == bars["ts"].n_unique() - 1
        assert isclose(row["mean_return"], r.mean())
        assert isclose(row["stdev_return"], r.std(ddof=1))
        assert math.isclose(row["skewness"], m3 / m2 ** 1.5, rel_tol=1e-7)
        assert math.isclose(row["kurtosis"], m4 / m2 ** 2, rel_tol=1e-7)
        alone = BacktestEngine(SMACross(fast=row["fast"], slow=row["slow"]), cfg).run(bars)
        assert row["closed_trade_count"] == alone.trades.filter(pl.col("status") == "closed").height
        assert 0 <= row["probabilistic_sharpe_ratio"] <= 1


def test_the_pbo_is_that_of_the_standalone_returns_and_every_split_is_kept(bars, tmp_path):
    cfg = config(tmp_path)
    result = GridSearch(SMACross, GRID, cfg, workers=1).run(bars)
    matrix = np.array([standalone_returns(bars, {"fast": f, "slow": s}, cfg)
                       for f, s in result.table.select("fast", "slow").iter_rows()])
    expected = pbo(block_sums(matrix, 16))
    assert result.pbo == expected.pbo and 0 <= result.pbo <= 1
    (stored,) = rows(result, "SELECT pbo FROM grid_runs WHERE run_id = ?")
    assert stored == (result.pbo,)
    splits = rows(result, "SELECT count(*), avg((logit <= 0)::INTEGER), min(split), max(split) "
                          "FROM grid_pbo_splits WHERE run_id = ?")
    assert splits[0][0] == 12870 and math.isclose(splits[0][1], result.pbo, abs_tol=FLOAT_TOLERANCE)
    assert splits[0][2:] == (1, 12870)
    first = rows(result, "SELECT combination, in_sample_sharpe_ratio, out_of_sample_rank FROM grid_pbo_splits "
                         "WHERE run_id = ? AND split = 1")[0]
    assert first[0] == expected.best[0] + 1 and first[2] == expected.rank[0]
    assert isclose(first[1], expected.in_sample[0] * math.sqrt(252))


def test_a_study_adds_up_the_completed_trials_of_its_searches(bars, tmp_path):
    cfg = config(tmp_path, commission_bps=1.0)
    first = GridSearch(Exploding, {"fast": [3, 5], "slow": [20], "explode_at": [-1, 60]}, cfg, workers=1,
                       study="smas").run(bars)
    assert first.table["status"].to_list().count("failed") == 2
    assert first.trials == 2 and first.study == "smas"  # failed combinations are not trials
    second = GridSearch(SMACross, GRID, cfg, workers=1, study="smas").run(bars)
    assert second.trials == 2 + 6
    alone = GridSearch(SMACross, GRID, cfg, workers=1).run(bars)
    assert alone.trials == 6  # no study: its own
    other = GridSearch(SMACross, GRID, cfg, workers=1, study="other").run(bars)
    assert other.trials == 6
    stored = rows(second, "SELECT study, trials, deflated_sharpe_ratio, probabilistic_sharpe_ratio "
                          "FROM grid_runs WHERE run_id = ?")
    assert stored == [("smas", 8, second.deflated_sharpe_ratio, second.probabilistic_sharpe_ratio)]
    # DSR: the best trial's moments against N = 8 and V = the variance of the 8 per-bar Sharpe ratios
    both = pl.concat([first.table.filter(pl.col("status") == "completed").select("sharpe_ratio"),
                      second.table.select("sharpe_ratio")])
    variance = float(np.var(both["sharpe_ratio"].to_numpy() / math.sqrt(252), ddof=1))
    best = second.table.filter(pl.col("rank") == 1).row(0, named=True)
    assert second.best_trial == ("sma_cross", best["combination"])
    expected = deflated_sharpe_ratio(best["sharpe_ratio"] / math.sqrt(252), best["return_count"],
                                     best["skewness"], best["kurtosis"], 8, variance)
    assert isclose(second.deflated_sharpe_ratio, expected)
    assert second.probabilistic_sharpe_ratio == best["probabilistic_sharpe_ratio"]
    assert second.deflated_sharpe_ratio < second.probabilistic_sharpe_ratio  # picking among 8 costs


def test_min_trades_leaves_combinations_unranked_but_trials(bars):
    cfg = config()
    everything = GridSearch(SMACross, GRID, cfg, workers=1).run(bars)
    counts = sorted(everything.table["closed_trade_count"].to_list())
    cut = counts[3]  # about half have fewer
    result = GridSearch(SMACross, GRID, cfg, workers=1, min_trades=cut).run(bars)
    few = result.table.filter(pl.col("closed_trade_count") < cut)
    assert few.height > 0 and few["rank"].is_null().all()
    ranked = result.table.filter(pl.col("closed_trade_count") >= cut)
    assert sorted(ranked["rank"].to_list()) == list(range(1, ranked.height + 1))
    assert result.trials == 6 and result.min_trades == cut
    assert result.table.filter(pl.col("rank") == 1)["closed_trade_count"][0] >= cut


def test_no_combination_with_enough_trades_leaves_nothing_ranked_and_the_dsr_undefined(bars):
    result = GridSearch(SMACross, GRID, config(), workers=1, min_trades=10_000).run(bars)
    assert result.table["rank"].is_null().all() and result.best_params == {}
    assert result.best_trial is None and math.isnan(result.deflated_sharpe_ratio)
    assert result.trials == 6 and not math.isnan(result.pbo)


def test_pbo_blocks_and_an_undefined_pbo(bars, tmp_path):
    result = GridSearch(SMACross, GRID, config(tmp_path), workers=1, pbo_blocks=4).run(bars)
    assert rows(result, "SELECT count(*) FROM grid_pbo_splits WHERE run_id = ?") == [(6,)]
    assert rows(result, "SELECT pbo_blocks FROM grid_runs WHERE run_id = ?") == [(4,)]
    one = GridSearch(SMACross, {"fast": [3], "slow": [20]}, config(tmp_path), workers=1).run(bars)
    assert math.isnan(one.pbo) and one.trials == 1
    assert rows(one, "SELECT pbo, trials FROM grid_runs WHERE run_id = ?") == [(None, 1)]
    assert one.deflated_sharpe_ratio == one.probabilistic_sharpe_ratio  # N = 1: PSR(0)
    few_bars = bars.filter(pl.col("ts").is_in(bars["ts"].unique().sort()[:12].to_list()))
    short = GridSearch(SMACross, {"fast": [2, 3], "slow": [4, 5]}, config(), workers=1).run(few_bars)
    assert math.isnan(short.pbo)  # 11 returns: fewer than 16 blocks


@pytest.mark.parametrize("kwargs, message", [
    ({"study": ""}, "study: must be a non-empty name"),
    ({"study": 3}, "study: must be a non-empty name"),
    ({"min_trades": -1}, "min_trades: must be a whole number >= 0"),
    ({"min_trades": 1.5}, "min_trades: must be a whole number >= 0"),
    ({"pbo_blocks": 15}, "pbo_blocks: must be an even whole number from 2 to 20"),
    ({"pbo_blocks": 22}, "pbo_blocks: must be an even whole number from 2 to 20"),
])
def test_invalid_trial_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GridSearch(SMACross, GRID, config(), **kwargs)


TRIAL_COLUMNS = {"grid_runs": ("study", "min_trades", "pbo_blocks", "trials", "deflated_sharpe_ratio",
                               "probabilistic_sharpe_ratio", "pbo"),
                 "grid_results": ("return_count", "mean_return", "stdev_return", "skewness", "kurtosis",
                                  "probabilistic_sharpe_ratio", "closed_trade_count")}


def test_a_warehouse_from_before_trials_gains_their_columns_and_table(bars, tmp_path):
    """Migration 007: a warehouse whose grid tables lack the trial columns (and grid_pbo_splits)
    gains them; its earlier searches belong to no study and count in none."""
    import duckdb

    cfg = config(tmp_path)
    old = GridSearch(SMACross, GRID, cfg, workers=1, study="s").run(bars)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("DROP TABLE grid_pbo_splits")
        for table, columns in TRIAL_COLUMNS.items():
            for column in columns:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    later = GridSearch(SMACross, GRID, cfg, workers=1, study="s").run(bars)
    assert later.trials == 6  # the earlier search has no study any more
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        for table, columns in TRIAL_COLUMNS.items():
            found = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                               [table]).fetchall()}
            assert set(columns) <= found
        assert con.execute("SELECT run_id = ?, study FROM grid_runs ORDER BY started_at",
                           [later.run_id]).fetchall() == [(False, None), (True, "s")]
        assert con.execute("SELECT count(DISTINCT run_id) FROM grid_pbo_splits").fetchone() == (1,)
    from sqlorch.report.grid import grid_report_context, render_grid

    md = render_grid(grid_report_context(later.warehouse, old.run_id), "md")
    assert "Probability of backtest overfitting: **\u2013** (not computed: a search by an earlier sqlorch)" in md
