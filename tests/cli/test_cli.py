"""The `sqlorch` command line, run in-process with click's runner in a scratch directory."""

from __future__ import annotations

import io
import json
import textwrap
import time
from pathlib import Path

import click
import duckdb
import pytest
from click.testing import CliRunner
from clitools import invoke

from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.cli.progress import ProgressBar


def write_bars(directory: Path, symbols: int = 3) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    bars = synthetic_bars(symbols=symbols, years=1, seed=5)
    for (symbol,), part in bars.group_by("symbol"):
        part.drop("symbol").rename({"ts": "Date", "open": "Open", "high": "High", "low": "Low",
                                    "close": "Close", "volume": "Volume"}).write_csv(directory / f"{symbol}.csv")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_demo_run_prints_the_table_and_writes_everything(here: Path) -> None:
    result = invoke("run", "--quiet")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    run_id = lines[0].split()[1].rstrip(":")
    assert "3 strategies, 10 symbols, 504 bars" in lines[0]
    table = [line.split()[0] for line in lines[2:8]]
    assert table == ["strategy", "------------", "buy_and_hold", "momentum", "rsi", "portfolio"]
    assert (here / "warehouse" / "sqlorch.duckdb").exists()
    log = here / "logs" / "backtest" / f"{run_id}.jsonl"
    summary = here / "reports" / f"{run_id}.md"
    assert f"log        {log.relative_to(here)}" in result.stdout
    assert f"summary    {summary.relative_to(here)}" in result.stdout
    first = json.loads(log.read_text().splitlines()[0])
    assert first["event"] == "orchestrator.backtest_started" and first["run_id"] == run_id
    text = summary.read_text()
    assert f"# sqlorch run {run_id}" in text and "| portfolio |" in text and "Status: **completed**" in text


def test_demo_is_deterministic(here: Path) -> None:
    first = invoke("run", "--quiet", "--warehouse", "a.duckdb")
    second = invoke("run", "--quiet", "--warehouse", "b.duckdb")
    assert first.stdout.splitlines()[2:8] == second.stdout.splitlines()[2:8]


def test_run_a_user_config_with_own_strategy_and_relative_paths(here: Path) -> None:
    write_bars(here / "project" / "data")
    write(here / "project" / "mystrats.py", """
        from sqlorch import Signal

        class EveryTenth:
            def __init__(self, every=10):
                self.every = every
            def on_bar(self, ctx):
                if ctx.t % (2 * self.every) == 0:
                    return [Signal.buy(s, 0.3) for s in ctx.symbols]
                if ctx.t % self.every == 0:
                    return [Signal.exit(s) for s in ctx.symbols]
    """)
    config = write(here / "project" / "bt.toml", """
        [data]
        paths = ["data/*.csv"]
        start = "2023-02-01"

        [backtest]
        commission_bps = 2.0
        warehouse = "out/w.duckdb"
        log_dir = "out/logs"

        [[strategies]]
        name = "tenth"
        class = "mystrats:EveryTenth"
        weight = "0.6"
        params = { every = 5 }

        [[strategies]]
        class = "sma_cross"
        weight = "0.4"
        params = { fast = 5, slow = 20 }
    """)
    result = invoke("run", str(config), "--quiet", "--report-dir", "out/reports")
    assert result.exit_code == 0, result.output
    assert "2 strategies, 3 symbols" in result.stdout and "from 2023-02-01" in result.stdout
    assert "tenth" in result.stdout and "sma_cross" in result.stdout
    with duckdb.connect(str(here / "out" / "w.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT strategy_id, class_name, params FROM run_strategies ORDER BY position").fetchall()
    assert rows == [("tenth", "mystrats:EveryTenth", '{"every":5}'),
                    ("sma_cross", "sqlorch.strategies.builtin:SMACross", '{"fast":5,"slow":20}')]


def test_config_problems_are_all_reported_at_once(here: Path) -> None:
    config = write(here / "bad.toml", """
        [data]
        paths = ["nowhere/*.csv"]
        sart = "2020-01-01"

        [backtest]
        comission_bps = 1.0
        fill = "nextopen"
        initial_capital = "-5"

        [[strategies]]
        class = "sma_crossover"
        weight = "0.5"

        [[strategies]]
        class = "rsi"
        weight = "half"
        params = { perod = 10 }
    """)
    result = invoke("run", str(config))
    assert result.exit_code == 1
    err = result.stderr
    assert err.startswith("Error: ") and "Traceback" not in err
    for expected in ("[data] sart: unknown key (did you mean 'start'?)",
                     "[backtest] comission_bps: unknown key (did you mean 'commission_bps'?)",
                     "fill: 'nextopen' is not one of next_open, close (did you mean 'next_open'?)",
                     "initial_capital: must be between 1 and 1,000,000,000,000 (1e12), got -5",
                     "'sma_crossover' is not a built-in strategy (did you mean 'sma_cross'?)",
                     "weight: 'half' is not a number",
                     "params.perod: rsi has no parameter 'perod' (did you mean 'period'?)"):
        assert expected in err, expected


def test_conflict_modes_priorities_and_rebalancing_in_toml(here: Path) -> None:
    config = write(here / "modes.toml", """
        [data]
        synthetic = { symbols = 3, years = 1 }
        [backtest]
        conflict_mode = "first_wins"
        priorities = { trend = 1, buy_and_hold = 2 }
        rebalance_threshold = 0.05
        rebalance_every = 5
        [[strategies]]
        class = "buy_and_hold"
        weight = "0.5"
        [[strategies]]
        name = "trend"
        class = "sma_cross"
        weight = "0.5"
        params = { fast = 3, slow = 10 }
    """)
    result = invoke("run", str(config), "--quiet")
    assert result.exit_code == 0, result.output
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        stored = json.loads(con.execute("SELECT config FROM runs").fetchall()[0][0])
        modes = con.execute("SELECT DISTINCT mode FROM conflicts").fetchall()
    assert stored["conflict_mode"] == "first_wins" and stored["rebalance_threshold"] == 0.05
    assert modes in ([], [("first_wins",)])


@pytest.mark.parametrize("line, message", [
    ('conflict_mode = "frist_wins"', "conflict_mode: 'frist_wins' is not one of net_signal, first_wins, "
                                     "cancel_both, weighted (did you mean 'first_wins'?)"),
    ("rebalance_threshold = 1.5", "rebalance_threshold: must be between 0 and 1"),
    ("priorities = { buy_and_hld = 1 }", "priorities: 'buy_and_hld' is not a strategy of this run "
                                         "(did you mean 'buy_and_hold'?)"),
])
def test_bad_modes_are_explained(here: Path, line: str, message: str) -> None:
    config = write(here / "bad_modes.toml", f"""
        [data]
        synthetic = {{ symbols = 2, years = 1 }}
        [backtest]
        {line}
        [[strategies]]
        class = "buy_and_hold"
        weight = "1"
    """)
    result = invoke("run", str(config))
    assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_bad_data_names_file_and_line(here: Path) -> None:
    write(here / "data" / "AAA.csv", """\
        Date,Open,High,Low,Close,Adj Close,Volume
        2020-01-02,10,11,9,10.5,10.5,100
        2020-01-03,10,9,11,10.5,10.5,100
        2020-01-06,10,11,9,,10.5,100
    """)
    config = write(here / "c.toml", """
        [[strategies]]
        class = "buy_and_hold"
        weight = "1"
    """)
    result = invoke("run", str(config))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "AAA.csv line 3 (AAA 2020-01-03): High 9.0 < Low 11.0" in result.stderr
    assert "AAA.csv line 4 (AAA 2020-01-06): Close is empty" in result.stderr


def test_unreadable_toml(here: Path) -> None:
    result = invoke("run", str(write(here / "x.toml", "[data\n")))
    assert result.exit_code == 1 and "not valid TOML" in result.stderr
    result = invoke("run", "missing.toml")
    assert result.exit_code == 1 and "cannot read the configuration file" in result.stderr


FAILING = """
    from sqlorch import Signal

    class Fragile:
        def on_bar(self, ctx):
            if ctx.t == 30:
                raise ZeroDivisionError("boom")
            if ctx.t == 1:
                return [Signal.buy(ctx.symbols[0], 0.5)]
"""


def test_failing_strategy_is_recorded_and_reported(here: Path) -> None:
    write(here / "fragile.py", FAILING)
    config = write(here / "f.toml", """
        [data]
        synthetic = { symbols = 2, years = 1 }
        [[strategies]]
        class = "fragile:Fragile"
        weight = "1"
    """)
    result = invoke("run", str(config), "--quiet")
    assert result.exit_code == 1
    assert "strategy 'fragile' failed at bar 2023-02-13 00:00:00: ZeroDivisionError: boom" in result.stderr
    listing = invoke("runs")
    assert listing.exit_code == 0 and "failed" in listing.stdout
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        status, processed, error = con.execute("SELECT status, bars_processed, error FROM runs").fetchall()[0]
        fills = con.execute("SELECT count(*) FROM fills").fetchall()[0][0]
        events = [e for (e,) in con.execute("SELECT event FROM events ORDER BY seq").fetchall()]
    assert (status, processed) == ("failed", 31) and "ZeroDivisionError" in error
    assert fills == 1
    assert events[0] == "orchestrator.backtest_started" and events[-1] == "orchestrator.backtest_failed"
    debug = CliRunner().invoke(cli, ["--debug", "run", str(config), "--quiet"])
    assert debug.exit_code == 1 and isinstance(debug.exception, Exception)
    assert type(debug.exception).__name__ == "StrategyError"


def test_overweight_normalize_says_so(here: Path) -> None:
    config = write(here / "n.toml", """
        [data]
        synthetic = { symbols = 2, years = 1 }
        [backtest]
        on_overweight = "normalize"
        [[strategies]]
        class = "buy_and_hold"
        weight = "0.8"
        [[strategies]]
        class = "momentum"
        weight = "0.8"
    """)
    result = invoke("run", str(config), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Note: weights add up to 1.6; scaled down proportionally" in result.stderr
    assert "50.00%" in result.stdout
    (log,) = (here / "logs" / "backtest").glob("*.jsonl")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    (note,) = [e for e in events if e["event"] == "orchestrator.weights_normalized"]
    assert note["before"] == {"buy_and_hold": 0.8, "momentum": 0.8}
    assert note["after"] == {"buy_and_hold": 0.5, "momentum": 0.5}
    rejected = invoke("run", str(write(here / "r.toml", config.read_text().replace("normalize", "reject"))))
    assert rejected.exit_code == 1 and "weights add up to 1.6, more than 1" in rejected.stderr


def test_ingest_stores_once(here: Path) -> None:
    write_bars(here / "data")
    first = invoke("ingest", "data/*.csv", "--start", "2023-03-01")
    assert first.exit_code == 0, first.output
    assert "3 symbols" in first.stdout and "2023-03-01" in first.stdout and "(stored in" in first.stdout
    again = invoke("ingest", "data/*.csv", "--start", "2023-03-01")
    assert "already stored" in again.stdout
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchall() == [(1,)]
        assert con.execute("SELECT min(ts)::DATE::VARCHAR FROM bars").fetchall() == [("2023-03-01",)]
    bad = invoke("ingest", "nothing/*.csv")
    assert bad.exit_code == 1 and "nothing/*.csv: no files match" in bad.stderr


def test_runs_and_sql(here: Path) -> None:
    assert invoke("runs").exit_code == 1  # no warehouse yet
    assert "no warehouse at" in invoke("sql", "SELECT 1").stderr
    invoke("run", "--quiet")
    listing = invoke("runs")
    assert listing.exit_code == 0 and "completed" in listing.stdout and "orchestrator" in listing.stdout
    table = invoke("sql", "SELECT strategy_id, round(total_return, 4) AS r FROM comparison ORDER BY position")
    assert table.exit_code == 0
    assert [line.split()[0] for line in table.stdout.splitlines()] == [
        "strategy_id", "------------", "buy_and_hold", "momentum", "rsi", "portfolio"]
    csv = invoke("sql", "SELECT strategy_id FROM comparison ORDER BY position", "--format", "csv")
    assert csv.stdout.splitlines() == ["strategy_id", "buy_and_hold", "momentum", "rsi", "portfolio"]
    js = invoke("sql", "SELECT count(*) AS n FROM runs", "--format", "json")
    assert json.loads(js.stdout) == [{"n": 1}]
    capped = invoke("sql", "SELECT * FROM range(7)", "--max-rows", "5")
    assert "... 2 more rows" in capped.stdout
    wrong = invoke("sql", "SELECT * FROM nope")
    assert wrong.exit_code == 1 and "the query failed" in wrong.stderr and "nope" in wrong.stderr


def test_runs_on_an_empty_warehouse(here: Path) -> None:
    duckdb.connect("empty.duckdb").close()
    from sqlorch.store.warehouse import Warehouse

    with Warehouse("empty.duckdb").connect():
        pass
    result = invoke("runs", "--warehouse", "empty.duckdb")
    assert result.exit_code == 0 and "no runs in empty.duckdb yet" in result.stdout


def test_every_command_has_help_with_an_example() -> None:
    commands = dict(cli.commands)
    assert set(commands) == {"run", "grid", "combine", "walkforward", "ingest", "runs", "sql", "report", "trials"}
    assert "Example:" in invoke("--help").stdout
    for name in commands:
        result = invoke(name, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout, name


def test_every_command_lives_in_the_module_of_its_name() -> None:
    # the layout rule of sqlorch/cli: `sqlorch <name>` is defined in sqlorch/cli/<name>.py
    for name, command in cli.commands.items():
        assert command.callback.__module__ == f"sqlorch.cli.{name}", name


def test_progress_bar_stays_quiet_on_short_runs_and_shows_on_long_ones() -> None:
    quiet = io.StringIO()
    bar = ProgressBar("backtest", stream=quiet, delay=10)
    bar(50, 100)
    bar.close()
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    bar = ProgressBar("backtest", stream=shown, delay=0, interval=0)
    bar(25, 100)
    time.sleep(0.01)
    bar(100, 100)
    bar.close()
    text = shown.getvalue()
    assert "\rbacktest [#######-----------------------]  25.0% 25/100" in text
    assert "100.0% 100/100" in text and text.endswith("\n")


def test_keyboard_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    def boom() -> None:
        raise KeyboardInterrupt

    cli.add_command(boom)
    try:
        result = invoke("boom")
    finally:
        cli.commands.pop("boom")
    assert result.exit_code == 130 and "Interrupted." in result.stderr


def test_a_gap_of_over_a_year_is_a_warning_on_stderr(here: Path) -> None:
    rows = ["symbol,ts,open,high,low,close,volume"]
    days = [f"2015-01-{d:02d}" for d in range(5, 31)] + [f"2016-06-{d:02d}" for d in range(1, 29)]
    rows += [f"GAP,{day},10,11,9,10,100" for day in days]
    write(here / "data" / "gap.csv", "\n".join(rows) + "\n")
    config = write(here / "gap.toml", """
        [[strategies]]
        class = "buy_and_hold"
        weight = "1"
    """)
    result = invoke("run", str(config), "--quiet", "--no-report")
    assert result.exit_code == 0, result.stderr
    assert "Warning: GAP has no bars for 488 days, from 2015-01-30 to 2016-06-01" in result.stderr
