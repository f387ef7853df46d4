"""Reports of a run (HTML and Markdown), rendered from warehouse views with the Jinja2
templates in `templates/` (`base.html.j2` with its `_*.html.j2` pieces, `report.md.j2`).

`report_context` reads everything a report shows in one read-only connection and returns
plain data (polars frames and dicts); the templates only lay it out. The HTML page is one
self-contained file: inline CSS and SVG charts, no script, nothing fetched from a network.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from sqlorch.backtest.correlation import DIVERSIFYING_BELOW, HIGH_ABOVE, unique_pairs, warning_lines
from sqlorch.backtest.correlation import PAIRS_SQL as _PAIRS
from sqlorch.errors import SqlorchError
from sqlorch.grid.storage import has_grid_tables
from sqlorch.report import charts
from sqlorch.report.filters import md_cell, money, num, params_text, pct, raw, shade, sign, when
from sqlorch.resources import resource_dir
from sqlorch.store.warehouse import Warehouse, frame

FORMATS = {"html": "base.html.j2", "md": "report.md.j2"}
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}  # of -o, when --format is not given
MARKERS = ('<meta name="generator" content="sqlorch', "<!-- generator: sqlorch")
"""What the templates write near the top of every report (HTML: in <head>; Markdown: the line
after the title): a file holding one is a sqlorch report, which a new report may replace."""
CHART_POINTS = 1200  # most points per line drawn; longer runs are bucketed (extremes kept)
READERS = max(2, min(4, os.cpu_count() or 2))  # queries read at once (2 measured best on 2 cores)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_RUN = """SELECT r.*, c.first_ts, c.last_ts
          FROM runs r
          LEFT JOIN (SELECT run_id, min(ts) AS first_ts, max(ts) AS last_ts FROM run_clock GROUP BY run_id) c
            USING (run_id)
          WHERE r.run_id = ?"""
_LATEST = """SELECT run_id FROM runs WHERE status IN ('completed', 'failed')
             ORDER BY started_at DESC, run_id DESC LIMIT 1"""
_LATEST_OR_GRID = """SELECT run_id FROM (SELECT run_id, started_at FROM runs WHERE status IN ('completed', 'failed')
                                      UNION ALL SELECT run_id, started_at FROM grid_runs WHERE status = 'completed')
                     ORDER BY started_at DESC, run_id DESC LIMIT 1"""
_CONTROL = re.compile(r"([\x00-\x1f\x7f-\x9f])")
_RECENT = """SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 5"""
_RECENT_OR_GRID = """SELECT run_id FROM (SELECT run_id, started_at FROM runs UNION ALL SELECT run_id, started_at FROM grid_runs)
                     ORDER BY started_at DESC, run_id DESC LIMIT 5"""
_STRATEGIES = """SELECT strategy_id, position, class_name, params, weight::DOUBLE AS weight, initial_capital
                 FROM run_strategies WHERE run_id = ? ORDER BY position"""
_SYMBOLS = "SELECT DISTINCT symbol FROM bars WHERE dataset_id = ? ORDER BY symbol"
_COMPARISON = "SELECT * EXCLUDE (run_id, position) FROM comparison WHERE run_id = ? ORDER BY position NULLS LAST"
_CURVES = """SELECT series, max(ts) AS ts, arg_max(equity, bar_index)::DOUBLE AS equity, min(drawdown) AS drawdown
             FROM drawdowns WHERE run_id = $run_id
             GROUP BY series, bar_index // $step ORDER BY series, ts"""
# the year column compounds the months as the annual_returns view does (one scan instead of two)
_MONTHLY = """SELECT year, month_of_year, ret, product(1 + ret) OVER (PARTITION BY year) - 1 AS year_ret
              FROM monthly_returns WHERE run_id = ? AND series = 'portfolio' ORDER BY month"""
# one scan of allocations: per strategy and chart bucket (the bucket's last bar), and per strategy
_USAGE = """WITH a AS (
                SELECT strategy_id, bar_index, bar_index // $step AS bucket, ts,
                       allocated_capital, used_capital, available_capital,
                       ratio(used_capital::DOUBLE, allocated_capital::DOUBLE) AS share
                FROM allocations WHERE run_id = $run_id)
            SELECT strategy_id, grouping(bucket) = 1 AS whole_run,
                   max(ts) AS ts, arg_max(share, bar_index) AS used_share,
                   avg(share) AS average_use, max(share) AS peak_use,
                   arg_max(allocated_capital, bar_index)::DOUBLE AS allocated_capital,
                   arg_max(used_capital, bar_index)::DOUBLE AS used_capital,
                   arg_max(available_capital, bar_index)::DOUBLE AS available_capital
            FROM a GROUP BY GROUPING SETS ((strategy_id, bucket), (strategy_id))
            ORDER BY strategy_id, ts"""
_DECISIONS = """SELECT strategy_id, kind, count(*) AS orders,
                       sum(abs(requested_quantity) - abs(coalesce(filled_quantity, 0)))::DOUBLE AS blocked_quantity
                FROM decisions WHERE run_id = ? GROUP BY strategy_id, kind"""
_CONFLICTS = """SELECT mode, count(*) AS conflicts, count(DISTINCT symbol) AS symbols,
                       sum(len(strategies) - len(standing)) AS cancelled_orders,
                       sum(crossed_quantity)::DOUBLE AS crossed_quantity,
                       sum(commission_saved)::DOUBLE AS commission_saved,
                       min(ts) AS first_ts, max(ts) AS last_ts
                FROM conflicts WHERE run_id = ? GROUP BY mode ORDER BY conflicts DESC, mode"""
_CONFLICT_ROWS = """SELECT ts, symbol, mode, strategies, standing, outcome
                    FROM conflicts WHERE run_id = ? ORDER BY bar_index, conflict_id LIMIT 10"""
_CONFLICT_PAIRS = """SELECT strategy_a, strategy_b, conflicts, opposing, a_stood_alone, b_stood_alone, both_cancelled
                     FROM conflict_pairs WHERE run_id = ? ORDER BY conflicts DESC, strategy_a, strategy_b"""
_REBALANCES = """SELECT rebalance_id, min(ts) AS ts, count(*) AS sleeves,
                        max(abs(share_before - target_share)) AS max_drift,
                        sum(greatest(cash_moved, 0))::DOUBLE AS cash_moved,
                        sum(abs(position_trade))::DOUBLE AS positions_traded
                 FROM rebalances WHERE run_id = ? GROUP BY rebalance_id ORDER BY rebalance_id"""
_REBALANCE_SLEEVES = """SELECT strategy_id, count(*) AS rebalances, sum(cash_moved)::DOUBLE AS net_cash,
                               sum(position_trade)::DOUBLE AS net_position_trade
                        FROM rebalances WHERE run_id = ? GROUP BY strategy_id"""
_DECISION_KINDS = ("accepted", "clipped", "rejected", "expired", "cancelled")


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal on one line (quotes doubled, control characters as
    `chr(n)`), for SQL that is shown to a reader, never run here."""
    pieces = [f"chr({ord(part)})" if len(part) == 1 and _CONTROL.match(part) else "'" + part.replace("'", "''") + "'"
              for part in _CONTROL.split(text) if part]
    return " || ".join(pieces) or "''"


def listing_queries(run_id: str) -> dict[str, str]:
    """The SQL a reader runs to list what each report section summarizes (shown, not run)."""
    where = f"run_id = {sql_literal(run_id)}"  # display text only
    return {
        "comparison": f"SELECT * FROM comparison WHERE {where};",
        "correlations": ("SELECT strategy_a, strategy_b, days, correlation, flag FROM strategy_correlations\n"
                         f"WHERE {where} AND position_a < position_b ORDER BY correlation DESC;"),
        "monthly": f"SELECT * FROM monthly_returns WHERE {where} AND series = 'portfolio' ORDER BY month;",
        "capital": f"SELECT * FROM allocations WHERE {where} ORDER BY bar_index, strategy_id;",
        "blocks": ("SELECT * FROM decisions\n"
                   f"WHERE {where} AND kind IN ('clipped', 'rejected') ORDER BY decided_bar, order_id;"),
        "conflicts": f"SELECT * FROM conflicts WHERE {where} ORDER BY bar_index, conflict_id;",
        "conflict_pairs": f"SELECT * FROM conflict_pairs WHERE {where} ORDER BY conflicts DESC;",
        "rebalances": f"SELECT * FROM rebalances WHERE {where} ORDER BY rebalance_id, strategy_id;",
        "transfers": f"SELECT * FROM transfers WHERE {where} ORDER BY rebalance_id, strategy_id;",
        "trades": f"SELECT * FROM trades WHERE {where} ORDER BY entry_ts;",
        "events": f"SELECT seq, ts, event, payload FROM events WHERE {where} ORDER BY seq;",
    }


def latest_run_id(warehouse: Warehouse) -> str:
    """The newest completed or failed run (or completed grid search) in the warehouse; SqlorchError
    if there is none."""
    found = warehouse.query(_LATEST_OR_GRID if has_grid_tables(warehouse) else _LATEST)
    if found.is_empty():
        raise SqlorchError(f"no finished runs in {warehouse.path or 'the warehouse'}; run `sqlorch run` first")
    return found["run_id"][0]


def run_row(con: duckdb.DuckDBPyConnection, sql: str, run_id: str, kind: str, warehouse: Warehouse) -> dict[str, Any]:
    """The one row `sql` selects for `run_id`; SqlorchError naming the `kind` of run and the
    latest runs if none."""
    runs = frame(con, sql, [run_id])
    if runs.is_empty():
        grids = not frame(con, "SELECT 1 FROM duckdb_tables() WHERE table_name = 'grid_runs'").is_empty()
        recent = frame(con, _RECENT_OR_GRID if grids else _RECENT)["run_id"].to_list()
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
        run = run_row(con, _RUN, run_id, "run", warehouse)
        bucket = {"run_id": run_id, "step": max(1, math.ceil((run["bars_processed"] or 0) / CHART_POINTS))}
        queries: dict[str, tuple[str, Any]] = {
            "comparison": (_COMPARISON, [run_id]), "curves": (_CURVES, bucket), "pairs": (_PAIRS, [run_id]),
            "monthly": (_MONTHLY, [run_id]), "usage": (_USAGE, bucket), "strategies": (_STRATEGIES, [run_id]),
            "symbols": (_SYMBOLS, [run["dataset_id"]]), "decisions": (_DECISIONS, [run_id]),
            "conflicts": (_CONFLICTS, [run_id]), "conflict_rows": (_CONFLICT_ROWS, [run_id]),
            "conflict_pairs": (_CONFLICT_PAIRS, [run_id]),
            "rebalances": (_REBALANCES, [run_id]), "rebalance_sleeves": (_REBALANCE_SLEEVES, [run_id]),
        }
        if comparison is not None:
            del queries["comparison"]
        data = read_concurrently(con, queries)
    if comparison is not None:
        data["comparison"] = comparison
    return _shape(run, data, warehouse)


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
        "sql": listing_queries(run["run_id"]),
        "months": MONTHS,
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


# -- charts ---------------------------------------------------------------------------------------


def chart_markup(context: Mapping[str, Any]) -> dict[str, Any]:
    """The HTML report's SVG charts, each drawn wide and narrow."""
    strategies: pl.DataFrame = context["strategies"]
    ids = strategies["strategy_id"].to_list()
    capital = {sid: float(c) for sid, c in strategies.select("strategy_id", "initial_capital").iter_rows()}
    capital["portfolio"] = float(context["run"]["initial_capital"])
    styles = {sid: (context["colors"][sid], 1.5, charts.dash_of(i)) for i, sid in enumerate(ids)}
    styles["portfolio"] = (charts.PORTFOLIO_COLOR, 2.6, "")
    curves = {sid: part.sort("ts") for (sid,), part in context["curves"].group_by("series")}
    usage = {sid: part.sort("ts") for (sid,), part in context["usage"].group_by("strategy_id")}

    def lines(parts: dict[str, pl.DataFrame], column: str, names: list[str],
              scale: bool = False) -> list[charts.Series]:
        """One line per name that has data; with `scale`, equity as a return on starting capital."""
        out = []
        for sid in (n for n in names if n in parts):
            color, width, dash = styles[sid]
            y = parts[sid][column].to_numpy()
            out.append(charts.Series(sid, color, parts[sid]["ts"].to_numpy(), y / capital[sid] - 1 if scale else y,
                                     width, dash))
        return out

    comparison: pl.DataFrame = context["comparison"]
    labels = comparison["strategy_id"].to_list()
    contributions = [None if v is None else float(v) for v in comparison["contribution"]]
    values = {(a, b): c for a, b, c in context["matrix_pairs"].select("strategy_a", "strategy_b", "correlation")
              .iter_rows()}

    def both(draw: Any, *args: Any, **kwargs: Any) -> Markup:
        return charts.responsive(draw(*args, size=charts.WIDE, **kwargs), draw(*args, size=charts.NARROW, **kwargs))

    return {
        "equity": both(charts.line_chart, lines(curves, "equity", [*ids, "portfolio"], scale=True),
                       "Return on starting capital"),
        "drawdown": both(charts.line_chart, lines(curves, "drawdown", [*ids, "portfolio"]),
                         "Drawdown from the running peak"),
        "contribution": both(charts.bar_chart, labels, contributions, [styles[s][0] for s in labels],
                             "Contribution to the portfolio's return", emphasize_last=True),
        "usage": both(charts.line_chart, lines(usage, "used_share", ids), "Capital in use, share of each sleeve"),
        "heatmap": both(charts.heatmap, ids, [[values.get((a, b)) for b in ids] for a in ids],
                        "Correlation of daily returns"),
    }


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
                       shade=shade, params=params_text)
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
    paths = {fmt: id_path(directory, run_id, "." + fmt) for fmt in formats}
    for path in paths.values():
        check_target(path, hint=REPORT_DIR_HINT)
    context = report_context(warehouse, run_id, comparison)
    return {fmt: save(path, render(context, fmt), hint=REPORT_DIR_HINT) for fmt, path in paths.items()}


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


def format_of(path: Path) -> str:
    """The report format a file name asks for by its suffix; SqlorchError naming the choices."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise SqlorchError(f"cannot tell the format of {path} from its suffix; name it "
                           f"{', '.join(SUFFIXES)}, or pass --format {' or '.join(FORMATS)}") from None


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
