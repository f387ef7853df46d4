"""`sqlorch run` with a benchmark and a risk-free rate in the TOML file: the comparison shows
alpha, beta, tracking error and information ratio (the golden figures of
tests/backtest/test_benchmark.py, as printed), and only when the run has a benchmark."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from sqlorch.cli import cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

HOLD = """
    from sqlorch import Signal

    class Hold:
        def __init__(self, symbol="AAA"):
            self.symbol, self.started = symbol, False
        def on_bar(self, ctx):
            if not self.started:
                self.started = True
                return [Signal.buy(self.symbol, 0.9)]
"""

CONFIG = """
    [data]
    paths = ["data/two_symbols.csv"]
    {benchmark}

    [backtest]
    initial_capital = "20000"
    risk_free_rate = 0.03
    warehouse = "w.duckdb"
    log_dir = "logs"

    [[strategies]]
    name = "hold_aaa"
    class = "holds:Hold"
    weight = "0.5"
    params = {{ symbol = "AAA" }}

    [[strategies]]
    name = "hold_bbb"
    class = "holds:Hold"
    weight = "0.5"
    params = {{ symbol = "BBB" }}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the warehouse and the log: relative to the working directory
    (tmp_path / "data").mkdir()
    (tmp_path / "bench").mkdir()
    shutil.copy(GOLDEN / "two_symbols.csv", tmp_path / "data")
    shutil.copy(GOLDEN / "IDX.csv", tmp_path / "bench")
    (tmp_path / "holds.py").write_text(textwrap.dedent(HOLD))
    return tmp_path


def run(project: Path, benchmark: str):
    config = project / "run.toml"
    config.write_text(textwrap.dedent(CONFIG.format(benchmark=benchmark)))
    return CliRunner().invoke(cli, ["run", str(config), "--quiet", "--no-report"])


def test_run_prints_the_figures_against_the_benchmark(project: Path) -> None:
    result = run(project, 'benchmark_path = "bench/IDX.csv"')  # relative to the configuration file
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].split()[-6:] == ["alpha", "beta", "track", "err", "info", "ratio"]
    assert "alpha" in lines[2] and "track err" in lines[2] and "info ratio" in lines[2]
    portfolio = next(line for line in lines if line.startswith("portfolio")).split()
    # alpha 24.33%, beta 1.33, tracking error 12.44%, information ratio 2.63 (golden, from empyrical)
    assert portfolio[-4:] == ["24.33%", "1.33", "12.44%", "2.63"]
    assert "benchmark IDX (bought and held), risk-free rate 3.00% a year" in result.stdout
    with duckdb.connect(str(project / "w.duckdb"), read_only=True) as con:
        (sharpe,), = con.execute("SELECT round(sharpe_ratio, 4) FROM portfolio_metrics").fetchall()
    assert sharpe == pytest.approx(3.2971)  # net of the risk-free rate (golden)


def test_a_symbol_of_the_data_as_benchmark_and_none(project: Path) -> None:
    result = run(project, 'benchmark = "BBB"')
    assert result.exit_code == 0, result.output
    hold_bbb = next(line for line in result.stdout.splitlines() if line.startswith("hold_bbb")).split()
    assert hold_bbb[-4:] == ["-2.01%", "0.90", "2.55%", "-0.12"]
    plain = run(project, "")
    assert plain.exit_code == 0, plain.output
    assert "alpha" not in plain.stdout and "info ratio" not in plain.stdout and "benchmark" not in plain.stdout


def test_a_benchmark_file_with_a_symbol_column_is_named_by_it(project: Path) -> None:
    rows = (GOLDEN / "IDX.csv").read_text().splitlines()[1:]
    (project / "bench" / "index.csv").write_text("symbol,ts,open,high,low,close,volume\n" + "\n".join(
        "SPX," + ",".join(row.split(",")[:5] + row.split(",")[6:]) for row in rows) + "\n")
    result = run(project, 'benchmark_path = "bench/index.csv"')
    assert result.exit_code == 0, result.output
    assert "benchmark SPX (bought and held)" in result.stdout
    portfolio = next(line for line in result.stdout.splitlines() if line.startswith("portfolio")).split()
    assert portfolio[-4:] == ["24.33%", "1.33", "12.44%", "2.63"]  # the same prices as IDX.csv


def test_an_unknown_benchmark_is_one_clear_message(project: Path) -> None:
    result = run(project, 'benchmark = "BBC"')
    assert result.exit_code == 1
    assert "benchmark: unknown symbol 'BBC' (did you mean 'BBB'?)" in result.stderr
    assert "Traceback" not in result.output
    missing = run(project, 'benchmark_path = "bench/nope.csv"')
    assert missing.exit_code == 1 and "benchmark_path:" in missing.stderr and "nope.csv is not a file" in missing.stderr
    several = run(project, 'benchmark_path = "data/two_symbols.csv"')
    assert several.exit_code == 1 and "holds 2 symbols (AAA, BBB); a benchmark is one symbol" in several.stderr


def test_symbols_rename_the_benchmark_file_too(project: Path) -> None:
    # [data] symbols may name the benchmark file's stem: the run's own data need not hold it
    result = run(project, 'benchmark_path = "bench/IDX.csv"\n    symbols = { IDX = "SPY" }')
    assert result.exit_code == 0, result.output
    assert "benchmark SPY (bought and held)" in result.stdout
    portfolio = next(line for line in result.stdout.splitlines() if line.startswith("portfolio")).split()
    assert portfolio[-4:] == ["24.33%", "1.33", "12.44%", "2.63"]
