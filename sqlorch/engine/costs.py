"""Trading costs in integer units (see sqlorch.money): the rates and lot a run trades with, and
the prices its orders fill at. The compiled engine (kernel.py) charges them per fill."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqlorch.bars.panel import CLOSE, HIGH, LOW, OPEN, Panel
from sqlorch.money import MICRO, micro_of, ratio_of, round_half_even_array


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


@dataclass(frozen=True)
class FillPrices:
    """Per bar and symbol, in micro units: the price orders fill at (the open, or the close in
    close mode), and what an order alone pays buying or gets selling there (slipped, never
    beyond the bar's high or low). Computed once per run, on arrays."""

    base: np.ndarray
    buy: np.ndarray
    sell: np.ndarray

    @classmethod
    def of(cls, panel: Panel, costs: Costs, close_mode: bool) -> FillPrices:
        base, high, low = (_micro(panel.data[:, field]) for field in (CLOSE if close_mode else OPEN, HIGH, LOW))
        return cls(base, *costs.fill_prices(base, high, low))


def _micro(prices: np.ndarray) -> np.ndarray:
    """Prices (NaN where there is no bar) in micro units, rounded half even as `to_micro` does."""
    return np.rint(np.nan_to_num(prices) * MICRO).astype(np.int64)
