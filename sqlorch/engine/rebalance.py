"""Drift rebalancing plans (SPEC §3): bring sleeves back to their target shares of the
sleeves' equity. The compiled engine checks the drift at every bar close (every
`rebalance_every` bars) and, when a sleeve's share is further than `rebalance_threshold` from
its target, asks `Planner.plan` what to do, then does it:
- an overweight sleeve gives its spare (available) cash at once and, if that is not enough,
  sells the same fraction of each of its long positions; those sales fill first at the next
  fill (next open, or this close in `fill = "close"` mode) and their proceeds go on to the
  underweight sleeves (the plan's `lacks`);
- an underweight sleeve receives the cash, pro rata to what it lacks, and buys more of the
  long positions it already holds, in proportion to their value (never a symbol it does
  not hold; a sleeve holding nothing keeps the cash).
The check runs before the strategies decide at that close, so their signals size on the
rebalanced equity, and a strategy's own signal on a symbol replaces a rebalancing order.
Plans are rare: they are made in Python, with exact integers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

import numpy as np

from sqlorch.engine.events import EventLog
from sqlorch.engine.records import Rebalance
from sqlorch.engine.sleeve import SleeveView, marks_micro, value_at
from sqlorch.money import MICRO, round_half_even


class Planner:
    """Makes rebalancing plans for `sleeves` whose configured weights are `weights`: `lot` is
    the lot in micro-shares, `marks[t]` each symbol's last close at bar t; each plan is
    recorded in `rebalances` and logged as an `orchestrator.rebalance` event."""

    def __init__(self, sleeves: Sequence[SleeveView], weights: Sequence[Decimal], lot: int, marks: np.ndarray,
                 log: EventLog, timestamps: Sequence[dt.datetime]):
        self.sleeves = sleeves
        total = sum(weights, Decimal(0))
        self.targets = [w / total for w in weights]
        self.lot = lot
        self.marks = marks
        self.log = log
        self.timestamps = timestamps
        self.rebalances: list[Rebalance] = []
        self.count = 0

    def plan(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The rebalance at the close of bar t: (orders [k, 3] of (sleeve, symbol, quantity),
        cash moved per sleeve now (micro units), what each sleeve still lacks (micro units, paid
        from the sales), the rebalance's id)."""
        self.count += 1
        rebalance_id = self.count
        sleeves, marks = self.sleeves, self.marks[t]
        ids = [s.strategy_id for s in sleeves]
        equity = [sleeve.equity(marks) for sleeve in sleeves]  # pico units
        total = sum(equity)
        target = [int(Decimal(total) * w) for w in self.targets]
        gap = [tgt - e for tgt, e in zip(target, equity)]  # > 0: underweight
        # cash moves in whole micro units, and never more than a sleeve has spare
        given = [min(-g, max(sleeve.available, 0) * MICRO) // MICRO if g < 0 else 0
                 for g, sleeve in zip(gap, sleeves)]  # micro units
        needs = {i: g // MICRO for i, g in enumerate(gap) if g >= MICRO}  # micro units (a whole one at least)
        moved = [-amount for amount in given]
        if needs:
            for i, amount in _pro_rata(sum(given), needs):
                moved[i] += amount
        lacks = np.zeros(len(sleeves), dtype=np.int64)
        for i in needs:
            lacks[i] = max(needs[i] - moved[i], 0)
        orders: list[np.ndarray] = []
        trades = [0] * len(sleeves)
        for i, g in enumerate(gap):
            if g < 0 and -g > given[i] * MICRO:
                trades[i] = self._trade(i, g + given[i] * MICRO, marks, orders)
            elif g > 0:
                trades[i] = self._trade(i, g, marks, orders)
        for i in range(len(sleeves)):
            self.rebalances.append(Rebalance(rebalance_id, t, ids[i], equity[i], equity[i] / total,
                                             float(self.targets[i]), target[i], moved[i] * MICRO, trades[i]))
        self.log.emit("rebalance", bar_index=t, bar_date=self.timestamps[t],
                      before={sid: e / total for sid, e in zip(ids, equity)},
                      after={sid: float(w) for sid, w in zip(ids, self.targets)},
                      transfers={sid: m / MICRO for sid, m in zip(ids, moved) if m})
        plan = np.concatenate(orders).astype(np.int64) if orders else np.zeros((0, 3), dtype=np.int64)
        return plan, np.array(moved, dtype=np.int64), lacks, rebalance_id

    def _trade(self, i: int, value: int, marks: np.ndarray, orders: list[np.ndarray]) -> int:
        """Order `value` (pico units) of sleeve i's long positions, in proportion: sell if value
        < 0; the orders go to `orders` as rows (sleeve, symbol, quantity). Returns the value
        ordered (at the close, pico units)."""
        positions = self.sleeves[i].positions
        held = np.flatnonzero(positions > 0)
        prices = marks_micro(marks[held])
        worth = value_at(positions[held], prices)
        if worth <= 0:
            return 0
        share = min(abs(value), worth)
        # held x share can pass 64 bits: Python integers, element by element in numpy's loop
        quantities = (positions[held].astype(object) * share // worth // self.lot * self.lot).astype(np.int64)
        kept = np.flatnonzero(quantities)
        if not kept.size:
            return 0
        quantities = quantities[kept] if value > 0 else -quantities[kept]
        orders.append(np.column_stack((np.full(kept.size, i), held[kept], quantities)))
        return value_at(quantities, prices[kept])


def _pro_rata(amount: int, weights: dict[int, int]) -> Iterator[tuple[int, int]]:
    """`amount` shared in proportion to `weights`, rounded half even, the last getting the rest."""
    total = sum(weights.values())
    items = list(weights.items())
    paid = 0
    for n, (i, w) in enumerate(items):
        share = amount - paid if n == len(items) - 1 else round_half_even(amount * w, total)
        paid += share
        yield i, share
