"""Compile the engine ahead of the first run: `python -m sqlorch.engine.warm`.

The compiled engine (kernel.py) is cached on disk by numba, per argument types. Installing
with `make` runs this module once, so the first backtest compiles nothing: it steps a tiny run
with a rule (an RSI among its features) and a Python strategy (one compiled signature serves every run: the stepper hands
the kernel arrays of fixed types and layouts), and calls a built-in resolver from Python. `warm()`
returns how many kernels it compiled (0 when the cache was already warm).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from sqlorch.bars.panel import CLOSE, FIELDS, MARK, Panel
from sqlorch.engine import features, kernel
from sqlorch.engine.conflicts import ConflictOrder, get_resolver
from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import Signal
from sqlorch.engine.events import EventLog
from sqlorch.engine.features import rsi, sma
from sqlorch.engine.rule import Rule
from sqlorch.engine.settings import EngineSettings
from sqlorch.engine.stepper import Stepper

ENTRY_POINTS = (kernel.run, kernel.stand, features._wilder)  # what Python calls; the rest is compiled into them


class _Buyer:
    name = "buyer"

    def on_bar(self, ctx):
        return [Signal.buy(ctx.symbols[0], 0.5)]


def _panel(bars: int = 4) -> Panel:
    data = np.full((bars, len(FIELDS) + 1, 1), 10.0)
    data[:, CLOSE, 0] = data[:, MARK, 0] = 10.0 + np.arange(bars)
    return Panel(np.arange(bars).astype("datetime64[D]").astype("datetime64[us]"), ("A",), data)


def warm() -> int:
    """Step the tiny runs (their results are thrown away); the number of kernels compiled."""
    before = sum(len(f.stats.cache_misses) for f in ENTRY_POINTS)
    costs = Costs((1, 10_000), 0, (0, 1), 1)
    strategies = [("rule", Rule((sma(2) > sma(3)) & (rsi(2) < 101))), ("buyer", _Buyer())]
    half = Decimal("0.5")
    Stepper(_panel(), strategies, [Decimal(100_000)] * 2, [half] * 2, EngineSettings(costs),
            EventLog("warm", "warm")).run()
    order = ConflictOrder(0, "rule", "A", 1, 1, 1)
    get_resolver("weighted").resolve([order, order])
    return sum(len(f.stats.cache_misses) for f in ENTRY_POINTS) - before


if __name__ == "__main__":
    print(f"sqlorch: the compiled engine is ready ({warm()} kernels compiled)")
