"""Order options (SPEC §8) as the compiled engine takes them: one int64 row per signal that has
some (`option_row`, columns `sqlorch.engine.layout.OP_*`), and as its signal event shows them
(`options_json`). Fractions travel as exact ratios (0.05 is 1/20, as written), prices in micro
units rounded half to even."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from sqlorch.engine import layout as L
from sqlorch.engine.domain import Orders, Side
from sqlorch.engine.events import encode
from sqlorch.money import MICRO, ratio_of

_TYPES = {"market": L.OT_MARKET, "limit": L.OT_LIMIT, "stop": L.OT_STOP}


def price_micro(price: Decimal) -> int:
    """A price in micro units, rounded half to even."""
    return int((price * MICRO).to_integral_value(ROUND_HALF_EVEN))


def option_row(orders: Orders, side: Side) -> np.ndarray:
    """The engine's row of `orders` for a `side` signal (OP_SIGNAL left 0: the caller sets it)."""
    row = np.zeros(L.OP_COLUMNS, dtype=np.int64)
    row[L.OP_TYPE] = _TYPES[orders.order_type.value]
    entry = orders.limit if orders.limit is not None else orders.stop
    row[L.OP_PRICE] = price_micro(entry) if entry is not None else 0
    row[L.OP_EXPIRES] = orders.expires or 0
    if orders.protective:
        row[L.OP_PROTECT] = 1
        spec = row[L.OP_SPEC:]
        spec[L.SP_SIDE] = -1 if side == Side.SELL else 1
        for fraction, num, den in ((orders.stop_loss, L.SP_STOP_NUM, L.SP_STOP_DEN),
                                   (orders.take_profit, L.SP_TAKE_NUM, L.SP_TAKE_DEN),
                                   (orders.trail, L.SP_TRAIL_NUM, L.SP_TRAIL_DEN)):
            if fraction is not None:
                spec[num], spec[den] = ratio_of(fraction)
        for price, column in ((orders.stop_loss_price, L.SP_STOP_PRICE), (orders.take_profit_price, L.SP_TAKE_PRICE)):
            if price is not None:
                spec[column] = price_micro(price)
    return row


def options_json(orders: Orders) -> str:
    """The options as the signal event's `orders` object: {"stop_loss":0.05,...}."""
    return encode(orders.as_dict())
