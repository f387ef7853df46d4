"""What the command-line tests share: running the CLI in this process and writing files."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from sqlorch.cli import cli


def invoke(*args: str) -> Result:
    """`sqlorch ARGS...` run in this process (output and exit code in the result)."""
    return CliRunner().invoke(cli, list(args))


def write(path: Path, text: str) -> Path:
    """`text`, dedented, written to `path`; returns `path`."""
    path.write_text(textwrap.dedent(text))
    return path
