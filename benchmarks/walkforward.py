"""Benchmark: walk-forward optimisation of 1,000 SMA-cross combinations over 20 years of daily
bars of one symbol, 3-year train and 1-year test spans (17 folds), on 2 workers (issue 25:
"under 20 s on 2 workers").

The bars and the grid are those of benchmarks/grid.py (synthetic_bars(symbols=1, years=20),
fast 5..44 x slow 50..290). Each repetition runs `WalkForward(...).run(bars)` into an
in-memory warehouse: 17 grid searches of 1,000 combinations (one pool of worker processes for
all of them) and 17 test runs of the chosen parameters, with their warehouse writes. Prints
the wall time of the first repetition (which starts the workers) and the median of the others,
and, for scale, one grid search of the same 1,000 combinations over the whole 20 years.

    .venv/bin/python benchmarks/walkforward.py [--repeat 3] [--workers 2] [--combinations 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grid import workload  # noqa: E402  (the same bars, costs and grid as benchmarks/grid.py)

from sqlorch import GridSearch, WalkForward  # noqa: E402
from sqlorch.strategies import SMACross  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--combinations", type=int, default=1000)
    args = parser.parse_args()
    bars, config, params, size = workload(args.combinations)
    walk = WalkForward(SMACross, params, config, train="3y", test="1y", workers=args.workers)
    times, result = [], None
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = walk.run(bars)
        times.append(time.perf_counter() - started)
    folds = result.folds.height
    later = times[1:] or times
    print(f"walk-forward, {size} combinations x {folds} folds (3y train, 1y test) on {bars.height} daily bars, "
          f"{args.workers} workers: first {times[0]:.2f} s, then median {statistics.median(later):.2f} s "
          f"= {size * folds / statistics.median(later):,.0f} combinations/s")
    print(f"out of sample: {result.metrics.total_return:.2%} return, sharpe {result.metrics.sharpe_ratio:.2f}, "
          f"efficiency {result.efficiency:.2f}")
    search = GridSearch(SMACross, params, config, workers=args.workers)
    search.run(bars)  # the workers start
    started = time.perf_counter()
    search.run(bars)
    print(f"for scale: one search of the same grid over all {bars.height} bars: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
