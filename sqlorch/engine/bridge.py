"""What the compiled engine asks Python for, through `objmode` (sqlorch.engine.kernel): the
signals of Python strategies, Python conflict resolvers, rebalancing plans, exact sizing at a
lot boundary, progress. Each run registers its `Callbacks` under a key while it steps; the
kernel passes the key back with every call."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Protocol

import numpy as np

from sqlorch.money import MICRO, ratio_of

_RUNS: dict[int, Any] = {}
_KEYS = itertools.count(1)
_LOCK = threading.Lock()


class Callbacks(Protocol):
    """What a stepping run answers (see sqlorch.engine.stepper.Stepper)."""

    def call_strategy(self, i: int, t: int) -> int: ...

    def resolve(self, t: int, j: int, n: int) -> None: ...

    def exact_target(self, weight: float, cash: int, i: int, t: int, j: int, lot: int) -> int: ...

    def rebalance(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]: ...

    def sleeve_limit(self, i: int, t: int, amount: float) -> None: ...

    def progress(self, t: int) -> None: ...


def register(callbacks: Callbacks) -> int:
    """A key for the kernel to reach `callbacks` by, until `unregister(key)`."""
    with _LOCK:
        key = next(_KEYS)
        _RUNS[key] = callbacks
    return key


def unregister(key: int) -> None:
    with _LOCK:
        _RUNS.pop(key, None)


def call_strategy(key: int, i: int, t: int) -> int:
    return _RUNS[key].call_strategy(i, t)


def resolve(key: int, t: int, j: int, n: int) -> None:
    _RUNS[key].resolve(t, j, n)


def rebalance(key: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    return _RUNS[key].rebalance(t)


def sleeve_limit(key: int, i: int, t: int, amount: float) -> None:
    _RUNS[key].sleeve_limit(i, t, amount)


def progress(key: int, t: int) -> None:
    _RUNS[key].progress(t)


def exact_target(key: int, weight: float, cash: int, i: int, t: int, j: int, lot: int) -> int:
    return _RUNS[key].exact_target(weight, cash, i, t, j, lot)


def exact_quantity(weight: float, cash: int, quantities: np.ndarray, marks: np.ndarray, price: int, lot: int) -> int:
    """floor_to_lot(weight x equity / price) in exact integers (micro-shares): the weight as
    written (0.1 is 1/10), the equity exactly (cash plus positions at their marks)."""
    numerator, denominator = ratio_of(float(weight))  # a numpy float when the engine runs interpreted
    held = np.flatnonzero(quantities)
    equity = int(cash) * MICRO + sum(int(quantities[j]) * int(marks[j]) for j in held.tolist())  # pico units
    return max(numerator * equity // (denominator * int(price)), 0) // lot * lot
