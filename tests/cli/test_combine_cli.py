"""`sqlorch combine` end to end (click's runner, in a scratch directory): what is printed and
stored, the commands it suggests, the report of a combination search through `sqlorch report`,
the listings, and bad input."""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path

import duckdb
import pytest
from clitools import invoke

CONFIG = """
    [data]
    synthetic = { symbols = 3, years = 1, seed = 3 }

    [allocation]
    lookback = 20
    max_weight = 0.8

    [[strategies]]
    class = "sma_cross"
    params = { fast = 5, slow = 20 }
    weight = "0.5"

    [[strategies]]
    name = "mom"
    class = "momentum"
    params = { lookback = 10 }
    weight = "0.3"

    [[strategies]]
    class = "rsi"
    weight = "0.2"
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mix.toml").write_text(textwrap.dedent(CONFIG))
    return tmp_path


def test_combine_prints_the_best_and_stores_everything(here: Path) -> None:
    result = invoke("combine", "mix.toml", "--policies", "fixed,equal", "--top", "3", "--workers", "1",
                    "--study", "mix", "--quiet")
    assert result.exit_code == 0, result.output
    out = result.stdout
    run_id = out.split()[1].rstrip(":")
    assert "14 subsets and policies of 3 strategies, 3 symbols, 252 bars from 2023-01-02" in out
    # max_weight 0.8: a single strategy cannot hold it under `equal` (skipped); under fixed it runs
    assert "11 completed (7 assembled from the strategies' runs alone, 4 re-run), 0 failed, 3 skipped" in out
    assert "over the 11 trials of study mix" in out and "probability of backtest overfitting (PBO, 16 blocks)" in out
    lines = out.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("rank  policy"))
    assert [line.split()[0] for line in lines[header + 2:header + 5]] == ["1", "2", "3"]
    assert lines[header + 5].startswith("3 trial(s) not completed")  # --top 3
    assert "3 trial(s) not completed, e.g. skipped: min_weight, max_weight: max_weight 0.8 x 1 sleeves" in out
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        assert con.execute("SELECT kind, combination_count, completed_count, study, source FROM grid_runs").fetchall() \
            == [("combination", 14, 11, "mix", "mix.toml")]
        assert con.execute("SELECT count(*) FROM grid_results WHERE status = 'skipped'").fetchone() == (3,)
    html, md = here / "reports" / f"{run_id}.html", here / "reports" / f"{run_id}.md"
    assert f"report     reports/{run_id}.html" in out and html.exists() and md.exists()
    assert "## Top 3" in md.read_text() and "<svg" in html.read_text()

    explore = next(line for line in lines if line.startswith("explore"))
    words = shlex.split(explore.split(None, 1)[1])
    assert words[:2] == ["sqlorch", "sql"]
    queried = invoke(*words[1:])  # the suggested command works as printed
    assert queried.exit_code == 0, queried.output
    assert queried.stdout.splitlines()[2].split()[0] == "1"

    listing = invoke("runs")
    assert run_id in listing.stdout and " combination " in listing.stdout
    trials = invoke("trials", "mix")
    assert trials.exit_code == 0 and run_id in trials.stdout

    again = invoke("report", run_id, "-o", "again.md", "--top", "2")
    assert again.exit_code == 0, again.output
    text = (here / "again.md").read_text()
    assert text.startswith(f"# sqlorch combinations {run_id}") and "## Top 2" in text


def test_a_size_limit_and_no_report(here: Path) -> None:
    result = invoke("combine", "mix.toml", "--policies", "fixed", "--max-size", "2", "--metric", "total_return",
                    "--min-trades", "1", "--no-report", "--quiet", "--warehouse", "other.duckdb")
    assert result.exit_code == 0, result.output
    assert "6 subsets and policies of 3 strategies" in result.stdout
    assert "ranked by total_return (at least 1 closed trades)" in result.stdout
    assert "report " not in result.stdout and not (here / "reports").exists()
    assert "--warehouse other.duckdb" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--policies", "equl"], "'equl' is not an allocation policy (did you mean 'equal'?)"),
    (["--max-size", "0"], "max_size: must be a whole number >= 1, got 0"),
    (["--metric", "sharp"], "'sharp' is not a metric"),
    (["--top", "0"], "--top must be 1 or more"),
])
def test_bad_options_are_clear_errors(here: Path, args: list[str], message: str) -> None:
    result = invoke("combine", "mix.toml", "--quiet", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_config_is_a_clear_error(here: Path) -> None:
    (here / "bad.toml").write_text("[[strategies]]\nclass = \"sma_cros\"\nweight = \"0.5\"\n")
    result = invoke("combine", "bad.toml")
    assert result.exit_code == 1 and "sma_cros" in result.output and "Traceback" not in result.output


def test_the_file_sets_the_defaults_and_options_win(here: Path) -> None:
    text = (here / "mix.toml").read_text()
    (here / "file.toml").write_text(text + '\n[combine]\npolicies = ["fixed"]\nmax_size = 1\ntop = 2\n'
                                    'metric = "total_return"\nstudy = "filed"\n')
    result = invoke("combine", "file.toml", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert "3 subsets and policies of 3 strategies" in result.stdout and "ranked by total_return" in result.stdout
    assert "of study filed" in result.stdout
    result = invoke("combine", "file.toml", "--quiet", "--no-report", "--max-size", "2", "--study", "cli")
    assert "6 subsets and policies of 3 strategies" in result.stdout and "of study cli" in result.stdout


def test_a_bad_combine_table_is_a_clear_error(here: Path) -> None:
    text = (here / "mix.toml").read_text()
    (here / "bad.toml").write_text(text + '\n[combine]\npolicy = ["fixed"]\ntop = "ten"\n')
    result = invoke("combine", "bad.toml")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "[combine] policy: unknown key (did you mean 'policies'?)" in result.output
    assert "[combine] top: must be a whole number, got 'ten'" in result.output
    ran = invoke("run", "file.toml" if (here / "file.toml").exists() else "bad.toml", "--quiet", "--no-report")
    assert ran.exit_code == 1 and "combine" in ran.output  # `sqlorch run` knows no [combine] table
