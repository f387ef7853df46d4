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
from sqlorch.engine.sleeve import SleeveView, marks_micro, values_at
from sqlorch.money import MICRO, round_half_even


class Planner:
    """Makes rebalancing plans for `sleeves` (holding `positions`) whose configured weights are
    `weights`: `lot` is the lot in micro-shares, `marks[t]` each symbol's last close at bar t; each plan is
    recorded in `rebalances` and logged as an `orchestrator.rebalance` event."""

    def __init__(self, sleeves: Sequence[SleeveView], positions: np.ndarray, weights: Sequence[Decimal], lot: int,
                 marks: np.ndarray, log: EventLog, timestamps: Sequence[dt.datetime]):
        self.sleeves = sleeves
        self.positions = positions  # [sleeves, symbols] micro-shares: the rows the sleeves view
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
        sleeves, prices = self.sleeves, marks_micro(self.marks[t])
        ids = [s.strategy_id for s in sleeves]
        equity = [s.cash * MICRO + v for s, v in zip(sleeves, values_at(self.positions, prices))]  # pico units
        total = sum(equity)
        target = [int(Decimal(total) * w) for w in self.targets]
        gap = [tgt - e for tgt, e in zip(target, equity)]  # > 0: underweight
        # cash moves in whole micro units, and never more than a sleeve has spare
        given = [min(-g, max(sleeve.available, 0) * MICRO) // MICRO if g < 0 else 0
                 for g, sleeve in zip(gap, sleeves)]  # micro units
        needs = {i: g // MICRO for i, g in enumerate(gap) if g >= MICRO}  # micro units (a whole one at least)
        if not needs:  # no sleeve lacks a whole micro unit: cash has nowhere to go
            given = [0] * len(gap)
        moved = [-amount for amount in given]
        if needs:
            for i, amount in _pro_rata(sum(given), needs):
                moved[i] += amount
        lacks = np.zeros(len(sleeves), dtype=np.int64)
        for i in needs:
            lacks[i] = max(needs[i] - moved[i], 0)
        longs = np.where(self.positions > 0, self.positions, 0)
        worth = values_at(longs, prices)
        values = [g + given[i] * MICRO if g < 0 and -g > given[i] * MICRO else g if g > 0 else 0
                  for i, g in enumerate(gap)]  # pico units to buy (> 0) or sell of each sleeve's longs
        plan, trades = self._trades(values, longs, worth, prices)
        for i in range(len(sleeves)):
            self.rebalances.append(Rebalance(rebalance_id, t, ids[i], equity[i], equity[i] / total,
                                             float(self.targets[i]), target[i], moved[i] * MICRO, trades[i]))
        self.log.emit("rebalance", bar_index=t, bar_date=self.timestamps[t],
                      before={sid: e / total for sid, e in zip(ids, equity)},
                      after={sid: float(w) for sid, w in zip(ids, self.targets)},
                      transfers={sid: m / MICRO for sid, m in zip(ids, moved) if m})
        return plan, np.array(moved, dtype=np.int64), lacks, rebalance_id

    def _trades(self, values: list[int], longs: np.ndarray, worth: list[int],
                prices: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Each sleeve i orders `values[i]` (pico units) of its long positions `longs[i]` (worth
        `worth[i]` at `prices`), in proportion: sells if < 0. Returns the orders [k, 3] of (sleeve,
        symbol, quantity), in sleeve then symbol order, and the value each sleeve ordered (at the
        close, pico units)."""
        trading = [i for i, (v, w) in enumerate(zip(values, worth)) if v and w > 0]
        trades = [0] * len(values)
        if not trading:
            return np.zeros((0, 3), dtype=np.int64), trades
        share = np.array([min(abs(values[i]), worth[i]) for i in trading], dtype=object)[:, None]
        whole = np.array([worth[i] for i in trading], dtype=object)[:, None]
        # longs x share can pass 64 bits: Python integers, element by element in numpy's loop
        quantities = (longs[trading].astype(object) * share // whole // self.lot * self.lot).astype(np.int64)
        quantities *= np.where(np.array([values[i] for i in trading]) > 0, 1, -1)[:, None]
        for k, value in enumerate(values_at(quantities, prices)):
            trades[trading[k]] = value
        rows, symbols = np.nonzero(quantities)
        return np.column_stack((np.array(trading)[rows], symbols, quantities[rows, symbols])).astype(np.int64), trades


def _pro_rata(amount: int, weights: dict[int, int]) -> Iterator[tuple[int, int]]:
    """`amount` shared in proportion to `weights`, rounded half even, the last getting the rest."""
    total = sum(weights.values())
    items = list(weights.items())
    paid = 0
    for n, (i, w) in enumerate(items):
        share = amount - paid if n == len(items) - 1 else round_half_even(amount * w, total)
        paid += share
        yield i, share
