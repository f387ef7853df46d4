"""Reports of a combination search (HTML and Markdown), from `grid_runs` (kind `combination`),
`grid_results` and `combination_curves`, with the templates `combine.html.j2` and
`combine.md.j2`.

The search's best subsets and policies (members, policy, metrics beside their trade counts); each
policy's best and median; a map of every subset's return (CAGR) against its volatility, the top
subsets and each strategy alone marked; the correlation of the members' daily returns alone
(`sqlorch.backtest.correlation.pearson` over `combination_curves`); and how much of the best is
luck: its deflated and probabilistic Sharpe ratios and the search's PBO.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from markupsafe import Markup

from sqlorch.backtest.correlation import pearson
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.config.settings import DEFAULT_WAREHOUSE
from sqlorch.errors import SqlorchError
from sqlorch.grid.search import LOWER_IS_BETTER, best_trial_row
from sqlorch.report import charts
from sqlorch.report.grid import TITLES, metric_text
from sqlorch.report.run import environment, listing_sql, run_row, save, write_formats
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame

FORMATS = {"html": "combine.html.j2", "md": "combine.md.j2"}
TABLE_METRICS = ("total_return", "cagr", "volatility", "sharpe_ratio", "max_drawdown", "trade_count",
                 "closed_trade_count", "probabilistic_sharpe_ratio")
ON_A_PHONE = {"total_return", "sharpe_ratio", "trade_count"}
ERRORS = 5  # distinct errors listed


def is_combination_run(warehouse: Warehouse, run_id: str) -> bool:
    """Whether `run_id` names a combination search in this warehouse."""
    return not warehouse.query(sql_text("queries", "stored_combination_run_id"), [run_id]).is_empty()


def listing_queries(run_id: str) -> dict[str, str]:
    """The SQL a reader runs to list what each section summarizes (shown, not run)."""
    shown = functools.partial(listing_sql, run_id)
    return {
        "run": shown("grid_runs"),
        "results": shown("grid_results", "status = 'completed'", "rank NULLS LAST",
                         columns="rank, params ->> 'policy' AS policy, params -> 'strategies' AS strategies, "
                                 "sharpe_ratio, cagr, volatility, max_drawdown, trade_count, closed_trade_count"),
        "policies": shown("grid_results", "status = 'completed' GROUP BY ALL", "policy",
                          columns="params ->> 'policy' AS policy, count(*) AS subsets, max(sharpe_ratio) AS best, "
                                  "median(sharpe_ratio) AS median"),
        "curves": shown("combination_curves", order="position, bar_index"),
        "not_completed": shown("grid_results", "status <> 'completed'", "combination",
                               columns="combination, params, status, error"),
    }


def combination_report_context(warehouse: Warehouse, run_id: str, top: int = 10) -> dict[str, Any]:
    """Everything a combination search's report shows (SqlorchError for an unknown search)."""
    with warehouse.connect(read_only=True) as con:
        run = run_row(con, sql_text("queries", "grid_run_with_dates"), run_id, "combination search", warehouse)
        results = frame(con, sql_text("queries", "grid_result_rows"), [run_id])
        symbols = frame(con, sql_text("queries", "dataset_symbols"), [run["dataset_id"]])["symbol"].to_list()
        returns = frame(con, sql_text("queries", "combination_member_returns"), [run_id])
    metric = run["metric"]
    search = json.loads(run["grids"] or "{}")
    rows = [_row(r) for r in results.iter_rows(named=True)]
    ranked = sorted((r for r in rows if r["rank"] is not None), key=lambda r: r["rank"])
    alone = {}
    for r in rows:  # each strategy alone: its one-member subset (any policy: one sleeve never moves capital)
        if r["size"] == 1 and r["status"] == "completed":
            alone.setdefault(r["strategies"][0], r)
    best_row = best_trial_row(results, metric) if results.height else None
    seconds = run["duration_seconds"] or 0.0
    return {
        "run": run, "config": json.loads(run["config"] or "{}"), "symbols": symbols, "metric": metric,
        "higher_is_better": metric not in LOWER_IS_BETTER, "top": top, "line_up": search.get("line_up", []),
        "policies": search.get("policies", []), "max_size": search.get("max_size"),
        "rows": rows, "ranked": ranked[:top], "alone": alone, "by_policy": _by_policy(rows, metric),
        "counts": {status: sum(r["status"] == status for r in rows) for status in ("completed", "failed", "skipped")},
        "assembled": sum(bool(r["assembled"]) for r in rows),
        "errors": _errors(rows), "correlation": _correlation(returns),
        "best": rows[best_row] if best_row is not None else None,
        "table_metrics": [m for m in TABLE_METRICS if m != metric], "titles": TITLES, "on_a_phone": ON_A_PHONE,
        "speed": run["combination_count"] / seconds if seconds > 0 else None,
        "warehouse": str(warehouse.path) if warehouse.path else ":memory:", "sql": listing_queries(run_id),
    }


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    params = json.loads(row["params"])
    return {**row, "strategies": params.get("strategies", []), "policy": params.get("policy"),
            "weights": params.get("weights", []), "size": len(params.get("strategies", [])),
            "assembled": params.get("assembled")}


def _by_policy(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Per policy (in search order): its trials, completed, best (by rank) and the median metric."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r["policy"], {"policy": r["policy"], "trials": 0, "completed": 0, "best": None,
                                             "values": []})
        entry["trials"] += 1
        if r["status"] == "completed":
            entry["completed"] += 1
            if r[metric] is not None:
                entry["values"].append(r[metric])
        if r["rank"] is not None and (entry["best"] is None or r["rank"] < entry["best"]["rank"]):
            entry["best"] = r
    for entry in out.values():
        values = entry.pop("values")
        entry["median"] = float(np.median(values)) if values else None
    return list(out.values())


def _errors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct reasons trials failed or were skipped (first few), with how many and an example."""
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["status"] == "completed":
            continue
        key = (r["error"] or "").split(" (at bar ")[0]
        entry = found.setdefault(key, {"status": r["status"], "error": r["error"], "example": r, "count": 0})
        entry["count"] += 1
    return list(found.values())[:ERRORS]


def _correlation(returns: pl.DataFrame) -> dict[str, Any]:
    """The members' correlation matrix of daily returns alone (NaN where undefined)."""
    ids = returns["strategy_id"].unique(maintain_order=True).to_list()
    if len(ids) < 2:
        return {"ids": ids, "matrix": []}
    values = returns["ret"].fill_null(np.nan).to_numpy().reshape(len(ids), -1)
    return {"ids": ids, "matrix": pearson(values).tolist()}


# -- charts and rendering -------------------------------------------------------------------------


def _members(row: Mapping[str, Any]) -> str:
    return " + ".join(row["strategies"]) + f" ({row['policy']})"


def chart_markup(context: Mapping[str, Any]) -> dict[str, Markup]:
    """The return-versus-volatility map and the correlation heatmap, each drawn wide and narrow."""
    def drawn(draw: Any, *args: Any) -> Markup:
        return charts.responsive(draw(*args, size=charts.WIDE), draw(*args, size=charts.NARROW))

    completed = [r for r in context["rows"] if r["status"] == "completed"]
    correlation = context["correlation"]
    return {
        "map": drawn(charts.risk_return_chart, [(r["volatility"], r["cagr"]) for r in completed],
                     [(r["volatility"], r["cagr"], _members(r)) for r in context["ranked"]],
                     [(r["volatility"], r["cagr"], sid) for sid, r in context["alone"].items()],
                     "CAGR against volatility of every subset and policy", "volatility (annualised)", "CAGR"),
        "correlation": drawn(charts.heatmap, correlation["ids"], correlation["matrix"],
                             "correlation of the strategies' daily returns alone")
        if len(correlation["ids"]) > 1 else None,
    }


def render_combination(context: Mapping[str, Any], fmt: str, html_report: str | None = None) -> str:
    """The combination report in `fmt` ('html' or 'md'). The Markdown report has no pictures: it
    links to the HTML report at `html_report` (a path relative to it), or says how to write one."""
    if fmt not in FORMATS:
        raise SqlorchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    pictures = {"charts": chart_markup(context)} if fmt == "html" else {
        "html_report": html_report,
        "warehouse_option": "" if context["warehouse"] in (DEFAULT_WAREHOUSE, ":memory:")
        else f" --warehouse {shlex.quote(context['warehouse'])}"}
    return environment().get_template(FORMATS[fmt]).render({**context, **pictures, "show": metric_text,
                                                             "metrics": METRIC_NAMES})


def write_combination_report(context: Mapping[str, Any], path: Path, fmt: str, force: bool = False) -> Path:
    """Render the report of `context` (from `combination_report_context`) to `path` (see `report.save`)."""
    return save(path, render_combination(context, fmt), force)


def write_combination_reports(warehouse: Warehouse, run_id: str, directory: Path, top: int = 10,
                              formats: tuple[str, ...] = ("html", "md")) -> dict[str, Path]:
    """`<run_id>.<fmt>` in `directory` for each format, reading the warehouse once; never over a
    file that is not a sqlorch report."""
    return write_formats(run_id, directory, formats, lambda: combination_report_context(warehouse, run_id, top),
                         render_combination)
