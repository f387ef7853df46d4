"""`sqlorch grid`: a parameter grid search from a TOML config, then the best combinations of
each strategy, how the search ran, and where its results and reports went."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl

from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli.main import (
    check_directory,
    check_top,
    echo,
    err,
    quoted,
    reports_of,
    shown,
    suggested,
    writing_options,
)
from sqlorch.cli.progress import progress_bar
from sqlorch.cli.table import format_table
from sqlorch.errors import SqlorchError
from sqlorch.grid.executors import EXECUTORS
from sqlorch.grid.overfitting import PBO_BLOCKS
from sqlorch.report.run import sql_literal
from sqlorch.resources import sql_text

if TYPE_CHECKING:
    from sqlorch.grid.plan import GridPlan
    from sqlorch.grid.search import GridResult, GridSearch


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--metric", help="Metric that ranks the combinations, e.g. sortino_ratio [default: the config's "
                               "[grid] metric, else sharpe_ratio].")
@click.option("--workers", type=int, help="Worker processes running batches at once [default: every core].")
@click.option("--top", type=int, help="Best combinations to show per strategy [default: 10].")
@click.option("--executor", type=click.Choice(EXECUTORS), help="Where batches run: local processes, or a Ray "
                                                                "cluster [default: local].")
@click.option("--address", help="Ray cluster address with --executor ray, e.g. ray://head:10001 [default: "
                                "RAY_ADDRESS, or a cluster started here with `ray start`, or a new local one].")
@click.option("--study", help="Study this search adds its trials to, for the deflated Sharpe ratio "
                              "[default: the config's [grid] study, else the search alone].")
@click.option("--min-trades", type=int, help="Leave combinations with fewer closed trades unranked (they stay "
                                             "trials) [default: the config's [grid] min_trades, else 0].")
@click.option("--pbo-blocks", type=int, help="Blocks S of the PBO's cross-validation, an even number from 2 to "
                                             "20 [default: the config's [grid] pbo_blocks, else 16].")
@writing_options
def grid(config: str, metric: str | None, workers: int | None, top: int | None, executor: str | None,
         address: str | None, study: str | None, min_trades: int | None, pbo_blocks: int | None,
         warehouse: str | None, report_dir: str, no_report: bool, lock_timeout: float | None,
         quiet: bool) -> None:
    """Backtest every combination of parameter values in CONFIG (TOML) and rank them.

    CONFIG is a run configuration whose strategies' params may be lists, like
    params = { fast = [5, 10, 20], slow = [30, 50, 100] }, or ranges { from = 5, to = 50, step = 5 }
    (the grid is their product), with an optional constraint = "fast < slow" per strategy and a
    [grid] section (metric, top, workers, executor, address, study, min_trades, pbo_blocks). Every
    combination trades the whole capital, as its own backtest would. Prints the best combinations
    of each strategy with their trade counts, and how much of the best is luck: its deflated
    Sharpe ratio against every trial of its --study, its probabilistic Sharpe ratio, and the
    search's probability of backtest overfitting (PBO). The results go to the warehouse tables
    grid_runs, grid_results and grid_pbo_splits, the reports to --report-dir.

    Example: sqlorch grid grid.toml --metric sortino_ratio --workers 2 --top 5 --study sma --min-trades 10
    """
    from sqlorch.grid.plan import read_grid_plan
    from sqlorch.grid.search import GridSearch

    overrides = {key: value for key, value in
                 {"warehouse": warehouse, "lock_timeout": lock_timeout}.items() if value is not None}
    plan = read_grid_plan(config, overrides)
    if not no_report:
        check_directory(Path(report_dir), "--report-dir")
    top = top if top is not None else plan.top or 10
    check_top(top)
    executor = executor or plan.executor or "local"
    if address and executor != "ray":
        raise SqlorchError("--address is the address of a Ray cluster: use it with --executor ray")
    search = GridSearch(list(plan.grids), config=plan.config, metric=metric or plan.metric or "sharpe_ratio",
                        workers=workers if workers is not None else plan.workers,
                        executor=executor, address=address or plan.address,
                        study=study if study is not None else plan.study,
                        min_trades=min_trades if min_trades is not None else plan.min_trades or 0,
                        pbo_blocks=pbo_blocks if pbo_blocks is not None else plan.pbo_blocks or PBO_BLOCKS)
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    with progress_bar("grid", quiet) as progress:
        result = search.run(bars, progress=progress, on_wait=err, source=plan.source)
    _print_grid(plan, search, result, top, None if no_report else Path(report_dir))


def _print_grid(plan: GridPlan, search: GridSearch, result: GridResult, top: int, report_dir: Path | None) -> None:
    from sqlorch.report.grid import metric_text, write_grid_reports

    run = result.warehouse.query(sql_text("queries", "grid_run_facts"), [result.run_id]).row(0, named=True)
    seconds = run["duration_seconds"] or 0.0
    speed = f" ({run['combination_count'] / seconds:,.0f} combinations/s)" if seconds > 0 else ""
    echo(f"grid {shown(result.run_id)}: {run['combination_count']} combinations of {run['strategy_count']} "
         f"{'strategy' if run['strategy_count'] == 1 else 'strategies'} ({run['failed_count']} failed, "
         f"{run['dropped_count']} dropped by constraints), {run['symbol_count']} symbols, "
         f"{run['bar_count']} bars "
         f"from {run['first']:%Y-%m-%d} to {run['last']:%Y-%m-%d}")
    echo(f"ran {run['batches']} batches on {run['workers']} {shown(run['executor'])} worker(s) in {seconds:.2f} s"
         f"{speed}; ranked by {shown(result.metric)}"
         f"{f' (at least {result.min_trades} closed trades)' if result.min_trades else ''}")
    echo(luck_text(result))
    columns = [result.metric] + [m for m in ("total_return", "sharpe_ratio", "max_drawdown", "trade_count")
                                 if m != result.metric] + (["closed_trade_count"] if result.min_trades else [])
    for sid, grid_ in zip(search.strategy_ids, search.grids):
        best = result.best_by_strategy[sid]
        echo("")
        if best:
            echo(f"{shown(sid)}: best {', '.join(f'{shown(k)}={shown(v)}' for k, v in best.items())}")
        else:
            echo(f"{shown(sid)}: no combination has a defined {shown(result.metric)}")
        names = list(grid_.params)
        rows = result.top(top, sid).select("rank", *names, *columns)
        if rows.height:
            echo(format_table(rows, {m: (lambda v, m=m: metric_text(v, m)) for m in columns}))
        failed = result.table.filter((pl.col("strategy") == sid) & (pl.col("status") == "failed"))
        if failed.height:
            echo(f"{failed.height} combination(s) failed, e.g. {shown(failed['error'][0])}")
    reports = reports_of(result.run_id, lambda: write_grid_reports(result.warehouse, result.run_id, report_dir, top)) \
        if report_dir is not None else {}
    echo("")
    echo(f"warehouse  {shown(plan.config.warehouse)}  (tables grid_runs, grid_results, grid_pbo_splits; views "
         "grid_parameters, grid_sensitivity)")
    if reports:
        echo(f"report     {shown(reports['html'])}")
        echo(f"summary    {shown(reports['md'])}")
    query = f"SELECT * FROM grid_results WHERE run_id = {sql_literal(result.run_id)} ORDER BY strategy_id, rank"
    echo(f"\nexplore    {shown(suggested(f'sql {quoted(query)}', plan.config.warehouse))}")


def luck_text(result: GridResult) -> str:
    """How much of the search's best is luck, in two lines: the best trial's deflated Sharpe ratio
    against the study's trials and its probabilistic Sharpe ratio, and the PBO."""
    def number(value: float) -> str:
        return "n/a" if value != value else f"{value:.3f}"

    study = f"study {shown(result.study)}" if result.study else "this search"
    if result.best_trial is None:
        best = "no trial ranks: no deflated Sharpe ratio"
    else:
        strategy, combination = result.best_trial
        best = (f"best trial {shown(strategy)} #{combination}: deflated Sharpe ratio "
                f"{number(result.deflated_sharpe_ratio)} over the {result.trials} trials of {study}, "
                f"probabilistic Sharpe ratio {number(result.probabilistic_sharpe_ratio)}")
    why = "" if result.pbo == result.pbo else " (fewer than 2 trials, or fewer bars than blocks)"
    return f"{best}\nprobability of backtest overfitting (PBO, {result.pbo_blocks} blocks) {number(result.pbo)}{why}"
