"""Sizing (SPEC §3): a signal at bar t targets q* = floor_to_lot(weight x E_t / close_t), where
E_t is the sleeve's equity at the close of t."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import Side, Signal
from sqlorch.engine.sleeve import Sleeve
from sqlorch.errors import SleeveLimitError
from sqlorch.money import MAX_QUANTITY, MAX_SLEEVE_EQUITY, MICRO, ratio_of, to_micro

_SELL, _EXIT = Side.SELL, Side.EXIT  # (an enum member costs a lookup each time it is named)
_MAX_TARGET = MAX_QUANTITY * MICRO  # micro-shares


class Sizer:
    """Target quantities of signals for `sleeves`, at `marks[t]` (each symbol's last close).
    Each sleeve's equity is computed once per bar; call `forget()` when cash moves between
    sleeves within a bar (rebalancing)."""

    def __init__(self, sleeves: Sequence[Sleeve], costs: Costs, allow_short: bool, marks: np.ndarray):
        self.sleeves = sleeves
        self.costs = costs
        self.allow_short = allow_short
        self.marks = marks
        self._equity: list[tuple[int, float]] = [(-1, 0.0)] * len(sleeves)

    def forget(self) -> None:
        """Forget the equities computed so far (cash moved between sleeves)."""
        self._equity = [(-1, 0.0)] * len(self.sleeves)

    def target(self, t: int, i: int, j: int, signal: Signal) -> int | None:
        """Sleeve i's target position in symbol j (micro-shares, signed) for `signal` at bar t;
        None without a price yet. A weight far above 1 targets at most `MAX_QUANTITY` shares;
        SleeveLimitError if the sleeve's equity passed `MAX_SLEEVE_EQUITY`."""
        side, weight = signal.side, signal.weight
        short = side == _SELL and self.allow_short
        if side == _EXIT or (side == _SELL and not short) or weight == 0:
            return 0
        marks = self.marks[t]
        price = float(marks[j])
        if price <= 0:
            return None
        lot = self.costs.lot
        cached_t, equity = self._equity[i]
        if cached_t != t:
            equity = self.sleeves[i].equity_float(marks)
            if equity > MAX_SLEEVE_EQUITY:
                raise SleeveLimitError(self.sleeves[i].strategy_id, equity)
            self._equity[i] = (t, equity)
        lots = weight * equity / price * (MICRO / lot)
        if lots * lot >= _MAX_TARGET:  # a weight far above 1: more than any position may hold
            quantity = self.costs.floor_to_lot(_MAX_TARGET)
        elif abs(lots - round(lots)) > max(1e-6, abs(lots) * 1e-12):
            quantity = max(math.floor(lots), 0) * lot
        else:  # too close to a lot boundary for floats: decide exactly
            numerator, denominator = ratio_of(weight)
            exact = self.sleeves[i].equity(marks)
            quantity = self.costs.floor_to_lot(max(numerator * exact // (denominator * to_micro(price)), 0))
        return -quantity if short else quantity
