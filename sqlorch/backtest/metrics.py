"""The metrics of SPEC §3 for many sleeves at once, with numpy: the grid's (and any batch of
isolated sleeves') definition, kept equal to the warehouse's (`sql/load/metrics.sql`) to within
`sqlorch.money.FLOAT_TOLERANCE` by a property test over randomly drawn runs.

Equity is cash (summed exactly from the fills) plus positions at their marks, per bar and
sleeve; returns r_t = E_t / E_(t-1) - 1 from the second bar on, undefined where 0 / 0 (the
SQL macro `ratio`: a / 0 is +-inf by the sign of a). Undefined metrics are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from sqlorch.backtest.kernels import curve_returns, curve_statistics, largest_position, replay_equity, replay_trades
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.engine import layout as L
from sqlorch.money import MICRO, PICO


def ratio(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """a / b elementwise as the SQL macro `ratio`: b = 0 gives +inf, -inf or NaN (a = 0); NaN in a
    or b gives NaN."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.array(a / b)
    zero = b == 0
    out[zero] = np.where(a[zero] > 0, math.inf, np.where(a[zero] < 0, -math.inf, math.nan))
    return out


def final_amount(pico: int) -> Decimal:
    """An amount in pico units as a Decimal with 6 places, as DuckDB casts DECIMAL(38, 12) to
    DECIMAL(38, 6) (half away from zero)."""
    return Decimal(pico).scaleb(-12).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def equity_curves(marks: np.ndarray, fills: np.ndarray, capitals: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """[bars, sleeves]: each sleeve's equity at every close (cash plus positions at `marks`
    [bars, symbols], marks rounded to micro units as the warehouse stores them) and whether it
    held a position then. `capitals` are the sleeves' starting cash in micro units; `fills` the
    engine's fills (rows laid out as sqlorch.engine.layout FL_*), in booking order. Equity is
    summed exactly, then made a float once, so equal amounts give equal floats (a flat curve
    has returns of exactly 0, as in SQL); a sleeve's curve depends on its own fills only."""
    bars, symbols, sleeves = marks.shape[0], marks.shape[1], len(capitals)
    marks_micro = np.rint(marks * MICRO).astype(np.int64)
    together = _all_at_once(marks_micro, fills, capitals)
    if together is not None:
        return together
    equity = np.empty((bars, sleeves))
    held = np.zeros((bars, sleeves), dtype=bool)
    order = np.argsort(fills[:, L.FL_SLEEVE], kind="stable")
    bounds = np.searchsorted(fills[order, L.FL_SLEEVE], np.arange(sleeves + 1))
    for i in range(sleeves):
        own = fills[order[bounds[i]:bounds[i + 1]]]
        quantities = np.zeros((bars, symbols), dtype=np.int64)
        np.add.at(quantities, (own[:, L.FL_BAR], own[:, L.FL_SYMBOL]), own[:, L.FL_QUANTITY])
        np.cumsum(quantities, axis=0, out=quantities)
        # the cash after each bar with fills: the last fill's of that bar
        last = np.flatnonzero(np.diff(own[:, L.FL_BAR], append=-1) != 0)
        cash = [(0, capitals[i])] + list(zip(own[last, L.FL_BAR].tolist(), own[last, L.FL_CASH].tolist()))
        held[:, i] = (quantities != 0).any(axis=1)
        equity[:, i] = _exact_equity(quantities, marks_micro, cash)
    return equity, held


_LIMIT = 2**62  # stays clear of int64 overflow


def _all_at_once(marks_micro: np.ndarray, fills: np.ndarray, capitals: Sequence[int]) -> tuple | None:
    """`equity_curves` for every sleeve in one compiled pass (`replay_equity`), where every
    quantity is whole shares, the fills come in bar order and every amount stays within int64;
    else None."""
    symbols, sleeves = marks_micro.shape[1], len(capitals)
    if (fills[:, L.FL_QUANTITY] % MICRO).any() or (np.diff(fills[:, L.FL_BAR]) < 0).any():
        return None
    cash = max(int(np.abs(fills[:, L.FL_CASH]).max(initial=0)), max(capitals, default=0))
    amounts = largest_position(fills, sleeves, symbols) * float(marks_micro.max(initial=0)) * symbols
    if amounts >= _LIMIT or cash >= _LIMIT:
        return None
    return replay_equity(marks_micro, np.ascontiguousarray(fills), np.array(capitals, dtype=np.int64))


def _exact_equity(quantities: np.ndarray, marks_micro: np.ndarray, cash: list[tuple[int, int]]) -> np.ndarray:
    """Per bar: the cash in force (micro units, each from the bar it is listed at) plus the sum
    of quantity x mark, summed exactly and made a float once: in micro units when every
    quantity is whole shares, else in pico units; in int64 where the amounts fit, else in
    Python integers."""
    whole = not (quantities % MICRO).any()
    per_unit = MICRO if whole else 1  # pico units per unit
    shares = quantities // MICRO if whole else quantities
    by_bar = dict(cash)  # the last listed for a bar wins
    starts = np.zeros(len(quantities), dtype=bool)
    starts[list(by_bar)] = True
    which = np.cumsum(starts) - 1  # the cash in force at each bar
    amounts = [c * (MICRO // per_unit) for _, c in sorted(by_bar.items())]
    big = max(abs(a) for a in amounts) >= _LIMIT or \
        float(np.abs(shares).max(initial=0)) * float(marks_micro.max(initial=0)) * shares.shape[1] >= _LIMIT
    if big:  # rare: beyond 64 bits, in Python integers
        values = (shares.astype(object) * marks_micro).sum(axis=1) + np.array(amounts, dtype=object)[which]
        return np.array([v / (PICO // per_unit) for v in values], dtype=np.float64)
    values = np.array(amounts, dtype=np.int64)[which] + (shares * marks_micro).sum(axis=1)
    return values.astype(np.float64) / (PICO // per_unit)


def bar_returns(equity: np.ndarray) -> np.ndarray:
    """[sleeves, bars - 1]: each sleeve's (a column of `equity` [bars, sleeves]) returns
    r_t = E_t / E_(t-1) - 1 from the second bar on, a sleeve per row (its sums do not depend on
    the others); NaN where undefined (0 / 0), skipped like NULL."""
    return curve_returns(np.ascontiguousarray(equity, dtype=np.float64))


def per_bar_rate(risk_free_rate: float, periods_per_year: int) -> float:
    """The annual `risk_free_rate` per bar: (1 + rate)^(1 / bars a year) - 1."""
    return (1 + risk_free_rate) ** (1 / float(periods_per_year)) - 1


def trade_stats(fills: np.ndarray, capitals: Sequence[int]) -> list[tuple[int, int, int, int, int]]:
    """Per sleeve (trades, closed trades, winning closed trades, gross profit, gross loss), the
    amounts in micro units, from sleeves that only fills change (isolated). A trade runs from a
    position leaving zero to its return to zero; its P&L is what its fills did to the cash,
    commissions included. Open trades count, but are neither won nor lost."""
    cash = max(int(np.abs(fills[:, L.FL_CASH]).max(initial=0)), max(capitals, default=0))
    if 2 * cash * (len(fills) + 1) < _LIMIT:  # every flow, and any sum of them, within int64
        symbols = int(fills[:, L.FL_SYMBOL].max(initial=0)) + 1
        return [tuple(row) for row in replay_trades(np.ascontiguousarray(fills), np.array(capitals, dtype=np.int64),
                                                     symbols).tolist()]
    stats = [[0, 0, 0, 0, 0] for _ in capitals]
    open_trades: dict[tuple[int, int], list[int]] = {}  # (sleeve, symbol) -> [position, pnl]
    cash = list(capitals)
    for sleeve, symbol, quantity, after in fills[:, [L.FL_SLEEVE, L.FL_SYMBOL, L.FL_QUANTITY, L.FL_CASH]].tolist():
        flow, cash[sleeve] = after - cash[sleeve], after
        trade = open_trades.get((sleeve, symbol))
        if trade is None:
            trade = open_trades[(sleeve, symbol)] = [0, 0]
            stats[sleeve][0] += 1
        trade[0] += quantity
        trade[1] += flow
        if trade[0] == 0:
            own = stats[sleeve]
            own[1] += 1
            if trade[1] > 0:
                own[2] += 1
                own[3] += trade[1]
            elif trade[1] < 0:
                own[4] -= trade[1]
            del open_trades[(sleeve, symbol)]
    return [tuple(s) for s in stats]


def sleeve_metrics(equity: np.ndarray, held: np.ndarray, capitals: Sequence[int],
                   trades: Sequence[tuple[int, int, int, int, int]], periods_per_year: int,
                   risk_free_rate: float = 0.0, benchmark: np.ndarray | None = None,
                   returns: np.ndarray | None = None) -> list[tuple]:
    """Per sleeve (a column of `equity` and `held`), the values of `METRIC_NAMES` (floats,
    trade_count an int): `capitals` the starting capital in micro units, `trades` as
    `trade_stats` gives them, `risk_free_rate` annual, `benchmark` the benchmark's close at
    every bar (NaN before its first; None: no benchmark, its metrics NaN); `returns` the sleeves'
    `bar_returns(equity)` when the caller has them already."""
    bars, sleeves = equity.shape
    ppy = float(periods_per_year)
    rf = per_bar_rate(risk_free_rate, periods_per_year)
    returns = bar_returns(equity) if returns is None else np.ascontiguousarray(returns, dtype=np.float64)
    n, mean, sd, downside, max_drawdown = curve_statistics(np.ascontiguousarray(equity, dtype=np.float64), returns, rf)
    n = n.astype(np.int64)
    first, last = equity[0], equity[-1]
    sharpe = ratio(mean - rf, sd) * math.sqrt(ppy)
    sortino = ratio((mean - rf) * ppy, downside * math.sqrt(ppy))
    versus = _versus(returns, benchmark, rf, ppy)
    exposure = held.sum(axis=0) / bars
    count, closed, wins, profit, loss = (np.array(column, dtype=np.int64).reshape(sleeves)
                                         for column in zip(*trades)) if sleeves else [np.zeros(0, np.int64)] * 5
    with np.errstate(invalid="ignore", divide="ignore"):
        grows = (n > 0) & (first > 0) & (last >= 0)
        cagr = np.where(grows, np.power(np.where(grows, last / first, 1.0), ppy / np.maximum(n, 1)) - 1, np.nan)
        values = {
            "total_return": last / (np.array(capitals, dtype=np.float64) / MICRO) - 1, "cagr": cagr,
            "volatility": sd * math.sqrt(ppy), "sharpe_ratio": sharpe, "sortino_ratio": sortino,
            "max_drawdown": max_drawdown,
            "calmar_ratio": np.where(max_drawdown < 0, cagr / np.abs(max_drawdown), np.nan),
            "win_rate": np.where(closed > 0, wins / np.maximum(closed, 1), np.nan),
            "profit_factor": np.where(closed > 0, ratio(profit / MICRO, loss / MICRO), np.nan),
            "trade_count": count, "exposure": exposure, **versus,
        }
    columns = [values[name].tolist() for name in METRIC_NAMES]
    return list(zip(*columns)) if sleeves else []


def _versus(returns: np.ndarray, benchmark: np.ndarray | None, rf: float, ppy: float) -> dict[str, np.ndarray]:
    """alpha, beta, tracking_error and information_ratio of each row of `returns` [sleeves,
    bars - 1] against the benchmark's closes, over the bars where both have a return (as
    sql/load/metrics.sql: empyrical's alpha_beta and excess_sharpe, annualised)."""
    sleeves = returns.shape[0]
    if benchmark is None or sleeves == 0:
        return {name: np.full(sleeves, np.nan) for name in ("alpha", "beta", "tracking_error", "information_ratio")}
    closes = np.asarray(benchmark, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bench = np.broadcast_to(ratio(closes[1:], closes[:-1]) - 1, returns.shape)
        both = ~np.isnan(returns) & ~np.isnan(bench)
        n = both.sum(axis=1)

        def mean_of(values: np.ndarray) -> np.ndarray:
            return np.where(n > 0, np.where(both, values, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)

        excess, bench_excess, active = returns - rf, bench - rf, returns - bench
        mean_excess, mean_bench = mean_of(excess), mean_of(bench_excess)
        variance = mean_of((bench_excess - mean_bench[:, None]) ** 2)
        covariance = mean_of((excess - mean_excess[:, None]) * (bench_excess - mean_bench[:, None]))
        beta = np.where(variance >= 1e-30, covariance / np.where(variance >= 1e-30, variance, 1.0), np.nan)
        alpha = np.power(1 + mean_excess - beta * mean_bench, ppy) - 1
        mean_active = mean_of(active)
        sd_active = np.where(n > 1, np.sqrt(np.where(both, (active - mean_active[:, None]) ** 2, 0.0).sum(axis=1)
                                            / np.maximum(n - 1, 1)), np.nan)
    return {"alpha": alpha, "beta": beta, "tracking_error": sd_active * math.sqrt(ppy),
            "information_ratio": ratio(mean_active, sd_active) * math.sqrt(ppy)}
