"""The trading window of a run: the bars it trades (from `start`) and the warm-up bars before them.

A run loads its bars up to `end` without cutting them at `start`; `trading_window` keeps the
`warmup` clock bars before `start` (fewer if the data has fewer) and everything from `start` on.
The warm-up bars feed features and `ctx.history`; the run never trades, records or accounts them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from sqlorch.bars.load import _bound, _fmt_ts
from sqlorch.errors import DataError


def trading_window(bars: pl.DataFrame, start: Any, warmup: int) -> tuple[pl.DataFrame, int]:
    """(the bars from the first warm-up bar on, how many clock bars of them are warm-up) for
    validated `bars` (sorted by ts) traded from `start` (inclusive; a date, datetime or ISO text;
    None: from the first bar, without warm-up) after up to `warmup` clock bars. Symbols without a
    bar from `start` on are dropped (they cannot trade). DataError if no bar is at or after `start`."""
    problems: list[str] = []
    bound = _bound("start", start, problems)
    if problems:
        raise DataError(problems)
    if bound is None:
        return bars, 0
    lo = bound[0]
    traded = bars.filter(pl.col("ts") >= lo)
    if traded.is_empty():
        raise DataError([f"no bars at or after start {start} (the bars loaded cover {_fmt_ts(bars['ts'].min())} to "
                         f"{_fmt_ts(bars['ts'].max())}); move start earlier (or end later)"])
    before = bars.filter(pl.col("ts") < lo)
    if warmup <= 0 or before.is_empty():
        return traded, 0
    symbols = traded["symbol"].unique()
    before = before.filter(pl.col("symbol").is_in(symbols.implode()))
    clock = before["ts"].unique().sort()
    kept = clock[-warmup:] if warmup < len(clock) else clock
    if kept.is_empty():
        return traded, 0
    return pl.concat([before.filter(pl.col("ts") >= kept[0]), traded]), len(kept)
