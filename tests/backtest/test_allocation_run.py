"""Allocation policies in a run (SPEC §7): no look-ahead, failures naming the policy and bar,
the records and events, and the CLI with an [allocation] table."""

from __future__ import annotations

import json
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch import OrchestratorConfig, StrategyOrchestrator, register_allocator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.errors import ConfigError, SqlorchError
from sqlorch.strategies import BuyAndHold, Momentum, RSIStrategy, SMACross

STRATEGIES = [(Momentum(), Decimal("0.25")), (SMACross(), Decimal("0.25")), (RSIStrategy(), Decimal("0.2")),
              (BuyAndHold(), Decimal("0.2"))]


def run(bars: pl.DataFrame, path: str, **allocation) -> str:
    config = OrchestratorConfig(warehouse=path, log_dir=None, commission_bps=2.0, **allocation)
    return StrategyOrchestrator(STRATEGIES, config).run(bars).run_id


def targets(path: str, run_id: str) -> list[tuple]:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute("SELECT bar, strategy_id, share_before, target, statistic FROM allocation_targets "
                           "WHERE run_id = ? ORDER BY bar, strategy_id", [run_id]).fetchall()


def perturbed_after(bars: pl.DataFrame, cut, seed: int) -> pl.DataFrame:
    """Every bar after `cut` with its prices scaled by a random factor (a valid bar still)."""
    rng = np.random.default_rng(seed)
    factor = pl.Series(rng.uniform(0.7, 1.4, bars.height))
    later = pl.col("ts") > cut
    return bars.with_columns([pl.when(later).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c)
                              for c in ("open", "high", "low", "close")])


@pytest.mark.parametrize("policy", ["inverse_volatility", "risk_parity", "min_variance", "momentum"])
def test_no_policy_sees_a_bar_after_its_allocation_date(tmp_path: Path, policy: str) -> None:
    bars = synthetic_bars(symbols=4, years=1, seed=7)
    path = str(tmp_path / "w.duckdb")
    settings = dict(allocation=policy, allocation_lookback=21, min_weight=0.05, max_weight=0.6)
    base = targets(path, run(bars, path, **settings))
    dates = sorted({row[0] for row in base})
    assert len(dates) >= 8
    clock = bars["ts"].unique().sort()
    for cut_bar in (dates[2], dates[5]):
        changed = targets(path, run(perturbed_after(bars, clock[cut_bar], cut_bar), path, **settings))
        assert [r for r in changed if r[0] <= cut_bar] == [r for r in base if r[0] <= cut_bar]
        assert [r for r in changed if r[0] > cut_bar] != [r for r in base if r[0] > cut_bar]  # the change shows later


def test_targets_events_and_shares(tmp_path: Path) -> None:
    bars = synthetic_bars(symbols=4, years=1, seed=3)
    path = str(tmp_path / "w.duckdb")
    run_id = run(bars, path, allocation="inverse_volatility", allocation_lookback=10, allocation_every=15,
                 min_weight=0.1, max_weight=0.5)
    rows = targets(path, run_id)
    assert {r[0] for r in rows} == set(range(15, 252, 15)) - {0}  # bars 15, 30, ... (bar 0 has no returns)
    with duckdb.connect(path, read_only=True) as con:
        events = [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM events WHERE run_id = ? AND event = 'orchestrator.allocation' ORDER BY seq",
            [run_id]).fetchall()]
        shares = con.execute("SELECT bar_index, strategy_id, target_share FROM sleeve_shares WHERE run_id = ? "
                             "AND bar_index IN (14, 15, 29, 251) ORDER BY ALL", [run_id]).fetchall()
        rebalanced = con.execute("SELECT DISTINCT bar_index FROM rebalances WHERE run_id = ? ORDER BY 1",
                                 [run_id]).fetchall()
    assert len(events) == len({r[0] for r in rows})
    first = events[0]
    # bar 15: three weeks of weekdays after Monday 2 January 2023
    assert first["policy"] == "inverse_volatility" and first["bar_date"].startswith("2023-01-23")
    by_bar = {}
    for bar, sid, share, target, stat in rows:
        by_bar.setdefault(bar, {})[sid] = (share, target, stat)
        assert 0.1 <= target <= 0.5 and stat >= 0  # 0: a sleeve that held nothing
    assert first["after"] == {sid: v[1] for sid, v in by_bar[15].items()}
    assert sum(first["before"].values()) == pytest.approx(0.9)  # weights now: shares x the budget
    assert [b for (b,) in rebalanced] == sorted(by_bar)  # capital moved on every allocation date, and only then
    last = max(by_bar)
    for bar, sid, target_share in shares:
        if bar == 14:  # before the first allocation: weight / sum of weights
            assert target_share == pytest.approx({"momentum": 0.25, "sma_cross": 0.25}.get(sid, 0.2) / 0.9)
        else:  # the latest allocation at or before the bar
            latest = max(b for b in by_bar if b <= bar)
            assert target_share == pytest.approx(by_bar[latest][sid][1] / 0.9, rel=1e-12)
    assert last <= 251


def test_sleeves_past_int64_pico_units_are_recorded(tmp_path: Path) -> None:
    """A rebalance's amounts are kept in pico units: a sleeve above 9.3e6 passes 64 bits there
    (found by the L benchmark with allocation); the warehouse's DECIMAL(38, 12) holds them."""
    bars = synthetic_bars(symbols=3, years=1, seed=2)
    path = str(tmp_path / "w.duckdb")
    config = OrchestratorConfig(warehouse=path, log_dir=None, initial_capital=Decimal("100000000"), allocation="equal",
                                allocation_lookback=5)
    run_id = StrategyOrchestrator(STRATEGIES, config).run(bars).run_id
    with duckdb.connect(path, read_only=True) as con:
        first = con.execute("SELECT sum(equity_before) FROM rebalances WHERE run_id = ? AND rebalance_id = 1",
                            [run_id]).fetchall()[0][0]
        equity = con.execute("SELECT sum(equity) FROM strategy_equity WHERE run_id = ? AND bar_index = "
                             "(SELECT min(bar_index) FROM rebalances WHERE run_id = ?)", [run_id, run_id]).fetchall()
    assert first > Decimal("5e7")  # four sleeves, each past 9.3e6
    assert abs(first - equity[0][0]) < Decimal("1000")  # before the move vs at the close (commissions apart)


class Negative:
    def weights(self, window):
        return [-0.1] + [window.budget + 0.1] + [0.0] * (len(window.ids) - 2)


def test_a_policy_returning_bad_weights_fails_the_run_naming_it(tmp_path: Path) -> None:
    register_allocator("negative", Negative())
    bars = synthetic_bars(symbols=3, years=1, seed=1)
    path = str(tmp_path / "w.duckdb")
    with pytest.raises(SqlorchError, match=r"allocation policy 'negative' at 2023-01-31 \(bar 21\) returned negative"):
        run(bars, path, allocation="negative", allocation_lookback=21)
    with duckdb.connect(path, read_only=True) as con:
        status, error = con.execute("SELECT status, error FROM runs").fetchall()[0]
        stopped = con.execute("SELECT max(bar_index) FROM strategy_equity").fetchall()[0][0]
    assert status == "failed" and "negative" in error
    assert stopped == 21  # what was computed up to then stays


def test_infeasible_bounds_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_weight 0.3 x 4 sleeves = 1.2 is more than the budget 0.9"):
        StrategyOrchestrator(STRATEGIES, OrchestratorConfig(allocation="equal", min_weight=0.3, log_dir=None))
    with pytest.raises(ConfigError, match="max_weight 0.2 x 4 sleeves = 0.8 is less than the budget 0.9"):
        StrategyOrchestrator(STRATEGIES, OrchestratorConfig(allocation="risk_parity", max_weight=0.2, log_dir=None))
    StrategyOrchestrator(STRATEGIES, OrchestratorConfig(min_weight=0.3, log_dir=None))  # fixed: bounds unused
    with pytest.raises(ConfigError) as caught:
        OrchestratorConfig(allocation="risk_parit", allocation_lookback=1, allocation_every="monthy",
                           min_weight=0.5, max_weight=0.4)
    problems = caught.value.problems
    assert len(problems) == 4, problems  # every problem at once
    assert "did you mean 'risk_parity'" in problems[0] and "did you mean 'monthly'" in problems[2]


def config_file(tmp_path: Path, policy: str) -> None:
    (tmp_path / "alloc.toml").write_text(textwrap.dedent(f"""
        [data]
        synthetic = {{ symbols = 3, years = 1, seed = 4 }}
        [backtest]
        warehouse = "w.duckdb"
        [allocation]
        policy = "{policy}"
        lookback = 21
        every = "monthly"
        min_weight = 0.1
        max_weight = 0.7
        [[strategies]]
        class = "momentum"
        weight = "0.5"
        [[strategies]]
        class = "buy_and_hold"
        weight = "0.5"
    """))


def test_cli_run_with_an_allocation_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_file(tmp_path, "risk_parity")
    result = CliRunner().invoke(cli, ["run", "alloc.toml", "--quiet", "--no-report"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT bar, policy, sum(target) FROM allocation_targets GROUP BY ALL ORDER BY 1").fetchall()
    assert len(rows) == 11 and {r[1] for r in rows} == {"risk_parity"}  # January to November month-ends
    assert all(total == pytest.approx(1.0) for _, _, total in rows)


def test_cli_with_an_allocator_of_ones_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "allocators_of_mine", raising=False)  # imported fresh, then forgotten
    (tmp_path / "allocators_of_mine.py").write_text(textwrap.dedent("""
        class Shapeless:
            pass

        class Lopsided:
            def weights(self, window):
                return [window.budget * 2] + [0.0] * (len(window.ids) - 1)
    """))
    config_file(tmp_path, "allocators_of_mine:Shapeless")
    result = CliRunner().invoke(cli, ["run", "alloc.toml", "--quiet", "--no-report"])
    assert result.exit_code == 1
    assert ("[allocation] policy: allocators_of_mine:Shapeless is not an allocator: it has no weights(window) method"
            in result.output)
    config_file(tmp_path, "allocators_of_mine:Lopsided")
    result = CliRunner().invoke(cli, ["run", "alloc.toml", "--quiet", "--no-report"])
    assert result.exit_code == 1
    assert ("allocation policy 'allocators_of_mine:Lopsided' at 2023-01-31 (bar 21) returned weights summing to 2"
            in result.output)
    assert "Traceback" not in result.output
    sys.modules.pop("allocators_of_mine", None)
