"""Bars as dense arrays on the run's clock: `Panel` holds every bar of a run ([bar, field,
symbol] float64, NaN where a symbol has no bar) and each symbol's mark (its last close). Its
first `first` bars may be warm-up: revealed to features and strategies, never traded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

FIELDS = ("open", "high", "low", "close", "volume")
OPEN, HIGH, LOW, CLOSE, VOLUME, MARK = range(6)
"""Row layout of the field axis; MARK is the last known close (0 before a symbol's first bar)."""


@dataclass(frozen=True, eq=False)
class Panel:
    """Every bar of a run: `data[t, field, symbol]` over the clock `timestamps`. Bars before
    `first` are warm-up (see `traded`)."""

    timestamps: np.ndarray  # datetime64[us], sorted, distinct: the clock
    symbols: tuple[str, ...]
    data: np.ndarray  # [T, 6, N] float64
    first: int = 0  # the first bar traded; the bars before it are warm-up

    @classmethod
    def from_bars(cls, bars: pl.DataFrame, first: int = 0) -> Panel:
        """Build the panel from validated bars (columns of `sqlorch.bars.load.BAR_COLUMNS`),
        the first `first` bars of its clock being warm-up."""
        symbols = tuple(sorted(bars["symbol"].unique().to_list()))
        clock = bars["ts"].unique().sort().to_numpy()  # polars: numpy's unique is ten times slower
        t_index = (bars["ts"].rank("dense") - 1).to_numpy()
        s_index = bars["symbol"].cast(pl.Enum(list(symbols))).to_physical().to_numpy()
        data = np.full((len(clock), len(FIELDS) + 1, len(symbols)), np.nan)
        for f, name in enumerate(FIELDS):
            data[t_index, f, s_index] = bars[name].to_numpy()
        data[:, MARK, :] = _forward_fill(data[:, CLOSE, :])
        return cls(clock, symbols, data, first)

    def traded(self) -> Panel:
        """The bars from `first` on (no copy): the clock a run trades, records and accounts,
        its bar 0 this panel's bar `first`; marks carry closes over from the warm-up."""
        if not self.first:
            return self
        return Panel(self.timestamps[self.first:], self.symbols, self.data[self.first:])

    def __len__(self) -> int:
        return len(self.timestamps)


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Carry each column's last non-NaN value forward; 0 before the first one."""
    rows = np.arange(values.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(np.isnan(values), -1, rows), axis=0)
    filled = values[np.maximum(last, 0), np.arange(values.shape[1])]
    return np.where(last >= 0, filled, 0.0)
