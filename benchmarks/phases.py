"""Where an orchestrated run's time goes: SPEC §6's 5-vs-1 ratio taken apart, phase by phase.

    python benchmarks/phases.py [S|L|M] [--repeat 3]

Runs `StrategyOrchestrator.run` with one strategy (Momentum) and with the five of
benchmarks/run.py, on the same data in one process, as the ratio does, and prints for the
fastest of `--repeat` runs of each how long every phase took. The main thread's phases
follow one another and add up to the run:

  ingest     bars checked and laid out as a panel, the run registered
  set-up     features and fill prices computed for the whole run
  stepping   the strategies called bar by bar, fills decided
  waiting    for the bars and marks to be stored, and the run's last event
  writing    the records (signals, decisions, fills, ...) converted and inserted
  books      trades, equity, portfolio books and metrics derived in SQL
  commit     the transaction committed
  result     the run's result loaded

`storing` (the bars and their marks, once per dataset) runs on its own thread from the
ingest on, beside the set-up and the stepping: its seconds are not added to the total.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import run as bench  # noqa: E402  (the benchmark's data and line-ups)

PHASES = ("ingest", "set-up", "stepping", "waiting", "writing", "books", "commit", "result")
"""The main thread's phases, in order; each ends where the next begins."""
STARTS = {"set-up": "Stepper.__init__", "stepping": "Stepper.run", "waiting": "Stepper.run end",
          "writing": "_write_outcome", "books": "materialize", "commit": "materialize end",
          "result": "_write_outcome end"}
"""The event that begins each phase after the first (an event is a call or the end of one)."""


@contextlib.contextmanager
def timed_calls(marks: dict[str, float]) -> Iterator[None]:
    """Within the block, record in `marks` the time (perf_counter) at which the runner's phase
    functions are called and return (`name` and `name end`), then restore them."""
    from sqlorch.backtest import runner
    from sqlorch.engine.stepper import Stepper

    targets = [(Stepper, "__init__"), (Stepper, "run"), (runner, "_write_outcome"), (runner, "materialize"),
               (runner, "register_dataset")]
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def timing(function, label):
        @functools.wraps(function)
        def call(*args, **kwargs):
            marks[label] = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                marks[label + " end"] = time.perf_counter()
        return call

    for owner, name, function in originals:
        label = f"{owner.__name__}.{name}" if isinstance(owner, type) else name
        setattr(owner, name, timing(function, label))
    try:
        yield
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def phases_of_run(bars, strategies: int, workload: str, directory: Path) -> dict[str, float]:
    """Seconds per phase of one run end to end, `storing` and `total` included."""
    from sqlorch import OrchestratorConfig, StrategyOrchestrator

    config = OrchestratorConfig(initial_capital=Decimal(bench.CAPITAL.get(workload, "1000000")),
                                warehouse=str(directory / f"phases-{time.monotonic_ns()}.duckdb"), log_dir=None)
    marks: dict[str, float] = {}
    with timed_calls(marks):
        start = time.perf_counter()
        StrategyOrchestrator(bench.line_up(strategies), config).run(bars)
        end = time.perf_counter()
    bounds = [start] + [marks[STARTS[phase]] for phase in PHASES[1:]] + [end]
    seconds = {phase: bounds[k + 1] - bounds[k] for k, phase in enumerate(PHASES)}
    seconds["storing"] = marks["register_dataset end"] - marks["register_dataset"]
    seconds["total"] = end - start
    return seconds


def fastest(bars, strategies: int, workload: str, directory: Path, repeat: int) -> dict[str, float]:
    """The phases of the fastest of `repeat` runs."""
    return min((phases_of_run(bars, strategies, workload, directory) for _ in range(repeat)),
               key=lambda seconds: seconds["total"])


def report(one: dict[str, float], five: dict[str, float]) -> str:
    """The two runs' phases side by side, with what five add to one."""
    lines = [f"{'phase':10s} {'1 strategy':>11s} {'5 strategies':>13s} {'5 - 1':>7s}"]
    for phase in (*PHASES, "total", "storing"):
        lines.append(f"{phase:10s} {one[phase]:11.2f} {five[phase]:13.2f} {five[phase] - one[phase]:+7.2f}")
    lines.append(f"time(5)/time(1) = {five['total'] / one['total']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", nargs="?", default="L", choices=["S", "L", "M"])
    parser.add_argument("--repeat", type=int, default=3, help="the fastest of N runs of each [3]")
    args = parser.parse_args(argv)
    bars = bench.bars_for(args.workload)
    with tempfile.TemporaryDirectory() as tmp:
        one = fastest(bars, 1, args.workload, Path(tmp), args.repeat)
        five = fastest(bars, 5, args.workload, Path(tmp), args.repeat)
    print(f"{args.workload}: {bars.height:,} bars, seconds per phase of the fastest of {args.repeat} runs each")
    print(report(one, five))


if __name__ == "__main__":
    main()
