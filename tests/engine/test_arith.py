"""The compiled engine's integer money arithmetic (sqlorch/engine/arith.py) against Python's
unbounded integers and exact fractions, over the whole range SPEC §3 allows: products far
beyond 64 bits included."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sqlorch.engine import arith

INT63 = 2**63 - 1
amounts = st.integers(0, 9 * 10**18)  # micro units and micro-shares within SPEC §3's bounds


exact_tests = settings(deadline=None)  # the first call compiles


def half_even(value: Fraction) -> int:
    return round(value)  # Python rounds fractions half to even


@exact_tests
@given(amounts, amounts, st.integers(1, INT63))
@example(113_603, 35_073_868_823_193_606, 433)  # the high half equals divisor // 2: fits (found by CI)
@example(2**62, 4, 2)  # 2^63: one past the largest quotient
@example(2**62 - 1, 4, 2)  # 2^63 - 2: fits
def test_product_divmod_is_exact(a, b, divisor) -> None:
    quotient, remainder = divmod(a * b, divisor)
    if quotient > INT63:
        with pytest.raises(OverflowError):
            arith.product_divmod(a, b, divisor)
    else:
        assert arith.product_divmod(a, b, divisor) == (quotient, remainder)


@exact_tests
@given(st.integers(-(10**17), 10**17), st.integers(1, 10**13))
def test_notional_rounds_half_even_to_a_micro_unit(quantity, price) -> None:
    exact = Fraction(abs(quantity) * price, 10**6)
    assume(exact < 2**62)
    assert arith.notional(quantity, price) == half_even(exact)


@exact_tests
@given(st.integers(-(10**15), 10**15), st.integers(1, 10**12), st.integers(0, 10**6),
       st.integers(1, 10**12) | st.sampled_from([10**16, 3 * 10**17]), st.integers(0, 10**9))
def test_commission_is_the_rate_of_the_exact_notional(quantity, price, numerator, denominator, fee) -> None:
    exact = Fraction(abs(quantity) * price * numerator, denominator * 10**6)
    assume(exact + fee < 2**62 and abs(quantity) * price < 2**62 * 10**6)  # the fill's notional fits too
    assert arith.commission(quantity, price, numerator, denominator, fee) == half_even(exact) + fee


def test_commission_ties_go_to_even() -> None:
    # 1 share at $1 is 1,000,000 micro; half a basis point of it is 50 micro; of 0.5 micro-share it is a tie
    assert arith.commission(10**6, 10**6, 1, 20_000, 0) == 50
    assert arith.commission(1, 10**6, 1, 2, 0) == 0  # 0.5 -> 0
    assert arith.commission(3, 10**6, 1, 2, 0) == 2  # 1.5 -> 2
    assert arith.notional(1, 500_000) == 0 and arith.notional(3, 500_000) == 2  # 0.5 -> 0, 1.5 -> 2


@exact_tests
@given(st.integers(-(10**18), 10**18), st.integers(0, 10**18), st.integers(1, 10**18))
def test_scaled_and_floor_share(value, numerator, denominator) -> None:
    exact = Fraction(value * numerator, denominator)
    assume(abs(exact) < 2**62)
    assert arith.scaled(value, numerator, denominator) == half_even(exact)
    if value >= 0:
        assert arith.floor_share(value, numerator, denominator) == value * numerator // denominator
