"""Shared fixtures for the unit tests: tiny hand-made bar sets, scripted strategies and
runs written to a DuckDB file in tmp_path (so decisions, events and runs can be read back).

Only fixtures live here (no imports from conftest in test modules)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

DAY0 = dt.datetime(2024, 1, 1)


def _day(i: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=i)


def _make_bars(spec: dict[str, list[tuple]], volume: float = 1000.0) -> pl.DataFrame:
    """Bars from {symbol: [row, ...]} with rows (day, close), (day, open, close) or
    (day, open, high, low, close); day is an index of days after 2024-01-01."""
    rows = []
    for symbol, bars in spec.items():
        for row in bars:
            if len(row) == 2:
                d, c = row
                o = h = l = c
            elif len(row) == 3:
                d, o, c = row
                h, l = max(o, c), min(o, c)
            else:
                d, o, h, l, c = row
            rows.append((symbol, _day(d), float(o), float(h), float(l), float(c), volume))
    return pl.DataFrame(rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"], orient="row")


class _Script:
    """A strategy that returns pre-planned signals: plan = {bar index: [Signal, ...] or
    callable(ctx) -> signals}. Records the bar indexes it was called at."""

    name = "script"

    def __init__(self, plan: dict[int, Any] | None = None, name: str | None = None):
        self.plan = plan or {}
        if name is not None:
            self.name = name
        self.calls: list[int] = []
        self.starts: list[int] = []

    def on_start(self, ctx) -> None:
        self.starts.append(ctx.t)

    def on_bar(self, ctx):
        self.calls.append(ctx.t)
        item = self.plan.get(ctx.t, [])
        return item(ctx) if callable(item) else list(item)


class _Run:
    """A finished (or failed) run in a warehouse file: query helpers."""

    def __init__(self, result: Any, run_id: str, db: Path, log: Path | None):
        self.result, self.run_id, self.db, self.log = result, run_id, db, log

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def fills(self) -> list[tuple]:
        """(bar_index, strategy_id, symbol, quantity, price, commission) in fill order."""
        return self.rows("SELECT bar_index, strategy_id, symbol, quantity, price, commission FROM fills "
                         "WHERE run_id = ? ORDER BY fill_id", [self.run_id])

    def decisions(self) -> list[tuple]:
        """(strategy_id, symbol, decided_bar, resolved_bar, requested, filled, kind, reason)."""
        return self.rows("SELECT strategy_id, symbol, decided_bar, resolved_bar, requested_quantity, "
                         "filled_quantity, kind, reason FROM decisions WHERE run_id = ? ORDER BY order_id",
                         [self.run_id])

    def events(self) -> list[dict]:
        """The events table's JSON lines, parsed, in order."""
        return [json.loads(p) for (p,) in self.rows(
            "SELECT payload FROM events WHERE run_id = ? ORDER BY seq", [self.run_id])]

    def jsonl(self) -> list[str]:
        assert self.log is not None
        return self.log.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def make_bars():
    return _make_bars


@pytest.fixture
def day():
    return _day


@pytest.fixture
def script():
    return _Script


@pytest.fixture(scope="session")
def shared_warehouse(tmp_path_factory) -> Path:
    """One DuckDB file for the runs of the whole session (runs are told apart by run_id; the
    schema is installed once, which keeps the tests fast)."""
    return tmp_path_factory.mktemp("warehouse") / "shared.duckdb"


@pytest.fixture
def file_config(tmp_path, shared_warehouse):
    """BacktestConfig / OrchestratorConfig factory writing to the session's DuckDB file and to
    a JSONL log directory in tmp_path."""
    from sqlorch import BacktestConfig, OrchestratorConfig

    def build(orchestrator: bool = False, **kwargs):
        kwargs.setdefault("warehouse", str(shared_warehouse))
        kwargs.setdefault("log_dir", str(tmp_path / "logs"))
        kwargs.setdefault("lock_timeout", 5.0)
        return (OrchestratorConfig if orchestrator else BacktestConfig)(**kwargs)

    return build


@pytest.fixture
def run_engine(file_config):
    """Run one strategy through the public BacktestEngine into a file warehouse."""
    from sqlorch import BacktestEngine

    def run(strategy, bars, **kwargs) -> _Run:
        config = file_config(**kwargs)
        result = BacktestEngine(strategy, config).run(bars)
        return _Run(result, result.run_id, Path(config.warehouse),
                    Path(config.log_dir) / f"{result.run_id}.jsonl" if config.log_dir else None)

    return run


@pytest.fixture
def run_orchestrator(file_config):
    """Run (strategy, weight) pairs through the public StrategyOrchestrator into a file warehouse."""
    from sqlorch import StrategyOrchestrator

    def run(pairs, bars, **kwargs) -> _Run:
        config = file_config(orchestrator=True, **kwargs)
        result = StrategyOrchestrator(pairs, config).run(bars)
        return _Run(result, result.run_id, Path(config.warehouse),
                    Path(config.log_dir) / f"{result.run_id}.jsonl" if config.log_dir else None)

    return run


@pytest.fixture
def open_run():
    """Wrap an existing warehouse file and run id (e.g. of a failed run) in the query helpers."""
    def wrap(db, run_id: str, log: Path | None = None) -> _Run:
        return _Run(None, run_id, Path(db), log)

    return wrap
