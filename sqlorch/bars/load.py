"""Load bar data from files or frames into one validated polars DataFrame.

`load_bars` is the only door through which bars enter sqlorch. It reads everything, runs
every check on the whole input with vectorised polars expressions, and either returns
clean bars or raises one `DataError` listing every problem (capped per source and kind).
"""

from __future__ import annotations

import csv
import glob
import os
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sqlorch.errors import ConfigError, DataError, DataWarning, did_you_mean
from sqlorch.money import MAX_PRICE, MIN_PRICE, PRICE_ROUNDING_TOLERANCE

BAR_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume")
PRICE_DECIMALS = 6
MAX_LISTED = 10  # problem rows listed per source and kind; the rest are counted

_PRICES = ("open", "high", "low", "close")
_NUMBERS = (*_PRICES, "volume")
_ALIASES = {"symbol": ("symbol", "ticker"), "ts": ("ts", "date", "datetime", "timestamp", "time")}
ADJ_CLOSE = "adj_close"  # Yahoo's "Adj Close": the close adjusted for splits and dividends
ADJUST_CHOICES = ("none", "adjusted")
_PARQUET = (".parquet", ".pq")
_NULLS = ["null", "NULL", "Null"]  # Yahoo writes `null` for a missing value
_TS_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S%.f",
               "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S%.f%z")
_TS_HINT = "use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"  # a timestamp's UTC offset, at the end of its text
_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
GAP_DAYS = 365  # a symbol without bars for longer than this is warned about
YEARS = (1800, 2200)  # timestamps outside these years are errors (SPEC §5): a two-digit year, mostly


@dataclass
class _Source:
    """One input: what messages call it, how they count rows, how its columns are named."""

    name: str  # a file name (its path when two files share a name) or "DataFrame"
    unit: str  # "line" for CSV (the header is line 1), "row" (1-based) otherwise
    path: Path | None = None
    stem: str | None = None  # the symbol, when the source has no symbol column
    columns: dict[str, str] = field(default_factory=dict)  # canonical name -> its name here
    time: str | None = None  # a separate time-of-day column (Date,Time,Open,... files)
    readable: bool = True
    adjusted: bool = False  # needs an Adj Close column (load_bars(adjust="adjusted"))

    def col(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)

    def bind(self, names: list[str]) -> str | None:
        """Map canonical columns onto `names`; a problem naming any that are missing."""
        by_lower: dict[str, str] = {}
        for n in names:
            by_lower.setdefault(n.strip().lower(), n)
        for canon in ("symbol", "ts", *_NUMBERS):
            hit = [by_lower[a] for a in _ALIASES.get(canon, (canon,)) if a in by_lower]
            if hit:
                self.columns[canon] = hit[0]
        if self.columns.get("ts") == by_lower.get("date") and "time" in by_lower:
            self.time = by_lower["time"]
        needed = ("ts", *_PRICES) if self.stem is not None else ("symbol", "ts", *_PRICES)
        missing = [c for c in needed if c not in self.columns]
        if self.adjusted:
            adj = [n for n in names if "".join(n.lower().replace("_", " ").replace(".", " ").split()) == "adjclose"]
            if adj:
                self.columns[ADJ_CLOSE] = adj[0]
            elif not missing:
                fix = ("add an adj_close (or Adj Close) column" if self.path is None else
                       "use a file with Adj Close (Yahoo's daily history has it)")
                return (f"{self.name}: adjust = \"adjusted\" needs an Adj Close column, and it has none (found: "
                        f"{', '.join(names) or 'none'}); {fix}, or trade the prices as they are with "
                        "adjust = \"none\" (bars already adjusted by load_bars(adjust=\"adjusted\") need no second "
                        "adjustment)")
        if not missing:
            return None
        return (f"{self.name}: missing required column(s) {', '.join(missing)} (found: "
                f"{', '.join(names) or 'none'}); add or rename them (ts may also be called "
                "date, datetime, timestamp or time)")

    def select(self) -> list[pl.Expr]:
        """Expressions picking the canonical columns (volume null when absent)."""
        cols = {c: pl.col(n).alias(c) for c, n in self.columns.items()}
        if self.time:
            cols["ts"] = pl.concat_str(pl.col(self.columns["ts"], self.time).cast(pl.String),
                                       separator=" ").alias("ts")
        cols.setdefault("symbol", pl.lit(self.stem, pl.String).alias("symbol"))
        cols.setdefault("volume", pl.lit(None, pl.String).alias("volume"))
        return [cols[c] for c in (*BAR_COLUMNS, ADJ_CLOSE) if c in cols]


def load_bars(sources: Any, *, start: Any = None, end: Any = None, round_prices: bool = False,
              symbols: Mapping[str, str] | None = None, adjust: str = "none") -> pl.DataFrame:
    """Read, validate and return bars as a DataFrame with exactly `BAR_COLUMNS`.

    `sources` is a path, glob or directory (its *.csv, *.parquet and *.pq files), a
    list of those, or a polars/pandas DataFrame or Arrow table (or a list of frames; a
    list may not mix frames and paths). Files are Yahoo CSV (symbol = file stem, `null`
    = missing), CSV or Parquet with columns symbol, ts (or date/datetime/timestamp/time),
    open, high, low, close, volume; header case is ignored, other columns are dropped,
    blank CSV lines are skipped, a missing volume (column or value) becomes 0.0.

    Output: symbol String, ts Datetime("us") naive (tz-aware input converted to UTC),
    prices Float64 rounded to `PRICE_DECIMALS`, volume Float64, sorted by (ts, symbol).
    Prices must lie between 0.000001 and 1e9 (SPEC §3); one that rounding to 6 decimals
    would change by more than 0.01% is a problem unless `round_prices` is true. Timestamps
    with and without UTC offsets in one input are a problem naming the sources. A symbol
    without bars for more than a year gets a `DataWarning`.
    `start`/`end` (date, datetime or ISO string) are inclusive bounds applied after the
    whole input is validated; a date `end` includes that whole day. `symbols` renames symbols
    ({"nvda-1999-2014": "NVDA"}: a file's stem to the ticker to trade it as); a name that is not
    a symbol of the input is a problem.
    `adjust="adjusted"` trades adjusted prices: every source needs an Adj Close column (Yahoo's;
    also adj_close, any case or spacing), and open, high, low and close are multiplied by
    Adj Close / Close of their row, volume divided by it (splits and dividends, Yahoo's
    convention), before the price checks and the rounding to `PRICE_DECIMALS`; a source without
    it is a problem. `adjust="none"` (default) ignores Adj Close. Any other value: ConfigError.

    Raises `DataError` listing every problem found (paths, columns, timestamps, prices,
    duplicates, bounds), each naming the source, line or row, symbol and timestamp.
    """
    if adjust not in ADJUST_CHOICES:
        raise ConfigError([f"adjust: {adjust!r} is not one of {', '.join(ADJUST_CHOICES)}"
                           f"{did_you_mean(str(adjust), ADJUST_CHOICES)}"])
    adjusted = adjust == "adjusted"
    problems: list[str] = []
    lo, hi = _bound("start", start, problems), _bound("end", end, problems)
    if lo and hi and (lo[0] >= hi[0] + timedelta(days=1) if hi[1] else lo[0] > hi[0]):
        problems.append(f"start {start} is after end {end}; swap them")
    metas, frames = _read(sources, problems, adjusted)
    bars = _normalize(frames) if frames else None
    present = set(bars["_src"].unique()) if bars is not None else set()
    problems += [f"{m.name}: no data rows; add bars or remove it from the sources"
                 for i, m in enumerate(metas) if i not in present and m.readable]
    if bars is not None and symbols:
        bars = _renamed(bars, symbols, problems)
    if bars is not None:
        problems += _time_zones(bars, metas)
        problems += _check(bars, metas, round_prices)
        if adjusted and not problems:
            bars = _adjusted(bars)
            problems += [f"{p} (adjusted by Adj Close / Close)"
                         for p in _check(bars, metas, round_prices, prices_only=True)]
    if problems:
        raise DataError(problems)
    assert bars is not None
    bars = bars.select(pl.col("symbol").cast(pl.String), pl.col("ts"),
                       *(pl.col(c).round(PRICE_DECIMALS) for c in _PRICES),
                       pl.col("volume").fill_nan(0.0).fill_null(0.0))
    _warn_gaps(bars)
    keep = [pl.col("ts") >= lo[0]] if lo else []
    if hi:
        keep.append(pl.col("ts") < hi[0] + timedelta(days=1) if hi[1] else pl.col("ts") <= hi[0])
    kept = bars.filter(*keep) if keep else bars
    if kept.is_empty():
        given = " and ".join(f"{k} {v}" for k, v in (("start", start), ("end", end)) if v)
        raise DataError([f"no bars left within {given} (the data covers {_fmt_ts(bars['ts'].min())}"
                         f" to {_fmt_ts(bars['ts'].max())}); widen start/end"])
    return kept


def _adjusted(bars: pl.DataFrame) -> pl.DataFrame:
    """Bars with open, high, low and close times Adj Close / Close of their row, volume divided by it."""
    factor = pl.col(ADJ_CLOSE) / pl.col("close")
    return bars.with_columns(*((pl.col(c) * factor).alias(c) for c in _PRICES),
                             (pl.col("volume") / factor).alias("volume")).drop(ADJ_CLOSE)


def _renamed(bars: pl.DataFrame, symbols: Mapping[str, str], problems: list[str]) -> pl.DataFrame:
    """`bars` with their symbols renamed as `symbols` says; a problem for each name that is not
    a symbol of the bars."""
    known = sorted(bars["symbol"].cast(pl.String).unique().to_list())
    for name in symbols:
        if name not in set(known):
            shown = ", ".join(map(repr, known[:10])) + (f" and {len(known) - 10:,} more" if len(known) > 10 else "")
            problems.append(f"symbols: {name!r} is not a symbol of the data{did_you_mean(str(name), known)}; "
                            f"a file's symbol is its name without the extension, here {shown}")
    return bars.with_columns(pl.col("symbol").cast(pl.String).replace(dict(symbols)))


def _bound(name: str, value: Any, problems: list[str]) -> tuple[datetime, bool] | None:
    """A start/end bound as (naive UTC datetime, is a whole day), or None if not given."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time()), True
        except ValueError:
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                problems.append(f"{name} {value!r} is not a valid date/time; {_TS_HINT}")
                return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value, False
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time()), True
    problems.append(f"{name} {value!r} is not a date; pass a date, datetime or ISO string")
    return None


def _read(sources: Any, problems: list[str], adjusted: bool = False) -> tuple[list[_Source], list[pl.DataFrame]]:
    """Every source as a frame of canonical columns plus _src (index) and _row (number)."""
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    is_frame = [isinstance(s, (pl.DataFrame, pl.LazyFrame)) or _module(s) in ("pyarrow", "pandas")
                for s in items]
    metas: list[_Source] = []
    frames: list[pl.DataFrame] = []
    if not items:
        problems.append("no sources given; pass a path, glob, directory or DataFrame")
    elif all(is_frame):
        for i, obj in enumerate(items):
            label = {"pyarrow": "Arrow table", "pandas": "pandas DataFrame"}.get(_module(obj))
            meta = _Source((label or "DataFrame") + (f" #{i + 1}" if len(items) > 1 else ""), "row",
                           adjusted=adjusted)
            df = pl.from_arrow(obj) if _module(obj) == "pyarrow" else (
                _from_pandas(obj) if _module(obj) == "pandas" else obj.lazy().collect())
            if isinstance(df, pl.DataFrame):
                _add(df, meta, metas, frames, problems)
            else:
                problems.append(f"{meta.name}: a {type(obj).__name__} is not a table; pass a "
                                "DataFrame or an Arrow table")
    elif any(is_frame):
        problems.append("sources mix DataFrames and file paths; pass either frames or paths")
    else:
        groups: dict[tuple[str, ...], list[int]] = {}  # CSV header -> its files' sources
        for meta in _files(items, problems):
            meta.adjusted = adjusted
            path = str(meta.path)
            try:
                if meta.unit == "row":
                    _add(pl.read_parquet(path), meta, metas, frames, problems)
                    continue
                with open(path, newline="", encoding="utf-8-sig") as f:
                    header = next(csv.reader(f), [])
            except Exception as exc:  # noqa: BLE001 - any failure to read is a user problem
                problems.append(_unreadable(meta.name, exc))
                continue
            if (problem := _delimiter(meta.name, header) or (meta.bind(header) if header else
                    f"{meta.name}: the file is empty; add a header and bars or remove it from the sources")):
                problems.append(problem)
                continue
            groups.setdefault(tuple(header), []).append(len(metas))
            metas.append(meta)
        for srcs in groups.values():
            frames += _read_csvs(srcs, metas, problems)
    return metas, frames


def _delimiter(name: str, header: list[str]) -> str | None:
    """A problem if a CSV header read with commas is one field holding another delimiter."""
    if len(header) != 1:
        return None
    seen = [(d, what) for d, what in _DELIMITERS.items() if d in header[0]]
    if not seen:
        return None
    delimiter, what = seen[0]
    return (f"{name}: the columns are separated by {what} ({delimiter!r}), not commas; sqlorch reads "
            "comma-separated files: save it as CSV with commas")


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _from_pandas(obj: Any) -> pl.DataFrame:
    """A pandas frame as polars, keeping a named index (e.g. yfinance's Date) as a column."""
    named = any(n is not None for n in getattr(obj.index, "names", [None]))
    return pl.from_pandas(obj, include_index=named)


def _unreadable(name: str, exc: Exception) -> str:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"{name}: cannot read the file ({reason}); check it is a valid CSV or Parquet file"


def _files(items: list[Any], problems: list[str]) -> list[_Source]:
    """A source per distinct file named by the paths, globs and directories in `items`."""
    paths: dict[Path, Path] = {}  # resolved -> as given
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            problems.append(f"source {item!r} ({type(item).__name__}) is not a path or DataFrame")
            continue
        text = os.path.expanduser(os.fspath(item))
        if os.path.isfile(text):
            hits, what = [Path(text)], ""
        elif os.path.isdir(text):
            hits = sorted(p for p in Path(text).iterdir()
                          if p.is_file() and p.suffix.lower() in (".csv", *_PARQUET))
            what = "the directory holds no .csv or .parquet files"
        elif any(ch in text for ch in "*?["):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            what = "no files match"
        else:
            hits, what = [], "file not found"
        if not hits:
            where = "" if os.path.isabs(text) else f" (relative to {os.getcwd()})"
            problems.append(f"{item}: {what}; check the path{where}")
        for p in hits:
            paths.setdefault(p.resolve(), p)
    names = Counter(p.name for p in paths.values())
    return [_Source(p.name if names[p.name] == 1 else str(p),
                    "row" if p.suffix.lower() in _PARQUET else "line", p, p.stem)
            for p in paths.values()]


def _add(df: pl.DataFrame, meta: _Source, metas: list[_Source], frames: list[pl.DataFrame],
         problems: list[str]) -> None:
    """Append a frame's canonical columns, or the problem with its columns."""
    if problem := meta.bind(df.columns):
        problems.append(problem)
        return
    frames.append(df.select(pl.lit(len(metas), pl.UInt32).alias("_src"),
                            pl.int_range(1, df.height + 1, dtype=pl.Int64).alias("_row"),
                            *meta.select()))
    metas.append(meta)


def _read_csvs(srcs: list[int], metas: list[_Source], problems: list[str]) -> list[pl.DataFrame]:
    """Read CSV files sharing one header in one parallel scan (file by file on failure)."""
    group = [metas[i] for i in srcs]
    try:
        df = pl.scan_csv([str(m.path) for m in group], infer_schema=False, glob=False,
                         null_values=_NULLS, include_file_paths="_path",
                         ).select(*group[0].select(), "_path").collect()
    except Exception as exc:  # noqa: BLE001 - any failure to read is a user problem
        if len(group) == 1:
            problems.append(_unreadable(group[0].name, exc))
            group[0].readable = False
            return []
        return [f for i in srcs for f in _read_csvs([i], metas, problems)]
    runs = df.select(pl.col("_path").rle()).unnest("_path")  # one run per non-empty file
    lens = runs["len"].to_numpy().astype(np.int64)
    run_of_row = np.repeat(np.arange(len(lens)), lens)
    src_of = {str(m.path): i for m, i in zip(group, srcs)}
    run_src = [src_of[v] for v in runs["value"]]
    df = df.select(
        pl.Series("_src", np.array(run_src, dtype=np.uint32)[run_of_row], pl.UInt32),
        pl.Series("_row", np.arange(df.height) - (np.cumsum(lens) - lens)[run_of_row] + 2),
        pl.Series([metas[i].stem for i in run_src], dtype=pl.String).gather(run_of_row).alias(
            "symbol") if "symbol" not in group[0].columns else pl.col("symbol"),
        *BAR_COLUMNS[1:], *((ADJ_CLOSE,) if ADJ_CLOSE in group[0].columns else ()),
    )
    return [df.filter(~pl.all_horizontal(pl.col(BAR_COLUMNS[1:]).is_null()))]  # blank lines


def _normalize(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame of typed bars sorted by (ts, symbol), symbol as an Enum (cheap to sort),
    plus a *_raw text column wherever some value of that column did not parse."""
    groups: dict[tuple, list[pl.DataFrame]] = {}
    for f in frames:  # frames with one schema are cast together
        groups.setdefault(tuple(f.schema.items()), []).append(f)
    parts = []
    for group in groups.values():
        df = pl.concat(group) if len(group) > 1 else group[0]
        typed_ts = isinstance(df.schema["ts"], pl.Datetime) or df.schema["ts"] == pl.Date
        numbers = [c for c in (*_NUMBERS, ADJ_CLOSE) if c in df.columns]
        text = {c: df[c].cast(pl.String) for c in ("ts", *numbers)
                if df.schema[c] == pl.String or (c == "ts" and not typed_ts)}
        aware = (text["ts"].str.contains(_OFFSET).alias("_aware") if "ts" in text else
                 pl.lit(bool(getattr(df.schema["ts"], "time_zone", None)), pl.Boolean).alias("_aware"))
        part = df.select("_src", "_row", pl.col("symbol").cast(pl.String),  # one parallel pass
                         *(pl.col(c).cast(pl.Float64, strict=False) for c in numbers),
                         _ts_expr(df.schema["ts"], text.get("ts")).alias("ts"), aware)
        for c, raw in text.items():  # rare: repair what failed, keep the text of what still does
            idx = (part[c].is_null() & raw.is_not_null()).arg_true()
            if len(idx):
                sub = _clean(raw.gather(idx))
                got = _parse_ts(sub) if c == "ts" else sub.cast(pl.Float64, strict=False)
                failed = _nulls(df.height, pl.String).scatter(idx, sub.set(got.is_not_null(), None))
                part = part.with_columns(part[c].scatter(idx, got), failed.alias(c + "_raw"))
        parts.append(part)
    bars = pl.concat(parts, how="diagonal") if len(parts) > 1 else parts[0]
    names = bars["symbol"].unique().drop_nulls()
    if not (names.str.strip_chars() == names).all() or names.is_in([""] + _NULLS).any():
        bars = bars.with_columns(symbol=_clean(bars["symbol"]))
        names = bars["symbol"].unique().drop_nulls()
    bars = bars.with_columns(pl.col("symbol").cast(pl.Enum(names.sort())))
    by_symbol = bars["symbol"].to_physical().is_sorted()  # e.g. one file per symbol, in order
    keys = ("ts",) if by_symbol else ("ts", "symbol")  # a stable sort by ts is then enough
    return bars.sort(*keys, nulls_last=True, maintain_order=True)


def _clean(text: pl.Series) -> pl.Series:
    """Stripped text, with empty strings and `null` as null."""
    t = text.str.strip_chars()
    return t.set(t.str.len_bytes().eq(0) | t.is_in(_NULLS), None)  # type: ignore[arg-type]


def _nulls(n: int, dtype: Any) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True)


def _ts_expr(dtype: pl.DataType, text: pl.Series | None) -> pl.Expr:
    """ts as naive UTC Datetime("us"); text is parsed in the format of its first value."""
    ts = pl.col("ts")
    if isinstance(dtype, pl.Datetime):
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else ts
        return ts.dt.cast_time_unit("us")
    if dtype == pl.Date:
        return ts.cast(pl.Datetime("us"))
    assert text is not None
    sample = text.drop_nulls().head(1)
    fmts = (*_TS_FORMATS, *(f.replace(" ", "T") for f in _TS_FORMATS[1:]))
    fmt = next((f for f in fmts if _parse(sample, f).is_not_null().all()), None)
    return _parse(ts.cast(pl.String), fmt) if fmt else pl.lit(None, pl.Datetime("us"))


def _parse_ts(text: pl.Series) -> pl.Series:
    """Any ISO form: " " or "T", optional seconds and fraction, an offset or "Z"."""
    iso = text.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
    got = _nulls(len(text), pl.Datetime("us"))
    for f in _TS_FORMATS:
        got = got.fill_null(_parse(iso, f))
    return got


def _parse(text: Any, fmt: str) -> Any:
    got = text.str.to_datetime(fmt, strict=False, time_unit="us")
    return got.dt.replace_time_zone(None) if "%z" in fmt else got  # parsed into UTC


def _fmt_ts(ts: datetime | None) -> str:
    if ts is None:
        return ""
    return str(ts.date()) if ts == datetime.combine(ts.date(), datetime.min.time()) else str(ts)


def _time_zones(bars: pl.DataFrame, metas: list[_Source]) -> list[str]:
    """One problem if some timestamps carry a UTC offset and others do not: mixed, the clock
    would hold each instant twice (once in UTC, once in local time)."""
    kinds = bars.group_by("_src").agg(pl.col("_aware").any().alias("some"), pl.col("_aware").all().alias("all"))
    aware = sorted(metas[k].name for k, some in kinds.select("_src", "some").iter_rows() if some)
    naive = sorted(metas[k].name for k, every in kinds.select("_src", "all").iter_rows() if not every)
    if not aware or not naive:
        return []
    both = sorted(set(aware) & set(naive))
    listed = (f"{', '.join(both)} mix(es) them" if both else
              f"{', '.join(aware)} give(s) UTC offsets (like +00:00) and {', '.join(naive)} do(es) not")
    return [f"timestamps with and without time zones are mixed: {listed}; give every timestamp an offset, "
            "or none"]


def _warn_gaps(bars: pl.DataFrame) -> None:
    """A `DataWarning` per symbol with more than `GAP_DAYS` days between two of its bars."""
    gaps = bars.select("symbol", "ts", pl.col("ts").diff().over("symbol").alias("gap")).filter(
        pl.col("gap") > timedelta(days=GAP_DAYS)).group_by("symbol", maintain_order=True).agg(
        pl.all().sort_by("gap").last())
    for symbol, ts, gap in gaps.sort("symbol").iter_rows():
        warnings.warn(f"{symbol} has no bars for {gap.days} days, from {_fmt_ts(ts - gap)} to {_fmt_ts(ts)}; "
                      "check the data (a delisting, or a missing file?)", DataWarning, stacklevel=3)


def _checks(round_prices: bool = False, adjusted: bool = False) -> list[tuple[str, pl.Expr, Any, str]]:
    """(key, mask, message(row, column name), summary) for every kind of row problem (with
    `adjusted`, also of the Adj Close column)."""
    c = pl.col

    def valid(*cols: str) -> pl.Expr:  # so that one bad price is reported only once
        return pl.all_horizontal(c(x).is_finite() & c(x).is_between(MIN_PRICE, MAX_PRICE) for x in cols)

    def rounded(x: str) -> pl.Expr:  # prices are compared as stored: float noise is no problem
        return c(x).round(PRICE_DECIMALS)

    out = [
        ("sym", c("symbol").is_null(), lambda r, n: f"{n('symbol')} is empty; fill it in or "
         "drop the row", "with an empty symbol"),
        ("ts0", c("ts").is_null() & c("ts_raw").is_null(), lambda r, n: f"{n('ts')} is empty; "
         "fill it in or drop the row", "with an empty timestamp"),
        ("ts", c("ts_raw").is_not_null(), lambda r, n: f"{n('ts')} {r['ts_raw']!r} is not a "
         f"valid date/time; {_TS_HINT}", "with an unparseable timestamp"),
        ("year", ~c("ts").dt.year().is_between(*YEARS), lambda r, n: f"{n('ts')} is in the year "
         f"{r['ts'].year}, outside {YEARS[0]}-{YEARS[1]}; " + (
             f"a two-digit year? write it in full, like {r['ts'].replace(year=1900 + r['ts'].year):%Y-%m-%d}"
             if r["ts"].year < 100 else "check the date"), f"with a year outside {YEARS[0]}-{YEARS[1]}"),
    ]
    for p in (*_NUMBERS, ADJ_CLOSE) if adjusted else _NUMBERS:
        out.append((p + "?", c(p + "_raw").is_not_null(), lambda r, n, p=p: f"{n(p)} "
                    f"{r[p + '_raw']!r} is not a number; fix the value or drop the row",
                    f"with a non-numeric {p}"))
    if adjusted:
        p = ADJ_CLOSE
        out += [
            (p + "0", c(p).is_null() & c(p + "_raw").is_null(), lambda r, n: f"{n(ADJ_CLOSE)} is empty; fill it "
             "in or drop the row (adjust = \"adjusted\" needs it on every row)", "with an empty Adj Close"),
            (p + "-", c(p).is_not_null() & ~(c(p).is_finite() & (c(p) > 0)), lambda r, n: f"{n(ADJ_CLOSE)} is "
             f"{r[ADJ_CLOSE]}, but must be a finite number > 0; fix the value or drop the row",
             "with an Adj Close that is not > 0"),
        ]
    for p in _PRICES:
        out += [
            (p + "0", c(p).is_null() & c(p + "_raw").is_null(), lambda r, n, p=p: f"{n(p)} is "
             "empty; fill it in or drop the row", f"with an empty {p}"),
            (p + "~", c(p).is_not_null() & ~c(p).is_finite(), lambda r, n, p=p: f"{n(p)} is "
             f"{r[p]}; give a finite price or drop the row", f"with a NaN/infinite {p}"),
            (p + "-", c(p).is_finite() & (c(p) <= 0), lambda r, n, p=p: f"{n(p)} is {r[p]}, "
             "but prices must be > 0; fix the value or drop the row", f"with {p} <= 0"),
            (p + "<", c(p).is_finite() & (c(p) > 0) & (c(p) < MIN_PRICE), lambda r, n, p=p: f"{n(p)} is "
             f"{r[p]!r}, below the smallest price sqlorch holds (0.000001); scale the prices (e.g. per "
             "1,000 units) or drop the row", f"with {p} below 0.000001"),
            (p + ">", c(p).is_finite() & (c(p) > MAX_PRICE), lambda r, n, p=p: f"{n(p)} is {r[p]!r}, "
             "above the largest price sqlorch holds (1e9); scale the prices or drop the row",
             f"with {p} above 1e9"),
        ]
        if not round_prices:
            out.append((p + "~6", c(p).is_finite() & (c(p) >= MIN_PRICE) & (
                (c(p).round(PRICE_DECIMALS) - c(p)).abs() > PRICE_ROUNDING_TOLERANCE * c(p)),
                lambda r, n, p=p: f"{n(p)} {r[p]!r} has more than 6 decimals: rounding it to "
                f"{round(r[p], PRICE_DECIMALS):.6f} would change it by {abs(round(r[p], PRICE_DECIMALS) / r[p] - 1):.2%}; "
                "give prices to 6 decimals, or set round_prices = true to round them", f"with {p} "
                "changed by rounding to 6 decimals"))
    out += [
        ("hl", valid("high", "low") & (rounded("high") < rounded("low")), lambda r, n: f"{n('high')} "
         f"{r['high']} < {n('low')} {r['low']}; swap or fix them", "with high < low"),
        *((p, valid(p, "high", "low") & (rounded("high") >= rounded("low")) & ~rounded(p).is_between(
            rounded("low"), rounded("high")), lambda r, n, p=p: f"{n(p)} {r[p]} is outside [{n('low')} "
           f"{r['low']}, {n('high')} {r['high']}]; fix the bar", f"with {p} outside [low, high]")
          for p in ("open", "close")),
        ("vol", c("volume") < 0, lambda r, n: f"{n('volume')} is {r['volume']}, but must be "
         ">= 0; fix the value or drop the row", "with a negative volume"),
        ("dup", c("_dup"), lambda r, n: f"duplicate bar for this symbol and time, first at "
         f"{r['_first']}; keep only one", "duplicating an earlier bar"),
    ]
    return out


def _check(bars: pl.DataFrame, metas: list[_Source], round_prices: bool = False,
           prices_only: bool = False) -> list[str]:
    """Every row problem in `bars` (sorted by ts, symbol), at most MAX_LISTED per source
    and kind plus a count of the rest, ordered by source and line. `prices_only`: only whether
    the prices are finite, within sqlorch's range and (unless `round_prices`) 6 decimals."""
    adjusted = ADJ_CLOSE in bars.columns
    checks = _checks(round_prices, adjusted)
    if prices_only:
        checks = [check for check in checks if check[0][:-1] in _PRICES and check[0][-1] in "~<>"
                  or check[0][-2:] == "~6"]
    bars = bars.with_columns(pl.lit(None, pl.String).alias(f"{c}_raw")
                             for c in ("ts", *_NUMBERS, *((ADJ_CLOSE,) if adjusted else ()))
                             if f"{c}_raw" not in bars.columns)
    same = (pl.col("ts") == pl.col("ts").shift(1)) & (pl.col("symbol") == pl.col("symbol").shift(1))
    key = pl.col("_src").cast(pl.Int64) * (1 << 32) + pl.col("_row")
    flagged = bars.with_columns(_dup=same.fill_null(False)).with_columns(
        pl.when(~pl.col("_dup")).then(key).forward_fill().alias("_first"),
        *(mask.fill_null(False).alias(f"_{k}") for k, mask, _, _ in checks),
    ).filter(pl.any_horizontal(f"_{k}" for k, _, _, _ in checks)).sort("_src", "_row")
    found: list[tuple[int, int, int, str]] = []  # (source, row, check order, message)
    for order, (k, _, message, summary) in enumerate(checks):
        hits = flagged.filter(pl.col(f"_{k}"))
        listed = hits.filter(pl.int_range(pl.len()).over("_src") < MAX_LISTED)
        for r in listed.iter_rows(named=True):
            meta, first = metas[r["_src"]], metas[r["_first"] >> 32]
            r["_first"] = ("" if first is meta else first.name + " ") + \
                f"{first.unit} {r['_first'] & 0xFFFFFFFF}"
            who = " ".join(x for x in (r["symbol"], _fmt_ts(r["ts"]) or r["ts_raw"]) if x)
            found.append((r["_src"], r["_row"], order, f"{meta.name} {meta.unit} {r['_row']}"
                          f"{f' ({who})' if who else ''}: {message(r, meta.col)}"))
        for src, n in hits.group_by("_src").len().iter_rows():
            if n > MAX_LISTED:
                found.append((src, 1 << 62, order, f"{metas[src].name}: {n - MAX_LISTED} more "
                              f"rows {summary}"))
    return [text for *_, text in sorted(found)]
