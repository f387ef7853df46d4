"""A deterministic sample universe for the demo and for trying configurations without data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

TICKERS = ("ALFA", "BRVO", "CHRL", "DLTA", "ECHO", "FXTR", "GOLF", "HOTL", "INDA", "JULT",
           "KILO", "LIMA", "MIKE", "NOVR", "OSCR", "PAPA", "QUBE", "ROMO", "SIRA", "TNGO")
BARS_PER_YEAR = 252
FIRST_DAY = dt.date(2023, 1, 2)


def trading_days(count: int, first: dt.date = FIRST_DAY) -> list[dt.datetime]:
    """`count` consecutive weekdays from `first`."""
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(dt.datetime(day.year, day.month, day.day))
        day += dt.timedelta(days=1)
    return days


def synthetic_bars(symbols: int = 10, years: int = 2, seed: int = 42) -> pl.DataFrame:
    """Daily OHLCV bars for `symbols` made-up tickers over `years` x 252 weekdays.

    Each symbol follows a geometric random walk whose drift switches between regimes (so
    trend, momentum and mean-reversion strategies all find something to do), with opening
    gaps and intraday ranges around open and close. Same arguments, same bars.
    """
    rng = np.random.default_rng(seed)
    days = trading_days(years * BARS_PER_YEAR)
    n = len(days)
    names = [TICKERS[i] if i < len(TICKERS) else f"SYM{i:03d}" for i in range(symbols)]
    frames = []
    for name in names:
        volatility = rng.uniform(0.012, 0.03)
        regime_drift = rng.normal(0.0004, 0.0015, size=n // 40 + 1)
        drift = np.repeat(regime_drift, 40)[:n]
        log_returns = drift + volatility * rng.standard_normal(n)
        close = rng.uniform(20, 200) * np.exp(np.cumsum(log_returns))
        previous = np.concatenate([[close[0] * (1 - log_returns[0])], close[:-1]])
        open_ = previous * np.exp(0.3 * volatility * rng.standard_normal(n))
        reach = np.abs(volatility * 0.6 * rng.standard_normal((2, n)))
        high = np.maximum(open_, close) * (1 + reach[0])
        low = np.minimum(open_, close) * (1 - reach[1])
        volume = np.round(rng.lognormal(13, 0.5, n))
        frames.append(pl.DataFrame({
            "symbol": [name] * n, "ts": days,
            "open": np.round(open_, 2), "high": np.round(high, 2), "low": np.round(low, 2),
            "close": np.round(close, 2), "volume": volume,
        }))
    bars = pl.concat(frames)
    # rounding to cents may push open or close a cent outside the range: widen the range
    return bars.with_columns(
        pl.max_horizontal("open", "high", "close").alias("high"),
        pl.min_horizontal("open", "low", "close").alias("low"),
    ).sort("ts", "symbol")
