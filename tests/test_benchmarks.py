"""The benchmark scripts stay runnable: benchmarks/run.py (its data, line-ups and one
measurement) and benchmarks/phases.py, on the smallest workload."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _script("run")


@pytest.fixture(scope="module")
def phases():
    return _script("phases")


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


def test_the_phases_of_a_run_add_up_to_it_and_the_runner_is_restored(phases, tmp_path):
    from sqlorch.backtest import runner
    from sqlorch.engine.stepper import Stepper

    before = (Stepper.run, runner.materialize, runner.register_dataset)
    bars = phases.bench.bars_for("S")
    one = phases.fastest(bars, 1, "S", tmp_path, 1)
    five = phases.phases_of_run(bars, 5, "S", tmp_path)
    assert (Stepper.run, runner.materialize, runner.register_dataset) == before
    for seconds in (one, five):
        assert all(seconds[phase] >= 0 for phase in phases.PHASES)
        assert sum(seconds[phase] for phase in phases.PHASES) == pytest.approx(seconds["total"])
        assert 0 < seconds["storing"] < seconds["total"] and seconds["stepping"] > 0 and seconds["books"] > 0
    lines = phases.report(one, five).splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == [*phases.PHASES, "total", "storing"]
    assert lines[-1] == f"time(5)/time(1) = {five['total'] / one['total']:.2f}"


def test_the_engine_alone_is_timed(bench):
    got = bench.child("stepping", "S", 5, 1)
    assert got["bars"] == 10 * 504 and got["seconds"] > 0


def test_minute_bars_round_highs_and_lows_to_cents(bench):
    bars = bench.minute_bars(2000)
    for column in ("open", "high", "low", "close"):  # the floats of cents exactly, no noise such as 128.07999999999998
        assert bars[column].equals(bars[column].round(2)), column
    peers = _script("peers")
    assert peers.workload(0, 0, None, 2000).equals(bars)  # the peers' M is run.py's


def test_the_combination_benchmark_writes_a_valid_configuration(tmp_path):
    """benchmarks/combine.py: its configuration of n strategies at equal weights reads as a
    combination search's line-up."""
    from sqlorch.grid.combine_plan import read_combine_plan

    combine = _script("combine")
    config = tmp_path / "c.toml"
    config.write_text(combine.config_text(tmp_path / "bars.parquet", tmp_path, 12))
    plan = read_combine_plan(config).run
    assert len(plan.strategies) == 12 and len({s.weight for s in plan.strategies}) == 1
