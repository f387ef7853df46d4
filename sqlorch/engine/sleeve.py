"""A strategy's sleeve of capital as Python sees it: a read-only view of its row in the
compiled engine's state (cash, positions, cost basis), which fills and rebalancing transfers
change. Money in micro units, quantities in micro-shares (see sqlorch.engine.arith)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from sqlorch.engine import layout as L
from sqlorch.money import MICRO, from_pico


class SleeveView:
    """Sleeve i of an engine state: `cash`, `allocated`, `used`, `available` (micro units),
    `positions` (micro-shares per symbol), `quantities` (shares, floats), `initial` capital and
    `trades_opened`. `allocated` = initial capital + realized P&L - commissions + transfers;
    `used` = cost basis of open positions (shorts reserve their notional); `available` =
    allocated - used, what an increasing order may spend."""

    __slots__ = ("strategy_id", "_row", "_positions")

    def __init__(self, strategy_id: str, row: np.ndarray, positions: np.ndarray):
        self.strategy_id = strategy_id
        self._row = row
        self._positions = positions

    @property
    def cash(self) -> int:
        return int(self._row[L.SL_CASH])

    @property
    def allocated(self) -> int:
        return int(self._row[L.SL_ALLOCATED])

    @property
    def used(self) -> int:
        return int(self._row[L.SL_USED])

    @property
    def available(self) -> int:
        return self.allocated - self.used

    @property
    def initial(self) -> int:
        return int(self._row[L.SL_INITIAL])

    @property
    def trades_opened(self) -> int:
        """Round trips begun: fills taking a position away from zero."""
        return int(self._row[L.SL_TRADES])

    @property
    def positions(self) -> np.ndarray:
        """Signed quantities in micro-shares, one per symbol (a view: do not write)."""
        return self._positions

    @property
    def quantities(self) -> np.ndarray:
        """Signed quantities in shares, one per symbol (a new array)."""
        return self._positions / MICRO

    def equity(self, marks: np.ndarray) -> int:
        """Exact cash plus positions valued at `marks` (prices with 6 places), in pico units."""
        held = np.flatnonzero(self._positions)
        return self.cash * MICRO + values_at(self._positions[None, held], marks_micro(marks[held]))[0]

    def equity_decimal(self, marks: np.ndarray) -> Decimal:
        """`equity` as a Decimal amount."""
        return from_pico(self.equity(marks))


def marks_micro(marks: np.ndarray) -> np.ndarray:
    """Prices with 6 places in micro units (int64), rounded half to even as round() does."""
    return np.rint(marks * MICRO).astype(np.int64)


_WIDE = 2**62  # int64 sums below this cannot overflow


def values_at(quantities: np.ndarray, prices: np.ndarray) -> list[int]:
    """Per row of `quantities` [rows, symbols] (micro-shares), sum(quantity x price) exactly, in
    pico units, `prices` in micro units (int64 arrays): in int64 where whole shares keep every sum
    small, else in Python integers."""
    if not quantities.size:
        return [0] * len(quantities)
    shares, parts = np.divmod(quantities, MICRO)
    if not parts.any() and float(np.abs(shares).max()) * float(np.abs(prices).max()) * shares.shape[1] < _WIDE:
        return [v * MICRO for v in (shares @ prices).tolist()]
    return [sum(q * p for q, p in zip(row, prices.tolist())) for row in quantities.tolist()]
