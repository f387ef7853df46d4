"""Trading costs (sqlorch/engine/costs.py, the compiled engine's commission and affordable
quantity) and sleeve accounting (the compiled engine's apply_fill over sqlorch/engine/sleeve.py's
view), by hand.

Both work in integer units (micro-shares and micro amounts; see sqlorch.engine.arith). The
expected values below are worked out in shares and dollars; `DecimalCosts` and
`DecimalSleeve` only translate units, so the numbers compared are the hand-worked ones.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlorch import BacktestConfig
from sqlorch.engine import arith, bridge, kernel
from sqlorch.engine import layout as L
from sqlorch.engine.costs import Costs
from sqlorch.engine.sleeve import SleeveView
from sqlorch.money import MICRO, PICO, from_micro


def units(amount, per_unit: int) -> int:
    scaled = D(amount) * per_unit
    assert scaled == scaled.to_integral_value(), amount
    return int(scaled)


def micro(amount) -> int:
    return units(amount, MICRO)


def pico(amount) -> int:
    return units(amount, PICO)


class DecimalCosts:
    """Costs in shares and dollars."""

    def __init__(self, inner: Costs):
        self.inner = inner
        self.lot = from_micro(inner.lot)

    def fill_price(self, base, buying, high, low):
        buy, sell = self.inner.fill_prices(*(np.array([micro(v)]) for v in (base, high, low)))
        return from_micro(int((buy if buying else sell)[0]))

    def commission(self, shares, price, charge_order_fee=True):
        numerator, denominator = self.inner.commission_rate
        return from_micro(arith.commission(micro(shares), micro(price), numerator, denominator,
                                           self.inner.fee if charge_order_fee else 0))

    def affordable(self, cash, price, charge_order_fee=True):
        numerator, denominator = self.inner.commission_rate
        return from_micro(kernel.affordable(micro(cash), micro(price), self.inner.fee if charge_order_fee else 0,
                                            numerator, denominator, self.inner.lot))


def costs(rate="0", fee="0", slippage="0", lot=1):
    return DecimalCosts(Costs(D(rate).as_integer_ratio(), micro(fee), D(slippage).as_integer_ratio(),
                              lot * MICRO if lot else 1))


class DecimalSleeve:
    """A sleeve of its own engine state in shares and dollars, booking fills with the engine."""

    def __init__(self, strategy_id, n_symbols, capital):
        self.state = np.zeros((1, L.SL_COLUMNS), dtype=np.int64)
        self.state[0, [L.SL_CASH, L.SL_ALLOCATED, L.SL_INITIAL]] = micro(capital)
        self.positions = np.zeros((1, n_symbols), dtype=np.int64)
        self.costs = np.zeros((1, n_symbols), dtype=np.int64)
        self.inner = SleeveView(strategy_id, self.state[0], self.positions[0])

    def __getattr__(self, name):
        value = getattr(self.inner, name)
        if name in ("cash", "allocated", "used", "available", "initial"):
            return from_micro(value)
        return value

    @property
    def qty(self):
        return {j: from_micro(int(q)) for j, q in enumerate(self.positions[0].tolist()) if q}

    @property
    def basis(self):
        return {j: from_micro(int(b)) for j, b in enumerate(self.costs[0].tolist()) if b}

    def equity(self, marks):
        return D(self.inner.equity(marks)) / PICO

    def apply_fill(self, j, shares, price, commission):
        return from_micro(kernel.apply_fill(self.state, self.positions, self.costs, 0, j, micro(shares), micro(price),
                                            micro(commission)))


Sleeve = DecimalSleeve


# ------------------------------------------------------------------------------ Costs


def test_from_config_converts_bps_to_fractions():
    c = Costs.from_config(BacktestConfig(commission_bps=2.5, commission_per_order="1.5", slippage_bps=10,
                                         lot_size=10, warehouse=None, log_dir=None))
    assert Fraction(*c.commission_rate) == Fraction("0.00025")
    assert c.fee == 1_500_000  # micro units
    assert Fraction(*c.slippage_rate) == Fraction("0.001")
    assert c.lot == 10 * MICRO
    # floats go through their repr: 0.1 bps is exactly 0.00001, not 1.0000000000000000555e-5
    rate = Costs.from_config(BacktestConfig(commission_bps=0.1, warehouse=None, log_dir=None)).commission_rate
    assert Fraction(*rate) == Fraction("0.00001")


def target(weight, cash, price, lot) -> D:
    """The compiled engine's target position for a buy signal of `weight` in a flat sleeve
    holding `cash`, at a close of `price`, in lots of `lot` shares (0: fractional)."""
    sleeves = np.zeros((1, L.SL_COLUMNS), dtype=np.int64)
    sleeves[0, L.SL_CASH] = micro(cash)
    positions = np.zeros((1, 1), dtype=np.int64)

    class Exactly:  # what a stepper answers when a target is too close to a lot boundary for floats
        def exact_target(self, weight, cash, i, t, j, lot):
            return bridge.exact_quantity(weight, cash, positions[i], np.array([micro(price)]), micro(price), lot)

    key = bridge.register(Exactly())
    try:
        quantity, state = kernel.target_quantity(key, sleeves, positions, np.array([[float(price)]]), 0, 0, 0, L.BUY,
                                                 float(weight), False, lot * MICRO if lot else 1,
                                                 np.full(1, -1, dtype=np.int64), np.zeros(1))
    finally:
        bridge.unregister(key)
    assert state == 0
    return from_micro(quantity)


def test_targets_are_floored_to_whole_lots():
    assert costs(lot=10).lot == D(10)
    assert costs(lot=0).lot == D("0.000001")
    assert target(1, 1490, 10, lot=10) == D(140)  # 149 shares afforded: 14 lots of 10
    assert target(1, 1500, 10, lot=10) == D(150)
    assert target(1, "99.9", 10, lot=10) == D(0)
    assert target(1, "79.99", 10, lot=1) == D(7)
    assert target("0.5", 16, 2, lot=1) == D(4)  # exactly on a lot: decided in exact integers
    assert target(1, "12.345679", 10, lot=0) == D("1.234567")  # down, not to the nearest micro-share
    assert target("0.1", 3, "0.1", lot=0) == D(3)  # 0.1 x 3 / 0.1 is 3 exactly (2.9999... in floats)


def test_fill_price_slippage_against_the_trader_capped_at_high_low():
    c = costs(slippage="0.01")  # 100 bps
    assert c.fill_price(D(10), True, high=D(11), low=D(9)) == D("10.1")
    assert c.fill_price(D(10), True, high=D("10.05"), low=D(9)) == D("10.05")  # capped at the high
    assert c.fill_price(D(10), False, high=D(11), low=D(9)) == D("9.9")
    assert c.fill_price(D(10), False, high=D(11), low=D("9.95")) == D("9.95")  # capped at the low
    assert costs().fill_price(D("10.5"), True, high=D(11), low=D(9)) == D("10.5")
    # 10.123457 x 1.0001 = 10.1244693457 -> 6 places
    assert costs(slippage="0.0001").fill_price(D("10.123457"), True, D(11), D(9)) == D("10.124469")


def test_fill_price_rounds_half_even():
    c = costs(slippage="0.5")
    assert c.fill_price(D("0.000001"), True, D(1), D(0)) == D("0.000002")   # 0.0000015 -> even 2
    assert c.fill_price(D("0.000003"), True, D(1), D(0)) == D("0.000004")   # 0.0000045 -> even 4
    assert c.fill_price(D("0.000005"), False, D(1), D(0)) == D("0.000002")  # 0.0000025 -> even 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 10**6), st.integers(0, 10**6)), max_size=20),
       st.sampled_from(["0", "0.0005", "0.5", "0.123456789", "1E-19"]))
def test_fill_prices_of_arrays_are_exact(rows, slippage):
    """The stepper's per-bar fill prices, computed on arrays (int64, or Python integers where
    int64 would overflow: large prices, fine slippage rates), equal the exact fractions
    rounded half even (`round` of a Fraction) and capped at the bar's high and low."""
    c = Costs((0, 1), 0, D(slippage).as_integer_ratio(), 1)
    base, high, low = (np.array([row[k] for row in rows], dtype=np.int64) for k in range(3))
    high, low = base + high, np.maximum(base - low, 0)
    buy, sell = c.fill_prices(base, high, low)
    rate = Fraction(D(slippage))
    each = list(zip(base.tolist(), high.tolist(), low.tolist()))
    assert buy.tolist() == [min(round(b * (1 + rate)), h) for b, h, lo in each]
    assert sell.tolist() == [max(round(b * (1 - rate)), lo) for b, h, lo in each]


def test_commission_rate_plus_fee_rounded_half_even():
    c = costs(rate="0.0001", fee="1")
    assert c.commission(D(100), D(10)) == D("1.1")
    assert c.commission(D(-100), D(10)) == D("1.1")  # sells pay too
    assert c.commission(D(100), D(10), charge_order_fee=False) == D("0.1")
    assert c.commission(D(1), D("0.025")) == D("1.000002")  # 1.0000025: half even (half up gives ...03)
    assert c.commission(D(1), D("0.035")) == D("1.000004")  # 1.0000035 -> 1.000004
    assert costs(rate="0.0001").commission(D(1), D("0.025")) == D("0.000002")
    assert costs().commission(D(500), D(10)) == D(0)


@pytest.mark.parametrize(("c", "cash", "price", "fee", "expected"), [
    (costs(), "1000", "12.5", True, "80"),
    (costs(rate="0.001", fee="5"), "1000", "12.5", True, "79"),   # 987.5 + 0.9875 + 5 = 993.4875
    (costs(fee="5"), "1000", "10", True, "99"),                   # 990 + 5
    (costs(fee="5"), "1000", "10", False, "100"),                 # the fee is not charged
    (costs(fee="5", lot=10), "1000", "9.5", True, "100"),         # 104 shares -> 10 lots
    (costs(fee="5", lot=0), "1000", "9.5", True, "104.736842"),   # 994.999999 + 5 <= 1000
    (costs(fee="5"), "5", "1", True, "0"),                        # cash <= fee
    (costs(fee="5"), "4", "1", True, "0"),
    (costs(), "9.99", "10", True, "0"),                           # not one share
    (costs(fee="5", lot=10), "100", "9.6", True, "0"),            # 9 shares: not one lot
])
def test_affordable(c, cash, price, fee, expected):
    quantity = c.affordable(D(cash), D(price), fee)
    assert quantity == D(expected)
    if quantity:
        assert quantity * D(price) + c.commission(quantity, D(price), fee) <= D(cash)


def test_affordable_is_the_most_lots_that_fit():
    """Costs.affordable promises 'the most whole lots whose cost plus commission fits in cash'.
    With 1 bps and a price of 10.000001 one share costs 10.000001 + 0.001000 (0.0010000001 rounded
    half even) = 10.001001, which fits in cash 10.001001 exactly; the estimate
    floor(10.001001 / (10.000001 x 1.0001)) = floor(0.99999999999) = 0 misses it."""
    c = costs(rate="0.0001")
    cost_of_one = D("10.000001") + c.commission(D(1), D("10.000001"))
    assert cost_of_one == D("10.001001")
    assert c.affordable(D("10.001001"), D("10.000001")) == D(1)


# ------------------------------------------------------------------------------ Sleeve


def test_new_sleeve():
    s = Sleeve("s", 3, D(10000))
    assert (s.cash, s.allocated, s.used, s.available, s.initial) == (D(10000), D(10000), 0, D(10000), D(10000))
    assert s.quantities.tolist() == [0, 0, 0]
    assert s.equity(np.array([1.0, 2.0, 3.0])) == D(10000)


def test_long_round_trip_with_average_cost():
    s = Sleeve("s", 2, D(10000))
    assert s.apply_fill(0, D(100), D(10), D(1)) == 0            # buy 100 at 10
    assert (s.cash, s.allocated, s.used, s.available) == (D(8999), D(9999), D(1000), D(8999))
    assert s.trades_opened == 1
    assert s.apply_fill(0, D(100), D(12), D(1)) == 0            # add 100 at 12: basis 2200
    assert (s.cash, s.used, s.trades_opened) == (D(7798), D(2200), 1)
    assert s.qty == {0: D(200)} and s.basis == {0: D(2200)}
    # sell 50 at 13: releases 50/200 of the basis (550); realized 650 - 550 = 100
    assert s.apply_fill(0, D(-50), D(13), D(1)) == D(100)
    assert (s.cash, s.allocated, s.used) == (D(8447), D(10097), D(1650))
    assert s.available == s.cash  # long only: what may be spent is the cash
    assert s.quantities.tolist() == [150, 0]
    assert s.equity(np.array([14.0, 0.0])) == D(8447) + 150 * 14
    assert (s.inner.cash, s.positions[0].tolist()) == (8447 * MICRO, [150 * MICRO, 0])
    # sell the other 150 at 9: realized 1350 - 1650 = -300
    assert s.apply_fill(0, D(-150), D(9), D(0)) == D(-300)
    assert (s.cash, s.allocated, s.used) == (D(9797), D(9797), D(0))
    assert s.qty == {} and s.basis == {} and s.quantities.tolist() == [0, 0]
    assert s.apply_fill(0, D(10), D(9), D(0)) == 0  # a new round trip
    assert s.trades_opened == 2


def test_partial_reduction_rounds_the_released_basis():
    s = Sleeve("s", 1, D(100))
    s.apply_fill(0, D(3), D("3.333333"), D(0))  # basis 9.999999
    realized = s.apply_fill(0, D(-1), D(4), D(0))
    # released = 9.999999 x 1/3 = 3.333333; realized = 4 - 3.333333
    assert realized == D("0.666667")
    assert s.basis[0] == D("6.666666") and s.used == D("6.666666")


def test_short_reserves_its_notional_and_covers_with_profit():
    s = Sleeve("s", 1, D(1000))
    assert s.apply_fill(0, D(-50), D(10), D(0)) == 0  # short 50 at 10
    assert (s.cash, s.allocated, s.used, s.available) == (D(1500), D(1000), D(500), D(500))
    assert s.quantities.tolist() == [-50]
    assert s.equity(np.array([8.0])) == D(1100)      # 1500 - 50 x 8
    # cover 20 at 8: released 20/50 of -500 = -200; realized -160 + 200 = 40
    assert s.apply_fill(0, D(20), D(8), D(1)) == D(40)
    assert (s.cash, s.allocated, s.used, s.available) == (D(1339), D(1039), D(300), D(739))
    assert s.apply_fill(0, D(30), D(11), D(0)) == D(-30)  # cover the rest at 11: -330 + 300
    assert (s.cash, s.allocated, s.used) == (D(1009), D(1009), D(0))
    assert s.qty == {}
