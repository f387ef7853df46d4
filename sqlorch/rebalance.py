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

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlorch.market import MARK
from sqlorch.money import ZERO, floor_places, money, to_money

if TYPE_CHECKING:
    from sqlorch.stepper import Stepper


class Rebalancer:
    """Checks drift at each bar close and carries out rebalances for a stepper."""

    def __init__(self, stepper: Stepper):
        self.s = stepper
        config = stepper.config
        self.threshold = getattr(config, "rebalance_threshold", None)
        self.every = getattr(config, "rebalance_every", None) or 1
        total = sum(stepper.weights, ZERO)
        self.targets = [w / total for w in stepper.weights]
        self.payees: dict[int, list[tuple[int, Decimal]]] = {}  # rebalance -> [(sleeve, fraction)]
        self.count = 0

    def check(self, t: int) -> None:
        """Rebalance at the close of bar t if the drift exceeds the threshold."""
        if self.threshold is None or t % self.every or len(self.s.sleeves) < 2:
            return
        marks = self.s.panel.data[t, MARK]
        equities = [s.equity_float(marks) for s in self.s.sleeves]
        total = sum(equities)
        if total <= 0:
            return
        drift = max(abs(e / total - float(w)) for e, w in zip(equities, self.targets))
        if drift > self.threshold:
            self._rebalance(t, marks)

    def _rebalance(self, t: int, marks) -> None:
        s = self.s
        self.count += 1
        rebalance_id = self.count
        equity = [sleeve.equity(marks) for sleeve in s.sleeves]
        total = sum(equity, ZERO)
        target = [total * w for w in self.targets]
        gap = [tgt - e for tgt, e in zip(target, equity)]  # > 0: underweight
        # cash moves in whole micro-units, and never more than a sleeve has spare
        given = [floor_places(min(-g, max(sleeve.available, ZERO))) if g < 0 else ZERO
                 for g, sleeve in zip(gap, s.sleeves)]
        needs = {i: g for i, g in enumerate(gap) if g > 0}
        need_total = sum(needs.values(), ZERO)
        moved = [-amount for amount in given]
        pool = sum(given, ZERO)
        if need_total > 0:
            for i, amount in self._pro_rata(pool, needs):
                moved[i] += amount
        for i, amount in enumerate(moved):
            if amount:
                s.sleeves[i].transfer(amount)
                s.records.transfers.append((rebalance_id, t, s.ids[i], amount))
        still_needed = {i: needs[i] - moved[i] for i in needs if needs[i] > moved[i]}
        if still_needed:
            rest = sum(still_needed.values(), ZERO)
            self.payees[rebalance_id] = [(i, n / rest) for i, n in still_needed.items()]
        trades = [ZERO] * len(s.sleeves)
        for i, g in enumerate(gap):
            if g < 0 and -g > given[i]:
                trades[i] = self._trade(t, i, g + given[i], rebalance_id, marks)
            elif g > 0:
                trades[i] = self._trade(t, i, g, rebalance_id, marks)
        for i, sleeve in enumerate(s.sleeves):
            s.records.rebalances.append((
                rebalance_id, t, s.ids[i], equity[i], float(equity[i] / total), float(self.targets[i]),
                target[i], moved[i], trades[i]))
        s.equity_changed()
        s.log.emit("rebalance", bar_index=t, bar_date=s.timestamps[t],
                   before={sid: float(e / total) for sid, e in zip(s.ids, equity)},
                   after={sid: float(w) for sid, w in zip(s.ids, self.targets)},
                   transfers={sid: m for sid, m in zip(s.ids, moved) if m})

    def _trade(self, t: int, i: int, value: Decimal, rebalance_id: int, marks) -> Decimal:
        """Order `value` of sleeve i's long positions, in proportion: sell if value < 0.
        Returns the value ordered (at the close)."""
        s = self.s
        sleeve = s.sleeves[i]
        longs = {j: q * to_money(marks[j]) for j, q in sleeve.qty.items() if q > 0}
        worth = sum(longs.values(), ZERO)
        if worth <= 0:
            return ZERO
        fraction = min(abs(value) / worth, Decimal(1))
        ordered = ZERO
        for j, position_value in longs.items():
            quantity = s.costs.floor_to_lot(sleeve.qty[j] * fraction)
            if not quantity:
                continue
            quantity = quantity if value > 0 else -quantity
            s.place(i, j, quantity, t, rebalance=rebalance_id)
            ordered += quantity * to_money(marks[j])
        return ordered

    @staticmethod
    def _pro_rata(amount: Decimal, weights: dict[int, Decimal]) -> Iterator[tuple[int, Decimal]]:
        total = sum(weights.values(), ZERO)
        items = list(weights.items())
        paid = ZERO
        for n, (i, w) in enumerate(items):
            share = amount - paid if n == len(items) - 1 else money(amount * w / total)
            paid += share
            yield i, share

    def split(self, rebalance_id: int, amount: Decimal) -> list[tuple[int, Decimal]]:
        """How `amount` raised by a rebalancing sale is shared among the sleeves it is for."""
        payees = self.payees.get(rebalance_id)
        if not payees or amount <= 0:
            return []
        return list(self._pro_rata(amount, dict(payees)))

    def pay_out(self, rebalance_id: int, sender: int, amount: Decimal, t: int) -> None:
        """Move the cash a rebalancing sale raised from `sender` to the underweight sleeves."""
        s = self.s
        for receiver, share in self.split(rebalance_id, amount):
            if share:
                s.sleeves[sender].transfer(-share)
                s.sleeves[receiver].transfer(share)
                s.records.transfers.append((rebalance_id, t, s.ids[sender], -share))
                s.records.transfers.append((rebalance_id, t, s.ids[receiver], share))
