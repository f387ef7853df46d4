"""Conflict resolution on hand-built cases whose fills, cash and positions were worked out by
hand (the arithmetic is in the comments).

Market: symbols X and Y, every bar open = close = 100, high 101, low 99 (flat, so sizing is
floor(weight x sleeve equity / 100)). Commission 10 bps of notional, no per-order fee, no
slippage unless a test says otherwise. Orders decided at bar 1 meet at bar 2's open.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.engine import conflicts
from sqlorch.engine.conflicts import ConflictOrder, get_resolver, register_resolver

DAYS = [dt.datetime(2024, 1, 1) + dt.timedelta(days=d) for d in range(5)]
FLAT = pl.DataFrame({
    "symbol": [s for s in ("X", "Y") for _ in DAYS], "ts": DAYS * 2,
    "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 1000.0,
})


class Script:
    """Signals at given bars: {bar: [Signal, ...]}."""

    def __init__(self, name: str, plan: dict[int, list[Signal]]):
        self.name, self.plan = name, plan

    def on_bar(self, ctx):
        return self.plan.get(ctx.t, [])


def scripts(case: str) -> tuple[list[tuple[Script, D]], D]:
    """The strategies, weights and capital of each case."""
    buy, exit_ = Signal.buy, Signal.exit
    if case == "opposing":  # b holds 30 X (bought at bar 0); at bar 1 a buys 75, b sells its 30
        return [(Script("a", {1: [buy("X", 0.5)]}), D("0.6")),
                (Script("b", {0: [buy("X", 0.3)], 1: [exit_("X")]}), D("0.4"))], D(25000)
    if case == "same":  # at bar 1 a buys 75 X, b buys 20 X
        return [(Script("a", {1: [buy("X", 0.5)]}), D("0.6")),
                (Script("b", {1: [buy("X", 0.2)]}), D("0.4"))], D(25000)
    if case == "three":  # b holds 30 X; at bar 1 a buys 50, b sells 30, c buys 15
        return [(Script("a", {1: [buy("X", 0.5)]}), D("0.4")),
                (Script("b", {0: [buy("X", 0.4)], 1: [exit_("X")]}), D("0.3")),
                (Script("c", {1: [buy("X", 0.2)]}), D("0.3"))], D(25000)
    # no cash: a spends all on Y (clipped to 99 by commission: cash 90.1), then wants 49 X; b sells 30 X
    return [(Script("a", {0: [buy("Y", 1.0)], 1: [buy("X", 0.5)]}), D("0.5")),
            (Script("b", {0: [buy("X", 0.3)], 1: [exit_("X")]}), D("0.5"))], D(20000)


# (case, mode) -> {strategy: (cash, X position)} after bar 2, and the bar-2 fills (strategy, qty, price, commission)
EXPECTED = {
    # net +45: commission 0.001 x 45 x 100 = 4.5, split 75:30 -> 3.214285 + 1.285714 (floors) + 0.000001
    # to a (most room under its standalone 7.5). a: 15000 - 7500 - 3.214286; b: 6997 + 3000 - 1.285714
    ("opposing", "net_signal"): ({"a": ("7496.785714", 75), "b": ("9995.714286", 0)},
                                 [("a", 75, "100", "3.214286"), ("b", -30, "100", "1.285714")]),
    ("opposing", "first_wins"): ({"a": ("7492.5", 75), "b": ("6997", 30)}, [("a", 75, "100", "7.5")]),
    ("opposing", "cancel_both"): ({"a": ("15000", 0), "b": ("6997", 30)}, []),
    ("opposing", "weighted"): ({"a": ("7492.5", 75), "b": ("6997", 30)}, [("a", 75, "100", "7.5")]),  # 0.6 > 0.4
    # net +95: commission 9.5 split 75:20 -> 7.5 and 2.0, the same as alone
    ("same", "net_signal"): ({"a": ("7492.5", 75), "b": ("7998", 20)},
                             [("a", 75, "100", "7.5"), ("b", 20, "100", "2")]),
    ("same", "first_wins"): ({"a": ("7492.5", 75), "b": ("10000", 0)}, [("a", 75, "100", "7.5")]),
    ("same", "cancel_both"): ({"a": ("7492.5", 75), "b": ("7998", 20)},
                              [("a", 75, "100", "7.5"), ("b", 20, "100", "2")]),
    ("same", "weighted"): ({"a": ("7492.5", 75), "b": ("7998", 20)},
                           [("a", 75, "100", "7.5"), ("b", 20, "100", "2")]),
    # net +35: commission 3.5 split 50:30:15 -> 1.842105 + 1.105263 + 0.552631 (+0.000001 to a)
    ("three", "net_signal"): ({"a": ("4998.157894", 50), "b": ("7495.894737", 0), "c": ("5999.447369", 15)},
                              [("a", 50, "100", "1.842106"), ("b", -30, "100", "1.105263"),
                               ("c", 15, "100", "0.552631")]),
    ("three", "first_wins"): ({"a": ("4995", 50), "b": ("4497", 30), "c": ("7500", 0)}, [("a", 50, "100", "5")]),
    ("three", "cancel_both"): ({"a": ("10000", 0), "b": ("4497", 30), "c": ("7500", 0)}, []),
    # buyers 0.4 + 0.3 outweigh the seller's 0.3: a and c trade on their own
    ("three", "weighted"): ({"a": ("4995", 50), "b": ("4497", 30), "c": ("5998.5", 15)},
                            [("a", 50, "100", "5"), ("c", 15, "100", "1.5")]),
    # a's 49 X cost 4904.9 > 90.1: rejected; only b's sale reaches the market
    ("no_cash", "net_signal"): ({"a": ("90.1", 0), "b": ("9994", 0)}, [("b", -30, "100", "3")]),
    ("no_cash", "first_wins"): ({"a": ("90.1", 0), "b": ("6997", 30)}, []),
    ("no_cash", "cancel_both"): ({"a": ("90.1", 0), "b": ("6997", 30)}, []),
    ("no_cash", "weighted"): ({"a": ("90.1", 0), "b": ("6997", 30)}, []),  # 0.5 = 0.5: a tie cancels both
}


def run(case: str, mode: str, tmp_path: Path, **settings):
    line_up, capital = scripts(case)
    path = tmp_path / "w.duckdb"
    config = OrchestratorConfig(initial_capital=capital, commission_bps=10.0, conflict_mode=mode,
                                warehouse=str(path), log_dir=str(tmp_path / "logs"), **settings)
    result = StrategyOrchestrator(line_up, config).run(FLAT)
    return result, path


@pytest.mark.parametrize("case", ["opposing", "same", "three", "no_cash"])
@pytest.mark.parametrize("mode", ["net_signal", "first_wins", "cancel_both", "weighted"])
def test_each_mode_by_hand(case: str, mode: str, tmp_path: Path) -> None:
    result, path = run(case, mode, tmp_path)
    after, fills = EXPECTED[(case, mode)]
    got_fills = [(f["strategy_id"], int(f["quantity"]), f["price"], f["commission"])
                 for f in result.fills.filter(pl.col("ts") == DAYS[2]).iter_rows(named=True)]
    assert got_fills == [(s, q, D(p), D(c)) for s, q, p, c in fills]
    for sid, (cash, held) in after.items():
        sleeve = result.strategy_results[sid]
        assert sleeve.equity_curve["cash"][2] == D(cash), sid
        x = sleeve.fills.filter(pl.col("symbol") == "X")["quantity"].sum()
        assert int(x) == held, sid
    # the conflict is recorded, once, in the table and the log
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT bar_index, symbol, mode, strategies FROM conflicts WHERE run_id = ?",
                           [result.run_id]).fetchall()
        events = [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM events WHERE run_id = ? AND event = 'orchestrator.conflict_detected'",
            [result.run_id]).fetchall()]
    strategies = sorted(after)
    assert rows == [(2, "X", mode, strategies)]
    (event,) = events
    assert event["symbol"] == "X" and event["resolution_mode"] == mode and event["strategies"] == strategies
    assert [o["strategy_id"] for o in event["orders"]] == strategies and event["outcome"]


def test_net_signal_records_what_netting_saved(tmp_path: Path) -> None:
    result, path = run("opposing", "net_signal", tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT net_quantity, crossed_quantity, commission, commission_standalone, "
                          "commission_saved, standing FROM conflicts WHERE run_id = ?", [result.run_id]).fetchall()
    # alone: a 0.001 x 75 x 100 = 7.5, b 3.0; netted 4.5; saved 6.0 = 0.001 x 100 x 30 crossed x 2 sides
    assert row == [(D(45), D(30), D("4.5"), D("10.5"), D("6.0"), ["a", "b"])]


def test_netting_saves_exactly_the_crossed_quantitys_commission(tmp_path: Path) -> None:
    """The same two sleeves run alone pay 6.0 more commission at bar 2 than netted."""
    line_up, capital = scripts("opposing")
    netted, _ = run("opposing", "net_signal", tmp_path)
    alone = sum(
        BacktestEngine(Script(s.name, s.plan), BacktestConfig(initial_capital=capital * w, commission_bps=10.0,
                                                             warehouse=None, log_dir=None))
        .run(FLAT).fills.filter(pl.col("ts") == DAYS[2])["commission"].sum()
        for s, w in line_up)
    paid = netted.fills.filter(pl.col("ts") == DAYS[2])["commission"].sum()
    assert alone - paid == D("6.0") == D("0.001") * 100 * 30 * 2


def test_netted_orders_share_the_net_orders_slipped_price(tmp_path: Path) -> None:
    # net +45 buys: everyone fills at 100 x (1 + 10 bps) = 100.1; commission 0.001 x 45 x 100.1 = 4.5045,
    # split 75:30 -> 3.2175 and 1.287 exactly
    result, _ = run("opposing", "net_signal", tmp_path, slippage_bps=10.0)
    fills = result.fills.filter(pl.col("ts") == DAYS[2])
    assert fills["price"].to_list() == [D("100.1"), D("100.1")]
    assert fills["commission"].to_list() == [D("3.2175"), D("1.287")]


def test_first_wins_follows_priorities(tmp_path: Path) -> None:
    # b ranked first: its sale of 30 stands (commission 3.0), a's buy is cancelled
    result, path = run("opposing", "first_wins", tmp_path, priorities={"b": 1})
    fills = result.fills.filter(pl.col("ts") == DAYS[2])
    assert [(f["strategy_id"], int(f["quantity"]), f["commission"]) for f in fills.iter_rows(named=True)] == [
        ("b", -30, D(3))]
    with duckdb.connect(str(path), read_only=True) as con:
        (reason,) = con.execute("SELECT reason FROM decisions WHERE run_id = ? AND kind = 'cancelled'",
                                [result.run_id]).fetchall()[0]
    assert reason == "conflict on X: first_wins kept b"


@pytest.fixture(autouse=True)
def registry():
    """Resolvers a test registers are gone after it."""
    saved = dict(conflicts._REGISTRY)
    yield
    conflicts._REGISTRY.clear()
    conflicts._REGISTRY.update(saved)


def order(strategy: str, quantity: str, priority: int, weight: str) -> ConflictOrder:
    return ConflictOrder(priority, strategy, "X", D(quantity), priority, D(weight))


@pytest.mark.parametrize("mode, standing", [
    ("net_signal", ["a", "b", "c"]),
    ("first_wins", ["b"]),  # b has priority 1
    ("cancel_both", []),  # a and c buy, b sells
    ("weighted", ["a", "c"]),  # buying 0.3 + 0.25 against selling 0.45
])
def test_built_in_resolvers_called_from_python(mode: str, standing: list[str]) -> None:
    """A resolver of one's own can fall back to a built-in: called from Python, it decides as
    the compiled engine does."""
    orders = [order("a", "10", 2, "0.3"), order("b", "-4", 1, "0.45"), order("c", "2.5", 3, "0.25")]
    assert [o.strategy_id for o in get_resolver(mode).resolve(orders)] == standing


def test_weighted_tie_and_agreement_from_python() -> None:
    weighted, cancel_both = get_resolver("weighted"), get_resolver("cancel_both")
    tie = [order("a", "1", 1, "0.5"), order("b", "-1", 2, "0.5")]
    assert weighted.resolve(tie) == []
    agree = [order("a", "1", 1, "0.5"), order("b", "3", 2, "0.2")]
    assert weighted.resolve(agree) == agree and cancel_both.resolve(agree) == agree


class LargestWins:
    """A user's resolver: the largest order stands alone."""

    nets = False

    def resolve(self, orders):
        return [max(orders, key=lambda o: abs(o.quantity))]


def test_a_registered_resolver_is_used(tmp_path: Path) -> None:
    register_resolver("largest_wins", LargestWins())
    result, path = run("three", "largest_wins", tmp_path)
    fills = result.fills.filter(pl.col("ts") == DAYS[2])
    assert [(f["strategy_id"], int(f["quantity"])) for f in fills.iter_rows(named=True)] == [("a", 50)]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT mode, standing FROM conflicts").fetchall() == [("largest_wins", ["a"])]


def test_a_resolver_registered_as_net_signal_replaces_it(tmp_path: Path) -> None:
    """net_signal's own resolver keeps every order without being asked; one registered in its
    place (even a subclass) is asked."""
    from sqlorch.engine.conflicts import NetSignal

    class FirstOnly(NetSignal):
        def resolve(self, orders):
            return list(orders[:1])

    original = get_resolver("net_signal")
    register_resolver("net_signal", FirstOnly())
    try:
        result, _ = run("three", "net_signal", tmp_path)
    finally:
        register_resolver("net_signal", original)
    fills = result.fills.filter(pl.col("ts") == DAYS[2])
    assert [(f["strategy_id"], int(f["quantity"])) for f in fills.iter_rows(named=True)] == [("a", 50)]


def test_resolver_registry_checks() -> None:
    with pytest.raises(TypeError):
        register_resolver("broken", object())
    with pytest.raises(ValueError):
        register_resolver("", LargestWins())
    with pytest.raises(ValueError, match="did you mean 'weighted'"):
        get_resolver("weighed")


def test_a_resolver_must_return_a_subset(tmp_path: Path) -> None:
    class Inventive:
        nets = False

        def resolve(self, orders):
            o = orders[0]
            return [ConflictOrder(999, o.strategy_id, o.symbol, o.quantity, o.priority, o.weight)]

    register_resolver("inventive", Inventive())
    with pytest.raises(Exception, match="must return a subset"):
        run("same", "inventive", tmp_path)


def test_summary_views(tmp_path: Path) -> None:
    result, path = run("three", "net_signal", tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        by_symbol = con.execute("SELECT symbol, conflicts, commission_saved FROM conflicts_by_symbol "
                                "WHERE run_id = ?", [result.run_id]).fetchall()
        pairs = con.execute("SELECT strategy_a, strategy_b, conflicts, opposing FROM conflict_pairs "
                            "WHERE run_id = ? ORDER BY ALL", [result.run_id]).fetchall()
    assert by_symbol == [("X", 1, D("6.0"))]
    assert pairs == [("a", "b", 1, 1), ("a", "c", 1, 0), ("b", "c", 1, 1)]
