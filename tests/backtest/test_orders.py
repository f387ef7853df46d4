"""Orders beyond market targets (SPEC §8), through the public API, on hand-made bars.

Every expected number below was worked out by hand from the bars and the rules of §8 (the
working is in the comments); none was copied from sqlorch's output. Bars are (day, open, high,
low, close); capital 10,000 unless said; no costs unless said. A buy of weight 0.5 at a close
of 100 is 50 shares (floor(0.5 x 10,000 / 100)).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sqlorch import Rule, Signal
from sqlorch.errors import ConfigError, StrategyError


def _bars(make_bars, *rows, symbol="A"):
    return make_bars({symbol: [(d, *row) for d, row in enumerate(rows)]})


def _fills(run):
    """(bar, quantity, price, order_type) per fill, in order."""
    return [(b, q, p, t) for b, q, p, t in run.rows(
        "SELECT bar_index, quantity, price, order_type FROM fills WHERE run_id = ? ORDER BY fill_id", [run.run_id])]


def _decisions(run):
    """(decided, resolved, requested, filled, kind, order_type, trigger_price) per order."""
    return run.rows("SELECT decided_bar, resolved_bar, requested_quantity, filled_quantity, kind, order_type, "
                    "trigger_price FROM decisions WHERE run_id = ? ORDER BY order_id", [run.run_id])


def _equity(run):
    return [float(e) for e in run.result.equity_curve["equity"]]


FLAT = (100, 100, 100, 100)


def test_a_gap_through_a_stop_fills_at_the_open_slipped(run_engine, make_bars, script):
    # slippage 10 bps. Entry at the open of bar 1: 100 x 1.001 = 100.1 (high 101 allows it),
    # 50 shares. Stop 5% below the fill: 100.1 x 0.95 = 95.095. Bar 2 opens at 90, below the stop:
    # it fills at the open, slipped down: 90 x 0.999 = 89.91 (the low, 88, allows it).
    # cash: 10,000 - 50 x 100.1 + 50 x 89.91 = 10,000 - 5,005 + 4,495.5 = 9,490.5
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (90, 92, 88, 91), (92, 93, 91, 92))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)]}), bars, initial_capital=D(10000),
                     slippage_bps=10.0)
    assert _fills(run) == [(1, D(50), D("100.1"), "market"), (2, D(-50), D("89.91"), "stop_loss")]
    assert _decisions(run) == [(0, 1, D(50), D(50), "accepted", "market", None),
                               (2, 2, D(-50), D(-50), "triggered", "stop_loss", D("95.095"))]
    # equity: 10,000; bar 1: 4,995 cash + 50 x 100 = 9,995; then 9,490.5 flat
    assert _equity(run) == [10000.0, 9995.0, 9490.5, 9490.5]


def test_a_stop_inside_the_bar_fills_at_its_price(run_engine, make_bars, script):
    # stop 95 (entry 100); bar 2 opens 97 above it and its low 94 reaches it: filled at 95.
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (97, 98, 94, 95), (95, 96, 94, 95))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)]}), bars, initial_capital=D(10000))
    assert _fills(run)[1:] == [(2, D(-50), D(95), "stop_loss")]
    assert _equity(run) == [10000.0, 10000.0, 9750.0, 9750.0]


def test_stop_and_take_profit_in_one_bar_is_a_stop_loss(run_engine, make_bars, script):
    # entry 100: stop 95, take-profit 110. Bar 2 reaches both (low 94, high 111): the stop is
    # tried first and fills at 95; the take-profit is cancelled with it (one cancels the other).
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (100, 111, 94, 105), (120, 130, 119, 125))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000))
    assert _fills(run) == [(1, D(50), D(100), "market"), (2, D(-50), D(95), "stop_loss")]
    assert _equity(run) == [10000.0, 10000.0, 9750.0, 9750.0]


def test_a_bar_opening_beyond_the_take_profit_that_reaches_the_stop_is_a_stop_loss(run_engine, make_bars, script):
    # the conservative assumption: bar 2 opens at 112 (beyond the take-profit 110) but its low
    # 94 reaches the stop 95, so the stop fills at 95
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (112, 113, 94, 100))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000))
    assert _fills(run)[1:] == [(2, D(-50), D(95), "stop_loss")]


def test_take_profit_at_the_open_and_inside_the_bar_is_never_slipped(run_engine, make_bars, script):
    # slippage 10 bps: entry 100.1; take-profit 100.1 x 1.10 = 110.11, stop 95.095.
    # (a) bar 2 opens at 112 >= 110.11, low 111 > stop: filled at the open, 112, not slipped.
    #     cash 10,000 - 5,005 + 5,600 = 10,595
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (112, 115, 111, 113))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000), slippage_bps=10.0)
    assert _fills(run)[1:] == [(2, D(-50), D(112), "take_profit")]
    assert _decisions(run)[1][4:] == ("triggered", "take_profit", D("110.11"))
    assert _equity(run)[-1] == 10595.0
    # (b) bar 2 opens at 105, its high 111 reaches 110.11: filled at 110.11, not slipped
    #     cash 10,000 - 5,005 + 5,505.5 = 10,500.5
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (105, 111, 104, 108))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000), slippage_bps=10.0)
    assert _fills(run)[1:] == [(2, D(-50), D("110.11"), "take_profit")]
    assert _equity(run)[-1] == 10500.5


def test_a_trailing_stop_ratchets_on_closes_and_never_falls(run_engine, make_bars, script):
    # trail 10%, entry at 100 on bar 1: the stop starts at 90. It is live from bar 2, so bar 1's
    # low of 89 does not fill it. After bar 1's close 105: 94.5; bar 2 (low 104) closes 110: 99;
    # bar 3 (low 100 > 99) closes 101: 90.9 < 99, it stays 99; bar 4 opens 100 > 99, low 97
    # reaches 99: filled at 99. cash 10,000 - 5,000 + 4,950 = 9,950
    bars = _bars(make_bars, FLAT, (100, 106, 89, 105), (106, 112, 104, 110), (108, 109, 100, 101),
                 (100, 101, 97, 98), (98, 99, 97, 98))
    run = run_engine(script({0: [Signal.buy("A", 0.5, trail=0.10)]}), bars, initial_capital=D(10000))
    assert _fills(run) == [(1, D(50), D(100), "market"), (4, D(-50), D(99), "trailing_stop")]
    assert _decisions(run)[1][4:] == ("triggered", "trailing_stop", D(99))
    # equity: 5,000 cash + 50 x close: 10,250; 10,500; 10,050; then 9,950
    assert _equity(run) == [10000.0, 10250.0, 10500.0, 10050.0, 9950.0, 9950.0]


def test_a_short_stop_and_take_profit_are_mirrored(run_engine, make_bars, script):
    # short 50 at 100 (bar 1): stop 105 above, take-profit 90 below. Bar 2's high 106 reaches
    # the stop: bought back at 105. cash 10,000 + 5,000 - 5,250 = 9,750
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (100, 106, 99, 104), (104, 105, 80, 85))
    run = run_engine(script({0: [Signal.sell("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000), allow_short=True)
    assert _fills(run) == [(1, D(-50), D(100), "market"), (2, D(50), D(105), "stop_loss")]
    assert _equity(run)[-1] == 9750.0
    # a short's take-profit: bar 2 opens at 95 and its low 89 reaches 90: bought back at 90,
    # cash 10,000 + 5,000 - 4,500 = 10,500
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (95, 96, 89, 91))
    run = run_engine(script({0: [Signal.sell("A", 0.5, stop_loss=0.05, take_profit=0.10)]}), bars,
                     initial_capital=D(10000), allow_short=True)
    assert _fills(run)[1:] == [(2, D(50), D(90), "take_profit")]
    assert _equity(run)[-1] == 10500.0


def test_absolute_prices(run_engine, make_bars, script):
    # stop_loss_price 96.5, take_profit_price 103.25: bar 2's high 104 reaches the take-profit
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (101, 104, 100, 103))
    signal = Signal.buy("A", 0.5, stop_loss_price=D("96.5"), take_profit_price=103.25)
    run = run_engine(script({0: [signal]}), bars, initial_capital=D(10000))
    assert _fills(run)[1:] == [(2, D(-50), D("103.25"), "take_profit")]


def test_a_limit_entry_never_reached_expires(run_engine, make_bars, script):
    # limit 95, expires after 2 bars: bars 1 and 2 never go down to 95 (lows 96, 95.5); it
    # expires at bar 2, and bar 3's open of 94 does not fill it
    bars = _bars(make_bars, FLAT, (99, 101, 96, 98), (98, 99, 95.5, 97), (94, 95, 93, 94))
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=95, expires=2)]}), bars, initial_capital=D(10000))
    assert _fills(run) == []
    assert _decisions(run) == [(0, 2, D(50), D(0), "expired", "limit", None)]
    assert run.rows("SELECT reason FROM decisions WHERE run_id = ?", [run.run_id]) == [
        ("price not reached by bar 2",)]
    # good until filled: the open of bar 3, 94 <= 95, fills it at the open (50 shares sized at
    # the signal's close of 100): cash 10,000 - 4,700 = 5,300, equity at bar 3 5,300 + 4,700
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=95)]}), bars, initial_capital=D(10000))
    assert _fills(run) == [(3, D(50), D(94), "limit")]
    assert _decisions(run) == [(0, 3, D(50), D(50), "accepted", "limit", None)]


def test_a_limit_entry_fills_at_its_price_when_the_low_reaches_it_never_slipped(run_engine, make_bars, script):
    # limit 96: bar 1 opens at 99 and its low touches 96 (equality reaches): filled at 96 even with
    # slippage. cash 10,000 - 4,800 = 5,200; equity at bar 1: 5,200 + 50 x 98 = 10,100
    bars = _bars(make_bars, FLAT, (99, 101, 96, 98))
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=96)]}), bars, initial_capital=D(10000),
                     slippage_bps=10.0)
    assert _fills(run) == [(1, D(50), D(96), "limit")]
    assert _equity(run) == [10000.0, 10100.0]


def test_a_stop_entry_triggered_at_the_open_and_inside_the_bar(run_engine, make_bars, script):
    # stop 102, slippage 10 bps. Bar 1's high 101.5 does not reach it. Bar 2 opens at 103 >= 102:
    # filled at the open slipped, 103 x 1.001 = 103.103 (high 104 allows it).
    bars = _bars(make_bars, FLAT, (101, 101.5, 100, 101), (103, 104, 102.5, 103.5))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop=102)]}), bars, initial_capital=D(10000),
                     slippage_bps=10.0)
    assert _fills(run) == [(2, D(50), D("103.103"), "stop")]
    # bar 2 opens at 101 and its high 104 reaches 102: filled at 102 x 1.001 = 102.102
    bars = _bars(make_bars, FLAT, (101, 101.5, 100, 101), (101, 104, 100.5, 103.5))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop=102)]}), bars, initial_capital=D(10000),
                     slippage_bps=10.0)
    assert _fills(run) == [(2, D(50), D("102.102"), "stop")]


def test_the_capital_rule_applies_when_an_entry_fills(run_engine, make_bars, script):
    # weight 1 at a close of 100: 100 shares. The stop entry fills at the open of 103: 10,300
    # needed, 10,000 available: clipped to floor(10,000 / 103) = 97 shares (9,991)
    bars = _bars(make_bars, FLAT, (103, 104, 102, 103))
    run = run_engine(script({0: [Signal.buy("A", 1.0, stop=102)]}), bars, initial_capital=D(10000))
    assert _fills(run) == [(1, D(97), D(103), "stop")]
    assert _decisions(run) == [(0, 1, D(100), D(97), "clipped", "stop", None)]
    run = run_engine(script({0: [Signal.buy("A", 1.0, stop=102)]}), bars, initial_capital=D(10000),
                     on_insufficient_capital="reject")
    assert _decisions(run) == [(0, 1, D(100), D(0), "rejected", "stop", None)]


def test_protective_orders_attach_to_a_conditional_entry(run_engine, make_bars, script):
    # limit 98 filled at bar 1 at 98 (low 97); stop 5% below: 93.1; bar 2's low 93 reaches it
    bars = _bars(make_bars, FLAT, (99, 100, 97, 99), (96, 97, 93, 94))
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=98, stop_loss=0.05)]}), bars, initial_capital=D(10000))
    assert _fills(run) == [(1, D(50), D(98), "limit"), (2, D(-50), D("93.1"), "stop_loss")]


def test_a_market_exit_at_the_same_open_wins_and_cancels_them(run_engine, make_bars, script):
    # stop 95 from bar 1's entry; the strategy exits at bar 1; bar 2 opens at 90, beyond the
    # stop: the market exit fills at the open and the stop is cancelled (no triggered order)
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (90, 92, 88, 91), (91, 92, 80, 85))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)], 1: [Signal.exit("A")]}), bars,
                     initial_capital=D(10000))
    assert _fills(run) == [(1, D(50), D(100), "market"), (2, D(-50), D(90), "market")]
    assert [d[4] for d in _decisions(run)] == ["accepted", "accepted"]


def test_they_are_cancelled_when_the_position_closes_otherwise(run_engine, make_bars, script):
    # the exit at bar 1 fills at bar 2's open (100, above the stop); a buy without options at
    # bar 2 enters at bar 3 (100); bar 4's low of 80 fills nothing: the stop went with the
    # position it protected
    bars = _bars(make_bars, FLAT, FLAT, FLAT, FLAT, (90, 91, 80, 85))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)], 1: [Signal.exit("A")],
                             2: [Signal.buy("A", 0.5)]}), bars, initial_capital=D(10000))
    assert _fills(run) == [(1, D(50), D(100), "market"), (2, D(-50), D(100), "market"),
                           (3, D(50), D(100), "market")]


def test_a_signal_without_options_keeps_them_and_one_with_options_replaces_them(run_engine, make_bars, script):
    bars = _bars(make_bars, FLAT, FLAT, (99, 100, 96, 99), (94, 95, 93, 94), (90, 91, 79, 80))
    # the same target again without options (no order): the stop at 95 stays; bar 3 opens at 94
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)], 1: [Signal.buy("A", 0.5)]}), bars,
                     initial_capital=D(10000))
    assert _fills(run)[1:] == [(3, D(-50), D(94), "stop_loss")]
    # with options: replaced by a 20% stop of the position's price, 100: 80; bar 4's low 79
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)], 1: [Signal.buy("A", 0.5, stop_loss=0.2)]}),
                     bars, initial_capital=D(10000))
    assert _fills(run)[1:] == [(4, D(-50), D(80), "stop_loss")]


def test_they_follow_the_position_after_a_partial_sale(run_engine, make_bars, script):
    # 100 shares at 100 with a stop at 95; at bar 1 the target halves (weight 0.5 of 10,000 at
    # 100 = 50): 50 sold at bar 2's open; bar 3 opens at 94: the stop sells the 50 left at 94
    bars = _bars(make_bars, FLAT, FLAT, FLAT, (94, 95, 93, 94))
    run = run_engine(script({0: [Signal.buy("A", 1.0, stop_loss=0.05)], 1: [Signal.buy("A", 0.5)]}), bars,
                     initial_capital=D(10000))
    assert _fills(run) == [(1, D(100), D(100), "market"), (2, D(-50), D(100), "market"),
                           (3, D(-50), D(94), "stop_loss")]
    # cash 10,000 - 10,000 + 5,000 + 4,700 = 9,700
    assert _equity(run)[-1] == 9700.0


def test_close_mode(run_engine, make_bars, script):
    # fill = "close": the entry fills at its own bar's close (100); the stop at 95 is live from
    # bar 1, whose low 94 reaches it
    bars = _bars(make_bars, FLAT, (99, 100, 94, 96), (96, 97, 95, 96))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05)]}), bars, initial_capital=D(10000),
                     fill="close")
    assert _fills(run) == [(0, D(50), D(100), "market"), (1, D(-50), D(95), "stop_loss")]
    # a limit entry at 101 fills on its own bar at the close (100 <= 101); one at 99 does not,
    # and fills at bar 1 inside the bar at 99 (bar 1 opens at 99: at the open, 99)
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=101)]}), bars, initial_capital=D(10000), fill="close")
    assert _fills(run) == [(0, D(50), D(100), "limit")]
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=99)]}), bars, initial_capital=D(10000), fill="close")
    assert _fills(run) == [(1, D(50), D(99), "limit")]


def test_an_unfilled_entry_at_the_end_of_the_run_expires(run_engine, make_bars, script):
    bars = _bars(make_bars, FLAT, FLAT)
    run = run_engine(script({0: [Signal.buy("A", 0.5, limit=50)]}), bars, initial_capital=D(10000))
    assert _decisions(run) == [(0, None, D(50), D(0), "expired", "limit", None)]
    assert run.rows("SELECT reason FROM decisions WHERE run_id = ?", [run.run_id]) == [
        ("price not reached by the end of the run",)]


def test_sleeves_triggered_orders_fill_independently(run_orchestrator, make_bars, script):
    # two sleeves of 5,000 each buy 25 shares at bar 0's close of 100 (weight 0.5 of 5,000):
    # netted at bar 1's open (one conflict). Stops: a 5% (95), b 10% (90). Bar 2 opens at 93 and
    # its low is 89: a's stop fills at the open, 93 (a gap through 95), b's at its price, 90.
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (93, 94, 89, 90))
    a = script({0: [Signal.buy("A", 0.5, stop_loss=0.05)]}, name="a")
    b = script({0: [Signal.buy("A", 0.5, stop_loss=0.10)]}, name="b")
    run = run_orchestrator([(a, D("0.5")), (b, D("0.5"))], bars, initial_capital=D(10000))
    assert run.rows("SELECT strategy_id, bar_index, quantity, price, order_type FROM fills WHERE run_id = ? "
                    "ORDER BY fill_id", [run.run_id]) == [
        ("a", 1, D(25), D(100), "market"), ("b", 1, D(25), D(100), "market"),
        ("a", 2, D(-25), D(93), "stop_loss"), ("b", 2, D(-25), D(90), "stop_loss")]
    assert run.rows("SELECT bar_index FROM conflicts WHERE run_id = ?", [run.run_id]) == [(1,)]
    # portfolio: 10,000 - 2 x 2,500 + 25 x 93 + 25 x 90 = 9,575
    assert float(run.result.final_equity) == 9575.0


def test_a_limit_entry_does_not_net_with_another_sleeves_market_order(run_orchestrator, make_bars, script):
    # a buys at market, b sells... b holds nothing, so b's limit buy at 99.5 and a's market buy
    # both fill at bar 1 at their own prices: a at the open, 100; b at its limit (low 99); no conflict
    bars = _bars(make_bars, FLAT, (100, 101, 99, 100))
    a = script({0: [Signal.buy("A", 0.5)]}, name="a")
    b = script({0: [Signal.buy("A", 0.5, limit=99.5)]}, name="b")
    run = run_orchestrator([(a, D("0.5")), (b, D("0.5"))], bars, initial_capital=D(10000))
    assert run.rows("SELECT strategy_id, price, order_type FROM fills WHERE run_id = ? ORDER BY fill_id",
                    [run.run_id]) == [("a", D(100), "market"), ("b", D("99.5"), "limit")]
    assert run.rows("SELECT count(*) FROM conflicts WHERE run_id = ?", [run.run_id]) == [(0,)]


def test_the_signal_events_carry_the_attached_orders(run_engine, make_bars, script):
    bars = _bars(make_bars, FLAT, FLAT)
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop_loss=0.05, take_profit_price=D("120.5"))],
                             1: [Signal.exit("A")]}), bars, initial_capital=D(10000))
    signals = [e for e in run.events() if e["event"].endswith("strategy_signal")]
    assert signals[0]["orders"] == {"stop_loss": 0.05, "take_profit_price": 120.5}
    assert "orders" not in signals[1]
    assert run.rows("SELECT orders FROM signals WHERE run_id = ? ORDER BY seq", [run.run_id]) == [
        ('{"stop_loss":0.05,"take_profit_price":120.5}',), (None,)]
    assert [line for line in run.jsonl() if '"orders":' in line][0].endswith(
        '"orders":{"stop_loss":0.05,"take_profit_price":120.5}}')


def test_a_rule_with_a_stop_loss_and_a_take_profit(run_engine, make_bars):
    # a rule entering wherever the close is above 0 (every bar of A): enters at bar 1's open at
    # 100 (weight "equal" of one symbol: 1 -> 100 shares at the close of 100), stop 95, target 110;
    # bar 2's high 111 takes the profit at 110: cash 11,000; the rule enters again at bar 2's close
    # (111 shares? 11,000 / 108 = 101.85 -> 101) at bar 3's open, 108.
    from sqlorch.features import field

    bars = _bars(make_bars, FLAT, (100, 101, 99, 100), (105, 111, 104, 108), (108, 109, 107, 108))
    rule = Rule(entry=field("close") > 0, stop_loss=0.05, take_profit=0.10, name="r")
    run = run_engine(rule, bars, initial_capital=D(10000))
    assert _fills(run) == [(1, D(100), D(100), "market"), (2, D(-100), D(110), "take_profit"),
                           (3, D(101), D(108), "market")]
    events = [e for e in run.events() if e["event"].endswith("strategy_signal")]
    assert [e["orders"] for e in events] == [{"stop_loss": 0.05, "take_profit": 0.1}] * 2


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"stop_loss": 0.05, "trail": 0.1}, "one stop per position, not stop_loss and trail"),
    ({"stop_loss": 0.05, "stop_loss_price": 90}, "not stop_loss and stop_loss_price"),
    ({"take_profit": 0.1, "take_profit_price": 110}, "take_profit or take_profit_price"),
    ({"stop_loss": -0.05}, "stop_loss must be a finite number > 0"),
    ({"trail": float("nan")}, "trail must be a finite number > 0"),
    ({"take_profit_price": float("inf")}, "take_profit_price must be a finite number > 0"),
    ({"limit": 0}, "limit must be a finite number > 0"),
    ({"limit": 0.0000004}, "limit must be from 0.000001 to 1000000000"),
    ({"stop_loss_price": 2e9}, "stop_loss_price must be from 0.000001 to 1000000000"),
    ({"stop_loss": 1.0}, "fraction of the entry price below 1"),
    ({"limit": 10, "stop": 11}, "limit or stop"),
    ({"limit": 10, "expires": 0}, "expires must be a whole number of bars >= 1"),
    ({"limit": 10, "expires": 1.5}, "expires must be a whole number of bars >= 1"),
    ({"limit": 10, "expires": True}, "expires must be a whole number of bars >= 1"),
    ({"expires": 3}, "expires applies to limit and stop entries"),
    ({"stoploss": 0.05}, "did you mean 'stop_loss'"),
    ({"stop_loss": "5%"}, "stop_loss must be a finite number > 0"),
])
def test_invalid_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Signal.buy("A", 0.5, **options)


def test_an_exit_takes_no_options():
    with pytest.raises(ValueError, match="Signal.exit takes no order options"):
        Signal.exit("A", stop_loss=0.05)


def test_an_invalid_option_in_a_strategy_fails_the_run_naming_it_and_the_bar(run_engine, make_bars, script):
    bars = _bars(make_bars, FLAT, FLAT, FLAT)
    with pytest.raises(StrategyError, match=r"strategy .script. failed at bar 2024-01-02.*one stop per position"):
        run_engine(script({1: lambda ctx: [Signal.buy("A", 0.5, stop_loss=0.05, trail=0.1)]}), bars)


def test_rule_options_are_checked():
    from sqlorch.features import field

    with pytest.raises(ConfigError, match="a Rule takes the order options stop_loss, take_profit, trail"):
        Rule(entry=field("close") > 0, limit=10)
    with pytest.raises(ConfigError, match="one stop per position"):
        Rule(entry=field("close") > 0, stop_loss=0.05, trail=0.1)
    with pytest.raises(ConfigError, match="unknown order option 'stoploss'"):
        Rule(entry=field("close") > 0, stoploss=0.05)
    assert Rule(entry=field("close") > 0, stop_loss=0.05).orders.stop_loss == 0.05


def test_a_partial_market_sale_at_the_open_goes_first(run_engine, make_bars, script):
    # 100 shares at 100, stop 95; the target halves at bar 1, so 50 are sold at bar 2's open.
    # (a) bar 2 opens at 97, above the stop, and its low 94 reaches it: the market sale fills
    # at 97, then the stop sells the 50 left at 95. cash 10,000 - 10,000 + 4,850 + 4,750 = 9,600
    plan = {0: [Signal.buy("A", 1.0, stop_loss=0.05)], 1: [Signal.buy("A", 0.5)]}
    bars = _bars(make_bars, FLAT, FLAT, (97, 98, 94, 96), (96, 96, 80, 85))
    run = run_engine(script(plan), bars, initial_capital=D(10000))
    assert _fills(run)[1:] == [(2, D(-50), D(97), "market"), (2, D(-50), D(95), "stop_loss")]
    assert _equity(run)[-1] == 9600.0
    # (b) bar 2 opens at 94, beyond the stop: the market sale fills at the open and the stop is
    # cancelled; the 50 left are unprotected (bar 3's low of 80 sells nothing). Equity at the
    # end: cash 10,000 - 10,000 + 4,700 = 4,700, plus 50 x 85 = 8,950
    bars = _bars(make_bars, FLAT, FLAT, (94, 96, 93, 95), (96, 96, 80, 85))
    run = run_engine(script(plan), bars, initial_capital=D(10000))
    assert _fills(run)[1:] == [(2, D(-50), D(94), "market")]
    assert _equity(run)[-1] == 8950.0


def test_a_short_trailing_stop_falls_with_the_closes(run_engine, make_bars, script):
    # short 50 at 100 (bar 1) with trail 10%: the stop starts at 110; bar 1 closes 95: 104.5;
    # bar 2 (high 99 < 104.5) closes 90: 99; bar 3 opens 95 below it and its high 100 reaches 99:
    # bought back at 99. cash 10,000 + 5,000 - 4,950 = 10,050
    bars = _bars(make_bars, FLAT, (100, 101, 94, 95), (96, 99, 90, 90), (95, 100, 94, 97))
    run = run_engine(script({0: [Signal.sell("A", 0.5, trail=0.10)]}), bars, initial_capital=D(10000),
                     allow_short=True)
    assert _fills(run) == [(1, D(-50), D(100), "market"), (3, D(50), D(99), "trailing_stop")]
    assert _equity(run)[-1] == 10050.0


def test_a_stop_entry_expires_in_close_mode(run_engine, make_bars, script):
    # close mode: a stop buy at 105 may fill at the close of bar 0 (100: no) or inside bars 1..2
    # (highs 104, 104.5: no); it expires at bar 2, and bar 3's open of 106 fills nothing
    bars = _bars(make_bars, FLAT, (101, 104, 100, 103), (103, 104.5, 102, 104), (106, 107, 105, 106))
    run = run_engine(script({0: [Signal.buy("A", 0.5, stop=105, expires=2)]}), bars, initial_capital=D(10000),
                     fill="close")
    assert _decisions(run) == [(0, 2, D(50), D(0), "expired", "stop", None)]


def test_a_rule_with_options_decides_in_compiled_code_as_in_python():
    # the same rule, once compiled and once with its on_bar run in Python (a subclass overriding
    # it), on synthetic bars with costs: the same fills, order types included
    from sqlorch import BacktestConfig, BacktestEngine
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.features import sma

    class InPython(Rule):
        def on_bar(self, ctx):
            return Rule.on_bar(self, ctx)

    bars = synthetic_bars(symbols=3, years=2, seed=4)
    config = BacktestConfig(warehouse=None, log_dir=None, commission_bps=3.0, slippage_bps=5.0)
    for options in ({"stop_loss": 0.03, "take_profit": 0.06}, {"trail": 0.04}):
        runs = [BacktestEngine(cls(sma(5) > sma(20), sma(5) < sma(20), name="r", **options), config).run(bars)
                for cls in (Rule, InPython)]
        compiled, python = (r.fills.drop("order_id") for r in runs)
        assert compiled.equals(python)
        assert set(compiled["order_type"]) > {"market"}
