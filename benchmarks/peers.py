"""Benchmark: sqlorch against backtrader and vectorbt, the same five strategies on the same data.

    python benchmarks/peers.py [--symbols 500] [--years 10] [--bt-symbols 50]
    (the peers come with: pip install '.[bench]'; a peer that is not installed is skipped)

The five strategies are sqlorch's built-ins at their defaults, written again for each peer:
BuyAndHold; SMACross (long while SMA10 > SMA30 of the close); Momentum (long while
close / close 20 bars ago - 1 > 0); RSIStrategy (Wilder RSI(14): enter below 30, exit above
70); DonchianBreakout (enter when the close is above the highest high of the prior 20 bars,
exit when it is below their lowest low). All long only: each entry buys whole shares worth
1/N of the strategy's equity at the signal bar's close (N = symbols), an exit sells all;
orders fill at the next bar's open; no costs. Each strategy trades 2,000,000 (sqlorch: a 20%
sleeve of 10,000,000; the peers: one portfolio of 2,000,000 per strategy).

Data: `synthetic_bars(500, 10, seed=1)`, workload L (500 symbols x 2,520 daily bars).
- backtrader on the first 50 symbols (alphabetically) only: it needs about a minute per
  strategy for all 500. One Cerebro per strategy (five runs, as in the issue's "280 s for five
  strategies"), one PandasData feed per symbol, exits then order_target_percent(1/N) sized at
  the close: market orders, filled at the next open (cheat-on-open off); stdstats off (its
  fastest setting).
- vectorbt on all of L: indicators with vectorbt and numpy, signals cleaned with
  `vbt.signals.clean` (enter only when flat), then one `Portfolio.from_orders` per strategy
  (one group, cash shared): target 1/N at the entry, 0 at the exit, shifted one bar, filled
  at the open and valued at the prior close (`val_price=-inf`), whole shares. Not
  `from_signals`: in vectorbt 1.x it sizes only by amount, value or percent of cash, none of
  which is "1/N of the strategy's equity". Cold is the first call in a fresh process with an
  empty numba cache (NUMBA_CACHE_DIR in a new directory), so compilation included; warm the
  second call. Warm, about 1 s per strategy is `from_orders` (call_seq='auto', 500 columns).
- sqlorch on the same data as each peer: `StrategyOrchestrator` with the five at 20% each,
  warehouse in a temporary directory, everything from polars bars to the loaded result.
The peers' times start from pandas frames made beforehand (the conversion is not counted);
data generation is counted for nobody. Each tool runs in its own child process, which
reports its own peak RSS (interpreter, imports and data included).

With `--minutes N`: M instead, N one-minute bars of one symbol (benchmarks/run.py's
`minute_bars`), against vectorbt only (backtrader would take hours); its Wilder RSI is compiled
with numba, as a vectorbt user would write one.

Final values: backtrader matches sqlorch to the cent on all five strategies at L[50 symbols]
(with fewer symbols, so bigger slots, it can differ: backtrader rejects a buy that lacks cash at
the open where sqlorch and vectorbt clip it). vectorbt matches on three; SMACross differs by
+0.04% (SMA10 equals SMA30 to the cent on some bars, and float rounding decides the cross) and
RSIStrategy by -0.27% (after an entry that buys 0 shares, vectorbt's cleaned signals count the
symbol as held until its exit; sqlorch buys again at the next entry signal). The figures of one
run are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
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

from sqlorch.bars.synthetic import synthetic_bars

STRATEGIES = ("buy_and_hold", "sma_cross", "momentum", "rsi_strategy", "donchian_breakout")
CAPITAL = 10_000_000
SLEEVE = CAPITAL * 0.2  # each strategy's capital
PEER_NOTES = {
    "backtrader": "one Cerebro per strategy, a PandasData feed per symbol",
    "vectorbt": "Portfolio.from_orders per strategy, one cash-sharing group",
}
RUN_NOTES = {" (cold)": "; first call, numba compiling", " (warm)": "; second call"}


def workload(symbols: int, years: int, keep: int | None = None, minutes: int = 0) -> pl.DataFrame:
    """The benchmark's bars (`minutes` one-minute bars of one symbol, as benchmarks/run.py's M);
    with `keep`, only the first `keep` symbols (alphabetically)."""
    if minutes:
        sys.path.insert(0, str(Path(__file__).parent))
        from run import minute_bars
        return minute_bars(minutes)
    bars = synthetic_bars(symbols, years, seed=1)
    if keep is not None and keep < symbols:
        bars = bars.filter(pl.col("symbol").is_in(bars["symbol"].unique().sort()[:keep].implode()))
    return bars


def wide(bars: pl.DataFrame, field: str):
    """One field as a pandas frame: a row per bar, a column per symbol."""
    return bars.pivot(on="symbol", index="ts", values=field).sort("ts").to_pandas().set_index("ts")


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


# -- sqlorch --------------------------------------------------------------------------------


def run_sqlorch(bars: pl.DataFrame, repeat: int) -> dict:
    from sqlorch import OrchestratorConfig, StrategyOrchestrator, __version__
    from sqlorch.strategies import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross

    def once(directory: str) -> dict[str, float]:
        strategies = [BuyAndHold(), SMACross(), Momentum(), RSIStrategy(), DonchianBreakout()]
        config = OrchestratorConfig(initial_capital=Decimal(CAPITAL), log_dir=None,
                                    warehouse=str(Path(directory) / "bench.duckdb"))
        result = StrategyOrchestrator([(s, Decimal("0.2")) for s in strategies], config).run(bars)
        return {name: float(r.final_equity) for name, r in result.strategy_results.items()}

    walls = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as directory:
            wall, final = timed(lambda: once(directory))
        walls.append(wall)
    return {"walls": walls, "final": final, "version": f"sqlorch {__version__}"}


# -- backtrader -----------------------------------------------------------------------------


def _bt_signals(bt, name: str, d) -> tuple:
    """(entry, exit) lines of one strategy on one data feed; BuyAndHold has none."""
    if name == "sma_cross":
        fast, slow = bt.ind.SMA(d.close, period=10), bt.ind.SMA(d.close, period=30)
        return fast > slow, fast < slow
    if name == "momentum":
        change = bt.ind.ROC(d.close, period=20)
        return change > 0, change <= 0
    if name == "rsi_strategy":
        rsi = bt.ind.RSI(d.close, period=14, safediv=True)  # Wilder; 100 without losses, 50 flat
        return rsi < 30, rsi > 70
    if name == "donchian_breakout":
        return (d.close > bt.ind.Highest(d.high(-1), period=20),
                d.close < bt.ind.Lowest(d.low(-1), period=20))
    return None, None


def run_backtrader(bars: pl.DataFrame) -> dict:
    import backtrader as bt

    class EqualWeightLongOnly(bt.Strategy):
        params = (("name", "buy_and_hold"),)

        def __init__(self):
            self.signals = [_bt_signals(bt, self.p.name, d) for d in self.datas]

        def next(self):
            held = [self.getposition(d).size > 0 for d in self.datas]
            for d, is_held, (_, exit_) in zip(self.datas, held, self.signals):
                if is_held and exit_ is not None and exit_[0]:
                    self.close(d)
            for d, is_held, (entry, _) in zip(self.datas, held, self.signals):
                if not is_held and (entry[0] if entry is not None else len(self) == 1):
                    self.order_target_percent(d, target=1 / len(self.datas))

    feeds = {symbol: frame.drop("symbol").to_pandas().set_index("ts")
             for (symbol,), frame in bars.sort("symbol", "ts").partition_by("symbol", as_dict=True).items()}

    def once(name: str) -> float:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.broker.setcash(SLEEVE)
        for symbol, frame in feeds.items():
            cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=symbol)
        cerebro.addstrategy(EqualWeightLongOnly, name=name)
        cerebro.run()
        return cerebro.broker.getvalue()

    wall, final = timed(lambda: {name: once(name) for name in STRATEGIES})
    return {"walls": [wall], "final": final, "version": f"backtrader {bt.__version__}"}


# -- vectorbt -------------------------------------------------------------------------------


def wilder_rsi(close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI per column: the first averages are the means of the first n gains and
    losses, then avg = (avg x (n - 1) + x) / n; 100 without losses, 50 without changes.
    Compiled with numba, as a vectorbt user would write a custom indicator."""
    from numba import njit

    @njit(cache=True)
    def rsi(close, n):
        out = np.full(close.shape, np.nan)
        for c in range(close.shape[1]):
            gain = loss = 0.0
            for k in range(1, len(close)):
                step = close[k, c] - close[k - 1, c]
                up, down = max(step, 0.0), max(-step, 0.0)
                if k <= n:  # sums, made means at k = n
                    gain += up
                    loss += down
                    if k == n:
                        gain, loss = gain / n, loss / n
                else:
                    gain = (gain * (n - 1) + up) / n
                    loss = (loss * (n - 1) + down) / n
                if k >= n:
                    out[k, c] = (50.0 if gain == 0 else 100.0) if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
        return out

    return rsi(np.ascontiguousarray(close, dtype=np.float64), n)


def _vbt_signals(name: str, p: dict) -> tuple:
    """(entries, exits) of one strategy, bars x symbols booleans (NaN compares false)."""
    close = p["close"]
    if name == "sma_cross":
        fast, slow = close.vbt.rolling_mean(10), close.vbt.rolling_mean(30)
        return fast > slow, fast < slow
    if name == "momentum":
        change = close / close.shift(20) - 1
        return change > 0, change <= 0
    if name == "rsi_strategy":
        rsi = wilder_rsi(close.to_numpy(), 14)
        return close.vbt.wrapper.wrap(rsi < 30), close.vbt.wrapper.wrap(rsi > 70)
    if name == "donchian_breakout":
        return (close > p["high"].vbt.rolling_max(20).shift(1),
                close < p["low"].vbt.rolling_min(20).shift(1))
    first = np.zeros(close.shape, dtype=bool)
    first[0] = True
    return close.vbt.wrapper.wrap(first), close.vbt.wrapper.wrap(np.zeros(close.shape, dtype=bool))


def _vbt_final(vbt, name: str, p: dict) -> float:
    entries, exits = _vbt_signals(name, p)
    entries, exits = entries.vbt.signals.clean(exits)  # enter when flat, exit when held (by the signals)
    target = np.where(entries, 1 / entries.shape[1], np.where(exits, 0.0, np.nan))  # NaN: no order
    target = np.vstack([np.full((1, target.shape[1]), np.nan), target[:-1]])  # filled on the next bar
    portfolio = vbt.Portfolio.from_orders(
        p["close"], size=target, size_type="targetpercent", price=p["open"], val_price=-np.inf,
        init_cash=SLEEVE, group_by=True, cash_sharing=True, call_seq="auto", size_granularity=1, freq="1D")
    return float(np.asarray(portfolio.final_value()).item())


def run_vectorbt(bars: pl.DataFrame) -> dict:
    import numba
    import vectorbt as vbt

    prices = {field: wide(bars, field) for field in ("open", "high", "low", "close")}
    walls, final = [], {}
    for _ in range(2):  # cold (numba compiles), warm
        wall, final = timed(lambda: {name: _vbt_final(vbt, name, prices) for name in STRATEGIES})
        walls.append(wall)
    return {"walls": walls, "final": final, "version": f"vectorbt {vbt.__version__} (numba {numba.__version__})"}


# -- processes and output -------------------------------------------------------------------


def child(tool: str, symbols: int, years: int, keep: int | None, repeat: int, minutes: int = 0) -> dict:
    """Run one tool here and report its times, final values and this process's peak RSS."""
    bars = workload(symbols, years, keep, minutes)
    if tool == "sqlorch":
        result = run_sqlorch(bars, repeat)
    else:
        result = {"backtrader": run_backtrader, "vectorbt": run_vectorbt}[tool](bars)
    result["bars"] = bars.height
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(tool: str, symbols: int, years: int, keep: int | None = None, repeat: int = 1, minutes: int = 0) -> dict:
    """`child` in a new process. Raises RuntimeError with the child's last error line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", tool, "--symbols", str(symbols),
               "--years", str(years), "--keep", str(keep or 0), "--repeat", str(repeat), "--minutes", str(minutes)]
    with tempfile.TemporaryDirectory() as cache:
        # a peer gets an empty numba cache (vectorbt's cold run compiles); sqlorch its own, filled
        # when it was installed (`make`), as a user's first run after installing finds it
        env = {**os.environ, "NUMBA_CACHE_DIR": cache} if tool != "sqlorch" else dict(os.environ)
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"{tool} failed: {lines[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(label: str, tool: str, wall: float, peak: float, bars: int, note: str) -> dict:
    # the brief's keys, plus the ones benchmarks/run.py's table reads (what, seconds, throughput, peak_mb)
    return {"workload": label, "tool": tool, "strategies": 5, "wall_s": wall, "peak_rss_mb": peak, "note": note,
            "what": tool, "seconds": wall, "throughput": bars * 5 / wall, "peak_mb": peak}


def peer_rows(symbols: int = 500, years: int = 10, bt_symbols: int = 50, minutes: int = 0) -> list[dict]:
    """Measure sqlorch, backtrader and vectorbt (see the module docstring), print one line per
    figure and the final values, and return the figures as rows (none for a skipped peer).
    With `minutes`, on M (that many minute bars of one symbol) against vectorbt only."""
    name = "L" if (symbols, years) == (500, 10) else f"{symbols} symbols x {years} years"
    bt_symbols = min(bt_symbols, symbols)
    plans = [("backtrader", f"{name}[{bt_symbols} symbols]" if bt_symbols < symbols else name, bt_symbols),
             ("vectorbt", name, symbols)]
    if minutes:
        name = "M" if minutes == 1_000_000 else f"{minutes:,} minutes"
        plans = [("vectorbt", name, None)]
    rows, finals, versions = [], {}, {"python": f"Python {platform.python_version()}"}
    for peer, label, count in plans:
        if importlib.util.find_spec(peer) is None:
            print(f"peers: {peer} is not installed (pip install '.[bench]'); skipped", flush=True)
            continue
        try:
            ours = measure("sqlorch", symbols, years, count, 2 if peer == "vectorbt" else 1, minutes)
            theirs = measure(peer, symbols, years, count, 1, minutes)
        except RuntimeError as error:
            print(f"peers: {error}; skipped", flush=True)
            continue
        versions.update({"sqlorch": ours["version"], peer: theirs["version"]})
        runs = [("", 0)] if peer == "backtrader" else [(" (cold)", 0), (" (warm)", 1)]
        for suffix, k in runs:
            wall, mine = theirs["walls"][k], ours["walls"][k]
            print(f"peers {label} {peer}{suffix} 5 strategies  wall {wall:.1f} s  peak RSS "
                  f"{theirs['peak_rss_mb']:.0f} MB | sqlorch{' (second run)' if k else ''} {mine:.1f} s  "
                  f"peak RSS {ours['peak_rss_mb']:.0f} MB  -> sqlorch takes {mine / wall:.2f}x "
                  f"{peer}'s time", flush=True)
            note = PEER_NOTES[peer] + RUN_NOTES.get(suffix, "")
            rows.append(_row(label, peer + suffix, wall, theirs["peak_rss_mb"], theirs["bars"], note))
        rows.append(_row(label, "sqlorch", ours["walls"][0], ours["peak_rss_mb"], ours["bars"],
                         f"same data as {peer}, first run in a fresh process"))
        finals[label, peer] = ours["final"], theirs["final"]
    if finals:
        print(f"peers versions: {', '.join(versions.values())}")
        print_finals(finals)
    return rows


def print_finals(finals: dict[tuple[str, str], tuple[dict, dict]]) -> None:
    """Each strategy's final value in sqlorch and in the peer, per (workload, peer)."""
    print("peers final value per strategy, each from 2,000,000. The trades match except: a buy without "
          "enough cash is clipped by sqlorch and vectorbt, rejected by backtrader; where SMA10 equals SMA30 "
          "to the cent, float rounding decides the cross; after an entry that buys 0 shares (price above 1/N "
          "of equity) vectorbt's cleaned signals count the symbol as held until its exit")
    for label, peer in finals:
        ours, theirs = finals[label, peer]
        print(f"  {label:<20} {'sqlorch':>14} {peer:>14}  difference")
        for strategy in STRATEGIES:
            gap = round(theirs[strategy] - ours[strategy], 2) + 0.0  # + 0.0: no "-0.00"
            print(f"  {strategy:<20} {ours[strategy]:>14,.2f} {theirs[strategy]:>14,.2f}  "
                  f"{gap:+,.2f} ({gap / ours[strategy]:+.3%})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500, help="symbols of the data [500]")
    parser.add_argument("--years", type=int, default=10, help="years of daily bars [10]")
    parser.add_argument("--bt-symbols", type=int, default=50, help="the first N symbols for backtrader [50]")
    parser.add_argument("--child", choices=["sqlorch", "backtrader", "vectorbt"], help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=int, default=0,
                        help="instead: M, this many minute bars of one symbol, against vectorbt [0: L]")
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.symbols, args.years, args.keep or None, args.repeat, args.minutes)))
        return
    peer_rows(args.symbols, args.years, args.bt_symbols, args.minutes)


if __name__ == "__main__":
    main()
