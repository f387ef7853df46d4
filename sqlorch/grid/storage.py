"""Grid runs in the warehouse: `grid_runs` (one row per search), `grid_results` (one row per
combination: a trial) and `grid_pbo_splits` (one row per CSCV split), written in two short
transactions like any run: registered as `running` before the work, and the results with the
final status in one transaction (bulk, through Arrow), which also counts the study's trials for
the deflated Sharpe ratio."""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.backtest.runner import sqlorch_version
from sqlorch.engine.events import encode
from sqlorch.grid.batch import TRIAL_FIELDS
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, insert, register_dataset


def register_grid(warehouse: Warehouse, run_id: str, bars: pl.DataFrame, dataset_id: str,
                  facts: Mapping[str, Any]) -> None:
    """Store the bars (once per content) and the search as `running`, in one transaction;
    `facts` fills the other columns of `grid_runs`."""
    with warehouse.transaction() as con:
        register_dataset(con, bars, dataset_id, facts.get("source") or "python")
        row = {"run_id": run_id, "status": "running", "dataset_id": dataset_id,
               "started_at": dt.datetime.now(dt.UTC).replace(tzinfo=None), "pid": os.getpid(),
               "hostname": socket.gethostname(), "sqlorch_version": sqlorch_version(), **facts}
        insert(con, "grid_runs", {k: [v] for k, v in row.items()})


def finish_grid(warehouse: Warehouse, run_id: str, table: pl.DataFrame, params: Sequence[dict],
                classes: Mapping[str, str], facts: Mapping[str, Any], study: str | None = None,
                deflate: Callable[[int, float], float] | None = None,
                splits: Mapping[str, list] | None = None) -> dict[str, Any]:
    """Write every combination's row (and `splits`, the search's `grid_pbo_splits` columns but
    run_id) and mark the search completed, in one transaction; returns the study's completed
    `trials` (N, this search's included) and the best trial's `deflated_sharpe_ratio`.

    `table` is the search's result table, `params` each row's parameters, `classes` the
    class of each strategy; `facts` gives the columns completed_count, failed_count, best,
    duration_seconds, probabilistic_sharpe_ratio and pbo of `grid_runs`. `deflate(N, V)` gives
    the deflated Sharpe ratio from the study's trials and the variance of their per-bar Sharpe
    ratios (`study` None: this search's trials only).
    """
    metrics = {name: _nulls(table[name].to_list()) for name in (*METRIC_NAMES, *TRIAL_FIELDS[1:],
                                                                 "probabilistic_sharpe_ratio")}
    columns = {
        "run_id": [run_id] * table.height, "strategy_id": table["strategy"].to_list(),
        "class_name": [classes[s] for s in table["strategy"]], "combination": table["combination"].to_list(),
        "params": [encode(p) for p in params], "status": table["status"].to_list(),
        "error": table["error"].to_list(), "rank": table["rank"].to_list(), **metrics,
        "final_equity": table["final_equity"].to_list(),
        "closed_trade_count": table["closed_trade_count"].to_list(),
    }
    with warehouse.transaction() as con:
        insert(con, "grid_results", columns)
        if splits:
            insert(con, "grid_pbo_splits", {"run_id": [run_id] * len(splits["split"]), **splits})
        trials, variance = con.execute(sql_text("queries", "study_trials"),
                                       {"run_id": run_id, "study": study}).fetchone()
        deflated = deflate(trials, math.nan if variance is None else variance) if deflate else math.nan
        found = {"trials": trials, "deflated_sharpe_ratio": deflated}
        con.execute(sql_text("queries", "complete_grid_run"),
                    {**{k: _null(v) for k, v in {**facts, **found}.items()}, "run_id": run_id})
    return found


def fail_grid(warehouse: Warehouse, run_id: str, error: str, seconds: float) -> None:
    """Mark a search that stopped (interrupted, a worker died) as failed; never raises."""
    try:
        with warehouse.transaction() as con:
            con.execute(sql_text("queries", "fail_grid_run"), [error, seconds, run_id])
    except Exception:  # the original error matters more than this one
        pass


def _nulls(values: list[Any]) -> list[Any]:
    """NaN (undefined) as NULL, as the metrics table keeps them."""
    return [_null(v) for v in values]


def _null(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def has_grid_tables(warehouse: Warehouse) -> bool:
    """Whether the warehouse has the grid tables yet (a file last written by an older sqlorch,
    opened read-only, has not)."""
    return not warehouse.query(sql_text("queries", "grid_tables_present")).is_empty()


def is_grid_run(warehouse: Warehouse, run_id: str) -> bool:
    """Whether `run_id` names a grid search in this warehouse."""
    return has_grid_tables(warehouse) and not warehouse.query(
        sql_text("queries", "stored_grid_run_id"), [run_id]).is_empty()
