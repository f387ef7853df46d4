"""`python -m sqlorch` is the `sqlorch` command."""

from sqlorch.cli import cli

cli(prog_name="sqlorch")
