"""The compiled loops of `sqlorch.backtest.metrics`, for many isolated sleeves at once (a grid's
batch): the engine's fills replayed into each sleeve's equity at every close and its trades'
statistics (in int64 micro units: the metrics call these where every amount they meet stays
clear of overflow, checked before from the fills, and keep their exact Python path for the
rest), and the per-bar returns of equity curves with the statistics the metrics weigh.

Compiled into numba's cache by `make` (`warm`), as the engine is;
the cache is dropped when the fills' layout changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sqlorch import money
from sqlorch.engine import layout as L
from sqlorch.engine.cache import forget_stale
from sqlorch.money import MICRO


@njit(cache=True, nogil=True)
def largest_position(fills: np.ndarray, sleeves: int, symbols: int) -> int:
    """The largest number of whole shares any sleeve holds in any symbol after any fill
    (`fills` in booking order, whole-share quantities)."""
    shares = np.zeros((sleeves, symbols), dtype=np.int64)
    largest = 0
    for k in range(fills.shape[0]):
        i, j = fills[k, L.FL_SLEEVE], fills[k, L.FL_SYMBOL]
        shares[i, j] += fills[k, L.FL_QUANTITY] // MICRO
        largest = max(largest, abs(shares[i, j]))
    return largest


@njit(cache=True, nogil=True)
def replay_equity(marks_micro: np.ndarray, fills: np.ndarray, capitals: np.ndarray) -> tuple:
    """([bars, sleeves] equity, [bars, sleeves] held): each sleeve's cash after its last fill
    up to each close plus its whole shares at that close's mark (micro units), summed exactly
    and made a float once; and whether it held a position. `fills` in booking order (bars
    ascending), whole-share quantities, amounts within int64."""
    bars, symbols = marks_micro.shape
    sleeves = capitals.shape[0]
    shares = np.zeros((sleeves, symbols), dtype=np.int64)
    cash = capitals.copy()
    equity = np.empty((bars, sleeves))
    held = np.zeros((bars, sleeves), dtype=np.bool_)
    k, count = 0, fills.shape[0]
    for t in range(bars):
        while k < count and fills[k, L.FL_BAR] == t:
            i = fills[k, L.FL_SLEEVE]
            shares[i, fills[k, L.FL_SYMBOL]] += fills[k, L.FL_QUANTITY] // MICRO
            cash[i] = fills[k, L.FL_CASH]
            k += 1
        for i in range(sleeves):
            value = cash[i]
            for j in range(symbols):
                if shares[i, j] != 0:
                    value += shares[i, j] * marks_micro[t, j]
                    held[t, i] = True
            equity[t, i] = value / MICRO
    return equity, held


@njit(cache=True, nogil=True)
def replay_trades(fills: np.ndarray, capitals: np.ndarray, symbols: int) -> np.ndarray:
    """[sleeves, 5]: trades, closed trades, winning closed trades, gross profit, gross loss (micro
    units) as `sqlorch.backtest.metrics.trade_stats` defines them; amounts within int64."""
    sleeves = capitals.shape[0]
    stats = np.zeros((sleeves, 5), dtype=np.int64)
    position = np.zeros((sleeves, symbols), dtype=np.int64)
    pnl = np.zeros((sleeves, symbols), dtype=np.int64)
    cash = capitals.copy()
    for k in range(fills.shape[0]):
        i, j = fills[k, L.FL_SLEEVE], fills[k, L.FL_SYMBOL]
        after = fills[k, L.FL_CASH]
        if position[i, j] == 0:
            stats[i, 0] += 1
            pnl[i, j] = 0
        position[i, j] += fills[k, L.FL_QUANTITY]
        pnl[i, j] += after - cash[i]
        cash[i] = after
        if position[i, j] == 0:
            stats[i, 1] += 1
            if pnl[i, j] > 0:
                stats[i, 2] += 1
                stats[i, 3] += pnl[i, j]
            elif pnl[i, j] < 0:
                stats[i, 4] -= pnl[i, j]
    return stats


@njit(cache=True, nogil=True, error_model="numpy")
def quotient(a: float, b: float) -> float:
    """a / b as the SQL macro `ratio`: b = 0 gives +inf, -inf or NaN by the sign of a."""
    if b == 0:
        return np.inf if a > 0 else -np.inf if a < 0 else np.nan
    return a / b


@njit(cache=True, nogil=True, error_model="numpy")
def curve_returns(equity: np.ndarray) -> np.ndarray:
    """[sleeves, bars - 1]: r_t = E_t / E_(t-1) - 1 of each column of `equity` [bars, sleeves]."""
    bars, sleeves = equity.shape
    out = np.empty((sleeves, max(bars - 1, 0)))
    for t in range(1, bars):
        for i in range(sleeves):
            out[i, t - 1] = quotient(equity[t, i], equity[t - 1, i]) - 1
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def curve_statistics(equity: np.ndarray, returns: np.ndarray, rf: float) -> np.ndarray:
    """[5, sleeves]: per sleeve (a column of `equity` [bars, sleeves], a row of its `returns`),
    the count of defined (not NaN) returns, their mean, their sample standard deviation (NaN
    below 2; deviations that are NaN skipped), the downside deviation sqrt(mean over every
    return of min(r - rf, 0)^2, NaN as 0) (NaN with one bar), and the maximum drawdown
    min(E_t / max_(s<=t) E_s - 1) over its defined values (NaN if none)."""
    bars, sleeves = equity.shape
    out = np.full((5, sleeves), np.nan)
    if bars == 0:
        return out
    for i in range(sleeves):
        row = returns[i]
        count, total, downside = 0, 0.0, 0.0
        for r in row:
            if r == r:
                count += 1
                total += r
            loss = r - rf
            if loss < 0:
                downside += loss * loss
        mean = total / count if count > 0 else np.nan
        squares = 0.0
        for r in row:
            deviation = r - mean
            if deviation == deviation:
                squares += deviation * deviation
        out[0, i] = count
        out[1, i] = mean
        if count > 1:
            out[2, i] = np.sqrt(squares / (count - 1))
        if bars > 1:
            out[3, i] = np.sqrt(downside / (bars - 1))
    peak, worst = equity[0].copy(), np.full(sleeves, np.inf)  # bar by bar: equity's rows are contiguous
    for t in range(bars):
        for i in range(sleeves):
            peak[i] = max(peak[i], equity[t, i])
            drawdown = quotient(equity[t, i], peak[i]) - 1
            if drawdown < worst[i]:
                worst[i] = drawdown
    for i in range(sleeves):
        if worst[i] != np.inf:
            out[4, i] = worst[i]
    return out


forget_stale(globals(), [L.__file__, money.__file__])  # the fills' layout is compiled in


def warm() -> None:
    """Compile (or load from the cache) the kernels for the types the metrics pass."""
    fills = np.zeros((1, L.FL_COLUMNS), dtype=np.int64)
    capitals = np.ones(1, dtype=np.int64)
    largest_position(fills, 1, 1)
    replay_equity(np.ones((1, 1), dtype=np.int64), fills, capitals)
    replay_trades(fills, capitals, 1)
    curve = np.ones((2, 1))
    curve_statistics(curve, curve_returns(curve), 0.0)
