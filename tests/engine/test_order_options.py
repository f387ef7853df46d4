"""Order options as the engine takes them (sqlorch.engine.orders): fractions as exact ratios of
what was written, prices in micro units rounded half to even, the signal event's JSON."""

from __future__ import annotations

from decimal import Decimal

from sqlorch.engine import layout as L
from sqlorch.engine.domain import Orders, OrderType, Side
from sqlorch.engine.orders import option_row, options_json, price_micro


def test_fractions_are_exact_ratios_and_prices_micro_units():
    orders = Orders.of(Side.BUY, stop_loss=0.05, take_profit_price=Decimal("110.1234565"), limit=99.5, expires=3)
    row = option_row(orders, Side.BUY)
    spec = row[L.OP_SPEC:]
    assert (row[L.OP_TYPE], row[L.OP_PRICE], row[L.OP_EXPIRES], row[L.OP_PROTECT]) == (L.OT_LIMIT, 99_500_000, 3, 1)
    assert (spec[L.SP_SIDE], spec[L.SP_STOP_NUM], spec[L.SP_STOP_DEN]) == (1, 1, 20)
    assert spec[L.SP_TAKE_PRICE] == 110_123_456  # 110.1234565 rounded half to even
    assert spec[L.SP_TRAIL_DEN] == 0 and spec[L.SP_TAKE_DEN] == 0 and spec[L.SP_STOP_PRICE] == 0


def test_a_short_and_a_trailing_stop():
    row = option_row(Orders.of(Side.SELL, trail=0.333, stop=12), Side.SELL)
    spec = row[L.OP_SPEC:]
    assert (row[L.OP_TYPE], row[L.OP_PRICE], row[L.OP_PROTECT]) == (L.OT_STOP, 12_000_000, 1)
    assert (spec[L.SP_SIDE], spec[L.SP_TRAIL_NUM], spec[L.SP_TRAIL_DEN]) == (-1, 333, 1000)


def test_entries_without_protection_and_the_json():
    orders = Orders.of(Side.BUY, stop=Decimal("20.5"))
    assert orders.order_type == OrderType.STOP and not orders.protective
    assert option_row(orders, Side.BUY)[L.OP_PROTECT] == 0
    assert options_json(Orders.of(Side.BUY, take_profit=0.1, stop_loss_price=95)) == (
        '{"stop_loss_price":95.0,"take_profit":0.1}')
    assert Orders.of(Side.BUY) is None and Orders.of(Side.BUY, stop_loss=None) is None


def test_price_rounding_is_half_to_even():
    assert [price_micro(Decimal(p)) for p in ("1.0000005", "1.0000015", "0.0000015")] == [1_000_000, 1_000_002, 2]
