"""Real tickers (issue 21, item 3): `[data] symbols = { "nvda-1999-2014" = "NVDA" }` and
`load_bars(..., symbols=...)` trade a file under its ticker; a name that is not a symbol of the
data, and a signal for a symbol the run does not have, are errors that say what the run has."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlorch.bars.load import load_bars
from sqlorch.cli import cli
from sqlorch.config.settings import BacktestConfig
from sqlorch.errors import ConfigError, DataError

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "aaa-yahoo.csv"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(FIXTURE, tmp_path / "nvda-1999-2014.csv")
    (tmp_path / "trade_nvda.py").write_text(textwrap.dedent("""
        from sqlorch import Signal

        class TradeNvda:
            def on_bar(self, ctx):
                return [Signal.buy("NVDA", 0.5)] if ctx.t == 0 else None

        class TradeTypo:
            def on_bar(self, ctx):
                return [Signal.buy("NVDIA", 0.5)]
    """), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(strategy: str, symbols: str = '{ "nvda-1999-2014" = "NVDA" }') -> str:
    return textwrap.dedent(f"""
        [data]
        paths = ["nvda-1999-2014.csv"]
        symbols = {symbols}
        [backtest]
        warehouse = "w.duckdb"
        log_dir = "logs"
        [[strategies]]
        class = "trade_nvda:{strategy}"
        weight = "1"
    """)


def test_a_file_trades_under_its_ticker_from_the_cli(here: Path) -> None:
    (here / "run.toml").write_text(config("TradeNvda"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "run.toml", "--no-report", "--quiet"])
    assert result.exit_code == 0, result.output
    shown = CliRunner().invoke(cli, ["sql", "SELECT DISTINCT symbol FROM fills", "--warehouse", "w.duckdb"])
    assert shown.exit_code == 0 and "NVDA" in shown.output and "nvda-1999" not in shown.output


def test_a_signal_for_an_unknown_symbol_names_the_strategy_the_bar_and_the_symbols(here: Path) -> None:
    (here / "run.toml").write_text(config("TradeTypo"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "run.toml", "--no-report", "--quiet"])
    assert result.exit_code == 1
    message = result.output
    assert "strategy 'trade_typo' failed at bar 2020-01-02" in message
    assert "unknown symbol 'NVDIA' (did you mean 'NVDA'?)" in message


def test_a_name_that_is_not_in_the_data_is_reported_with_the_data_s_symbols(here: Path) -> None:
    (here / "run.toml").write_text(config("TradeNvda", '{ "nvda-1999" = "NVDA" }'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "run.toml", "--no-report", "--quiet"])
    assert result.exit_code == 1
    assert ("symbols: 'nvda-1999' is not a symbol of the data (did you mean 'nvda-1999-2014'?); a file's symbol is "
            "its name without the extension, here 'nvda-1999-2014'") in result.output


def test_load_bars_renames_symbols() -> None:
    bars = load_bars(FIXTURE, symbols={"aaa-yahoo": "AAA"})
    assert bars["symbol"].unique().to_list() == ["AAA"]
    with pytest.raises(DataError, match="'bbb' is not a symbol of the data"):
        load_bars(FIXTURE, symbols={"bbb": "BBB"})


@pytest.mark.parametrize(("symbols", "problem"), [
    ("NVDA", "symbols: expected a table of symbol in the data = ticker"),
    ({"a": ""}, "symbols: tickers must be non-empty text; check 'a'"),
    ({"a": "X", "b": "X"}, "symbols: each ticker may name one symbol of the data; 'X' names several"),
])
def test_the_symbols_setting_is_checked(symbols, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        BacktestConfig(symbols=symbols)
    assert any(problem in p for p in error.value.problems), error.value.problems
