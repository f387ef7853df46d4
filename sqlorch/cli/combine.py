"""`sqlorch combine`: every subset of a configuration's strategies under each allocation policy,
ranked, then the best subsets, how much of the best is luck, and where the results and reports
went."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

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
from sqlorch.grid.overfitting import PBO_BLOCKS
from sqlorch.report.run import sql_literal
from sqlorch.resources import sql_text

if TYPE_CHECKING:
    from sqlorch.grid.combine import CombinationResult


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--policies", help="Allocation policies to try each subset under, comma-separated, e.g. "
                                 "fixed,equal,risk_parity [default: the config's [combine] policies, else equal].")
@click.option("--max-size", type=int, help="Most strategies in a subset [default: the config's [combine] max_size, "
                                           "else all of them].")
@click.option("--metric", help="Metric that ranks the subsets [default: the config's [combine] metric, else "
                               "sharpe_ratio].")
@click.option("--top", type=int, help="Best subsets to show [default: the config's [combine] top, else 10].")
@click.option("--min-trades", type=int, help="Leave subsets with fewer closed trades unranked (they stay trials) "
                                             "[default: the config's [combine] min_trades, else 0].")
@click.option("--study", help="Study this search adds its trials to, for the deflated Sharpe ratio "
                              "[default: the config's [combine] study, else the search alone].")
@click.option("--pbo-blocks", type=int, help="Blocks S of the PBO's cross-validation, an even number from 2 to 20 "
                                             "[default: the config's [combine] pbo_blocks, else 16].")
@click.option("--workers", type=int, help="Worker processes re-running subsets at once [default: the config's "
                                          "[combine] workers, else every core].")
@writing_options
def combine(config: str, policies: str | None, max_size: int | None, metric: str | None, top: int | None,
            min_trades: int | None, study: str | None, pbo_blocks: int | None, workers: int | None,
            warehouse: str | None, report_dir: str, no_report: bool, lock_timeout: float | None,
            quiet: bool) -> None:
    """Run every subset of CONFIG's strategies under each allocation policy and rank them.

    CONFIG is a run configuration (TOML, as for `sqlorch run`): its [[strategies]] are the line-up,
    its other settings (costs, conflicts, [allocation] lookback, every and bounds) apply to every
    subset, and an optional [combine] section (policies, max_size, metric, top, min_trades, study,
    pbo_blocks, workers) sets defaults for the options. Each subset trades the whole capital with
    its members' weights scaled to sum to 1, and its numbers are those of its orchestrated run;
    where its sleeves cannot interact it is
    assembled from the strategies' runs alone (the same numbers, much faster). A subset whose
    weight bounds cannot hold under a policy is skipped. Prints the best subsets with their trade
    counts and how much of the best is luck; the results go to the warehouse tables grid_runs
    (kind 'combination'), grid_results and combination_curves, the reports to --report-dir.

    Example: sqlorch combine config.toml --policies fixed,equal,risk_parity --max-size 3 --top 5
    """
    from sqlorch.grid.combine import DEFAULT_POLICIES, CombinationSearch
    from sqlorch.grid.combine_plan import read_combine_plan

    overrides = {key: value for key, value in
                 {"warehouse": warehouse, "lock_timeout": lock_timeout}.items() if value is not None}
    read = read_combine_plan(config, overrides)
    plan, file = read.run, read.options
    given = {"policies": policies, "max_size": max_size, "metric": metric, "top": top, "min_trades": min_trades,
             "study": study, "pbo_blocks": pbo_blocks, "workers": workers}
    chosen = {key: value if value is not None else file.get(key) for key, value in given.items()}
    if not no_report:
        check_directory(Path(report_dir), "--report-dir")
    top = chosen["top"] if chosen["top"] is not None else 10
    check_top(top)
    search = CombinationSearch([(s.strategy, s.weight) for s in plan.strategies], plan.config,
                               policies=chosen["policies"] or DEFAULT_POLICIES, max_size=chosen["max_size"],
                               metric=chosen["metric"] or "sharpe_ratio", min_trades=chosen["min_trades"] or 0,
                               study=chosen["study"], pbo_blocks=chosen["pbo_blocks"] or PBO_BLOCKS,
                               workers=chosen["workers"])
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    with progress_bar("combine", quiet) as progress:
        result = search.run(bars, progress=progress, on_wait=err, source=plan.source)
    _print(plan.config.warehouse, result, top, None if no_report else Path(report_dir))


def _print(warehouse: str | None, result: CombinationResult, top: int, report_dir: Path | None) -> None:
    from sqlorch.report.combine import write_combination_reports
    from sqlorch.report.grid import metric_text

    table = result.table
    completed = int((table["status"] == "completed").sum())
    assembled = int(table["assembled"].sum())
    skipped = int((table["status"] == "skipped").sum())
    failed = table.height - completed - skipped
    run = result.warehouse.query(sql_text("queries", "grid_run_facts"), [result.run_id]).row(0, named=True)
    seconds = run["duration_seconds"] or 0.0
    echo(f"combinations {shown(result.run_id)}: {table.height} subsets and policies of {len(result.line_up)} "
         f"strategies, {run['symbol_count']} symbols, {run['bar_count']} bars from {run['first']:%Y-%m-%d} to "
         f"{run['last']:%Y-%m-%d}")
    echo(f"{completed} completed ({assembled} assembled from the strategies' runs alone, {completed - assembled} "
         f"re-run), {failed} failed, {skipped} skipped, in {seconds:.2f} s; "
         f"ranked by {shown(result.metric)}"
         f"{f' (at least {result.min_trades} closed trades)' if result.min_trades else ''}")

    def number(value: float) -> str:
        return "n/a" if value != value else f"{value:.3f}"

    study = f"study {shown(result.study)}" if result.study else "this search"
    if result.best:
        echo(f"best: {shown(' + '.join(result.best['strategies']))} under {shown(result.best['policy'])}: deflated "
             f"Sharpe ratio {number(result.deflated_sharpe_ratio)} over the {result.trials} trials of {study}, "
             f"probabilistic Sharpe ratio {number(result.probabilistic_sharpe_ratio)}")
    else:
        echo(f"no subset has a defined {shown(result.metric)}: nothing ranks")
    echo(f"probability of backtest overfitting (PBO, {result.pbo_blocks} blocks) {number(result.pbo)}")
    columns = [result.metric] + [m for m in ("total_return", "volatility", "max_drawdown", "trade_count")
                                 if m != result.metric] + ["closed_trade_count"]
    rows = result.top(top).select("rank", "policy", "strategies", *columns)
    if rows.height:
        rows = rows.with_columns(rows["strategies"].list.join(" + "))
        echo("")
        echo(format_table(rows, {m: (lambda v, m=m: metric_text(v, m)) for m in columns}))
    errors = table.filter(table["status"] != "completed")
    if errors.height:
        echo(f"{errors.height} trial(s) not completed, e.g. {shown(errors['error'][0])}")
    reports = reports_of(result.run_id, lambda: write_combination_reports(result.warehouse, result.run_id,
                                                                          report_dir, top)) \
        if report_dir is not None else {}
    echo("")
    echo(f"warehouse  {shown(warehouse)}  (tables grid_runs, grid_results, combination_curves)")
    if reports:
        echo(f"report     {shown(reports['html'])}")
        echo(f"summary    {shown(reports['md'])}")
    query = (f"SELECT rank, params ->> 'policy' AS policy, params -> 'strategies' AS strategies, {result.metric} "
             f"FROM grid_results WHERE run_id = {sql_literal(result.run_id)} ORDER BY rank NULLS LAST LIMIT {top}")
    echo(f"\nexplore    {shown(suggested(f'sql {quoted(query)}', warehouse))}")
