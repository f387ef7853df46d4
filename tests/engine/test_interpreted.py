"""The compiled engine against itself interpreted: the same kernel source run by Python
(NUMBA_DISABLE_JIT=1, in a child process) must produce the same records, row for row, as the
machine code numba made of it.

numba compiles a subset of Python with its own typing (fixed-width integers that wrap, integer
division and float conversions of its own), so a rule can read right in the source and decide
differently compiled. The runs below are chosen to take every path of the kernel: each
conflict mode and a Python resolver, shorts, lots, both fill modes, clipped and rejected
orders, costs, drift rebalancing, isolated sleeves with a failing strategy, rules beside
Python strategies, bars missing. Run as a script (`python test_interpreted.py OUT`), this file
writes the records of every run to OUT.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from decimal import Decimal as D

import numpy as np
import polars as pl

from sqlorch import OrchestratorConfig, Rule, Signal
from sqlorch.bars.panel import Panel
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.engine.conflicts import _REGISTRY, register_resolver
from sqlorch.engine.domain import Orders
from sqlorch.engine.events import EventLog
from sqlorch.engine.features import sma
from sqlorch.engine.stepper import Stepper
from sqlorch.engine.strategy import own_id
from sqlorch.strategies import DonchianBreakout, Momentum, SMACross

BOUND = "sleeve 'a' reached {}, past 9e12, the largest amount a sleeve may hold; start with less capital"
TABLES = ("signals", "decisions", "fills", "conflicts", "conflict_orders", "transfers", "rebalances")


class Random:
    """Random signals on random bars (seeded): buys, sells and exits of any weight up to 1.5."""

    def __init__(self, name: str, seed: int, fail_at: int | None = None):
        self.name, self.seed, self.fail_at = name, seed, fail_at

    def on_start(self, ctx):
        self.rng = np.random.default_rng(self.seed)

    def on_bar(self, ctx):
        if ctx.t == self.fail_at:
            raise RuntimeError("planned failure")
        signals = []
        for _ in range(self.rng.integers(0, 4) if self.rng.random() < 0.5 else 0):
            symbol = ctx.symbols[self.rng.integers(len(ctx.symbols))]
            side = self.rng.integers(3)
            weight = round(float(self.rng.random()) * 1.5, 3)
            signals.append(Signal.buy(symbol, weight) if side == 0 else Signal.sell(symbol, weight) if side == 1
                           else Signal.exit(symbol))
        return signals


class RandomOrders(Random):
    """Random's signals, their buys and sells carrying random order options (SPEC §8): stops,
    take-profits and trailing stops as fractions or prices, limit and stop entries, expiries."""

    def on_start(self, ctx):
        super().on_start(ctx)
        self.options_rng = np.random.default_rng(self.seed + 1000)

    def on_bar(self, ctx):
        signals = super().on_bar(ctx)
        rng, dressed = self.options_rng, []
        for signal in signals:
            mark = float(ctx.marks[ctx.index(signal.symbol)]) or 1.0
            options = {}
            if signal.side != "exit" and rng.random() < 0.7:
                stop = rng.integers(4)
                if stop == 1:
                    options["stop_loss"] = float(rng.choice([0.01, 0.03, 0.1]))
                elif stop == 2:
                    options["trail"] = float(rng.choice([0.02, 0.05]))
                elif stop == 3:
                    options["stop_loss_price"] = round(mark * (0.97 if signal.side == "buy" else 1.03), 4)
                take = rng.integers(3)
                if take == 1:
                    options["take_profit"] = float(rng.choice([0.02, 0.05, 0.2]))
                elif take == 2:
                    options["take_profit_price"] = round(mark * (1.04 if signal.side == "buy" else 0.96), 4)
                entry = rng.integers(4)
                if entry >= 2:
                    options["limit" if entry == 2 else "stop"] = round(mark * float(rng.choice([0.98, 1.0, 1.02])), 4)
                    if rng.random() < 0.5:
                        options["expires"] = int(rng.integers(1, 4))
            dressed.append(Signal(signal.symbol, signal.side, signal.weight, signal.reason,
                                  Orders.of(signal.side, **options)) if options else signal)
        return dressed


class LargestWins:
    """A Python resolver: the largest order stands alone."""

    nets = False

    def resolve(self, orders):
        return [max(orders, key=lambda o: abs(o.quantity))]


class Script:
    """Given signals on given bars: {bar: [Signal, ...]}."""

    def __init__(self, name: str, plan: dict):
        self.name, self.plan = name, plan

    def on_bar(self, ctx):
        return self.plan.get(ctx.t, [])


def synthetic(seed: int) -> Panel:
    """Four symbols over 120 days, each missing some bars."""
    bars = synthetic_bars(symbols=4, years=1, seed=seed).head(4 * 120)
    keep = np.random.default_rng(seed).random(len(bars)) > 0.08
    return Panel.from_bars(bars.filter(pl.Series(keep)))


def flat(prices: list[float], late: int | None = None) -> Panel:
    """Symbol A, open = high = low = close = the price of each day; and B, at 5, from day `late`."""
    days = np.arange(len(prices)).astype("datetime64[D]").astype("datetime64[us]")
    bars = pl.DataFrame({"symbol": "A", "ts": days, "open": prices, "high": prices, "low": prices, "close": prices,
                         "volume": 1.0})
    if late is not None:
        bars = pl.concat([bars, bars[late:].with_columns(symbol=pl.lit("B"), open=5.0, high=5.0, low=5.0, close=5.0)])
    return Panel.from_bars(bars)


def _runs() -> dict[str, tuple]:
    """name -> (panel, strategies and weights, config options, isolated)."""
    def mixed(seed):
        return [(Random("a", seed), D("0.3")), (Random("b", seed + 1), D("0.3")), (SMACross(3, 8), D("0.2")),
                (Rule(sma(2) < sma(5), sma(2) > sma(4), weight=0.4, side="short", name="r"), D("0.2"))]

    runs = {}
    for k, mode in enumerate(("net_signal", "first_wins", "cancel_both", "weighted", "interpreted_largest")):
        runs[f"{mode}"] = (synthetic(k), mixed(10 * k), dict(
            conflict_mode=mode, allow_short=True, commission_bps=5.0, commission_per_order=D("1.5"),
            slippage_bps=20.0, priorities={"b": 1} if mode == "first_wins" else None), False)
    runs["close, reject, whole lots"] = (synthetic(5), mixed(50), dict(
        fill="close", on_insufficient_capital="reject", lot_size=10, commission_bps=1.0), False)
    runs["long only, fractional, rebalanced"] = (synthetic(6), mixed(60), dict(
        lot_size=0, rebalance_threshold=0.02, rebalance_every=3, commission_bps=2.0), False)
    runs["shorts rebalanced"] = (synthetic(7), mixed(70), dict(allow_short=True, rebalance_threshold=0.01), False)
    runs["isolated, one fails"] = (synthetic(8), [(Random("a", 80, fail_at=40), D(1)), (Momentum(5), D(1)),
                                                  (DonchianBreakout(6), D(1)), (Random("b", 81), D(1))],
                                   dict(allow_short=True, commission_bps=3.0), True)
    runs["a failure stops the run"] = (synthetic(9), [(Random("a", 90, fail_at=50), D("0.5")),
                                                      (SMACross(2, 5), D("0.5"))], {}, False)
    # a billion: fills above $4.6M take the engine's 128-bit products; a rate in absurdly fine
    # fractions takes Python's integers
    runs["a billion"] = (synthetic(10), mixed(100), dict(initial_capital=D(10**9), allow_short=True,
                                                         commission_bps=0.123456789012, lot_size=0), False)
    # weight x equity / price exactly on a lot, a weight asking for more than any sleeve holds,
    # a symbol without a price yet
    script = {0: [Signal.buy("A", 0.5), Signal.buy("B", 0.1)], 2: [Signal.buy("A", 0.75)], 3: [Signal.buy("A", 10**9)]}
    runs["exact targets"] = (flat([100.0] * 6, late=2), [(Script("a", script), D(1))], {}, False)
    # a sleeve's equity passing the bound at sizing, and its cash passing it at a fill
    boom = flat([1.0, 1.0, 1.0, 20.0, 20.0, 20.0])  # 5e11 shares (the most a target holds) gain 9.5e12
    runs["equity beyond the bound"] = (boom, [(Script("a", {0: [Signal.buy("A")], 3: [Signal.buy("A", 0.5)]}), D(1))],
                                       dict(initial_capital=D(10**12)), False)
    runs["cash beyond the bound"] = (boom, [(Script("a", {0: [Signal.buy("A")], 3: [Signal.exit("A")]}), D(1))],
                                     dict(initial_capital=D(10**12)), False)
    # order options (SPEC §8): protective orders, limit and stop entries, in sleeves that meet on
    # symbols, in both fill modes, with costs, shorts and rebalancing; a rule with a trailing stop
    def ordered(seed):
        return [(RandomOrders("a", seed), D("0.3")), (RandomOrders("b", seed + 1), D("0.3")),
                (Rule(sma(2) > sma(5), sma(2) < sma(4), trail=0.03, take_profit=0.05, name="r"), D("0.2")),
                (RandomOrders("c", seed + 2), D("0.2"))]

    runs["orders, netted, shorts, costs"] = (synthetic(11), ordered(110), dict(
        allow_short=True, commission_bps=5.0, commission_per_order=D("1.5"), slippage_bps=20.0), False)
    runs["orders, close, rebalanced"] = (synthetic(12), ordered(120), dict(
        fill="close", lot_size=10, rebalance_threshold=0.02, slippage_bps=10.0, on_insufficient_capital="reject"),
        False)
    runs["orders, isolated, first wins"] = (synthetic(13), ordered(130), dict(
        conflict_mode="first_wins", allow_short=True, lot_size=0), True)
    runs["long enough for progress"] = (flat([10.0 + (t % 50) for t in range(4200)]),
                                        [(Rule(sma(3) > sma(9), sma(3) < sma(9)), D(1))], {}, False)
    return runs


def records(name: str) -> dict[str, list]:
    """Every record of one run, its final books and how it ended."""
    panel, sleeves, options, isolated = _runs()[name]
    config = OrchestratorConfig(warehouse=None, log_dir=None, **{k: v for k, v in options.items() if v is not None})
    log = EventLog(name, "test")
    log.now = lambda: (0, "")  # events stamped alike in both processes
    progress = []
    stepper = Stepper(panel, [(own_id(s), s) for s, _ in sleeves],
                      [config.initial_capital * w for _, w in sleeves], [w for _, w in sleeves],
                      config.engine_settings(isolated=isolated), log, progress.append)
    outcome = stepper.run()
    found = {table: outcome.records.rows(table) for table in TABLES}
    found["books"] = [stepper.sleeve_rows.tolist(), stepper.positions.tolist()]
    found["ended"] = [outcome.bars_processed, str(outcome.failure and outcome.failure.error),
                      sorted(outcome.failed), progress]
    return found


def _all() -> dict[str, dict]:
    register_resolver("interpreted_largest", LargestWins())
    try:
        return {name: records(name) for name in _runs()}
    finally:
        _REGISTRY.pop("interpreted_largest")


def test_compiled_and_interpreted_engines_agree(tmp_path) -> None:
    out = tmp_path / "interpreted.pickle"
    subprocess.run([sys.executable, __file__, str(out)], env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, check=True)
    interpreted = pickle.loads(out.read_bytes())
    compiled = _all()
    assert list(compiled) == list(interpreted)
    for name, found in compiled.items():
        assert found["fills"], f"{name}: a run that fills nothing tests little"
        for table, rows in found.items():
            assert rows == interpreted[name][table], (name, table)
    assert any(found["conflicts"] for found in compiled.values())
    assert any(found["transfers"] for found in compiled.values())
    assert compiled["isolated, one fails"]["ended"][2] == [0]
    assert "planned failure" in compiled["a failure stops the run"]["ended"][1]
    assert compiled["equity beyond the bound"]["ended"][:2] == [4, BOUND.format("10,499,999,999,981")]
    assert compiled["cash beyond the bound"]["ended"][:2] == [5, BOUND.format("10,499,999,999,981")]
    assert compiled["long enough for progress"]["ended"][3] == [4096, 4200]  # the first report at once
    assert max(abs(f[6]) for f in compiled["a billion"]["fills"]) > 4_600_000
    order_types = {row[-1] for name, found in compiled.items() if name.startswith("orders") for row in found["fills"]}
    assert order_types == {"market", "limit", "stop", "stop_loss", "take_profit", "trailing_stop"}


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as file:
        pickle.dump(_all(), file)
