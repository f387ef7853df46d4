"""Trading costs (sqlorch/engine/costs.py) and sleeve accounting (sqlorch/engine/sleeve.py), by hand.

Both work in integer units (micro-shares, micro and pico amounts; see sqlorch.money). The
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
from sqlorch.engine.costs import Costs
from sqlorch.engine.sleeve import Sleeve as UnitSleeve
from sqlorch.money import MICRO, PICO, from_micro, from_pico


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

    def floor_to_lot(self, shares):
        return from_micro(self.inner.floor_to_lot(int(D(shares) * MICRO)))

    def fill_price(self, base, buying, high, low):
        buy, sell = self.inner.fill_prices(*(np.array([micro(v)]) for v in (base, high, low)))
        return from_micro(int((buy if buying else sell)[0]))

    def commission(self, shares, price, charge_order_fee=True):
        return from_micro(self.inner.commission(micro(shares), micro(price), charge_order_fee))

    def affordable(self, cash, price, charge_order_fee=True):
        return from_micro(self.inner.affordable(pico(cash), micro(price), charge_order_fee))


def costs(rate="0", fee="0", slippage="0", lot=1):
    return DecimalCosts(Costs(D(rate).as_integer_ratio(), micro(fee), D(slippage).as_integer_ratio(),
                              lot * MICRO if lot else 1))


class DecimalSleeve:
    """A sleeve in shares and dollars."""

    def __init__(self, strategy_id, n_symbols, capital):
        self.inner = UnitSleeve(strategy_id, n_symbols, pico(capital))

    def __getattr__(self, name):
        value = getattr(self.inner, name)
        if name in ("cash", "allocated", "used", "available", "initial"):
            return from_pico(value)
        if name == "qty":
            return {j: from_micro(q) for j, q in value.items()}
        if name == "basis":
            return {j: from_pico(b) for j, b in value.items()}
        return value

    def equity(self, marks):
        return from_pico(self.inner.equity(marks))

    def apply_fill(self, j, shares, price, commission):
        return from_pico(self.inner.apply_fill(j, micro(shares), micro(price), micro(commission)))


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


def test_lot_and_floor_to_lot():
    assert costs(lot=10).lot == D(10)
    assert costs(lot=0).lot == D("0.000001")
    assert costs(lot=10).floor_to_lot(D(149)) == D(140)
    assert costs(lot=10).floor_to_lot(D(150)) == D(150)
    assert costs(lot=10).floor_to_lot(D("9.99")) == D(0)
    assert costs(lot=1).floor_to_lot(D("7.999")) == D(7)
    assert costs(lot=0).floor_to_lot(D("1.2345679")) == D("1.234567")  # down, not to nearest


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
    # the first estimate floor(0.0350035 / (0.035 x 1.0001)) = 1 does not fit once the commission
    # is rounded up (0.035 + 0.000004 > 0.0350035): one lot less
    (costs(rate="0.0001"), "0.0350035", "0.035", True, "0"),
])
def test_affordable(c, cash, price, fee, expected):
    quantity = c.affordable(D(cash), D(price), fee)
    assert quantity == D(expected)
    if quantity:
        assert quantity * D(price) + c.commission(quantity, D(price), fee) <= D(cash)
        assert c.inner.cost(micro(quantity), micro(price), fee) <= pico(cash)


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
    assert s.equity_float(np.array([14.0, 0.0])) == 8447 + 150 * 14
    assert (s.inner.cash, s.inner.qty) == (8447 * PICO, {0: 150 * MICRO})
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
