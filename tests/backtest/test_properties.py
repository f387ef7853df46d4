"""Property-based tests (hypothesis): invariants of the stepper and of the SQL accounting.

hypothesis draws small but awkward inputs:
- bars: 1-4 symbols, 5-40 daily bars, prices > 0 with 2, 3 or 4 decimals and
  low <= open, close <= high; a symbol may start late, stop early or have gaps;
- a line-up of 2-4 scripted strategies with Decimal weights > 0 adding up to at most 1;
  each strategy replays a drawn schedule of buy / sell / exit signals (random bars,
  symbols and weights), so failing examples shrink to a few signals;
- a configuration: costs, fill mode, lot size 1 / 10 / 0 (fractional), shorts, clip or
  reject, conflict mode, and the initial capital.

Every number below is compared against something computed independently: the bars as
drawn (exact Decimals), the fills replayed in plain Python, an SQL recomputation from the
`fills` and `bars` tables only, what the running strategy saw through its context
(the stepper's in-memory sleeve), or a standalone run of the same strategy.

Properties:
1. equity identity: portfolio equity = sum of sleeve equities + unallocated cash at
   every bar (SQL views at full precision: exactly; the Python result frames are
   DECIMAL(38, 6), see `assert_money`), and each sleeve's equity = cash + positions
   at the last close, replayed from the fills;
2. no negative cash in a long-only sleeve, after every single fill, assuming the
   per-order fee is 0 (commission_bps < 10000 is enough then). With a per-order fee a
   sale whose proceeds are below the fee can take cash below 0, and only that can: see
   `test_long_only_cash_with_per_order_fee`;
3. every quantity (fills, positions, orders, signal targets) is a whole number of lots;
4. fills are chronological, never before their signal's bar (next_open: at the symbol's
   next bar; close: at the signal's bar when the symbol has one), at the bar's open /
   close moved by slippage but within [low, high], with the commission of the spec;
   within a bar a sleeve's reducing fills come before its increasing ones;
5. a long-only sleeve never spends more than it has: used <= allocated and available
   >= 0 at every bar (allocations view and result frames);
6. each sleeve of an orchestrated run equals a standalone BacktestEngine run of the
   same strategy with initial_capital = weight x total (test_sleeves_equal_standalone_runs);
7. cash conservation: a sleeve's cash = its initial capital - sum(quantity x price +
   commission) over its fills, also as seen by the strategy (ctx.cash) while running;
8. sizing: each signal's target = floor_to_lot(weight x E_t / close_t) with E_t the
   sleeve's equity when the strategy is called, and each order = target - position;
9. order bookkeeping: filled_quantity = sum of the order's fills; accepted / clipped /
   rejected / expired / cancelled agree with what was filled and when; a clipped buy
   takes the most lots the cash affords;
10. round trips (trades view) and metrics (total return, drawdown, volatility, Sharpe,
   Sortino, CAGR, win rate, exposure, contributions) agree with the replayed fills and
   equity curves; the trades' P&L adds up to each sleeve's gain.
11. conflicts: the `conflicts` table lists exactly the (bar, symbol) where orders of two or
   more sleeves were pending (worked out from the signals); each conflict_mode keeps the
   orders SPEC §3 says; net_signal fills the standing orders at one price (the net's) and
   splits the commission on the net pro rata, no order paying more than alone.
Rebalancing is never switched on here (the SQL recomputation ignores transfers).
Sleeve capital is checked to be weight x total to the micro unit, never more in all than
the total, rather than by a particular rounding rule.

Runtime: the default budget keeps this file well under a minute on two cores. Set
SQLORCH_PROPERTY_SCALE=10 (for example) to run ten times as many examples.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Signal, StrategyOrchestrator

SCALE = float(os.environ.get("SQLORCH_PROPERTY_SCALE", "1"))
MICRO = Decimal("0.000001")
HALF_MICRO = Decimal("0.0000005")
BPS = Decimal(10_000)
START = dt.datetime(2024, 1, 1)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
SIDES = ("buy", "buy", "sell", "exit")  # buys first: examples shrink towards buying
SIGNAL_WEIGHTS = (1.0, 1.0, 0.5, 0.25, 0.1, 0.0, 0.75, 0.9, 0.333, 0.05, 0.999, 0.6)


def examples(n: int) -> settings:
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory) -> str:
    """One warehouse file for every example of the module (hypothesis runs many examples per
    test call, so function-scoped tmp_path would be shared anyway); runs never collide."""
    return str(tmp_path_factory.mktemp("properties") / "warehouse.duckdb")


def money(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Market:
    """Bars as drawn, exactly: bars[(symbol, t)] = (open, high, low, close) as Decimals."""

    symbols: tuple[str, ...]
    clock: tuple[dt.datetime, ...]
    bars: dict

    def mark(self, symbol: str, t: int) -> Decimal | None:
        """Last close at or before bar t (None before the symbol's first bar)."""
        for s in range(t, -1, -1):
            if (symbol, s) in self.bars:
                return self.bars[(symbol, s)][3]
        return None

    def next_bar(self, symbol: str, t: int) -> int | None:
        """The symbol's first bar at or after t."""
        return next((s for s in range(t, len(self.clock)) if (symbol, s) in self.bars), None)

    def frame(self, shuffle_seed: int | None = None) -> pl.DataFrame:
        volume = 1000.0
        rows = [(sym, self.clock[t], float(o), float(h), float(lo), float(c), volume)
                for (sym, t), (o, h, lo, c) in sorted(self.bars.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
        frame = pl.DataFrame(rows, schema={"symbol": pl.String, "ts": pl.Datetime("us"), "open": pl.Float64,
                                          "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
                                          "volume": pl.Float64}, orient="row")
        if shuffle_seed is None:
            return frame
        return frame.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)


@st.composite
def markets(draw, max_symbols: int = 4, max_bars: int = 40) -> Market:
    n_symbols = draw(st.integers(1, max_symbols))
    n_bars = draw(st.integers(5, max_bars))
    decimals = draw(st.sampled_from([2, 3, 4]))
    unit = Decimal(1).scaleb(-decimals)
    scale = 10 ** decimals
    bars = {}
    full = draw(st.integers(0, n_symbols - 1))  # this symbol has a bar at every clock bar
    for k in range(n_symbols):
        symbol = SYMBOLS[k]
        first, last, gaps = 0, n_bars - 1, set()
        if k != full:  # the others may start late, stop early and have gaps
            first = draw(st.one_of(st.just(0), st.integers(0, n_bars - 1)))
            last = draw(st.one_of(st.just(n_bars - 1), st.integers(first, n_bars - 1)))
            if last > first + 1:
                gaps = draw(st.sets(st.integers(first + 1, last - 1), max_size=4))
        close = draw(st.integers(scale // 2, 300 * scale))  # the first close: 0.5 .. 300
        for t in range(first, last + 1):
            move, gap, up, down = draw(st.tuples(st.integers(-25, 25), st.integers(-8, 8),
                                                 st.integers(0, 6), st.integers(0, 6)))
            opened = max(1, close * (100 + gap) // 100)
            close = max(1, close * (100 + move) // 100)
            high = max(opened, close) + max(opened, close) * up // 100
            low = max(1, min(opened, close) - min(opened, close) * down // 100)
            if t in gaps:
                continue  # no bar at t (the walk goes on, so the next bar may gap)
            bars[(symbol, t)] = tuple(Decimal(v) * unit for v in (opened, high, low, close))
    clock = tuple(START + dt.timedelta(days=t) for t in range(n_bars))
    return Market(tuple(SYMBOLS[:n_symbols]), clock, bars)


def scripts(n_bars: int, symbols: tuple[str, ...], min_size: int = 3, max_size: int = 40):
    """A schedule of (bar, side, symbol, weight) for one scripted strategy."""
    return st.lists(st.tuples(st.integers(0, n_bars - 1), st.sampled_from(SIDES), st.sampled_from(symbols),
                              st.one_of(st.sampled_from(SIGNAL_WEIGHTS), st.integers(0, 100).map(lambda i: i / 100))),
                    min_size=min_size, max_size=max_size)


@st.composite
def weight_lists(draw, n: int) -> list[Decimal]:
    if draw(st.integers(0, 4)) == 0:  # 28-digit weights: capital x weight needs rounding
        k = draw(st.sampled_from(sorted({n, n + 1, 6, 7, 9})))
        return [Decimal(1) / Decimal(k)] * n
    parts = draw(st.lists(st.integers(1, 1000 // n), min_size=n, max_size=n))
    weights = [Decimal(p) / 1000 for p in parts]
    if draw(st.booleans()):  # sometimes the whole capital is allocated
        weights[-1] = 1 - sum(weights[:-1], Decimal(0))
    return weights


@st.composite
def configs(draw, costs: bool | None = None, allow_short: bool | None = None, per_order: bool | None = None) -> dict:
    with_costs = draw(st.booleans()) if costs is None else costs
    cfg = {
        "initial_capital": draw(st.sampled_from([Decimal("100000"), Decimal("1000"), Decimal("25000"),
                                                 Decimal("12345.67")])),
        "fill": draw(st.sampled_from(["next_open", "close"])),
        "lot_size": draw(st.sampled_from([1, 10, 0])),
        "allow_short": draw(st.booleans()) if allow_short is None else allow_short,
        "on_insufficient_capital": draw(st.sampled_from(["clip", "reject"])),
        "conflict_mode": draw(st.sampled_from(["net_signal", "first_wins", "cancel_both", "weighted"])),
        "commission_bps": 0.0, "commission_per_order": Decimal(0), "slippage_bps": 0.0,
    }
    if with_costs:
        cfg["commission_bps"] = draw(st.sampled_from([1.0, 0.0, 5.0, 12.5, 30.0]))
        cfg["slippage_bps"] = draw(st.sampled_from([2.0, 0.0, 10.0, 33.3, 150.0]))
        if per_order is None or per_order:
            fees = [Decimal("1"), Decimal("0.5"), Decimal("4.99")] + ([] if per_order else [Decimal(0)])
            cfg["commission_per_order"] = draw(st.sampled_from(fees))
    return cfg


# ----------------------------------------------------------------------- strategies


class Scripted:
    """Replays a schedule of signals and records what its context showed at every bar."""

    def __init__(self, name: str, script: list[tuple]):
        self.name = name
        self._by_bar = defaultdict(list)
        for t, side, symbol, weight in script:
            self._by_bar[t].append((side, symbol, weight))
        self.seen: dict[int, tuple] = {}  # bar -> (cash, equity, {symbol: position})

    def on_bar(self, ctx):
        self.seen[ctx.t] = (ctx.cash, ctx.equity, {s: ctx.position(s) for s in ctx.symbols})
        signals = []
        for side, symbol, weight in self._by_bar.get(ctx.t, ()):
            if side == "buy":
                signals.append(Signal.buy(symbol, weight))
            elif side == "sell":
                signals.append(Signal.sell(symbol, weight))
            else:
                signals.append(Signal.exit(symbol))
        return signals


# ------------------------------------------------------------------------- reference


@dataclass
class Replay:
    """One sleeve replayed from its fills in plain Python, exactly."""

    cash_after: list = field(default_factory=list)  # cash at the close of bar t (after its fills)
    equity_after: list = field(default_factory=list)
    positions_after: list = field(default_factory=list)  # {symbol: qty}
    basis_after: list = field(default_factory=list)  # {symbol: signed cost basis}, average cost
    cash_seen: list = field(default_factory=list)  # what the strategy sees when called at bar t
    equity_seen: list = field(default_factory=list)
    positions_seen: list = field(default_factory=list)
    steps: list = field(default_factory=list)  # per fill: (fill, reduces, cash before, cash after)
    trades: list = field(default_factory=list)  # round trips: {symbol, entry_bar, pnl, closed}


def replay(market: Market, capital: Decimal, fills: list[dict], close_mode: bool) -> Replay:
    """fills: dicts with bar_index, symbol, quantity, price, commission, in fill_id order."""
    n = len(market.clock)
    by_bar = defaultdict(list)
    for f in fills:
        by_bar[f["bar_index"]].append(f)
    cash, pos, basis, open_trade = capital, {}, {}, {}
    out = Replay()

    def value(positions, t):
        return sum((q * market.mark(s, t) for s, q in positions.items()), Decimal(0))

    for t in range(n):
        if close_mode:  # the strategy is called before the fills of bar t
            out.cash_seen.append(cash)
            out.positions_seen.append(dict(pos))
            out.equity_seen.append(cash + value(pos, t))
        for f in by_bar.get(t, ()):
            q, p, s = f["quantity"], f["price"], f["symbol"]
            held, b = pos.get(s, Decimal(0)), basis.get(s, Decimal(0))
            reduces = held != 0 and (held > 0) != (q > 0)
            if reduces:
                assert abs(q) <= abs(held), f"a fill crosses zero: {f} with {held} held"
                b -= b * (-q) / held
            else:
                b += money(q * p)
            if not held:
                open_trade[s] = len(out.trades)
                out.trades.append({"symbol": s, "entry_bar": t, "pnl": Decimal(0), "closed": False})
            trade = out.trades[open_trade[s]]
            paid = money(q * p) + f["commission"]  # SPEC §3: a fill's notional is rounded to a micro unit
            trade["pnl"] -= paid
            out.steps.append((f, reduces, cash, cash - paid))
            cash -= paid
            pos[s] = held + q
            basis[s] = b
            if not pos[s]:
                trade["closed"] = True
                del pos[s], basis[s], open_trade[s]
        if not close_mode:  # the strategy is called after the (open) fills of bar t
            out.cash_seen.append(cash)
            out.positions_seen.append(dict(pos))
            out.equity_seen.append(cash + value(pos, t))
        out.cash_after.append(cash)
        out.positions_after.append(dict(pos))
        out.equity_after.append(cash + value(pos, t))
        out.basis_after.append(dict(basis))
    for s, i in open_trade.items():  # open trades are marked to the last close
        out.trades[i]["pnl"] += pos[s] * market.mark(s, n - 1)
    return out


def fill_price(market: Market, symbol: str, t: int, buying: bool, close_mode: bool, slip: Decimal) -> Decimal:
    """An order's price alone: the bar's open (or close) moved against it, capped by high/low."""
    o, h, lo, c = market.bars[(symbol, t)]
    base = c if close_mode else o
    return min(money(base * (1 + slip)), h) if buying else max(money(base * (1 - slip)), lo)


def order_fates(market: Market, decisions: list[dict], signals: list[dict], close_mode: bool) -> tuple[dict, dict]:
    """Where each order must end, worked out from the signals alone. An order fills at its
    symbol's first bar after its signal (next_open) or from its signal's bar on (close),
    unless a later signal of its sleeve on that symbol replaces it first.
    Returns ({(fill bar, symbol): [orders pending there]}, {order_id: (fate, bar)}) with fate
    "ready", "replaced", "expired" or "no price"."""
    later = defaultdict(list)
    for sig in signals:
        later[(sig["strategy_id"], sig["symbol"])].append((sig["bar_index"], sig["seq"]))
    own = {sig["order_id"]: (sig["bar_index"], sig["seq"]) for sig in signals if sig["order_id"] is not None}
    ready, fates = defaultdict(list), {}
    for d in decisions:
        if d["requested_quantity"] == 0:
            fates[d["order_id"]] = ("no price", d["decided_bar"])
            continue
        t = market.next_bar(d["symbol"], d["decided_bar"] + (0 if close_mode else 1))
        replacing = [bar for bar, seq in sorted(later[(d["strategy_id"], d["symbol"])])
                     if own[d["order_id"]] < (bar, seq) and (t is None or bar < t or (close_mode and bar == t))]
        if replacing:
            fates[d["order_id"]] = ("replaced", replacing[0])
        elif t is None:
            fates[d["order_id"]] = ("expired", None)
        else:
            fates[d["order_id"]] = ("ready", t)
            ready[(t, d["symbol"])].append(d)
    return ready, fates


def floor_to_lot(units: Decimal, lot_size: int) -> Decimal:
    if lot_size == 0:
        return units.quantize(MICRO, rounding=ROUND_FLOOR)
    return (units / lot_size).to_integral_value(ROUND_FLOOR) * lot_size


def is_whole_lots(quantity: Decimal, lot_size: int) -> bool:
    if lot_size == 0:
        return quantity == quantity.quantize(MICRO)
    return quantity % lot_size == 0


def assert_money(actual: Decimal, exact: Decimal, rounded: bool, what: str) -> None:
    """`actual` comes from a DECIMAL(38, 6) result frame: equal to `exact` when that has at
    most 6 decimals (whole lots), else to `exact` rounded to 6 places (either way at a tie)."""
    if rounded:
        assert abs(actual - exact) <= HALF_MICRO, f"{what}: {actual} != {exact}"
    else:
        assert actual == exact, f"{what}: {actual} != {exact}"


# ----------------------------------------------------------------------------- runs


def run_orchestrated(market: Market, scripts_: list, weights: list[Decimal], cfg: dict, warehouse: str | None):
    strategies = [Scripted(f"s{i + 1}", script) for i, script in enumerate(scripts_)]
    config = OrchestratorConfig(warehouse=warehouse, log_dir=None, **cfg)
    result = StrategyOrchestrator(list(zip(strategies, weights)), config).run(market.frame())
    return result, strategies


def rows(con, sql: str, params) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


INDEPENDENT_EQUITY_SQL = """
WITH clock AS (
    SELECT ts, (row_number() OVER (ORDER BY ts) - 1)::INTEGER AS bar_index
    FROM (SELECT DISTINCT ts FROM bars WHERE dataset_id = $ds)
), sl AS (
    SELECT strategy_id, initial_capital FROM run_strategies WHERE run_id = $run
), f AS (
    SELECT strategy_id, symbol, ts, quantity, price, commission FROM fills WHERE run_id = $run
), cash AS (
    SELECT sl.strategy_id, c.bar_index, c.ts,
           sl.initial_capital - coalesce(sum(round_even(f.quantity * f.price, 6) + f.commission), 0) AS cash
    FROM sl CROSS JOIN clock c
    LEFT JOIN f ON f.strategy_id = sl.strategy_id AND f.ts <= c.ts
    GROUP BY sl.strategy_id, sl.initial_capital, c.bar_index, c.ts
), held AS (
    SELECT f.strategy_id, c.bar_index, c.ts, f.symbol, sum(f.quantity) AS qty
    FROM clock c JOIN f ON f.ts <= c.ts
    GROUP BY f.strategy_id, c.bar_index, c.ts, f.symbol
), valued AS (
    SELECT h.strategy_id, h.bar_index, sum(h.qty * b.close) AS market_value
    FROM held h
    ASOF JOIN (SELECT symbol, ts, close FROM bars WHERE dataset_id = $ds) b
      ON b.symbol = h.symbol AND b.ts <= h.ts
    GROUP BY h.strategy_id, h.bar_index
), sleeve AS (
    SELECT c.strategy_id, c.bar_index, c.ts, c.cash, c.cash + coalesce(v.market_value, 0) AS equity
    FROM cash c LEFT JOIN valued v USING (strategy_id, bar_index)
), unallocated AS (
    SELECT r.initial_capital - (SELECT sum(initial_capital) FROM sl) AS amount
    FROM runs r WHERE r.run_id = $run
), portfolio AS (
    SELECT bar_index, sum(equity) + (SELECT amount FROM unallocated) AS equity,
           sum(cash) + (SELECT amount FROM unallocated) AS cash
    FROM sleeve GROUP BY bar_index
)
SELECT 'sleeve' AS what, coalesce(s.strategy_id, e.strategy_id) AS strategy_id,
       coalesce(s.bar_index, e.bar_index) AS bar_index,
       s.cash AS expected_cash, e.cash AS view_cash, s.equity AS expected_equity, e.equity AS view_equity
FROM sleeve s
FULL JOIN (SELECT * FROM strategy_equity WHERE run_id = $run) e USING (strategy_id, bar_index)
WHERE s.equity IS DISTINCT FROM e.equity OR s.cash IS DISTINCT FROM e.cash
UNION ALL
SELECT 'portfolio', NULL, coalesce(p.bar_index, v.bar_index), p.cash, v.cash, p.equity, v.equity
FROM portfolio p
FULL JOIN (SELECT * FROM portfolio_equity WHERE run_id = $run) v USING (bar_index)
WHERE p.equity IS DISTINCT FROM v.equity OR p.cash IS DISTINCT FROM v.cash
"""


# ------------------------------------------------------------------ the main property


@st.composite
def orchestrated_cases(draw, **config_kwargs):
    market = draw(markets())
    n = draw(st.integers(2, 4))
    weights = draw(weight_lists(n))
    scripts_ = [draw(scripts(len(market.clock), market.symbols)) for _ in range(n)]
    cfg = draw(configs(**config_kwargs))
    return market, scripts_, weights, cfg


def check_orchestrated_run(market: Market, scripts_: list, weights: list[Decimal], cfg: dict, path: str) -> None:
    result, strategies = run_orchestrated(market, scripts_, weights, cfg, path)
    close_mode = cfg["fill"] == "close"
    lot, long_only = cfg["lot_size"], not cfg["allow_short"]
    rate = Decimal(repr(cfg["commission_bps"])) / BPS
    slip = Decimal(repr(cfg["slippage_bps"])) / BPS
    per_order = cfg["commission_per_order"]
    total = cfg["initial_capital"]
    mode = cfg.get("conflict_mode", "net_signal")
    capitals = {sid: a.initial_capital for sid, a in result.allocations.items()}
    unallocated = total - sum(capitals.values(), Decimal(0))
    assert list(capitals) == [s.name for s in strategies]
    for strategy, weight in zip(strategies, weights):  # capital x weight, to the micro unit
        capital = capitals[strategy.name]
        assert capital == capital.quantize(MICRO) and abs(capital - total * weight) < MICRO, (capital, weight)
    assert 0 <= unallocated < total
    n_bars = len(market.clock)
    ts_index = {ts: t for t, ts in enumerate(market.clock)}
    rounded = lot == 0  # fractional quantities x 6-place prices have 12 decimals

    with duckdb.connect(path, read_only=True) as con:
        run = rows(con, "SELECT * FROM runs WHERE run_id = ?", [result.run_id])[0]
        ds = run["dataset_id"]
        sql_fills = rows(con, "SELECT * FROM fills WHERE run_id = ? ORDER BY fill_id", [result.run_id])
        decisions = rows(con, "SELECT * FROM decisions WHERE run_id = ? ORDER BY order_id", [result.run_id])
        signals = rows(con, "SELECT * FROM signals WHERE run_id = ? ORDER BY strategy_id, seq", [result.run_id])
        strategy_equity = rows(con, "SELECT * FROM strategy_equity WHERE run_id = ? ORDER BY strategy_id, bar_index",
                               [result.run_id])
        portfolio_equity = rows(con, "SELECT * FROM portfolio_equity WHERE run_id = ? ORDER BY bar_index",
                                [result.run_id])
        allocations = rows(con, "SELECT * FROM allocations WHERE run_id = ? ORDER BY strategy_id, bar_index",
                           [result.run_id])
        positions = rows(con, "SELECT * FROM positions WHERE run_id = ?", [result.run_id])
        trades = rows(con, "SELECT * FROM trades WHERE run_id = ? ORDER BY strategy_id, symbol, entry_bar",
                      [result.run_id])
        sql_conflicts = rows(con, "SELECT * FROM conflicts WHERE run_id = ?", [result.run_id])
        mismatches = rows(con, INDEPENDENT_EQUITY_SQL, {"run": result.run_id, "ds": ds})
        sql_bars = {(r["symbol"], r["ts"]): r for r in rows(
            con, "SELECT symbol, ts, open, high, low, close FROM bars WHERE dataset_id = ?", [ds])}

    assert run["status"] == "completed" and run["bars_processed"] == n_bars
    assert run["unallocated_capital"] == unallocated

    # the warehouse holds the bars exactly as drawn
    assert len(sql_bars) == len(market.bars)
    for (symbol, t), (o, h, lo, c) in market.bars.items():
        b = sql_bars[(symbol, market.clock[t])]
        assert (b["open"], b["high"], b["low"], b["close"]) == (o, h, lo, c), (symbol, t, b)

    # the result frame's fills are the fills table
    frame_fills = result.fills.to_dicts()
    assert len(frame_fills) == len(sql_fills)
    for ff, sf in zip(frame_fills, sql_fills):
        for key in ("ts", "strategy_id", "symbol", "quantity", "price", "commission", "order_id"):
            assert ff[key] == sf[key], (key, ff, sf)
        assert ts_index[sf["ts"]] == sf["bar_index"]

    fills_by_sleeve = defaultdict(list)
    for f in sql_fills:
        fills_by_sleeve[f["strategy_id"]].append(f)
    replays = {sid: replay(market, capitals[sid], fills_by_sleeve[sid], close_mode) for sid in capitals}

    # 1. equity identity, against an independent SQL recomputation from fills and bars ...
    assert mismatches == [], mismatches[:5]
    # ... and against the Python replay, exactly, in the views
    view_by = {(r["strategy_id"], r["bar_index"]): r for r in strategy_equity}
    assert len(view_by) == len(capitals) * n_bars
    for sid, rep in replays.items():
        for t in range(n_bars):
            v = view_by[(sid, t)]
            assert v["cash"] == rep.cash_after[t], (sid, t, v["cash"], rep.cash_after[t])
            assert v["equity"] == rep.equity_after[t], (sid, t, v["equity"], rep.equity_after[t])
            assert v["cash"] + v["market_value"] == v["equity"]
    assert len(portfolio_equity) == n_bars
    for t, p in enumerate(portfolio_equity):
        assert p["bar_index"] == t
        expected = sum((rep.equity_after[t] for rep in replays.values()), Decimal(0)) + unallocated
        assert p["equity"] == expected, (t, p["equity"], expected)
        assert p["equity"] == sum((view_by[(sid, t)]["equity"] for sid in capitals), Decimal(0)) + unallocated
    # ... and in the Python result frames (DECIMAL(38, 6))
    portfolio = result.equity_curve.to_dicts()
    assert [r["ts"] for r in portfolio] == list(market.clock)
    sleeves = {sid: result.strategy_results[sid].equity_curve.to_dicts() for sid in capitals}
    for t in range(n_bars):
        total_equity = sum((sleeves[sid][t]["equity"] for sid in capitals), Decimal(0)) + unallocated
        total_cash = sum((sleeves[sid][t]["cash"] for sid in capitals), Decimal(0)) + unallocated
        if rounded:  # each frame value is rounded to 6 places on its own
            assert abs(portfolio[t]["equity"] - total_equity) <= HALF_MICRO * (len(capitals) + 1)
            assert abs(portfolio[t]["cash"] - total_cash) <= HALF_MICRO * (len(capitals) + 1)
        else:
            assert portfolio[t]["equity"] == total_equity, (t, portfolio[t], total_equity)
            assert portfolio[t]["cash"] == total_cash, (t, portfolio[t], total_cash)
        for sid, rep in replays.items():
            assert sleeves[sid][t]["ts"] == market.clock[t]
            assert_money(sleeves[sid][t]["equity"], rep.equity_after[t], rounded, f"{sid} equity at {t}")
            assert_money(sleeves[sid][t]["cash"], rep.cash_after[t], rounded, f"{sid} cash at {t}")
    assert_money(result.final_equity, sum((r.equity_after[-1] for r in replays.values()), unallocated),
                 rounded, "final equity")

    # 1 and 7, against the stepper's in-memory sleeve: what each strategy saw while running
    for strategy in strategies:
        rep = replays[strategy.name]
        assert sorted(strategy.seen) == list(range(n_bars))
        for t, (cash, equity, held) in strategy.seen.items():
            assert cash == rep.cash_seen[t], (strategy.name, t, cash, rep.cash_seen[t])
            assert equity == rep.equity_seen[t], (strategy.name, t, equity, rep.equity_seen[t])
            for symbol in market.symbols:
                assert held[symbol] == float(rep.positions_seen[t].get(symbol, 0)), (strategy.name, t, symbol)

    # 7. cash conservation: final cash = initial - sum(quantity x price + commission)
    for sid in capitals:
        spent = sum((money(f["quantity"] * f["price"]) + f["commission"] for f in fills_by_sleeve[sid]), Decimal(0))
        assert view_by[(sid, n_bars - 1)]["cash"] == capitals[sid] - spent
        assert_money(sleeves[sid][-1]["cash"], capitals[sid] - spent, rounded, f"{sid} final cash")

    # 2. no negative cash in a long-only sleeve, after any single fill (per-order fee 0).
    # With a per-order fee a sale whose proceeds are below the fee can take cash below 0
    # (see test_long_only_cash_with_per_order_fee); a buy never can.
    if long_only:
        for sid, rep in replays.items():
            for f, reduces, before, after in rep.steps:
                if per_order == 0 or not reduces:
                    assert after >= 0, ("negative cash after a fill", sid, f, before, after)
                elif after < 0:  # only through the fee of a sale too small to pay for it
                    assert after >= before - per_order, (sid, f, before, after)
                    assert before < 0 or abs(f["quantity"]) * f["price"] < f["commission"], (sid, f, before)
        if per_order == 0:
            for sid in capitals:
                assert all(view_by[(sid, t)]["cash"] >= 0 for t in range(n_bars))
                assert all(r["cash"] >= 0 for r in sleeves[sid])

    # 3. whole lots everywhere
    for f in sql_fills:
        assert f["quantity"] != 0 and is_whole_lots(f["quantity"], lot), f
    for p in positions:
        assert is_whole_lots(p["quantity"], lot), p
        rep = replays[p["strategy_id"]]
        assert p["quantity"] == rep.positions_after[p["bar_index"]].get(p["symbol"]), p
    assert len(positions) == sum(len(pa) for r in replays.values() for pa in r.positions_after)
    for d in decisions:
        assert is_whole_lots(d["requested_quantity"], lot) and is_whole_lots(d["filled_quantity"], lot), d
    for s in signals:
        assert s["target_quantity"] is None or is_whole_lots(s["target_quantity"], lot), s

    # 4. chronology, fill prices and commissions
    decided = {d["order_id"]: d for d in decisions}
    weight_of = dict(zip((x.name for x in strategies), weights))
    position_of = {x.name: k for k, x in enumerate(strategies)}
    ready, fates = order_fates(market, decisions, signals, close_mode)
    conflicts_expected = {key for key, orders in ready.items() if len({d["strategy_id"] for d in orders}) > 1}
    assert {(c["bar_index"], c["symbol"]) for c in sql_conflicts} == conflicts_expected, (sql_conflicts, ready)
    netted = conflicts_expected if mode == "net_signal" else set()
    first_leg = set()
    last_ts = None
    for f in sql_fills:
        assert last_ts is None or f["ts"] >= last_ts, ("fills out of order", f)
        last_ts = f["ts"]
        d = decided[f["order_id"]]
        assert d["symbol"] == f["symbol"] and d["strategy_id"] == f["strategy_id"]
        t, start = f["bar_index"], d["decided_bar"] + (0 if close_mode else 1)
        assert t >= start, ("fill before its signal may fill", f, d)
        assert market.next_bar(f["symbol"], start) == t, ("not the symbol's first bar it could fill at", f, d)
        assert d in ready[(t, f["symbol"])], ("a fill of an order that was not pending", f, d)
        o, h, lo, c = market.bars[(f["symbol"], t)]
        assert lo <= f["price"] <= h, ("fill price outside the bar", f, (o, h, lo, c))
        fee = per_order if f["order_id"] not in first_leg else Decimal(0)
        first_leg.add(f["order_id"])
        if (t, f["symbol"]) in netted:
            continue  # checked per conflict below
        expected = fill_price(market, f["symbol"], t, f["quantity"] > 0, close_mode, slip)
        assert abs(f["price"] - expected) <= MICRO, (f, expected)
        assert abs(f["commission"] - (rate * abs(f["quantity"]) * f["price"] + fee)) <= HALF_MICRO, (f, fee)
    # conflicts: net_signal crosses the standing orders at one price and charges commission on
    # the net; the other modes cancel orders as SPEC §3 says
    for (t, symbol), orders in ready.items():
        if (t, symbol) not in conflicts_expected:
            continue
        standing = [d for d in orders if d["kind"] != "cancelled"]
        direction = {d["order_id"]: d["requested_quantity"] > 0 for d in orders}
        if mode == "net_signal":
            want = orders
        elif mode == "first_wins":
            want = [min(orders, key=lambda d: position_of[d["strategy_id"]])]
        elif mode == "cancel_both":
            want = orders if len(set(direction.values())) == 1 else []
        else:  # weighted
            buy = sum((weight_of[d["strategy_id"]] for d in orders if direction[d["order_id"]]), Decimal(0))
            sell = sum((weight_of[d["strategy_id"]] for d in orders if not direction[d["order_id"]]), Decimal(0))
            want = [] if buy == sell else [d for d in orders if direction[d["order_id"]] == (buy > sell)]
        assert sorted(d["order_id"] for d in standing) == sorted(d["order_id"] for d in want), (mode, orders)
        if mode != "net_signal":
            continue
        legs = [f for f in sql_fills if f["bar_index"] == t and f["symbol"] == symbol]
        net = sum((f["quantity"] for f in legs), Decimal(0))
        o, h, lo, c = market.bars[(symbol, t)]
        price = fill_price(market, symbol, t, net > 0, close_mode, slip) if net else (c if close_mode else o)
        assert all(f["price"] == price for f in legs), ("netted legs at different prices", price, legs)
        total_fee = money(rate * abs(net) * price + per_order) if net else Decimal(0)
        assert sum((f["commission"] for f in legs), Decimal(0)) == total_fee, ("net commission", total_fee, legs)
        gross = sum((abs(f["quantity"]) for f in legs), Decimal(0))
        by_order = defaultdict(list)
        for f in legs:
            by_order[f["order_id"]].append(f)
        for order_legs in by_order.values():  # split pro rata to each order's quantity ...
            quantity = sum((abs(f["quantity"]) for f in order_legs), Decimal(0))
            paid = sum((f["commission"] for f in order_legs), Decimal(0))
            assert abs(paid - total_fee * quantity / gross) <= MICRO * len(legs), ("commission share", order_legs)
            # ... so that no order pays more than it would have alone
            assert paid <= money(rate * quantity * price + per_order) + MICRO * len(legs), ("pays more", order_legs)
    # within a bar, each sleeve's reducing fills come before its increasing fills
    for sid, fills in fills_by_sleeve.items():
        held, increased_at = defaultdict(Decimal), None
        for f in fills:
            before = held[f["symbol"]]
            reduces = before != 0 and (before > 0) != (f["quantity"] > 0)
            if reduces:
                assert increased_at != f["bar_index"], ("a reducing fill after an increasing one", sid, f)
            else:
                increased_at = f["bar_index"]
            held[f["symbol"]] += f["quantity"]

    # 5. a long-only sleeve never spends more than it has
    if long_only and per_order == 0:
        for a in allocations:
            rep = replays[a["strategy_id"]]
            t = a["bar_index"]
            assert 0 <= a["used_capital"] <= a["allocated_capital"], a
            assert a["available_capital"] >= 0, a
            assert a["available_capital"] == rep.cash_after[t], (a, rep.cash_after[t])
        for sid in capitals:
            history = result.allocations[sid].history.to_dicts()
            assert len(history) == n_bars
            for h in history:
                assert 0 <= h["used_capital"] <= h["allocated_capital"] and h["available_capital"] >= 0, (sid, h)
    for a in allocations:  # used capital is the cost basis of open positions (average cost)
        basis = replays[a["strategy_id"]].basis_after[a["bar_index"]]
        used = sum((abs(b) for b in basis.values()), Decimal(0))
        assert abs(a["used_capital"] - used) <= MICRO * max(1, len(sql_fills)), (a, used)

    # 8. sizing: target = floor_to_lot(weight x E_t / close_t); order = target - position
    for s in signals:
        rep, t, symbol = replays[s["strategy_id"]], s["bar_index"], s["symbol"]
        held = rep.positions_seen[t].get(symbol, Decimal(0))
        short = s["side"] == "sell" and cfg["allow_short"]
        if s["side"] == "exit" or (s["side"] == "sell" and not short) or s["weight"] == 0:
            target = Decimal(0)
        elif market.mark(symbol, t) is None:
            target = None
        else:
            units = Decimal(repr(s["weight"])) * rep.equity_seen[t] / market.mark(symbol, t)
            target = floor_to_lot(max(units, Decimal(0)), lot)
            target = -target if short else target
        assert s["target_quantity"] == target, (s, target, rep.equity_seen[t])
        if target is not None and target != held:
            d = decided[s["order_id"]]
            assert d["requested_quantity"] == target - held, (s, d, held)
            assert d["decided_bar"] == t
        elif target is not None:
            assert s["order_id"] is None, s
    assert len(signals) == sum(len(script) for script in scripts_)  # every signal is recorded

    # 9. order bookkeeping
    filled = defaultdict(Decimal)
    for f in sql_fills:
        filled[f["order_id"]] += f["quantity"]
    for d in decisions:
        got = filled.get(d["order_id"], Decimal(0))
        assert d["filled_quantity"] == got, (d, got)
        kind, req = d["kind"], d["requested_quantity"]
        if kind == "accepted":
            assert got == req and req != 0, d
        elif kind == "clipped":
            assert got != 0 and abs(got) < abs(req) and (got > 0) == (req > 0), d
        elif kind == "rejected":
            assert got == 0, d
        elif kind in ("expired", "cancelled"):
            assert got == 0, d
        else:
            raise AssertionError(f"unknown decision kind {kind!r}")
        fate, bar = fates[d["order_id"]]
        assert d["resolved_bar"] == bar, (fate, bar, d)
        if fate == "no price":
            assert kind == "rejected", d
        elif fate == "replaced":
            assert kind == "cancelled", d
        elif fate == "expired":
            assert kind == "expired", d
        else:  # filled, clipped, rejected for capital, or cancelled by a conflict, at its fill bar
            assert kind != "expired" and (kind != "cancelled" or (bar, d["symbol"]) in conflicts_expected), d
    assert {d["order_id"] for d in decisions} >= {s["order_id"] for s in signals if s["order_id"] is not None}
    # a long-only sleeve sizes each buy against what it has at that point of the bar, at the
    # price it would get alone (SPEC §3; netting can only make it cheaper): never beyond, and a
    # clipped buy takes as many lots as that affords
    if long_only:
        step = Decimal(lot) if lot else MICRO
        clipped = {d["order_id"] for d in decisions if d["kind"] == "clipped"}
        assert not clipped or cfg["on_insufficient_capital"] == "clip", "clipped under the reject policy"
        for sid, fills in fills_by_sleeve.items():
            available, bar = None, None
            for f in fills:
                t, q = f["bar_index"], abs(f["quantity"])
                if t != bar:  # a long-only sleeve's available capital is its cash
                    bar, available = t, replays[sid].cash_after[t - 1] if t else capitals[sid]
                price = fill_price(market, f["symbol"], t, f["quantity"] > 0, close_mode, slip)
                if f["quantity"] < 0:
                    available += money(q * price) - money(rate * q * price + per_order)
                    continue
                cost = money(q * price) + money(rate * q * price + per_order)
                assert cost <= available, ("a buy beyond the sleeve's available capital", sid, f, available)
                if f["order_id"] in clipped:
                    more = q + step
                    assert money(more * price) + money(rate * more * price + per_order) > available, \
                        ("clipped below what the cash affords", sid, f, available)
                available -= cost

    # 10. round trips and metrics, against the replay
    for sid, rep in replays.items():
        got = [(t["symbol"], t["entry_bar"], t["pnl"], t["status"]) for t in trades if t["strategy_id"] == sid]
        want = sorted((t["symbol"], t["entry_bar"], t["pnl"], "closed" if t["closed"] else "open")
                      for t in rep.trades)
        assert sorted(got) == want, (sid, got, want)
        # the P&L of the round trips adds up to the sleeve's gain
        assert sum((t["pnl"] for t in rep.trades), Decimal(0)) == rep.equity_after[-1] - capitals[sid]
        assert len(result.strategy_results[sid].trades) == len(rep.trades)
    check_metrics(result, replays, capitals, unallocated, total, n_bars)


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check_metrics(result, replays: dict, capitals: dict, unallocated: Decimal, total: Decimal, n_bars: int) -> None:
    """SPEC §3 metrics of every sleeve and of the portfolio, from the replayed equity curves
    (only where every equity is positive and the returns are not all equal)."""
    ppy = 252
    portfolio_curve = [sum((r.equity_after[t] for r in replays.values()), unallocated) for t in range(n_bars)]
    series = {sid: (rep.equity_after, capitals[sid], result.strategy_results[sid].metrics,
                    rep.trades, [bool(p) for p in rep.positions_after]) for sid, rep in replays.items()}
    pooled = [t for rep in replays.values() for t in rep.trades]
    held = [any(rep.positions_after[t] for rep in replays.values()) for t in range(n_bars)]
    series["portfolio"] = (portfolio_curve, total, result.aggregate_metrics, pooled, held)
    comparison = {row["strategy_id"]: row for row in result.comparison_table.to_dicts()}
    for name, (curve, initial, metrics, trade_list, holding) in series.items():
        closed = [t["pnl"] for t in trade_list if t["closed"]]
        assert metrics.trade_count == len(trade_list), name
        assert _close(metrics.win_rate, sum(p > 0 for p in closed) / len(closed) if closed else math.nan), name
        assert _close(metrics.exposure, sum(holding) / n_bars), name
        assert _close(metrics.total_return, float(curve[-1] / initial) - 1), name
        assert _close(comparison[name]["total_return"], metrics.total_return), name
        if name != "portfolio":
            assert _close(comparison[name]["contribution"], float((curve[-1] - initial) / total)), name
        if any(e <= 0 for e in curve):
            continue
        e = [float(v) for v in curve]
        peaks = list(itertools.accumulate(e, max))
        assert _close(metrics.max_drawdown, min(v / p - 1 for v, p in zip(e, peaks))), name
        r = [b / a - 1 for a, b in zip(e, e[1:])]
        if len(r) < 2 or max(r) - min(r) < 1e-12:
            continue
        mean = sum(r) / len(r)
        sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
        downside = math.sqrt(sum(min(x, 0) ** 2 for x in r) / len(r))
        assert _close(metrics.volatility, sd * math.sqrt(ppy)), name
        assert _close(metrics.sharpe_ratio, mean / sd * math.sqrt(ppy)), (name, metrics.sharpe_ratio)
        if downside > 0:
            assert _close(metrics.sortino_ratio, mean * ppy / (downside * math.sqrt(ppy))), name
        assert _close(metrics.cagr, (e[-1] / e[0]) ** (ppy / len(r)) - 1), name
    contributions = sum(row["contribution"] for sid, row in comparison.items() if sid != "portfolio")
    assert _close(contributions, comparison["portfolio"]["total_return"])


@examples(30)
@given(case=orchestrated_cases())
def test_orchestrated_run_invariants(warehouse_path, case):
    market, scripts_, weights, cfg = case
    note(f"config={cfg} weights={weights} bars={len(market.clock)}x{len(market.symbols)}")
    check_orchestrated_run(*case, warehouse_path)


def _flat(price: str) -> tuple:
    return (Decimal(price),) * 4


SALE_BELOW_FEE = (  # s1 puts all its 1001 in 100 shares at 10; at 0.05 it trims 10 shares:
    Market(("AAA",), tuple(START + dt.timedelta(days=i) for i in range(5)),  # 0.50 against a 1.00 fee
           {("AAA", i): _flat(p) for i, p in enumerate(["10", "10", "0.05", "0.05", "0.05"])}),
    [[(0, "buy", "AAA", 1.0), (2, "buy", "AAA", 0.9)], [(0, "buy", "AAA", 0.5)]],
    [Decimal("0.5"), Decimal("0.5")],
    {"initial_capital": Decimal("2002"), "fill": "close", "lot_size": 1, "allow_short": False,
     "on_insufficient_capital": "clip", "commission_bps": 0.0, "commission_per_order": Decimal(1),
     "slippage_bps": 0.0},
)


@examples(10)
@example(case=SALE_BELOW_FEE)
@given(case=orchestrated_cases(costs=True, allow_short=False, per_order=True))
def test_long_only_cash_with_per_order_fee(warehouse_path, case):
    """Property 2 with a per-order fee: buys are capped at the sleeve's cash, but a sale whose
    proceeds are below the fee is not, so cash may end below 0 through that fee alone
    (SALE_BELOW_FEE: s1's cash goes from 0.00 to -0.50). All other properties must hold."""
    market, scripts_, weights, cfg = case
    note(f"config={cfg} weights={weights}")
    check_orchestrated_run(*case, warehouse_path)


# --------------------------------------------------------------- 6. sleeve independence


def conflict_cutoff(market: Market, scripts_: list, close_mode: bool) -> int:
    """The first bar at which two strategies could have orders on the same symbol, decided or
    filled at the same bar (a conflict under SPEC §3, where net_signal nets them): from there
    on a sleeve's commissions and fill prices may legitimately differ from a standalone run."""
    signalled = defaultdict(set)  # (symbol, bar) -> strategies deciding there
    filling = defaultdict(set)  # (symbol, fill bar) -> (strategy, decided bar)
    for i, script in enumerate(scripts_):
        for t, _side, symbol, _w in script:
            signalled[(symbol, t)].add((i, t))
            fill_bar = market.next_bar(symbol, t if close_mode else t + 1)
            if fill_bar is not None:
                filling[(symbol, fill_bar)].add((i, t))
    cutoff = len(market.clock)
    for group in itertools.chain(signalled.values(), filling.values()):
        if len({i for i, _ in group}) > 1:
            cutoff = min(cutoff, min(t for _, t in group))
    return cutoff


@st.composite
def independence_cases(draw):
    market = draw(markets(max_bars=30))
    n = draw(st.integers(2, 4))
    weights = draw(weight_lists(n))
    if draw(st.booleans()):  # each symbol traded by one strategy only: no conflicts
        owners = [draw(st.integers(0, n - 1)) for _ in market.symbols]
        allowed = [tuple(s for s, o in zip(market.symbols, owners) if o == i) for i in range(n)]
    else:
        allowed = [market.symbols] * n
    scripts_ = [draw(scripts(len(market.clock), syms)) if syms else [] for syms in allowed]
    cfg = draw(configs())
    return market, scripts_, weights, cfg


@examples(10)
@given(case=independence_cases())
def test_sleeves_equal_standalone_runs(case):
    market, scripts_, weights, cfg = case
    note(f"config={cfg} weights={weights}")
    orchestrated, strategies = run_orchestrated(market, scripts_, weights, cfg, None)
    # from the first conflict on, a sleeve may differ from its standalone run: the other modes
    # cancel orders; net_signal shares one price and the commission on the net (a difference
    # only when there are costs)
    netting_only = cfg["conflict_mode"] == "net_signal" and not (
        cfg["commission_bps"] or cfg["slippage_bps"] or cfg["commission_per_order"])
    cutoff = len(market.clock) if netting_only else conflict_cutoff(market, scripts_, cfg["fill"] == "close")
    cut_ts = market.clock[cutoff] if cutoff < len(market.clock) else dt.datetime.max
    note(f"compared up to bar {cutoff}")
    columns = ["ts", "symbol", "quantity", "price", "commission", "realized_pnl"]
    for i, (strategy, weight) in enumerate(zip(strategies, weights)):
        alone = Scripted(strategy.name, scripts_[i])
        capital = cfg["initial_capital"] * weight  # exactly, as many digits as it takes
        single_cfg = {k: v for k, v in cfg.items() if k != "conflict_mode"}
        config = BacktestConfig(warehouse=None, log_dir=None, **{**single_cfg, "initial_capital": capital})
        single = BacktestEngine(alone, config).run(market.frame(shuffle_seed=i))  # row order must not matter
        sleeve = orchestrated.strategy_results[strategy.name]
        assert single.strategy_id == strategy.name
        got = sleeve.fills.filter(pl.col("ts") < cut_ts).select(columns).to_dicts()
        want = single.fills.filter(pl.col("ts") < cut_ts).select(columns).to_dicts()
        assert got == want, (strategy.name, got, want)
        got = sleeve.equity_curve.filter(pl.col("ts") < cut_ts).to_dicts()
        want = single.equity_curve.filter(pl.col("ts") < cut_ts).to_dicts()
        assert got == want, strategy.name
        assert len(sleeve.equity_curve) == len(single.equity_curve) == len(market.clock)
        assert {t: v for t, v in strategy.seen.items() if t < cutoff} == \
               {t: v for t, v in alone.seen.items() if t < cutoff}
        if cutoff == len(market.clock):
            assert sleeve.final_equity == single.final_equity
        alloc = orchestrated.allocations[strategy.name]
        assert abs(alloc.initial_capital - capital) < MICRO and abs(alloc.weight - weight) < Decimal("1e-12")


# ---------------------------------------------------------------- warehouse reuse (bug)


def test_second_run_on_same_bars_in_same_warehouse(tmp_path):
    """Running twice on the same bars into one warehouse file must work and give the same
    numbers (the dataset is stored once and shared). Regression: with duckdb 2.0 the second
    run raised ResourceInUseException ("connection has an unfinished result") because
    register_dataset left the `SELECT 1 FROM datasets` result half-fetched (fetchone)."""
    market = Market(("AAA",), tuple(START + dt.timedelta(days=i) for i in range(5)),
                    {("AAA", i): (Decimal(10), Decimal(12), Decimal(9), Decimal(11)) for i in range(5)})
    bars = market.frame()
    path = str(tmp_path / "w.duckdb")
    config = BacktestConfig(warehouse=path, log_dir=None)
    first = BacktestEngine(Scripted("s", [(0, "buy", "AAA", 0.5)]), config).run(bars)
    second = BacktestEngine(Scripted("s", [(0, "buy", "AAA", 0.5)]), config).run(bars)
    assert first.run_id != second.run_id
    assert first.equity_curve.equals(second.equity_curve)
    assert first.fills.drop("order_id").equals(second.fills.drop("order_id"))
    with duckdb.connect(path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM datasets").fetchall() == [(1,)]
