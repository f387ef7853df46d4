"""The report of a walk-forward (HTML and Markdown): per strategy, the stitched out-of-sample
curve, each fold's choice with its in-sample and out-of-sample metric and its search's deflated
Sharpe ratio and PBO; read from `walkforward_runs`, `walkforward_folds` and `walkforward_equity`."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from markupsafe import Markup

from sqlorch.errors import SqlorchError
from sqlorch.grid.walkforward import WalkForwardResult, load_walkforward_result
from sqlorch.report import charts
from sqlorch.report.run import environment, listing_sql, run_row, save
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame

FORMATS = {"html": "walkforward.html.j2", "md": "walkforward.md.j2"}


def is_walkforward_run(warehouse: Warehouse, run_id: str) -> bool:
    """Whether `run_id` is a walk-forward in `warehouse` (False where it has no such table)."""
    with warehouse.connect(read_only=True) as con:
        try:
            return bool(con.execute(sql_text("queries", "stored_walkforward_run"), [run_id]).fetchone()[0])
        except Exception:  # a warehouse from before walk-forwards
            return False


def walkforward_report_context(warehouse: Warehouse, run_id: str,
                               result: WalkForwardResult | None = None) -> dict[str, Any]:
    """Everything the report shows (SqlorchError for an unknown run); `result` when the caller
    has it already (else it is read back from the warehouse)."""
    with warehouse.connect(read_only=True) as con:
        run = run_row(con, sql_text("queries", "walkforward_run"), run_id, "walk-forward", warehouse)
        in_sample = frame(con, sql_text("queries", "walkforward_in_sample"), [run_id])
    result = result or load_walkforward_result(warehouse, run_id)
    shown = functools.partial(listing_sql, run_id)
    strategies = []
    for i, (sid, metrics) in enumerate(result.metrics_by_strategy.items()):
        strategies.append({
            "strategy_id": sid, "color": charts.color_of(i),
            "folds": list(result.folds.filter(pl.col("strategy_id") == sid).iter_rows(named=True)),
            "curve": result.equity_curve.filter(pl.col("strategy_id") == sid),
            "in_sample": [part.sort("ts") for _, part in
                          in_sample.filter(pl.col("strategy_id") == sid).group_by("fold", maintain_order=True)],
            "metrics": metrics, "efficiency": result.efficiency_by_strategy[sid]})
    return {"run": run, "config": json.loads(run["config"] or "{}"), "metric": run["metric"],
            "strategies": strategies, "warehouse": str(warehouse.path) if warehouse.path else ":memory:",
            "sql": {"folds": shown("walkforward_folds", order="strategy_id, fold"),
                    "equity": shown("walkforward_equity", order="strategy_id, ts")}}


def chart_markup(context: Mapping[str, Any]) -> dict[str, dict[str, Markup]]:
    """Per strategy: its stitched curve against the in-sample curves of its choices (each from the
    starting capital over its train span; a log scale beyond 5x), and its metric in and out of
    sample per fold, each drawn wide and narrow."""
    capital = float(context["config"].get("initial_capital") or 1)
    out = {}
    for s in context["strategies"]:
        curve = s["curve"]
        ts = curve["ts"].to_numpy()
        growth = [charts.Series("in sample", charts.BENCHMARK_COLOR, part["ts"].to_numpy(),
                                part["equity"].to_numpy() / capital - 1, 1.0) for part in s["in_sample"]]
        growth.append(charts.Series(f"{s['strategy_id']}, out of sample", s["color"], ts,
                                    curve["equity"].to_numpy() / capital - 1, 2.2))
        log = charts.spans_decades(growth)
        folds = pl.DataFrame(s["folds"]) if s["folds"] else pl.DataFrame()
        starts = folds["test_start"].to_numpy() if folds.height else np.array([], dtype="datetime64[us]")

        def values(column: str) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in folds[column].to_list()], dtype=np.float64) \
                if folds.height else np.array([])

        per_fold = [charts.Series("in sample", charts.BENCHMARK_COLOR, starts, values("in_sample"), 1.6, "6 3"),
                    charts.Series("out of sample", s["color"], starts, values("out_of_sample"), 2.0)]
        drawings = {}
        for size in (charts.WIDE, charts.NARROW):
            if log:
                equity = charts.line_chart([dataclasses.replace(g, y=g.y + 1) for g in growth],
                                           "Growth of starting capital, out of sample and in sample (log scale)", size,
                                           y_format=charts.multiple_axis, log=True)
            else:
                equity = charts.line_chart(growth, "Return on starting capital, out of sample and in sample", size)
            metric = charts.line_chart(per_fold, f"{context['metric']} per fold, at its test span's start", size,
                                       y_format=lambda step: (lambda v: f"{v:.2f}"))
            drawings.setdefault("equity", []).append(equity)
            drawings.setdefault("metric", []).append(metric)
        out[s["strategy_id"]] = {name: charts.responsive(*pair) for name, pair in drawings.items()}
    return out


def render_walkforward(context: Mapping[str, Any], fmt: str) -> str:
    """The walk-forward report in `fmt` ('html' or 'md')."""
    if fmt not in FORMATS:
        raise SqlorchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    extra = {"charts": chart_markup(context)} if fmt == "html" else {}
    return environment().get_template(FORMATS[fmt]).render({**context, **extra})


def write_walkforward_report(context: Mapping[str, Any], path: Path, fmt: str, force: bool = False) -> Path:
    """Render the walk-forward report of `context` to `path` (see `report.run.save`)."""
    return save(path, render_walkforward(context, fmt), force)
