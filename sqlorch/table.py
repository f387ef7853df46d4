"""Plain-text tables for the terminal."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import polars as pl

Formatter = Callable[[Any], str]


def percent(value: Any) -> str:
    """0.1234 -> '12.34%'."""
    return "" if _missing(value) else f"{float(value):.2%}"


def ratio(value: Any) -> str:
    """A ratio with two decimals."""
    return "" if _missing(value) else f"{float(value):.2f}"


def plain(value: Any) -> str:
    """Any value, briefly: floats to 6 significant digits, NULL as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_table(frame: pl.DataFrame, formats: Mapping[str, Formatter] | None = None,
                 headers: Mapping[str, str] | None = None) -> str:
    """`frame` as aligned columns: text left, numbers right."""
    formats, headers = formats or {}, headers or {}
    names = frame.columns
    cells = [[formats.get(n, plain)(v) for n, v in zip(names, row)] for row in frame.iter_rows()]
    titles = [headers.get(n, n) for n in names]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    numeric = [frame.schema[n].is_numeric() for n in names]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(titles), line(["-" * w for w in widths])] + [line(r) for r in cells])


COMPARISON_FORMATS = {
    "weight": percent, "total_return": percent, "cagr": percent, "sharpe_ratio": ratio,
    "sortino_ratio": ratio, "max_drawdown": percent, "win_rate": percent, "contribution": percent,
}
COMPARISON_HEADERS = {
    "strategy_id": "strategy", "total_return": "return", "sharpe_ratio": "sharpe",
    "sortino_ratio": "sortino", "max_drawdown": "max dd", "win_rate": "win rate",
    "trade_count": "trades",
}


def format_comparison(comparison: pl.DataFrame) -> str:
    """The comparison table as a trader reads it: returns in %, ratios with 2 decimals."""
    return format_table(comparison, COMPARISON_FORMATS, COMPARISON_HEADERS)
