"""Where the CLI writes, and what it refuses: reports never overwrite a file that is not a
sqlorch report without --force (a warehouse least of all), their format follows the suffix of
-o, paths made from run ids never leave their directory, and unwritable paths or a damaged
warehouse give one message, exit status 1 and nothing half-written."""

from __future__ import annotations

import os
import random
from pathlib import Path

import duckdb
import pytest
from clitools import invoke

from sqlorch.backtest import runner
from sqlorch.errors import SqlorchError
from sqlorch.grid import search as grid_module
from sqlorch.report.run import MARKERS, id_path, is_report


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under `root` (directories as None), with its bytes."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def failed_cleanly(result, *phrases: str) -> None:
    """Exit status 1, one `Error:` message holding every phrase, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output, result.output
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A warehouse with one demo run (no reports), and the run's id."""
    root = tmp_path_factory.mktemp("demo")
    before = Path.cwd()
    os.chdir(root)
    try:
        ran = invoke("run", "--quiet", "--no-report")
    finally:
        os.chdir(before)
    assert ran.exit_code == 0, ran.output
    return root / "warehouse" / "sqlorch.duckdb", ran.stdout.split()[1].rstrip(":")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: tuple[Path, str]) -> Path:
    """A scratch directory holding a copy of the demo warehouse at warehouse/sqlorch.duckdb."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "sqlorch.duckdb").write_bytes(demo[0].read_bytes())
    return tmp_path


# -- the path helper ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["20240101-000000-abcdef", "run.1", "a b", "..x", "x..", "ünï"])
def test_id_path_keeps_plain_names_in_their_directory(tmp_path: Path, name: str) -> None:
    assert id_path(tmp_path, name, ".html") == tmp_path / f"{name}.html"


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "../../tmp/x", "/etc/passwd", "/abs", "a/b", "a\\b",
                                  "a\x00b", "a\nb", "a\rb", "\x1b[31m", "x\u202ey"])
def test_id_path_refuses_names_that_would_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(SqlorchError, match="cannot name a file in"):
        id_path(tmp_path / "reports", name, ".html")


def test_is_report_knows_the_markers(tmp_path: Path) -> None:
    html, md, other = tmp_path / "a.html", tmp_path / "a.md", tmp_path / "a.txt"
    html.write_text('<!DOCTYPE html>\n<html>\n<head>\n<meta name="generator" content="sqlorch 1.0">\n')
    md.write_text("# sqlorch run x\n<!-- generator: sqlorch 1.0 -->\n")
    other.write_text("# my notes\nsqlorch is nice\n")
    assert is_report(html) and is_report(md) and not is_report(other)
    assert not is_report(tmp_path / "missing.html") and not is_report(tmp_path)


# -- reports never overwrite what they did not write ----------------------------------------------


def test_report_refuses_to_overwrite_the_warehouse(here: Path) -> None:
    before = snapshot(here)
    for args in (["-o", "warehouse/sqlorch.duckdb"], ["-o", "warehouse/sqlorch.duckdb", "--format", "html"],
                 ["-o", "warehouse/sqlorch.duckdb", "--format", "md", "--force"]):
        result = invoke("report", *args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert snapshot(here) == before, args
    assert "not a sqlorch report" in invoke("report", "-o", "warehouse/sqlorch.duckdb", "--format", "md").stderr
    forced = invoke("report", "-o", "warehouse/sqlorch.duckdb", "--format", "md", "--force")
    failed_cleanly(forced, "is the warehouse the report is read from")


def test_report_overwrites_a_foreign_file_only_with_force(here: Path) -> None:
    notes = here / "notes.html"
    notes.write_text("my own notes\n")
    refused = invoke("report", "-o", "notes.html")
    failed_cleanly(refused, "notes.html exists and is not a sqlorch report", "--force")
    assert notes.read_text() == "my own notes\n"
    forced = invoke("report", "-o", "notes.html", "--force")
    assert forced.exit_code == 0, forced.output
    assert notes.read_text().startswith("<!DOCTYPE html>") and is_report(notes)


def test_report_replaces_its_own_reports(here: Path) -> None:
    for output, marker in (("r.html", MARKERS[0]), ("r.md", MARKERS[1])):
        assert invoke("report", "-o", output).exit_code == 0
        assert marker in (here / output).read_text()
        (here / output).write_text((here / output).read_text() + "an old line\n")
        again = invoke("report", "-o", output)
        assert again.exit_code == 0, again.output
        assert "an old line" not in (here / output).read_text()
    assert sorted(p.name for p in here.iterdir()) == ["r.html", "r.md", "warehouse"]  # no temporary file left


@pytest.mark.parametrize(("output", "fmt", "start"), [
    ("r.md", None, "# sqlorch run "), ("r.markdown", None, "# sqlorch run "), ("R.MD", None, "# sqlorch run "),
    ("r.html", None, "<!DOCTYPE html>"), ("r.htm", None, "<!DOCTYPE html>"),
    ("r.md", "html", "<!DOCTYPE html>"), ("r.txt", "md", "# sqlorch run "), ("r", "html", "<!DOCTYPE html>"),
])
def test_the_format_follows_the_suffix_unless_given(here: Path, output: str, fmt: str | None, start: str) -> None:
    result = invoke("report", "-o", output, *(["--format", fmt] if fmt else []))
    assert result.exit_code == 0, result.output
    text = (here / output).read_text()
    assert text.startswith(start) and any(marker in text for marker in MARKERS)


@pytest.mark.parametrize("output", ["r.txt", "r", "r.pdf"])
def test_an_unknown_suffix_without_format_is_an_error(here: Path, output: str) -> None:
    failed_cleanly(invoke("report", "-o", output), f"cannot tell the format of {output}", ".html", ".md",
                   "--format html or md")
    assert not (here / output).exists()


def test_run_never_overwrites_a_foreign_file_in_the_report_dir(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "new_run_id", lambda: "20240101-000000-fixed1")
    (here / "reports").mkdir()
    mine = here / "reports" / "20240101-000000-fixed1.md"
    mine.write_text("not a report\n")
    result = invoke("run", "--quiet")
    failed_cleanly(result, "run 20240101-000000-fixed1 is stored in the warehouse", "not a sqlorch report",
                   "--report-dir", "sqlorch report 20240101-000000-fixed1")
    assert mine.read_text() == "not a report\n" and not (here / "reports" / "20240101-000000-fixed1.html").exists()
    with duckdb.connect("warehouse/sqlorch.duckdb", read_only=True) as con:
        assert con.execute("SELECT status FROM runs WHERE run_id = '20240101-000000-fixed1'").fetchall() == [
            ("completed",)]


def test_grid_never_overwrites_a_foreign_file_in_the_report_dir(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grid_module, "new_run_id", lambda: "20240101-000000-grid01")
    (here / "grid.toml").write_text('[data]\nsynthetic = { symbols = 1, years = 1, seed = 3 }\n'
                                    '[[strategies]]\nclass = "momentum"\nparams = { lookback = [5, 10] }\n')
    (here / "reports").mkdir()
    mine = here / "reports" / "20240101-000000-grid01.html"
    mine.write_text("<html>mine</html>\n")
    result = invoke("grid", "grid.toml", "--workers", "1", "--quiet")
    failed_cleanly(result, "run 20240101-000000-grid01 is stored in the warehouse", "not a sqlorch report")
    assert mine.read_text() == "<html>mine</html>\n"
    assert not (here / "reports" / "20240101-000000-grid01.md").exists()


# -- run ids never lead out of their directory ---------------------------------------------------


def _rename_run(db: Path, old: str, new: str) -> None:
    """Give run `old` the id `new` in every table (a crafted warehouse)."""
    with duckdb.connect(str(db)) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_columns() c JOIN duckdb_tables() t USING (table_name) "
            "WHERE c.column_name = 'run_id'").fetchall()]
        for table in tables:
            con.execute(f'UPDATE "{table}" SET run_id = ? WHERE run_id = ?', [new, old])


@pytest.mark.parametrize("crafted", ["../../escaped", "/tmp/sqlorch-escaped", "sub/escaped", "a\nb"])
def test_a_crafted_run_id_cannot_lead_the_report_out_of_reports(here: Path, demo: tuple[Path, str],
                                                                crafted: str) -> None:
    _rename_run(here / "warehouse" / "sqlorch.duckdb", demo[1], crafted)
    outside = Path("/tmp/sqlorch-escaped.html")
    outside.unlink(missing_ok=True)
    before = snapshot(here.parent)
    for args in (["report"], ["report", crafted], ["report", crafted, "--format", "md"]):
        failed_cleanly(invoke(*args), "cannot name a file in reports")
    assert snapshot(here.parent) == before and not outside.exists()
    named = invoke("report", crafted, "-o", "chosen.md")  # a path the user gives is theirs to choose
    assert named.exit_code == 0, named.output
    assert (here / "chosen.md").read_text().startswith("# sqlorch run ")


def test_a_crafted_run_id_cannot_lead_the_reports_of_a_run_out(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "new_run_id", lambda: "../escaped")
    result = invoke("run", "--quiet", "--log-dir", "logs")
    failed_cleanly(result, "cannot name a file in reports")
    assert not list(here.rglob("escaped.html")) and not list(here.rglob("escaped.md"))


@pytest.mark.parametrize("run_id", ["../../tmp/x", "/etc/passwd", "20000101-000000-abcdef", "a\x00b"])
def test_the_run_id_of_report_must_exist(here: Path, demo: tuple[Path, str], run_id: str) -> None:
    before = snapshot(here)
    failed_cleanly(invoke("report", run_id), f"no run {run_id!r} in warehouse/sqlorch.duckdb",
                   f"(the latest: {demo[1]})", "`sqlorch runs` lists them")
    assert snapshot(here) == before


# -- unwritable paths ------------------------------------------------------------------------------


def test_unwritable_report_output(here: Path) -> None:
    (here / "afile").write_text("x")
    (here / "adir").mkdir()
    before = snapshot(here)
    failed_cleanly(invoke("report", "-o", "adir"), "adir is a directory")
    failed_cleanly(invoke("report", "-o", "adir", "--format", "md"), "adir is a directory")
    failed_cleanly(invoke("report", "-o", "afile/r.html"), "cannot write afile/r.html", "afile is a file")
    failed_cleanly(invoke("report", "-o", "afile/deeper/r.md"), "afile is a file")
    assert snapshot(here) == before


def test_a_failed_write_leaves_the_old_report_whole(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("report", "-o", "r.html").exit_code == 0
    old = (here / "r.html").read_bytes()

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    failed_cleanly(invoke("report", "-o", "r.html", "--format", "md"), "cannot write r.html", "No space left")
    assert (here / "r.html").read_bytes() == old
    assert sorted(p.name for p in here.iterdir()) == ["r.html", "warehouse"]


@pytest.mark.parametrize("command", ["run", "grid"])
def test_unwritable_report_dir_fails_before_the_run(here: Path, command: str) -> None:
    (here / "afile").write_text("x")
    (here / "grid.toml").write_text('[data]\nsynthetic = { symbols = 1, years = 1, seed = 3 }\n'
                                    '[[strategies]]\nclass = "momentum"\nparams = { lookback = [5, 10] }\n')
    args = ["run", "--quiet"] if command == "run" else ["grid", "grid.toml", "--workers", "1", "--quiet"]
    before = snapshot(here)
    for report_dir in ("afile", "afile/sub"):
        failed_cleanly(invoke(*args, "--report-dir", report_dir), f"--report-dir {report_dir}: afile is a file")
    assert snapshot(here) == before  # not even a run in the warehouse


@pytest.mark.parametrize("command", [["run", "--quiet", "--no-report"], ["runs"], ["sql", "SELECT 1"], ["report"],
                                     ["ingest", "data.csv"]])
def test_unusable_warehouse_paths(here: Path, command: list[str]) -> None:
    (here / "afile").write_text("x")
    (here / "adir").mkdir()
    (here / "data.csv").write_text("symbol,ts,open,high,low,close,volume\nA,2024-01-02,1,1,1,1,1\n"
                                   "A,2024-01-03,1,1,1,1,1\n")
    before = snapshot(here)
    failed_cleanly(invoke(*command, "--warehouse", "adir"), "adir is a directory", "--warehouse")
    writes = command[0] in ("run", "ingest")
    under_a_file = invoke(*command, "--warehouse", "afile/w.duckdb")
    failed_cleanly(under_a_file, *(["cannot create the warehouse afile/w.duckdb", "--warehouse"] if writes
                                   else ["no warehouse at afile/w.duckdb"]))
    after = snapshot(here)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert not changed, changed


# -- a damaged warehouse ----------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(random.Random(7).randbytes(len(data)))
    else:  # blocks in the middle overwritten
        rng = random.Random(7)
        middle = bytearray(data)
        for i in range(300_000, 1_200_000, 7):
            middle[i] = rng.randrange(256)
        path.write_bytes(bytes(middle))


DAMAGE_WORDS = {"truncated": "truncated", "random": "not a DuckDB database, or it is damaged",
                "corrupt": "damaged (truncated or corrupt)"}


@pytest.mark.parametrize("how", ["truncated", "random", "corrupt"])
@pytest.mark.parametrize("command", [["runs"], ["sql", "SELECT * FROM drawdowns"], ["report", "-o", "r.html"],
                                     ["report", "--format", "md"], ["run", "--quiet"]])
def test_a_damaged_warehouse_is_one_clear_message(here: Path, how: str, command: list[str]) -> None:
    db = here / "warehouse" / "sqlorch.duckdb"
    _damage(db, how)
    before = snapshot(here)
    result = invoke(*command)
    if how == "corrupt" and command[0] in ("runs", "sql") and result.exit_code == 0:
        return  # these reads did not touch the damaged blocks: a correct answer is fine too
    failed_cleanly(result, "warehouse/sqlorch.duckdb", "restore it from a backup, or pass another --warehouse")
    assert any(words in result.stderr for words in (DAMAGE_WORDS[how], "damaged", "truncated")), result.stderr
    assert not list(here.rglob("*.wal")) and not list(here.rglob("*.html")) and not list(here.rglob("*.md"))
    if command[0] == "run" and how == "corrupt":
        return  # found only when the run reads a damaged block: the run is then recorded as failed
    after = snapshot(here)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert not changed, changed


def test_a_truncated_warehouse_is_refused_before_a_write(here: Path) -> None:
    db = here / "warehouse" / "sqlorch.duckdb"
    _damage(db, "truncated")
    failed_cleanly(invoke("run", "--quiet"), "is truncated", "nothing was written to it")


# -- a file open in this process with another configuration ----------------------------------------


def test_a_warehouse_open_in_this_process_with_another_configuration(here: Path) -> None:
    db = here / "warehouse" / "sqlorch.duckdb"
    held = duckdb.connect(str(db), read_only=True)  # a notebook's connection
    try:
        for command in (["runs"], ["sql", "SELECT 1"], ["report", "-o", "r.html"], ["run", "--quiet"]):
            failed_cleanly(invoke(*command), "is already open in this process with another configuration",
                           "close that connection first")
    finally:
        held.close()
    assert invoke("runs").exit_code == 0
