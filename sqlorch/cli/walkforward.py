"""`sqlorch walkforward`: walk-forward optimisation of a grid TOML: per fold, the parameters the
train span chose and how they did on the test span; the stitched out-of-sample figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl

from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli.main import check_directory, echo, err, quoted, reports_of, shown, suggested, writing_options
from sqlorch.cli.progress import progress_bar
from sqlorch.cli.table import format_table
from sqlorch.errors import SqlorchError
from sqlorch.grid.executors import EXECUTORS
from sqlorch.report.run import listing_sql, save

if TYPE_CHECKING:
    from sqlorch.grid.walkforward import WalkForwardResult


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--train", default="3y", show_default=True,
              help="Train span: years, months, weeks or days (3y, 18m, 2w, 90d) or a number of bars.")
@click.option("--test", default="1y", show_default=True, help="Test span that follows each train span.")
@click.option("--step", help="How far each fold moves on [default: the test span].")
@click.option("--anchored", is_flag=True, help="Every train span starts at the first bar (it grows fold by fold).")
@click.option("--metric", help="Metric that chooses each fold's parameters [default: the config's [grid] metric, "
                               "else sharpe_ratio].")
@click.option("--workers", type=int, help="Worker processes running the searches [default: every core].")
@click.option("--study", help="Gather the searches' trials under this study name (see sqlorch trials).")
@click.option("--min-trades", type=int, help="A combination with fewer closed trades on a train span is not "
                                             "ranked there [default: the config's [grid] min_trades, else 0].")
@click.option("--executor", type=click.Choice(EXECUTORS), help="Where the searches run [default: local].")
@click.option("--address", help="Ray cluster address with --executor ray.")
@writing_options
def walkforward(config: str, train: str, test: str, step: str | None, anchored: bool, metric: str | None,
                workers: int | None, study: str | None, min_trades: int | None, executor: str | None,
                address: str | None, warehouse: str | None, report_dir: str, no_report: bool,
                lock_timeout: float | None, quiet: bool) -> None:
    """Walk-forward optimisation of the grids in CONFIG (TOML, as `sqlorch grid` reads it).

    In each fold the grid is searched on the train span and its best combination (by --metric)
    runs on the test span that follows, from the previous fold's final equity, with the train
    span's bars as warm-up. Prints each fold's choice with its in-sample and out-of-sample
    metric and its search's deflated Sharpe ratio and PBO, and the stitched out-of-sample
    curve's figures and walk-forward efficiency (its CAGR over the mean in-sample CAGR of the
    choices). Tables walkforward_runs and walkforward_folds,
    view walkforward_equity; each search is a grid run, each test a run; the report (folds,
    stitched curves) goes to --report-dir.

    Example: sqlorch walkforward grid.toml --train 3y --test 1y --anchored
    """
    from sqlorch.grid.plan import read_grid_plan
    from sqlorch.grid.walkforward import WalkForward

    overrides = {key: value for key, value in
                 {"warehouse": warehouse, "lock_timeout": lock_timeout}.items() if value is not None}
    plan = read_grid_plan(config, overrides)
    if not no_report:
        check_directory(Path(report_dir), "--report-dir")
    executor = executor or plan.executor or "local"
    if address and executor != "ray":
        raise SqlorchError("--address is the address of a Ray cluster: use it with --executor ray")
    walk = WalkForward(list(plan.grids), config=plan.config, train=train, test=test, step=step, anchored=anchored,
                       metric=metric or plan.metric or "sharpe_ratio",
                       workers=workers if workers is not None else plan.workers, executor=executor,
                       address=address or plan.address, study=study or plan.study,
                       min_trades=min_trades if min_trades is not None else plan.min_trades or 0)
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    with progress_bar("folds", quiet) as progress:
        result = walk.run(bars, progress=progress, on_wait=err, source=plan.source)
    folds = result.folds
    echo(f"walk-forward {shown(result.run_id)}: {folds['fold'].n_unique()} folds, train {shown(train)}, test "
         f"{shown(test)}{', anchored' if anchored else ''}; parameters chosen by {shown(result.metric)}")
    for sid in folds["strategy_id"].unique(maintain_order=True):
        own = folds.filter(pl.col("strategy_id") == sid).select(
            "fold", pl.col("train_start").dt.strftime("%Y-%m-%d").alias("train from"),
            pl.col("test_start").dt.strftime("%Y-%m-%d").alias("test from"),
            pl.col("test_end").dt.strftime("%Y-%m-%d").alias("test to"), "params",
            pl.col("in_sample").alias("in sample"), pl.col("out_of_sample").alias("out of sample"),
            pl.col("deflated_sharpe_ratio").alias("DSR"), pl.col("pbo").alias("PBO"))
        m, efficiency = result.metrics_by_strategy[sid], result.efficiency_by_strategy[sid]
        echo("")
        echo(f"{shown(sid)}: out of sample {_pct(m.total_return)} return, CAGR {_pct(m.cagr)}, sharpe "
             f"{_num(m.sharpe_ratio)}, max drawdown {_pct(m.max_drawdown)}, {m.trade_count} trades; "
             f"efficiency {_num(efficiency)}")
        echo(format_table(own, {"in sample": _num, "out of sample": _num, "DSR": _num, "PBO": _num}))
    reports = {} if no_report else reports_of(result.run_id, lambda: _reports(result, Path(report_dir)))
    echo("")
    echo(f"warehouse  {shown(plan.config.warehouse)}  (tables walkforward_runs, walkforward_folds; view "
         "walkforward_equity)")
    if reports:
        echo(f"report     {shown(reports['html'])}")
        echo(f"summary    {shown(reports['md'])}")
    query = listing_sql(result.run_id, "walkforward_folds", order="strategy_id, fold")
    echo(f"\nexplore    {shown(suggested(f'sql {quoted(query)}', plan.config.warehouse))}")


def _reports(result: WalkForwardResult, directory: Path) -> dict[str, Path]:
    """`<run_id>.html` and `.md` in `directory`, never over a file that is not a sqlorch report."""
    from sqlorch.report.run import REPORT_DIR_HINT, check_target, id_path
    from sqlorch.report.walkforward import render_walkforward, walkforward_report_context

    paths = {fmt: id_path(directory, result.run_id, "." + fmt) for fmt in ("html", "md")}
    for path in paths.values():
        check_target(path, hint=REPORT_DIR_HINT)
    context = walkforward_report_context(result.warehouse, result.run_id, result)
    return {fmt: save(path, render_walkforward(context, fmt), hint=REPORT_DIR_HINT) for fmt, path in paths.items()}


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value:.2%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.2f}"
