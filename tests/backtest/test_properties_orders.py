"""Property tests with random order options (SPEC §8) across several sleeves (hypothesis).

Scripted strategies send buys and sells carrying random protective orders (stop-loss and
take-profit as fractions or prices, trailing stops) and limit or stop entries (some expiring),
under every conflict mode, both fill modes, costs, lots, shorts and sometimes drift
rebalancing. Checked against recomputations from the raw tables, as in
test_properties_rebalance:
1. equity identity: portfolio equity = sum of sleeve equities + unallocated cash, exactly, at
   every bar; each sleeve's cash and equity as recomputed from its fills and transfers;
2. no negative cash in a long-only sleeve without a per-order fee;
3. whole lots in every fill;
4. every triggered order is a protective order that closed its sleeve's whole position at its
   bar, with its trigger price, and fills carry their order's type.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import duckdb
from hypothesis import given
from hypothesis import strategies as st
from test_properties import configs, examples, is_whole_lots, markets, weight_lists
from test_properties_rebalance import CHECK_SQL, assert_books_add_up

from sqlorch import OrchestratorConfig, Signal, StrategyOrchestrator

PROTECTIVE = ("stop_loss", "stop_loss_price", "take_profit", "take_profit_price", "trail")


@st.composite
def order_options(draw) -> dict:
    """Options as factors: fractions as given, prices as multiples of the signal bar's close."""
    options: dict = {}
    stop = draw(st.sampled_from([None, "stop_loss", "stop_loss_price", "trail"]))
    if stop == "stop_loss_price":
        options[stop] = ("price", draw(st.sampled_from([0.8, 0.95, 0.99, 1.02, 1.2])))
    elif stop:
        options[stop] = draw(st.sampled_from([0.01, 0.03, 0.05, 0.1, 0.25]))
    take = draw(st.sampled_from([None, "take_profit", "take_profit_price"]))
    if take == "take_profit_price":
        options[take] = ("price", draw(st.sampled_from([0.9, 1.01, 1.05, 1.3])))
    elif take:
        options[take] = draw(st.sampled_from([0.02, 0.05, 0.1, 0.5]))
    entry = draw(st.sampled_from([None, None, "limit", "stop"]))
    if entry:
        options[entry] = ("price", draw(st.sampled_from([0.9, 0.97, 1.0, 1.03, 1.1])))
        if draw(st.booleans()):
            options["expires"] = draw(st.integers(1, 5))
    return options


class ScriptedOrders:
    """Replays (bar, side, symbol, weight, options) signals; prices given as factors of the close."""

    def __init__(self, name: str, script: list[tuple]):
        self.name = name
        self._by_bar = defaultdict(list)
        for t, side, symbol, weight, options in script:
            self._by_bar[t].append((side, symbol, weight, options))

    def on_bar(self, ctx):
        signals = []
        for side, symbol, weight, options in self._by_bar.get(ctx.t, ()):
            if side == "exit":
                signals.append(Signal.exit(symbol))
                continue
            bar = ctx.bar(symbol)
            close = bar.close if bar else float(ctx.marks[ctx.index(symbol)]) or 1.0
            given_ = {}
            for name, value in options.items():
                if isinstance(value, tuple):
                    given_[name] = Decimal(repr(round(close * value[1], 6)))
                    if given_[name] <= 0:
                        given_[name] = Decimal("0.01")
                else:
                    given_[name] = value
            if side == "sell":  # a short's fractions are of the same size; its prices mirror
                for name in ("stop_loss_price", "take_profit_price"):
                    if name in given_:
                        given_[name] = Decimal(repr(round(close * (2 - options[name][1]), 6))).max(Decimal("0.01"))
            signals.append((Signal.buy if side == "buy" else Signal.sell)(symbol, weight, **given_))
        return signals


@st.composite
def cases(draw):
    market = draw(markets())
    n = draw(st.integers(1, 3))
    weights = draw(weight_lists(n))
    bars = len(market.clock)
    line = st.tuples(st.integers(0, bars - 1), st.sampled_from(["buy", "buy", "sell", "exit"]),
                     st.sampled_from(market.symbols), st.sampled_from([1.0, 0.5, 0.25, 0.9, 0.333]), order_options())
    scripts_ = [draw(st.lists(line, min_size=2, max_size=25)) for _ in range(n)]
    cfg = draw(configs())
    if n >= 2 and draw(st.booleans()):
        cfg["rebalance_threshold"] = draw(st.sampled_from([0.01, 0.1]))
    return market, scripts_, weights, cfg


@examples(40)
@given(case=cases())
def test_invariants_with_order_options(tmp_path_factory, case) -> None:
    market, scripts_, weights, cfg = case
    path = str(tmp_path_factory.mktemp("orders") / "w.duckdb")
    strategies = [ScriptedOrders(f"s{i + 1}", script) for i, script in enumerate(scripts_)]
    result = StrategyOrchestrator(list(zip(strategies, weights)),
                                  OrchestratorConfig(warehouse=path, log_dir=None, **cfg)).run(market.frame())
    with duckdb.connect(path, read_only=True) as con:
        run = result.run_id
        assert con.execute("SELECT status FROM runs WHERE run_id = ?", [run]).fetchall() == [("completed",)]
        dataset = con.execute("SELECT dataset_id FROM runs WHERE run_id = ?", [run]).fetchall()[0][0]
        rows = con.execute(CHECK_SQL, {"run": run, "ds": dataset}).fetchall()
        quantities = con.execute("SELECT quantity FROM fills WHERE run_id = ?", [run]).fetchall()
        triggered = con.execute("""
            SELECT d.order_type, d.trigger_price IS NOT NULL, f.order_type,
                   (SELECT sum(g.quantity) FROM fills g WHERE g.run_id = f.run_id AND g.strategy_id = f.strategy_id
                    AND g.symbol = f.symbol AND g.fill_id <= f.fill_id) AS left_after
            FROM decisions d JOIN fills f USING (run_id, order_id)
            WHERE d.run_id = ? AND d.kind = 'triggered'""", [run]).fetchall()
        mismatched = con.execute("""
            SELECT count(*) FROM fills f JOIN decisions d USING (run_id, order_id)
            WHERE f.run_id = ? AND (f.order_type IS DISTINCT FROM d.order_type
                                    OR (d.kind = 'triggered') != (d.order_type IN ('stop_loss', 'take_profit',
                                                                                   'trailing_stop'))
                                    OR (d.trigger_price IS NOT NULL) != (d.kind = 'triggered'))""", [run]).fetchall()
    assert_books_add_up(rows, cfg, len(market.clock))
    assert all(is_whole_lots(q, cfg["lot_size"]) for (q,) in quantities)
    for order_type, has_trigger, fill_type, left in triggered:
        assert order_type in ("stop_loss", "take_profit", "trailing_stop") and has_trigger
        assert fill_type == order_type and left == 0
    assert mismatched == [(0,)]
