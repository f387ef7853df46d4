"""`sqlorch run`: one backtest of several strategies from a TOML config (or the demo), then
its comparison table, correlation warnings, and where the warehouse, log and reports went."""

from __future__ import annotations

import importlib.resources
import warnings
from pathlib import Path

import click

from sqlorch.backtest.correlation import high_pairs, warning_lines
from sqlorch.backtest.engine import StrategyOrchestrator
from sqlorch.backtest.results import OrchestratorResult
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli.main import check_directory, echo, err, quoted, reports_of, shown, suggested, writing_options
from sqlorch.cli.progress import progress_bar
from sqlorch.cli.table import format_comparison
from sqlorch.config.plan import RunPlan, read_plan
from sqlorch.report.run import sql_literal, write_reports
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse

DEMO_CONFIG = "demo.toml"


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--log-dir", type=click.Path(file_okay=False),
              help="Directory of the JSONL audit logs (default: the config's log_dir key).")
@writing_options
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
    if not no_report:
        check_directory(Path(report_dir), "--report-dir")
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        orchestrator = StrategyOrchestrator([(s.strategy, s.weight) for s in plan.strategies], plan.config)
    for note in notes:
        err(f"Note: {note.message}")
    store = Warehouse(plan.config.warehouse, plan.config.lock_timeout, on_wait=err)
    with store.held():  # the run's writes, its summary and reports: one open of the file
        with progress_bar("backtest", quiet) as progress:
            result = orchestrator.run(bars, progress=progress, source=plan.source if config else "demo",
                                      warehouse=store)
        _print_run(plan, result, None if no_report else Path(report_dir))


def _demo_config() -> str:
    return str(importlib.resources.files("sqlorch.cli") / DEMO_CONFIG)


def _print_run(plan: RunPlan, result: OrchestratorResult, report_dir: Path | None) -> None:
    config, warehouse, run_id, comparison = plan.config, result.warehouse, result.run_id, result.comparison_table
    warnings_ = warning_lines(high_pairs(result.correlation))
    facts = warehouse.query(sql_text("queries", "run_facts"), [run_id]).row(0, named=True)
    echo(f"run {shown(run_id)}: {facts['strategy_count']} strategies, {facts['symbol_count']} symbols, "
         f"{facts['bars_processed']} bars from {facts['first']:%Y-%m-%d} to {facts['last']:%Y-%m-%d}\n")
    benchmark = warehouse.query(sql_text("queries", "run_benchmark"), [run_id])["symbol"].to_list()
    echo(format_comparison(comparison, benchmark=bool(benchmark)))
    for symbol in benchmark:
        echo(f"\nbenchmark {shown(symbol)} (bought and held), risk-free rate {config.risk_free_rate:.2%} a year")
    if warnings_:
        echo("")
    for line in warnings_:
        echo(f"Warning: {shown(line)}")
    reports = reports_of(run_id, lambda: write_reports(warehouse, run_id, report_dir, comparison=comparison)) \
        if report_dir is not None else {}
    echo("")
    echo(f"warehouse  {shown(config.warehouse)}")
    if config.log_dir:
        echo(f"log        {shown(Path(config.log_dir) / f'{run_id}.jsonl')}")
    if reports:
        echo(f"report     {shown(reports['html'])}")
        echo(f"summary    {shown(reports['md'])}")
    query = f"SELECT * FROM trades WHERE run_id = {sql_literal(run_id)}"
    echo(f"\nexplore    {shown(suggested(f'sql {quoted(query)}', config.warehouse))}")
