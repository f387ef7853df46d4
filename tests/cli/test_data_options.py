"""`sqlorch run` with the [data] options adjust and warmup, end to end (files, TOML, warehouse, reports)."""

from __future__ import annotations

import textwrap
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from sqlorch.cli import cli

# Adj Close / Close is 0.5 on the first two rows (before a 2:1 split), 1 after. Buy and hold
# signals at the first close (adjusted 50, raw 100) and fills at the second open (adjusted
# 96 x 0.5 = 48, raw 96): 100000 / 50 = 2000 shares adjusted, 100000 / 100 = 1000 as traded.
SPLIT = """\
Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,99,102,98,100,50,1000
2020-01-03,96,106,95,104,52,1000
2020-01-06,53,55,52,54,54,2000
2020-01-07,54,56,53,55,55,2000
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run(config: Path) -> str:
    result = CliRunner().invoke(cli, ["run", str(config), "--quiet", "--report-dir", "reports"])
    assert result.exit_code == 0, result.output
    return result.stdout


def plan(here: Path, data: str, strategy: str) -> Path:
    return write(here / "run.toml", f"""
[data]
paths = ["data/*.csv"]
{textwrap.dedent(data).strip()}

[backtest]
warehouse = "w.duckdb"
log_dir = "logs"

[[strategies]]
{textwrap.dedent(strategy).strip()}
weight = "1"
""")


def query(here: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(here / "w.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize("adjust, quantity, price, phrase", [
    ("adjusted", Decimal(2000), Decimal(48), "prices: adjusted (Adj Close)"),
    ("none", Decimal(1000), Decimal(96), "prices: as traded"),
])
def test_run_fills_at_adjusted_prices_and_reports_say_which(here, adjust, quantity, price, phrase):
    write(here / "data" / "SPLT.csv", SPLIT)
    run(plan(here, f'adjust = "{adjust}"', 'class = "buy_and_hold"'))
    assert query(here, "SELECT ts, quantity, price FROM fills") == [(datetime(2020, 1, 3), quantity, price)]
    [(config,)] = query(here, "SELECT config FROM runs")
    assert f'"adjust": "{adjust}"' in config  # the run records which prices it used
    reports = sorted((here / "reports").iterdir())
    assert {p.suffix for p in reports} == {".html", ".md"}
    for report in reports:
        assert phrase in report.read_text()


def test_adjusted_without_adj_close_is_one_clear_message(here):
    write(here / "data" / "PLAIN.csv", "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n")
    result = CliRunner().invoke(cli, ["run", str(plan(here, 'adjust = "adjusted"', 'class = "buy_and_hold"')),
                                      "--quiet", "--no-report"])
    assert result.exit_code == 1
    assert "PLAIN.csv" in result.output and '"adjusted"' in result.output and "Traceback" not in result.output


@pytest.fixture
def rising(here: Path) -> Path:
    """A Yahoo file of rising closes from June 1999 to August 2000."""
    days = pl.date_range(datetime(1999, 6, 1), datetime(2000, 8, 31), "1d", eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    close = 10.0 + 0.05 * np.arange(len(days))
    path = here / "data" / "rise.csv"
    path.parent.mkdir(parents=True)
    pl.DataFrame({"Date": days, "Open": close - 0.01, "High": close + 0.1, "Low": close - 0.11, "Close": close,
                  "Adj Close": close, "Volume": 1000.0}).write_csv(path)
    return path


@pytest.mark.parametrize("warmup, first_fill", [('"auto"', 0), ("99", 0), ("60", 39), ("0", 99)])
def test_run_from_start_with_warmup(here, rising, warmup, first_fill):
    config = plan(here, f'start = "2000-01-01"\nwarmup = {warmup}',
                  'class = "sma_cross"\nparams = { fast = 10, slow = 100 }')
    text = config.read_text().replace("[backtest]", '[backtest]\nfill = "close"')
    config.write_text(text)
    run(config)
    clock = [ts for (ts,) in query(here, "SELECT ts FROM equity_curves WHERE series = 'portfolio' ORDER BY ts")]
    assert clock[0] == datetime(2000, 1, 3) and len(clock) == 174  # Jan 3 to Aug 31 2000: no warm-up rows
    [(first,)] = query(here, "SELECT min(ts) FROM fills")
    assert first == clock[first_fill]
    [(bars,)] = query(here, "SELECT bar_count FROM runs")
    assert bars == 174


def test_start_after_the_data_is_one_clear_message(here, rising):
    config = plan(here, 'start = "2001-01-01"', 'class = "buy_and_hold"')
    result = CliRunner().invoke(cli, ["run", str(config), "--quiet", "--no-report"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no bars at or after start 2001-01-01 (the bars loaded cover 1999-06-01 to 2000-08-31)" in result.output
