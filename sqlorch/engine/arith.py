"""Exact integer money arithmetic for the compiled engine (SPEC §3), in 64-bit integers.

Prices, cash, commissions and cost basis are micro units (1e-6), quantities micro-shares. A
fill's notional is quantity x price / 1e6 rounded half to even to a micro unit, a commission
the rate of the exact notional rounded half to even. A product of two 64-bit amounts can need
128 bits (a fill above $4.6M does): `product_divmod` then multiplies into two unsigned 64-bit
halves and divides those exactly, still in compiled code. Results are exact whenever they fit
in 64 bits, which SPEC §3's bounds guarantee; one that would not raises OverflowError.
"""

from __future__ import annotations

import numpy as np
from numba import njit, objmode

MICRO = 1_000_000
SAFE = 2**62  # products below this fit int64 with room for a sum
_LOW = np.uint64(0xFFFFFFFF)
_HALF = np.uint64(32)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_TOP = np.uint64(2**63)


@njit(cache=True)
def round_quotient(quotient: int, remainder: int, divisor: int) -> int:
    """quotient + remainder / divisor (0 <= remainder < divisor) rounded to an integer, ties
    to even."""
    if remainder > divisor - remainder or (remainder == divisor - remainder and quotient % 2 != 0):
        return quotient + 1
    return quotient


@njit(cache=True)
def wide_product(a: int, b: int):
    """a x b (both >= 0) as its high and low unsigned 64-bit halves."""
    x, y = np.uint64(a), np.uint64(b)
    x0, x1, y0, y1 = x & _LOW, x >> _HALF, y & _LOW, y >> _HALF
    p00, p01, p10, p11 = x0 * y0, x0 * y1, x1 * y0, x1 * y1
    middle = (p00 >> _HALF) + (p01 & _LOW) + (p10 & _LOW)
    return p11 + (p01 >> _HALF) + (p10 >> _HALF) + (middle >> _HALF), (middle << _HALF) | (p00 & _LOW)


@njit(cache=True)
def product_divmod(a: int, b: int, divisor: int):
    """(a x b) // divisor and its remainder, exactly (a, b >= 0, divisor > 0); OverflowError if
    the quotient does not fit in 64 bits."""
    if float(a) * float(b) < SAFE:
        product = a * b
        return product // divisor, product % divisor
    high, low = wide_product(a, b)
    d = np.uint64(divisor)
    # the quotient fits in 63 bits when the product is below d x 2^63 = (d >> 1) x 2^64 + (d & 1) x 2^63
    half = d >> _ONE
    if high > half or (high == half and ((d & _ONE) == _ZERO or low >= _TOP)):
        raise OverflowError("an amount beyond the engine's 64-bit micro units (SPEC §3 bounds)")
    remainder, quotient = high, np.uint64(0)
    for bit in range(63, -1, -1):  # long division, one bit at a time: remainder < d < 2^63
        shift = np.uint64(bit)
        remainder = (remainder << _ONE) | ((low >> shift) & _ONE)
        if remainder >= d:
            remainder -= d
            quotient |= _ONE << shift
    return np.int64(quotient), np.int64(remainder)


@njit(cache=True)
def notional(quantity: int, price: int) -> int:
    """|quantity| x price / 1e6, rounded half to even: a fill's notional in micro units."""
    quotient, remainder = product_divmod(abs(quantity), price, MICRO)
    return round_quotient(quotient, remainder, MICRO)


def _exact_commission(quantity: int, price: int, numerator: int, denominator: int) -> int:
    product, divisor = int(quantity) * int(price) * int(numerator), int(denominator) * MICRO
    quotient, remainder = divmod(product, divisor)
    return quotient + (remainder * 2 > divisor or (remainder * 2 == divisor and quotient % 2))


@njit(cache=True)
def commission(quantity: int, price: int, numerator: int, denominator: int, fee: int) -> int:
    """The rate numerator / denominator of the exact notional, rounded half to even, plus `fee`
    (micro units)."""
    if numerator == 0:
        return fee
    if float(denominator + numerator) * MICRO >= SAFE or float(abs(quantity)) * float(price) >= SAFE * 1e6:
        # a rate in absurdly fine fractions, or the net of sleeves together beyond what one may
        # hold: Python's integers
        with objmode(out="int64"):
            out = _exact_commission(abs(quantity), price, numerator, denominator)
        return out + fee
    # quantity x price = whole x 1e6 + part; the rate of it = whole x rate + part x rate / 1e6
    whole, part = product_divmod(abs(quantity), price, MICRO)
    quotient, remainder = product_divmod(whole, numerator, denominator)
    # the rest: remainder / denominator + part x numerator / (denominator x 1e6)
    rest = remainder * MICRO + part * numerator
    divisor = denominator * MICRO
    return round_quotient(quotient + rest // divisor, rest % divisor, divisor) + fee


@njit(cache=True)
def scaled(value: int, numerator: int, denominator: int) -> int:
    """value x numerator / denominator rounded half to even (numerator >= 0, denominator > 0)."""
    quotient, remainder = product_divmod(abs(value), numerator, denominator)
    rounded = round_quotient(quotient, remainder, denominator)
    return -rounded if value < 0 else rounded


@njit(cache=True)
def floor_share(total: int, part: int, whole: int) -> int:
    """floor(total x part / whole) (whole > 0, all non-negative)."""
    return product_divmod(total, part, whole)[0]
