"""Panel / MarketView (sqlorch/engine/market.py) and BarContext (sqlorch/engine/context.py).

Expected values are written out by hand from the tiny datasets below.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
import types
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from sqlorch import BacktestConfig, BacktestEngine, Bar, Signal
from sqlorch.bars.panel import CLOSE, HIGH, LOW, MARK, OPEN, VOLUME, Panel
from sqlorch.engine import kernel
from sqlorch.engine import layout as L
from sqlorch.engine.context import BarContext
from sqlorch.engine.market import Market
from sqlorch.engine.sleeve import SleeveView
from sqlorch.errors import UnknownSymbolError
from sqlorch.money import MICRO

NAN = math.nan

# AAPL: every day 0..5. MSFT: days 0, 2, 3, 5 (gaps at 1 and 4). GOOG: starts on day 3.
SPEC = {
    "AAPL": [(0, 9.5, 10.5, 9.0, 10.0), (1, 10.5, 11.5, 10.0, 11.0), (2, 11.5, 12.5, 11.0, 12.0),
             (3, 12.5, 13.5, 12.0, 13.0), (4, 13.5, 14.5, 13.0, 14.0), (5, 14.5, 15.5, 14.0, 15.0)],
    "MSFT": [(0, 19.0, 21.0, 18.0, 20.0), (2, 21.0, 23.0, 20.0, 22.0), (3, 22.0, 24.0, 21.0, 23.0),
             (5, 24.0, 26.0, 23.0, 25.0)],
    "GOOG": [(3, 29.0, 31.0, 28.0, 30.0), (4, 30.0, 32.0, 29.0, 31.0), (5, 31.0, 33.0, 30.0, 32.0)],
}
SYMBOLS = ("AAPL", "GOOG", "MSFT")  # sorted
A, G, M = range(3)


@pytest.fixture
def bars(make_bars):
    return make_bars(SPEC)


class _Stepped:
    """A market and one strategy's context over it, moved bar by bar as the stepper does."""

    def __init__(self, panel, ctx, market):
        self.panel, self.ctx, self.market = panel, ctx, market

    @property
    def t(self):
        return self.market.t

    def reveal(self, i, rows):
        self.market.reveal(i, rows)
        self.ctx.at(i)


class _Sleeve(SleeveView):
    """A sleeve of its own engine state, booking fills with the engine's rule."""

    def __init__(self, capital: Decimal, symbols: int):
        self.state = np.zeros((1, L.SL_COLUMNS), dtype=np.int64)
        self.state[0, [L.SL_CASH, L.SL_ALLOCATED, L.SL_INITIAL]] = int(capital * MICRO)
        self.qty, self.basis = np.zeros((1, symbols), dtype=np.int64), np.zeros((1, symbols), dtype=np.int64)
        super().__init__("probe", self.state[0], self.qty[0])

    def apply_fill(self, j, quantity, price, commission):
        return kernel.apply_fill(self.state, self.qty, self.basis, 0, j, quantity, price, commission)


def _context(bars, capital=Decimal("1000")):
    panel = Panel.from_bars(bars)
    market = Market(panel.symbols, panel.timestamps.astype("datetime64[us]").tolist(), panel.data.shape)
    sleeve = _Sleeve(capital, len(panel.symbols))
    ctx = BarContext("probe", market.view(), sleeve)
    return panel, _Stepped(panel, ctx, market), sleeve, ctx


def _advance(panel, view, t):
    for i in range(view.t + 1, t + 1):
        view.reveal(i, panel.data[i])


def _eq(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


# ------------------------------------------------------------------------------ Panel


def test_panel_layout_from_unsorted_bars(bars, day):
    shuffled = bars.sample(fraction=1.0, shuffle=True, seed=7)
    panel = Panel.from_bars(shuffled)
    assert panel.symbols == SYMBOLS
    assert len(panel) == 6
    assert panel.timestamps.tolist() == [np.datetime64(day(i), "us") for i in range(6)]
    assert panel.data.shape == (6, 6, 3)
    # data[t, field, symbol]
    assert panel.data[0, OPEN, A] == 9.5 and panel.data[0, HIGH, A] == 10.5
    assert panel.data[0, LOW, A] == 9.0 and panel.data[0, CLOSE, A] == 10.0
    assert panel.data[0, VOLUME, A] == 1000.0
    assert panel.data[3, OPEN, G] == 29.0 and panel.data[5, CLOSE, M] == 25.0
    # no bar -> NaN in every price field
    for t, j in [(1, M), (4, M), (0, G), (1, G), (2, G)]:
        assert np.isnan(panel.data[t, :VOLUME + 1, j]).all()


def test_panel_marks_forward_filled_zero_before_first_bar(bars):
    panel = Panel.from_bars(bars)
    _eq(panel.data[:, MARK, A], [10, 11, 12, 13, 14, 15])
    _eq(panel.data[:, MARK, M], [20, 20, 22, 23, 23, 25])
    _eq(panel.data[:, MARK, G], [0, 0, 0, 30, 31, 32])


def test_marketview_reveals_one_bar_at_a_time(bars):
    panel = Panel.from_bars(bars)
    market = Market(panel.symbols, [], panel.data.shape)
    view = market.view()
    assert market.t == -1
    assert np.isnan(view._data).all()
    market.reveal(0, panel.data[0])
    view.t = 0
    assert market.t == 0
    assert np.isnan(view._data[1:]).all()  # nothing after bar 0 stored
    _eq(view.row(CLOSE), [10, NAN, 20])
    market.reveal(1, panel.data[1])
    view.t = 1
    assert np.isnan(view._data[2:]).all()
    _eq(view.window(CLOSE, 5), [[10, NAN, 20], [11, NAN, NAN]])
    assert view.value(CLOSE, A) == 11.0 and math.isnan(view.value(CLOSE, M))
    # the market owns its buffer: changing the panel afterwards does not change what was revealed
    panel.data[1, CLOSE, A] = 777.0
    assert view.value(CLOSE, A) == 11.0


def test_a_strategy_cannot_change_what_another_sees(bars):
    """Issue 20 item 10: every array a view holds is read-only memory for good, the names and the
    clock are immutable, and each strategy's view is its own."""
    panel = Panel.from_bars(bars)
    market = Market(panel.symbols, panel.timestamps.astype("datetime64[us]").tolist(), panel.data.shape)
    mine, theirs = market.view(), market.view()
    market.reveal(0, panel.data[0])
    mine.t = theirs.t = 0
    for array in (mine._data, mine._numbers, mine._conditions, mine._changed):
        with pytest.raises(ValueError):
            array[...] = 0
        with pytest.raises(ValueError):
            array.flags.writeable = True
        with pytest.raises(ValueError):
            np.asarray(array.base)[...] = 0  # nor through what backs it
    with pytest.raises(TypeError):
        mine.timestamps[0] = None
    with pytest.raises(TypeError):
        mine.index["AAPL"] = 2
    with pytest.raises(TypeError):
        mine.features[object()] = 0
    mine.t = 5  # its own view: the other strategy still sees bar 0
    mine._data = np.zeros_like(mine._data)
    assert theirs.t == 0 and theirs.value(CLOSE, A) == 10.0


# ------------------------------------------------------------------------------ BarContext


def test_scalar_access(bars, day):
    panel, view, sleeve, ctx = _context(bars)
    _advance(panel, view, 4)
    assert ctx.t == 4 and ctx.ts == day(4)
    assert ctx.symbols == SYMBOLS
    assert ctx.index("MSFT") == 2
    assert ctx.bar("AAPL") == Bar(13.5, 14.5, 13.0, 14.0, 1000.0)
    assert ctx.bar("AAPL").close == 14.0
    assert ctx.bar("MSFT") is None  # no bar at day 4
    assert ctx.bar("GOOG") == Bar(30.0, 32.0, 29.0, 31.0, 1000.0)
    _advance(panel, view, 5)
    assert ctx.bar("MSFT") == Bar(24.0, 26.0, 23.0, 25.0, 1000.0)


def test_history_over_own_bars_with_gaps(bars):
    panel, view, sleeve, ctx = _context(bars)
    _advance(panel, view, 2)
    assert ctx.history("GOOG").size == 0  # not started yet
    assert ctx.history("GOOG", n=3).size == 0
    _eq(ctx.history("MSFT"), [20, 22])
    _advance(panel, view, 4)  # MSFT has no bar now
    _eq(ctx.history("MSFT", n=2), [22, 23])
    _eq(ctx.history("MSFT", "high", n=10), [21, 23, 24])
    _advance(panel, view, 5)
    _eq(ctx.history("AAPL", n=3), [13, 14, 15])  # no gap: the fast path
    _eq(ctx.history("AAPL", "open", n=2), [13.5, 14.5])
    _eq(ctx.history("AAPL"), [10, 11, 12, 13, 14, 15])
    _eq(ctx.history("MSFT", n=1), [25])
    _eq(ctx.history("MSFT", n=2), [23, 25])  # the window crosses the day-4 gap
    _eq(ctx.history("MSFT", n=3), [22, 23, 25])
    _eq(ctx.history("MSFT", n=100), [20, 22, 23, 25])
    _eq(ctx.history("MSFT", "low"), [18, 20, 21, 23])
    _eq(ctx.history("GOOG", n=10), [30, 31, 32])
    _eq(ctx.history("GOOG", "volume", n=2), [1000, 1000])


def test_vectorized_access(bars):
    panel, view, sleeve, ctx = _context(bars)
    _advance(panel, view, 1)
    _eq(ctx.values(), [11, NAN, NAN])
    _eq(ctx.values("open"), [10.5, NAN, NAN])
    _eq(ctx.has_bar, [True, False, False])
    assert ctx.has_bar.dtype == bool
    _eq(ctx.marks, [11, 0, 20])
    _eq(ctx.window("close", 100), [[10, NAN, 20], [11, NAN, NAN]])
    _advance(panel, view, 4)
    _eq(ctx.values("close"), [14, 31, NAN])
    _eq(ctx.has_bar, [True, True, False])
    _eq(ctx.marks, [14, 31, 23])
    _eq(ctx.window("close", 2), [[13, 30, 23], [14, 31, NAN]])
    _eq(ctx.window("high"), [[14.5, 32, NAN]])  # default n=1
    assert ctx.window("close", 3).shape == (3, 3)


def test_positions_cash_and_equity(bars):
    panel, view, sleeve, ctx = _context(bars, Decimal("1000"))
    _advance(panel, view, 3)
    assert ctx.cash == Decimal("1000") and ctx.equity == Decimal("1000")
    _eq(ctx.positions, [0, 0, 0])
    sleeve.apply_fill(A, 10 * MICRO, 13 * MICRO, 1 * MICRO)  # long 10 AAPL at 13, $1 commission
    sleeve.apply_fill(M, -4 * MICRO, 23 * MICRO, 0)  # short 4 MSFT at 23
    assert ctx.position("AAPL") == 10.0 and ctx.position("MSFT") == -4.0 and ctx.position("GOOG") == 0.0
    _eq(ctx.positions, [10, 0, -4])
    assert ctx.cash == Decimal("1000") - 130 - 1 + 92  # 961
    _advance(panel, view, 4)  # AAPL 14, MSFT marked at its last close 23
    assert isinstance(ctx.equity, Decimal)
    assert ctx.equity == Decimal("961") + 10 * 14 - 4 * 23  # 1009
    _advance(panel, view, 5)  # AAPL 15, MSFT 25
    assert ctx.equity == Decimal("961") + 10 * 15 - 4 * 25  # 1011


def test_unknown_symbol_and_field_errors(bars):
    panel, view, sleeve, ctx = _context(bars)
    _advance(panel, view, 0)
    for call in (lambda: ctx.bar("APPL"), lambda: ctx.history("APPL"), lambda: ctx.position("APPL"),
                 lambda: ctx.index("APPL")):
        with pytest.raises(KeyError) as info:
            call()
        assert "unknown symbol 'APPL'" in str(info.value)
        assert "did you mean 'AAPL'?" in str(info.value)
    with pytest.raises(KeyError) as info:
        ctx.history("ZZZZZZ")
    assert "did you mean" not in str(info.value)
    for call in (lambda: ctx.history("AAPL", "closes"), lambda: ctx.values("closes"),
                 lambda: ctx.window("closes", 2)):
        with pytest.raises(KeyError) as info:
            call()
        message = str(info.value)
        assert "unknown field 'closes'" in message
        assert "open, high, low, close, volume" in message
        assert "did you mean 'close'?" in message
    with pytest.raises(ValueError, match="at least 1"):
        ctx.history("AAPL", n=0)
    with pytest.raises(ValueError, match="at least 1"):
        ctx.window("close", 0)


def test_returned_arrays_are_private_copies(bars):
    panel, view, sleeve, ctx = _context(bars)
    _advance(panel, view, 5)
    sleeve.apply_fill(A, 2 * MICRO, 15 * MICRO, 0)
    getters = {
        "history fast": lambda: ctx.history("AAPL", n=3),
        "history gap": lambda: ctx.history("MSFT", n=3),
        "history all": lambda: ctx.history("MSFT"),
        "values": lambda: ctx.values("close"),
        "window": lambda: ctx.window("close", 4),
        "has_bar": lambda: ctx.has_bar,
        "marks": lambda: ctx.marks,
        "positions": lambda: ctx.positions,
    }
    for name, get in getters.items():
        before = get()
        assert before.base is None, name
        before[...] = 0 if before.dtype == bool else -1.0
        after = get()
        assert not np.shares_memory(before, after), name
        assert not np.array_equal(before, after, equal_nan=True), name
    _eq(ctx.history("MSFT"), [20, 22, 23, 25])
    _eq(ctx.positions, [2, 0, 0])
    assert ctx.equity == Decimal("1000")


# ------------------------------------------------------------------------------ the future is unreachable

SENTINEL = 9999.0


def _sentinel_bars(make_bars, day, cut):
    """Eight days; every bar on or after day `cut` has all prices and volume = SENTINEL."""
    spec = {
        "AAPL": [(d, 10.0 + d) for d in range(8)],
        "MSFT": [(d, 20.0 + d) for d in (0, 1, 3, 4, 6, 7)],
        "GOOG": [(d, 30.0 + d) for d in range(2, 8)],
    }
    frame = make_bars(spec)
    future = pl.col("ts") >= day(cut)
    return frame.with_columns(
        [pl.when(future).then(SENTINEL).otherwise(pl.col(c)).alias(c)
         for c in ("open", "high", "low", "close", "volume")])


def _numbers(value):
    """Every number inside a value, walking arrays (and their .base chain), tuples and lists."""
    if isinstance(value, np.ndarray):
        out = [value]
        while isinstance(value, np.ndarray) and value.base is not None:
            value = value.base
            out.append(value)
        return [float(x) for arr in out if isinstance(arr, np.ndarray) and arr.dtype.kind in "fiub"
                for x in np.asarray(arr, dtype=float).ravel()]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, (int, float, Decimal, np.number)) and not isinstance(value, bool):
        return [float(value)]
    return []


def _reachable(root):
    """Every object reachable from `root` (private attributes included), not following
    classes, modules or functions."""
    seen, stack, found = set(), [root], []
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
            types.CodeType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        found.append(obj)
        if isinstance(obj, np.ndarray):
            if obj.base is not None:
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return found


class FutureProbe:
    """Tries every public way to read prices at each bar, and records what it saw."""

    name = "probe"

    def __init__(self, cut):
        self.cut = cut
        self.seen: dict[int, list[float]] = {}
        self.problems: list[str] = []
        self.ts: dict[int, dt.datetime] = {}

    def observe(self, ctx):
        out = []
        for s in ctx.symbols:
            for f in ("open", "high", "low", "close", "volume"):
                out.append(ctx.history(s, f))
                out.append(ctx.history(s, f, n=10**9))
                out.append(ctx.history(s, f, n=1))
                out.append(ctx.history(s, f, n=ctx.t + 5))
            out.append(ctx.bar(s))
            out.append(ctx.position(s))
        for f in ("open", "high", "low", "close", "volume"):
            out.append(ctx.values(f))
            out.append(ctx.window(f, 10**9))
            out.append(ctx.window(f, 1))
        out += [ctx.marks, ctx.has_bar, ctx.positions, ctx.cash, ctx.equity]
        for name in dir(ctx):  # every public attribute that is not a method
            if not name.startswith("_"):
                value = getattr(ctx, name)
                if not callable(value):
                    out.append(value)
        return out

    def on_bar(self, ctx):
        t = ctx.t
        self.ts[t] = ctx.ts
        first = self.observe(ctx)
        snapshot = [item.copy() if isinstance(item, np.ndarray) else item for item in first]
        # vandalise every array we were given, then look again: nothing may change
        for item in first:
            if isinstance(item, np.ndarray) and item.size:
                item[...] = True if item.dtype == bool else -12345.0
        second = self.observe(ctx)
        if t < self.cut:
            numbers = _numbers(first) + _numbers(second)
            if SENTINEL in numbers:
                self.problems.append(f"bar {t}: sentinel visible through the public API")
            deep = [x for obj in _reachable(ctx) for x in _numbers(obj)]
            if SENTINEL in deep:
                self.problems.append(f"bar {t}: sentinel stored somewhere reachable from ctx")
            self.seen[t] = numbers
        if len(snapshot) != len(second) or any(
                not np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)
                for a, b in zip(snapshot, second)
                if isinstance(a, np.ndarray) or isinstance(b, np.ndarray)):
            self.problems.append(f"bar {t}: mutating returned arrays changed later answers")
        if t == 0:
            return [Signal.buy("AAPL", 0.3), Signal.buy("MSFT", 0.3)]
        if t == 1:
            return [Signal.buy("GOOG", 0.2)]  # no price yet: rejected
        if t == 2:
            return [Signal.buy("GOOG", 0.2)]
        return None


@pytest.mark.parametrize(("cut", "fill"), [(3, "close"), (5, "next_open")])
def test_future_is_unreachable_from_on_bar(make_bars, day, cut, fill):
    bars = _sentinel_bars(make_bars, day, cut)
    probe = FutureProbe(cut)
    config = BacktestConfig(initial_capital=Decimal("10000"), fill=fill, warehouse=None, log_dir=None)
    BacktestEngine(probe, config).run(bars)
    assert probe.problems == []
    assert sorted(probe.seen) == list(range(cut))  # the probe really ran before the cut
    assert [probe.ts[t] for t in range(8)] == [day(t) for t in range(8)]
    # before the cut the probe saw real prices (AAPL close of bar t is 10 + t)
    for t in range(cut):
        assert 10.0 + t in probe.seen[t]


def test_sentinel_becomes_visible_once_it_is_the_past(make_bars, day):
    """Control for the test above: the same probe does see the sentinel at and after the cut."""
    bars = _sentinel_bars(make_bars, day, 3)
    panel, view, sleeve, ctx = _context(bars)
    probe = FutureProbe(cut=0)
    _advance(panel, view, 2)
    assert SENTINEL not in _numbers(probe.observe(ctx))
    _advance(panel, view, 3)
    assert SENTINEL in _numbers(probe.observe(ctx))
    assert SENTINEL in [x for obj in _reachable(ctx) for x in _numbers(obj)]


def test_an_unknown_symbol_names_the_closest_known_ones() -> None:
    assert str(UnknownSymbolError("AAPLE", ("AAPL", "MSFT"))) == "unknown symbol 'AAPLE' (did you mean 'AAPL'?)"
    few = str(UnknownSymbolError("NVDA", ("BRVO", "ALFA")))
    assert few.startswith("unknown symbol 'NVDA'; the run's symbols are ") and "'BRVO'" in few and "'ALFA'" in few
    many = [f"S{k:03d}" for k in range(200)] + ["MVDQ"]
    message = str(UnknownSymbolError("NVDA", many))
    assert message.startswith("unknown symbol 'NVDA'; the closest of the run's 201 symbols are 'MVDQ', ")
    assert len(re.findall(r"'[A-Z0-9]+'", message)) == 1 + 5  # the symbol and five of the run's
    assert isinstance(UnknownSymbolError("X", ()), KeyError)
