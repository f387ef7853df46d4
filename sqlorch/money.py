"""Exact money arithmetic and the one tolerance for comparing floats.

Cash, fill prices and commissions are `Decimal` with 6 decimal places (DECIMAL(18,6) in
the warehouse). Prices arrive as floats already rounded to 6 decimals, so `to_money`
recovers their exact decimal value.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

PLACES = Decimal("0.000001")
ZERO = Decimal(0)
FLOAT_TOLERANCE = 1e-9
"""Relative tolerance for every float comparison (returns, ratios, float-side equity)."""


def money(value: Decimal) -> Decimal:
    """Round an amount to 6 decimal places, half to even."""
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN)


def to_money(value: float) -> Decimal:
    """The exact 6-place Decimal of a float price or amount."""
    return money(Decimal(repr(float(value))))


def floor_places(value: Decimal) -> Decimal:
    """Round down to 6 decimal places (fractional quantities)."""
    return value.quantize(PLACES, rounding=ROUND_FLOOR)


def isclose(a: float, b: float) -> bool:
    """Float equality within `FLOAT_TOLERANCE` (relative, with the same absolute floor)."""
    return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
