"""The `sqlorch` group and what its commands share: `--debug`, error handling, output, options.

Errors a user can cause print as one message with exit status 1; `--debug` shows the
traceback instead. Everything printed goes through `sqlorch.cli.table.terminal_text` (names,
symbols and messages from data cannot drive the terminal), except the csv and json of
`sqlorch sql`, which are data: csv prints values as stored, json escapes them itself.

The commands live one per module beside this one (`run.py` holds `sqlorch run`, and so on);
they import from here, and `sqlorch/cli/__init__.py` adds them to `cli`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sqlorch.cli.table import terminal_text
from sqlorch.config.settings import DEFAULT_WAREHOUSE
from sqlorch.errors import SqlorchError


class _Cli(click.Group):
    """A group that turns SqlorchError into one message on stderr and exit status 1, and prints
    Python warnings (a data gap, say) as `Warning: ...` lines, escaped."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except SqlorchError as exc:
                if ctx.params.get("debug"):
                    raise
                err(f"Error: {exc}")
                ctx.exit(1)
            except KeyboardInterrupt:
                err("Interrupted.")
                ctx.exit(130)


@click.group(cls=_Cli)
@click.version_option(package_name="sqlorch")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """sqlorch: several strategies in one backtest, every number in DuckDB.

    Example: sqlorch run && sqlorch sql "SELECT * FROM comparison"
    """


def echo(text: str = "", err: bool = False) -> None:
    """Print `text` (lines of it) with everything but its newlines through `terminal_text`."""
    click.echo(terminal_text(text, keep_newlines=True), err=err)


def err(message: str) -> None:
    """Print `message` on stderr, escaped like `echo`."""
    echo(message, err=True)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    err(f"Warning: {message}")


def shown(value: Any) -> str:
    """A name or value from data, on one line, safe to print (`terminal_text`)."""
    return terminal_text(value)


def program() -> str:
    """How to call this sqlorch from the shell that runs it: `sqlorch` where that name on the
    PATH is this program (or it runs some other way: `python -m sqlorch`, tests), else its path
    (relative to the working directory when inside it): after `make run` the command lives in
    .venv/bin, which a fresh shell does not search."""
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if running is None or running.name != "sqlorch" or not running.is_file():
        return "sqlorch"
    found = shutil.which("sqlorch")
    if found and Path(found).resolve() == running.resolve():
        return "sqlorch"
    path = running.resolve()
    inside = path.is_relative_to(Path.cwd().resolve())
    return shlex.quote(os.path.relpath(path) if inside else str(path))


def quoted(text: str) -> str:
    """`text` as one shell word: in double quotes where nothing in it is special there (a query
    with 'literals' reads as written), else as `shlex.quote` makes it."""
    return f'"{text}"' if not any(c in text for c in '"$`\\!') else shlex.quote(text)


def suggested(arguments: str, warehouse: str | None = None) -> str:
    """A command line to print for the user to run next: `program()` and `arguments` (written
    for a shell), with `--warehouse` when the run's warehouse is not the default one."""
    line = f"{program()} {arguments}"
    if warehouse is not None and warehouse != DEFAULT_WAREHOUSE:
        line += f" --warehouse {shlex.quote(str(warehouse))}"
    return line


warehouse_option = click.option(
    "--warehouse", "warehouse", type=click.Path(), default=DEFAULT_WAREHOUSE,
    show_default=True, help="DuckDB warehouse file.")


def writing_options(command: Callable) -> Callable:
    """The options of the commands that run backtests (`run`, `grid`): where they write, and how."""
    options = [
        click.option("--warehouse", type=click.Path(),
                     help="DuckDB warehouse file (default: the config's warehouse key)."),
        click.option("--report-dir", type=click.Path(), default="reports", show_default=True,
                     help="Directory of the reports (<run_id>.html and <run_id>.md; a file there that is "
                          "not a sqlorch report is never overwritten)."),
        click.option("--no-report", is_flag=True, help="Write no reports."),
        click.option("--lock-timeout", type=float, help="Seconds to wait for another run's write lock [default: 60]."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_directory(path: Path, option: str) -> None:
    """SqlorchError if `path` cannot be (or become) a directory: it, or a parent, is a file."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise SqlorchError(f"{option} {path}: {place} is a file, not a directory; choose another directory")
            return


def check_top(top: int) -> None:
    """SqlorchError unless `--top` is 1 or more."""
    if top < 1:
        raise SqlorchError(f"--top must be 1 or more, got {top}")


def reports_of(run_id: str, write: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """The reports `write` writes for a stored run; SqlorchError saying the run is stored if not."""
    try:
        return write()
    except SqlorchError as exc:
        raise SqlorchError(f"run {run_id} is stored in the warehouse, but its reports were not written: {exc}; "
                           f"write them later with `{suggested(f'report {run_id}')}`") from exc
