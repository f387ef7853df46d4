"""Parity with backtrader (SPEC §8, issue 26): stops and targets on real daily bars.

The same strategy is written for each engine, from the same description and sharing no code:
on every bar from the 21st, a flat book buys when the close is above every close of the 20
bars before (a breakout), with a protective stop and a take-profit; a held position is sold by
a signal when the close is below every close of the 10 bars before. The order is sized at the
signal's bar as floor(0.95 x equity / close) whole shares. The forms of the orders:

- "prices" (what SPEC §8 promises parity for): absolute prices fixed at the signal's bar, a
  stop at round(close x 0.95, 2) and a target at round(close x 1.08, 2). sqlorch:
  `Signal.buy(symbol, 0.95, stop_loss_price=..., take_profit_price=...)`; backtrader:
  `buy_bracket(exectype=Market, stopprice=..., limitprice=...)`, the size computed the same
  way from the broker's value, and on an exit signal the strategy cancels the bracket's
  children itself before `close()` (backtrader does not).
- "fractions": a 5% stop and a 10% target of the entry's fill price. sqlorch:
  `Signal.buy(symbol, 0.95, stop_loss=0.05, take_profit=0.10)`; backtrader: a market buy, and
  on the bar it fills a stop and a limit sell, one cancelling the other (live from the next
  bar, as a bracket's children), at the fill price x 0.95 and x 1.10 rounded half to even to a
  micro unit, as SPEC §8 derives them.
- "short": "prices" mirrored, with `allow_short`: a flat book sells short below every close of
  the 20 bars before, with a stop at round(close x 1.05, 2) and a target at round(close x
  0.92, 2), and buys back above every close of the 10 bars before (`sell_bracket`). At 0.5 of
  the equity rather than 0.95: sqlorch reserves a short's notional from the cash (SPEC §3) and
  rejects a short that a gap makes cost more than the cash, where backtrader credits the sale
  to the cash and never refuses one (at 0.95, NVDA has such a gap in 1999).
- "trail": an 8% trailing stop and no target: `Signal.buy(symbol, 0.95, trail=0.08)`;
  backtrader: a stop sell placed on the entry's bar at the higher of 0.92 x the fill price and
  0.92 x that bar's close, and on every later bar, where 0.92 x the close is higher than the
  stop, cancelled and placed again there (so live from the next bar), all rounded half to even
  to a micro unit: SPEC §8's trailing stop, which backtrader's own StopTrail is not (it trails
  from the price at its creation, in floats).
- "limit": "fractions" entered by a limit order at round(close x 0.98, 2), good until filled or
  replaced by the next breakout's (`Signal.buy(..., limit=...)`); backtrader: a limit buy at
  that price, cancelled and placed again at each later breakout while it is pending.
- "stop": "fractions" entered by a stop order at round(close x 1.02, 2) (`Signal.buy(...,
  stop=...)`), replaced in the same way; backtrader: a stop buy.
- "rule": the same as a `Rule(entry=close > highest(20, of="close", lag=1), exit=close <
  lowest(10, of="close", lag=1), weight=0.95, stop_loss=0.05, take_profit=0.10)`, run entirely
  in the compiled engine, against the backtrader strategy of "fractions".

SPEC §8's parity conditions: `on_insufficient_capital = "reject"` (backtrader refuses an entry
it cannot pay, never clips it), no slippage (a take-profit is set), backtrader's default broker
(no cheat-on-open, no cheat-on-close), the same commission: 10 bps of notional in sqlorch and
backtrader's percentage commission of 0.001.

What is compared: every fill (bar, signed quantity, price, and its order type: backtrader's
Market is sqlorch's market, a Stop or Limit entry its stop or limit, a protective Stop its
stop_loss or trailing_stop, a protective Limit its take_profit), and the equity at every bar.
sqlorch keeps money exactly (micro units, each commission rounded half to even to a micro unit)
while backtrader keeps floats and unrounded commissions, so the equities may differ by half a
micro unit per fill booked so far, plus float noise of FLOAT_TOLERANCE relative; nothing larger
passes (measured: 2.4e-10 relative at most).

Run alone on one file (every form) and as two sleeves of an orchestrated run (at 0.6 and 0.4 of
the capital, each trading its own file's symbol; "prices" and "fractions", as a Rule trades
every symbol of the run) against two backtrader runs at each sleeve's capital, summed bar by bar;
and as two sleeves on one symbol ("prices" and "fractions"), whose market orders net in
conflicts while each keeps its own stops (without commission there, as netting shares one).
Each on the real Yahoo files of ../shared/data beside the repository (NVDA and ORCL from
1999-01-22, from where both have the same dates: skipped, saying so, where they are absent) and
on generated bars written as Yahoo CSV files (so the comparison runs on every machine).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from shared_data import real_data, unavailable

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Rule, Signal, StrategyOrchestrator, load_bars
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.features import field, highest, lowest
from sqlorch.money import FLOAT_TOLERANCE

try:
    import backtrader as bt
except ImportError:  # in the test extra: CI has it, and fails without it (SQLORCH_REQUIRE_DATA)
    unavailable("backtrader is not installed (it is in the test extra: pip install -e '.[test]')")

NVDA, ORCL = "nvda-1999-2014", "orcl-1995-2014"
COMMON_START = dt.date(1999, 1, 22)  # NVDA's first bar; from here on both files have the same dates
CAPITAL = Decimal("100000")
ENTRY_LOOKBACK, EXIT_LOOKBACK = 20, 10
STOP, TARGET = 0.95, 1.08  # "prices": of the signal bar's close, rounded to cents
SHORT_STOP, SHORT_TARGET = 1.05, 0.92  # "short": the same mirrored
STOP_LOSS, TAKE_PROFIT = 0.05, 0.10  # "fractions" and "rule": of the entry's fill price
TRAIL = Decimal("0.08")  # "trail": below the fill price, then below each higher close
LIMIT, STOP_ENTRY = 0.98, 1.02  # "limit" and "stop": of the signal bar's close, rounded to cents
WEIGHT = 0.95
SHORT_WEIGHT = 0.5
COMMISSION_BPS = 10.0
PER_FILL = 5e-7  # half a micro unit: the most sqlorch's rounding of one commission moves equity


@pytest.fixture(params=["real", "generated"])
def files(request, tmp_path) -> tuple[list[Path], dt.date | None]:
    """Two Yahoo CSV files and the first day to trade: NVDA and ORCL from ../shared/data, or two
    symbols of generated bars (8 years)."""
    if request.param == "real":
        return real_data(f"{NVDA}.csv", f"{ORCL}.csv"), COMMON_START
    paths = []
    for (symbol,), bars in synthetic_bars(symbols=2, years=8, seed=26).partition_by("symbol", as_dict=True).items():
        path = tmp_path / f"{symbol.lower()}.csv"
        bars.select(pl.col("ts").dt.strftime("%Y-%m-%d").alias("Date"), pl.col("open").alias("Open"),
                    pl.col("high").alias("High"), pl.col("low").alias("Low"), pl.col("close").alias("Close"),
                    pl.col("close").alias("Adj Close"), pl.col("volume").alias("Volume")).write_csv(path)
        paths.append(path)
    return sorted(paths), None


# -- backtrader ------------------------------------------------------------------------------


def micro(value: Decimal) -> float:
    """`value` rounded half to even to a micro unit, as a float for backtrader."""
    return float(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


class BacktraderBracket(bt.Strategy):
    """The breakout with a stop and a target, for backtrader: with absolute prices in a bracket
    (`fractional` False), or as fractions of the entry's fill price in two orders placed once it
    fills, or a trailing stop (`trail`). Records the broker's value at every bar and every
    completed order as (date, signed size, price, sqlorch's name of its order type)."""

    params = (("fractional", False), ("short", False), ("trail", False), ("entry", "market"))

    def __init__(self):
        self.values: list[tuple[dt.date, float]] = []
        self.fills: list[tuple[dt.date, int, float, str]] = []
        self.children: list = []
        self.entry = self.filled = None  # the fractional entry, pending and filled
        self.level = None  # the trailing stop's price

    def notify_order(self, order):
        if order.status != order.Completed:
            return
        entry = self.entry is not None and order.ref == self.entry.ref  # (what is notified is a copy)
        kind = {"Market": "market", "Limit": "limit" if entry else "take_profit",
                "Stop": "stop" if entry else "trailing_stop" if self.p.trail else "stop_loss"}[order.getordername()]
        self.fills.append((bt.num2date(order.executed.dt).date(), int(order.executed.size), order.executed.price,
                           kind))
        if entry:
            self.entry, self.filled = None, order

    def next(self):
        data = self.data
        self.values.append((data.datetime.date(0), self.broker.getvalue()))
        if len(data) <= ENTRY_LOOKBACK:
            return
        closes = list(data.close.get(size=ENTRY_LOOKBACK + 1))
        close, before = closes[-1], closes[:-1]
        held = self.getposition(data).size
        short = self.p.short
        breakout = close < min(before) if short else close > max(before)
        breakdown = close > max(before[-EXIT_LOOKBACK:]) if short else close < min(before[-EXIT_LOOKBACK:])
        if held and breakdown:
            for child in self.children:  # backtrader leaves a bracket's children live after close()
                self.cancel(child)
            self.close(data)
            self.filled = None
        elif self.filled is not None:
            # the entry filled on this bar: its stop and target at fractions of the fill price (6
            # decimals, as every price here), one cancelling the other, live from the next bar. Placed
            # here rather than in notify_order, where an exit signal on this bar could not cancel them
            # (backtrader accepts, so cancels, an order only from the next bar)
            price, size = Decimal(f"{self.filled.executed.price:.6f}"), self.filled.executed.size
            if self.p.trail:
                self.level = max(micro(price * (1 - TRAIL)), micro(Decimal(f"{close:.6f}") * (1 - TRAIL)))
                self.children, self.filled = [self.sell(data=data, size=size, exectype=bt.Order.Stop,
                                                        price=self.level)], None
                return
            stop = self.sell(data=data, size=size, exectype=bt.Order.Stop,
                             price=micro(price * (1 - Decimal(str(STOP_LOSS)))))
            target = self.sell(data=data, size=size, exectype=bt.Order.Limit,
                               price=micro(price * (1 + Decimal(str(TAKE_PROFIT)))), oco=stop)
            self.children, self.filled = [stop, target], None
        elif held and self.p.trail and micro(Decimal(f"{close:.6f}") * (1 - TRAIL)) > self.level:
            self.level = micro(Decimal(f"{close:.6f}") * (1 - TRAIL))  # the stop rises with the close
            self.cancel(self.children[0])
            self.children = [self.sell(data=data, size=held, exectype=bt.Order.Stop, price=self.level)]
        elif not held and breakout:
            size = math.floor((SHORT_WEIGHT if short else WEIGHT) * self.broker.getvalue() / close)
            if self.p.entry != "market":  # a newer signal replaces a pending entry
                if self.entry is not None:
                    self.cancel(self.entry)
                exectype, at = (bt.Order.Limit, LIMIT) if self.p.entry == "limit" else (bt.Order.Stop, STOP_ENTRY)
                self.entry = self.buy(data=data, size=size, exectype=exectype, price=round(close * at, 2))
            elif self.p.fractional:
                self.entry = self.buy(data=data, size=size)
            else:
                bracket, stop_at, target_at = ((self.sell_bracket, SHORT_STOP, SHORT_TARGET) if short
                                               else (self.buy_bracket, STOP, TARGET))
                _, stop, target = bracket(data=data, size=size, exectype=bt.Order.Market,
                                          stopprice=round(close * stop_at, 2), limitprice=round(close * target_at, 2))
                self.children = [stop, target]


def run_backtrader(path: Path, cash: Decimal, start: dt.date | None, form: str,
                   commission_bps: float = COMMISSION_BPS) -> BacktraderBracket:
    """One backtrader run of the breakout on `path` from `start` (default broker), its orders
    given as `form` says."""
    cerebro = bt.Cerebro(stdstats=False)
    since = {"fromdate": dt.datetime.combine(start, dt.time())} if start else {}
    cerebro.adddata(bt.feeds.GenericCSVData(dataname=str(path), dtformat="%Y-%m-%d", datetime=0, open=1, high=2,
                                            low=3, close=4, volume=6, openinterest=-1, **since))
    cerebro.broker.setcash(float(cash))
    cerebro.broker.setcommission(commission=commission_bps / 10_000)
    cerebro.addstrategy(BacktraderBracket, fractional=form in ("fractions", "rule", "trail", "limit", "stop"),
                        short=form == "short", trail=form == "trail",
                        entry=form if form in ("limit", "stop") else "market")
    strategy, = cerebro.run()
    return strategy


# -- sqlorch ---------------------------------------------------------------------------------


class SqlorchBracket:
    """The breakout with a stop and a target, for sqlorch, trading one symbol: absolute prices
    (`fractional` False) or fractions of the entry's fill price."""

    def __init__(self, symbol: str, name: str, form: str = "prices"):
        self.symbol, self.name, self.form = symbol, name, form

    def on_bar(self, ctx):
        closes = ctx.history(self.symbol, "close", ENTRY_LOOKBACK + 1)
        if len(closes) <= ENTRY_LOOKBACK:
            return None
        close, before = float(closes[-1]), closes[:-1]
        held = ctx.position(self.symbol)
        if self.form == "short":
            if held and close > before[-EXIT_LOOKBACK:].max():
                return Signal.exit(self.symbol, reason="breakout")
            if not held and close < before.min():
                return Signal.sell(self.symbol, SHORT_WEIGHT, reason="breakdown", stop_loss_price=round(
                    close * SHORT_STOP, 2), take_profit_price=round(close * SHORT_TARGET, 2))
            return None
        if held and close < before[-EXIT_LOOKBACK:].min():
            return Signal.exit(self.symbol, reason="breakdown")
        if not held and close > before.max():
            if self.form == "trail":
                return Signal.buy(self.symbol, WEIGHT, reason="breakout", trail=float(TRAIL))
            if self.form == "limit":
                return Signal.buy(self.symbol, WEIGHT, reason="breakout", limit=round(close * LIMIT, 2),
                                  stop_loss=STOP_LOSS, take_profit=TAKE_PROFIT)
            if self.form == "stop":
                return Signal.buy(self.symbol, WEIGHT, reason="breakout", stop=round(close * STOP_ENTRY, 2),
                                  stop_loss=STOP_LOSS, take_profit=TAKE_PROFIT)
            if self.form == "fractions":
                return Signal.buy(self.symbol, WEIGHT, reason="breakout", stop_loss=STOP_LOSS, take_profit=TAKE_PROFIT)
            return Signal.buy(self.symbol, WEIGHT, reason="breakout",
                              stop_loss_price=round(close * STOP, 2), take_profit_price=round(close * TARGET, 2))
        return None


def sqlorch_strategy(form: str, symbol: str, name: str):
    """The breakout in sqlorch, its orders given as `form` says ("rule": a Rule, which trades
    every symbol of its run)."""
    if form == "rule":
        return Rule(entry=field("close") > highest(ENTRY_LOOKBACK, of="close", lag=1),
                    exit=field("close") < lowest(EXIT_LOOKBACK, of="close", lag=1), weight=WEIGHT,
                    stop_loss=STOP_LOSS, take_profit=TAKE_PROFIT, name=name)
    return SqlorchBracket(symbol, name, form)


def settings(tmp_path: Path, form: str) -> dict:
    return dict(initial_capital=CAPITAL, commission_bps=COMMISSION_BPS, slippage_bps=0.0, allow_short=form == "short",
                on_insufficient_capital="reject", warehouse=str(tmp_path / "parity.duckdb"),
                log_dir=str(tmp_path / "logs"))


# -- comparison ------------------------------------------------------------------------------


def assert_same_fills(sleeve, reference: BacktraderBracket) -> None:
    ours = [(ts.date(), int(q), float(p), kind) for ts, q, p, kind in
            sleeve.fills.select("ts", "quantity", "price", "order_type").iter_rows()]
    theirs = [(day, size, round(price, 6), kind) for day, size, price, kind in reference.fills]
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    assert ours == theirs, (f"fills differ from fill {first + 1} on: sqlorch {ours[first:first + 3]}, "
                            f"backtrader {theirs[first:first + 3]} ({len(ours)} and {len(theirs)} fills)")
    kinds = {kind for *_, kind in ours}
    assert kinds in ({"market", "stop_loss", "take_profit"}, {"market", "trailing_stop"},
                     {"limit", "market", "stop_loss", "take_profit"}, {"stop", "market", "stop_loss", "take_profit"}), \
        f"the data must exercise every exit: {kinds}"


def assert_same_equity(days: list[dt.date], ours: np.ndarray, theirs: np.ndarray, fills_so_far: np.ndarray) -> None:
    allowed = fills_so_far * PER_FILL + FLOAT_TOLERANCE * np.abs(theirs)
    off = np.abs(ours - theirs) > allowed
    if off.any():
        i = int(np.argmax(off))
        pytest.fail(f"equity differs first on {days[i]}: sqlorch {ours[i]!r}, backtrader {theirs[i]!r} "
                    f"(allowed {allowed[i]:.3g} after {fills_so_far[i]} fills); {int(off.sum())} bars differ")


def fills_by_bar(days: list[dt.date], fill_days: list[dt.date]) -> np.ndarray:
    """How many fills were booked up to and including each day."""
    return np.searchsorted(np.array(sorted(fill_days), dtype="datetime64[D]"),
                           np.array(days, dtype="datetime64[D]"), side="right")


@pytest.mark.parametrize("form", ["prices", "fractions", "rule", "short", "trail", "limit", "stop"])
def test_one_symbol_matches_backtrader_at_every_bar(files, form, tmp_path):
    (path, _), start = files
    reference = run_backtrader(path, CAPITAL, start, form)
    result = BacktestEngine(sqlorch_strategy(form, path.stem, "bracket"),
                            BacktestConfig(**settings(tmp_path, form))).run(load_bars(path, start=start))

    assert_same_fills(result, reference)
    curve = result.equity_curve
    days = [ts.date() for ts in curve["ts"]]
    assert days == [day for day, _ in reference.values]
    assert_same_equity(days, curve["equity"].cast(float).to_numpy(), np.array([v for _, v in reference.values]),
                       fills_by_bar(days, [day for day, *_ in reference.fills]))
    assert len(reference.fills) > 50  # dozens of round trips: the comparison is not a handful of bars
    if form in ("limit", "stop"):  # some pending entries were replaced by a newer breakout's, unfilled
        with result.warehouse.connect(read_only=True) as con:
            replaced = con.execute("SELECT count(*) FROM decisions WHERE run_id = ? AND order_type = ? "
                                   "AND kind = 'cancelled'", [result.run_id, form]).fetchone()[0]
        assert replaced > 0


@pytest.mark.parametrize("form", ["prices", "fractions"])
def test_two_sleeves_match_two_backtrader_runs_summed(files, form, tmp_path):
    paths, start = files
    weights = dict(zip(paths, (Decimal("0.6"), Decimal("0.4"))))
    references = {path: run_backtrader(path, CAPITAL * weights[path], start, form) for path in paths}
    names = {path: f"bracket_{i}" for i, path in enumerate(paths)}
    pairs = [(sqlorch_strategy(form, path.stem, names[path]), weights[path]) for path in paths]
    config = OrchestratorConfig(**settings(tmp_path, form))
    result = StrategyOrchestrator(pairs, config).run(load_bars(paths, start=start))

    for path, reference in references.items():
        assert_same_fills(result.strategy_results[names[path]], reference)
    curve = result.equity_curve
    days = [ts.date() for ts in curve["ts"]]
    for reference in references.values():
        assert [day for day, _ in reference.values] == days
    summed = sum(np.array([v for _, v in reference.values]) for reference in references.values())
    all_fills = [day for reference in references.values() for day, *_ in reference.fills]
    assert_same_equity(days, curve["equity"].cast(float).to_numpy(), summed, fills_by_bar(days, all_fills))


def test_two_sleeves_on_one_symbol_keep_their_own_stops(files, tmp_path):
    """Two sleeves trading the same symbol, one with absolute prices and one with fractions: their
    market orders meet in conflicts and net (without commission, so netting moves no price or
    cost), while each sleeve's stops and targets stay its own and fill at their own prices. Each
    sleeve equals its own backtrader run at its capital, and the portfolio their sum."""
    (path, _), start = files
    forms = ("prices", "fractions")
    references = {form: run_backtrader(path, CAPITAL / 2, start, form, commission_bps=0.0) for form in forms}
    config = OrchestratorConfig(**{**settings(tmp_path, "prices"), "commission_bps": 0.0})
    result = StrategyOrchestrator([(sqlorch_strategy(form, path.stem, form), Decimal("0.5")) for form in forms],
                                  config).run(load_bars(path, start=start))

    for form, reference in references.items():
        assert_same_fills(result.strategy_results[form], reference)
    with result.warehouse.connect(read_only=True) as con:
        conflicts = con.execute("SELECT count(*) FROM conflicts WHERE run_id = ?", [result.run_id]).fetchone()[0]
    assert conflicts > 10  # the sleeves' entries and exits met on the same bars
    curve = result.equity_curve
    days = [ts.date() for ts in curve["ts"]]
    summed = sum(np.array([v for _, v in reference.values]) for reference in references.values())
    all_fills = [day for reference in references.values() for day, *_ in reference.fills]
    assert_same_equity(days, curve["equity"].cast(float).to_numpy(), summed, fills_by_bar(days, all_fills))
