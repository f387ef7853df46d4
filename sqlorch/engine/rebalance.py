"""Drift rebalancing: bring sleeves back to their target shares of the sleeves' equity.

At the close of a bar (every `rebalance_every` bars, if set), share_i = E_i / sum(E) and
target_i = w_i / sum(w). If any |share_i - target_i| exceeds `rebalance_threshold`, every
sleeve is brought back to target_i x sum(E):
- an overweight sleeve gives its spare (available) cash at once and, if that is not enough,
  sells the same fraction of each of its long positions; those sales fill first at the next
  fill (next open, or this close in `fill = "close"` mode) and their proceeds go on to the
  underweight sleeves;
- an underweight sleeve receives the cash, pro rata to what it lacks, and buys more of the
  long positions it already holds, in proportion to their value (never a symbol it does
  not hold; a sleeve holding nothing keeps the cash).
The check runs before the strategies decide at that close, so their signals size on the
rebalanced equity, and a strategy's own signal on a symbol replaces a rebalancing order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import numpy as np

from sqlorch.engine.book import Book
from sqlorch.engine.costs import Costs
from sqlorch.engine.records import Rebalance, Transfer
from sqlorch.money import MICRO, PICO, round_half_even, to_micro


class Rebalancer:
    """Checks drift at each bar close and carries out rebalances on a book: `marks[t]` are the
    symbols' marks at bar t, `weights` the sleeves' configured weights; `threshold` None (or a
    single sleeve) means never."""

    def __init__(self, book: Book, weights: Sequence[Decimal], threshold: float | None, every: int, costs: Costs,
                 marks: np.ndarray):
        self.book = book
        self.threshold = threshold
        self.every = every
        self.costs = costs
        self.marks = marks
        total = sum(weights, Decimal(0))
        self.targets = [w / total for w in weights]
        self.payees: dict[int, dict[int, int]] = {}  # rebalance -> {sleeve: what it still lacks}
        self.count = 0

    @property
    def active(self) -> bool:
        """Whether drift is checked at all (a threshold is set and there are sleeves to move)."""
        return self.threshold is not None and len(self.book.sleeves) >= 2

    def check(self, t: int) -> bool:
        """Rebalance at the close of bar t if the drift exceeds the threshold; whether it did
        (cash then moved between sleeves)."""
        if not self.active or t % self.every:
            return False
        marks = self.marks[t]
        equities = [s.equity_float(marks) for s in self.book.sleeves]
        total = sum(equities)
        if total <= 0:
            return False
        drift = max(abs(e / total - float(w)) for e, w in zip(equities, self.targets))
        if drift <= self.threshold:
            return False
        self._rebalance(t, marks)
        return True

    def _rebalance(self, t: int, marks) -> None:
        s = self.book
        self.count += 1
        rebalance_id = self.count
        equity = [sleeve.equity(marks) for sleeve in s.sleeves]  # pico units
        total = sum(equity)
        target = [int(Decimal(total) * w) for w in self.targets]
        gap = [tgt - e for tgt, e in zip(target, equity)]  # > 0: underweight
        # cash moves in whole micro units, and never more than a sleeve has spare
        given = [min(-g, max(sleeve.available, 0)) // MICRO * MICRO if g < 0 else 0
                 for g, sleeve in zip(gap, s.sleeves)]
        needs = {i: g for i, g in enumerate(gap) if g > 0}
        moved = [-amount for amount in given]
        if needs:
            for i, amount in self._pro_rata(sum(given), needs):
                moved[i] += amount
        for i, amount in enumerate(moved):
            if amount:
                s.sleeves[i].transfer(amount)
                s.records.transfers.append(Transfer(rebalance_id, t, s.ids[i], amount))
        still_needed = {i: needs[i] - moved[i] for i in needs if needs[i] > moved[i]}
        if still_needed:
            self.payees[rebalance_id] = still_needed
        trades = [0] * len(s.sleeves)
        for i, g in enumerate(gap):
            if g < 0 and -g > given[i]:
                trades[i] = self._trade(t, i, g + given[i], rebalance_id, marks)
            elif g > 0:
                trades[i] = self._trade(t, i, g, rebalance_id, marks)
        for i in range(len(s.sleeves)):
            s.records.rebalances.append(Rebalance(
                rebalance_id, t, s.ids[i], equity[i], equity[i] / total, float(self.targets[i]),
                target[i], moved[i], trades[i]))
        s.log.emit("rebalance", bar_index=t, bar_date=s.timestamps[t],
                   before={sid: e / total for sid, e in zip(s.ids, equity)},
                   after={sid: float(w) for sid, w in zip(s.ids, self.targets)},
                   transfers={sid: m / PICO for sid, m in zip(s.ids, moved) if m})

    def _trade(self, t: int, i: int, value: int, rebalance_id: int, marks) -> int:
        """Order `value` (pico units) of sleeve i's long positions, in proportion: sell if value
        < 0. Returns the value ordered (at the close)."""
        s = self.book
        sleeve = s.sleeves[i]
        longs = {j: q * to_micro(marks[j]) for j, q in sleeve.qty.items() if q > 0}
        worth = sum(longs.values())
        if worth <= 0:
            return 0
        share = min(abs(value), worth)
        ordered = 0
        for j in longs:
            quantity = self.costs.floor_to_lot(sleeve.qty[j] * share // worth)
            if not quantity:
                continue
            quantity = quantity if value > 0 else -quantity
            s.place(i, j, quantity, t, rebalance=rebalance_id)
            ordered += quantity * to_micro(marks[j])
        return ordered

    @staticmethod
    def _pro_rata(amount: int, weights: dict[int, int]) -> Iterator[tuple[int, int]]:
        """`amount` (pico) shared in proportion to `weights`, in whole micro units but the last."""
        total = sum(weights.values())
        items = list(weights.items())
        paid = 0
        for n, (i, w) in enumerate(items):
            share = amount - paid if n == len(items) - 1 else round_half_even(amount * w, total * MICRO) * MICRO
            paid += share
            yield i, share

    def split(self, rebalance_id: int, amount: int) -> list[tuple[int, int]]:
        """How `amount` raised by a rebalancing sale is shared among the sleeves it is for."""
        payees = self.payees.get(rebalance_id)
        if not payees or amount <= 0:
            return []
        return list(self._pro_rata(amount, payees))

    def pay_out(self, rebalance_id: int, sender: int, amount: int, t: int) -> None:
        """Move the cash a rebalancing sale raised from `sender` to the underweight sleeves."""
        s = self.book
        for receiver, share in self.split(rebalance_id, amount):
            if share:
                s.sleeves[sender].transfer(-share)
                s.sleeves[receiver].transfer(share)
                s.records.transfers.append(Transfer(rebalance_id, t, s.ids[sender], -share))
                s.records.transfers.append(Transfer(rebalance_id, t, s.ids[receiver], share))
