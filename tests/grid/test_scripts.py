"""A grid search with worker processes runs the way users write it, each case in a Python process
of its own: a plain script without `if __name__ == "__main__":` (`python grid.py`), the same code
as `python -c`, a notebook cell, a module run as `python -m pkg.mod`, a script with the guard, and
strategy classes defined inside a function. The strategy classes are the script's own (a built-in
subclassed, and one written from scratch), next to one imported from a module beside the script.

Every case searches with `workers=2` given (so worker processes start whatever the size), checks
that the table is complete and identical to the one of `workers=1`, and that the strategies were
built in two worker processes other than the script's own (each constructor notes its process id).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CLASSES = '''
import json
import os

import numpy as np

from sqlorch import BacktestConfig, GridSearch, Signal
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.strategies import SMACross
from neighbour import Below


def note_process():
    """Note this process's id (a constructor runs where the strategy is built)."""
    with open(os.environ["GRID_TEST_PIDS"], "a") as pids:
        pids.write(f"{os.getpid()}\\n")


class Lagged(SMACross):
    """A built-in subclassed in the script: its slow average `lag` times longer."""

    def __init__(self, fast=5, slow=20, lag=1):
        note_process()
        super().__init__(fast=fast, slow=slow * lag)


class Above:
    """A strategy of the script's own: long each symbol while its close is above `level` times
    its first close, called on every bar."""

    def __init__(self, level=1.0):
        note_process()
        self.level = level
        self.first = None

    def on_bar(self, ctx):
        if self.first is None:
            self.first = np.array(ctx.marks, dtype=float)
        above = ctx.marks > self.first * self.level
        held = ctx.positions > 0
        return ([Signal.buy(s, 0.5) for s, a, h in zip(ctx.symbols, above, held) if a and not h]
                + [Signal.exit(s) for s, a, h in zip(ctx.symbols, above, held) if h and not a])
'''

SEARCH = '''
bars = synthetic_bars(symbols=2, years=1, seed=5)
config = BacktestConfig(warehouse=None, log_dir=None, commission_bps=2.0)
grids = [(Lagged, {"fast": [3, 5], "lag": [1, 2]}), (Above, {"level": [0.97, 1.0, 1.03]}),
         (Below, {"level": [0.98, 1.02]})]
one = GridSearch(grids, config, workers=1).run(bars).table
two = GridSearch(grids, config, workers=2, batch_size=1).run(bars).table
print("a worker's print goes to stderr", flush=True)
print(json.dumps({"pid": os.getpid(), "rows": two.height, "completed": int((two["status"] == "completed").sum()),
                  "equal": one.equals(two), "errors": [e for e in two["error"].to_list() if e]}))
'''

NEIGHBOUR = '''
"""A strategy in a module next to the script: worker processes import it by name."""

from sqlorch import Signal


class Below:
    """Long each symbol while its close is below `level` times its first close."""

    def __init__(self, level=1.0):
        self.level = level
        self.first = None

    def on_bar(self, ctx):
        if self.first is None:
            self.first = ctx.marks.copy()
        below = ctx.marks < self.first * self.level
        held = ctx.positions > 0
        return ([Signal.buy(s, 0.5) for s, b, h in zip(ctx.symbols, below, held) if b and not h]
                + [Signal.exit(s) for s, b, h in zip(ctx.symbols, below, held) if h and not b])
'''

NOTEBOOK = '''
import sys, types
cell = open(sys.argv[1]).read()
namespace = types.ModuleType("__main__")  # as IPython's user module: named __main__, no __file__
sys.modules["__main__"] = namespace
exec(compile(cell, "/tmp/ipykernel_4242/2718281828.py", "exec"), namespace.__dict__)
'''

SCRIPT = CLASSES + SEARCH


def run(command: list[str], where: Path) -> dict:
    """Run `command` in `where` (a fresh Python process); the JSON its last line of output prints,
    after checking that it succeeded. The pids file collects the strategies' process ids."""
    env = {**os.environ, "GRID_TEST_PIDS": str(where / "pids.txt")}
    done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["pids"] = {int(line) for line in (where / "pids.txt").read_text().split()}
    return report


def check(report: dict) -> None:
    """The workers=2 table is complete and the same as workers=1's, built in two other processes."""
    assert report["errors"] == []
    assert (report["rows"], report["completed"], report["equal"]) == (9, 9, True)
    assert len(report["pids"] - {report["pid"]}) == 2


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A directory holding the neighbour module the scripts import."""
    write(tmp_path / "neighbour.py", NEIGHBOUR)
    return tmp_path


def test_a_script_without_a_main_guard(here: Path) -> None:
    write(here / "grid.py", SCRIPT)
    check(run([sys.executable, "grid.py"], here))


def test_the_same_code_as_python_dash_c(here: Path) -> None:
    check(run([sys.executable, "-c", SCRIPT], here))


def test_a_notebook_cell(here: Path) -> None:
    """IPython is not installed here: the cell runs as IPython runs one, exec-ed in a module named
    `__main__` that has no `__file__`, installed as sys.modules["__main__"], under a file name
    that does not exist (as ipykernel's)."""
    write(here / "cell.py", SCRIPT)
    check(run([sys.executable, "-c", NOTEBOOK, "cell.py"], here))


def test_a_module_run_with_dash_m(here: Path) -> None:
    write(here / "pkg" / "__init__.py", "")
    write(here / "pkg" / "mod.py", SCRIPT)
    check(run([sys.executable, "-m", "pkg.mod"], here))


def test_a_script_with_a_main_guard(here: Path) -> None:
    guarded = CLASSES + "\n\ndef main():\n" + textwrap.indent(SEARCH, "    ") + \
        '\n\nif __name__ == "__main__":\n    main()\n'
    write(here / "grid.py", guarded)
    check(run([sys.executable, "grid.py"], here))


def test_classes_defined_inside_a_function(here: Path) -> None:
    imports, _, classes = CLASSES.partition("\n\ndef note_process")
    inside = imports + "\n\ndef search():\n" + textwrap.indent("def note_process" + classes + SEARCH, "    ") + \
        "\n\nsearch()\n"
    write(here / "grid.py", inside)
    check(run([sys.executable, "grid.py"], here))
