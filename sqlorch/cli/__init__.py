"""The `sqlorch` command line: `cli`, the group of every command (the console script
`sqlorch`, and `python -m sqlorch`).

One module per command: `sqlorch <name>` lives in `sqlorch/cli/<name>.py`; the group, its
`--debug`, error handling, output and shared options in `main.py`; terminal tables and
escaping in `table.py`, the progress bar in `progress.py`.
"""

from sqlorch.cli import combine, grid, ingest, report, run, runs, sql, trials, walkforward
from sqlorch.cli.main import cli

for _command in (run.run, grid.grid, combine.combine, walkforward.walkforward, report.report, ingest.ingest, runs.runs,
                 sql.sql_command, trials.trials):
    cli.add_command(_command)

__all__ = ["cli"]
