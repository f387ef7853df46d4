"""Control characters in strategy names, symbols and values reach the terminal escaped (as
`\\x1b`-style text) on every path the CLI prints: the comparison table and warnings of `run`,
`runs`, `sql`'s table, `grid`, `ingest`'s symbols, `report`'s warnings and error messages. The
csv and json of `sqlorch sql` are data: csv keeps the values as stored, json escapes them."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import click
import duckdb
import polars as pl
import pytest
from clitools import invoke

from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.cli import cli
from sqlorch.cli.table import format_table, json_for_terminal, terminal_text
from sqlorch.errors import SqlorchError

RED, BELL, CLEAR = "\x1b[31m", "\x07", "\x1b[2J"
SYMBOLS = (f"{RED}RED{BELL}", "B\rC\nD")
NAMES = (f"evil{CLEAR}{BELL}", "two\nlines\u202e", "tab\there\x9b")
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\t")


def assert_clean(text: str) -> None:
    """No control character but newlines (and no reordering character) in `text`."""
    assert not [c for c in text if c in RAW or (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f], repr(text)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    bars = synthetic_bars(symbols=2, years=1, seed=5)
    first, second = bars["symbol"].unique().sort().to_list()
    bars.with_columns(pl.col("symbol").replace({first: SYMBOLS[0], second: SYMBOLS[1]})).write_csv("bars.csv")
    strategies = "".join(f'\n[[strategies]]\nname = {json.dumps(name)}\nclass = "buy_and_hold"\nweight = "0.3"\n'
                         for name in NAMES)
    (tmp_path / "run.toml").write_text('[data]\npaths = ["bars.csv"]\n' + strategies)
    return tmp_path


@pytest.mark.parametrize(("text", "shown"), [
    ("plain name", "plain name"),
    (f"{RED}x", "\\x1b[31mx"),
    ("a\rb\nc\td\x07\x00\x7f", "a\\x0db\\x0ac\\x09d\\x07\\x00\\x7f"),
    ("c1\x9b\x85", "c1\\x9b\\x85"),
    ("bidi\u202eevil\u2066\u2028", "bidi\\u202eevil\\u2066\\u2028"),
    ("ünïcødé and emoji \U0001f600", "ünïcødé and emoji \U0001f600"),
    ("back\\slash", "back\\slash"),
])
def test_terminal_text(text: str, shown: str) -> None:
    assert terminal_text(text) == shown


def test_terminal_text_may_keep_newlines() -> None:
    assert terminal_text(f"line one{RED}\nline two\r", keep_newlines=True) == "line one\\x1b[31m\nline two\\x0d"


def test_json_for_terminal_is_the_same_data() -> None:
    data = [{"a": f"{RED}\x9b\x7f\u202e\n\"q\""}]
    text = json_for_terminal(json.dumps(data, ensure_ascii=False))
    assert_clean(text)
    assert json.loads(text) == data


def test_table_cells_and_titles_are_escaped() -> None:
    frame = pl.DataFrame({f"col{RED}": [f"a{BELL}b", "c\nd"], "n": [1, 2]})
    text = format_table(frame)
    assert_clean(text)
    assert text.splitlines()[0] == "col\\x1b[31m  n" and "a\\x07b" in text and "c\\x0ad" in text
    assert len(text.splitlines()) == 4  # a newline in a cell does not split its row


def test_run_prints_names_and_warnings_escaped(here: Path) -> None:
    result = invoke("run", "run.toml", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert_clean(result.output)
    assert "evil\\x1b[2J\\x07" in result.stdout and "two\\x0alines\\u202e" in result.stdout
    warned = [line for line in result.stdout.splitlines() if line.startswith("Warning: ")]
    assert warned and all("evil\\x1b[2J\\x07" in w or "tab\\x09here\\x9b" in w for w in warned)


def test_runs_sql_and_report_print_escaped(here: Path) -> None:
    assert invoke("run", "run.toml", "--quiet", "--no-report").exit_code == 0
    with duckdb.connect("warehouse/sqlorch.duckdb") as con:  # an error message with control characters
        con.execute("UPDATE runs SET error = ?", [f"boom{RED}\nsecond line{BELL}"])
    listing = invoke("runs")
    assert listing.exit_code == 0 and "boom\\x1b[31m\\x0asecond line\\x07" in listing.stdout
    assert_clean(listing.output)
    table = invoke("sql", "SELECT strategy_id, symbol FROM fills ORDER BY ALL")
    assert table.exit_code == 0
    assert_clean(table.output)
    assert "\\x1b[31mRED\\x07" in table.stdout and "B\\x0dC\\x0aD" in table.stdout
    titled = invoke("sql", f'SELECT 1 AS "{RED}"')
    assert_clean(titled.output) and "\\x1b[31m" in titled.stdout
    report = invoke("report", "-o", "r.md")
    assert report.exit_code == 0 and "Warning: " in report.stdout
    assert_clean(report.output)


def test_sql_json_escapes_and_csv_keeps_the_data(here: Path) -> None:
    assert invoke("run", "run.toml", "--quiet", "--no-report").exit_code == 0
    query = "SELECT DISTINCT symbol FROM fills ORDER BY symbol"
    js = invoke("sql", query, "--format", "json")
    assert_clean(js.stdout)
    assert [row["symbol"] for row in json.loads(js.stdout)] == sorted(SYMBOLS)
    csv = invoke("sql", query, "--format", "csv")
    assert pl.read_csv(csv.stdout.encode())["symbol"].to_list() == sorted(SYMBOLS)  # as stored


def test_ingest_lists_symbols_escaped(here: Path) -> None:
    result = invoke("ingest", "bars.csv")
    assert result.exit_code == 0, result.output
    assert_clean(result.output)
    assert "symbols  \\x1b[31mRED\\x07, B\\x0dC\\x0aD" in result.stdout


def test_grid_prints_names_escaped(here: Path) -> None:
    (here / "grid.toml").write_text(textwrap.dedent(f"""
        [data]
        paths = ["bars.csv"]
        [[strategies]]
        name = {json.dumps(NAMES[0])}
        class = "momentum"
        params = {{ lookback = [5, 10] }}
    """))
    result = invoke("grid", "grid.toml", "--workers", "1", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert_clean(result.output)
    assert "evil\\x1b[2J\\x07: best lookback=" in result.stdout


def test_errors_and_python_warnings_print_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    def boom() -> None:
        warnings.warn(f"gap in {RED}X{BELL}", UserWarning)
        raise SqlorchError(f"bad {RED}name\nsecond line\r")

    cli.add_command(boom)
    try:
        result = invoke("boom")
    finally:
        cli.commands.pop("boom")
    assert result.exit_code == 1
    assert_clean(result.stderr)
    assert "Warning: gap in \\x1b[31mX\\x07" in result.stderr
    assert "Error: bad \\x1b[31mname\nsecond line\\x0d" in result.stderr
