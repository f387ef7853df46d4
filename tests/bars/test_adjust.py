"""load_bars(adjust="adjusted"): prices times Adj Close / Close, volume divided by it (SPEC §10).

The expected bars of the golden file were worked out by hand (see each row's comment)."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from shared_data import real_data

from sqlorch.bars.load import load_bars
from sqlorch.errors import ConfigError, DataError
from sqlorch.money import FLOAT_TOLERANCE

GOLDEN = """\
Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,40,42,38,40,30,1000
2020-01-03,41,44,40,43,34.4,2000
2020-01-06,2.9,3.1,2.8,3,1,300
"""
# factor = Adj Close / Close: 30/40 = 0.75; 34.4/43 = 0.8; 1/3
EXPECTED = [  # open, high, low, close, volume
    (30.0, 31.5, 28.5, 30.0, 1000 / 0.75),  # 40*.75, 42*.75, 38*.75, 40*.75; 1000/.75 = 1333.33...
    (32.8, 35.2, 32.0, 34.4, 2500.0),  # 41*.8, 44*.8, 40*.8, 43*.8; 2000/.8
    (0.966667, 1.033333, 0.933333, 1.0, 900.0),  # 2.9/3, 3.1/3, 2.8/3 rounded to 6 decimals; 300*3
]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def test_golden_three_rows_adjusted_by_hand(tmp_path):
    bars = load_bars(write(tmp_path, "AAA.csv", GOLDEN), adjust="adjusted")
    assert bars.columns == ["symbol", "ts", "open", "high", "low", "close", "volume"]
    assert bars["ts"].to_list() == [datetime(2020, 1, 2), datetime(2020, 1, 3), datetime(2020, 1, 6)]
    for row, expected in zip(bars.select("open", "high", "low", "close", "volume").iter_rows(), EXPECTED):
        assert row == pytest.approx(expected, rel=FLOAT_TOLERANCE, abs=FLOAT_TOLERANCE)
    assert bars["open"][2] == 0.966667  # rounded to PRICE_DECIMALS like any price


def test_default_and_none_ignore_adj_close(tmp_path):
    path = write(tmp_path, "AAA.csv", GOLDEN)
    for bars in (load_bars(path), load_bars(path, adjust="none")):
        assert bars["close"].to_list() == [40.0, 43.0, 3.0]
        assert bars["volume"].to_list() == [1000.0, 2000.0, 300.0]


@pytest.mark.parametrize("header", ["adj close", "ADJ CLOSE", "Adj_Close", "adj_close", " Adj  Close ", "AdjClose"])
def test_adj_close_header_is_found_whatever_its_case_or_spacing(tmp_path, header):
    text = GOLDEN.replace("Adj Close", header)
    assert load_bars(write(tmp_path, "AAA.csv", text), adjust="adjusted")["close"].to_list() == [30.0, 34.4, 1.0]


def test_file_without_adj_close_is_an_error_naming_it_and_the_fix(tmp_path):
    good = write(tmp_path, "AAA.csv", GOLDEN)
    bad = write(tmp_path, "BBB.csv", "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n")
    with pytest.raises(DataError) as info:
        load_bars([good, bad], adjust="adjusted")
    [problem] = info.value.problems
    assert problem.startswith("BBB.csv:") and '"adjusted"' in problem and "Adj Close" in problem
    assert 'adjust = "none"' in problem
    assert load_bars([good, bad])["symbol"].to_list() == ["AAA", "BBB", "AAA", "AAA"]  # fine without adjusting


@pytest.mark.parametrize("column", ["adj_close", "Adj Close"])
def test_dataframe_with_an_adj_close_column(column):
    frame = pl.DataFrame({"symbol": ["A", "A"], "ts": ["2020-01-02", "2020-01-03"], "open": [40.0, 41.0],
                          "high": [42.0, 44.0], "low": [38.0, 40.0], "close": [40.0, 43.0], column: [30.0, 34.4],
                          "volume": [1000.0, 2000.0]})
    bars = load_bars(frame, adjust="adjusted")
    assert bars["open"].to_list() == [30.0, 32.8]
    assert bars["volume"].to_list() == pytest.approx([1000 / 0.75, 2500.0], rel=FLOAT_TOLERANCE)
    with pytest.raises(DataError, match=r"DataFrame: adjust = \"adjusted\" needs an Adj Close column.*adj_close"):
        load_bars(frame.drop(column), adjust="adjusted")


def test_bad_adj_close_values_are_listed_with_their_lines(tmp_path):
    text = GOLDEN.replace(",30,1000", ",,1000").replace(",34.4,", ",-1,").replace(",1,300", ",x,300")
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path, "AAA.csv", text), adjust="adjusted")
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("AAA.csv line 2 (AAA 2020-01-02): Adj Close is empty")
    assert problems[1].startswith("AAA.csv line 3 (AAA 2020-01-03): Adj Close is -1.0, but must be a finite number > 0")
    assert problems[2].startswith("AAA.csv line 4 (AAA 2020-01-06): Adj Close 'x' is not a number")


def test_adjusted_prices_follow_the_rounding_rule(tmp_path):
    # 1 x 0.0012345 / 1 = 0.0012345: rounding to 6 decimals changes it by 0.04%, more than 0.01%
    path = write(tmp_path, "AAA.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,0.0012345,10\n")
    with pytest.raises(DataError) as info:
        load_bars(path, adjust="adjusted")
    assert all("has more than 6 decimals" in p and "(adjusted by Adj Close / Close)" in p for p in info.value.problems)
    assert len(info.value.problems) == 4  # open, high, low, close
    bars = load_bars(path, adjust="adjusted", round_prices=True)
    assert bars["close"][0] in (0.001234, 0.001235)  # half to even of a float near ...345
    assert bars["volume"][0] == pytest.approx(10 / 0.0012345, rel=FLOAT_TOLERANCE)


def test_unknown_adjust_value_is_a_config_error_listing_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"adjust: 'ajusted' is not one of none, adjusted.*did you mean 'adjusted'"):
        load_bars(write(tmp_path, "AAA.csv", GOLDEN), adjust="ajusted")


def test_real_yahoo_file_adjusts_to_the_last_close():
    (path,) = real_data("nvda-1999-2014.csv")
    raw, adjusted = load_bars(path), load_bars(path, adjust="adjusted")
    assert raw.height == adjusted.height
    first = pl.read_csv(path).row(0, named=True)
    factor = first["Adj Close"] / first["Close"]
    assert adjusted["open"][0] == pytest.approx(round(first["Open"] * factor, 6), abs=1e-6)
    assert adjusted["close"][0] == pytest.approx(first["Adj Close"], abs=1e-6)
