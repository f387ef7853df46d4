"""The benchmark suite of SPEC §6: speed and memory of sqlorch on generated data.

    python benchmarks/run.py [S|L|M|sweep|peers|all] [--repeat 3]     (or: make bench)

Workloads (data generated deterministically, same bars on every run):
  S      5 strategies x 10 symbols x 2 years of daily bars
  L      5 strategies x 500 symbols x 10 years of daily bars
  M      5 strategies x 1 symbol x 1,000,000 one-minute bars
  sweep  1, 2, 5, 10, 20, 50, 100 and 1,000 strategies on the S data (1,000 is W)
  peers  the same five strategies in backtrader and vectorbt on L, and in vectorbt on M
         (benchmarks/peers.py)
  allocation  L end to end with fixed weights and with `risk_parity` monthly (SPEC §7),
         alternately in one process, best of `--repeat` each, and their ratio (target <= 1.1)

For S, L and M it prints one line per figure: end to end through the Python API
(`StrategyOrchestrator.run`: ingest, stepping, SQL books and metrics, results loaded) and, for
S, through the CLI (`sqlorch run CONFIG.toml` in a new process: ingest from Parquet, run,
metrics, HTML and Markdown reports); wall seconds, bars x strategies per second and the peak
RSS of a fresh process; for L and M the engine's stepping alone (`Stepper.run` over the five
Rules, no DuckDB: bars x strategies stepped per second, best of `--repeat`); and the ratio
time(5 strategies) / time(1 strategy), both measured in
one process on the same data, best of `--repeat`. The one strategy is Momentum (the five are
BuyAndHold, SMACross, Momentum, RSIStrategy, DonchianBreakout at 20% each). A Markdown table
of every figure closes the output: the table of docs/performance.md.

Every measurement runs in a child process (`--child ...`), so peak RSS is the workload's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

WORKLOADS = {  # name: (symbols, years) of daily bars, or minute bars of one symbol
    "S": {"symbols": 10, "years": 2},
    "L": {"symbols": 500, "years": 10},
    "M": {"minutes": 1_000_000},
}
CAPITAL = {"S": "1000000", "L": "10000000", "M": "1000000"}
SWEEP = (1, 2, 5, 10, 20, 50, 100, 1000)
TARGETS = {  # what SPEC §6 asks of this 2-core machine
    ("S", "cli"): "< 1 s", ("L", "api"): "< 5 s, < 1.5 GB", ("M", "api"): "< 30 s",
    ("S", "ratio"): "<= 1.3", ("L", "ratio"): "<= 1.3", ("M", "ratio"): "<= 1.3", ("W", "api"): "< 5 s",
    "stepping": ">= 50,000,000 bars x strategies/s",
}


# -- data -----------------------------------------------------------------------------------


def bars_for(workload: str) -> pl.DataFrame:
    """The workload's bars, the same on every call."""
    spec = WORKLOADS[workload]
    if "minutes" in spec:
        return minute_bars(spec["minutes"])
    from sqlorch.bars.synthetic import synthetic_bars
    return synthetic_bars(spec["symbols"], spec["years"], seed=1)


def minute_bars(n: int, seed: int = 5) -> pl.DataFrame:
    """`n` one-minute bars of one symbol (a random walk of 0.05% per minute), from 2020-01-01."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.0005, n))), 2)
    open_ = np.round(np.concatenate([[100.0], close[:-1]]), 2)
    ts = (np.datetime64("2020-01-01T00:00") + np.arange(n).astype("timedelta64[m]")).astype("datetime64[us]")
    high, low = np.round(np.maximum(open_, close) + 0.01, 2), np.round(np.minimum(open_, close) - 0.01, 2)
    return pl.DataFrame({"symbol": "M1", "ts": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": 1000.0})  # (high and low rounded too: float noise would decide breakouts)


# -- strategies -----------------------------------------------------------------------------


def line_up(n: int) -> list:
    """`n` strategies with equal weights: the five built-ins, then variants of their parameters."""
    from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross
    makers = [lambda k: BuyAndHold(), lambda k: SMACross(fast=10 + k, slow=30 + 2 * k),
              lambda k: Momentum(lookback=20 + k), lambda k: RSIStrategy(period=14 + k),
              lambda k: DonchianBreakout(period=20 + k)]
    if n == 1:  # the seed's measurement: five strategies against Momentum alone
        return [(Momentum(), Decimal(1))]
    weight = Decimal(1) / n
    return [(makers[i % 5](i // 5), weight) for i in range(n)]


def run_api(bars: pl.DataFrame, strategies: int, workload: str, directory: Path, **settings) -> float:
    """Seconds for one orchestrated run end to end (a new warehouse file each time); `settings`
    are more OrchestratorConfig fields (an allocation policy, say)."""
    from sqlorch import OrchestratorConfig, StrategyOrchestrator
    warehouse = directory / f"api-{time.monotonic_ns()}.duckdb"
    config = OrchestratorConfig(initial_capital=Decimal(CAPITAL.get(workload, "1000000")),
                                warehouse=str(warehouse), log_dir=None, **settings)
    start = time.perf_counter()
    StrategyOrchestrator(line_up(strategies), config).run(bars)
    return time.perf_counter() - start


# -- children: one measurement each ---------------------------------------------------------


def child(kind: str, workload: str, strategies: int, repeat: int) -> dict:
    """Run one measurement in this process and describe it (peak RSS included)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        bars = bars_for(workload)
        result: dict = {"bars": bars.height}
        if kind == "api":
            result["seconds"] = run_api(bars, strategies, workload, directory)
        elif kind == "ratio":
            one = min(run_api(bars, 1, workload, directory) for _ in range(repeat))
            five = min(run_api(bars, 5, workload, directory) for _ in range(repeat))
            result.update(one=one, five=five, ratio=five / one)
        elif kind == "allocation":  # alternately, so that both see the same machine
            fixed, allocated = float("inf"), float("inf")
            for _ in range(repeat):
                fixed = min(fixed, run_api(bars, strategies, workload, directory))
                allocated = min(allocated, run_api(bars, strategies, workload, directory, allocation="risk_parity",
                                                   allocation_every="monthly"))
            result.update(fixed=fixed, allocated=allocated, ratio=allocated / fixed)
        elif kind == "cli":
            result["seconds"] = run_cli(bars, strategies, directory, repeat)
        elif kind == "stepping":
            result["seconds"] = stepping(bars, strategies, workload, repeat)
    who = resource.RUSAGE_CHILDREN if kind == "cli" else resource.RUSAGE_SELF  # the sqlorch process
    result["peak_mb"] = resource.getrusage(who).ru_maxrss / 1024
    return result


def stepping(bars: pl.DataFrame, strategies: int, workload: str, repeat: int) -> float:
    """Best seconds of the engine's stepping alone: `Stepper.run` over the line-up's Rules, its
    features computed beforehand, nothing written."""
    from sqlorch import OrchestratorConfig
    from sqlorch.bars.load import load_bars
    from sqlorch.bars.panel import Panel
    from sqlorch.engine.events import EventLog
    from sqlorch.engine.stepper import Stepper

    panel = Panel.from_bars(load_bars(bars))
    line = line_up(strategies)
    capital = Decimal(CAPITAL.get(workload, "1000000"))
    settings = OrchestratorConfig(initial_capital=capital, warehouse=None, log_dir=None).engine_settings()
    best = float("inf")
    for _ in range(repeat):
        stepper = Stepper(panel, [(f"s{i}", s) for i, (s, _) in enumerate(line)], [capital * w for _, w in line],
                          [w for _, w in line], settings, EventLog("bench", "orchestrated"))
        start = time.perf_counter()
        stepper.run()
        best = min(best, time.perf_counter() - start)
    return best


def run_cli(bars: pl.DataFrame, strategies: int, directory: Path, repeat: int) -> float:
    """Best wall seconds of `sqlorch run CONFIG.toml` in a new process, reports included."""
    data = directory / "bars.parquet"
    bars.write_parquet(data)
    entries = "".join(
        f'\n[[strategies]]\nname = "s{i}"\nclass = "{type(s).__module__}:{type(s).__name__}"\n'
        f'weight = "{w}"\nparams = {json.dumps(getattr(s, "params", {})).replace(":", " =")}\n'
        for i, (s, w) in enumerate(line_up(strategies)))
    config = directory / "bench.toml"
    config.write_text(f'[data]\npaths = ["{data}"]\n\n[backtest]\ninitial_capital = "1000000"\n'
                      f'warehouse = "{directory / "cli.duckdb"}"\nlog_dir = "{directory / "logs"}"\n'
                      + entries, encoding="utf-8")
    sqlorch = Path(sys.executable).with_name("sqlorch")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([str(sqlorch), "run", str(config), "--report-dir", str(directory / "reports"), "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def measure(kind: str, workload: str, strategies: int, repeat: int) -> dict:
    """Run `child` in a fresh interpreter and return what it measured."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, workload, str(strategies), str(repeat)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- reporting ------------------------------------------------------------------------------


def row(workload: str, what: str, strategies: int, seconds: float, bars: int, peak_mb: float,
        note: str = "") -> dict:
    figure = {"workload": workload, "what": what, "strategies": strategies, "seconds": seconds,
              "throughput": bars * strategies / seconds, "peak_mb": peak_mb, "note": note}
    print(f"{workload:6s} {what:8s} {strategies:3d} strategies  {seconds:8.2f} s  "
          f"{figure['throughput']:>12,.0f} bars x strategies/s  peak RSS {peak_mb:6.0f} MB  {note}", flush=True)
    return figure


def workload_rows(workload: str, repeat: int) -> list[dict]:
    rows = []
    api = measure("api", workload, 5, 1)
    rows.append(row(workload, "api", 5, api["seconds"], api["bars"], api["peak_mb"],
                    TARGETS.get((workload, "api"), "")))
    if workload == "S":
        cli = measure("cli", workload, 5, repeat)
        rows.append(row(workload, "cli", 5, cli["seconds"], cli["bars"], cli["peak_mb"],
                        "whole `sqlorch run` process, reports included; " + TARGETS[(workload, "cli")]))
    if workload in ("L", "M"):
        got = measure("stepping", workload, 5, repeat)
        rows.append(row(workload, "stepping", 5, got["seconds"], got["bars"], got["peak_mb"],
                        "engine alone (Stepper.run, no DuckDB); " + TARGETS["stepping"]))
    if workload in ("S", "L", "M"):
        ratio = measure("ratio", workload, 5, repeat)
        note = (f"time(5)/time(Momentum) = {ratio['ratio']:.2f} ({TARGETS[(workload, 'ratio')]}); "
                f"Momentum alone: {ratio['one']:.2f} s")
        print(f"{workload:6s} ratio    5 vs 1: {ratio['five']:.2f} s / {ratio['one']:.2f} s = {ratio['ratio']:.2f}"
              f"  (best of {repeat}, same process, same data)", flush=True)
        rows.append({"workload": workload, "what": "5 vs 1", "strategies": 5, "seconds": ratio["five"],
                     "throughput": ratio["bars"] * 5 / ratio["five"], "peak_mb": ratio["peak_mb"], "note": note})
    return rows


def allocation_rows(repeat: int) -> list[dict]:
    """L with fixed weights and with risk_parity monthly, side by side (SPEC §7: within 10%)."""
    got = measure("allocation", "L", 5, repeat)
    print(f"L      allocation risk_parity monthly {got['allocated']:.2f} s / fixed {got['fixed']:.2f} s = "
          f"{got['ratio']:.3f}  (best of {repeat}, alternately in one process; target <= 1.1)", flush=True)
    note = f"risk_parity monthly / fixed = {got['ratio']:.3f} (<= 1.1); fixed: {got['fixed']:.2f} s"
    return [{"workload": "L", "what": "alloc", "strategies": 5, "seconds": got["allocated"],
             "throughput": got["bars"] * 5 / got["allocated"], "peak_mb": got["peak_mb"], "note": note}]


def sweep_rows() -> list[dict]:
    rows = []
    for n in SWEEP:
        got = measure("api", "S", n, 1)
        rows.append(row("W" if n == 1000 else "sweep", "api", n, got["seconds"], got["bars"], got["peak_mb"],
                        "S data" + ("; " + TARGETS[("W", "api")] if n == 1000 else "")))
    first, last = rows[0], rows[-1]
    growth = (last["seconds"] / first["seconds"], last["peak_mb"] / first["peak_mb"])
    print(f"sweep  {SWEEP[-1]} vs {SWEEP[0]} strategies: time x{growth[0]:.1f}, peak memory x{growth[1]:.2f} "
          f"(linear would be x{SWEEP[-1] // SWEEP[0]})", flush=True)
    return rows


def peer_rows() -> list[dict]:
    sys.path.insert(0, str(Path(__file__).parent))
    import peers
    return peers.peer_rows() + peers.peer_rows(minutes=WORKLOADS["M"]["minutes"])


def table(rows: list[dict]) -> str:
    """The figures as the Markdown table of docs/performance.md."""
    lines = ["| workload | how | strategies | wall s | bars x strategies / s | peak RSS MB | note |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['what']} | {r['strategies']} | {r['seconds']:.2f} | "
                     f"{r['throughput']:,.0f} | {r['peak_mb']:.0f} | {r['note']} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all",
                        choices=["S", "L", "M", "sweep", "peers", "allocation", "all"])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for ratios and the CLI [3]")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "WORKLOAD", "STRATEGIES", "REPEAT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, workload, strategies, repeat = args.child
        print(json.dumps(child(kind, workload, int(strategies), int(repeat))))
        return
    print(f"machine: {machine()}", flush=True)
    rows: list[dict] = []
    for name in ("S", "L", "M", "sweep", "peers", "allocation"):
        if args.what not in (name, "all"):
            continue
        if name == "allocation":
            rows += allocation_rows(args.repeat)
        elif name == "sweep":
            rows += sweep_rows()
        elif name == "peers":
            rows += peer_rows()
        else:
            rows += workload_rows(name, args.repeat)
    print("\n" + table(rows))


if __name__ == "__main__":
    main()
