"""The warehouse opens in the DuckDB CLI a user installs alongside (`pip install -e ".[cli]"`), which
may be older than the duckdb Python package that wrote it: every view must work there."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from sqlorch import BacktestConfig, GridSearch, OrchestratorConfig, StrategyOrchestrator, WalkForward
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.resources import sql_files
from sqlorch.strategies import BuyAndHold, Momentum

CLI = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or "duckdb"


def test_every_view_opens_in_the_duckdb_cli(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    # two buy-and-hold sleeves meet on every symbol at the first fill: the conflict views have rows too
    result = StrategyOrchestrator(
        [(BuyAndHold(), Decimal("0.3")), (BuyAndHold(), Decimal("0.3")), (Momentum(lookback=5), Decimal("0.4"))],
        OrchestratorConfig(warehouse=str(path), log_dir=None)).run(synthetic_bars(symbols=3, years=1))
    # and a grid search, for the grid views
    GridSearch(Momentum, {"lookback": [5, 10]}, BacktestConfig(warehouse=str(path), log_dir=None),
               workers=1).run(synthetic_bars(symbols=2, years=1))
    # and a walk-forward, for its stitched curve
    WalkForward(Momentum, {"lookback": [5, 10]}, BacktestConfig(warehouse=str(path), log_dir=None), train=100,
                test=50, workers=1).run(synthetic_bars(symbols=2, years=1))
    views = [re.search(r"CREATE OR REPLACE VIEW (\w+)", p.read_text()).group(1) for p in sql_files("views")]
    assert len(views) >= 15
    query = " UNION ALL ".join(f"SELECT '{v}' AS view, count(*) AS n FROM {v}" for v in views)
    out = subprocess.run([CLI, str(path), "-readonly", "-csv", "-noheader", "-c", query],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    counts = dict(line.split(",") for line in out.stdout.split())
    assert set(counts) == set(views)
    assert all(int(n) > 0 for n in counts.values()), counts
    version = subprocess.run([CLI, "--version"], capture_output=True, text=True).stdout
    comparison = subprocess.run(
        [CLI, str(path), "-readonly", "-csv", "-noheader", "-c",
         f"SELECT strategy_id FROM comparison WHERE run_id = '{result.run_id}' ORDER BY position NULLS LAST"],
        capture_output=True, text=True)
    assert comparison.stdout.split() == ["buy_and_hold", "buy_and_hold_2", "momentum", "portfolio"], version
