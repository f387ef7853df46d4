"""Exact money in integers, and the one tolerance for comparing floats.

Inside the stepper every amount is an integer count of small units, so sums and products
are exact and fast:
- prices, commissions and fees in micro units (1e-6);
- quantities in micro-shares (1e-6 of a share; whole lots are multiples of 1e6);
- cash, notional, cost basis and P&L in pico units (1e-12: a micro-share times a micro-unit).
Decimals appear at the API edge (`from_micro`, `from_pico`) and DECIMAL in the warehouse
(DECIMAL(18, 6) for micro amounts, DECIMAL(38, 12) for pico amounts).
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

import numpy as np

MICRO = 10**6
PICO = MICRO * MICRO
FLOAT_TOLERANCE = 1e-9
"""Relative tolerance for every float comparison (returns, ratios, float-side equity)."""

# The bounds of SPEC §3: inputs beyond them are rejected before the first bar, so that every
# amount the engine computes fits its integers and the warehouse's DECIMAL columns.
MIN_PRICE = 0.000001
MAX_PRICE = 1e9
MIN_CAPITAL = 1
MAX_CAPITAL = 10**12
MAX_COMMISSION_BPS = 1000.0
MAX_COMMISSION_PER_ORDER = 10**9
MAX_LOT_SIZE = 10**9
MAX_SLEEVE_EQUITY = 9 * 10**12
"""A sleeve whose equity (or cash) passes this ends the run as failed, never overflowing."""
MAX_QUANTITY = 5 * 10**11 - 1
"""The largest position in shares: a target beyond it is clipped to it. DECIMAL(18, 6) holds it and
an order from a short of that size to a long of that size, and so do 64-bit micro-shares."""
PRICE_ROUNDING_TOLERANCE = 1e-4
"""Rounding a price to 6 decimals may change it by at most this fraction (0.01%) unless
`round_prices` is set: float noise is rounded silently, real sub-micro prices are an error."""


def round_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, ties to even."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def round_half_even_array(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """`round_half_even` of every element of an integer array (int64 or Python ints)."""
    quotient = numerator // denominator
    twice = 2 * (numerator - quotient * denominator)
    return quotient + ((twice > denominator) | ((twice == denominator) & (quotient % 2 == 1)))


def to_micro(value: float) -> int:
    """A price (a float already rounded to 6 places) in micro units, exactly."""
    return round(value * MICRO)


def micro_of(amount: Decimal) -> int:
    """A Decimal amount in micro units, rounded down (never more money than was given)."""
    return int((amount * MICRO).to_integral_value(ROUND_FLOOR))


def from_micro(units: int) -> Decimal:
    """Micro units as a Decimal amount."""
    return Decimal(units).scaleb(-6)


def from_pico(units: int) -> Decimal:
    """Pico units as a Decimal amount."""
    return Decimal(units).scaleb(-12)


def ratio_of(value: float | Decimal) -> tuple[int, int]:
    """An exact (numerator, denominator) for a float or Decimal as written (0.1 -> 1/10)."""
    return Decimal(repr(value) if isinstance(value, float) else value).as_integer_ratio()


def isclose(a: float, b: float) -> bool:
    """Float equality within `FLOAT_TOLERANCE` (relative, with the same absolute floor)."""
    return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
