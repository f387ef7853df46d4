"""The `sqlorch` command line: parses options, calls the library, prints results.

Errors a user can cause print as one message with exit status 1; `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import importlib.resources
import warnings
from pathlib import Path
from typing import Any

import click
import duckdb
import polars as pl

from sqlorch.config import DEFAULT_WAREHOUSE
from sqlorch.config_file import RunPlan, read_plan
from sqlorch.correlation import high_pairs, warning_lines
from sqlorch.data import load_bars
from sqlorch.demo import synthetic_bars
from sqlorch.engine import StrategyOrchestrator
from sqlorch.errors import SqlorchError
from sqlorch.market import Panel
from sqlorch.progress import ProgressBar
from sqlorch.report import FORMATS, latest_run_id, report_context, write_report, write_reports
from sqlorch.runner import dataset_id
from sqlorch.table import format_comparison, format_table
from sqlorch.warehouse import Warehouse, process_alive, register_dataset

DEMO_CONFIG = "demo.toml"


class _Cli(click.Group):
    """A group that turns SqlorchError into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SqlorchError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


def _err(message: str) -> None:
    click.echo(message, err=True)


warehouse_option = click.option(
    "--warehouse", "warehouse", type=click.Path(dir_okay=False), default=DEFAULT_WAREHOUSE,
    show_default=True, help="DuckDB warehouse file.")


@click.group(cls=_Cli)
@click.version_option(package_name="sqlorch")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """sqlorch: several strategies in one backtest, every number in DuckDB.

    Example: sqlorch run && sqlorch sql "SELECT * FROM comparison"
    """


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--warehouse", type=click.Path(dir_okay=False),
              help="DuckDB warehouse file (default: the config's warehouse key).")
@click.option("--log-dir", type=click.Path(file_okay=False),
              help="Directory of the JSONL audit logs (default: the config's log_dir key).")
@click.option("--report-dir", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Directory of the reports (<run_id>.html and <run_id>.md).")
@click.option("--no-report", is_flag=True, help="Write no reports.")
@click.option("--lock-timeout", type=float, help="Seconds to wait for another run's write lock [default: 60].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(config: str | None, warehouse: str | None, log_dir: str | None, report_dir: str, no_report: bool,
        lock_timeout: float | None, quiet: bool) -> None:
    """Run the backtest described by CONFIG (TOML); without CONFIG, run the demo.

    Prints the comparison table, a warning for strategies whose daily returns correlate above
    0.8, and where the warehouse, log and reports (HTML and Markdown) were written.

    Example: sqlorch run my_backtest.toml --warehouse warehouse/research.duckdb
    """
    overrides = {key: value for key, value in
                 {"warehouse": warehouse, "log_dir": log_dir, "lock_timeout": lock_timeout}.items()
                 if value is not None}
    plan = read_plan(config or _demo_config(), overrides)
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        orchestrator = StrategyOrchestrator([(s.strategy, s.weight) for s in plan.strategies], plan.config)
    for note in notes:
        _err(f"Note: {note.message}")
    progress = ProgressBar("backtest") if not quiet else None
    try:
        result = orchestrator.run(bars, progress=progress, on_wait=_err,
                                  source=plan.source if config else "demo")
    finally:
        if progress:
            progress.close()
    _print_run(plan, result.run_id, result.comparison_table, None if no_report else Path(report_dir),
               warning_lines(high_pairs(result.correlation)))


def _demo_config() -> str:
    return str(importlib.resources.files("sqlorch") / DEMO_CONFIG)


def _print_run(plan: RunPlan, run_id: str, comparison: pl.DataFrame, report_dir: Path | None,
               warnings_: list[str]) -> None:
    config = plan.config
    warehouse = Warehouse(config.warehouse, config.lock_timeout)
    facts = warehouse.query(
        "SELECT r.strategy_count, r.symbol_count, r.bars_processed, min(c.ts) AS first, max(c.ts) AS last "
        "FROM runs r JOIN run_clock c USING (run_id) WHERE run_id = ? GROUP BY ALL", [run_id]).row(0, named=True)
    click.echo(f"run {run_id}: {facts['strategy_count']} strategies, {facts['symbol_count']} symbols, "
               f"{facts['bars_processed']} bars from {facts['first']:%Y-%m-%d} to {facts['last']:%Y-%m-%d}\n")
    click.echo(format_comparison(comparison))
    if warnings_:
        click.echo("")
    for line in warnings_:
        click.echo(f"Warning: {line}")
    reports = write_reports(warehouse, run_id, report_dir, comparison=comparison) if report_dir is not None else {}
    click.echo("")
    click.echo(f"warehouse  {config.warehouse}")
    if config.log_dir:
        click.echo(f"log        {Path(config.log_dir) / f'{run_id}.jsonl'}")
    if reports:
        click.echo(f"report     {reports['html']}")
        click.echo(f"summary    {reports['md']}")
    click.echo(f"\nexplore    sqlorch sql \"SELECT * FROM trades WHERE run_id = '{run_id}'\"")


@cli.command()
@click.argument("run_id", required=False)
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="html", show_default=True,
              help="HTML (one self-contained page with charts) or Markdown.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="File to write [default: reports/<run_id>.<format>].")
def report(run_id: str | None, warehouse: str, fmt: str, output: str | None) -> None:
    """Write the report of RUN_ID (default: the latest finished run) from the warehouse views.

    Example: sqlorch report --format md -o latest.md
    """
    store = Warehouse(warehouse, on_wait=_err)
    run_id = run_id or latest_run_id(store)
    context = report_context(store, run_id)
    path = write_report(context, Path(output or Path("reports") / f"{run_id}.{fmt}"), fmt)
    for line in context["warnings"]:
        click.echo(f"Warning: {line}")
    click.echo(f"report     {path}")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@warehouse_option
@click.option("--start", help="First date to keep (inclusive), like 2015-01-01.")
@click.option("--end", help="Last date to keep (inclusive).")
def ingest(paths: tuple[str, ...], warehouse: str, start: str | None, end: str | None) -> None:
    """Validate bar files (Yahoo CSV, plain CSV, Parquet; globs allowed) and store them in the
    warehouse's `bars` table as one dataset.

    Example: sqlorch ingest "data/*.csv" --start 2015-01-01
    """
    bars = load_bars(list(paths), start=start, end=end)
    panel = Panel.from_bars(bars)
    data_id = dataset_id(panel)
    with Warehouse(warehouse, on_wait=_err).transaction() as con:
        new = register_dataset(con, bars, data_id, " ".join(paths))
    first, last = panel.timestamps[0].astype("datetime64[D]"), panel.timestamps[-1].astype("datetime64[D]")
    click.echo(f"dataset {data_id}: {len(panel.symbols)} symbols, {bars.height} bars, {first} to {last}"
               f" ({'stored' if new else 'already stored'} in {warehouse})")
    click.echo(f"symbols  {', '.join(panel.symbols)}")


@cli.command()
@warehouse_option
@click.option("--limit", type=int, default=20, show_default=True, help="How many runs to show.")
def runs(warehouse: str, limit: int) -> None:
    """List the runs in the warehouse, newest first. A run whose process died before it
    finished shows as incomplete.

    Example: sqlorch runs --limit 5
    """
    listed = Warehouse(warehouse, on_wait=_err).query(
        "SELECT run_id, status, kind, started_at, round(duration_seconds, 2) AS seconds, strategy_count "
        "AS strategies, symbol_count AS symbols, bars_processed AS bars, pid, hostname, error "
        "FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", [limit])
    if listed.is_empty():
        click.echo(f"no runs in {warehouse} yet")
        return
    listed = listed.with_columns(
        pl.struct("status", "pid").map_elements(_shown_status, return_dtype=pl.String).alias("status"))
    click.echo(format_table(listed.drop("pid", "hostname")))


def _shown_status(row: dict[str, Any]) -> str:
    if row["status"] == "running" and (row["pid"] is None or not process_alive(row["pid"])):
        return "incomplete"
    return row["status"]


@cli.command("sql")
@click.argument("query")
@warehouse_option
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--max-rows", type=int, default=100, show_default=True,
              help="Rows to print in table format (csv and json print all).")
def sql_command(query: str, warehouse: str, output: str, max_rows: int) -> None:
    """Run a read-only SQL query on the warehouse and print the result.

    Example: sqlorch sql "SELECT strategy_id, total_return FROM comparison ORDER BY 2 DESC"
    """
    try:
        result = Warehouse(warehouse, on_wait=_err).query(query)
    except duckdb.Error as exc:
        raise SqlorchError(f"the query failed: {exc}") from None
    if output == "csv":
        click.echo(result.write_csv(), nl=False)
    elif output == "json":
        click.echo(result.write_json())
    else:
        click.echo(format_table(result.head(max_rows)))
        if result.height > max_rows:
            click.echo(f"... {result.height - max_rows} more rows (--max-rows, or --format csv)")
