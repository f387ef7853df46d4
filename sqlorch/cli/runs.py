"""`sqlorch runs`: the runs and grid searches in the warehouse, newest first; a run whose
process died before it finished shows as incomplete."""

from __future__ import annotations

from typing import Any

import click
import polars as pl

from sqlorch.cli.main import echo, err, shown, warehouse_option
from sqlorch.cli.table import format_table
from sqlorch.grid.storage import has_grid_tables
from sqlorch.store.warehouse import Warehouse, process_alive


@click.command()
@warehouse_option
@click.option("--limit", type=int, default=20, show_default=True, help="How many runs to show.")
def runs(warehouse: str, limit: int) -> None:
    """List the runs in the warehouse, newest first, grid searches (kind grid) included. A run
    whose process died before it finished shows as incomplete.

    Example: sqlorch runs --limit 5
    """
    store = Warehouse(warehouse, on_wait=err)
    grids = ("UNION ALL SELECT run_id, status, 'grid', started_at, round(duration_seconds, 2), strategy_count, "
             "symbol_count, bar_count, pid, hostname, error FROM grid_runs ") if has_grid_tables(store) else ""
    listed = store.query(
        "SELECT run_id, status, kind, started_at, round(duration_seconds, 2) AS seconds, strategy_count "
        "AS strategies, symbol_count AS symbols, bars_processed AS bars, pid, hostname, error FROM runs "
        + grids + "ORDER BY started_at DESC, run_id DESC LIMIT ?", [limit])
    if listed.is_empty():
        echo(f"no runs in {shown(warehouse)} yet")
        return
    listed = listed.with_columns(
        pl.struct("status", "pid").map_elements(_shown_status, return_dtype=pl.String).alias("status"))
    echo(format_table(listed.drop("pid", "hostname")))


def _shown_status(row: dict[str, Any]) -> str:
    if row["status"] == "running" and (row["pid"] is None or not process_alive(row["pid"])):
        return "incomplete"
    return row["status"]
