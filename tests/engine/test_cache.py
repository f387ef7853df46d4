"""The compiled engine's cache (sqlorch/engine/warm.py, sqlorch/engine/cache.py).

Evidence from numba's own counters, not from timings: once warmed (as `make` does at install),
a fresh process runs backtests of every kind without compiling anything, because one compiled
signature serves every run; and a change to a module compiled into the kernel drops its cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

RUNS = textwrap.dedent("""
    import json
    from decimal import Decimal
    from numba.core.registry import CPUDispatcher
    from sqlorch import BacktestConfig, BacktestEngine, OrchestratorConfig, Signal, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.conflicts import get_resolver
    from sqlorch.engine import arith, kernel
    from sqlorch.strategies import Momentum, SMACross

    class Flip:
        def on_bar(self, ctx):
            return [Signal.buy(ctx.symbols[ctx.t % 3], 0.5), Signal.exit(ctx.symbols[(ctx.t + 1) % 3])]

    bars = synthetic_bars(symbols=3, years=1)
    BacktestEngine(SMACross(), BacktestConfig(warehouse=None, log_dir=None)).run(bars)
    BacktestEngine(Flip(), BacktestConfig(warehouse=None, log_dir=None, fill="close", lot_size=0)).run(bars)
    config = OrchestratorConfig(warehouse=None, log_dir=None, conflict_mode="weighted", allow_short=True,
                                rebalance_threshold=0.01)
    StrategyOrchestrator([(Flip(), Decimal("0.5")), (Momentum(), Decimal("0.3"))], config).run(bars)
    get_resolver("first_wins").resolve([])
    compiled = {f"{module.__name__}.{name}": len(f.stats.cache_misses)
                for module in (kernel, arith) for name, f in vars(module).items() if isinstance(f, CPUDispatcher)}
    print(json.dumps({"compiled": compiled, "loaded": len(kernel.run.stats.cache_hits)}))
""")


def test_a_warm_cache_serves_every_run_without_compiling() -> None:
    subprocess.run([sys.executable, "-m", "sqlorch.engine.warm"], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", RUNS], check=True, capture_output=True, text=True).stdout
    found = json.loads(out.splitlines()[-1])
    assert found["loaded"] == 1  # the one signature, from the cache
    assert {name for name, misses in found["compiled"].items() if misses} == set()


MODULE = textwrap.dedent("""
    from numba import njit
    from sqlorch.engine.cache import forget_stale

    @njit(cache=True)
    def plus(x):
        return x + 1

    forget_stale(globals(), [__file__.replace("kern.py", "dep.py")])
""")

CALL = "import kern; kern.plus(1); print(len(kern.plus.stats.cache_misses), len(kern.plus.stats.cache_hits))"


def test_a_change_to_a_dependency_drops_the_cache(tmp_path) -> None:
    (tmp_path / "kern.py").write_text(MODULE)
    dep = tmp_path / "dep.py"
    dep.write_text("ONE = 1\n")

    def call() -> str:
        return subprocess.run([sys.executable, "-c", CALL], cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.split()

    assert call() == ["1", "0"]  # compiled
    assert call() == ["0", "1"]  # from the cache
    dep.write_text("ONE = 2\n")  # kern.py itself unchanged: numba alone would reuse its cache
    assert call() == ["1", "0"]
    assert call() == ["0", "1"]
    assert (tmp_path / "__pycache__" / "kern.sources").exists()
