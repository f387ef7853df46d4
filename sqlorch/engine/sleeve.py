"""A strategy's sleeve of capital: cash, positions and cost basis, changed only by fills
and rebalancing transfers. Integer units throughout (see sqlorch.money)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from sqlorch.money import MICRO, PICO, from_pico, round_half_even, to_micro


class Sleeve:
    """One strategy's capital, never shared with other sleeves.

    `cash`, `allocated`, `used` and `basis` are pico units; `qty` micro-shares. `allocated` =
    initial capital + realized P&L - commissions + transfers; `used` = cost basis of open
    positions (shorts reserve their notional); `available` = allocated - used, which is what
    an increasing order may spend. `quantities` mirrors the positions in shares as floats for
    vectorized valuation.
    """

    __slots__ = ("strategy_id", "initial", "cash", "allocated", "used", "quantities", "qty", "basis",
                 "trades_opened")

    def __init__(self, strategy_id: str, n_symbols: int, capital: int):
        self.strategy_id = strategy_id
        self.initial = capital
        self.cash = capital
        self.allocated = capital
        self.used = 0
        self.quantities = np.zeros(n_symbols)
        self.qty: dict[int, int] = {}  # symbol index -> signed quantity, non-zero only
        self.basis: dict[int, int] = {}  # symbol index -> signed cost basis
        self.trades_opened = 0  # round trips begun: fills taking a position away from zero

    @property
    def available(self) -> int:
        """What an increasing order may spend: allocated - used."""
        return self.allocated - self.used

    def equity_float(self, marks: np.ndarray) -> float:
        """Cash plus positions at `marks`, as a float (for sizing; see `equity` for exact)."""
        return self.cash / PICO + float(self.quantities @ marks)

    def equity(self, marks: np.ndarray) -> int:
        """Exact cash plus positions valued at `marks` (prices with 6 places), in pico units."""
        return self.cash + sum(q * to_micro(marks[j]) for j, q in self.qty.items())

    def equity_decimal(self, marks: np.ndarray) -> Decimal:
        """`equity` as a Decimal amount."""
        return from_pico(self.equity(marks))

    def _reduces(self, j: int, quantity: int) -> bool:
        held = self.qty.get(j, 0)
        return bool(held) and (held > 0) != (quantity > 0)

    def _released(self, j: int, quantity: int) -> int:
        """Cost basis released by a reducing fill: the same fraction of the basis, rounded
        half even to a micro unit (all of it when the position closes)."""
        held, basis = self.qty[j], self.basis[j]
        if -quantity == held:
            return basis
        return round_half_even(basis * -quantity, held * MICRO) * MICRO

    def available_change(self, j: int, quantity: int, price: int, commission: int) -> int:
        """How `available` would change if this fill were booked (nothing is booked)."""
        if self._reduces(j, quantity):
            released = self._released(j, quantity)
            return -quantity * price - released - commission * MICRO + abs(released)
        return -(abs(quantity) * price + commission * MICRO)

    def apply_fill(self, j: int, quantity: int, price: int, commission: int) -> int:
        """Book a fill of `quantity` micro-shares at `price` with `commission` (micro units);
        return the realized P&L before commission (pico units).

        A fill either reduces the position (towards zero, never past it) or increases it.
        Reducing releases the same fraction of the cost basis.
        """
        held = self.qty.get(j, 0)
        basis = before = self.basis.get(j, 0)
        notional, fee, realized = quantity * price, commission * MICRO, 0
        if held and (held > 0) != (quantity > 0):  # reduces
            released = self._released(j, quantity)
            realized = -notional - released
            basis -= released
        else:
            self.trades_opened += not held
            basis += notional
        held += quantity
        self.used += abs(basis) - abs(before)
        self.cash -= notional + fee
        self.allocated += realized - fee
        if held:
            self.qty[j], self.basis[j] = held, basis
        else:
            self.qty.pop(j, None)
            self.basis.pop(j, None)
        self.quantities[j] = held / MICRO
        return realized

    def transfer(self, amount: int) -> None:
        """Receive (amount > 0) or give (amount < 0) cash, in pico units: a rebalancing transfer."""
        self.cash += amount
        self.allocated += amount
