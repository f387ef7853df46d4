"""The progressively revealed view of a run's bars.

Only the stepper holds the run's `Panel` (every bar, sqlorch.bars.panel), and the `Market` it
fills one row per bar as the clock advances. Strategies see a `MarketView` each, reading the market's memory through a
read-only mapping: rows after the current bar are still NaN, so no array a strategy can
reach (nor its `.base`) contains the future, and none can be written to change what other
strategies see. (A strategy that walks the interpreter's frames or objects to find the
stepper is not stopped: a documented limit.)
"""

from __future__ import annotations

import datetime as dt
import mmap
import os
import tempfile
from types import MappingProxyType

import numpy as np

from sqlorch.bars.panel import CLOSE


def feature_columns(features: tuple) -> dict:
    """Each feature's column among those of its kind: conditions (`.boolean`, stored as bool)
    and numbers (float64), each numbered in the order given."""
    counts = {False: 0, True: 0}
    columns = {}
    for feature in features:
        columns[feature] = counts[feature.boolean]
        counts[feature.boolean] += 1
    return columns


def read_only_twin(shape: tuple[int, ...], dtype: type, fill: object) -> tuple[np.ndarray, np.ndarray]:
    """A writable array filled with `fill` and a read-only twin over the same memory: writes to
    the first show in the second, which can never be made writable (its memory is mapped
    read-only) and leads to nothing that writes. Memory from an anonymous memory file where
    there is one (Linux), else from an unnamed temporary file."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes == 0:  # nothing to write to: bytes are immutable
        return np.empty(shape, dtype=dtype), np.frombuffer(b"", dtype=dtype).reshape(shape)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("sqlorch-market", getattr(os, "MFD_CLOEXEC", 0))
    else:  # pragma: no cover (not Linux)
        fd = os.dup(tempfile.TemporaryFile().fileno())
    try:
        os.ftruncate(fd, nbytes)
        writing = mmap.mmap(fd, nbytes, access=mmap.ACCESS_WRITE)
        reading = mmap.mmap(fd, nbytes, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    writable = np.frombuffer(writing, dtype=dtype).reshape(shape)
    writable.fill(fill)
    return writable, np.frombuffer(reading, dtype=dtype).reshape(shape)


class Market:
    """The bars known so far, written by the stepper only: `reveal(t, ...)` stores bars up to t
    (nothing later is ever stored) and every `view()` reads them through read-only memory.

    Alongside prices it holds the rows revealed so far of the run's declared features
    (`features`: feature -> its place in the declared order; values in two tables by kind, see
    `feature_columns`) and whether each changed at each bar.
    """

    def __init__(self, symbols: tuple[str, ...], timestamps: list[dt.datetime], shape: tuple,
                 features: tuple = ()):
        self.t = -1
        conditions = sum(f.boolean for f in features)
        self._data, data = read_only_twin(shape, np.float64, np.nan)
        self._numbers, numbers = read_only_twin((shape[0], len(features) - conditions, shape[2]), np.float64, np.nan)
        self._conditions, flags = read_only_twin((shape[0], conditions, shape[2]), np.bool_, False)
        self._changed, changed = read_only_twin((shape[0], len(features)), np.bool_, False)
        self._shared = (tuple(symbols), tuple(timestamps), MappingProxyType({s: i for i, s in enumerate(symbols)}),
                        MappingProxyType({f: k for k, f in enumerate(features)}),
                        MappingProxyType(feature_columns(features)), data, numbers, flags, changed)

    def reveal(self, t: int, rows: np.ndarray, features: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
               ) -> None:
        """Make every bar after the last revealed one up to bar t known: `rows` (and the
        features' numbers, conditions and changed flags) hold those bars in order, or one bar."""
        start = self.t + 1
        self._data[start : t + 1] = rows
        if features is not None:
            self._numbers[start : t + 1], self._conditions[start : t + 1], self._changed[start : t + 1] = features
        self.t = t

    def view(self) -> MarketView:
        """A view of its own for one strategy: what it changes of the view changes nothing for
        the others, and through it no array can be written."""
        return MarketView(*self._shared)


class MarketView:
    """One strategy's read-only window on the revealed bars: `t` is the current bar (set by the
    stepper before it calls the strategy); rows after it are not revealed (NaN). Every array it
    hands out is a copy."""

    __slots__ = ("symbols", "timestamps", "index", "t", "features", "_columns", "_data", "_numbers",
                 "_conditions", "_changed")

    def __init__(self, symbols: tuple[str, ...], timestamps: tuple[dt.datetime, ...], index: MappingProxyType,
                 features: MappingProxyType, columns: MappingProxyType, data: np.ndarray, numbers: np.ndarray,
                 conditions: np.ndarray, changed: np.ndarray):
        self.symbols = symbols
        self.timestamps = timestamps  # the clock itself is known in advance, prices are not
        self.index = index
        self.t = -1
        self.features = features
        self._columns = columns
        self._data = data
        self._numbers = numbers
        self._conditions = conditions
        self._changed = changed

    def row(self, field: int) -> np.ndarray:
        """A copy of one field at the current bar, over all symbols."""
        return self._data[self.t, field].copy()

    def window(self, field: int, n: int) -> np.ndarray:
        """A copy of the last `n` clock bars (fewer at the start) of one field: [rows, symbols]."""
        return self._data[max(0, self.t + 1 - n) : self.t + 1, field].copy()

    def column(self, field: int, j: int, n: int | None) -> np.ndarray:
        """The last `n` (all if None) values of one field over symbol j's own bars."""
        t = self.t
        if n is not None and not np.isnan(self._data[t, CLOSE, j]):
            recent = self._data[max(0, t + 1 - n) : t + 1, :, j]
            if not np.isnan(recent[:, CLOSE]).any():  # no gap in the window: the fast path
                return recent[:, field].copy()
        past = self._data[: t + 1, :, j]
        values = past[~np.isnan(past[:, CLOSE]), field]
        return values[-n:].copy() if n is not None else values.copy()

    def value(self, field: int, j: int) -> float:
        """One field of symbol j at the current bar (NaN if it has no bar now)."""
        return float(self._data[self.t, field, j])

    def feature(self, feature) -> np.ndarray:
        """A copy of a declared feature's values at the current bar (booleans for conditions)."""
        return (self._conditions if feature.boolean else self._numbers)[self.t, self._columns[feature]].copy()

    def changed(self, k: int) -> bool:
        """Whether the k-th declared feature changed at the current bar (for any symbol)."""
        return bool(self._changed[self.t, k])
