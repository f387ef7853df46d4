"""`sqlorch trials [STUDY]`: the studies of the warehouse (grid searches sharing a `--study`
name) with their searches and completed trials; or one study's searches, each with the
deflated Sharpe ratio of its best trial and its probability of backtest overfitting."""

from __future__ import annotations

import click

from sqlorch.cli.main import echo, err, shown, warehouse_option
from sqlorch.cli.table import format_table
from sqlorch.errors import SqlorchError, did_you_mean
from sqlorch.grid.storage import has_grid_tables
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse


@click.command()
@click.argument("study", required=False)
@warehouse_option
def trials(study: str | None, warehouse: str) -> None:
    """List the studies in the warehouse with their searches and trial counts, or, given STUDY,
    that study's searches: each one's completed trials, the study's trials N when it finished,
    the deflated and probabilistic Sharpe ratios of its best trial and its PBO. A study gathers
    every grid search run with the same --study name; its trials are the completed
    combinations of its completed searches.

    Example: sqlorch trials momentum
    """
    store = Warehouse(warehouse, on_wait=err)
    studies = store.query(sql_text("queries", "study_listing")) if has_grid_tables(store) \
        and _has_studies(store) else None
    if studies is None or studies.is_empty():
        if study is not None:
            raise SqlorchError(f"no study {study!r} in {warehouse}: run `sqlorch grid CONFIG.toml --study "
                               f"{study}` to start it")
        echo(f"no studies in {shown(warehouse)} yet: name one with `sqlorch grid CONFIG.toml --study NAME`")
        return
    if study is None:
        echo(format_table(studies))
        return
    names = studies["study"].to_list()
    if study not in names:
        raise SqlorchError(f"no study {study!r} in {warehouse}{did_you_mean(study, names)}; studies: "
                           f"{', '.join(names)}")
    searches = store.query(sql_text("queries", "study_searches"), [study])
    row = studies.filter(studies["study"] == study).row(0, named=True)
    echo(f"study {shown(study)}: {row['searches']} completed search(es), {row['trials']} completed trials")
    echo(format_table(searches))


def _has_studies(store: Warehouse) -> bool:
    """Whether grid_runs has its study column (a file last written by an older sqlorch, opened
    read-only, has not)."""
    return not store.query(sql_text("queries", "grid_studies_present")).is_empty()
