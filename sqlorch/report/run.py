"""Reports of a run (HTML and Markdown), rendered from warehouse views with the Jinja2
templates in `templates/` (`base.html.j2` with its `_*.html.j2` pieces, `report.md.j2`).

`report_context` reads everything a report shows in one read-only connection and returns
plain data (polars frames and dicts); the templates only lay it out. The HTML page is one
self-contained file: inline CSS and SVG charts, no script, nothing fetched from a network.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from sqlorch.backtest.correlation import DIVERSIFYING_BELOW, HIGH_ABOVE, unique_pairs, warning_lines
from sqlorch.engine.domain import DecisionKind
from sqlorch.errors import SqlorchError
from sqlorch.grid.storage import has_grid_tables
from sqlorch.report import charts
from sqlorch.report.filters import breakable, md_cell, money, num, params_text, pct, raw, shade, sign, when
from sqlorch.resources import resource_dir, sql_text
from sqlorch.store.warehouse import Warehouse, frame

FORMATS = {"html": "base.html.j2", "md": "report.md.j2"}
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}  # of -o, when --format is not given
MARKERS = ('<meta name="generator" content="sqlorch', "<!-- generator: sqlorch")
"""What the templates write near the top of every report (HTML: in <head>; Markdown: the line
after the title): a file holding one is a sqlorch report, which a new report may replace."""
CHART_POINTS = 1200  # most points per line drawn; longer runs are bucketed (extremes kept)
EXTREME_TRADES = 5  # best and worst trades listed
USAGE_POINTS = 150  # capital usage is averaged over spans of bars: about this many per line
READERS = max(2, min(4, os.cpu_count() or 2))  # queries read at once (2 measured best on 2 cores)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CONTROL = re.compile(r"([\x00-\x1f\x7f-\x9f])")
_DECISION_KINDS = tuple(kind.value for kind in DecisionKind)  # accepted ... triggered, as the engine names them
EXIT_TYPES = {"signal": "Signal", "stop_loss": "Stop-loss", "take_profit": "Take-profit",
              "trailing_stop": "Trailing stop", "rebalance": "Rebalance", "open": "Still open"}
"""How a trade ended (trades.exit_type), in the order the report shows them, with their labels."""


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal on one line (quotes doubled, control characters as
    `chr(n)`), for SQL that is shown to a reader, never run here."""
    pieces = [f"chr({ord(part)})" if len(part) == 1 and _CONTROL.match(part) else "'" + part.replace("'", "''") + "'"
              for part in _CONTROL.split(text) if part]
    return " || ".join(pieces) or "''"


def listing_sql(run_id: str, view: str, condition: str = "", order: str = "", columns: str = "*") -> str:
    """The SQL a reader runs to list run `run_id`'s rows of `view` (shown, never run here: the
    run id is written as a literal); WHERE on a line of its own when it says more than the run."""
    where = f"run_id = {sql_literal(run_id)}" + (f" AND {condition}" if condition else "")
    gap = "\n" if condition or columns != "*" else " "
    return f"SELECT {columns} FROM {view}{gap}WHERE {where}" + (f" ORDER BY {order};" if order else ";")


def listing_queries(run_id: str) -> dict[str, str]:
    """The SQL a reader runs to list what each report section summarizes (shown, not run)."""
    shown = functools.partial(listing_sql, run_id)
    return {
        "comparison": shown("comparison"),
        "correlations": shown("strategy_correlations", "position_a < position_b", "correlation DESC",
                              columns="strategy_a, strategy_b, days, correlation, flag"),
        "monthly": shown("monthly_returns", "series = 'portfolio'", "month"),
        "capital": shown("allocations", order="bar_index, strategy_id"),
        "blocks": shown("decisions", "kind IN ('clipped', 'rejected')", "decided_bar, order_id"),
        "conflicts": shown("conflicts", order="bar_index, conflict_id"),
        "conflict_pairs": shown("conflict_pairs", order="conflicts DESC"),
        "rebalances": shown("rebalances", order="rebalance_id, strategy_id"),
        "allocation": shown("allocation_targets", order="bar, strategy_id"),
        "transfers": shown("transfers", order="rebalance_id, strategy_id"),
        "trades": shown("trades", order="entry_ts"),
        "events": shown("events", order="seq", columns="seq, ts, event, payload"),
    }


def latest_run_id(warehouse: Warehouse) -> str:
    """The newest completed or failed run (or completed grid search) in the warehouse; SqlorchError
    if there is none."""
    found = warehouse.query(sql_text("queries", "latest_run_or_grid" if has_grid_tables(warehouse) else "latest_run"))
    if found.is_empty():
        raise SqlorchError(f"no finished runs in {warehouse.path or 'the warehouse'}; run `sqlorch run` first")
    return found["run_id"][0]


def run_row(con: duckdb.DuckDBPyConnection, sql: str, run_id: str, kind: str, warehouse: Warehouse) -> dict[str, Any]:
    """The one row `sql` selects for `run_id`; SqlorchError naming the `kind` of run and the
    latest runs if none."""
    runs = frame(con, sql, [run_id])
    if runs.is_empty():
        grids = not frame(con, sql_text("queries", "grid_tables_present")).is_empty()
        listing = sql_text("queries", "run_and_grid_listing" if grids else "run_listing")
        recent = frame(con, listing, [5])["run_id"].to_list()
        latest = f"the latest: {', '.join(recent)}" if recent else "it holds no runs yet"
        raise SqlorchError(f"no {kind} {run_id!r} in {warehouse.path or 'the warehouse'} ({latest}); "
                           "`sqlorch runs` lists them")
    return runs.row(0, named=True)


def report_context(warehouse: Warehouse, run_id: str, comparison: pl.DataFrame | None = None) -> dict[str, Any]:
    """Everything a report shows, read from the warehouse views (SqlorchError for an unknown run).

    `comparison` may pass the run's rows of the `comparison` view when the caller has them
    already (`OrchestratorResult.comparison_table`), saving the most expensive read.
    """
    with warehouse.connect(read_only=True) as con:
        run = run_row(con, sql_text("queries", "run_with_dates"), run_id, "run", warehouse)
        bars = run["bars_processed"] or 0
        bucket = {"run_id": run_id, "step": max(1, math.ceil(bars / CHART_POINTS))}
        usage_bucket = {"run_id": run_id, "step": max(1, math.ceil(bars / USAGE_POINTS))}
        reads = {  # section: (file in sql/queries, parameters)
            "comparison": ("run_comparison", [run_id]), "curves": ("equity_curves_bucketed", bucket),
            "pairs": ("correlation_pairs", [run_id]), "monthly": ("portfolio_monthly_returns", [run_id]),
            "usage": ("capital_usage_bucketed", usage_bucket), "strategies": ("strategy_list", [run_id]),
            "symbols": ("dataset_symbols", [run["dataset_id"]]), "decisions": ("decision_counts", [run_id]),
            "conflicts": ("conflict_summary", [run_id]), "conflict_rows": ("first_conflicts", [run_id]),
            "conflict_pairs": ("run_conflict_pairs", [run_id]),
            "rebalances": ("rebalance_summary", [run_id]), "rebalance_sleeves": ("rebalance_sleeves", [run_id]),
            "trade_symbols": ("trades_by_symbol", [run_id]), "holding": ("holding_times", [run_id]),
            "exits": ("trade_exits", [run_id]),
            "extremes": ("trade_extremes", {"run_id": run_id, "most": EXTREME_TRADES}),
            "benchmark": ("benchmark_curve_bucketed", bucket),
        }
        if comparison is not None:
            del reads["comparison"]
        if allocation_policy(run) != "fixed":
            reads.update(allocation_dates=("allocation_dates", [run_id]), shares=("sleeve_shares_bucketed", bucket))
        data = read_concurrently(con, {section: (sql_text("queries", name), params)
                                       for section, (name, params) in reads.items()})
    if comparison is not None:
        data["comparison"] = comparison
    return {**_shape(run, data, warehouse), "usage_step": usage_bucket["step"]}


def allocation_policy(run: Mapping[str, Any]) -> str:
    """The allocation policy a run used (from its configuration; "fixed" for runs before policies)."""
    return str(json.loads(run["config"] or "{}").get("allocation") or "fixed")


_EVERY = {"daily": "on every bar", "weekly": "on the last bar of every week",
          "monthly": "on the last bar of every month", "quarterly": "on the last bar of every quarter"}


def _allocation(run: dict[str, Any], config: dict[str, Any], data: dict[str, Any]) -> dict[str, Any] | None:
    """The report's Allocation section (None under `fixed`): the policy and its settings, the
    sleeves' shares against their targets (`shares`, bucketed), and one row per allocation date
    with each sleeve's share of the sleeves' equity before and its target share (target / the
    date's targets' sum) (`dates`: ts, bar, {strategy_id: (share, target share)})."""
    policy = allocation_policy(run)
    if policy == "fixed":
        return None
    rows = data["allocation_dates"]
    dates: dict[int, dict[str, Any]] = {}
    budgets = dict(rows.group_by("bar").agg(pl.col("target").sum()).iter_rows())
    for bar, ts, sid, _, share, target, _ in rows.iter_rows():  # the target as a share of the sleeves' equity
        dates.setdefault(bar, {"bar": bar, "ts": ts, "sleeves": {}})["sleeves"][sid] = (share, target / budgets[bar])
    every = config.get("allocation_every")
    settings = {"lookback": config.get("allocation_lookback"), "every": _EVERY.get(every, f"every {every} bars"),
                "min_weight": config.get("min_weight"), "max_weight": config.get("max_weight"),
                "rebalance_threshold": config.get("rebalance_threshold")}
    if rows.height:  # as recorded: an allocator object's class name rather than its text
        policy = rows["policy"][0]
    return {"policy": policy, "settings": settings, "shares": data["shares"], "dates": list(dates.values())}


def read_concurrently(con: duckdb.DuckDBPyConnection, queries: Mapping[str, tuple[str, Any]],
                      workers: int = READERS) -> dict[str, pl.DataFrame]:
    """Run independent read queries on cursors of `con`, a few at a time (DuckDB runs them in
    parallel outside the GIL); {name: frame}, in the order given."""
    def read(item: tuple[str, tuple[str, Any]]) -> pl.DataFrame:
        cursor = con.cursor()
        try:
            return frame(cursor, *item[1])
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(queries, pool.map(read, queries.items())))


def _shape(run: dict[str, Any], data: dict[str, Any], warehouse: Warehouse) -> dict[str, Any]:
    """Arrange the query results for the templates (no further reads)."""
    strategies = data["strategies"].with_columns(
        pl.Series("color", [charts.color_of(i) for i in range(data["strategies"].height)], dtype=pl.String))
    colors = dict(zip(strategies["strategy_id"], strategies["color"]))
    colors["portfolio"] = charts.PORTFOLIO_COLOR
    pairs = unique_pairs(data["pairs"])
    high = pairs.filter(pl.col("flag") == "high")
    decisions = data["decisions"]
    return {
        "run": run,
        "config": json.loads(run["config"] or "{}"),
        "warehouse": str(warehouse.path) if warehouse.path else ":memory:",
        "strategies": strategies,
        "colors": colors,
        "symbols": data["symbols"]["symbol"].to_list(),
        "comparison": data["comparison"],
        "curves": data["curves"],
        "pairs": pairs,
        "matrix_pairs": data["pairs"],
        "diversifying": pairs.filter(pl.col("flag") == "diversifying").sort("correlation"),
        "high": high.sort("correlation", descending=True),
        "warnings": warning_lines(high.select("strategy_a", "strategy_b", "correlation").iter_rows()),
        "thresholds": {"diversifying": DIVERSIFYING_BELOW, "high": HIGH_ABOVE},
        "monthly": _monthly_table(data["monthly"]),
        "usage": data["usage"].filter(~pl.col("whole_run")),
        "usage_summary": strategies.select("strategy_id").join(
            data["usage"].filter(pl.col("whole_run")), on="strategy_id", how="left"),
        "order_kinds": [k for k in _DECISION_KINDS if k in set(decisions["kind"])] or ["accepted"],
        "orders": _orders_table(strategies, decisions),
        "blocks": decisions.filter(pl.col("kind").is_in(["clipped", "rejected"])).join(
            strategies.select("strategy_id", "position"), on="strategy_id", how="left").sort("position", "kind"),
        "conflicts": data["conflicts"],
        "conflict_rows": data["conflict_rows"],
        "conflict_pairs": data["conflict_pairs"],
        "rebalances": data["rebalances"],
        "rebalance_sleeves": strategies.select("strategy_id").join(
            data["rebalance_sleeves"], on="strategy_id", how="inner"),
        "trade_symbols": data["trade_symbols"],
        "holding": strategies.select("strategy_id", "position").join(data["holding"], on="strategy_id", how="inner")
        .sort("position"),
        "exit_labels": EXIT_TYPES,
        "exits": _exits_table(strategies, data["exits"]),
        "best_trades": data["extremes"].filter(pl.col("side") == "best"),
        "worst_trades": data["extremes"].filter(pl.col("side") == "worst"),
        "sql": listing_queries(run["run_id"]),
        "months": MONTHS,
        # the benchmark bought and held (symbol, ts, equity on the run's capital); None without one
        "benchmark": data["benchmark"] if data["benchmark"].height else None,
        "allocation": _allocation(run, json.loads(run["config"] or "{}"), data),
    }


def _monthly_table(monthly: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per year: {year, months: [12 returns or None], total}."""
    years: dict[int, dict[str, Any]] = {}
    for year, month, ret, total in monthly.iter_rows():
        row = years.setdefault(year, {"year": year, "months": [None] * 12, "total": total})
        row["months"][month - 1] = ret
    return list(years.values())


def _orders_table(strategies: pl.DataFrame, decisions: pl.DataFrame) -> list[dict[str, Any]]:
    """Per strategy, {strategy_id, counts: {decision kind: orders}}."""
    counts = {(s, k): n for s, k, n, _ in decisions.iter_rows()}
    return [{"strategy_id": s, "counts": {k: counts.get((s, k), 0) for k in _DECISION_KINDS}}
            for s in strategies["strategy_id"]]


def _exits_table(strategies: pl.DataFrame, exits: pl.DataFrame) -> dict[str, Any]:
    """How trades ended: `rows`, one per exit type that occurs, in EXIT_TYPES order, {exit_type,
    trades, closed, wins, pnl, counts: {strategy_id: trades}} summed over every strategy;
    `strategies`, the strategies with trades, in line-up order."""
    totals: dict[str, dict[str, Any]] = {}
    for sid, exit_type, trades, wins, pnl in exits.iter_rows():
        row = totals.setdefault(exit_type, {"exit_type": exit_type, "trades": 0, "wins": 0, "pnl": 0.0, "counts": {}})
        row["trades"] += trades
        row["wins"] += wins
        row["pnl"] += pnl
        row["counts"][sid] = trades
    rows = [{**totals[e], "closed": 0 if e == "open" else totals[e]["trades"]} for e in EXIT_TYPES if e in totals]
    traded = set(exits["strategy_id"])
    return {"rows": rows, "strategies": [s for s in strategies["strategy_id"] if s in traded]}


# -- charts ---------------------------------------------------------------------------------------


def _lines(context: Mapping[str, Any], parts: dict[str, pl.DataFrame], column: str, names: list[str],
           scale: bool = False) -> list[charts.Series]:
    """One line per name that has data in `parts` (frames by series, with ts and `column`), in
    the strategy's colour and dash (the portfolio thick and near-black); with `scale`, equity
    as a return on the series' starting capital."""
    strategies: pl.DataFrame = context["strategies"]
    capital = {sid: float(c) for sid, c in strategies.select("strategy_id", "initial_capital").iter_rows()}
    capital["portfolio"] = float(context["run"]["initial_capital"])
    styles = {sid: (context["colors"][sid], 1.5, charts.dash_of(i)) for i, sid in enumerate(strategies["strategy_id"])}
    styles["portfolio"] = (charts.PORTFOLIO_COLOR, 2.6, "")
    out = []
    for sid in (n for n in names if n in parts):
        color, width, dash = styles[sid]
        y = parts[sid][column].to_numpy()
        out.append(charts.Series(sid, color, parts[sid]["ts"].to_numpy(), y / capital[sid] - 1 if scale else y,
                                 width, dash))
    return out


def _by_series(frame_: pl.DataFrame, column: str = "series") -> dict[str, pl.DataFrame]:
    return {sid: part.sort("ts") for (sid,), part in frame_.group_by(column)}


def equity_chart(context: Mapping[str, Any], names: list[str], size: charts.Size) -> tuple[Markup, bool]:
    """The equity curves of `names` (strategy ids, 'portfolio') as returns on starting capital,
    with the run's benchmark bought and held (if it has one), or, where they span more than
    `charts.LOG_ABOVE`, as multiples of it on a log scale; and whether the scale is logarithmic."""
    growth = _lines(context, _by_series(context["curves"]), "equity", names, scale=True)
    benchmark: pl.DataFrame | None = context.get("benchmark")
    if benchmark is not None:  # bought and held with the run's capital
        growth.append(charts.Series(benchmark["symbol"][0], charts.BENCHMARK_COLOR, benchmark["ts"].to_numpy(),
                                    benchmark["equity"].to_numpy() / float(context["run"]["initial_capital"]) - 1,
                                    1.5, charts.BENCHMARK_DASH))
    if charts.spans_decades(growth):
        return charts.line_chart([dataclasses.replace(s, y=s.y + 1) for s in growth],
                                 "Growth of starting capital (log scale)", size, y_format=charts.multiple_axis,
                                 log=True), True
    return charts.line_chart(growth, "Return on starting capital", size), False


def chart_markup(context: Mapping[str, Any]) -> dict[str, Any]:
    """The HTML report's SVG charts, each drawn wide and narrow."""
    ids = context["strategies"]["strategy_id"].to_list()
    curves, usage = _by_series(context["curves"]), _by_series(context["usage"], "strategy_id")
    comparison: pl.DataFrame = context["comparison"]
    labels = comparison["strategy_id"].to_list()
    contributions = [None if v is None else float(v) for v in comparison["contribution"]]
    values = {(a, b): c for a, b, c in context["matrix_pairs"].select("strategy_a", "strategy_b", "correlation")
              .iter_rows()}

    def both(draw: Any, *args: Any, **kwargs: Any) -> Markup:
        return charts.responsive(draw(*args, size=charts.WIDE, **kwargs), draw(*args, size=charts.NARROW, **kwargs))

    (wide, log), (narrow, _) = (equity_chart(context, [*ids, "portfolio"], size) for size in (charts.WIDE, charts.NARROW))
    colors = [context["colors"][s] for s in labels]
    extra = {}
    if context.get("allocation"):
        extra["allocation"] = both(charts.line_chart, allocation_lines(context),
                                   "Share of the sleeves' equity (solid) and target (dotted)", include_zero=True)
    return {**extra,
        "equity": charts.responsive(wide, narrow), "equity_log": log, "log_above": f"{charts.LOG_ABOVE:g}",
        "drawdown": both(charts.line_chart, _lines(context, curves, "drawdown", [*ids, "portfolio"]),
                         "Drawdown from the running peak"),
        "contribution": both(charts.bar_chart, labels, contributions, colors,
                             "Contribution to the portfolio's return", emphasize_last=True),
        "usage": both(charts.strip_chart, [(sid, usage[sid]["ts"].to_numpy(), usage[sid]["average_use"].to_numpy())
                                           for sid in ids if sid in usage], "Capital in use, share of each sleeve"),
        "heatmap": both(charts.heatmap, ids, [[values.get((a, b)) for b in ids] for a in ids],
                        "Correlation of daily returns"),
    }


def allocation_lines(context: Mapping[str, Any]) -> list[charts.Series]:
    """Each sleeve's share of the sleeves' equity (its colour, solid) and its target (the same
    colour, dotted and thin) over the run."""
    shares = _by_series(context["allocation"]["shares"], "strategy_id")
    out = []
    for sid in context["strategies"]["strategy_id"]:
        if sid in shares:
            part, color = shares[sid], context["colors"][sid]
            x = part["ts"].to_numpy()
            out.append(charts.Series(sid, color, x, part["share"].to_numpy().astype(float), 1.6))
            out.append(charts.Series(f"{sid} target", color, x, part["target_share"].to_numpy().astype(float), 1.2,
                                     "2 3"))
    return out


# -- rendering ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between processes (keyed by the template's source, so an
    edited template is compiled afresh), in $XDG_CACHE_HOME/sqlorch or ~/.cache/sqlorch;
    none if that directory cannot be created."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sqlorch" / "templates"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(root))


def environment() -> jinja2.Environment:
    """The template environment (one per process; it keeps the compiled templates): autoescape
    for HTML, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        bytecode_cache=_bytecode_cache(),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=md_cell, pct=pct, num=num, money=money, raw=raw, sign=sign, when=when,
                       shade=shade, params=params_text, breakable=breakable)
    return env


def render(context: Mapping[str, Any], fmt: str) -> str:
    """The report text in `fmt` ('html' or 'md')."""
    if fmt not in FORMATS:
        raise SqlorchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    extra = {"charts": chart_markup(context)} if fmt == "html" else {}
    return environment().get_template(FORMATS[fmt]).render({**context, **extra})


def write_report(context: Mapping[str, Any], path: Path, fmt: str, force: bool = False) -> Path:
    """Render the report of `context` (from `report_context`) in `fmt` to `path` (see `save`)."""
    return save(path, render(context, fmt), force)


def write_reports(warehouse: Warehouse, run_id: str, directory: Path, formats: tuple[str, ...] = ("html", "md"),
                  comparison: pl.DataFrame | None = None) -> dict[str, Path]:
    """Render `<run_id>.<fmt>` into `directory` for each format, reading the warehouse once
    (`comparison`: see `report_context`); never over a file that is not a sqlorch report."""
    return write_formats(run_id, directory, formats, lambda: report_context(warehouse, run_id, comparison),
                         lambda context, fmt, html: render(context, fmt))


def write_formats(run_id: str, directory: Path, formats: tuple[str, ...], context_of: Callable[[], Mapping],
                  render_as: Callable[[Mapping, str, str | None], str]) -> dict[str, Path]:
    """`<run_id>.<fmt>` in `directory` for each format: every target checked first, then the
    context read once (`context_of()`) and rendered per format (`render_as(context, fmt, name
    of the HTML file or None)`); never over a file that is not a sqlorch report."""
    paths = {fmt: id_path(directory, run_id, "." + fmt) for fmt in formats}
    for path in paths.values():
        check_target(path, hint=REPORT_DIR_HINT)
    context = context_of()
    html = paths["html"].name if "html" in paths else None
    return {fmt: save(path, render_as(context, fmt, html), hint=REPORT_DIR_HINT) for fmt, path in paths.items()}


# -- files ----------------------------------------------------------------------------------------

FORCE_HINT = "pass --force to replace it, or choose another -o"
REPORT_DIR_HINT = "move it away, or pass another --report-dir"


def id_path(directory: Path, name: str, suffix: str = "") -> Path:
    """`directory / (name + suffix)` for a `name` taken from data (a run id), which stays inside
    `directory`: SqlorchError if `name` is empty, `.` or `..`, or holds a path separator, a
    NUL or another control character."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name
           or (os.altsep is not None and os.altsep in name)
           or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name))
    path = Path(directory) / f"{name}{suffix}"
    if bad or Path(os.path.normpath(path)).parent != Path(os.path.normpath(directory)):
        raise SqlorchError(f"the run id {name!r} cannot name a file in {directory}: a run id is a plain name "
                           "(no path separators, no '..', no control characters)")
    return path


def format_of(path: Path, option: str | None = "--format") -> str:
    """The report format a file name asks for by its suffix; SqlorchError naming the choices
    (and `option`, the command-line option that names a format instead)."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        instead = f", or pass {option} {' or '.join(FORMATS)}" if option else ""
        raise SqlorchError(f"cannot tell the format of {path} from its suffix; name it "
                           f"{', '.join(SUFFIXES)}{instead}") from None


def is_report(path: Path) -> bool:
    """Whether the file at `path` is a sqlorch report: one of `MARKERS` in its first lines."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.lstrip().startswith(MARKERS) for line in head.splitlines()[:12])


def check_target(path: Path, force: bool = False, hint: str = FORCE_HINT) -> None:
    """SqlorchError if a report cannot go to `path`: it is a directory, one of its parents is a
    file, or it is a file that is not a sqlorch report (unless `force`)."""
    if path.is_dir():
        raise SqlorchError(f"{path} is a directory; give the report a file name, like {path / 'report.html'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SqlorchError(f"cannot write {path}: {parent} is a file, not a directory; choose another path")
            break
    if not force and (path.exists() or path.is_symlink()) and not is_report(path):
        raise SqlorchError(f"{path} exists and is not a sqlorch report, so it was not overwritten; {hint}")


def save(path: Path, text: str, force: bool = False, hint: str = FORCE_HINT) -> Path:
    """Write `text` to `path` whole or not at all (a temporary file beside it, renamed over it),
    creating its directory; `check_target` first. SqlorchError if it cannot be written."""
    check_target(path, force, hint)
    temporary = path.with_name(f".{path.name[:200]}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SqlorchError(f"cannot write {path}: {exc.strerror or exc}; choose a path in a directory you can "
                           "write") from None
    return path
