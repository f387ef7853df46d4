"""Benchmark: `sqlorch combine` over 12 strategies on the S data (issue 24: "4,095 subsets, equal
weights, in under 10 s").

The S data of benchmarks/run.py (10 symbols x 2 years of daily bars, generated deterministically)
is written to Parquet; the line-up is benchmarks/run.py's `line_up(12)`: the five built-ins and
variants of their parameters, at 1/12 each. `sqlorch combine CONFIG.toml --policies fixed` runs in
a new process each time (imports, data in, every subset, the warehouse file, the HTML and
Markdown reports), and the median of `--repeat` runs is printed with the target. Under `fixed`
with equal weights every subset is assembled from the strategies' runs alone where their orders
cannot interact. `--policies equal` (or any other list) measures the same line-up under
allocation policies that move capital, where every subset of two or more strategies is an
orchestrated run of its own.

    .venv/bin/python benchmarks/combine.py [--repeat 3] [--policies fixed] [--strategies 12]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import bars_for, line_up  # noqa: E402  (benchmarks/run.py: the S data and line-ups)

TARGET_SECONDS = 10.0


def config_text(data: Path, directory: Path, strategies: int) -> str:
    """A run configuration of `strategies` strategies at equal weights over the Parquet `data`."""
    entries = "".join(
        f'\n[[strategies]]\nname = "s{i}"\nclass = "{type(s).__module__}:{type(s).__name__}"\n'
        f'weight = "{w}"\nparams = {json.dumps(getattr(s, "params", {})).replace(":", " =")}\n'
        for i, (s, w) in enumerate(line_up(strategies)))
    return (f'[data]\npaths = ["{data}"]\n\n[backtest]\ninitial_capital = "1000000"\n'
            f'warehouse = "{directory / "combine.duckdb"}"\nlog_dir = "{directory / "logs"}"\n' + entries)


def run_once(config: Path, directory: Path, policies: str) -> tuple[float, str]:
    """Wall seconds of one `sqlorch combine` in a new process, and its first printed lines."""
    sqlorch = Path(sys.executable).with_name("sqlorch")
    start = time.perf_counter()
    done = subprocess.run([str(sqlorch), "combine", str(config), "--policies", policies, "--quiet",
                           "--report-dir", str(directory / "reports")], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, "\n".join(done.stdout.splitlines()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policies", default="fixed")
    parser.add_argument("--strategies", type=int, default=12)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = directory / "bars.parquet"
        bars_for("S").write_parquet(data)
        config = directory / "combine.toml"
        config.write_text(config_text(data, directory, args.strategies), encoding="utf-8")
        times = []
        for _ in range(args.repeat):
            seconds, head = run_once(config, directory, args.policies)
            times.append(seconds)
        subsets = 2 ** args.strategies - 1
        trials = subsets * len(args.policies.split(","))
        median = statistics.median(times)
        print(head)
        print(f"sqlorch combine, {args.strategies} strategies ({subsets:,} subsets) x policies {args.policies} "
              f"= {trials:,} trials on S (10 symbols x 2 years daily), end to end in a new process, reports "
              f"included: median {median:.2f} s of {', '.join(f'{t:.2f}' for t in times)} "
              f"({trials / median:,.0f} trials/s); target < {TARGET_SECONDS:g} s: "
              f"{'met' if median < TARGET_SECONDS else 'not met'}")
        if not math.isfinite(median):
            sys.exit(1)


if __name__ == "__main__":
    main()
