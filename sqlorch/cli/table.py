"""Plain-text tables for the terminal, and text made safe to print there: whatever the CLI
prints goes through `terminal_text`, so names and messages from data cannot drive the terminal
(colours, cursor moves, a rewritten line, a bell, reversed text)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import polars as pl

Formatter = Callable[[Any], str]

_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 control characters, DEL, and the characters that reorder or break text invisibly
(bidirectional marks, embeddings, overrides and isolates; line and paragraph separators)."""
_UNSEEN_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: Any, keep_newlines: bool = False) -> str:
    """`value` as text that cannot drive a terminal: each character of `_UNSEEN` (tab and newline
    included, so a table cell stays one line) shown as an escape like `\\x1b` or `\\u202e`. With
    `keep_newlines`, newlines stay (messages of several lines). Backslashes stay as they are."""
    text = str(value)
    if keep_newlines:
        return "\n".join(_UNSEEN.sub(_escape, line) for line in text.split("\n"))
    return _UNSEEN.sub(_escape, text)


def json_for_terminal(text: str) -> str:
    """JSON text with DEL, C1 controls and the invisible reordering characters (which JSON may
    carry raw) written as `\\u` escapes: the same data, safe to print. (Only strings can hold
    them, and inside a string the escape means the character.)"""
    return _UNSEEN_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
    """`frame` as aligned columns: text left, numbers right; every cell and title through
    `terminal_text`."""
    formats, headers = formats or {}, headers or {}
    names = frame.columns
    cells = [[terminal_text(formats.get(n, plain)(v)) for n, v in zip(names, row)] for row in frame.iter_rows()]
    titles = [terminal_text(headers.get(n, n)) for n in names]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    numeric = [frame.schema[n].is_numeric() for n in names]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(titles), line(["-" * w for w in widths])] + [line(r) for r in cells])


COMPARISON_FORMATS = {
    "weight": percent, "total_return": percent, "cagr": percent, "sharpe_ratio": ratio,
    "sortino_ratio": ratio, "max_drawdown": percent, "win_rate": percent, "contribution": percent,
    "alpha": percent, "beta": ratio, "tracking_error": percent, "information_ratio": ratio,
}
COMPARISON_HEADERS = {
    "strategy_id": "strategy", "total_return": "return", "sharpe_ratio": "sharpe",
    "sortino_ratio": "sortino", "max_drawdown": "max dd", "win_rate": "win rate",
    "trade_count": "trades", "tracking_error": "track err", "information_ratio": "info ratio",
}
VERSUS_BENCHMARK = ("alpha", "beta", "tracking_error", "information_ratio")
"""The comparison's columns against a benchmark: shown only for a run that has one."""


def format_comparison(comparison: pl.DataFrame, benchmark: bool | None = None) -> str:
    """The comparison table as a trader reads it: returns in %, ratios with 2 decimals; alpha,
    beta, tracking error and information ratio only with a `benchmark` (None: when any of them
    has a value)."""
    versus = [c for c in VERSUS_BENCHMARK if c in comparison.columns]
    if benchmark is None:
        benchmark = any(comparison[c].drop_nulls().drop_nans().len() for c in versus)
    shown = comparison if benchmark else comparison.drop(versus)
    return format_table(shown, COMPARISON_FORMATS, COMPARISON_HEADERS)
