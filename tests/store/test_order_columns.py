"""Migration 008 (SPEC §8 records): a warehouse created before order options gains
decisions.order_type and trigger_price, fills.order_type and signals.orders; its runs' orders
were all market orders, and say so."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from sqlorch import BacktestConfig, BacktestEngine, Signal
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.strategies import BuyAndHold


class Stopped:
    name = "stopped"

    def on_bar(self, ctx):
        if ctx.t == 0:
            return [Signal.buy(s, 0.3, stop_loss=0.01) for s in ctx.symbols]


def test_a_warehouse_from_before_order_types_gains_their_columns(tmp_path):
    path, bars = tmp_path / "old.duckdb", synthetic_bars(2, 1)
    config = BacktestConfig(warehouse=str(path), log_dir=None, initial_capital=Decimal(10000))
    old = BacktestEngine(BuyAndHold(), config).run(bars)
    with duckdb.connect(str(path)) as con:
        for table, column in (("decisions", "order_type"), ("decisions", "trigger_price"), ("fills", "order_type"),
                              ("signals", "orders")):
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    new = BacktestEngine(Stopped(), config).run(bars)
    with duckdb.connect(str(path), read_only=True) as con:
        decisions = con.execute("SELECT run_id, kind, order_type, trigger_price IS NULL FROM decisions "
                                "ORDER BY run_id, order_id").fetchall()
        fills = con.execute("SELECT run_id, order_type FROM fills ORDER BY run_id, fill_id").fetchall()
        signals = con.execute("SELECT run_id, orders FROM signals ORDER BY run_id, seq").fetchall()
    assert [d[2:] for d in decisions if d[0] == old.run_id] == [("market", True)] * 2
    assert [f for f in fills if f[0] == old.run_id] == [(old.run_id, "market")] * 2
    assert [s for s in signals if s[0] == old.run_id] == [(old.run_id, None)] * 2
    triggered = [d for d in decisions if d[0] == new.run_id and d[1] == "triggered"]
    assert triggered and all(d[2] == "stop_loss" and not d[3] for d in triggered)
    assert {f[1] for f in fills if f[0] == new.run_id} == {"market", "stop_loss"}
    assert [s for s in signals if s[0] == new.run_id] == [(new.run_id, '{"stop_loss":0.01}')] * 2
