"""`sqlorch runs`: the runs and grid searches in the warehouse, newest first; a run whose
process died before it finished shows as incomplete."""

from __future__ import annotations

from typing import Any

import click
import polars as pl

from sqlorch.cli.main import echo, err, shown, warehouse_option
from sqlorch.cli.table import format_table
from sqlorch.grid.storage import has_grid_tables
from sqlorch.resources import sql_text
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
    listing = "run_and_grid_listing" if has_grid_tables(store) else "run_listing"
    listed = store.query(sql_text("queries", listing), [limit])
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
