"""The metrics of many sleeves at once, from their fills: the grid's fast path.

The definitions are those of the warehouse's `metrics` table (sql/load/metrics.sql, over
`equity`, `portfolio_books`, `trades`), computed with numpy over
a [bars, sleeves] matrix instead of SQL over one row per sleeve and bar, which for a thousand
combinations is a hundred times faster. Everything the SQL computes from exact amounts is
exact here too: trades, their P&L, win rate, profit factor, exposure, the first and last
equity, hence total return and CAGR. Metrics of per-bar returns (volatility, Sharpe, Sortino,
max drawdown, Calmar) use per-bar equity as floats and agree with the SQL to within
`sqlorch.money.FLOAT_TOLERANCE` (the SQL's own float sums vary with DuckDB's threads as much).

Undefined values are NaN, as in `PerformanceMetrics`; `ratio` follows the SQL macro of that
name: a / 0 is +-inf by the sign of a, 0 / 0 is undefined.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.engine.market import MARK, Panel
from sqlorch.money import MICRO, PICO

FILL_FIELDS = ("sleeve", "bar", "symbol", "quantity", "price", "commission", "cash_after", "realized_pnl")
"""A fill as `SweepStepper` records it: integer micro amounts; the sleeve's cash after it and
the realized P&L (before commission) in pico units."""


def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b elementwise with the SQL macro's rules: b = 0 gives +inf, -inf or NaN (a = 0);
    NaN in a or b gives NaN."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    regular = (b != 0) & ~np.isnan(b)
    if regular.all():
        return a / b
    out = np.full(a.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[regular] = a[regular] / b[regular]
    out[~regular & (a > 0)] = math.inf
    out[~regular & (a < 0)] = -math.inf
    return out


def exact_double(pico: int) -> float:
    """An amount in pico units as the nearest float, as DuckDB casts DECIMAL(38, 12) to DOUBLE."""
    return pico / PICO


def final_amount(pico: int) -> Decimal:
    """An amount in pico units as a Decimal with 6 places, as DuckDB casts DECIMAL(38, 12) to
    DECIMAL(38, 6) (half away from zero)."""
    return Decimal(pico).scaleb(-12).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def sleeve_metrics(panel: Panel, fills: Sequence[tuple], sleeves: int, capital: int, first: Sequence[int],
                   last: Sequence[int], periods_per_year: int) -> list[tuple[float, ...]]:
    """Per sleeve, the values of `METRIC_NAMES` (floats; trade_count an int).

    `fills` as `FILL_FIELDS`; `capital` each sleeve's starting cash and `first`/`last` each
    sleeve's exact equity at the first and last bar, in pico units.
    """
    bars = len(panel)
    equity, held = equity_curves(panel, fills, sleeves, capital)
    equity[0] = [exact_double(v) for v in first]
    equity[-1] = [exact_double(v) for v in last]
    first_d, last_d = equity[0], equity[-1]
    ppy = float(periods_per_year)
    root_ppy = math.sqrt(ppy)

    returns = ratio(equity[1:], equity[:-1]) - 1  # NaN = undefined (0 / 0), skipped like NULL
    n, mean, sd = _mean_and_deviation(returns)
    downside = _downside(returns) if bars > 1 else np.full(sleeves, np.nan)
    with np.errstate(invalid="ignore"):
        drawdown = ratio(equity, np.maximum.accumulate(equity, axis=0)) - 1
    max_drawdown = np.where(np.isnan(drawdown), np.inf, drawdown).min(axis=0)  # min() skips NULL
    max_drawdown[max_drawdown == np.inf] = np.nan
    total_return = last_d / exact_double(capital) - 1
    sharpe = ratio(mean, sd) * root_ppy
    sortino = ratio(mean * ppy, downside * root_ppy)
    volatility = sd * root_ppy
    exposure = held.sum(axis=0) / bars
    trades = _trade_stats(fills, sleeves)

    out = []
    for i in range(sleeves):
        cagr = math.nan
        if n[i] > 0 and first_d[i] > 0 and last_d[i] >= 0:
            cagr = math.pow(last_d[i] / first_d[i], ppy / n[i]) - 1
        dd = float(max_drawdown[i])
        calmar = cagr / abs(dd) if dd < 0 else math.nan
        count, closed, wins, profit, loss = trades[i]
        win_rate = wins / closed if closed else math.nan
        profit_factor = float(ratio(exact_double(profit), exact_double(loss))) if closed else math.nan
        values = {
            "total_return": float(total_return[i]), "cagr": cagr, "volatility": float(volatility[i]),
            "sharpe_ratio": float(sharpe[i]), "sortino_ratio": float(sortino[i]), "max_drawdown": dd,
            "calmar_ratio": calmar, "win_rate": win_rate, "profit_factor": profit_factor,
            "trade_count": count, "exposure": float(exposure[i]),
        }
        out.append(tuple(values[name] for name in METRIC_NAMES))
    return out


def _mean_and_deviation(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: how many values are defined, their mean and sample standard deviation (NaN
    when undefined), accumulated bar by bar as DuckDB's avg and stddev_samp do (a running sum,
    Welford's update), so that the floats come out the same."""
    defined = ~np.isnan(returns)
    values = np.where(defined, returns, 0.0)
    count = defined.sum(axis=0)
    total = _running_total(values)
    mean = np.zeros(returns.shape[1])
    squares = np.zeros(returns.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        if defined.all():
            for k, row in enumerate(values, start=1):
                new_mean = mean + (row - mean) / k
                squares += (row - new_mean) * (row - mean)
                mean = new_mean
        else:  # an undefined return leaves its column's state as it was
            seen = np.zeros(returns.shape[1])
            for row, known in zip(values, defined):
                seen += known
                new_mean = np.where(known, mean + (row - mean) / np.maximum(seen, 1), mean)
                squares = np.where(known, squares + (row - new_mean) * (row - mean), squares)
                mean = new_mean
        average = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        deviation = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), np.nan)
    return count, average, deviation


def _running_total(values: np.ndarray) -> np.ndarray:
    """Column sums added up in row order, one after the other (as a running SQL sum does;
    numpy's sum adds pairwise, which rounds differently)."""
    if not len(values):
        return np.zeros(values.shape[1])
    return np.cumsum(values, axis=0)[-1]


def _downside(returns: np.ndarray) -> np.ndarray:
    """sqrt(avg(least(r, 0) ^ 2)) per column over every bar (an undefined return counts as 0,
    as least(NULL, 0) is 0), squaring with the C library's pow as DuckDB's ^ does."""
    losses = np.minimum(np.where(np.isnan(returns), 0.0, returns), 0.0)
    squared = np.zeros_like(losses)
    where = np.nonzero(losses)
    squared[where] = list(map(math.pow, losses[where].tolist(), itertools.repeat(2.0)))
    return np.sqrt(_running_total(squared) / len(losses))


def equity_curves(panel: Panel, fills: Sequence[tuple], sleeves: int, capital: int) -> tuple[np.ndarray, np.ndarray]:
    """[bars, sleeves]: each sleeve's equity at every close (cash plus positions at their marks)
    as the nearest floats to the exact amounts, and whether it held any position then.

    Amounts are summed exactly in 64-bit integers (micro units of money when every fill is of
    whole shares, else pico units) and divided with one rounding; amounts too large for that
    are summed as floats instead (within `FLOAT_TOLERANCE` of exact).
    """
    bars, symbols = len(panel), len(panel.symbols)
    quantities = np.zeros((bars, sleeves, symbols), dtype=np.int64)
    changes = np.zeros((bars, sleeves), dtype=bool)  # where a sleeve's cash changed
    changes[0] = True
    cash_after = [capital] * sleeves  # the cash where it changed, in the order of `where`
    where: list[tuple[int, int]] = [(0, i) for i in range(sleeves)]
    unit = MICRO  # the largest unit every amount is a whole number of: micro or pico units
    if fills:
        columns = list(zip(*fills))
        sleeve = np.array(columns[0], dtype=np.int64)
        bar = np.array(columns[1], dtype=np.int64)
        np.add.at(quantities, (bar, sleeve, np.array(columns[2], dtype=np.int64)),
                  np.array(columns[3], dtype=np.int64))
        key = bar * sleeves + sleeve
        last = (len(key) - 1 - np.unique(key[::-1], return_index=True)[1]).tolist()  # a bar's last fill
        where += [(columns[1][k], columns[0][k]) for k in last]
        cash_after += [columns[6][k] for k in last]
        if any(q % MICRO for q in columns[3]) or any(c % MICRO for c in cash_after):
            unit = 1
    np.cumsum(quantities, axis=0, out=quantities)
    held = (quantities != 0).any(axis=2)
    marks = panel.data[:, MARK, :]
    rows, cols = (list(x) for x in zip(*where))
    changes[rows, cols] = True
    exact = _exact_equity(quantities, marks, changes, rows, cols, cash_after, unit)
    if exact is not None:
        return divide_exact(exact, PICO // unit), held
    cash = np.zeros((bars, sleeves))
    cash[rows, cols] = [exact_double(c) for c in cash_after]
    return _fill_forward(cash, changes) + np.einsum("tns,ts->tn", quantities / MICRO, marks), held


def _fill_forward(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each column's last known value at every row (row 0 is always known)."""
    rows = np.arange(len(values))[:, None]
    latest = np.maximum.accumulate(np.where(known, rows, 0), axis=0)
    return values[latest, np.arange(values.shape[1])]


_LIMIT = 2**62  # stays clear of int64 overflow


def _exact_equity(quantities: np.ndarray, marks: np.ndarray, changes: np.ndarray, rows: list[int],
                  cols: list[int], cash_after: list[int], unit: int) -> np.ndarray | None:
    """cash + sum of quantity x mark, exactly, in int64 counts of `unit` pico units; None if the
    amounts do not fit."""
    cash_units = [c // unit for c in cash_after]
    if max(cash_units) >= _LIMIT or min(cash_units) <= -_LIMIT:
        return None
    marks_micro = np.rint(marks * MICRO)  # as sqlorch.money.to_micro: half to even
    shares = quantities // unit  # micro-shares x micro prices = pico units; shares x micro prices = micro
    gross = np.einsum("tns,ts->tn", np.abs(shares).astype(np.float64), marks_micro)
    if gross.size and float(gross.max()) >= _LIMIT / 2:
        return None
    cash = np.zeros(changes.shape, dtype=np.int64)
    cash[rows, cols] = cash_units
    return _fill_forward(cash, changes) + np.einsum("tns,ts->tn", shares, marks_micro.astype(np.int64))


_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter


def _split(a: np.ndarray | float) -> tuple:
    c = _SPLIT * a
    high = c - (c - a)
    return high, a - high


def divide_exact(values: np.ndarray, divisor: int) -> np.ndarray:
    """int64 values / divisor, each rounded once to the nearest float (as Python's int / int
    and DuckDB's DECIMAL to DOUBLE cast do). Values below 2**53 are exact floats, so one float
    division does; larger ones (up to 2**62) get a float quotient corrected by its exact
    remainder (error-free products)."""
    d = float(divisor)
    high = values.astype(np.float64)
    if not values.size or int(np.abs(values).max()) < 2**53:  # exact as floats: one division rounds once
        return high / d
    low = (values - high.astype(np.int64)).astype(np.float64)  # values = high + low exactly
    q = high / d
    p = q * d
    qh, ql = _split(q)
    dh, dl = _split(d)
    p_error = ((qh * dh - p) + qh * dl + ql * dh) + ql * dl  # q * d = p + p_error exactly
    remainder = ((high - p) - p_error) + low
    return q + remainder / d

def _trade_stats(fills: Sequence[tuple], sleeves: int) -> list[tuple[int, int, int, int, int]]:
    """Per sleeve (trades, closed trades, winning closed trades, gross profit, gross loss), the
    amounts exact in pico units. A trade runs from a position leaving zero to its return to
    zero; its P&L is its cash flows less commissions."""
    stats = [[0, 0, 0, 0, 0] for _ in range(sleeves)]
    open_trades: dict[tuple[int, int], list[int]] = {}  # (sleeve, symbol) -> [position, pnl]
    for sleeve, _, symbol, quantity, price, commission, *_ in fills:
        trade = open_trades.get((sleeve, symbol))
        if trade is None:
            trade = open_trades[(sleeve, symbol)] = [0, 0]
            stats[sleeve][0] += 1
        trade[0] += quantity
        trade[1] += -quantity * price - commission * MICRO
        if trade[0] == 0:
            _close(stats[sleeve], trade[1])
            del open_trades[(sleeve, symbol)]
    return [tuple(s) for s in stats]  # trades still open count, but are neither won nor lost


def _close(stats: list[int], pnl: int) -> None:
    stats[1] += 1
    if pnl > 0:
        stats[2] += 1
        stats[3] += pnl
    elif pnl < 0:
        stats[4] -= pnl
