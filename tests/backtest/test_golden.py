"""Golden tests: sqlorch's results against numbers worked out independently.

Datasets (tests/golden/, designed by hand, daily bars, weekdays only):
- one_symbol.csv: AAA, 24 bars 2024-01-02..2024-02-02. Up-trend 100 -> 118, reversal to
  106.50, recovery to 116. SMA(3) is above SMA(5) from the first bar where both exist
  (01-08), crosses below on 01-18, above on 01-25, below on 01-30 and above again on the
  last bar (02-02). The fill bars gap away from the prior close; on 01-26 the open is the
  day's high and on 01-31 the open is the day's low.
- two_symbols.csv: AAA and BBB, 20 bars each 2024-01-02..2024-01-29, different paths
  (AAA rises first, BBB falls first and rises later).

How the literals were derived: a small reference simulator written from scratch in plain
Python with decimal.Decimal (60 digits), following SPEC.md section 3 and the rules below;
it shares no code with sqlorch. Metrics were computed from the Decimal equity curves and
cross-checked against empyrical-reloaded 0.7.1 (sharpe_ratio, sortino_ratio,
annual_volatility, max_drawdown, cagr, calmar_ratio; worst relative difference 5e-14) and
against a separate numpy computation. The cash and equity curves were re-derived from the
fills alone, and the trade P&L summed against the final equity, as a second check.

Rules simulated: the signal at the close of bar t sizes q* = floor(weight x E_t / close_t)
(E_t = sleeve equity at that close) and fills at the open of bar t+1; orders from the last
bar expire. Slippage is applied against the trader but never beyond the bar's high (buys) or
low (sells). Prices and commissions are rounded to 6 decimals (ROUND_HALF_EVEN); the data
avoid ties, so HALF_UP would give the same numbers. Every decision is kept away from its
boundary (|SMA3 - SMA5| >= 0.06, |3-bar return| >= 0.0036, no sizing within 1e-6 of a
whole share, every clip with more than 0.01 of slack either way), so a float implementation
reaches the same decisions. Sells fill before buys within a bar; a buy that costs more than
the cash (price plus commission) is cut down to the largest whole quantity that fits.

What each case exercises:
- A: SMACross(3, 5), 10 bps + $1 per order, 5 bps slippage. The 01-09 buy is clipped
  (95 -> 94, opening gap up); 01-26 buy and 01-31 sell are capped at the bar's high/low;
  the buy signal of the last bar (02-02) expires.
- B: the same without costs: the 01-09 buy is still clipped (95 -> 94).
- C: Momentum(3), 5 bps. The BBB buy of 01-11 is clipped 67 -> 64: the sleeve holds AAA,
  which has risen since the buy, and BBB opens at 77.90 against the 76.40 close used for
  sizing. On 01-26 the AAA exit releases the cash that the BBB buy of 66 needs (it would be
  clipped to 65 if the buy went first). BBB is still held at the end (an open trade).
- D: SMACross at 0.5 and Momentum at 0.3 of 20000 with A's costs; 4000 stays unallocated.
  No two sleeves send orders for the same symbol on the same bar, so no conflicts arise.
  Clipped buys: sma_cross BBB 01-12 (66 -> 63), momentum BBB 01-11 (40 -> 38). The
  sma_cross AAA sell of 01-29 is capped at the bar's low (54.70).

Where the rules leave room, these tests assume:
- trade_count counts every round trip, the open ones included (win_rate divides by the
  closed ones only);
- an open trade's pnl is marked to the last close: cash flows and commissions so far plus
  quantity x last close;
- exposure = share of bar closes at which any position is held. For the portfolio that
  means any sleeve holds one. Portfolio win_rate, profit_factor and trade_count pool the
  sleeves' trades.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, StrategyOrchestrator, load_bars
from sqlorch.strategies import Momentum, SMACross

TOL = 1e-9
GOLDEN = Path(__file__).parent.parent / "golden"

# ---------------------------------------------------------------- A: SMACross(3, 5) with costs

A_FILLS = [  # (ts, symbol, quantity, price, commission)
    ("2024-01-09", "AAA", "94", "106.253100", "10.987791"),
    ("2024-01-19", "AAA", "-94", "110.144900", "11.353621"),
    ("2024-01-26", "AAA", "91", "112.900000", "11.273900"),
    ("2024-01-31", "AAA", "-91", "107.200000", "10.755200"),
]

A_TRADES = [  # (symbol, entry_ts, exit_ts, pnl, status); open trades marked to the last close
    ("AAA", "2024-01-09", "2024-01-19", "343.487788", "closed"),
    ("AAA", "2024-01-26", "2024-01-31", "-540.729100", "closed"),
]

A_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "10000.000000", "10000.000000"),
    ("2024-01-03", "10000.000000", "10000.000000"),
    ("2024-01-04", "10000.000000", "10000.000000"),
    ("2024-01-05", "10000.000000", "10000.000000"),
    ("2024-01-08", "10000.000000", "10000.000000"),
    ("2024-01-09", "1.220809", "10059.220809"),
    ("2024-01-10", "1.220809", "10294.220809"),
    ("2024-01-11", "1.220809", "10529.220809"),
    ("2024-01-12", "1.220809", "10717.220809"),
    ("2024-01-15", "1.220809", "10952.220809"),
    ("2024-01-16", "1.220809", "11093.220809"),
    ("2024-01-17", "1.220809", "10811.220809"),
    ("2024-01-18", "1.220809", "10435.220809"),
    ("2024-01-19", "10343.487788", "10343.487788"),
    ("2024-01-22", "10343.487788", "10343.487788"),
    ("2024-01-23", "10343.487788", "10343.487788"),
    ("2024-01-24", "10343.487788", "10343.487788"),
    ("2024-01-25", "10343.487788", "10343.487788"),
    ("2024-01-26", "58.313888", "10250.313888"),
    ("2024-01-29", "58.313888", "10068.313888"),
    ("2024-01-30", "58.313888", "9886.313888"),
    ("2024-01-31", "9802.758688", "9802.758688"),
    ("2024-02-01", "9802.758688", "9802.758688"),
    ("2024-02-02", "9802.758688", "9802.758688"),
]

A_METRICS = {
    "total_return": -0.0197241312,
    "cagr": -0.19608970425536854,
    "volatility": 0.23403312850643448,
    "sharpe_ratio": -0.8199091483590933,
    "sortino_ratio": -1.1099729063310901,
    "max_drawdown": -0.1163288952071557,
    "calmar_ratio": -1.6856491579858701,
    "win_rate": 0.5,
    "profit_factor": 0.6352308170579316,
    "trade_count": 2,
    "exposure": 0.4583333333333333,
}

A_FINAL_EQUITY = "9802.758688"

# ---------------------------------------------------------------- B: SMACross(3, 5) without costs

B_FILLS = [  # (ts, symbol, quantity, price, commission)
    ("2024-01-09", "AAA", "94", "106.200000", "0.000000"),
    ("2024-01-19", "AAA", "-94", "110.200000", "0.000000"),
    ("2024-01-26", "AAA", "91", "112.900000", "0.000000"),
    ("2024-01-31", "AAA", "-91", "107.200000", "0.000000"),
]

B_TRADES = [  # (symbol, entry_ts, exit_ts, pnl, status); open trades marked to the last close
    ("AAA", "2024-01-09", "2024-01-19", "376.000000", "closed"),
    ("AAA", "2024-01-26", "2024-01-31", "-518.700000", "closed"),
]

B_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "10000.000000", "10000.000000"),
    ("2024-01-03", "10000.000000", "10000.000000"),
    ("2024-01-04", "10000.000000", "10000.000000"),
    ("2024-01-05", "10000.000000", "10000.000000"),
    ("2024-01-08", "10000.000000", "10000.000000"),
    ("2024-01-09", "17.200000", "10075.200000"),
    ("2024-01-10", "17.200000", "10310.200000"),
    ("2024-01-11", "17.200000", "10545.200000"),
    ("2024-01-12", "17.200000", "10733.200000"),
    ("2024-01-15", "17.200000", "10968.200000"),
    ("2024-01-16", "17.200000", "11109.200000"),
    ("2024-01-17", "17.200000", "10827.200000"),
    ("2024-01-18", "17.200000", "10451.200000"),
    ("2024-01-19", "10376.000000", "10376.000000"),
    ("2024-01-22", "10376.000000", "10376.000000"),
    ("2024-01-23", "10376.000000", "10376.000000"),
    ("2024-01-24", "10376.000000", "10376.000000"),
    ("2024-01-25", "10376.000000", "10376.000000"),
    ("2024-01-26", "102.100000", "10294.100000"),
    ("2024-01-29", "102.100000", "10112.100000"),
    ("2024-01-30", "102.100000", "9930.100000"),
    ("2024-01-31", "9857.300000", "9857.300000"),
    ("2024-02-01", "9857.300000", "9857.300000"),
    ("2024-02-02", "9857.300000", "9857.300000"),
]

B_METRICS = {
    "total_return": -0.01427,
    "cagr": -0.14570255270706606,
    "volatility": 0.23279119700476994,
    "sharpe_ratio": -0.5645171012479674,
    "sortino_ratio": -0.7705480471339916,
    "max_drawdown": -0.11269038274583228,
    "calmar_ratio": -1.292945761269541,
    "win_rate": 0.5,
    "profit_factor": 0.7248891459417776,
    "trade_count": 2,
    "exposure": 0.4583333333333333,
}

B_FINAL_EQUITY = "9857.300000"

# ---------------------------------------------------------------- C: Momentum(3), 5 bps

C_FILLS = [  # (ts, symbol, quantity, price, commission)
    ("2024-01-08", "AAA", "95", "52.300000", "2.484250"),
    ("2024-01-11", "BBB", "64", "77.900000", "2.492800"),
    ("2024-01-17", "AAA", "-95", "54.600000", "2.593500"),
    ("2024-01-19", "BBB", "-64", "77.800000", "2.489600"),
    ("2024-01-23", "AAA", "92", "55.450000", "2.550700"),
    ("2024-01-26", "AAA", "-92", "54.300000", "2.497800"),
    ("2024-01-26", "BBB", "66", "77.300000", "2.550900"),
]

C_TRADES = [  # (symbol, entry_ts, exit_ts, pnl, status); open trades marked to the last close
    ("AAA", "2024-01-08", "2024-01-17", "213.422250", "closed"),
    ("BBB", "2024-01-11", "2024-01-19", "-11.382400", "closed"),
    ("AAA", "2024-01-23", "2024-01-26", "-110.848500", "closed"),
    ("BBB", "2024-01-26", None, "109.649100", "open"),
]

C_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "10000.000000", "10000.000000"),
    ("2024-01-03", "10000.000000", "10000.000000"),
    ("2024-01-04", "10000.000000", "10000.000000"),
    ("2024-01-05", "10000.000000", "10000.000000"),
    ("2024-01-08", "5029.015750", "10064.015750"),
    ("2024-01-09", "5029.015750", "10178.015750"),
    ("2024-01-10", "5029.015750", "10301.515750"),
    ("2024-01-11", "40.922950", "10326.922950"),
    ("2024-01-12", "40.922950", "10499.122950"),
    ("2024-01-15", "40.922950", "10531.922950"),
    ("2024-01-16", "40.922950", "10472.222950"),
    ("2024-01-17", "5225.329450", "10345.329450"),
    ("2024-01-18", "5225.329450", "10249.329450"),
    ("2024-01-19", "10202.039850", "10202.039850"),
    ("2024-01-22", "10202.039850", "10202.039850"),
    ("2024-01-23", "5098.089150", "10296.089150"),
    ("2024-01-24", "5098.089150", "10250.089150"),
    ("2024-01-25", "5098.089150", "10139.689150"),
    ("2024-01-26", "4986.840450", "10134.840450"),
    ("2024-01-29", "4986.840450", "10200.840450"),
]

C_METRICS = {
    "total_return": 0.020084045,
    "cagr": 0.3017873082718642,
    "volatility": 0.12623996632499074,
    "sharpe_ratio": 2.149964648990095,
    "sortino_ratio": 3.625476498919397,
    "max_drawdown": -0.03770275398758021,
    "calmar_ratio": 8.004383668399315,
    "win_rate": 0.3333333333333333,
    "profit_factor": 1.746058075331197,
    "trade_count": 4,
    "exposure": 0.7,
}

C_FINAL_EQUITY = "10200.840450"

# ---------------------------------------------------------------- D: two sleeves on two_symbols.csv

D_SMA_FILLS = [  # (ts, symbol, quantity, price, commission)
    ("2024-01-09", "AAA", "94", "53.626800", "6.040919"),
    ("2024-01-12", "BBB", "63", "77.438700", "5.878638"),
    ("2024-01-18", "AAA", "-94", "53.873050", "6.064067"),
    ("2024-01-22", "BBB", "-63", "76.561700", "5.823387"),
    ("2024-01-24", "AAA", "88", "56.928450", "6.009704"),
    ("2024-01-29", "AAA", "-88", "54.700000", "5.813600"),
    ("2024-01-29", "BBB", "62", "78.439200", "5.863230"),
]

D_SMA_TRADES = [  # (symbol, entry_ts, exit_ts, pnl, status); open trades marked to the last close
    ("AAA", "2024-01-09", "2024-01-18", "11.042514", "closed"),
    ("BBB", "2024-01-12", "2024-01-22", "-66.953025", "closed"),
    ("AAA", "2024-01-24", "2024-01-29", "-207.926904", "closed"),
    ("BBB", "2024-01-29", None, "28.906370", "open"),
]

D_SMA_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "10000.000000", "10000.000000"),
    ("2024-01-03", "10000.000000", "10000.000000"),
    ("2024-01-04", "10000.000000", "10000.000000"),
    ("2024-01-05", "10000.000000", "10000.000000"),
    ("2024-01-08", "10000.000000", "10000.000000"),
    ("2024-01-09", "4953.039881", "10047.839881"),
    ("2024-01-10", "4953.039881", "10170.039881"),
    ("2024-01-11", "4953.039881", "10254.639881"),
    ("2024-01-12", "68.523143", "10390.923143"),
    ("2024-01-15", "68.523143", "10422.823143"),
    ("2024-01-16", "68.523143", "10363.523143"),
    ("2024-01-17", "68.523143", "10184.523143"),
    ("2024-01-18", "5126.525776", "10072.025776"),
    ("2024-01-19", "5126.525776", "9977.525776"),
    ("2024-01-22", "9944.089489", "9944.089489"),
    ("2024-01-23", "9944.089489", "9944.089489"),
    ("2024-01-24", "4928.376185", "9856.376185"),
    ("2024-01-25", "4928.376185", "9750.776185"),
    ("2024-01-26", "4928.376185", "9724.376185"),
    ("2024-01-29", "4867.068955", "9765.068955"),
]

D_SMA_METRICS = {
    "total_return": -0.0234931045,
    "cagr": -0.2704382370220073,
    "volatility": 0.12782984388910731,
    "sharpe_ratio": -2.4044684636656335,
    "sortino_ratio": -3.077874153800007,
    "max_drawdown": -0.0670113028320047,
    "calmar_ratio": -4.03571077703097,
    "win_rate": 0.3333333333333333,
    "profit_factor": 0.04017213639486934,
    "trade_count": 4,
    "exposure": 0.65,
}

D_SMA_FINAL_EQUITY = "9765.068955"

D_MOM_FILLS = [  # (ts, symbol, quantity, price, commission)
    ("2024-01-08", "AAA", "57", "52.326150", "3.982591"),
    ("2024-01-11", "BBB", "38", "77.938950", "3.961680"),
    ("2024-01-17", "AAA", "-57", "54.572700", "4.110644"),
    ("2024-01-19", "BBB", "-38", "77.761100", "3.954922"),
    ("2024-01-23", "AAA", "55", "55.477725", "4.051275"),
    ("2024-01-26", "AAA", "-55", "54.272850", "3.985007"),
    ("2024-01-26", "BBB", "39", "77.338650", "4.016207"),
]

D_MOM_TRADES = [  # (symbol, entry_ts, exit_ts, pnl, status); open trades marked to the last close
    ("AAA", "2024-01-08", "2024-01-17", "119.960115", "closed"),
    ("BBB", "2024-01-11", "2024-01-19", "-14.674902", "closed"),
    ("AAA", "2024-01-23", "2024-01-26", "-74.304407", "closed"),
    ("BBB", "2024-01-26", None, "60.776443", "open"),
]

D_MOM_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "6000.000000", "6000.000000"),
    ("2024-01-03", "6000.000000", "6000.000000"),
    ("2024-01-04", "6000.000000", "6000.000000"),
    ("2024-01-05", "6000.000000", "6000.000000"),
    ("2024-01-08", "3013.426859", "6034.426859"),
    ("2024-01-09", "3013.426859", "6102.826859"),
    ("2024-01-10", "3013.426859", "6176.926859"),
    ("2024-01-11", "47.785079", "6188.585079"),
    ("2024-01-12", "47.785079", "6291.185079"),
    ("2024-01-15", "47.785079", "6310.185079"),
    ("2024-01-16", "47.785079", "6274.085079"),
    ("2024-01-17", "3154.318335", "6194.318335"),
    ("2024-01-18", "3154.318335", "6137.318335"),
    ("2024-01-19", "6105.285213", "6105.285213"),
    ("2024-01-22", "6105.285213", "6105.285213"),
    ("2024-01-23", "3049.959063", "6157.459063"),
    ("2024-01-24", "3049.959063", "6129.959063"),
    ("2024-01-25", "3049.959063", "6063.959063"),
    ("2024-01-26", "3010.757249", "6052.757249"),
    ("2024-01-29", "3010.757249", "6091.757249"),
]

D_MOM_METRICS = {
    "total_return": 0.015292874833333333,
    "cagr": 0.22298734099315715,
    "volatility": 0.12652248104972866,
    "sharpe_ratio": 1.6514606689882474,
    "sortino_ratio": 2.7180383654869327,
    "max_drawdown": -0.04079560690806166,
    "calmar_ratio": 5.46596454602793,
    "win_rate": 0.3333333333333333,
    "profit_factor": 1.3481798897763972,
    "trade_count": 4,
    "exposure": 0.7,
}

D_MOM_FINAL_EQUITY = "6091.757249"

D_PORTFOLIO_EQUITY = [  # (ts, cash, equity) at each bar close
    ("2024-01-02", "20000.000000", "20000.000000"),
    ("2024-01-03", "20000.000000", "20000.000000"),
    ("2024-01-04", "20000.000000", "20000.000000"),
    ("2024-01-05", "20000.000000", "20000.000000"),
    ("2024-01-08", "17013.426859", "20034.426859"),
    ("2024-01-09", "11966.466740", "20150.666740"),
    ("2024-01-10", "11966.466740", "20346.966740"),
    ("2024-01-11", "9000.824960", "20443.224960"),
    ("2024-01-12", "4116.308222", "20682.108222"),
    ("2024-01-15", "4116.308222", "20733.008222"),
    ("2024-01-16", "4116.308222", "20637.608222"),
    ("2024-01-17", "7222.841478", "20378.841478"),
    ("2024-01-18", "12280.844111", "20209.344111"),
    ("2024-01-19", "15231.810989", "20082.810989"),
    ("2024-01-22", "20049.374702", "20049.374702"),
    ("2024-01-23", "16994.048552", "20101.548552"),
    ("2024-01-24", "11978.335248", "19986.335248"),
    ("2024-01-25", "11978.335248", "19814.735248"),
    ("2024-01-26", "11939.133434", "19777.133434"),
    ("2024-01-29", "11877.826204", "19856.826204"),
]

D_PORTFOLIO_METRICS = {
    "total_return": -0.0071586898,
    "cagr": -0.09088921020269133,
    "volatility": 0.10017404445456338,
    "sharpe_ratio": -0.9035769572224771,
    "sortino_ratio": -1.2431531917675271,
    "max_drawdown": -0.04610400853387555,
    "calmar_ratio": -1.9713949631062826,
    "win_rate": 0.3333333333333333,
    "profit_factor": 0.36003656172115656,
    "trade_count": 8,
    "exposure": 0.75,
}

D_PORTFOLIO_FINAL_EQUITY = "19856.826204"

D_CONTRIBUTION = {
    "sma_cross": -0.01174655225,
    "momentum": 0.00458786245,
}


# ---------------------------------------------------------------- helpers


def _day(x) -> str | None:
    if x is None:
        return None
    if isinstance(x, datetime):
        x = x.date()
    if isinstance(x, date):
        return x.isoformat()
    return str(x)[:10]


def _d6(x) -> Decimal:
    return round(Decimal(str(x)), 6)


def assert_fills(fills, expected, strategy_id):
    got = [
        (_day(r["ts"]), r["strategy_id"], r["symbol"], _d6(r["quantity"]), _d6(r["price"]), _d6(r["commission"]))
        for r in fills.iter_rows(named=True)
    ]
    want = [(ts, strategy_id, sym, _d6(q), _d6(p), _d6(c)) for ts, sym, q, p, c in expected]
    assert got == want


def assert_trades(trades, expected):
    rows = sorted(trades.iter_rows(named=True), key=lambda r: (_day(r["entry_ts"]), r["symbol"]))
    got = [(r["symbol"], _day(r["entry_ts"]), _day(r["exit_ts"]), r["status"]) for r in rows]
    assert got == [(sym, entry, exit_, status) for sym, entry, exit_, _, status in expected]
    for r, (_, _, _, pnl, _) in zip(rows, expected):
        assert _d6(r["pnl"]) == Decimal(pnl), r


def assert_equity(curve, expected):
    got = [(_day(r["ts"]), _d6(r["cash"]), _d6(r["equity"])) for r in curve.iter_rows(named=True)]
    assert got == [(ts, Decimal(c), Decimal(e)) for ts, c, e in expected]


def assert_metrics(metrics, expected):
    for name, value in expected.items():
        got = getattr(metrics, name)
        if name == "trade_count":
            assert got == value, (name, got, value)
        else:
            assert math.isclose(float(got), value, rel_tol=TOL, abs_tol=1e-12), (name, got, value)


def assert_result(res, strategy_id, fills, trades, equity, metrics, final_equity):
    assert_fills(res.fills, fills, strategy_id)
    assert_trades(res.trades, trades)
    assert_equity(res.equity_curve, equity)
    assert_metrics(res.metrics, metrics)
    assert _d6(res.final_equity) == Decimal(final_equity)


def _config(cls, capital, commission_bps, per_order, slippage_bps):
    return cls(
        initial_capital=Decimal(capital),
        commission_bps=commission_bps,
        commission_per_order=Decimal(per_order),
        slippage_bps=slippage_bps,
        warehouse=None,
        log_dir=None,
    )


# ---------------------------------------------------------------- tests


def test_a_sma_cross_with_costs():
    bars = load_bars(GOLDEN / "one_symbol.csv")
    cfg = _config(BacktestConfig, "10000", 10.0, "1", 5.0)
    res = BacktestEngine(SMACross(fast=3, slow=5), cfg).run(bars)
    assert_result(res, "sma_cross", A_FILLS, A_TRADES, A_EQUITY, A_METRICS, A_FINAL_EQUITY)


def test_b_sma_cross_without_costs():
    bars = load_bars(GOLDEN / "one_symbol.csv")
    cfg = _config(BacktestConfig, "10000", 0.0, "0", 0.0)
    res = BacktestEngine(SMACross(fast=3, slow=5), cfg).run(bars)
    assert_result(res, "sma_cross", B_FILLS, B_TRADES, B_EQUITY, B_METRICS, B_FINAL_EQUITY)


def test_c_momentum_clipped_buy():
    bars = load_bars(GOLDEN / "two_symbols.csv")
    cfg = _config(BacktestConfig, "10000", 5.0, "0", 0.0)
    res = BacktestEngine(Momentum(lookback=3), cfg).run(bars)
    assert_result(res, "momentum", C_FILLS, C_TRADES, C_EQUITY, C_METRICS, C_FINAL_EQUITY)


def test_d_two_sleeves():
    bars = load_bars(GOLDEN / "two_symbols.csv")
    cfg = _config(OrchestratorConfig, "20000", 10.0, "1", 5.0)
    sleeves = [(SMACross(fast=3, slow=5), Decimal("0.5")), (Momentum(lookback=3), Decimal("0.3"))]
    orch = StrategyOrchestrator(sleeves, cfg)
    r = orch.run(bars)

    sma, mom = r.strategy_results["sma_cross"], r.strategy_results["momentum"]
    assert_result(sma, "sma_cross", D_SMA_FILLS, D_SMA_TRADES, D_SMA_EQUITY, D_SMA_METRICS, D_SMA_FINAL_EQUITY)
    assert_result(mom, "momentum", D_MOM_FILLS, D_MOM_TRADES, D_MOM_EQUITY, D_MOM_METRICS, D_MOM_FINAL_EQUITY)

    # the portfolio: sleeves plus 4000 of unallocated cash, at every bar
    assert_equity(r.equity_curve, D_PORTFOLIO_EQUITY)
    assert_metrics(r.aggregate_metrics, D_PORTFOLIO_METRICS)
    assert _d6(r.final_equity) == Decimal(D_PORTFOLIO_FINAL_EQUITY)

    # all fills of the run, whatever order the sleeves are listed in
    got = sorted(
        (_day(f["ts"]), f["strategy_id"], f["symbol"], _d6(f["quantity"]), _d6(f["price"]), _d6(f["commission"]))
        for f in r.fills.iter_rows(named=True)
    )
    want = sorted(
        [(ts, "sma_cross", sym, _d6(q), _d6(p), _d6(c)) for ts, sym, q, p, c in D_SMA_FILLS]
        + [(ts, "momentum", sym, _d6(q), _d6(p), _d6(c)) for ts, sym, q, p, c in D_MOM_FILLS]
    )
    assert got == want

    # comparison table: one row per sleeve in list order, then the portfolio (weight 0.8 = 0.5 + 0.3
    # allocated; its contribution is its total return)
    table = {row["strategy_id"]: row for row in r.comparison_table.iter_rows(named=True)}
    assert list(table) == ["sma_cross", "momentum", "portfolio"]
    D_CONTRIBUTION_ALL = {**D_CONTRIBUTION, "portfolio": D_PORTFOLIO_METRICS["total_return"]}
    for sid, weight, metrics in [("sma_cross", "0.5", D_SMA_METRICS), ("momentum", "0.3", D_MOM_METRICS),
                                 ("portfolio", "0.8", D_PORTFOLIO_METRICS)]:
        row = table[sid]
        assert Decimal(str(row["weight"])) == Decimal(weight)
        for name in ("total_return", "cagr", "sharpe_ratio", "sortino_ratio", "max_drawdown", "win_rate"):
            assert math.isclose(float(row[name]), metrics[name], rel_tol=TOL, abs_tol=1e-12), (sid, name)
        assert row["trade_count"] == metrics["trade_count"]
        assert math.isclose(float(row["contribution"]), D_CONTRIBUTION_ALL[sid], rel_tol=TOL, abs_tol=1e-12)
    # contributions add up to the portfolio's total return
    assert math.isclose(sum(D_CONTRIBUTION.values()), D_PORTFOLIO_METRICS["total_return"], rel_tol=TOL, abs_tol=1e-12)
