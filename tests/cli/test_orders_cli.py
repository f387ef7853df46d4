"""Order options from the command line (SPEC §8, issue 26): a built-in with a stop-loss and a
take-profit in `sqlorch run`, and `sqlorch grid` over `stop_loss = [0.02, 0.05, 0.1]`, end to end
through click's runner in a scratch directory."""

from __future__ import annotations

from pathlib import Path

import duckdb
from clitools import invoke, write

DATA = """
    [data]
    synthetic = { symbols = 2, years = 1, seed = 3 }

    [backtest]
    warehouse = "w.duckdb"
"""


def test_run_a_builtin_with_a_stop_loss_and_a_take_profit(here: Path) -> None:
    config = write(here / "run.toml", DATA + """
    [[strategies]]
    class = "sma_cross"
    weight = "1"
    params = { fast = 5, slow = 20, stop_loss = 0.02, take_profit = 0.04 }
    """)
    result = invoke("run", str(config), "--no-report", "--quiet")
    assert result.exit_code == 0, result.output
    with duckdb.connect("w.duckdb", read_only=True) as con:
        types = dict(con.execute("SELECT order_type, count(*) FROM fills GROUP BY ALL").fetchall())
        params = con.execute("SELECT params FROM run_strategies").fetchall()
        options = con.execute("SELECT DISTINCT orders FROM signals WHERE side = 'buy'").fetchall()
    assert set(types) == {"market", "stop_loss", "take_profit"}
    assert '"stop_loss":0.02' in params[0][0] and '"take_profit":0.04' in params[0][0]
    assert options == [('{"stop_loss":0.02,"take_profit":0.04}',)]


def test_grid_over_stop_loss(here: Path) -> None:
    config = write(here / "grid.toml", DATA + """
    [[strategies]]
    class = "sma_cross"
    params = { fast = 5, slow = 20, stop_loss = [0.02, 0.05, 0.1] }
    """)
    result = invoke("grid", str(config), "--workers", "1", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert "3 combinations of 1 strategy" in result.stdout
    with duckdb.connect("w.duckdb", read_only=True) as con:
        rows = con.execute("SELECT value, count(*) FROM grid_parameters WHERE parameter = 'stop_loss' "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
        equity = con.execute("SELECT count(DISTINCT final_equity) FROM grid_results").fetchall()
    assert [r[1] for r in rows] == [1, 1, 1]
    assert equity == [(3,)]


def test_a_bad_option_is_a_message_not_a_traceback(here: Path) -> None:
    config = write(here / "run.toml", DATA + """
    [[strategies]]
    class = "sma_cross"
    weight = "1"
    params = { fast = 5, slow = 20, stop_loss = 0.05, trail = 0.1 }
    """)
    result = invoke("run", str(config), "--no-report", "--quiet")
    assert result.exit_code == 1
    assert "one stop per position" in result.output and "Traceback" not in result.output
