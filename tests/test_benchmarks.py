"""The benchmark script (benchmarks/run.py) stays runnable: its data, line-ups and one
measurement, on the smallest workload."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minute_bars_are_deterministic_and_well_formed(bench):
    a, b = bench.minute_bars(1000), bench.minute_bars(1000)
    assert a.equals(b) and a.height == 1000
    assert (a["high"] >= a[["open", "close"]].max_horizontal()).all()
    assert (a["low"] <= a[["open", "close"]].min_horizontal()).all()
    assert a["ts"].is_sorted() and a["ts"].n_unique() == 1000


@pytest.mark.parametrize("n", [1, 2, 5, 7, 100])
def test_line_ups_have_n_strategies_sharing_the_capital(bench, n):
    strategies = bench.line_up(n)
    assert len(strategies) == n
    assert Decimal("0.999999") < sum(w for _, w in strategies) <= 1
    assert len({type(s).__name__ for s, _ in strategies}) == min(n, 5)


def test_one_measurement_and_the_table(bench):
    got = bench.child("api", "S", 2, 1)
    assert got["bars"] == 10 * 504 and got["seconds"] > 0 and got["peak_mb"] > 0
    row = bench.row("S", "api", 2, got["seconds"], got["bars"], got["peak_mb"], "note")
    table = bench.table([row])
    assert table.splitlines()[0].startswith("| workload |") and "| S | api | 2 |" in table
