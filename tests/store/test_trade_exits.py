"""trades.exit_type (issue 26): how each round trip ended, derived by sql/load/trades.sql from the
fill that closed it (fills.order_type) and the decision that placed its order
(decisions.rebalance_id); and migration 009, which gives the trades of earlier warehouses their
exit types from the same derivation.

The fills below are written by hand, one round trip per case, with the exit type each must get
stated beside it (the rules of docs/warehouse.md, not sqlorch's output)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from sqlorch.resources import sql_text
from sqlorch.store.warehouse import install_schema

DAY = dt.datetime(2024, 1, 1)
FILLS = [  # strategy, symbol, bar, quantity, price, order_id, order_type
    ("a", "AAA", 1, 10, 100, 1, "market"), ("a", "AAA", 2, -10, 95, 2, "stop_loss"),      # 1: stop_loss
    ("a", "AAA", 3, 5, 100, 3, "stop"), ("a", "AAA", 5, -5, 110, 4, "take_profit"),       # 2: take_profit
    ("a", "BBB", 1, 10, 50, 5, "market"), ("a", "BBB", 2, -4, 51, 6, "market"),           # 3: trailing_stop
    ("a", "BBB", 4, -6, 49, 7, "trailing_stop"),                                          #    (after a rebalance sale)
    ("b", "AAA", 1, 10, 100, 8, "market"), ("b", "AAA", 3, -10, 101, 9, "market"),        # 4: rebalance
    ("b", "BBB", 1, 10, 50, 10, "market"), ("b", "BBB", 3, -10, 52, 11, "market"),        # 5: signal
    ("b", "BBB", 4, 3, 50, 12, "limit"), ("b", "BBB", 6, -3, 55, 13, "limit"),            # 6: signal (a limit exit)
    ("a", "CCC", 2, -10, 20, 14, "market"), ("a", "CCC", 3, 10, 21, 15, "stop_loss"),     # 7: stop_loss of a short
    ("b", "CCC", 1, 10, 20, 16, None), ("b", "CCC", 2, -10, 22, 17, None),                # 8: signal (fills before 008)
    ("b", "AAA", 7, 4, 100, 18, "market"),                                                # 9: open
]
REBALANCE_ORDERS = {6: 0, 9: 1}  # order_id -> rebalance_id; every other order was a strategy's
EXPECTED = [  # strategy, symbol, trade_no, status, exit_type
    ("a", "AAA", 1, "closed", "stop_loss"), ("a", "AAA", 2, "closed", "take_profit"),
    ("a", "BBB", 1, "closed", "trailing_stop"), ("a", "CCC", 1, "closed", "stop_loss"),
    ("b", "AAA", 1, "closed", "rebalance"), ("b", "AAA", 2, "open", "open"),
    ("b", "BBB", 1, "closed", "signal"), ("b", "BBB", 2, "closed", "signal"),
    ("b", "CCC", 1, "closed", "signal"),
]


def write_run(con: duckdb.DuckDBPyConnection, run_id: str, rebalance_orders: dict[int, int]) -> None:
    """A finished run of 8 bars with FILLS, a decision per order, and marks for its last bar."""
    con.execute("INSERT INTO runs (run_id, status, dataset_id, bars_processed) VALUES (?, 'completed', 'd', 8)",
                [run_id])
    for fill_id, (sid, symbol, bar, quantity, price, order_id, order_type) in enumerate(FILLS):
        ts = DAY + dt.timedelta(days=bar)
        con.execute("INSERT INTO fills (run_id, fill_id, order_id, strategy_id, bar_index, ts, symbol, quantity, "
                    "price, commission, order_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                    [run_id, fill_id, order_id, sid, bar, ts, symbol, quantity, price, order_type])
        con.execute("INSERT INTO decisions (run_id, order_id, strategy_id, symbol, decided_bar, kind, rebalance_id) "
                    "VALUES (?, ?, ?, ?, ?, 'accepted', ?)",
                    [run_id, order_id, sid, symbol, bar - 1, rebalance_orders.get(order_id)])


@pytest.fixture
def con():
    con = duckdb.connect()
    install_schema(con)
    con.execute("INSERT INTO marks VALUES ('d', 'AAA', 7, ?, 102)", [DAY + dt.timedelta(days=7)])
    yield con
    con.close()


def trades_of(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple]:
    return con.execute("SELECT strategy_id, symbol, trade_no, status, exit_type FROM trades WHERE run_id = ? "
                       "ORDER BY ALL", [run_id]).fetchall()


def test_each_trade_ends_as_its_closing_fill_says(con):
    write_run(con, "r1", REBALANCE_ORDERS)
    con.execute(sql_text("load", "trades"), {"run_id": "r1"})
    assert trades_of(con, "r1") == EXPECTED


def test_rebalance_orders_are_read_from_the_runs_own_decisions(con):
    """Order ids restart in every run: another run's rebalance order 11 does not make r1's
    signal exit (order 11) a rebalance, nor do r1's rebalances reach r2."""
    write_run(con, "r1", REBALANCE_ORDERS)
    write_run(con, "r2", {11: 0})
    for run_id in ("r1", "r2"):
        con.execute(sql_text("load", "trades"), {"run_id": run_id})
    assert trades_of(con, "r1") == EXPECTED
    r2 = {(s, sym, n): e for s, sym, n, _, e in trades_of(con, "r2")}
    assert r2[("b", "BBB", 1)] == "rebalance" and r2[("b", "AAA", 1)] == "signal"
    assert r2[("a", "BBB", 1)] == "trailing_stop"


def test_the_open_trade_keeps_its_mark_and_the_trade_sums_are_unchanged(con):
    write_run(con, "r1", REBALANCE_ORDERS)
    con.execute(sql_text("load", "trades"), {"run_id": "r1"})
    rows = con.execute("SELECT strategy_id, symbol, trade_no, pnl, fill_count FROM trades "
                       "WHERE run_id = 'r1' AND symbol = 'AAA' ORDER BY ALL").fetchall()
    assert rows == [("a", "AAA", 1, Decimal(-50), 2), ("a", "AAA", 2, Decimal(50), 2),  # 10 x (95 - 100); 5 x 10
                    ("b", "AAA", 1, Decimal(10), 2), ("b", "AAA", 2, Decimal(8), 1)]  # 10 x 1; 4 x (102 - 100)


def test_migration_009_derives_exit_types_for_the_trades_of_earlier_warehouses(tmp_path):
    """A warehouse whose trades table has no exit_type (and whose fills have no order_type, as
    before migration 008) gains the column; its runs' trades are derived again, with exit types,
    the other columns unchanged."""
    path = str(tmp_path / "old.duckdb")
    with duckdb.connect(path) as con:
        install_schema(con)
        con.execute("INSERT INTO marks VALUES ('d', 'AAA', 7, ?, 102)", [DAY + dt.timedelta(days=7)])
        write_run(con, "r1", REBALANCE_ORDERS)
        con.execute("UPDATE fills SET order_type = NULL")
        con.execute(sql_text("load", "trades"), {"run_id": "r1"})
        before = con.execute("SELECT * EXCLUDE (exit_type) FROM trades ORDER BY ALL").fetchall()
        con.execute("ALTER TABLE trades DROP COLUMN exit_type")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    with duckdb.connect(path) as con:
        install_schema(con)
        after = con.execute("SELECT * EXCLUDE (exit_type) FROM trades ORDER BY ALL").fetchall()
        exits = dict(con.execute("SELECT strategy_id || ' ' || symbol || ' ' || trade_no, exit_type "
                                 "FROM trades").fetchall())
    assert after == before and len(after) == len(EXPECTED)
    # without order types only the rebalances and the open trade can be told from a signal
    assert exits == {"a AAA 1": "signal", "a AAA 2": "signal", "a BBB 1": "signal", "a CCC 1": "signal",
                     "b AAA 1": "rebalance", "b AAA 2": "open", "b BBB 1": "signal", "b BBB 2": "signal",
                     "b CCC 1": "signal"}


def test_a_run_whose_sleeve_an_allocation_winds_down_ends_its_trade_as_a_rebalance(tmp_path):
    """End to end: the momentum policy gives a sleeve whose return over the lookback is not
    positive a weight of 0 (SPEC §7), so its whole position is sold by the rebalance: that trade
    ends as 'rebalance'; the other sleeve, never sold, holds an 'open' trade."""
    from sqlorch import OrchestratorConfig, Signal, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars

    class Hold:
        def __init__(self, name: str, symbol: str):
            self.name, self.symbol = name, symbol

        def on_bar(self, ctx):
            return Signal.buy(self.symbol, 0.9) if ctx.t == 0 else None

    config = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None, allocation="momentum",
                                allocation_lookback=20, allocation_every="monthly")
    result = StrategyOrchestrator([(Hold("a", "ALFA"), Decimal("0.5")), (Hold("b", "BRVO"), Decimal("0.5"))],
                                  config).run(synthetic_bars(symbols=2, years=1, seed=11))
    with duckdb.connect(config.warehouse, read_only=True) as con:
        trades = con.execute("SELECT strategy_id, status, exit_type FROM trades WHERE run_id = ? ORDER BY ALL",
                             [result.run_id]).fetchall()
        targets = dict(con.execute("SELECT strategy_id, min(target) FROM allocation_targets WHERE run_id = ? "
                                   "GROUP BY ALL", [result.run_id]).fetchall())
    assert targets["b"] == 0 and targets["a"] > 0  # what the fixture is for: b wound down
    assert trades == [("a", "open", "open"), ("b", "closed", "rebalance")]
