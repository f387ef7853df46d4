"""`sqlorch ingest`: validate bar files and store them in the warehouse as one dataset."""

from __future__ import annotations

import click

from sqlorch.backtest.runner import dataset_id
from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import Panel
from sqlorch.cli.main import echo, err, shown, warehouse_option
from sqlorch.store.warehouse import Warehouse, register_dataset


@click.command()
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
    with Warehouse(warehouse, on_wait=err).transaction() as con:
        new = register_dataset(con, bars, data_id, " ".join(paths))
    first, last = panel.timestamps[0].astype("datetime64[D]"), panel.timestamps[-1].astype("datetime64[D]")
    echo(f"dataset {data_id}: {len(panel.symbols)} symbols, {bars.height} bars, {first} to {last}"
         f" ({'stored' if new else 'already stored'} in {shown(warehouse)})")
    echo(f"symbols  {', '.join(shown(symbol) for symbol in panel.symbols)}")
