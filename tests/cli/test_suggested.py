"""The commands the CLI prints for the user to run next work as printed: from a fresh shell that
does not search .venv/bin (after `make run`), and against the warehouse the run wrote to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sqlorch.cli import main
from sqlorch.config.settings import DEFAULT_WAREHOUSE

SQLORCH = Path(sys.executable).with_name("sqlorch")  # the console script of this environment


def test_the_program_is_named_as_the_shell_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "venv" / "bin" / "sqlorch"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "run"])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main.program() == os.path.join("venv", "bin", "sqlorch")  # not on the PATH: its path, from here
    monkeypatch.setattr(shutil, "which", lambda name: str(script))
    assert main.program() == "sqlorch"  # on the PATH, and this one
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/sqlorch")
    assert main.program() == os.path.join("venv", "bin", "sqlorch")  # another one on the PATH
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main.program() == str(script.resolve())  # outside the working directory: the whole path
    monkeypatch.setattr(sys, "argv", ["/x/sqlorch/__main__.py"])
    assert main.program() == "sqlorch"  # python -m sqlorch, tests


def test_a_warehouse_other_than_the_default_is_carried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main, "program", lambda: "sqlorch")
    assert main.suggested("sql \"SELECT 1\"", DEFAULT_WAREHOUSE) == 'sqlorch sql "SELECT 1"'
    assert main.suggested("sql \"SELECT 1\"", "my runs/w.duckdb") == \
        "sqlorch sql \"SELECT 1\" --warehouse 'my runs/w.duckdb'"
    assert main.quoted("SELECT * FROM t WHERE id = 'a'") == "\"SELECT * FROM t WHERE id = 'a'\""
    assert main.quoted("a $HOME") == "'a $HOME'"  # nothing a shell would expand


FRESH_SHELL = {**os.environ, "PATH": "/usr/bin:/bin"}  # without the environment's bin directory


def explore_from_a_fresh_shell(directory: Path, config: str, *command: str) -> tuple[str, str]:
    """`sqlorch COMMAND...` from .venv/bin in a shell whose PATH lacks it, with `config` written to
    `config.toml` in `directory`: the `explore` line it printed, and what that line prints when run
    as printed in such a shell (it must succeed)."""
    (directory / "config.toml").write_text(textwrap.dedent(config), encoding="utf-8")
    done = subprocess.run([str(SQLORCH), *command], cwd=directory, env=FRESH_SHELL, capture_output=True, text=True,
                          check=True)
    (explore,) = [line.split(maxsplit=1)[1] for line in done.stdout.splitlines() if line.startswith("explore")]
    shown = subprocess.run(["/bin/sh", "-c", explore], cwd=directory, env=FRESH_SHELL, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    return explore, shown.stdout


@pytest.mark.skipif(not SQLORCH.exists(), reason="needs the sqlorch console script of this environment")
def test_the_printed_explore_command_runs_from_a_fresh_shell(tmp_path: Path) -> None:
    """`sqlorch run` writing to a warehouse of its own: the `explore` line it prints runs as
    printed in a fresh shell and finds the run's trades."""
    explore, shown = explore_from_a_fresh_shell(tmp_path, """
        [data]
        synthetic = { symbols = 3, years = 1 }
        [backtest]
        warehouse = "mine/runs.duckdb"
        log_dir = "logs"
        [[strategies]]
        class = "momentum"
        weight = "0.5"
    """, "run", "config.toml", "--no-report", "--quiet")
    assert explore.startswith((str(SQLORCH.resolve()), os.path.relpath(SQLORCH.resolve(), tmp_path)))
    assert "--warehouse mine/runs.duckdb" in explore
    assert "momentum" in shown


@pytest.mark.skipif(not SQLORCH.exists(), reason="needs the sqlorch console script of this environment")
def test_the_combine_explore_command_runs_from_a_fresh_shell(tmp_path: Path) -> None:
    """`sqlorch combine` prints a query of the best subsets that runs as printed in a fresh shell."""
    explore, shown = explore_from_a_fresh_shell(tmp_path, """
        [data]
        synthetic = { symbols = 2, years = 1 }
        [backtest]
        warehouse = "mine/runs.duckdb"
        log_dir = "logs"
        [[strategies]]
        class = "momentum"
        weight = "0.5"
        [[strategies]]
        class = "sma_cross"
        weight = "0.5"
    """, "combine", "config.toml", "--policies", "fixed", "--no-report", "--quiet")
    assert "--warehouse mine/runs.duckdb" in explore
    ranked = [line.split()[0] for line in shown.splitlines()[2:]]
    assert ranked == ["1", "2", "3"] and "momentum" in shown and "sma_cross" in shown
