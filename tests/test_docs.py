"""The documentation keeps up with the code (issue 21): every CLI command and option, every TOML
key and every warehouse table and view is documented, every relative link in README.md and
docs/ leads somewhere, and every code block marked runnable runs.

What must be documented is read from the code, never from a list kept here: the commands and
options from the click group, the TOML keys from the tuples the configuration readers check
keys against (sqlorch.config.plan, sqlorch.grid.plan), the tables and views from the CREATE
statements in sql/tables and sql/views.

A fenced block is runnable when the line just before its fence is `<!-- runnable -->` (an HTML
comment: GitHub shows nothing). Each runs in its own temporary directory holding `data/`: three
Yahoo CSV files named like the real ones (nvda-1999-2014.csv, ...) but holding the demo's
generated bars, so no example needs data from outside the repository. `python` blocks run with
this interpreter; `sh` blocks are `sqlorch ...` lines, run in order through the CLI; `toml`
blocks are configurations, run with `sqlorch run` (`sqlorch grid` if they have a [grid] table);
`sql` blocks are queries, each run with `sqlorch sql` on a warehouse holding the demo run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click
import polars as pl
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = (ROOT / "README.md", *sorted(DOCS.glob("*.md")))
RUNNABLE = "<!-- runnable -->"
EXAMPLE_FILES = {"nvda-1999-2014": 0, "orcl-1995-2014": 1, "yhoo-1996-2014": 2}  # file stem -> synthetic symbol
BLOCK_TIMEOUT = 120  # seconds one runnable python block may take


def docs_pages() -> dict[str, str]:
    """The text of every page under docs/, by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.md")}


def mentions(text: str, word: str) -> bool:
    """Whether `word` (a command line like `sqlorch run`, an option like `--top`) occurs in `text`
    as a whole: not as part of a longer word or option (`--top` is not in `--topmost`)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# -- a. the command line -------------------------------------------------------------------


def cli_commands(group: click.Group) -> list[tuple[str, tuple[str, ...]]]:
    """Every command under `group`, walked recursively, as (its command line, its options),
    the group itself first: ("sqlorch", ("--version", "--debug")), ("sqlorch run", (...)), ...
    `--help` is left out (every command has it)."""
    found = []

    def walk(command: click.Command, line: str) -> None:
        helps = set(command.get_help_option_names(click.Context(command)))
        options = tuple(o for p in command.params if isinstance(p, click.Option)
                        for o in (*p.opts, *p.secondary_opts) if o not in helps)
        found.append((line, options))
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                walk(command.commands[name], f"{line} {name}")

    walk(group, "sqlorch")
    return found


def missing_cli(commands: list[tuple[str, tuple[str, ...]]], pages: dict[str, str]) -> list[str]:
    """What the pages do not document: a command no page mentions (as `sqlorch run`), and an
    option that no page mentioning its command mentions (the group's own: no page at all)."""
    missing = []
    for line, options in commands:
        covering = [text for text in pages.values() if line == "sqlorch" or mentions(text, line)]
        if not covering:
            missing.append(f"command `{line}`")
            continue
        missing += [f"option {option} of `{line}`" for option in options
                    if not any(mentions(text, option) for text in covering)]
    return missing


def test_every_command_and_option_is_documented() -> None:
    from sqlorch.cli import cli

    assert missing_cli(cli_commands(cli), docs_pages()) == []


def test_the_cli_check_finds_what_is_missing() -> None:
    @click.group()
    @click.option("--debug", is_flag=True)
    def tool(debug: bool) -> None: ...

    @tool.command()
    @click.option("--top", type=int)
    @click.option("-o", "--output")
    def show(top: int, output: str) -> None: ...

    @tool.command()
    def other() -> None: ...

    commands = cli_commands(tool)
    assert commands == [("sqlorch", ("--debug",)), ("sqlorch other", ()), ("sqlorch show", ("--top", "-o", "--output"))]
    pages = {"a.md": "`sqlorch show --topmost -o FILE`; `--debug`", "b.md": "--top --output, but not the command"}
    assert missing_cli(commands, pages) == ["command `sqlorch other`", "option --top of `sqlorch show`",
                                            "option --output of `sqlorch show`"]
    assert missing_cli(commands, {"a.md": "sqlorch show --top -o --output; sqlorch other --debug"}) == []


# -- b. the configuration file ------------------------------------------------------------


def toml_keys() -> dict[str, tuple[str, ...]]:
    """Every table of a configuration file and the keys the readers accept in it, from the
    tuples they check keys against: {"[data]": (...), "[data] synthetic": (...), ...}."""
    from sqlorch.config import plan
    from sqlorch.grid import combine_plan
    from sqlorch.grid import plan as grid_plan

    tables = {"[data]": plan.DATA_KEYS, "[data] synthetic": plan.SYNTHETIC_KEYS, "[backtest]": plan.BACKTEST_KEYS,
              "[[strategies]]": tuple(dict.fromkeys((*plan.STRATEGY_KEYS, *grid_plan.STRATEGY_KEYS))),
              "[allocation]": plan.ALLOCATION_KEYS, "[grid]": grid_plan.GRID_KEYS,
              "range (grid params)": grid_plan.RANGE_KEYS, "[combine]": combine_plan.COMBINE_KEYS}
    sections = {f"[[{s}]]" if s == "strategies" else f"[{s}]" for s in (*plan.SECTIONS, "grid")}
    assert sections <= set(tables), f"a section the readers accept has no entry here: {sections - set(tables)}"
    return tables


def documents_key(text: str, key: str) -> bool:
    """Whether `text` documents a TOML key: as an assignment (`key =`, in an example) or in
    backticks (`key`)."""
    return re.search(rf"(?<![\w.-]){re.escape(key)}\s*=", text) is not None or f"`{key}`" in text


def missing_toml(tables: dict[str, tuple[str, ...]], text: str) -> list[str]:
    """The tables (`[data]`, `[[strategies]]`, ...) and keys `text` does not document."""
    missing = [table for table in tables if table.startswith("[") and table.split(" ")[0] not in text]
    return missing + [f"{table} {key}" for table, keys in tables.items() for key in keys
                      if not documents_key(text, key)]


def test_every_toml_key_is_in_the_configuration_page() -> None:
    assert missing_toml(toml_keys(), (DOCS / "configuration.md").read_text(encoding="utf-8")) == []


def test_the_toml_check_finds_what_is_missing() -> None:
    tables = {"[data]": ("paths", "start"), "[[strategies]]": ("class",), "[grid]": ("top",)}
    text = "[data]\npaths = []\n# start=2015\n[[strategies]]\n`class` and [grid], its topmost = 1\n"
    assert missing_toml(tables, text) == ["[grid] top"]
    assert missing_toml(tables, "") == ["[data]", "[[strategies]]", "[grid]", "[data] paths", "[data] start",
                                        "[[strategies]] class", "[grid] top"]
    assert set(toml_keys()["[backtest]"]) >= {"initial_capital", "conflict_mode"}  # read from the code


# -- c. the warehouse ---------------------------------------------------------------------

CREATE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)\"?",
                    re.IGNORECASE)


def warehouse_objects(root: Path = ROOT) -> list[tuple[str, str]]:
    """Every (kind, name) the CREATE statements in sql/tables and sql/views make."""
    found = []
    for folder in ("tables", "views"):
        for path in sorted((root / "sql" / folder).glob("*.sql")):
            text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
            found += [(kind.lower(), name) for kind, name in CREATE.findall(text)]
    return found


def missing_objects(objects: list[tuple[str, str]], text: str) -> list[str]:
    """The tables and views `text` does not name in backticks."""
    return [f"{kind} {name}" for kind, name in objects if f"`{name}`" not in text]


def test_every_table_and_view_is_in_the_warehouse_page() -> None:
    objects = warehouse_objects()
    assert ("table", "runs") in objects and ("view", "comparison") in objects
    assert missing_objects(objects, (DOCS / "warehouse.md").read_text(encoding="utf-8")) == []


def test_the_warehouse_check_finds_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "sql" / "tables").mkdir(parents=True)
    (tmp_path / "sql" / "views").mkdir()
    (tmp_path / "sql" / "tables" / "01_a.sql").write_text(
        "-- makes: a (CREATE TABLE nothing here)\nCREATE TABLE IF NOT EXISTS alpha (x INT);")
    (tmp_path / "sql" / "views" / "01_b.sql").write_text("create or replace view beta AS SELECT 1;")
    objects = warehouse_objects(tmp_path)
    assert objects == [("table", "alpha"), ("view", "beta")]
    assert missing_objects(objects, "| `alpha` | the alphabet; beta |") == ["view beta"]


# -- links --------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (`## A strategy's name` ->
    `a-strategys-name`), code blocks skipped."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links of a Markdown page that lead nowhere: to a missing file, or to an
    anchor its page does not have."""
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{page.name}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_every_relative_link_leads_somewhere() -> None:
    assert [problem for page in PAGES for problem in broken_links(page)] == []


def test_the_link_check_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# Title\n## A strategy's name\n```\n# not a heading\n```\n")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md) [ok](b.md#a-strategys-name) [web](https://example.org/x) [self](#here)\n"
                    "# Here\n[gone](c.md) [bad anchor](b.md#not-a-heading) [code](b.md#not-a-heading-either)\n")
    assert broken_links(page) == ["a.md: c.md (no such file)", "a.md: b.md#not-a-heading (no such heading)",
                                  "a.md: b.md#not-a-heading-either (no such heading)"]


# -- d. runnable examples -----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A fenced code block marked runnable: where it is, its language and its text."""

    page: str
    line: int
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def runnable_blocks(text: str, page: str) -> list[Block]:
    """The fenced blocks of `text` whose fence line directly follows a `<!-- runnable -->` line."""
    lines, blocks = text.splitlines(), []
    for number, line in enumerate(lines):
        if line.strip() != RUNNABLE:
            continue
        fence = lines[number + 1] if number + 1 < len(lines) else ""
        if not fence.startswith("```"):
            raise ValueError(f"{page}:{number + 1}: {RUNNABLE} must be followed by a ``` fence")
        end = next(k for k in range(number + 2, len(lines)) if lines[k].startswith("```"))
        blocks.append(Block(page, number + 2, fence[3:].strip(), "\n".join(lines[number + 2:end]) + "\n"))
    return blocks


def example_data(directory: Path) -> None:
    """`directory/data/`: Yahoo CSV files named like the real ones, holding generated bars."""
    from sqlorch.bars.synthetic import synthetic_bars

    bars = synthetic_bars(symbols=len(EXAMPLE_FILES), years=2, seed=7)
    symbols = sorted(bars["symbol"].unique())
    (directory / "data").mkdir()
    for stem, k in EXAMPLE_FILES.items():
        own = bars.filter(pl.col("symbol") == symbols[k]).sort("ts")
        own.select(pl.col("ts").dt.strftime("%Y-%m-%d").alias("Date"), pl.col("open").alias("Open"),
                   pl.col("high").alias("High"), pl.col("low").alias("Low"), pl.col("close").alias("Close"),
                   pl.col("close").alias("Adj Close"), pl.col("volume").alias("Volume")
                   ).write_csv(directory / "data" / f"{stem}.csv", float_precision=6)


def run_block(block: Block, directory: Path) -> None:
    """Run `block` in `directory`; AssertionError naming the block and showing its output if it fails."""
    if block.language == "python":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-c", block.code], cwd=directory, env=env, capture_output=True,
                              text=True, timeout=BLOCK_TIMEOUT)
        assert done.returncode == 0, f"{block} failed:\n{block.code}\n{done.stdout}\n{done.stderr}"
    elif block.language in ("sh", "shell", "bash", "console"):
        for line in block.code.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            assert words[0] == "sqlorch", f"{block}: a runnable shell block holds only sqlorch commands: {line}"
            _sqlorch(block, words[1:], directory)
    elif block.language == "toml":
        (directory / "example.toml").write_text(block.code, encoding="utf-8")
        command = "grid" if "grid" in tomllib.loads(block.code) else "run"
        _sqlorch(block, [command, "example.toml", "--quiet"], directory)
    elif block.language == "sql":
        _sqlorch(block, ["run", "--quiet", "--no-report"], directory)
        for query in statements(block.code):
            _sqlorch(block, ["sql", query], directory)
    else:
        raise AssertionError(f"{block}: cannot run a {block.language or 'plain'} block; mark python, sh, toml or sql")


def statements(code: str) -> list[str]:
    """The statements of a block of SQL: each ends with `;` at the end of a line; comments stay."""
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|$)", code) if re.sub(r"--[^\n]*", "", s).strip()]


def _sqlorch(block: Block, arguments: list[str], directory: Path) -> None:
    from sqlorch.cli import cli

    here = Path.cwd()
    os.chdir(directory)
    try:
        done = CliRunner().invoke(cli, arguments, prog_name="sqlorch")
    finally:
        os.chdir(here)
    assert done.exit_code == 0, f"{block}: `sqlorch {shlex.join(arguments)}` failed:\n{done.output}\n{done.exception!r}"


ALL_BLOCKS = [block for page in PAGES for block in runnable_blocks(page.read_text(encoding="utf-8"), page.name)]


def test_the_readme_has_runnable_examples() -> None:
    assert {b.language for b in ALL_BLOCKS if b.page == "README.md"} >= {"python", "sh", "toml"}
    assert {b.language for b in ALL_BLOCKS} >= {"python", "sh", "toml", "sql"}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_runnable_block_runs(block: Block, tmp_path: Path) -> None:
    example_data(tmp_path)
    run_block(block, tmp_path)


def test_the_runnable_check_fails_a_failing_block(tmp_path: Path) -> None:
    text = ("intro\n<!-- runnable -->\n```python\nraise SystemExit('boom')\n```\n```python\nnot marked\n```\n"
            "<!-- runnable -->\n```sh\nsqlorch sql 'SELECT * FROM no_such_table'   # fails\n```\n"
            "<!-- runnable -->\n```sh\nls data\n```\n")
    failing, bad_sql, not_sqlorch = runnable_blocks(text, "x.md")
    assert (failing.line, failing.language, failing.code) == (3, "python", "raise SystemExit('boom')\n")
    example_data(tmp_path)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [f"{s}.csv" for s in sorted(EXAMPLE_FILES)]
    for block, says in ((failing, "boom"), (bad_sql, "`sqlorch sql"), (not_sqlorch, "only sqlorch commands")):
        with pytest.raises(AssertionError, match=says):
            run_block(block, tmp_path)
    assert statements("-- a\nSELECT 1;\nSELECT ';' AS x\n  FROM t;  \n-- the end\n") == ["-- a\nSELECT 1",
                                                                                      "SELECT ';' AS x\n  FROM t"]
    with pytest.raises(ValueError, match="must be followed"):
        runnable_blocks("<!-- runnable -->\ntext\n", "y.md")


# -- the README's screenshot --------------------------------------------------------------


def test_the_screenshot_script_says_when_chromium_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "CHROMIUM": "no-such-browser-anywhere"}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), str(tmp_path / "shot.png")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Chromium not found" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "shot.png").exists()


def test_the_readme_shows_the_report_screenshot() -> None:
    picture = DOCS / "report.png"
    assert "](docs/report.png)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size < 300_000
