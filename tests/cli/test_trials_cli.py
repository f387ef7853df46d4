"""`sqlorch grid --study/--min-trades/--pbo-blocks` and `sqlorch trials` end to end (click's
runner, in a scratch directory): a study's trials add up across searches, what is printed and
stored, the [grid] keys, and bad input."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from clitools import invoke, write

from sqlorch.grid.plan import read_grid_plan

GRID = """
    [data]
    synthetic = { symbols = 2, years = 1, seed = 3 }

    [grid]
    study = "smas"

    [[strategies]]
    class = "sma_cross"
    params = { fast = [3, 5, 8], slow = [20, 40] }
"""


def test_a_study_gathers_the_trials_of_its_searches(here: Path) -> None:
    config = write(here / "grid.toml", GRID)
    first = invoke("grid", str(config), "--no-report", "--quiet", "--workers", "1")
    assert first.exit_code == 0, first.output
    assert "deflated Sharpe ratio" in first.stdout and "over the 6 trials of study smas" in first.stdout
    assert "probability of backtest overfitting (PBO, 16 blocks) " in first.stdout
    second = invoke("grid", str(config), "--no-report", "--quiet", "--workers", "1", "--pbo-blocks", "4",
                    "--min-trades", "12")
    assert second.exit_code == 0, second.output
    assert "over the 12 trials of study smas" in second.stdout
    assert "(at least 12 closed trades)" in second.stdout and "closed_trade_count" in second.stdout
    assert "(PBO, 4 blocks)" in second.stdout
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        assert con.execute("SELECT study, trials, pbo_blocks, min_trades FROM grid_runs ORDER BY started_at"
                           ).fetchall() == [("smas", 6, 16, 0), ("smas", 12, 4, 12)]
        unranked = con.execute("SELECT count(*) FROM grid_results r JOIN grid_runs g USING (run_id) "
                               "WHERE g.min_trades = 12 AND r.closed_trade_count < 12 AND r.rank IS NULL"
                               ).fetchone()[0]
        assert unranked > 0
    other = invoke("grid", str(config), "--no-report", "--quiet", "--workers", "1", "--study", "other")
    assert "over the 6 trials of study other" in other.stdout

    listing = invoke("trials")
    assert listing.exit_code == 0, listing.output
    rows = {line.split()[0]: line.split()[1:3] for line in listing.stdout.splitlines()[2:]}
    assert rows == {"smas": ["2", "12"], "other": ["1", "6"]}
    one = invoke("trials", "smas")
    assert one.exit_code == 0, one.output
    assert one.stdout.splitlines()[0] == "study smas: 2 completed search(es), 12 completed trials"
    assert "deflated_sharpe_ratio" in one.stdout and len(one.stdout.splitlines()) == 5

    wrong = invoke("trials", "sma")
    assert wrong.exit_code == 1 and "no study 'sma' in warehouse/sqlorch.duckdb (did you mean 'smas'?)" in \
        wrong.stderr and "Traceback" not in wrong.output


def test_trials_of_an_empty_warehouse(here: Path) -> None:
    missing = invoke("trials", "--warehouse", "none.duckdb")
    assert missing.exit_code == 1 and "no warehouse at none.duckdb" in missing.stderr
    runs = invoke("run", "--no-report", "--quiet")
    assert runs.exit_code == 0, runs.output
    empty = invoke("trials")
    assert empty.exit_code == 0 and "no studies in warehouse/sqlorch.duckdb yet" in empty.stdout
    unknown = invoke("trials", "x")
    assert unknown.exit_code == 1 and "no study 'x' in warehouse/sqlorch.duckdb" in unknown.stderr


def test_the_grid_table_sets_the_trial_options(here: Path) -> None:
    config = write(here / "grid.toml", GRID.replace('study = "smas"',
                                                    'study = "smas"\n    min_trades = 3\n    pbo_blocks = 8'))
    plan = read_grid_plan(config)
    assert (plan.study, plan.min_trades, plan.pbo_blocks) == ("smas", 3, 8)


@pytest.mark.parametrize(("change", "message"), [
    (('study = "smas"', 'study = ""'), "[grid] study: must be a non-empty name"),
    (('study = "smas"', "min_trades = -2"), "[grid] min_trades: must be a whole number >= 0, got -2"),
    (('study = "smas"', "pbo_blocks = 5"), "[grid] pbo_blocks: must be an even whole number from 2 to 20"),
])
def test_bad_trial_keys_say_what_to_fix(here: Path, change: tuple[str, str], message: str) -> None:
    config = write(here / "grid.toml", GRID.replace(*change))
    result = invoke("grid", str(config), "--quiet")
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output


def test_bad_trial_options_say_what_to_fix(here: Path) -> None:
    config = write(here / "grid.toml", GRID)
    result = invoke("grid", str(config), "--quiet", "--pbo-blocks", "7")
    assert result.exit_code == 1 and "pbo_blocks: must be an even whole number" in result.stderr
