"""Reports rendered from warehouse views with the Jinja2 templates in `templates/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from sqlorch.resources import resource_dir
from sqlorch.table import COMPARISON_FORMATS, plain
from sqlorch.warehouse import Warehouse, frame

_RUN = """SELECT r.*, c.first_ts, c.last_ts
          FROM runs r
          LEFT JOIN (SELECT run_id, min(ts) AS first_ts, max(ts) AS last_ts FROM run_clock GROUP BY run_id) c
            USING (run_id)
          WHERE r.run_id = ?"""
_COMPARISON = "SELECT * EXCLUDE (run_id, position) FROM comparison WHERE run_id = ? ORDER BY position NULLS LAST"
_DECISIONS = """SELECT strategy_id, kind, count(*) AS orders
                FROM decisions WHERE run_id = ? GROUP BY ALL ORDER BY strategy_id, kind"""


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def environment() -> jinja2.Environment:
    """The template environment: autoescape for HTML, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md_cell
    env.filters["fmt"] = lambda value, column: COMPARISON_FORMATS.get(column, plain)(value)
    return env


def summary_context(warehouse: Warehouse, run_id: str) -> dict[str, Any]:
    """What the summary shows, read from the warehouse views."""
    with warehouse.connect(read_only=True) as con:
        run = frame(con, _RUN, [run_id]).row(0, named=True)
        comparison = frame(con, _COMPARISON, [run_id])
        decisions = frame(con, _DECISIONS, [run_id])
    return {
        "run": run,
        "config": json.loads(run["config"] or "{}"),
        "comparison": comparison,
        "decisions": decisions,
        "warehouse": str(warehouse.path) if warehouse.path else ":memory:",
    }


def write_summary(warehouse: Warehouse, run_id: str, path: Path) -> Path:
    """Render the Markdown summary of a run to `path`."""
    text = environment().get_template("summary.md.j2").render(summary_context(warehouse, run_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
