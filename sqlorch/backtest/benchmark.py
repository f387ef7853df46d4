"""A run's benchmark (SPEC §10): its closes on the run's clock.

`benchmark` names a symbol of the run's data (only a reference: strategies trade what they
trade, with or without it); `benchmark_path` a file of its own, read with `load_bars` as the
run's data is (symbol = its stem, or what `symbols` renames it to; adjusted prices with
`adjust`). Either way its price at a clock bar is its last close at or before that bar, NaN
before its first bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sqlorch.bars.load import load_bars
from sqlorch.bars.panel import MARK, Panel
from sqlorch.config.settings import BacktestConfig
from sqlorch.errors import ConfigError, DataError, UnknownSymbolError


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's symbol and its close at every bar of a clock (NaN before it has one)."""

    symbol: str
    closes: np.ndarray  # float64, one per clock bar

    def columns(self, run_id: str, timestamps: np.ndarray) -> dict[str, object]:
        """Its rows of the `benchmarks` table for run `run_id` (NULL closes before its first bar)."""
        closes = pl.Series("close", self.closes).fill_nan(None)
        return {"run_id": [run_id] * len(timestamps), "bar_index": np.arange(len(timestamps), dtype=np.int32),
                "ts": pl.Series(timestamps.astype("datetime64[us]")).to_arrow(),
                "symbol": [self.symbol] * len(timestamps), "close": closes.to_arrow()}


def benchmark_of(config: BacktestConfig, panel: Panel) -> Benchmark | None:
    """The benchmark `config` asks for on the clock of `panel` (None if it asks for none).
    ConfigError for a symbol that is not in the data (naming the closest ones); DataError for a
    file that cannot be read or holds several symbols."""
    if config.benchmark is not None:
        if config.benchmark not in panel.symbols:
            raise ConfigError([f"benchmark: {UnknownSymbolError(config.benchmark, panel.symbols)}; the benchmark "
                               "must be a symbol of the data, or give benchmark_path"])
        column = panel.data[:, MARK, panel.symbols.index(config.benchmark)]
        return Benchmark(config.benchmark, np.where(column > 0, column, np.nan))
    if config.benchmark_path is not None:
        return _from_file(config.benchmark_path, panel.timestamps, config)
    return None


def _from_file(path: str, timestamps: np.ndarray, config: BacktestConfig) -> Benchmark:
    """The benchmark from its own file, read as the run's data is (`symbols`, `adjust`,
    `round_prices`)."""
    if not Path(path).is_file():
        raise DataError([f"benchmark_path: {path} is not a file; give the path of a CSV or Parquet file"])
    stem = Path(path).stem
    own = {stem: config.symbols[stem]} if config.symbols and stem in config.symbols else None
    bars = load_bars(path, round_prices=config.round_prices, symbols=own, adjust=config.adjust)
    symbols = bars["symbol"].unique().to_list()
    if len(symbols) != 1:
        raise DataError([f"benchmark_path: {path} holds {len(symbols)} symbols ({', '.join(sorted(symbols)[:5])}); "
                         "a benchmark is one symbol"])
    clock = pl.DataFrame({"ts": timestamps.astype("datetime64[us]")})
    aligned = clock.join_asof(bars.select("ts", "close").sort("ts"), on="ts", strategy="backward")
    return Benchmark(symbols[0], aligned["close"].fill_null(np.nan).to_numpy().astype(np.float64))


def data_symbols(config: BacktestConfig) -> Mapping[str, str] | None:
    """`config.symbols` for reading the run's data: without the entry that renames the
    `benchmark_path` file's own symbol (its stem), which the data need not hold."""
    if not config.symbols or not config.benchmark_path:
        return config.symbols
    stem = Path(config.benchmark_path).stem
    return {name: ticker for name, ticker in config.symbols.items() if name != stem} or None
