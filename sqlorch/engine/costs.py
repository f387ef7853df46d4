"""Trading costs and lot arithmetic in integer units (see sqlorch.money): fill prices with
slippage, commissions, what cash affords."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqlorch.money import MICRO, micro_of, ratio_of, round_half_even, round_half_even_array


@dataclass(frozen=True)
class Costs:
    """Slippage and commission rules, and the lot quantities are rounded to.

    Rates are exact fractions of notional; `fee` is the per-order fee in micro units;
    `lot` is in micro-shares (1 for fractional quantities, i.e. 6 decimal places).
    """

    commission_rate: tuple[int, int]
    fee: int
    slippage_rate: tuple[int, int]
    lot: int

    @classmethod
    def from_config(cls, config) -> Costs:
        """Costs of a `BacktestConfig`."""
        def per_bps(bps: float) -> tuple[int, int]:
            numerator, denominator = ratio_of(bps)
            return numerator, denominator * 10_000

        return cls(per_bps(config.commission_bps), micro_of(config.commission_per_order),
                   per_bps(config.slippage_bps), config.lot_size * MICRO if config.lot_size else 1)

    def floor_to_lot(self, quantity: int) -> int:
        """Round a non-negative quantity (micro-shares) down to whole lots."""
        return quantity // self.lot * self.lot

    def fill_prices(self, base: np.ndarray, high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What an order alone pays buying and gets selling, for every element of integer
        arrays (micro units): `base` moved against the trader by slippage, rounded half even to
        a micro unit, never beyond the bar's `high` or `low`. Exact (in Python integers where
        int64 could overflow)."""
        numerator, denominator = self.slippage_rate
        if not numerator:
            return np.minimum(base, high), np.maximum(base, low)
        if max(int(np.abs(base).max(initial=0)), 1) * (denominator + numerator) >= 2**63:
            base = base.astype(object)
        return (np.minimum(round_half_even_array(base * (denominator + numerator), denominator), high),
                np.maximum(round_half_even_array(base * (denominator - numerator), denominator), low))

    def commission(self, quantity: int, price: int, charge_fee: bool = True) -> int:
        """Commission in micro units: the rate of notional, rounded half even, plus the fee."""
        numerator, denominator = self.commission_rate
        fee = self.fee if charge_fee else 0
        if not numerator:
            return fee
        return round_half_even(abs(quantity) * price * numerator, denominator * MICRO) + fee

    def cost(self, quantity: int, price: int, charge_fee: bool = True) -> int:
        """What increasing a position by `quantity` takes from the sleeve, in pico units."""
        return abs(quantity) * price + self.commission(quantity, price, charge_fee) * MICRO

    def affordable(self, cash: int, price: int, charge_fee: bool = True) -> int:
        """The most whole lots (micro-shares) whose cost plus commission fits in `cash` (pico)."""
        fee = self.fee * MICRO if charge_fee else 0
        if cash <= fee:
            return 0
        numerator, denominator = self.commission_rate
        # the estimate ignores commission rounding, so it may be a lot off either way
        quantity = self.floor_to_lot((cash - fee) * denominator // (price * (denominator + numerator)))
        while self.cost(quantity + self.lot, price, charge_fee) <= cash:
            quantity += self.lot
        while quantity > 0 and self.cost(quantity, price, charge_fee) > cash:
            quantity -= self.lot
        return max(quantity, 0)
