"""Benchmark: a grid search of 1,000 SMA-cross combinations on 20 years of daily bars of one
symbol (issue #6: "1,000 combinations in under 5 s on a 2-core machine").

The bars are generated deterministically (`sqlorch.bars.synthetic.synthetic_bars(symbols=1, years=20)`,
5,040 bars); the grid is fast in 5..44 x slow in 50, 60, ..., 290 (40 x 25 = 1,000
combinations, all with fast < slow), 1 bps commission. Each setting runs the whole search as
`GridSearch(...).run(bars)` does, into an in-memory warehouse: validation, worker start-up,
stepping, metrics, ranking and the bulk write of grid_runs and grid_results included. Prints
the wall time of the first run (which also starts the worker processes, as one `sqlorch grid`
command does; the following runs reuse them) and of the following ones, combinations per
second, and the speed-up from 1 to 2 (or --workers) workers (medians of the following runs).

    .venv/bin/python benchmarks/grid.py [--repeat 5] [--workers 2] [--combinations 1000]

Then the same grid in vectorbt (when installed): `MA.run_combs` + `Portfolio.from_signals` in a
new process, first call (numba compiling) and the median of the following ones. Its portfolio
buys fractional shares with all its cash where sqlorch buys whole shares with its equity, so the
best pair by Sharpe ratio may differ where the surface is flat. docs/performance.md has the
figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sqlorch import BacktestConfig, GridSearch
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.strategies import SMACross


def grid(combinations: int) -> dict[str, list[int]]:
    """fast x slow with `combinations` cells (1,000: 40 x 25)."""
    slows = list(range(50, 300, 10))
    fasts = list(range(5, 5 + max(1, combinations // len(slows))))
    return {"fast": fasts, "slow": slows}


def workload(combinations: int) -> tuple:
    """G: (the bars: 20 years of one symbol, the configuration: 1 bps commission, the grid of
    `combinations` fast x slow cells, its size)."""
    params = grid(combinations)
    config = BacktestConfig(warehouse=None, log_dir=None, commission_bps=1.0)
    return synthetic_bars(symbols=1, years=20, seed=7), config, params, len(params["fast"]) * len(params["slow"])


def timed(repeat: int, work) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--combinations", type=int, default=1000)
    args = parser.parse_args()
    bars, config, params, size = workload(args.combinations)
    results = {}
    medians = {}
    for workers in sorted({1, args.workers}):
        search = GridSearch(SMACross, params, config, metric="sharpe_ratio", workers=workers)
        times = timed(args.repeat, lambda: results.__setitem__(workers, search.run(bars)))
        warm = times[1:] or times
        medians[workers] = statistics.median(warm)
        print(f"{workers} worker{'s' if workers > 1 else ' '}: first {times[0]:5.2f} s   then best {min(warm):5.2f} s, "
              f"median {medians[workers]:5.2f} s = {size / medians[workers]:4.0f} combinations/s")
    first, last = results[1], results[max(results)]
    assert first.table.equals(last.table), "results differ between worker counts"
    print(f"{size} combinations of SMACross on {bars.height} daily bars of 1 symbol; {args.repeat} repetitions")
    if args.workers > 1:
        print(f"speed-up from 1 to {args.workers} workers: {medians[1] / medians[args.workers]:.2f}x (median)")
    print(f"best: {first.best_params} (sharpe {first.table['sharpe_ratio'].max():.3f})")
    print(f"`sqlorch grid` in a fresh process ({args.workers} workers, warehouse file, no report): "
          f"{command_line(params, args.workers):.2f} s")
    peer = vectorbt_grid(params, args.repeat)
    if peer is not None:
        print(f"vectorbt MA.run_combs + Portfolio.from_signals, same bars and grid, one process: first "
              f"{peer['first']:5.2f} s (numba compiling), then median {peer['median']:5.2f} s = "
              f"{size / peer['median']:4.0f} combinations/s; best {peer['best']}")
        print(f"-> sqlorch with {args.workers} workers takes {medians[args.workers] / peer['median']:.2f}x "
              f"vectorbt's time (medians)")


def vectorbt_grid(params: dict[str, list[int]], repeat: int) -> dict | None:
    """vectorbt on the same grid in a new process (numba's cache empty, so its first call
    compiles): the moving averages of every window with `MA.run_combs` (pairs of the union of
    the fast and slow windows, the grid's pairs selected), long while fast > slow, filled at the
    next open with the whole portfolio, 1 bps fees; the best pair by Sharpe ratio. None if
    vectorbt is not installed (pip install '.[bench]')."""
    import importlib.util
    if importlib.util.find_spec("vectorbt") is None:
        print("vectorbt is not installed (pip install '.[bench]'); its side of the comparison is skipped")
        return None
    script = textwrap.dedent(f"""
        import json, statistics, time
        import numpy as np, vectorbt as vbt
        from sqlorch.bars.synthetic import synthetic_bars
        bars = synthetic_bars(symbols=1, years=20, seed=7).to_pandas().set_index("ts")
        close, open_ = bars["close"], bars["open"]
        fasts, slows = {params['fast']!r}, {params['slow']!r}
        def search():
            fast, slow = vbt.MA.run_combs(close, window=sorted(set(fasts + slows)), r=2,
                                          short_names=["fast", "slow"])
            above = fast.ma_above(slow)
            pairs = [(f, s) for f, s in zip(above.columns.get_level_values(0), above.columns.get_level_values(1))]
            keep = [k for k, (f, s) in enumerate(pairs) if f in fasts and s in slows]
            entries = above.iloc[:, keep].shift(1, fill_value=False)
            exits = fast.ma_below(slow).iloc[:, keep].shift(1, fill_value=False)
            portfolio = vbt.Portfolio.from_signals(close, entries, exits, price=open_, fees=0.0001, freq="1D")
            sharpe = portfolio.sharpe_ratio()
            return [int(v) for v in sharpe.idxmax()], len(keep)
        times = []
        for _ in range({max(repeat, 2)}):
            start = time.perf_counter()
            best, size = search()
            times.append(time.perf_counter() - start)
        print(json.dumps({{"first": times[0], "median": statistics.median(times[1:]), "best": best, "size": size}}))
    """)
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**os.environ, "NUMBA_CACHE_DIR": cache})
    if done.returncode != 0:
        print(f"vectorbt failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def command_line(params: dict[str, list[int]], workers: int) -> float:
    """Wall time of `sqlorch grid` on the same grid, as a user runs it: a new Python process
    (imports included) writing a warehouse file."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "grid.toml"
        config.write_text(textwrap.dedent(f"""
            [data]
            synthetic = {{ symbols = 1, years = 20, seed = 7 }}
            [backtest]
            commission_bps = 1.0
            warehouse = "{Path(tmp) / 'w.duckdb'}"
            [[strategies]]
            class = "sma_cross"
            params = {{ fast = {params['fast']}, slow = {params['slow']} }}
        """))
        command = [str(Path(sys.executable).parent / "sqlorch"), "grid", str(config), "--workers", str(workers),
                   "--no-report", "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=tmp)
        return time.perf_counter() - start


if __name__ == "__main__":
    main()
