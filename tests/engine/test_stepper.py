"""The stepper (sqlorch/engine/stepper.py) through the public API, with scripted strategies.

Every expected fill, cash and equity figure is worked out by hand in the comments: sizing is
q* = floor(weight x sleeve equity at the close of t / close_t) (SPEC §3).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sqlorch import BacktestConfig, BacktestEngine, Signal, StrategyError

buy, sell, exit_ = Signal.buy, Signal.sell, Signal.exit


def _fills(run):
    """(bar, symbol, quantity, price) per fill, in fill order."""
    return [(b, s, q, p) for b, _, s, q, p, _ in run.fills()]


def _kinds(run):
    return [d[6] for d in run.decisions()]


# ------------------------------------------------------------------------------ fill timing


FLAT4 = {"A": [(0, 10, 10), (1, 10.2, 10), (2, 10.4, 10.6), (3, 10.8, 11)]}  # (day, open, close)


def test_next_open_fills_at_the_next_bars_open(make_bars, script, run_engine, day):
    strategy = script({1: [buy("A", 0.5)]})
    run = run_engine(strategy, make_bars(FLAT4), initial_capital=D(1000))
    # signal at the close of bar 1 (10): q = floor(0.5 x 1000 / 10) = 50, filled at bar 2's open 10.4
    assert _fills(run) == [(2, "A", D(50), D("10.4"))]
    assert run.result.fills["ts"].to_list() == [day(2)]
    # cash 1000 - 520 = 480; equity 480 + 50 x close
    assert [float(e) for e in run.result.equity_curve["equity"]] == [1000, 1000, 480 + 50 * 10.6, 480 + 50 * 11]
    assert run.result.final_equity == D(1030)
    assert _kinds(run) == ["accepted"]


def test_close_fill_mode_fills_at_the_signal_bars_close(make_bars, script, run_engine):
    strategy = script({1: [buy("A", 0.5)]})
    run = run_engine(strategy, make_bars(FLAT4), initial_capital=D(1000), fill="close")
    assert _fills(run) == [(1, "A", D(50), D(10))]
    assert [float(e) for e in run.result.equity_curve["equity"]] == [1000, 1000, 500 + 530, 500 + 550]
    assert [float(c) for c in run.result.equity_curve["cash"]] == [1000, 500, 500, 500]
    assert run.result.final_equity == D(1050)


# A trades every day 0..5; B has no bar on day 2 and none after day 4; C starts on day 3.
GAPPY = {
    "A": [(0, 10, 10), (1, 10, 10), (2, 10, 10), (3, 10, 10), (4, 10, 10), (5, 10.5, 10)],
    "B": [(0, 20, 20), (1, 20, 20), (3, 21, 22), (4, 22, 22)],
    "C": [(3, 5, 5), (4, 5, 5), (5, 5, 5)],
}


def test_orders_wait_for_the_symbols_next_bar_and_expire_at_the_end(make_bars, script, run_engine):
    strategy = script({
        1: [buy("B", 0.2)],                 # B has no bar on day 2: fills at day 3's open (21)
        4: [buy("A", 0.1), exit_("B")],     # equity 790 + 10 x 22 = 1010: A q = floor(101 / 10) = 10
        5: [exit_("A")],                    # last bar: nothing left to fill at
    })
    run = run_engine(strategy, make_bars(GAPPY), initial_capital=D(1000))
    assert _fills(run) == [(3, "B", D(10), D(21)), (5, "A", D(10), D("10.5"))]
    assert [d[:7] for d in run.decisions()] == [
        ("script", "B", 1, 3, D(10), D(10), "accepted"),
        ("script", "A", 4, 5, D(10), D(10), "accepted"),
        ("script", "B", 4, None, D(-10), D(0), "expired"),   # B never trades again
        ("script", "A", 5, None, D(-10), D(0), "expired"),
    ]
    assert "no bar of B after the signal" in run.decisions()[2][7]


def test_close_mode_order_on_a_symbol_without_a_bar_waits(make_bars, script, run_engine):
    strategy = script({1: [buy("A", 0.5)],   # 50 A at the close of bar 1 (10)
                       2: [buy("B", 0.2)]})  # B has no bar on day 2 (mark 20): floor(200 / 20) = 10
    run = run_engine(strategy, make_bars(GAPPY), initial_capital=D(1000), fill="close")
    assert _fills(run) == [(1, "A", D(50), D(10)), (3, "B", D(10), D(22))]  # B: the close of its next bar
    assert [d[2:4] for d in run.decisions()] == [(1, 1), (2, 3)]


def test_newer_signal_replaces_pending_order_and_no_price_is_rejected(make_bars, script, run_engine):
    strategy = script({
        1: [buy("B", 0.2), buy("B", 0.3),   # the second replaces the first in the same bar
            buy("C", 0.5)],                 # C has no bar (no price) yet: rejected at once
        2: [buy("B", 0.4)],                 # B has no bar on day 2: replaces the pending order
    })
    run = run_engine(strategy, make_bars(GAPPY), initial_capital=D(1000))
    decisions = run.decisions()
    assert [d[:7] for d in decisions] == [
        ("script", "B", 1, 1, D(10), D(0), "cancelled"),    # floor(200 / 20)
        ("script", "B", 1, 2, D(15), D(0), "cancelled"),    # floor(300 / 20)
        ("script", "C", 1, 1, D(0), D(0), "rejected"),
        ("script", "B", 2, 3, D(20), D(20), "accepted"),    # floor(400 / 20), at day 3's open 21
    ]
    assert "replaced by a newer signal" in decisions[0][7]
    assert "no price for C yet" in decisions[2][7]
    assert _fills(run) == [(3, "B", D(20), D(21))]
    signals = run.rows("SELECT bar_index, symbol, target_quantity FROM signals WHERE run_id = ? ORDER BY seq",
                       [run.run_id])
    assert signals == [(1, "B", D(10)), (1, "B", D(15)), (1, "C", None), (2, "B", D(20))]
    completed = [e for e in run.events() if e["event"] == "backtest.backtest_completed"]
    assert completed[0]["error_count"] == 1  # the rejected order


# ------------------------------------------------------------------------------ order of fills in a bar


THREE = {"A": [(0, 10), (1, 10), (2, 10)], "B": [(0, 20), (1, 20), (2, 20)]}


def test_fill_order_within_a_bar(make_bars, script, run_engine):
    strategy = script({
        # increasing orders fill in signal order: B first, floor(600 / 20) = 30 (600); then A wants
        # floor(600 / 10) = 60 but 400 is left: clipped to 40. Cash 0.
        0: [buy("B", 0.6), buy("A", 0.6)],
        # equity 1000: B target floor(1000 / 20) = 50 (+20, 400), emitted before the exit of A; the
        # exit (reducing) fills first and releases the 400 the B order needs.
        1: [buy("B", 1.0), exit_("A")],
    })
    run = run_engine(strategy, make_bars(THREE), initial_capital=D(1000), fill="close")
    assert _fills(run) == [(0, "B", D(30), D(20)), (0, "A", D(40), D(10)),
                           (1, "A", D(-40), D(10)), (1, "B", D(20), D(20))]
    assert _kinds(run) == ["accepted", "clipped", "accepted", "accepted"]
    hits = [e for e in run.events() if e["event"].endswith("capital_limit_hit")]
    assert [h["rejected_signal"]["symbol"] for h in hits] == ["A"]  # only the bar-0 clip
    assert run.result.equity_curve["cash"].to_list()[-1] == D(0)


# ------------------------------------------------------------------------------ capital limits


GAP_UP = {"A": [(0, 10, 10), (1, 12.5, 12.5), (2, 12.5, 12.5)]}


def test_clip_policy_buys_what_the_cash_affords(make_bars, script, run_engine, day):
    strategy = script({0: [buy("A", 1.0)]})  # q = 100 at close 10; opens at 12.5: 1250 > 1000
    run = run_engine(strategy, make_bars(GAP_UP), initial_capital=D(1000))
    assert _fills(run) == [(1, "A", D(80), D("12.5"))]  # floor(1000 / 12.5)
    (decision,) = run.decisions()
    assert decision[:7] == ("script", "A", 0, 1, D(100), D(80), "clipped")
    assert "1250.00" in decision[7] and "1000.00 available" in decision[7]
    (hit,) = [e for e in run.events() if e["event"] == "backtest.capital_limit_hit"]
    assert hit["strategy_id"] == "script"
    assert hit["used_capital"] == 1000.0 and hit["allocation_limit"] == 1000.0
    assert hit["rejected_signal"] == {"symbol": "A", "requested": 100.0, "filled": 80.0,
                                      "decision": "clipped", "bar_date": day(1).isoformat()}


def test_clip_accounts_for_commission_and_per_order_fee(make_bars, script, run_engine):
    strategy = script({0: [buy("A", 1.0)]})
    run = run_engine(strategy, make_bars(GAP_UP), initial_capital=D(1000), commission_bps=10,
                     commission_per_order=D(5))
    # floor((1000 - 5) / (12.5 x 1.001)) = 79: 987.5 + 0.9875 + 5 = 993.4875 <= 1000 (80 would cost 1006)
    (fill,) = run.fills()
    assert fill[2:] == ("A", D(79), D("12.5"), D("5.9875"))
    assert run.result.equity_curve["cash"].to_list()[-1] == D("6.5125")


def test_reject_policy_rejects_the_whole_order(make_bars, script, run_engine):
    strategy = script({0: [buy("A", 1.0)]})
    run = run_engine(strategy, make_bars(GAP_UP), initial_capital=D(1000), on_insufficient_capital="reject")
    assert _fills(run) == []
    assert [d[:7] for d in run.decisions()] == [("script", "A", 0, 1, D(100), D(0), "rejected")]
    (hit,) = [e for e in run.events() if e["event"] == "backtest.capital_limit_hit"]
    assert hit["used_capital"] == 0.0 and hit["allocation_limit"] == 1000.0
    assert hit["rejected_signal"]["decision"] == "rejected"
    assert hit["rejected_signal"]["filled"] == 0.0
    assert run.result.final_equity == D(1000)


def test_slippage_is_capped_at_the_fill_bars_high_and_low(make_bars, script, run_engine):
    bars = make_bars({"A": [(0, 10, 10, 10, 10), (1, 10, 10.05, 9.5, 10), (2, 10, 10.5, 9.95, 10),
                            (3, 10, 10, 10, 10)]})  # (day, open, high, low, close)
    strategy = script({0: [buy("A", 0.5)], 1: [exit_("A")]})
    run = run_engine(strategy, bars, initial_capital=D(1000), slippage_bps=100)
    # buy: min(10 x 1.01, high 10.05) = 10.05; sell: max(10 x 0.99, low 9.95) = 9.95
    assert _fills(run) == [(1, "A", D(50), D("10.05")), (2, "A", D(-50), D("9.95"))]
    assert run.result.final_equity == D(1000) - D(5)


# ------------------------------------------------------------------------------ lots


def test_lot_size_ten_and_less_than_one_lot_rejected(make_bars, script, run_engine):
    bars = make_bars({"A": [(0, 7, 7), (1, 7, 7), (2, 7, 7)],
                      "B": [(0, 10, 10), (1, 105, 105), (2, 105, 105)]})
    # A: floor(500 / 7 / 10) x 10 = 70 (490). B: target 50, but it opens at 105 and the 510 left
    # buys 4 shares: less than one lot of 10, so the order is rejected even under "clip".
    strategy = script({0: [buy("A", 0.5), buy("B", 0.5)]})
    run = run_engine(strategy, bars, initial_capital=D(1000), lot_size=10)
    assert _fills(run) == [(1, "A", D(70), D(7))]
    assert [d[:7] for d in run.decisions()] == [("script", "A", 0, 1, D(70), D(70), "accepted"),
                                                ("script", "B", 0, 1, D(50), D(0), "rejected")]
    events = run.events()
    assert [e["rejected_signal"]["decision"] for e in events if e["event"].endswith("capital_limit_hit")] \
        == ["rejected"]
    assert events[-1]["event"] == "backtest.backtest_completed" and events[-1]["error_count"] == 1
    assert run.result.equity_curve["cash"].to_list()[-1] == D(510)


def test_fractional_quantities_with_lot_size_zero(make_bars, script, run_engine):
    bars = make_bars({"A": [(0, 7), (1, 7)]})
    run = run_engine(script({0: [buy("A", 1.0)]}), bars, initial_capital=D(1000), fill="close", lot_size=0)
    # 1000 / 7 = 142.857142857...: rounded down to 6 places; cash 1000 - 999.999994
    assert _fills(run) == [(0, "A", D("142.857142"), D(7))]
    assert run.result.equity_curve["cash"].to_list()[-1] == D("0.000006")


# ------------------------------------------------------------------------------ shorts


def test_short_selling_and_flip_with_one_order_fee(make_bars, script, run_engine):
    bars = make_bars({"A": [(0, 10), (1, 10), (2, 8), (3, 8)]})
    strategy = script({0: [buy("A", 0.5)],     # 50 at 10, fee 2: cash 498
                       1: [sell("A", 0.5)],    # equity 998: target -floor(499 / 10) = -49; order -99
                       2: [exit_("A")]})       # cover 49 at 8
    run = run_engine(strategy, bars, initial_capital=D(1000), fill="close", allow_short=True,
                     commission_per_order=D(2))
    # the flip is two fills (close the long, open the short) and pays the per-order fee once
    assert [f[2:] for f in run.fills()] == [
        ("A", D(50), D(10), D(2)), ("A", D(-50), D(10), D(2)), ("A", D(-49), D(10), D(0)),
        ("A", D(49), D(8), D(2))]
    assert [d[4:7] for d in run.decisions()] == [
        (D(50), D(50), "accepted"), (D(-99), D(-99), "accepted"), (D(49), D(49), "accepted")]
    realized = run.rows("SELECT realized_pnl FROM fills WHERE run_id = ? ORDER BY fill_id", [run.run_id])
    assert [r for (r,) in realized] == [D(0), D(0), D(0), D(98)]  # (10 - 8) x 49
    # cash: 498 | +500 - 2 + 490 = 1486 | -392 - 2 = 1092; equity at bar 1: 1486 - 490 = 996
    assert [float(c) for c in run.result.equity_curve["cash"]] == [498, 1486, 1092, 1092]
    assert [float(e) for e in run.result.equity_curve["equity"]] == [998, 996, 1092, 1092]


def test_sell_without_allow_short_flattens_and_weight_zero_buy_exits(make_bars, script, run_engine):
    bars = make_bars({"A": [(0, 10), (1, 8), (2, 9), (3, 10), (4, 11)]})
    strategy = script({0: [sell("A", 0.5)],   # flat: target 0, nothing to do
                       1: [buy("A", 0.5)],    # floor(500 / 8) = 62 (496): cash 504
                       2: [sell("A", 0.3)],   # flattens the 62 at 9, never goes short: cash 1062
                       3: [buy("A", 0.5)],    # floor(531 / 10) = 53 (530): cash 532
                       4: [buy("A", 0.0)]})   # weight 0 = exit: 53 at 11, cash 1115
    run = run_engine(strategy, bars, initial_capital=D(1000), fill="close")
    assert _fills(run) == [(1, "A", D(62), D(8)), (2, "A", D(-62), D(9)), (3, "A", D(53), D(10)),
                           (4, "A", D(-53), D(11))]
    signals = run.rows("SELECT bar_index, side, target_quantity, order_id IS NULL FROM signals "
                       "WHERE run_id = ? ORDER BY seq", [run.run_id])
    assert signals == [(0, "sell", D(0), True), (1, "buy", D(62), False), (2, "sell", D(0), False),
                       (3, "buy", D(53), False), (4, "buy", D(0), False)]
    assert run.result.final_equity == D(1115)


# ------------------------------------------------------------------------------ failures


def _raise_at(k):
    def boom(ctx):
        if ctx.t == k:
            raise RuntimeError(f"boom at {k}")
        return []
    return boom


def test_unknown_symbol_fails_the_run_naming_strategy_and_bar(make_bars, script, day):
    config = BacktestConfig(initial_capital=D(1000), warehouse=None, log_dir=None)
    with pytest.raises(StrategyError) as info:
        BacktestEngine(script({1: [buy("AAPLE")]}, name="typo"), config).run(
            make_bars({"AAPL": [(0, 10), (1, 10), (2, 10)]}))
    error = info.value
    assert error.strategy_id == "typo"
    assert error.bar_ts == day(1)
    assert isinstance(error.error, KeyError)
    message = str(error)
    assert "'typo'" in message and "2024-01-02" in message
    assert "unknown symbol 'AAPLE'" in message and "did you mean 'AAPL'?" in message


@pytest.mark.parametrize("returned", [["AAPL"], [("AAPL", 1.0)]])
def test_non_signal_objects_fail_clearly(make_bars, script, returned):
    config = BacktestConfig(warehouse=None, log_dir=None)
    with pytest.raises(StrategyError) as info:
        BacktestEngine(script({0: returned}), config).run(make_bars({"AAPL": [(0, 10), (1, 10)]}))
    assert isinstance(info.value.error, TypeError)
    assert "on_bar must return Signal objects, got " + type(returned[0]).__name__ in str(info.value)


def test_strategy_raising_mid_run_keeps_what_came_before(make_bars, script, file_config, open_run, day):
    bars = make_bars({"A": [(d, 10 + d, 10 + d) for d in range(6)],
                      "B": [(d, 5, 5) for d in (0, 1, 2, 3, 5)]})  # B has no bar on day 4
    plan = {0: [buy("A", 0.5)],      # fills at bar 1's open (11): floor(500 / 10) = 50
            2: [exit_("A")],         # fills at bar 3's open (13): cash 1000 - 550 + 650 = 1100
            3: [buy("A", 0.5),       # floor(550 / 13) = 42, fills at bar 4's open (14), before on_bar
                buy("B", 0.1)],      # waits for B's next bar (day 5): still pending when bar 4 fails
            4: _raise_at(4)}
    config = file_config(initial_capital=D(1000))
    with pytest.raises(StrategyError) as info:
        BacktestEngine(script(plan, name="boom"), config).run(bars)
    error = info.value
    assert error.strategy_id == "boom" and error.bar_ts == day(4)
    assert isinstance(error.error, RuntimeError) and "boom at 4" in str(error)
    run = open_run(config.warehouse, error.run_id)
    assert _fills(run) == [(1, "A", D(50), D(11)), (3, "A", D(-50), D(13)), (4, "A", D(42), D(14))]
    decisions = run.decisions()
    assert [(d[1], d[6]) for d in decisions] == [("A", "accepted"), ("A", "accepted"), ("A", "accepted"),
                                                 ("B", "cancelled")]
    assert decisions[3][3] is None  # never resolved at a bar
    assert "run stopped" in decisions[3][7] and "'boom'" in decisions[3][7]
    ((status, message),) = run.rows("SELECT status, error FROM runs WHERE run_id = ?", [error.run_id])
    assert status == "failed"
    assert "boom" in message and "2024-01-05" in message and "RuntimeError" in message
    failed = [e for e in run.events() if e["event"] == "backtest.backtest_failed"]
    assert len(failed) == 1 and failed[0]["strategy_id"] == "boom"


def test_failed_run_keeps_the_failing_bars_opening_fills(make_bars, script, file_config, open_run):
    """A strategy raising at bar 2 ends the run there: bars 0-2 were stepped (bars_processed = 2 + 1),
    and the fill at bar 2's open, ordered at bar 1, stands in fills and in the equity views."""
    bars = make_bars({"A": [(0, 10), (1, 10), (2, 12), (3, 13)]})
    config = file_config(initial_capital=D(1000))

    def buy_then_raise(ctx):
        if ctx.t == 2:
            raise RuntimeError("boom at 2")
        return [buy("A", 0.5)] if ctx.t == 1 else []

    with pytest.raises(StrategyError) as info:
        BacktestEngine(script({1: buy_then_raise, 2: buy_then_raise}), config).run(bars)
    run = open_run(config.warehouse, info.value.run_id)
    ((bar_count, processed),) = run.rows("SELECT bar_count, bars_processed FROM runs WHERE run_id = ?",
                                         [run.run_id])
    assert (bar_count, processed) == (4, 3)
    assert [f[0] for f in run.fills()] == [2]
    equity = run.rows("SELECT bar_index, cash, equity FROM strategy_equity WHERE run_id = ? ORDER BY bar_index",
                      [run.run_id])
    # 50 shares bought at the open of bar 2 (12), held at its close (12): cash 1000 - 600
    assert [(b, float(c), float(e)) for b, c, e in equity] == [(0, 1000, 1000), (1, 1000, 1000), (2, 400, 1000)]


def test_on_start_once_before_the_first_on_bar_and_progress(make_bars, script):
    strategy = script()
    order = []
    strategy.on_start = lambda ctx: order.append(("start", ctx.t))
    original = strategy.on_bar
    strategy.on_bar = lambda ctx: (order.append(("bar", ctx.t)), original(ctx))[1]
    seen = []
    BacktestEngine(strategy, BacktestConfig(warehouse=None, log_dir=None)).run(
        make_bars({"A": [(d, 10) for d in range(4)]}), progress=lambda done, total: seen.append((done, total)))
    assert order == [("start", 0), ("bar", 0), ("bar", 1), ("bar", 2), ("bar", 3)]
    assert seen[0] == (1, 4) and seen[-1] == (4, 4)
    assert all(total == 4 and 1 <= done <= 4 for done, total in seen)


# ------------------------------------------------------------------------------ several sleeves


def test_sleeves_trade_their_own_capital(make_bars, script, run_orchestrator):
    bars = make_bars({"A": [(0, 10), (1, 12)], "B": [(0, 20), (1, 20)]})
    first = script({0: [buy("A", 0.5)]}, name="first")            # 500: 25 A at 10, cash 250
    second = script({0: [buy("B", 1.0)], 1: [buy("A", 0.5)]}, name="second")  # 300: 15 B, cash 0
    run = run_orchestrator([(first, D("0.5")), (second, D("0.3"))], bars, initial_capital=D(1000),
                           fill="close")
    # fills in strategy-list order; second's A buy (floor(150 / 12) = 12) cannot borrow first's cash
    assert [(b, sid, s, q) for b, sid, s, q, _, _ in run.fills()] == [
        (0, "first", "A", D(25)), (0, "second", "B", D(15))]
    assert [d[6] for d in run.decisions()] == ["accepted", "accepted", "rejected"]
    result = run.result
    assert [float(e) for e in result.equity_curve["equity"]] == [1000, 250 + 300 + 300 + 200]
    assert [float(c) for c in result.equity_curve["cash"]] == [450, 450]  # 250 + 0 + 200 unallocated
    assert result.strategy_results["first"].final_equity == D(550)
    assert result.strategy_results["second"].final_equity == D(300)
    assert result.allocations["first"].initial_capital == D(500)
    assert result.allocations["second"].initial_capital == D(300)
    assert result.comparison_table["strategy_id"].to_list() == ["first", "second", "portfolio"]
