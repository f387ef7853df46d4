"""`sqlorch grid` end to end (click's runner, in a scratch directory): the TOML grid file, the
options, what is printed and stored, the report of a grid run, and bad input."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from clitools import invoke, write

from sqlorch.grid.plan import read_grid_plan

GRID = """
    [data]
    synthetic = { symbols = 2, years = 1, seed = 3 }

    [backtest]
    commission_bps = 1.0

    [grid]
    metric = "sortino_ratio"

    [[strategies]]
    class = "sma_cross"
    params = { fast = { from = 3, to = 9, step = 3 }, slow = [20, 40] }
    constraint = "fast < slow"
    weight = "0.5"

    [[strategies]]
    name = "mom"
    class = "momentum"
    params = { lookback = [5, 10, 20] }
"""


def test_grid_runs_prints_the_best_and_stores_everything(here: Path) -> None:
    config = write(here / "grid.toml", GRID)
    result = invoke("grid", str(config), "--top", "2", "--metric", "total_return", "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    out = result.stdout
    run_id = out.split()[1].rstrip(":")
    assert "9 combinations of 2 strategies (0 failed, 0 dropped by constraints), 2 symbols, 252 bars" in out
    assert "ranked by total_return" in out
    assert "sma_cross: best fast=" in out and "mom: best lookback=" in out
    lines = out.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("rank  fast  slow  total_return"))
    assert [line.split()[0] for line in lines[header + 2:header + 4]] == ["1", "2"]
    assert lines[header + 4] == ""  # --top 2
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        assert con.execute("SELECT metric, combination_count, source FROM grid_runs").fetchall() == [
            ("total_return", 9, str(config))]
        best = con.execute("SELECT strategy_id, params FROM grid_results WHERE rank = 1 ORDER BY 1").fetchall()
    assert [sid for sid, _ in best] == ["mom", "sma_cross"]
    html, md = here / "reports" / f"{run_id}.html", here / "reports" / f"{run_id}.md"
    assert f"report     reports/{run_id}.html" in out and html.exists() and md.exists()
    assert "<svg" not in md.read_text() and "### Top 2" in md.read_text()
    assert f"[{run_id}.html]({run_id}.html)" in md.read_text()
    listing = invoke("runs")
    assert run_id in listing.stdout and " grid " in listing.stdout


def test_the_file_sets_the_defaults_and_options_win(here: Path) -> None:
    config = write(here / "grid.toml", GRID.replace('metric = "sortino_ratio"',
                                                    'metric = "sortino_ratio"\n    top = 1\n    workers = 2'))
    plan = read_grid_plan(config)
    assert (plan.metric, plan.top, plan.workers, plan.executor) == ("sortino_ratio", 1, 2, None)
    assert plan.grids[0].params == {"fast": (3, 6, 9), "slow": (20, 40)} and plan.grids[1].strategy_id == "mom"
    result = invoke("grid", str(config), "--no-report", "--quiet")
    assert result.exit_code == 0, result.output
    assert "ranked by sortino_ratio" in result.stdout and "on 2 local worker(s)" in result.stdout
    assert not (here / "reports").exists()
    rows = [line for line in result.stdout.splitlines() if line[:4].strip() == "1"]
    assert len(rows) == 2  # top 1 of each strategy


def test_report_detects_a_grid_run(here: Path) -> None:
    config = write(here / "grid.toml", GRID)
    assert invoke("grid", str(config), "--workers", "1", "--quiet", "--no-report").exit_code == 0
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        (run_id,), = con.execute("SELECT run_id FROM grid_runs").fetchall()
    latest = invoke("report", "--format", "md", "-o", "latest.md", "--top", "3")
    assert latest.exit_code == 0, latest.output
    text = (here / "latest.md").read_text()
    assert text.startswith(f"# sqlorch grid {run_id}") and "### Top 3" in text and "<svg" not in text
    # written alone, it says how to write the HTML report with the charts
    assert f"(`sqlorch report {run_id} --format html`)" in text
    named = invoke("report", run_id)
    assert named.exit_code == 0 and (here / "reports" / f"{run_id}.html").exists()
    assert "sqlorch grid search report" in (here / "reports" / f"{run_id}.html").read_text()
    assert invoke("report", run_id, "--top", "0").stderr.startswith("Error: --top must be 1 or more")


@pytest.mark.parametrize(("change", "message"), [
    (("fast = { from = 3, to = 9, step = 3 }", "fast = []"), "[[strategies]] #1 params.fast: the list of values is empty"),
    (("fast = { from = 3, to = 9, step = 3 }", "fats = [3]"),
     "[[strategies]] #1 SMACross has no parameter 'fats' (did you mean 'fast'?)"),
    (("fast = { from = 3, to = 9, step = 3 }", "fast = [0, 3]"), "sma_cross fast must be a whole number >= 1, got 0"),
    (("step = 3", "step = 0"), "params.fast: a range needs step > 0 and from <= to"),
    (("step = 3", "stepp = 3"), "params.fast.stepp: unknown key (did you mean 'step'?)"),
    (('metric = "sortino_ratio"', 'metrik = "x"'), "[grid] metrik: unknown key (did you mean 'metric'?)"),
    (('metric = "sortino_ratio"', 'metric = "sortino"'), "[grid] metric: 'sortino' is not a metric"),
    (('metric = "sortino_ratio"', 'executor = "spark"'), "[grid] executor: 'spark' is not one of local, ray"),
    (('metric = "sortino_ratio"', "workers = 0"), "[grid] workers: must be a whole number >= 1, got 0"),
    (('constraint = "fast < slow"', 'constraint = "fast < slwo"'), "'slwo' is not a parameter of the grid"),
    (('constraint = "fast < slow"', "constraint = 3"), "constraint: write it as a string"),
    (('class = "momentum"', 'class = "momentun"'), "is not a built-in strategy (did you mean 'momentum'?)"),
    (('weight = "0.5"', 'wieght = "0.5"'), "[[strategies]] #1 wieght: unknown key (did you mean 'weight'?)"),
])
def test_bad_grid_files_say_what_to_fix(here: Path, change: tuple[str, str], message: str) -> None:
    config = write(here / "grid.toml", GRID.replace(*change))
    result = invoke("grid", str(config), "--quiet")
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert not (here / "warehouse").exists()  # nothing ran


@pytest.mark.parametrize(("args", "message"), [
    (["--metric", "sharpe"], "metric: 'sharpe' is not a metric (did you mean 'sharpe_ratio'?)"),
    (["--workers", "0"], "workers: must be a whole number >= 1, got 0"),
    (["--top", "0"], "--top must be 1 or more"),
    (["--address", "ray://head:10001"], "--address is the address of a Ray cluster: use it with --executor ray"),
])
def test_bad_options_say_what_to_fix(here: Path, args: list[str], message: str) -> None:
    config = write(here / "grid.toml", GRID)
    result = invoke("grid", str(config), "--quiet", *args)
    assert result.exit_code == 1 and message in result.stderr


def test_more_file_problems(here: Path) -> None:
    text = """
        [data]
        synthetic = { symbols = 1, years = 1 }
        [grid]
        address = 5
        [[strategies]]
        params = [1, 2]
        [[strategies]]
        class = "sma_cross"
        params = { fast = { from = "a", to = 9 }, slow = { from = 1, to = 1000000, step = 0.001 } }
    """
    result = invoke("grid", str(write(here / "g.toml", text)))
    assert result.exit_code == 1
    err = result.stderr
    assert "[grid] address: must be a Ray address" in err
    assert "[[strategies]] #1 class: missing" in err and "#1 params: must be a table" in err
    assert "#2 params.fast: a range needs numbers from and to" in err
    assert "#2 params.slow: the range has 999999001 values" in err
    empty = invoke("grid", str(write(here / "e.toml", "[data]\nsynthetic = { symbols = 1, years = 1 }\n[grid]\n")))
    assert "no strategies; add a [[strategies]] table with class and params" in empty.stderr
    odd = invoke("grid", str(write(here / "o.toml", "grid = 1\nstrategies = 2\n")))
    assert "[grid] must be a table" in odd.stderr and "write each strategy as its own" in odd.stderr
    assert "cannot read the configuration file" in invoke("grid", "missing.toml").stderr


def test_sqlorch_run_points_lists_to_sqlorch_grid(here: Path) -> None:
    config = write(here / "run.toml", GRID)
    result = invoke("run", str(config), "--quiet")
    assert result.exit_code == 1
    assert "params.fast: a list or range of values is a grid; run it with `sqlorch grid`" in result.stderr
    assert "[grid]: unknown key" in result.stderr or "grid: unknown key" in result.stderr


def test_ray_missing_is_a_clear_message(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    config = write(here / "grid.toml", GRID)
    result = invoke("grid", str(config), "--executor", "ray", "--quiet")
    assert result.exit_code == 1
    assert 'the Ray executor needs Ray, which is not installed: pip install -e ".[ray]"' in result.stderr


def test_a_strategy_module_next_to_the_file_runs_in_worker_processes(here: Path) -> None:
    (here / "cfg").mkdir()
    write(here / "cfg" / "grid_cli_mine.py", """
        from sqlorch.strategies import SMACross

        class Slower(SMACross):
            def __init__(self, fast=5, slow=20, lag=1):
                super().__init__(fast=fast, slow=slow * lag)
    """)
    config = write(here / "cfg" / "grid.toml", """
        [data]
        synthetic = { symbols = 1, years = 1, seed = 3 }
        [[strategies]]
        class = "grid_cli_mine:Slower"
        params = { fast = [3, 5], lag = [1, 2] }
    """)
    result = invoke("grid", str(config), "--workers", "2", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert "4 combinations of 1 strategy (0 failed" in result.stdout and "on 2 local worker(s)" in result.stdout


def test_a_warehouse_written_before_grids_still_lists_and_reports(here: Path) -> None:
    assert invoke("run", "--quiet", "--no-report").exit_code == 0
    with duckdb.connect("warehouse/sqlorch.duckdb") as con:  # as an older sqlorch left it
        con.execute("DROP VIEW grid_sensitivity; DROP VIEW grid_parameters; DROP TABLE grid_results; "
                    "DROP TABLE grid_runs")
    listing = invoke("runs")
    assert listing.exit_code == 0 and "orchestrator" in listing.stdout
    report = invoke("report", "--format", "md")
    assert report.exit_code == 0, report.output
