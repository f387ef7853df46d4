"""How results show themselves in a notebook, and write their report.

`html(result)` is what Jupyter shows for a BacktestResult, OrchestratorResult or GridResult
(`_repr_html_`): a run's comparison table and its equity chart as inline SVG (the report's own
table columns and chart), a grid's best combinations and first heatmap per strategy, a
walk-forward's folds and stitched out-of-sample curve per strategy, a combination search's best
subsets and its return-versus-volatility map. `report(result, path)`
writes the full report (HTML, or Markdown for a .md path) and returns its path. Results call
these through `sqlorch.backtest.results.PRESENTERS`, which the package fills in when imported
(backtest and grid know nothing of the reports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlorch.report import charts
from sqlorch.report.run import check_target, environment, equity_chart, format_of, id_path, report_context, write_report

REPORTS = Path("reports")
"""Where `result.report()` writes when given no path: as `sqlorch report` does."""
TOP = 5  # combinations listed per strategy for a grid


def html(result: Any) -> str:
    """The notebook view of a run's result (a sleeve's: its own row and curve), a grid's or a
    walk-forward's."""
    if hasattr(result, "efficiency_by_strategy"):
        return _walkforward_html(result)
    if hasattr(result, "line_up"):
        return _combination_html(result)
    if hasattr(result, "best_by_strategy"):
        return _grid_html(result)
    context = report_context(result.warehouse, result.run_id)
    sleeve = getattr(result, "strategy_id", None)
    names = [sleeve] if sleeve else [*context["strategies"]["strategy_id"], "portfolio"]
    comparison = context["comparison"]
    if sleeve:
        comparison = comparison.filter(comparison["strategy_id"] == sleeve)
    chart, log = equity_chart(context, names, charts.WIDE)
    return environment().get_template("notebook.html.j2").render(
        {**context, "comparison": comparison, "chart": chart, "log": log, "sleeve": sleeve})


def _grid_html(result: Any) -> str:
    from sqlorch.report.grid import TITLES, chart_markup, grid_report_context, metric_text  # only for grids

    context = grid_report_context(result.warehouse, result.run_id, TOP)
    return environment().get_template("notebook_grid.html.j2").render(
        {**context, "charts": chart_markup(context), "titles": TITLES, "show": metric_text})


def _combination_html(result: Any) -> str:
    from sqlorch.report.combine import chart_markup, combination_report_context, metric_text  # only for these

    context = combination_report_context(result.warehouse, result.run_id, TOP)
    return environment().get_template("notebook_combine.html.j2").render(
        {**context, "charts": chart_markup(context), "show": metric_text})


def _walkforward_html(result: Any) -> str:
    from sqlorch.report.walkforward import chart_markup, walkforward_report_context  # only for walk-forwards

    context = walkforward_report_context(result.warehouse, result.run_id, result)
    return environment().get_template("notebook_walkforward.html.j2").render(
        {**context, "charts": chart_markup(context)})


def report(result: Any, path: str | Path | None = None) -> Path:
    """Write the report of `result`'s run to `path` (format from its suffix: .html, .htm, .md,
    .markdown; default `reports/<run_id>.html`), never over a file that is not a sqlorch
    report; a sleeve's result writes its whole run's report. Returns the path written."""
    target = Path(path) if path is not None else id_path(REPORTS, result.run_id, ".html")
    fmt = format_of(target, option=None)
    check_target(target)
    if hasattr(result, "efficiency_by_strategy"):
        from sqlorch.report.walkforward import walkforward_report_context, write_walkforward_report

        return write_walkforward_report(walkforward_report_context(
            result.warehouse, result.run_id, result), target, fmt)
    if hasattr(result, "line_up"):
        from sqlorch.report.combine import combination_report_context, write_combination_report

        return write_combination_report(combination_report_context(result.warehouse, result.run_id), target, fmt)
    if hasattr(result, "best_by_strategy"):
        from sqlorch.report.grid import grid_report_context, write_grid_report

        return write_grid_report(grid_report_context(result.warehouse, result.run_id), target, fmt)
    return write_report(report_context(result.warehouse, result.run_id), target, fmt)
