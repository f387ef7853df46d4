"""The compiled loops of the numpy metrics (sqlorch/backtest/kernels.py) and of the trials
(the moments, block sums and CSCV of sqlorch/grid/overfitting.py) against themselves
interpreted: the same source run by Python (NUMBA_DISABLE_JIT=1, in a child process) must give
the same numbers, bit for bit, as the machine code numba made of it. The fills come from the
engine (itself tested so in tests/engine/test_interpreted.py): a grid's batch of isolated
sleeves with costs, whole and fractional lots. Run as a script (`python
test_kernels_interpreted.py OUT`), this file writes every figure to OUT.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from decimal import Decimal as D

import numpy as np

from sqlorch import BacktestConfig
from sqlorch.backtest.metrics import bar_returns, equity_curves, sleeve_metrics, trade_stats
from sqlorch.bars.panel import MARK, Panel
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.engine.events import EventLog
from sqlorch.engine.stepper import Stepper
from sqlorch.grid.overfitting import pbo, trial_statistics
from sqlorch.strategies import DonchianBreakout, Momentum, RSIStrategy, SMACross


def figures(lot_size: int) -> dict[str, object]:
    """Every figure the kernels give for one batch of isolated sleeves."""
    panel = Panel.from_bars(synthetic_bars(symbols=3, years=1, seed=5))
    strategies = [SMACross(fast=f, slow=s) for f in (3, 5, 8) for s in (10, 20)] + \
        [Momentum(lookback=10), DonchianBreakout(period=15), RSIStrategy()]
    config = BacktestConfig(warehouse=None, log_dir=None, commission_bps=5.0, lot_size=lot_size)
    outcome = Stepper(panel, [(f"s{i}", s) for i, s in enumerate(strategies)], [D(100_000)] * len(strategies),
                      [D(1)] * len(strategies), config.engine_settings(isolated=True), EventLog("t", "test")).run()
    fills, capitals = outcome.records.rows_of("fills"), [sleeve.initial for sleeve in outcome.sleeves]
    equity, held = equity_curves(panel.data[:, MARK], fills, capitals)
    trades = trade_stats(fills, capitals)
    returns = bar_returns(equity)
    moments, sums = trial_statistics(returns, 6)
    overfitting = pbo(sums, 0.0001)
    return {"equity": equity.tolist(), "held": held.tolist(), "trades": trades, "returns": returns.tolist(),
            "metrics": sleeve_metrics(equity, held, capitals, trades, 252, 0.02, None, returns),
            "moments": [m.tolist() for m in moments], "sums": sums.tolist(),
            "pbo": [overfitting.pbo, overfitting.best.tolist(), overfitting.logit.tolist()]}


def _all() -> dict[str, dict]:
    return {f"lot {lot}": figures(lot) for lot in (1, 0)}


def test_compiled_and_interpreted_kernels_agree(tmp_path) -> None:
    out = tmp_path / "interpreted.pickle"
    subprocess.run([sys.executable, __file__, str(out)], env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, check=True)
    interpreted = pickle.loads(out.read_bytes())
    compiled = _all()
    for name, found in compiled.items():
        assert sum(t[0] for t in found["trades"]) > 20, f"{name}: a batch that trades little tests little"
        for key, value in found.items():
            assert repr(value) == repr(interpreted[name][key]), (name, key)  # NaN equal to NaN, bit for bit
    whole = np.array(compiled["lot 1"]["equity"])
    assert 0 < compiled["lot 1"]["pbo"][0] < 1 and (np.diff(whole, axis=0) != 0).any()


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as file:
        pickle.dump(_all(), file)
