"""Reports of a grid search (HTML and Markdown), from `grid_runs`, `grid_results` and the
`grid_sensitivity` view, with the templates `grid.html.j2` and `grid.md.j2`.

Per strategy: the best combination; the top-K table; the ranking metric over every pair of
parameters that vary, as a heatmap with the other parameters fixed at their best values; and
how each metric moves with each parameter (mean, lowest and highest over the other parameters,
per value; the spread of those means says how much a parameter matters). For the search: how
much of its best is luck (SPEC §9): the best trial's deflated and probabilistic Sharpe ratios,
and the probability of backtest overfitting with the histogram of its splits' logits and the
in-sample against the out-of-sample Sharpe ratio of every split's best (`grid_pbo_splits`).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from markupsafe import Markup

from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.config.settings import DEFAULT_WAREHOUSE
from sqlorch.errors import SqlorchError
from sqlorch.grid.search import LOWER_IS_BETTER, best_trial_row
from sqlorch.report import charts
from sqlorch.report.filters import num, pct
from sqlorch.report.run import environment, listing_sql, run_row, save, write_formats
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame

FORMATS = {"html": "grid.html.j2", "md": "grid.md.j2"}
HEATMAPS = 6  # most parameter pairs drawn per strategy
PERCENT_METRICS = frozenset({"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"})
TABLE_METRICS = ("total_return", "cagr", "sharpe_ratio", "sortino_ratio", "max_drawdown", "win_rate", "trade_count",
                 "closed_trade_count", "probabilistic_sharpe_ratio")
TITLES = {"total_return": "Return", "cagr": "CAGR", "volatility": "Volatility", "sharpe_ratio": "Sharpe",
          "sortino_ratio": "Sortino", "max_drawdown": "Max DD", "calmar_ratio": "Calmar", "win_rate": "Win rate",
          "profit_factor": "Profit factor", "trade_count": "Trades", "exposure": "Exposure",
          "closed_trade_count": "Closed", "probabilistic_sharpe_ratio": "PSR"}
"""Short column titles of the top-K table (the column's name in the warehouse shows on hover)."""
ON_A_PHONE = {"total_return", "sharpe_ratio", "max_drawdown", "trade_count"}
LOGIT_BINS = 16  # about as many bars in the histogram of the PBO's logits
BEST_TRIALS = 10  # the trials chosen most often as a split's in-sample best, listed
"""The metrics the top-K table keeps on a narrow screen, besides the ranking metric."""

def metric_text(value: Any, metric: str) -> str:
    """A metric as a trader reads it: returns and shares in percent, ratios with 2 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if metric in ("trade_count", "closed_trade_count"):
        return str(int(value))
    return pct(value) if metric in PERCENT_METRICS else num(value)


def _axis(metric: str):
    return charts.percent_axis if metric in PERCENT_METRICS else lambda step: (lambda v: num(v))


def values_text(values: list[Any], most: int = 12) -> str:
    """A parameter's values, shortened when there are many: "5, 6, 7, …, 44 (40 values)"."""
    if len(values) <= most:
        return ", ".join(str(v) for v in values)
    return f"{', '.join(str(v) for v in values[:3])}, \u2026, {values[-1]} ({len(values)} values)"


def listing_queries(run_id: str) -> dict[str, str]:
    """The SQL a reader runs to list what each section summarizes (shown, not run)."""
    shown = functools.partial(listing_sql, run_id)
    return {
        "run": shown("grid_runs"),
        "results": shown("grid_results", order="strategy_id, rank NULLS LAST"),
        "parameters": shown("grid_parameters", order="strategy_id, combination, position"),
        "sensitivity": shown("grid_sensitivity", order="strategy_id, parameter, number, metric",
                             columns="strategy_id, parameter, value, metric, combinations, mean, min, max"),
        "failed": shown("grid_results", "status = 'failed'", columns="strategy_id, combination, params, error"),
        "splits": shown("grid_pbo_splits", order="split"),
    }


def grid_report_context(warehouse: Warehouse, run_id: str, top: int = 10) -> dict[str, Any]:
    """Everything a grid report shows (SqlorchError for an unknown run)."""
    with warehouse.connect(read_only=True) as con:
        run = run_row(con, sql_text("queries", "grid_run_with_dates"), run_id, "grid run", warehouse)
        results = frame(con, sql_text("queries", "grid_result_rows"), [run_id])
        sensitivity = frame(con, sql_text("queries", "grid_sensitivity_rows"), [run_id])
        symbols = frame(con, sql_text("queries", "dataset_symbols"), [run["dataset_id"]])["symbol"].to_list()
        splits = frame(con, sql_text("queries", "grid_pbo_split_rows"), [run_id])
        chosen = frame(con, sql_text("queries", "grid_pbo_best_trials"), [run_id]).head(BEST_TRIALS)
    metric = run["metric"]
    strategies = [_strategy(grid, results.filter(pl.col("strategy_id") == grid["strategy_id"]),
                            sensitivity.filter(pl.col("strategy_id") == grid["strategy_id"]), metric, top)
                  for grid in json.loads(run["grids"] or "[]")]
    seconds = run["duration_seconds"] or 0.0
    return {
        "run": run, "config": json.loads(run["config"] or "{}"), "symbols": symbols, "metric": metric,
        "higher_is_better": metric not in LOWER_IS_BETTER, "top": top, "strategies": strategies,
        "table_metrics": [m for m in TABLE_METRICS if m != metric], "metrics": METRIC_NAMES,
        "titles": TITLES, "on_a_phone": ON_A_PHONE,
        "speed": run["combination_count"] / seconds if seconds > 0 else None,
        "warehouse": str(warehouse.path) if warehouse.path else ":memory:", "sql": listing_queries(run_id),
        "overfitting": _overfitting(run, results, splits, chosen, metric),
    }


def _overfitting(run: Mapping[str, Any], results: pl.DataFrame, splits: pl.DataFrame, chosen: pl.DataFrame,
                 metric: str) -> dict[str, Any]:
    """How much of the search's best is luck: the best trial and its DSR and PSR against the
    study's trials, the PBO, its logits as a histogram (bins closed on the right, so that the
    bin ending at 0 holds the logits that count as overfit) and every split's best."""
    best_row = best_trial_row(results, metric) if results.height else None
    best = None
    if best_row is not None:
        row = results.row(best_row, named=True)
        best = {"strategy_id": row["strategy_id"], "combination": row["combination"],
                "params": json.loads(row["params"]), "trade_count": row["trade_count"],
                "closed_trade_count": row.get("closed_trade_count"), "value": row[metric]}
    logits = splits["logit"].to_numpy() if splits.height else np.zeros(0)
    return {
        "study": run.get("study"), "trials": run.get("trials"), "min_trades": run.get("min_trades") or 0,
        "blocks": run.get("pbo_blocks"), "pbo": run.get("pbo"), "best": best,
        "deflated_sharpe_ratio": run.get("deflated_sharpe_ratio"),
        "probabilistic_sharpe_ratio": run.get("probabilistic_sharpe_ratio"),
        "split_count": splits.height, "histogram": logit_histogram(logits),
        "in_sample": splits["in_sample_sharpe_ratio"].to_list(),
        "out_of_sample": splits["out_of_sample_sharpe_ratio"].to_list(),
        "chosen": [{**r, "params": json.loads(r["params"]) if r["params"] else {}} for r in chosen.to_dicts()],
    }


def logit_histogram(logits: np.ndarray, bins: int = LOGIT_BINS) -> list[dict[str, Any]]:
    """Bins (low, high] of equal width with 0 an edge, over `logits`: each with its label, count,
    share of all and whether it counts as overfit (high <= 0)."""
    finite = logits[np.isfinite(logits)]
    if not len(finite):
        return []
    low, high = min(float(finite.min()), 0.0), max(float(finite.max()), 0.0)
    raw = max(high - low, 1e-9) / bins
    magnitude = 10 ** math.floor(math.log10(raw))
    width = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / width) - (1 if low % width == 0 else 0)
    edges = np.arange(first, math.ceil(high / width) + 1) * width
    counts = np.bincount(np.searchsorted(edges, finite, side="left") - 1, minlength=len(edges) - 1)
    return [{"label": f"({edges[k]:.3g}, {edges[k + 1]:.3g}]", "count": int(counts[k]),
             "share": float(counts[k] / len(finite)), "overfit": bool(edges[k + 1] <= 0)}
            for k in range(len(edges) - 1)]


def _strategy(grid: Mapping[str, Any], results: pl.DataFrame, sensitivity: pl.DataFrame, metric: str,
              top: int) -> dict[str, Any]:
    """One strategy's section: its grid, best and top combinations, heatmaps and sensitivity."""
    names = list(grid["params"])
    varying = [n for n in names if len(grid["params"][n]) > 1]
    rows = [{**row, "params": json.loads(row["params"])} for row in results.iter_rows(named=True)]
    best = next((r for r in rows if r["rank"] == 1), None)
    failed = [r for r in rows if r["status"] == "failed"]
    return {
        "strategy_id": grid["strategy_id"], "class": grid["class"], "constraint": grid["constraint"],
        "grid": grid["params"], "grid_text": {n: values_text(grid["params"][n]) for n in names},
        "names": names, "varying": varying,
        "fixed": {n: grid["params"][n][0] for n in names if n not in varying},
        "count": len(rows), "failed": len(failed), "errors": _errors(failed), "best": best,
        "top": sorted((r for r in rows if r["rank"] is not None and r["rank"] <= top), key=lambda r: r["rank"]),
        "heatmaps": _heatmaps(rows, grid["params"], varying, best, metric),
        "sensitivity": _sensitivity(sensitivity.filter(pl.col("metric") == metric), varying),
        "spread": _spread(sensitivity, varying),
    }


def _errors(failed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct errors of failed combinations (first five), with how many and an example."""
    found: dict[str, dict[str, Any]] = {}
    for row in failed:
        key = (row["error"] or "").split(" (at bar ")[0]
        entry = found.setdefault(key, {"error": row["error"], "params": row["params"], "count": 0})
        entry["count"] += 1
    return list(found.values())[:5]


def _heatmaps(rows: list[dict[str, Any]], grid: Mapping[str, list], varying: list[str], best: dict[str, Any] | None,
              metric: str) -> list[dict[str, Any]]:
    """The metric over each pair of varying parameters, the others fixed at the best values."""
    if best is None:
        return []
    maps = []
    for row_name, column_name in list(itertools.combinations(varying, 2))[:HEATMAPS]:
        others = {n: best["params"][n] for n in varying if n not in (row_name, column_name)}
        cells: dict[tuple[Any, Any], float | None] = {}
        for r in rows:
            if all(r["params"].get(n) == v for n, v in others.items()):
                value = r[metric] if r["status"] == "completed" else None
                cells[(r["params"].get(row_name), r["params"].get(column_name))] = value
        row_values, column_values = grid[row_name], grid[column_name]
        matrix = [[cells.get((a, b)) for b in column_values] for a in row_values]
        where = (row_values.index(best["params"][row_name]), column_values.index(best["params"][column_name]))
        maps.append({"rows": row_name, "columns": column_name, "row_values": row_values,
                     "column_values": column_values, "matrix": matrix, "best": where, "others": others})
    return maps


def _sensitivity(frame_: pl.DataFrame, varying: list[str]) -> list[dict[str, Any]]:
    """Per varying parameter: per value, the ranking metric's mean, lowest and highest over the
    other parameters, and the spread of the means."""
    out = []
    for name in varying:
        values = frame_.filter(pl.col("parameter") == name).to_dicts()
        means = [v["mean"] for v in values if v["mean"] is not None]
        out.append({"parameter": name, "values": values,
                    "spread": (max(means) - min(means)) if means else None})
    return out


def _spread(frame_: pl.DataFrame, varying: list[str]) -> list[dict[str, Any]]:
    """Per metric, per varying parameter: how far apart the means of its values are."""
    out = []
    for metric in METRIC_NAMES:
        rows = frame_.filter(pl.col("metric") == metric)
        spreads = {}
        for name in varying:
            means = rows.filter(pl.col("parameter") == name)["mean"].drop_nulls()
            spreads[name] = float(means.max() - means.min()) if len(means) else None
        out.append({"metric": metric, "spreads": spreads})
    return out


# -- charts and rendering -------------------------------------------------------------------------


def chart_markup(context: Mapping[str, Any]) -> dict:
    """Per strategy: its heatmaps (drawn wide and narrow) and sensitivity charts as SVG."""
    metric, better = context["metric"], context["higher_is_better"]

    def formatter(value: float) -> str:
        return metric_text(value, metric)

    def drawn(draw: Any, *args: Any, **kwargs: Any) -> Markup:
        return charts.responsive(draw(*args, size=charts.WIDE, **kwargs), draw(*args, size=charts.NARROW, **kwargs))

    out = {}
    for section in context["strategies"]:
        heatmaps = [drawn(charts.grid_heatmap, h["rows"], h["row_values"], h["columns"], h["column_values"],
                          h["matrix"], f"{metric} of {section['strategy_id']} by {h['rows']} and {h['columns']}",
                          higher_is_better=better, best=h["best"], value_format=formatter)
                    for h in section["heatmaps"]]
        ranges = [charts.range_chart([v["value"] for v in s["values"]], [v["mean"] for v in s["values"]],
                                     [v["min"] for v in s["values"]], [v["max"] for v in s["values"]],
                                     f"{metric} by {s['parameter']}", y_format=_axis(metric))
                  for s in section["sensitivity"]]
        out[section["strategy_id"]] = {"heatmaps": heatmaps, "sensitivity": ranges}
    return out


def luck_markup(context: Mapping[str, Any]) -> dict:
    """The PBO's charts as SVG (drawn wide and narrow): the histogram of its splits' logits and the
    in-sample against out-of-sample Sharpe ratio of every split's best (None without splits)."""
    def drawn(draw: Any, *args: Any, **kwargs: Any) -> Markup:
        return charts.responsive(draw(*args, size=charts.WIDE, **kwargs), draw(*args, size=charts.NARROW, **kwargs))

    fit = context["overfitting"]
    bins = fit["histogram"]
    return {
        "histogram": drawn(charts.bar_chart, [b["label"] for b in bins], [b["share"] for b in bins],
                           [charts.NEGATIVE if b["overfit"] else charts.POSITIVE for b in bins],
                           "share of CSCV splits by the logit of their in-sample best's out-of-sample rank",
                           value_format=lambda v: pct(v)) if bins else None,
        "scatter": drawn(charts.scatter_chart, fit["in_sample"], fit["out_of_sample"],
                         "in-sample against out-of-sample Sharpe ratio of every split's in-sample best",
                         "in-sample Sharpe ratio", "out-of-sample Sharpe ratio") if fit["split_count"] else None,
    }


def render_grid(context: Mapping[str, Any], fmt: str, html_report: str | None = None) -> str:
    """The grid report in `fmt` ('html' or 'md'). The Markdown report has no pictures: it links
    to the HTML report at `html_report` (a path relative to it), or says how to write one."""
    if fmt not in FORMATS:
        raise SqlorchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    pictures = {"charts": chart_markup(context), "luck_charts": luck_markup(context)} if fmt == "html" else {
        "html_report": html_report,
        "warehouse_option": "" if context["warehouse"] in (DEFAULT_WAREHOUSE, ":memory:")
        else f" --warehouse {shlex.quote(context['warehouse'])}"}
    return environment().get_template(FORMATS[fmt]).render({**context, **pictures, "show": metric_text})


def write_grid_report(context: Mapping[str, Any], path: Path, fmt: str, force: bool = False) -> Path:
    """Render the grid report of `context` (from `grid_report_context`) to `path` (see `report.save`)."""
    return save(path, render_grid(context, fmt), force)


def write_grid_reports(warehouse: Warehouse, run_id: str, directory: Path, top: int = 10,
                       formats: tuple[str, ...] = ("html", "md")) -> dict[str, Path]:
    """`<run_id>.<fmt>` in `directory` for each format, reading the warehouse once; never over a
    file that is not a sqlorch report."""
    return write_formats(run_id, directory, formats, lambda: grid_report_context(warehouse, run_id, top), render_grid)
