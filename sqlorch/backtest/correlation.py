"""How a run's strategies moved together: the `strategy_correlations` view as a matrix, the
flagged pairs, and the `correlation_warning` audit event.

The correlation is Pearson's, of daily returns (intraday bars resampled to the day's last
bar), defined in SQL (sql/views/80_daily_returns.sql, 81_strategy_correlations.sql). A pair
below `DIVERSIFYING_BELOW` diversifies; above `HIGH_ABOVE` it is a warning. Both thresholds are
defined once, in the SQL macro `correlation_flag` (sql/macros/correlation_flag.sql), which the
view uses; this module reads them from that file. The matrix of a run whose strategies all have
a return on every day (sleeves share the run's clock) is the same Pearson correlation computed
as one matrix product of those returns (n strategies make n^2 pairs: a join over every pair and
day takes 18 s for 1,000 strategies, the product 20 ms); a test holds it equal to the view.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from sqlorch.engine.events import encode
from sqlorch.resources import sql_text
from sqlorch.store.warehouse import Warehouse, frame, insert


def _threshold(flag_name: str, comparison: str) -> float:
    """The number the macro `correlation_flag` compares rho with (`comparison`, < or >) to flag a
    pair `flag_name`."""
    found = re.search(rf"rho {comparison} ([0-9.]+) THEN '{flag_name}'", sql_text("macros", "correlation_flag"))
    if found is None:
        raise RuntimeError(f"sql/macros/correlation_flag.sql no longer says `rho {comparison} <number> THEN "
                           f"'{flag_name}'`: update sqlorch.backtest.correlation to read its thresholds")
    return float(found[1])


DIVERSIFYING_BELOW = _threshold("diversifying", "<")
HIGH_ABOVE = _threshold("high", ">")
WARNING_EVENT = "correlation_warning"


def flag(rho: float | None) -> str | None:
    """'diversifying' below DIVERSIFYING_BELOW, 'high' above HIGH_ABOVE, else None (also for an
    undefined rho): the macro correlation_flag in Python."""
    if rho is None or math.isnan(rho):
        return None
    if rho < DIVERSIFYING_BELOW:
        return "diversifying"
    if rho > HIGH_ABOVE:
        return "high"
    return None


def load_pairs(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """Every ordered pair of the run's strategies (diagonal included) from the view, in
    strategy-list order: strategy_a, strategy_b, position_a, position_b, days, correlation, flag."""
    return frame(con, sql_text("queries", "correlation_pairs"), [run_id])


def to_matrix(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs as a square matrix: column `strategy_id`, then one Float64 column per strategy,
    both in strategy-list order (NaN where undefined)."""
    order = (pairs.select("strategy_a", "position_a").unique().sort("position_a")["strategy_a"].to_list()
             if pairs.height else [])
    values = {(a, b): c for a, b, c in pairs.select("strategy_a", "strategy_b", "correlation").iter_rows()}
    columns: dict[str, list] = {"strategy_id": order}
    for b in order:
        columns[b] = [math.nan if values.get((a, b)) is None else float(values[(a, b)]) for a in order]
    return pl.DataFrame(columns, schema={"strategy_id": pl.String, **{b: pl.Float64 for b in order}})


def load_matrix(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """The value of `OrchestratorResult.correlation`: `to_matrix(load_pairs(...))`, computed from
    the daily returns as one product where every strategy has a return on every day."""
    series = frame(con, sql_text("queries", "daily_return_series"), [run_id])
    ids = series["strategy_id"].unique(maintain_order=True).to_list()
    days = series.height // max(len(ids), 1)
    returns = series["ret"].to_numpy().reshape(len(ids), days) if len(ids) * days == series.height else None
    if (len(ids) < 2 or returns is None or series["ret"].null_count() or np.isnan(returns).any()
            or not (series["day"].to_numpy().reshape(len(ids), days) == series["day"].to_numpy()[:days]).all()):
        return to_matrix(load_pairs(con, run_id))  # days missing somewhere: pair by pair, in SQL
    return _frame(ids, pearson(returns))


def pearson(returns: np.ndarray) -> np.ndarray:
    """[n, n] Pearson correlation of the rows of `returns` [n, days]; NaN where a row is flat or
    there are fewer than two days (as SQL's corr)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # an infinite return (from 0 equity) makes NaN
        centred = returns - returns.mean(axis=1, keepdims=True)
        sums = centred @ centred.T
        scale = np.sqrt(np.diag(sums))
        rho = sums / np.outer(scale, scale)
    flat = (scale == 0) | (returns.shape[1] < 2)
    rho[flat, :] = np.nan
    rho[:, flat] = np.nan
    return np.clip(rho, -1.0, 1.0)


def _frame(ids: list[str], rho: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"strategy_id": ids, **{b: rho[:, k] for k, b in enumerate(ids)}},
                        schema={"strategy_id": pl.String, **{b: pl.Float64 for b in ids}})


def unique_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """Each pair of distinct strategies once (position_a < position_b)."""
    return pairs.filter(pl.col("position_a") < pl.col("position_b"))


def high_pairs(matrix: pl.DataFrame) -> list[tuple[str, str, float]]:
    """(strategy_a, strategy_b, correlation) of each distinct pair above HIGH_ABOVE, in list order."""
    ids = matrix["strategy_id"].to_list()
    if not ids:
        return []
    rho = matrix.drop("strategy_id").to_numpy()
    with np.errstate(invalid="ignore"):
        high = np.triu(rho > HIGH_ABOVE, k=1)  # (NaN is not high)
    return [(ids[i], ids[j], float(rho[i, j])) for i, j in zip(*np.nonzero(high))]


def warning_lines(pairs: Iterable[tuple[str, str, float]]) -> list[str]:
    """One sentence per highly correlated pair, for the terminal and the report."""
    return [f"{a} and {b} moved together: correlation of daily returns {rho:.2f} (above {HIGH_ABOVE})"
            for a, b, rho in pairs]


def log_correlation_warning(warehouse: Warehouse, run_id: str, log_path: Path | None, prefix: str,
                            pairs: list[tuple[str, str, float]]) -> None:
    """Append `<prefix>.correlation_warning` {pairs, threshold} to the run's JSONL log (if any)
    and to the warehouse's audit trail (view `events`) as the run's next event. Does nothing without
    pairs."""
    if not pairs:
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    event = f"{prefix}.{WARNING_EVENT}"
    line = encode({"event": event, "ts": now.isoformat(timespec="milliseconds"), "run_id": run_id,
                   "pairs": [{"strategy_a": a, "strategy_b": b, "correlation": round(rho, 6)} for a, b, rho in pairs],
                   "threshold": HIGH_ABOVE})
    with warehouse.transaction() as con:
        ((seq,),) = con.execute(sql_text("queries", "next_event_seq"), [run_id]).fetchall()
        insert(con, "logged_events", {"run_id": [run_id], "seq": [seq], "ts": [now], "event": [event],
                               "payload": [line]})
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
