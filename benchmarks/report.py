"""Benchmark: report generation for the spec's workload S (5 strategies x 10 symbols x 2 years of
daily bars), issue #4: "well under a second".

Runs the backtest once into a warehouse file in a temporary directory, then times, over
several repetitions, reading the report's data from the views (`report_context`), rendering
the HTML page (charts included) and the Markdown page, and `write_reports` end to end (both
files, one read of the views), cold (templates compiled first, as in a fresh `sqlorch report`
process) and warm, and as `sqlorch run` calls it (the comparison table passed in from the
result). Prints the best and the median of each in milliseconds.

    .venv/bin/python benchmarks/report.py [--repeat 7]

Measured on the 2-core development machine (idle; medians): report_context 0.25 s (0.16 s of it
the `comparison` view), HTML render 0.03 s, Markdown 0.002 s; write_reports 0.36 s cold and
0.28 s warm; 0.17 s as `sqlorch run` calls it. HTML page about 270 KiB. The queries run two at
a time on DuckDB cursors (sqlorch.report.run.READERS).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlorch import OrchestratorConfig, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.report.run import environment, render, report_context, write_reports
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross


def timed(repeat: int, work) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = OrchestratorConfig(warehouse=str(Path(tmp) / "bench.duckdb"), log_dir=None, commission_bps=1.0)
        strategies = [BuyAndHold(), SMACross(), Momentum(), RSIStrategy(), DonchianBreakout()]
        result = StrategyOrchestrator([(s, Decimal("0.2")) for s in strategies], config).run(
            synthetic_bars(symbols=10, years=2, seed=42))
        warehouse, run_id = Warehouse(config.warehouse), result.run_id
        context = report_context(warehouse, run_id)
        out = Path(tmp)

        def cold() -> None:
            environment.cache_clear()
            write_reports(warehouse, run_id, out)

        rows = {
            "read views (report_context)": timed(args.repeat, lambda: report_context(warehouse, run_id)),
            "render HTML (with SVG charts)": timed(args.repeat, lambda: render(context, "html")),
            "render Markdown": timed(args.repeat, lambda: render(context, "md")),
            "write_reports, cold (both files)": timed(args.repeat, cold),
            "write_reports, warm (both files)": timed(args.repeat, lambda: write_reports(warehouse, run_id, out)),
            "as in `sqlorch run` (warm)": timed(args.repeat, lambda: write_reports(
                warehouse, run_id, out, comparison=result.comparison_table)),
        }
        size = (Path(tmp) / f"{run_id}.html").stat().st_size
    print(f"workload S: 5 strategies x 10 symbols x 504 daily bars; {args.repeat} repetitions")
    for name, times in rows.items():
        print(f"  {name:<32} best {min(times):7.1f} ms   median {statistics.median(times):7.1f} ms")
    print(f"  HTML size {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
