"""`sqlorch sql`: one read-only query on the warehouse, printed as a table, csv or json.

The table goes through `terminal_text` like all output; csv prints values as stored (it is
data for files and tools) and json escapes them itself. A query may start with a SQL comment
(`-- ...`) without being taken for an option.
"""

from __future__ import annotations

import click

from sqlorch.cli.main import echo, err, warehouse_option
from sqlorch.cli.table import format_table, json_for_terminal
from sqlorch.store.warehouse import Warehouse


class _SqlCommand(click.Command):
    """A command whose QUERY may start with a SQL comment (`-- ...`): an argument that starts with
    a dash and has a blank before any `=` cannot be an option, so it is taken as the query
    (moved behind `--`) instead of failing as an unknown option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                  for name in p.opts + p.secondary_opts}
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if _looks_like_sql(arg) and not (i and args[i - 1] in valued):
                args = [*args[:i], *args[i + 1:], "--", arg] if "--" not in args else args
                break
        return super().parse_args(ctx, args)


def _looks_like_sql(arg: str) -> bool:
    """Whether a command-line argument starting with a dash is text, not an option name."""
    return arg.startswith("-") and any(c.isspace() for c in arg.split("=", 1)[0])


@click.command("sql", cls=_SqlCommand)
@click.argument("query")
@warehouse_option
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format: table shows control characters in values as escapes "
                                      "like \\x1b; csv prints values as stored (it is data for files and tools); "
                                      "json escapes them as \\u001b.")
@click.option("--max-rows", type=int, default=100, show_default=True,
              help="Rows to print in table format (csv and json print all).")
def sql_command(query: str, warehouse: str, output: str, max_rows: int) -> None:
    """Run one read-only query on the warehouse and print the result. The query reads the
    warehouse and nothing else: no statement writes, attaches, copies, exports, installs or
    loads anything, and no table function reads files.

    Example: sqlorch sql "SELECT strategy_id, total_return FROM comparison ORDER BY 2 DESC"
    """
    result = Warehouse(warehouse, on_wait=err).sandboxed_query(query)
    if output == "csv":
        click.echo(result.write_csv(), nl=False, color=True)  # data: values as stored (color: nothing stripped)
    elif output == "json":
        click.echo(json_for_terminal(result.write_json()))
    else:
        echo(format_table(result.head(max_rows)))
        if result.height > max_rows:
            echo(f"... {result.height - max_rows} more rows (--max-rows, or --format csv)")
