"""The engine decides, SQL accounts (issue 23): the books the compiled engine keeps while it steps
(each sleeve's cash, equity and positions at the end of every bar, `Stepper(books=True)`) equal
the warehouse's SQL views (sleeve_cash, strategy_equity, positions) at every bar of randomly
drawn orchestrated runs: conflicts in every mode, rebalancing transfers, costs, both fill
modes, fractional and whole lots.
"""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import duckdb
import polars as pl
from hypothesis import given
from test_properties import examples, run_orchestrated, warehouse_path  # noqa: F401  (a fixture)
from test_properties_rebalance import rebalancing_cases

from sqlorch import BacktestConfig
from sqlorch.backtest import runner
from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import Panel
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper
from sqlorch.money import MICRO, isclose
from sqlorch.strategies import BuyAndHold


class KeepingBooks(Stepper):
    """The runner's stepper, asked to keep its books; the last outcome kept for the test."""

    last = None
    symbols: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, books=True, **kwargs)

    def run(self):
        KeepingBooks.last, KeepingBooks.symbols = outcome, _ = super().run(), self.panel.symbols
        return outcome


def engine_and_sql(case, path: str):
    market, scripts_, weights, cfg = case
    with mock.patch.object(runner, "Stepper", KeepingBooks):
        result, strategies = run_orchestrated(market, scripts_, weights, cfg, path)
    books = KeepingBooks.last.books
    with duckdb.connect(path, read_only=True) as con:
        equity = con.execute("SELECT strategy_id, bar_index, cash, equity FROM strategy_equity WHERE run_id = ? "
                             "ORDER BY strategy_id, bar_index", [result.run_id]).fetchall()
        cash = con.execute("SELECT strategy_id, bar_index, cash FROM sleeve_cash WHERE run_id = ?",
                           [result.run_id]).fetchall()
        positions = con.execute("SELECT strategy_id, bar_index, symbol, quantity FROM positions WHERE run_id = ?",
                                [result.run_id]).fetchall()
    return market, [s.name for s in strategies], books, equity, cash, positions


@examples(30)
@given(case=rebalancing_cases())
def test_the_engines_books_equal_the_sql_books_at_every_bar(warehouse_path, case) -> None:  # noqa: F811
    market, ids, books, equity, cash, positions = engine_and_sql(case, warehouse_path)
    n_bars = len(market.clock)
    assert books.cash.shape == (n_bars, len(ids)) and len(equity) == n_bars * len(ids)
    sleeve = {sid: i for i, sid in enumerate(ids)}
    for sid, t, sql_cash, sql_equity in equity:
        i = sleeve[sid]
        assert sql_cash == Decimal(int(books.cash[t, i])) / MICRO, (sid, t, sql_cash, books.cash[t, i])
        assert isclose(float(sql_equity), float(books.equity[t, i])), (sid, t, sql_equity, books.equity[t, i])
    assert sorted((sid, t, c) for sid, t, c in cash) == sorted((sid, t, c) for sid, t, c, _ in equity)
    held = {(sid, t, symbol): quantity for sid, t, symbol, quantity in positions}
    for t, i, j in zip(*books.positions.nonzero()):
        key = (ids[i], int(t), KeepingBooks.symbols[j])
        assert held.pop(key) == Decimal(int(books.positions[t, i, j])) / MICRO, key
    assert not held, f"SQL holds positions the engine does not: {held}"


def test_books_are_kept_only_when_asked_for() -> None:
    """A run hands over no per-bar books unless asked: the warehouse's books are SQL's."""
    bars = load_bars(_bars())
    settings = BacktestConfig(warehouse=None, log_dir=None, commission_bps=0, slippage_bps=0).engine_settings()

    def outcome(**kwargs):
        return Stepper(Panel.from_bars(bars), [("b", BuyAndHold())], [Decimal(1000)], [Decimal(1)], settings,
                       EventLog("test", "backtest"), **kwargs).run()

    assert outcome().books is None
    books = outcome(books=True).books
    assert books.cash.tolist() == [[1000 * MICRO], [0]]  # bought at the open of bar 1
    assert books.positions[:, 0, 0].tolist() == [0, 10 * MICRO] and books.equity[:, 0].tolist() == [1000.0, 1100.0]


def _bars() -> pl.DataFrame:
    return pl.DataFrame({"symbol": ["A", "A"], "ts": ["2024-01-02", "2024-01-03"], "open": [100.0, 100.0],
                         "high": [100.0, 110.0], "low": [100.0, 100.0], "close": [100.0, 110.0],
                         "volume": [1.0, 1.0]})
