"""The `sqlorch` command line: parses options, calls the library, prints results.

Errors a user can cause print as one message with exit status 1; `--debug` shows the
traceback instead. Everything printed goes through `sqlorch.cli.table.terminal_text` (names,
symbols and messages from data cannot drive the terminal), except the csv and json of
`sqlorch sql`, which are data: csv prints values as stored, json escapes them itself.
"""

from __future__ import annotations

import importlib.resources
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import duckdb
import polars as pl

from sqlorch.backtest.correlation import high_pairs, warning_lines
from sqlorch.backtest.engine import StrategyOrchestrator
from sqlorch.backtest.results import OrchestratorResult
from sqlorch.backtest.runner import dataset_id
from sqlorch.bars.load import load_bars
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli.progress import ProgressBar
from sqlorch.cli.table import format_comparison, format_table, json_for_terminal, terminal_text
from sqlorch.config.plan import RunPlan, read_plan
from sqlorch.config.settings import DEFAULT_WAREHOUSE
from sqlorch.engine.market import Panel
from sqlorch.errors import SqlorchError
from sqlorch.grid.executors import EXECUTORS
from sqlorch.grid.storage import has_grid_tables, is_grid_run
from sqlorch.report.run import (
    FORMATS,
    check_target,
    format_of,
    id_path,
    latest_run_id,
    report_context,
    run_row,
    sql_literal,
    write_report,
    write_reports,
)
from sqlorch.store.warehouse import Warehouse, process_alive, register_dataset

if TYPE_CHECKING:
    from sqlorch.grid.plan import GridPlan
    from sqlorch.grid.search import GridResult, GridSearch

DEMO_CONFIG = "demo.toml"


class _Cli(click.Group):
    """A group that turns SqlorchError into one message on stderr and exit status 1, and prints
    Python warnings (a data gap, say) as `Warning: ...` lines, escaped."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except SqlorchError as exc:
                if ctx.params.get("debug"):
                    raise
                _err(f"Error: {exc}")
                ctx.exit(1)
            except KeyboardInterrupt:
                _err("Interrupted.")
                ctx.exit(130)


def _echo(text: str = "", err: bool = False) -> None:
    """Print `text` (lines of it) with everything but its newlines through `terminal_text`."""
    click.echo(terminal_text(text, keep_newlines=True), err=err)


def _err(message: str) -> None:
    _echo(message, err=True)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    _err(f"Warning: {message}")


def shown(value: Any) -> str:
    """A name or value from data, on one line, safe to print (`terminal_text`)."""
    return terminal_text(value)


warehouse_option = click.option(
    "--warehouse", "warehouse", type=click.Path(), default=DEFAULT_WAREHOUSE,
    show_default=True, help="DuckDB warehouse file.")


def writing_options(command: Callable) -> Callable:
    """The options of the commands that run backtests (`run`, `grid`): where they write, and how."""
    options = [
        click.option("--warehouse", type=click.Path(),
                     help="DuckDB warehouse file (default: the config's warehouse key)."),
        click.option("--report-dir", type=click.Path(), default="reports", show_default=True,
                     help="Directory of the reports (<run_id>.html and <run_id>.md; a file there that is "
                          "not a sqlorch report is never overwritten)."),
        click.option("--no-report", is_flag=True, help="Write no reports."),
        click.option("--lock-timeout", type=float, help="Seconds to wait for another run's write lock [default: 60]."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(cls=_Cli)
@click.version_option(package_name="sqlorch")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """sqlorch: several strategies in one backtest, every number in DuckDB.

    Example: sqlorch run && sqlorch sql "SELECT * FROM comparison"
    """


@cli.command()
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
        _err(f"Note: {note.message}")
    progress = ProgressBar("backtest") if not quiet else None
    store = Warehouse(plan.config.warehouse, plan.config.lock_timeout, on_wait=_err)
    with store.held():  # the run's writes, its summary and reports: one open of the file
        try:
            result = orchestrator.run(bars, progress=progress, source=plan.source if config else "demo",
                                      warehouse=store)
        finally:
            if progress:
                progress.close()
        _print_run(plan, result, None if no_report else Path(report_dir))


def _demo_config() -> str:
    return str(importlib.resources.files("sqlorch.cli") / DEMO_CONFIG)


def check_directory(path: Path, option: str) -> None:
    """SqlorchError if `path` cannot be (or become) a directory: it, or a parent, is a file."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise SqlorchError(f"{option} {path}: {place} is a file, not a directory; choose another directory")
            return


def _reports_of(run_id: str, write: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """The reports `write` writes for a stored run; SqlorchError saying the run is stored if not."""
    try:
        return write()
    except SqlorchError as exc:
        raise SqlorchError(f"run {run_id} is stored in the warehouse, but its reports were not written: {exc}; "
                           f"write them later with `sqlorch report {run_id}`") from exc


def _print_run(plan: RunPlan, result: OrchestratorResult, report_dir: Path | None) -> None:
    config, warehouse, run_id, comparison = plan.config, result.warehouse, result.run_id, result.comparison_table
    warnings_ = warning_lines(high_pairs(result.correlation))
    facts = warehouse.query(
        "SELECT r.strategy_count, r.symbol_count, r.bars_processed, min(c.ts) AS first, max(c.ts) AS last "
        "FROM runs r JOIN run_clock c USING (run_id) WHERE run_id = ? GROUP BY ALL", [run_id]).row(0, named=True)
    _echo(f"run {shown(run_id)}: {facts['strategy_count']} strategies, {facts['symbol_count']} symbols, "
          f"{facts['bars_processed']} bars from {facts['first']:%Y-%m-%d} to {facts['last']:%Y-%m-%d}\n")
    _echo(format_comparison(comparison))
    if warnings_:
        _echo("")
    for line in warnings_:
        _echo(f"Warning: {shown(line)}")
    reports = _reports_of(run_id, lambda: write_reports(warehouse, run_id, report_dir, comparison=comparison)) \
        if report_dir is not None else {}
    _echo("")
    _echo(f"warehouse  {shown(config.warehouse)}")
    if config.log_dir:
        _echo(f"log        {shown(Path(config.log_dir) / f'{run_id}.jsonl')}")
    if reports:
        _echo(f"report     {shown(reports['html'])}")
        _echo(f"summary    {shown(reports['md'])}")
    _echo(f"\nexplore    sqlorch sql \"SELECT * FROM trades WHERE run_id = {shown(sql_literal(run_id))}\"")


@cli.command()
@click.argument("run_id", required=False)
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)),
              help="HTML (one self-contained page with charts) or Markdown [default: from the suffix of -o "
                   "(.html, .htm, .md, .markdown), else html].")
@click.option("-o", "--output", type=click.Path(),
              help="File to write [default: reports/<run_id>.<format>].")
@click.option("--force", is_flag=True, help="Overwrite -o even if it is not a sqlorch report.")
@click.option("--top", type=int, default=10, show_default=True,
              help="Best combinations listed per strategy (grid runs).")
def report(run_id: str | None, warehouse: str, fmt: str | None, output: str | None, force: bool, top: int) -> None:
    """Write the report of RUN_ID (default: the latest finished run) from the warehouse views.
    A grid run (`sqlorch grid`) gets its grid report: heatmaps, top combinations, sensitivity.
    An existing file is replaced only if it is a sqlorch report (or with --force).

    Example: sqlorch report -o latest.md
    """
    _check_top(top)
    store = Warehouse(warehouse, on_wait=_err)
    run_id = run_id or latest_run_id(store)
    grid = is_grid_run(store, run_id)
    if not grid:
        with store.connect(read_only=True) as con:
            run_row(con, "SELECT run_id FROM runs WHERE run_id = ?", run_id, "run", store)
    if output:
        check_target(Path(output), force)
    fmt = fmt or (format_of(Path(output)) if output else "html")
    path = Path(output) if output else id_path(Path("reports"), run_id, "." + fmt)
    check_target(path, force)
    if path.exists() and store.path is not None and store.path.exists() and path.samefile(store.path):
        raise SqlorchError(f"-o {path} is the warehouse the report is read from; choose another file")
    if grid:
        from sqlorch.report.grid import grid_report_context, write_grid_report  # grid code only when needed

        _echo(f"report     {shown(write_grid_report(grid_report_context(store, run_id, top), path, fmt, force))}")
        return
    context = report_context(store, run_id)
    path = write_report(context, path, fmt, force)
    for line in context["warnings"]:
        _echo(f"Warning: {shown(line)}")
    _echo(f"report     {shown(path)}")


def _check_top(top: int) -> None:
    if top < 1:
        raise SqlorchError(f"--top must be 1 or more, got {top}")


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--metric", help="Metric that ranks the combinations, e.g. sortino_ratio [default: the config's "
                               "[grid] metric, else sharpe_ratio].")
@click.option("--workers", type=int, help="Worker processes running batches at once [default: every core].")
@click.option("--top", type=int, help="Best combinations to show per strategy [default: 10].")
@click.option("--executor", type=click.Choice(EXECUTORS), help="Where batches run: local processes, or a Ray "
                                                                "cluster [default: local].")
@click.option("--address", help="Ray cluster address with --executor ray, e.g. ray://head:10001 [default: "
                                "RAY_ADDRESS, or a cluster started here with `ray start`, or a new local one].")
@writing_options
def grid(config: str, metric: str | None, workers: int | None, top: int | None, executor: str | None,
         address: str | None, warehouse: str | None, report_dir: str, no_report: bool, lock_timeout: float | None,
         quiet: bool) -> None:
    """Backtest every combination of parameter values in CONFIG (TOML) and rank them.

    CONFIG is a run configuration whose strategies' params may be lists, like
    params = { fast = [5, 10, 20], slow = [30, 50, 100] }, or ranges { from = 5, to = 50, step = 5 }
    (the grid is their product), with an optional constraint = "fast < slow" per strategy and a
    [grid] section (metric, top, workers, executor, address). Every combination trades the whole
    capital, as its own backtest would. Prints the best combinations of each strategy; the results
    go to the warehouse tables grid_runs and grid_results, the reports to --report-dir.

    Example: sqlorch grid grid.toml --metric sortino_ratio --workers 2 --top 5
    """
    from sqlorch.grid.plan import read_grid_plan
    from sqlorch.grid.search import GridSearch

    overrides = {key: value for key, value in
                 {"warehouse": warehouse, "lock_timeout": lock_timeout}.items() if value is not None}
    plan = read_grid_plan(config, overrides)
    if not no_report:
        check_directory(Path(report_dir), "--report-dir")
    top = top if top is not None else plan.top or 10
    _check_top(top)
    executor = executor or plan.executor or "local"
    if address and executor != "ray":
        raise SqlorchError("--address is the address of a Ray cluster: use it with --executor ray")
    search = GridSearch(list(plan.grids), config=plan.config, metric=metric or plan.metric or "sharpe_ratio",
                        workers=workers if workers is not None else plan.workers,
                        executor=executor, address=address or plan.address)
    bars = synthetic_bars(**vars(plan.synthetic)) if plan.synthetic else list(plan.paths)
    progress = ProgressBar("grid") if not quiet else None
    try:
        result = search.run(bars, progress=progress, on_wait=_err, source=plan.source)
    finally:
        if progress:
            progress.close()
    _print_grid(plan, search, result, top, None if no_report else Path(report_dir))


def _print_grid(plan: GridPlan, search: GridSearch, result: GridResult, top: int, report_dir: Path | None) -> None:
    from sqlorch.report.grid import metric_text, write_grid_reports

    run = result.warehouse.query(
        "SELECT g.*, min(c.ts) AS first, max(c.ts) AS last FROM grid_runs g JOIN clocks c USING (dataset_id) "
        "WHERE g.run_id = ? GROUP BY ALL", [result.run_id]).row(0, named=True)
    seconds = run["duration_seconds"] or 0.0
    speed = f" ({run['combination_count'] / seconds:,.0f} combinations/s)" if seconds > 0 else ""
    _echo(f"grid {shown(result.run_id)}: {run['combination_count']} combinations of {run['strategy_count']} "
          f"{'strategy' if run['strategy_count'] == 1 else 'strategies'} ({run['failed_count']} failed, "
          f"{run['dropped_count']} dropped by constraints), {run['symbol_count']} symbols, "
          f"{run['bar_count']} bars "
          f"from {run['first']:%Y-%m-%d} to {run['last']:%Y-%m-%d}")
    _echo(f"ran {run['batches']} batches on {run['workers']} {shown(run['executor'])} worker(s) in {seconds:.2f} s"
          f"{speed}; ranked by {shown(result.metric)}")
    columns = [result.metric] + [m for m in ("total_return", "sharpe_ratio", "max_drawdown", "trade_count")
                                 if m != result.metric]
    for sid, grid_ in zip(search.strategy_ids, search.grids):
        best = result.best_by_strategy[sid]
        _echo("")
        if best:
            _echo(f"{shown(sid)}: best {', '.join(f'{shown(k)}={shown(v)}' for k, v in best.items())}")
        else:
            _echo(f"{shown(sid)}: no combination has a defined {shown(result.metric)}")
        names = list(grid_.params)
        rows = result.top(top, sid).select("rank", *names, *columns)
        if rows.height:
            _echo(format_table(rows, {m: (lambda v, m=m: metric_text(v, m)) for m in columns}))
        failed = result.table.filter((pl.col("strategy") == sid) & (pl.col("status") == "failed"))
        if failed.height:
            _echo(f"{failed.height} combination(s) failed, e.g. {shown(failed['error'][0])}")
    reports = _reports_of(result.run_id, lambda: write_grid_reports(result.warehouse, result.run_id, report_dir, top)) \
        if report_dir is not None else {}
    _echo("")
    _echo(f"warehouse  {shown(plan.config.warehouse)}  (tables grid_runs, grid_results; views grid_parameters, "
          "grid_sensitivity)")
    if reports:
        _echo(f"report     {shown(reports['html'])}")
        _echo(f"summary    {shown(reports['md'])}")
    _echo(f"\nexplore    sqlorch sql \"SELECT * FROM grid_results WHERE run_id = {shown(sql_literal(result.run_id))} "
          "ORDER BY strategy_id, rank\"")


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
    _echo(f"dataset {data_id}: {len(panel.symbols)} symbols, {bars.height} bars, {first} to {last}"
          f" ({'stored' if new else 'already stored'} in {shown(warehouse)})")
    _echo(f"symbols  {', '.join(shown(symbol) for symbol in panel.symbols)}")


@cli.command()
@warehouse_option
@click.option("--limit", type=int, default=20, show_default=True, help="How many runs to show.")
def runs(warehouse: str, limit: int) -> None:
    """List the runs in the warehouse, newest first, grid searches (kind grid) included. A run
    whose process died before it finished shows as incomplete.

    Example: sqlorch runs --limit 5
    """
    store = Warehouse(warehouse, on_wait=_err)
    grids = ("UNION ALL SELECT run_id, status, 'grid', started_at, round(duration_seconds, 2), strategy_count, "
             "symbol_count, bar_count, pid, hostname, error FROM grid_runs ") if has_grid_tables(store) else ""
    listed = store.query(
        "SELECT run_id, status, kind, started_at, round(duration_seconds, 2) AS seconds, strategy_count "
        "AS strategies, symbol_count AS symbols, bars_processed AS bars, pid, hostname, error FROM runs "
        + grids + "ORDER BY started_at DESC, run_id DESC LIMIT ?", [limit])
    if listed.is_empty():
        _echo(f"no runs in {shown(warehouse)} yet")
        return
    listed = listed.with_columns(
        pl.struct("status", "pid").map_elements(_shown_status, return_dtype=pl.String).alias("status"))
    _echo(format_table(listed.drop("pid", "hostname")))


def _shown_status(row: dict[str, Any]) -> str:
    if row["status"] == "running" and (row["pid"] is None or not process_alive(row["pid"])):
        return "incomplete"
    return row["status"]


class _SqlCommand(click.Command):
    """A command whose QUERY may start with a SQL comment (`-- ...`): an argument that starts with
    a dash and has a blank before any `=` cannot be an option, so it is taken as the query
    (moved behind `--`) instead of failing as an unknown option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                  for name in p.opts + p.secondary_opts}
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if _looks_like_sql(arg) and not (i and args[i - 1] in valued):
                args = [*args[:i], *args[i + 1:], "--", arg] if "--" not in args else args
                break
        return super().parse_args(ctx, args)


def _looks_like_sql(arg: str) -> bool:
    """Whether a command-line argument starting with a dash is text, not an option name."""
    return arg.startswith("-") and any(c.isspace() for c in arg.split("=", 1)[0])


@cli.command("sql", cls=_SqlCommand)
@click.argument("query")
@warehouse_option
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format: table shows control characters in values as escapes "
                                      "like \\x1b; csv prints values as stored (it is data for files and tools); "
                                      "json escapes them as \\u001b.")
@click.option("--max-rows", type=int, default=100, show_default=True,
              help="Rows to print in table format (csv and json print all).")
def sql_command(query: str, warehouse: str, output: str, max_rows: int) -> None:
    """Run one read-only query on the warehouse and print the result. The query reads the
    warehouse and nothing else: no statement writes, attaches, copies, exports, installs or
    loads anything, and no table function reads files.

    Example: sqlorch sql "SELECT strategy_id, total_return FROM comparison ORDER BY 2 DESC"
    """
    result = Warehouse(warehouse, on_wait=_err).sandboxed_query(query)
    if output == "csv":
        click.echo(result.write_csv(), nl=False, color=True)  # data: values as stored (color: nothing stripped)
    elif output == "json":
        click.echo(json_for_terminal(result.write_json()))
    else:
        _echo(format_table(result.head(max_rows)))
        if result.height > max_rows:
            _echo(f"... {result.height - max_rows} more rows (--max-rows, or --format csv)")
