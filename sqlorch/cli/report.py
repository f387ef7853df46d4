"""`sqlorch report`: the HTML or Markdown report of a stored run (the grid report for a grid
search), written from the warehouse views, never over a file that is not a sqlorch report."""

from __future__ import annotations

from pathlib import Path

import click

from sqlorch.cli.main import check_top, echo, err, shown, warehouse_option
from sqlorch.errors import SqlorchError
from sqlorch.grid.storage import is_grid_run
from sqlorch.report.combine import is_combination_run
from sqlorch.report.run import (
    FORMATS,
    check_target,
    format_of,
    id_path,
    latest_run_id,
    report_context,
    run_row,
    write_report,
)
from sqlorch.report.walkforward import is_walkforward_run, walkforward_report_context, write_walkforward_report
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse


@click.command()
@click.argument("run_id", required=False)
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)),
              help="HTML (one self-contained page with charts) or Markdown [default: from the suffix of -o "
                   "(.html, .htm, .md, .markdown), else html].")
@click.option("-o", "--output", type=click.Path(),
              help="File to write [default: reports/<run_id>.<format>].")
@click.option("--force", is_flag=True, help="Overwrite -o even if it is not a sqlorch report.")
@click.option("--top", type=int, default=10, show_default=True,
              help="Best combinations listed per strategy (grid runs), or best subsets (combination searches).")
def report(run_id: str | None, warehouse: str, fmt: str | None, output: str | None, force: bool, top: int) -> None:
    """Write the report of RUN_ID (default: the latest finished run) from the warehouse views.
    A grid run (`sqlorch grid`) gets its grid report: heatmaps, top combinations, sensitivity;
    a combination search (`sqlorch combine`) its top subsets, return-versus-volatility map and
    correlations;
    a walk-forward (`sqlorch walkforward`) its folds and stitched out-of-sample curves.
    An existing file is replaced only if it is a sqlorch report (or with --force).

    Example: sqlorch report -o latest.md
    """
    check_top(top)
    store = Warehouse(warehouse, on_wait=err)
    run_id = run_id or latest_run_id(store)
    grid = is_grid_run(store, run_id)
    walk = not grid and is_walkforward_run(store, run_id)
    if not grid and not walk:
        with store.connect(read_only=True) as con:
            run_row(con, sql_text("queries", "stored_run_id"), run_id, "run", store)
    if output:
        check_target(Path(output), force)
    fmt = fmt or (format_of(Path(output)) if output else "html")
    path = Path(output) if output else id_path(Path("reports"), run_id, "." + fmt)
    check_target(path, force)
    if path.exists() and store.path is not None and store.path.exists() and path.samefile(store.path):
        raise SqlorchError(f"-o {path} is the warehouse the report is read from; choose another file")
    if grid and is_combination_run(store, run_id):
        from sqlorch.report.combine import combination_report_context, write_combination_report

        context = combination_report_context(store, run_id, top)
        echo(f"report     {shown(write_combination_report(context, path, fmt, force))}")
        return
    if grid:
        from sqlorch.report.grid import grid_report_context, write_grid_report  # grid code only when needed

        echo(f"report     {shown(write_grid_report(grid_report_context(store, run_id, top), path, fmt, force))}")
        return
    if walk:
        context = walkforward_report_context(store, run_id)
        echo(f"report     {shown(write_walkforward_report(context, path, fmt, force))}")
        return
    context = report_context(store, run_id)
    path = write_report(context, path, fmt, force)
    for line in context["warnings"]:
        echo(f"Warning: {shown(line)}")
    echo(f"report     {shown(path)}")
