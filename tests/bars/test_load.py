"""Tests for sqlorch.bars.load.load_bars: formats, output contract, and every validation problem."""

from __future__ import annotations

import math
import os
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from shared_data import all_real_files

from sqlorch.bars.load import BAR_COLUMNS, MAX_LISTED, PRICE_DECIMALS, load_bars
from sqlorch.errors import DataError, SqlorchError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "data"
YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
PLAIN_HEADER = "symbol,ts,open,high,low,close,volume"
SCHEMA = {"symbol": pl.String, "ts": pl.Datetime("us"), "open": pl.Float64,
          "high": pl.Float64, "low": pl.Float64, "close": pl.Float64, "volume": pl.Float64}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def plain(directory: Path, name: str, *rows: str, header: str = PLAIN_HEADER) -> Path:
    return write(directory, name, "\n".join([header, *rows]) + "\n")


def problems(sources, **kwargs) -> list[str]:
    with pytest.raises(DataError) as info:
        load_bars(sources, **kwargs)
    return info.value.problems


def frame(**overrides) -> pl.DataFrame:
    data = {"symbol": ["AAA", "AAA"], "ts": ["2020-01-02", "2020-01-03"],
            "open": [10.0, 10.5], "high": [11.0, 11.0], "low": [9.0, 10.0],
            "close": [10.5, 10.8], "volume": [100.0, 200.0]}
    data.update(overrides)
    return pl.DataFrame(data)


# --- formats ---------------------------------------------------------------------------


def test_yahoo_csv_symbol_from_stem_adj_close_ignored_null_volume():
    bars = load_bars(FIXTURES / "aaa-yahoo.csv")
    assert bars.columns == list(BAR_COLUMNS)
    assert dict(bars.schema) == SCHEMA
    assert bars["symbol"].unique().to_list() == ["aaa-yahoo"]
    assert bars["close"].to_list() == [10.2, 10.6, 10.5, 10.9, 11.1]  # not Adj Close
    assert bars["volume"].to_list() == [1000.0, 1200.0, 0.0, 1500.0, 900.0]  # null -> 0.0
    assert bars["ts"][0] == datetime(2020, 1, 2)


def test_yahoo_null_prices_are_reported_as_empty(tmp_path):
    plain(tmp_path, "zzz.csv", "2020-01-02,1,2,1,1.5,1.5,10", "2020-01-03,null,null,null,null,null,null",
          header=YAHOO_HEADER)
    found = problems(tmp_path / "zzz.csv")
    assert "zzz.csv line 3 (zzz 2020-01-03): Open is empty; fill it in or drop the row" in found
    assert any("Close is empty" in p for p in found) and len(found) == 4  # O, H, L, C


@pytest.mark.parametrize("ts_name", ["ts", "Date", "DATETIME", "timestamp", "Time"])
def test_plain_csv_header_case_and_ts_aliases(tmp_path, ts_name):
    header = f"Symbol,{ts_name},Open,HIGH,low,Close,Volume,extra"
    plain(tmp_path, "b.csv", "BBB,2020-01-02,1,2,1,1.5,10,x", "AAA,2020-01-02,3,4,3,3.5,20,y",
          header=header)
    bars = load_bars(str(tmp_path / "b.csv"))
    assert bars.columns == list(BAR_COLUMNS)
    assert bars["symbol"].to_list() == ["AAA", "BBB"]
    assert bars["close"].to_list() == [3.5, 1.5]


def test_csv_without_volume_column_and_stripped_values(tmp_path):
    plain(tmp_path, "c.csv", " AAA , 2020-01-02 , 1 ,2,1, 1.5 ", header="symbol,ts,open,high,low,close")
    bars = load_bars(tmp_path / "c.csv")
    assert bars.row(0) == ("AAA", datetime(2020, 1, 2), 1.0, 2.0, 1.0, 1.5, 0.0)


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path):
    write(tmp_path, "b.csv", f"{PLAIN_HEADER}\nAAA,2020-01-02,1,2,1,1.5,10\n\nAAA,2020-01-03,1,2,1,,10\n")
    assert problems(tmp_path / "b.csv") == [
        "b.csv line 4 (AAA 2020-01-03): close is empty; fill it in or drop the row"]


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_with_and_without_symbol(tmp_path, suffix):
    frame().write_parquet(tmp_path / f"with{suffix}")
    frame().drop("symbol").write_parquet(tmp_path / f"ccc{suffix}")
    bars = load_bars([tmp_path / f"with{suffix}", tmp_path / f"ccc{suffix}"])
    assert bars["symbol"].to_list() == ["AAA", "ccc", "AAA", "ccc"]
    assert dict(bars.schema) == SCHEMA


def test_glob_and_directory(tmp_path):
    plain(tmp_path, "a.csv", "AAA,2020-01-02,1,2,1,1.5,10")
    plain(tmp_path, "b.csv", "BBB,2020-01-02,1,2,1,1.5,10")
    frame(symbol=["CCC", "CCC"]).write_parquet(tmp_path / "c.parquet")
    write(tmp_path, "notes.txt", "not data")
    plain(tmp_path / "sub", "d.csv", "DDD,2020-01-02,1,2,1,1.5,10")  # not recursive
    assert load_bars(str(tmp_path / "*.csv"))["symbol"].to_list() == ["AAA", "BBB"]
    assert sorted(load_bars(tmp_path)["symbol"].unique()) == ["AAA", "BBB", "CCC"]
    # the same file named twice (glob and path) is read once
    both = load_bars([str(tmp_path / "*.csv"), tmp_path / "a.csv"])
    assert both["symbol"].to_list() == ["AAA", "BBB"]


def test_polars_and_arrow_input_with_date_and_datetime_ts():
    dates = frame(ts=[date(2020, 1, 2), date(2020, 1, 3)])
    stamps = frame(symbol=["BBB", "BBB"], ts=[datetime(2020, 1, 2), datetime(2020, 1, 3)])
    assert load_bars(dates)["ts"].to_list() == [datetime(2020, 1, 2), datetime(2020, 1, 3)]
    bars = load_bars([dates.to_arrow(), pa.table(stamps.to_dict(as_series=False))])
    assert bars["symbol"].to_list() == ["AAA", "BBB", "AAA", "BBB"]
    assert dict(bars.schema) == SCHEMA
    assert load_bars(frame().rename({"ts": "Date", "close": "CLOSE"})).height == 2
    assert load_bars((frame(), frame(symbol=["B", "B"]))).height == 4  # a tuple of frames
    assert load_bars(frame().lazy()).height == 2


def test_pandas_input_by_duck_typing(monkeypatch):
    class Index:
        names = ["Date"]

    FakePandas = type("DataFrame", (), {"__module__": "pandas.core.frame", "index": Index()})
    seen = {}

    def from_pandas(obj, include_index):
        seen["include_index"] = include_index
        return frame().rename({"ts": "Date"})

    monkeypatch.setattr(pl, "from_pandas", from_pandas)
    assert load_bars(FakePandas()).height == 2
    assert seen == {"include_index": True}  # a named index (yfinance's Date) is kept
    with pytest.raises(DataError, match=r"pandas DataFrame row 2 \(AAA 2020-01-03\)"):
        monkeypatch.setattr(pl, "from_pandas", lambda obj, include_index: frame(close=[1.0, -1.0]))
        load_bars(FakePandas())


def test_intraday_timestamps_in_every_iso_form(tmp_path):
    plain(tmp_path, "m.csv", "X,2020-01-02 09:30:00,1,2,1,1.5,1", "X,2020-01-02T09:31:00,1,2,1,1.5,1",
          "X,2020-01-02 09:32,1,2,1,1.5,1", "X,2020-01-02 09:33:00.250,1,2,1,1.5,1",
          "X,2020-01-03,1,2,1,1.5,1")
    assert load_bars(tmp_path / "m.csv")["ts"].to_list() == [
        datetime(2020, 1, 2, 9, 30), datetime(2020, 1, 2, 9, 31), datetime(2020, 1, 2, 9, 32),
        datetime(2020, 1, 2, 9, 33, 0, 250000), datetime(2020, 1, 3)]
    t_first = frame(ts=["2020-01-02T09:30:00", "2020-01-02T09:31:00"])
    assert load_bars(t_first)["ts"][1] == datetime(2020, 1, 2, 9, 31)


def test_separate_date_and_time_columns_are_combined(tmp_path):
    plain(tmp_path, "m.csv", "X,2020-01-02,09:30:00,1,2,1,1.5,1", "X,2020-01-02,09:31,1,2,1,1.5,1",
          header="Symbol,Date,Time,Open,High,Low,Close,Volume")
    assert load_bars(tmp_path / "m.csv")["ts"].to_list() == [
        datetime(2020, 1, 2, 9, 30), datetime(2020, 1, 2, 9, 31)]


def test_tz_aware_input_is_converted_to_naive_utc():
    text = frame(ts=["2020-01-02T09:30:00-05:00", "2020-01-02 15:31:00Z"])
    assert load_bars(text)["ts"].to_list() == [datetime(2020, 1, 2, 14, 30), datetime(2020, 1, 2, 15, 31)]
    ny = frame(ts=[datetime(2020, 1, 2, 9, 30), datetime(2020, 7, 1, 9, 30)]).with_columns(
        pl.col("ts").dt.replace_time_zone("America/New_York"))
    bars = load_bars(ny)
    assert bars.schema["ts"] == pl.Datetime("us")
    assert bars["ts"].to_list() == [datetime(2020, 1, 2, 14, 30), datetime(2020, 7, 1, 13, 30)]
    ms = frame(ts=[datetime(2020, 1, 2), datetime(2020, 1, 3)]).with_columns(
        pl.col("ts").dt.cast_time_unit("ms"))
    assert load_bars(ms).schema["ts"] == pl.Datetime("us")


def test_output_sorted_by_ts_then_symbol_and_rounded(tmp_path):
    plain(tmp_path, "x.csv", "BBB,2020-01-03,1,2,1,1.5,1", "AAA,2020-01-03,1,2,1,1.5,1",
          "BBB,2020-01-02,1.1234565001,2,1,1.23456789,1", "AAA,2020-01-02,1,2,1,1.5,1")
    bars = load_bars(tmp_path / "x.csv")
    assert bars.select("symbol", "ts").rows() == [
        ("AAA", datetime(2020, 1, 2)), ("BBB", datetime(2020, 1, 2)),
        ("AAA", datetime(2020, 1, 3)), ("BBB", datetime(2020, 1, 3))]
    assert bars["close"][1] == round(1.23456789, PRICE_DECIMALS) == 1.234568
    assert bars["open"][1] == 1.123457


# --- start / end -----------------------------------------------------------------------


def intraday() -> pl.DataFrame:
    stamps = [datetime(2020, 1, d, h) for d in (2, 3, 6) for h in (10, 15)]
    return pl.DataFrame({"symbol": "X", "ts": stamps, "open": 1.0, "high": 2.0, "low": 1.0,
                         "close": 1.5, "volume": 1.0})


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2020-01-03", "2020-01-03", 2),  # a date end includes the whole day
    (date(2020, 1, 3), date(2020, 1, 6), 4),
    ("2020-01-03T15:00", None, 3),
    (None, datetime(2020, 1, 3, 10), 3),
    (None, "2020-01-03 10:00:00", 3),
    (datetime(2020, 1, 3, 9, tzinfo=timezone(timedelta(hours=-5))), None, 3),  # 14:00 UTC
])
def test_start_end_are_inclusive(start, end, expected):
    assert load_bars(intraday(), start=start, end=end).height == expected


def test_bounds_are_applied_after_validating_everything():
    bad = intraday().with_columns(close=pl.Series([1.5, 1.5, 1.5, 1.5, 1.5, -1.0]))
    assert "row 6" in problems(bad, end="2020-01-02")[0]


def test_bad_bounds_are_problems():
    found = problems(intraday(), start="2020-13-01", end=20200101)
    assert found == [
        "start '2020-13-01' is not a valid date/time; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
        "end 20200101 is not a date; pass a date, datetime or ISO string"]
    assert problems(intraday(), start="2020-01-04", end="2020-01-03") == [
        "start 2020-01-04 is after end 2020-01-03; swap them"]
    assert problems(intraday(), start="2020-01-03 12:00", end="2020-01-03 11:00")[0].endswith("swap them")


def test_no_rows_left_after_filtering():
    assert problems(intraday(), start="2021-01-01") == [
        "no bars left within start 2021-01-01 (the data covers 2020-01-02 10:00:00 to "
        "2020-01-06 15:00:00); widen start/end"]


# --- validation problems ---------------------------------------------------------------


def test_data_error_is_a_sqlorch_error():
    assert issubclass(DataError, SqlorchError)


def test_paths_that_match_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    found = problems(["data/*.csv", "missing.csv", "empty", str(tmp_path / "gone.csv")])
    assert found == [
        f"data/*.csv: no files match; check the path (relative to {tmp_path})",
        f"missing.csv: file not found; check the path (relative to {tmp_path})",
        f"empty: the directory holds no .csv or .parquet files; check the path (relative to {tmp_path})",
        f"{tmp_path / 'gone.csv'}: file not found; check the path",
    ]


def test_unreadable_files_are_reported_and_others_still_checked(tmp_path):
    write(tmp_path, "bad.parquet", "this is not parquet")
    plain(tmp_path, "ragged.csv", "A,2020-01-02,1,2,1,1.5,1,7,8")
    plain(tmp_path, "ok.csv", "B,2020-01-02,1,2,1,-1.5,1")  # same header: read in one scan
    (tmp_path / "latin.csv").write_bytes(b"symbol,ts,open,high,low,close\nA,2020-01-02,\xff,1,1,1\n")
    (tmp_path / "zero.csv").write_bytes(b"")
    found = problems(tmp_path)
    assert any(p.startswith("bad.parquet: cannot read the file (") and
               p.endswith("check it is a valid CSV or Parquet file") for p in found)
    assert any(p.startswith("ragged.csv: cannot read the file (") for p in found)
    assert any(p.startswith("latin.csv: cannot read the file (") for p in found)
    assert "zero.csv: the file is empty; add a header and bars or remove it from the sources" in found
    assert any(p.startswith("ok.csv line 2 (B 2020-01-02): close is -1.5") for p in found)
    assert len(found) == 5


def test_missing_required_columns_name_missing_and_found(tmp_path):
    plain(tmp_path, "m.csv", "A,2020-01-02,1,1", header="Symbol,When,Open,Close")
    assert problems(tmp_path / "m.csv") == [
        "m.csv: missing required column(s) ts, high, low (found: Symbol, When, Open, Close); "
        "add or rename them (ts may also be called date, datetime, timestamp or time)"]
    found = problems(frame().drop("symbol"))
    assert found[0].startswith("DataFrame: missing required column(s) symbol (found: ts, open,")


def test_header_only_and_empty_frame_have_no_rows(tmp_path):
    plain(tmp_path, "h.csv")
    assert problems(tmp_path / "h.csv") == [
        "h.csv: no data rows; add bars or remove it from the sources"]
    assert problems(frame().head(0)) == [
        "DataFrame: no data rows; add bars or remove it from the sources"]


def test_empty_and_mixed_and_foreign_sources(tmp_path):
    assert problems([]) == ["no sources given; pass a path, glob, directory or DataFrame"]
    assert problems([frame(), str(tmp_path)]) == [
        "sources mix DataFrames and file paths; pass either frames or paths"]
    assert problems([42]) == ["source 42 (int) is not a path or DataFrame"]
    assert problems(pa.array([1.0])) == [
        "Arrow table: a DoubleArray is not a table; pass a DataFrame or an Arrow table"]


def test_a_file_name_that_looks_like_a_glob_is_read_as_is(tmp_path):
    path = plain(tmp_path, "bars[1].csv", "AAA,2020-01-02,1,2,1,1.5,1")
    assert load_bars(path).height == 1


def test_timestamp_problems(tmp_path):
    plain(tmp_path, "t.csv", "AAA,2020-01-02,1,2,1,1.5,1", "AAA,2020-13-45,1,2,1,1.5,1",
          "AAA,,1,2,1,1.5,1", "AAA,yesterday,1,2,1,1.5,1")
    assert problems(tmp_path / "t.csv") == [
        "t.csv line 3 (AAA 2020-13-45): ts '2020-13-45' is not a valid date/time; "
        "use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
        "t.csv line 4 (AAA): ts is empty; fill it in or drop the row",
        "t.csv line 5 (AAA yesterday): ts 'yesterday' is not a valid date/time; "
        "use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"]
    assert problems(frame(ts=["soon", "later"]))[0].startswith("DataFrame row 1 (AAA soon): ts 'soon'")
    assert problems(frame(ts=[None, date(2020, 1, 2)]))[0] == (
        "DataFrame row 1 (AAA): ts is empty; fill it in or drop the row")
    assert problems(frame(ts=[1, 2]))[0] == (  # neither text nor a date
        "DataFrame row 1 (AAA 1): ts '1' is not a valid date/time; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")


def test_price_problems(tmp_path):
    plain(tmp_path, "p.csv",
          "AAA,2020-01-02,1,2,1,,1",          # line 2: empty close
          "AAA,2020-01-03,1,2,1,abc,1",       # line 3: not a number
          "AAA,2020-01-06,NaN,2,1,1.5,1",     # line 4: NaN
          "AAA,2020-01-07,1,inf,1,1.5,1",     # line 5: infinite
          "AAA,2020-01-08,0,2,1,1.5,1",       # line 6: zero
          "AAA,2020-01-09,1,2,-1,1.5,1",      # line 7: negative
          "AAA,2020-01-10,1.5,1,2,1.5,1",     # line 8: high < low
          "AAA,2020-01-13,3,2,1,1.5,1",       # line 9: open above high
          "AAA,2020-01-14,1.5,2,1,0.5,1",     # line 10: close below low
          "AAA,2020-01-15,1.5,2,1,1.5,-5",    # line 11: negative volume
          "AAA,2020-01-16,1.5,2,1,1.5,lots")  # line 12: volume not a number
    assert problems(tmp_path / "p.csv") == [
        "p.csv line 2 (AAA 2020-01-02): close is empty; fill it in or drop the row",
        "p.csv line 3 (AAA 2020-01-03): close 'abc' is not a number; fix the value or drop the row",
        "p.csv line 4 (AAA 2020-01-06): open is nan; give a finite price or drop the row",
        "p.csv line 5 (AAA 2020-01-07): high is inf; give a finite price or drop the row",
        "p.csv line 6 (AAA 2020-01-08): open is 0.0, but prices must be > 0; fix the value or drop the row",
        "p.csv line 7 (AAA 2020-01-09): low is -1.0, but prices must be > 0; fix the value or drop the row",
        "p.csv line 8 (AAA 2020-01-10): high 1.0 < low 2.0; swap or fix them",
        "p.csv line 9 (AAA 2020-01-13): open 3.0 is outside [low 1.0, high 2.0]; fix the bar",
        "p.csv line 10 (AAA 2020-01-14): close 0.5 is outside [low 1.0, high 2.0]; fix the bar",
        "p.csv line 11 (AAA 2020-01-15): volume is -5.0, but must be >= 0; fix the value or drop the row",
        "p.csv line 12 (AAA 2020-01-16): volume 'lots' is not a number; fix the value or drop the row",
    ]


def test_nan_and_missing_prices_in_frames():
    found = problems(frame(open=[math.nan, None], volume=[math.nan, None]))
    assert found == ["DataFrame row 1 (AAA 2020-01-02): open is nan; give a finite price or drop the row",
                     "DataFrame row 2 (AAA 2020-01-03): open is empty; fill it in or drop the row"]
    assert load_bars(frame(volume=[math.nan, None]))["volume"].to_list() == [0.0, 0.0]


def test_empty_symbol(tmp_path):
    plain(tmp_path, "s.csv", "AAA,2020-01-02,1,2,1,1.5,1", ",2020-01-03,1,2,1,1.5,1",
          "null,2020-01-06,1,2,1,1.5,1")
    assert problems(tmp_path / "s.csv") == [
        "s.csv line 3 (2020-01-03): symbol is empty; fill it in or drop the row",
        "s.csv line 4 (2020-01-06): symbol is empty; fill it in or drop the row"]


def test_duplicates_within_and_across_files(tmp_path):
    plain(tmp_path, "a.csv", "AAA,2020-01-02,1,2,1,1.5,1", "AAA,2020-01-02 00:00:00,1,2,1,1.5,1")
    plain(tmp_path, "b.csv", "BBB,2020-01-02,1,2,1,1.5,1", "AAA,2020-01-02,1,2,1,1.5,1")
    assert problems(tmp_path) == [
        "a.csv line 3 (AAA 2020-01-02): duplicate bar for this symbol and time, first at "
        "line 2; keep only one",
        "b.csv line 3 (AAA 2020-01-02): duplicate bar for this symbol and time, first at "
        "a.csv line 2; keep only one"]


def test_yahoo_files_with_the_same_stem_collide_and_use_full_paths(tmp_path):
    one = plain(tmp_path / "x", "aaa.csv", "2020-01-02,1,2,1,1.5,1.5,1", header=YAHOO_HEADER)
    two = plain(tmp_path / "y", "aaa.csv", "2020-01-02,1,2,1,1.5,1.5,1", header=YAHOO_HEADER)
    assert problems([one, two]) == [
        f"{two} line 2 (aaa 2020-01-02): duplicate bar for this symbol and time, first at "
        f"{one} line 2; keep only one"]


def test_each_kind_of_problem_is_capped_per_source(tmp_path):
    rows = [f"AAA,{date(2020, 1, 1) + timedelta(days=i)},1.5,1,2,1.5,1" for i in range(25)]
    plain(tmp_path, "big.csv", *rows)
    plain(tmp_path, "small.csv", "BBB,2020-01-01,1.5,1,2,1.5,1")
    found = problems(tmp_path)
    assert len(found) == MAX_LISTED + 2
    assert found[0].startswith("big.csv line 2 (AAA 2020-01-01): high 1.0 < low 2.0")
    assert found[MAX_LISTED - 1].startswith(f"big.csv line {MAX_LISTED + 1} ")
    assert found[MAX_LISTED] == "big.csv: 15 more rows with high < low"
    assert found[-1].startswith("small.csv line 2 (BBB 2020-01-01): high 1.0 < low 2.0")


def test_a_file_with_many_different_problems_reports_all_at_once(tmp_path):
    plain(tmp_path, "messy.csv",
          "AAA,2020-01-02,1,2,1,1.5,1",
          "AAA,2020-01-02,1,2,1,1.5,1",       # duplicate
          "AAA,not-a-date,1,2,1,1.5,1",       # timestamp
          "AAA,2020-01-06,1,2,1,,1",          # empty close
          "AAA,2020-01-07,1,1,2,1.5,1",       # high < low
          "AAA,2020-01-08,-1,2,1,1.5,1",      # non-positive open
          "AAA,2020-01-09,1,2,1,1.5,-3",      # negative volume
          ",2020-01-10,1,2,1,1.5,1")          # empty symbol
    with pytest.raises(DataError) as info:
        load_bars(tmp_path / "messy.csv", start="nope")
    text = str(info.value)
    assert text.startswith(f"{len(info.value.problems)} data problem(s):\n  - ")
    for needle in ["start 'nope'", "line 3 (AAA 2020-01-02): duplicate", "line 4 (AAA not-a-date)",
                   "line 5 (AAA 2020-01-06): close is empty", "line 6 (AAA 2020-01-07): high 1.0 < low 2.0",
                   "line 7 (AAA 2020-01-08): open is -1.0", "line 8 (AAA 2020-01-09): volume is -3.0",
                   "line 9 (2020-01-10): symbol is empty"]:
        assert needle in text


# --- real data, when present -----------------------------------------------------------


@pytest.mark.parametrize("path", [str(p) for p in all_real_files()] + [str(FIXTURES / "aaa-yahoo.csv")],
                         ids=os.path.basename)
def test_real_yahoo_files_load_clean(path):
    bars = load_bars(path)
    assert bars["symbol"].unique().to_list() == [Path(path).stem]
    assert bars["ts"].is_sorted() and bars.height > 0
    assert (bars["low"] <= bars["high"]).all()


# --- the bounds of SPEC §3, time zones, delimiters, gaps (issue 20) -----------------------


def test_prices_beyond_the_bounds_are_reported_as_they_are(tmp_path):
    plain(tmp_path, "b.csv",
          "AAA,2020-01-02,0.0000004,0.0000004,0.0000004,0.0000004,1",  # line 2: below 0.000001
          "AAA,2020-01-03,1e12,1e12,1e12,1e12,1")                        # line 3: above 1e9
    found = problems(tmp_path / "b.csv")
    assert found[0] == ("b.csv line 2 (AAA 2020-01-02): open is 4e-07, below the smallest price sqlorch holds "
                        "(0.000001); scale the prices (e.g. per 1,000 units) or drop the row")
    assert "close is 1000000000000.0, above the largest price sqlorch holds (1e9)" in found[-1]
    assert len(found) == 8  # four prices on each line, each reported once
    load_bars(frame(open=[1e9, 0.000001], high=[1e9, 1.0], low=[1.0, 0.000001], close=[1.0, 0.5]))  # the bounds load


def test_a_price_that_rounding_would_change_is_an_error_unless_round_prices(tmp_path):
    plain(tmp_path, "r.csv", "AAA,2020-01-02,0.0000015,0.0000015,0.0000015,0.0000015,1",
          "AAA,2020-01-03,10.000000000001,10.000000000001,10,10,1")  # float noise: rounded silently
    found = problems(tmp_path / "r.csv")
    assert found[0] == ("r.csv line 2 (AAA 2020-01-02): open 1.5e-06 has more than 6 decimals: rounding it to "
                        "0.000002 would change it by 33.33%; give prices to 6 decimals, or set round_prices = "
                        "true to round them")
    assert len(found) == 4
    bars = load_bars(tmp_path / "r.csv", round_prices=True)
    assert bars["close"].to_list() == [0.000002, 10.0]


def test_time_zone_aware_and_naive_files_mixed_are_an_error_naming_them(tmp_path):
    plain(tmp_path, "utc.csv", "AAA,2020-01-02 14:30:00+00:00,1,2,1,1.5,1")
    plain(tmp_path, "local.csv", "BBB,2020-01-02 09:30:00,1,2,1,1.5,1")
    plain(tmp_path, "both.csv", "CCC,2020-01-02 09:30:00,1,2,1,1.5,1", "CCC,2020-01-03 14:30:00Z,1,2,1,1.5,1")
    assert problems([tmp_path / "utc.csv", tmp_path / "local.csv"]) == [
        "timestamps with and without time zones are mixed: utc.csv give(s) UTC offsets (like +00:00) and "
        "local.csv do(es) not; give every timestamp an offset, or none"]
    assert problems(tmp_path / "both.csv") == [
        "timestamps with and without time zones are mixed: both.csv mix(es) them; give every timestamp an "
        "offset, or none"]
    aware = frame(ts=[datetime(2020, 1, 2), datetime(2020, 1, 3)]).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"))
    naive = frame(symbol=["BBB", "BBB"], ts=[datetime(2020, 1, 2), datetime(2020, 1, 3)])
    assert "DataFrame #1 give(s) UTC offsets" in problems([aware, naive])[0]
    assert load_bars([tmp_path / "utc.csv"]).height == 1  # one kind alone is fine


@pytest.mark.parametrize(("delimiter", "what"), [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
def test_another_delimiter_is_named(tmp_path, delimiter, what):
    plain(tmp_path, "s.csv", delimiter.join(["AAA", "2020-01-02", "1", "2", "1", "1.5", "1"]),
          header=PLAIN_HEADER.replace(",", delimiter))
    assert problems(tmp_path / "s.csv") == [
        f"s.csv: the columns are separated by {what} ({delimiter!r}), not commas; sqlorch reads comma-separated "
        "files: save it as CSV with commas"]


def test_a_gap_of_more_than_a_year_is_warned():
    from sqlorch.errors import DataWarning

    gapped = frame(ts=[datetime(2015, 1, 2), datetime(2016, 3, 1)])
    with pytest.warns(DataWarning, match="AAA has no bars for 424 days, from 2015-01-02 to 2016-03-01"):
        load_bars(gapped)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_bars(frame(ts=[datetime(2015, 1, 2), datetime(2016, 1, 2)]))  # 365 days: no warning


def test_two_digit_and_far_years_are_errors(tmp_path):
    plain(tmp_path, "y.csv", "AAA,95-01-17,1,2,1,1.5,1", "AAA,2300-01-02,1,2,1,1.5,1", "AAA,1995-01-18,1,2,1,1.5,1")
    assert problems(tmp_path / "y.csv") == [
        "y.csv line 2 (AAA 0095-01-17): ts is in the year 95, outside 1800-2200; a two-digit year? write it in "
        "full, like 1995-01-17",
        "y.csv line 3 (AAA 2300-01-02): ts is in the year 2300, outside 1800-2200; check the date",
    ]
