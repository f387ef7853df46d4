"""A strategy's sleeve of capital: cash, positions and cost basis, changed only by fills."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from sqlorch.money import ZERO, money, to_money


class Sleeve:
    """One strategy's capital, never shared with other sleeves.

    `allocated` = initial capital + realized P&L - commissions; `used` = cost basis of open
    positions (shorts reserve their notional); `available` = allocated - used, which is the
    cash an increasing order may spend. `quantities` mirrors the exact Decimal positions as
    floats for vectorized valuation.
    """

    __slots__ = ("strategy_id", "initial", "cash", "allocated", "used", "quantities", "qty", "basis",
                 "trades_opened")

    def __init__(self, strategy_id: str, n_symbols: int, capital: Decimal):
        self.strategy_id = strategy_id
        self.initial = capital
        self.cash = capital
        self.allocated = capital
        self.used = ZERO  # sum of |basis|, kept up to date by apply_fill
        self.quantities = np.zeros(n_symbols)
        self.qty: dict[int, Decimal] = {}  # symbol index -> signed quantity, non-zero only
        self.basis: dict[int, Decimal] = {}  # symbol index -> signed cost basis
        self.trades_opened = 0  # round trips begun: fills taking a position away from zero

    @property
    def available(self) -> Decimal:
        """What an increasing order may spend: allocated - used."""
        return self.allocated - self.used

    def equity_float(self, marks: np.ndarray) -> float:
        """Cash plus positions at `marks`, as a float (for sizing; see `equity` for exact)."""
        return float(self.cash) + float(self.quantities @ marks)

    def equity(self, marks: np.ndarray) -> Decimal:
        """Exact cash plus positions valued at `marks` (6-place prices)."""
        return self.cash + sum((q * to_money(marks[j]) for j, q in self.qty.items()), ZERO)

    def _reduces(self, j: int, quantity: Decimal) -> bool:
        held = self.qty.get(j, ZERO)
        return bool(held) and (held > 0) != (quantity > 0)

    def _released(self, j: int, quantity: Decimal) -> Decimal:
        """Cost basis released by a reducing fill: the same fraction of the basis."""
        held, basis = self.qty[j], self.basis[j]
        return basis if -quantity == held else money(basis * (-quantity) / held)

    def available_change(self, j: int, quantity: Decimal, price: Decimal, commission: Decimal) -> Decimal:
        """How `available` would change if this fill were booked (nothing is booked)."""
        if self._reduces(j, quantity):
            released = self._released(j, quantity)
            return -quantity * price - released - commission + abs(released)
        return -(abs(quantity) * price + commission)

    def apply_fill(self, j: int, quantity: Decimal, price: Decimal, commission: Decimal) -> Decimal:
        """Book a fill of signed `quantity` at `price`; return the realized P&L before commission.

        A fill either reduces the position (towards zero, never past it) or increases it.
        Reducing releases the same fraction of the cost basis.
        """
        held = self.qty.get(j, ZERO)
        basis = self.basis.get(j, ZERO)
        realized = ZERO
        if self._reduces(j, quantity):
            released = self._released(j, quantity)
            realized = -quantity * price - released
            basis -= released
        else:
            self.trades_opened += not held
            basis += quantity * price
        held += quantity
        self.used += abs(basis) - abs(self.basis.get(j, ZERO))
        self.cash -= quantity * price + commission
        self.allocated += realized - commission
        if held:
            self.qty[j], self.basis[j] = held, basis
        else:
            self.qty.pop(j, None)
            self.basis.pop(j, None)
        self.quantities[j] = float(held)
        return realized

    def transfer(self, amount: Decimal) -> None:
        """Receive (amount > 0) or give (amount < 0) cash: a rebalancing transfer."""
        self.cash += amount
        self.allocated += amount
