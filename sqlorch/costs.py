"""Trading costs and lot arithmetic: fill prices with slippage, commissions, affordability."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sqlorch.money import PLACES, ZERO, floor_places, money

BPS = Decimal(10_000)


@dataclass(frozen=True)
class Costs:
    """Slippage and commission rules, and the lot size quantities are rounded to.

    `lot_size` 0 means fractional quantities (6 decimal places).
    """

    commission_rate: Decimal  # fraction of notional
    per_order: Decimal
    slippage_rate: Decimal
    lot_size: int

    @classmethod
    def from_config(cls, config) -> Costs:
        """Costs of a `BacktestConfig`."""
        return cls(
            Decimal(repr(config.commission_bps)) / BPS,
            config.commission_per_order,
            Decimal(repr(config.slippage_bps)) / BPS,
            config.lot_size,
        )

    @property
    def lot(self) -> Decimal:
        """The smallest tradable quantity step."""
        return Decimal(self.lot_size) if self.lot_size else PLACES

    def floor_to_lot(self, units: Decimal) -> Decimal:
        """Round a non-negative quantity down to whole lots."""
        if not self.lot_size:
            return floor_places(units)
        return (units / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    def fill_price(self, base: Decimal, buying: bool, high: Decimal, low: Decimal) -> Decimal:
        """`base` moved against the trader by slippage, never beyond the bar's high or low."""
        if buying:
            return min(money(base * (1 + self.slippage_rate)), high)
        return max(money(base * (1 - self.slippage_rate)), low)

    def commission(self, quantity: Decimal, price: Decimal, charge_order_fee: bool = True) -> Decimal:
        """Commission on a fill: a rate of notional plus the per-order fee."""
        fee = self.per_order if charge_order_fee else ZERO
        return money(self.commission_rate * abs(quantity) * price + fee)

    def affordable(self, cash: Decimal, price: Decimal, charge_order_fee: bool = True) -> Decimal:
        """The most whole lots whose cost plus commission fits in `cash` (0 if not one)."""
        fee = self.per_order if charge_order_fee else ZERO
        if cash <= fee:
            return ZERO
        def fits(quantity: Decimal) -> bool:
            return quantity * price + self.commission(quantity, price, charge_order_fee) <= cash

        # the estimate ignores commission rounding, so it may be a lot off either way
        quantity = self.floor_to_lot((cash - fee) / (price * (1 + self.commission_rate)))
        while fits(quantity + self.lot):
            quantity += self.lot
        while quantity > 0 and not fits(quantity):
            quantity -= self.lot
        return max(quantity, ZERO)
