"""`sqlorch sql` is read-only in fact: a query reads the warehouse it was given and nothing
else. Every statement below is tried against a real warehouse beside a second database file;
afterwards both files, and everything else in the directory, are byte for byte as before."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from sqlorch.cli import cli
from sqlorch.store.warehouse import Warehouse


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a warehouse holding one demo run and a second database `other.duckdb`."""
    root = tmp_path_factory.mktemp("readonly")
    before = Path.cwd()
    os.chdir(root)
    try:
        ran = invoke("run", "--quiet", "--no-report", "--warehouse", "w.duckdb")
        assert ran.exit_code == 0, ran.output
    finally:
        os.chdir(before)
    with duckdb.connect(str(root / "other.duckdb")) as con:
        con.execute("CREATE TABLE precious AS SELECT range AS i FROM range(100)")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture
def here(place: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(place)
    return place


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under `root` (directories as None), with its bytes."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


OTHER = "other.duckdb"
ESCAPES = [
    # writing files, exporting, copying
    "COPY runs TO 'copied.csv'",
    "COPY (SELECT 1 AS a) TO 'x.pth'",
    "COPY (SELECT 'import os' AS line) TO '{root}/evil.pth' (HEADER false)",
    "COPY (SELECT 1 AS a) TO 'w.duckdb'",
    "COPY (SELECT 1 AS a) TO 'other.duckdb' (FORMAT parquet)",
    "COPY runs FROM 'data.csv'",
    "EXPORT DATABASE 'exported'",
    "IMPORT DATABASE 'exported'",
    # attaching, detaching, copying between databases
    "ATTACH 'other.duckdb' AS o (READ_WRITE)",
    "ATTACH 'other.duckdb' AS o (READ_ONLY)",
    "ATTACH 'other.duckdb' AS o",
    "ATTACH 'new.duckdb' AS n",
    "ATTACH ':memory:' AS m",
    "ATTACH 'w.duckdb' AS again",
    "DETACH w",
    "COPY FROM DATABASE w TO o",
    "ATTACH 'other.duckdb' AS o; DELETE FROM o.precious",
    "ATTACH 'other.duckdb' AS o; COPY FROM DATABASE w TO o",
    # extensions
    "INSTALL httpfs",
    "LOAD httpfs",
    "INSTALL 'x' FROM community",
    "FORCE INSTALL json",
    "LOAD json",
    # undoing the lock, other settings
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "RESET lock_configuration",
    "SET autoload_known_extensions = true",
    "SET GLOBAL threads = 1",
    "SET VARIABLE x = 1",
    "PRAGMA enable_profiling",
    "PRAGMA profiling_output = 'profile.txt'",
    "PRAGMA show_tables",
    "CALL enable_logging()",
    "CALL checkpoint()",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE PERSISTENT SECRET p (TYPE s3, KEY_ID 'a', SECRET 'b')",
    # writing the warehouse
    "CHECKPOINT",
    "FORCE CHECKPOINT",
    "VACUUM",
    "VACUUM runs",
    "ANALYZE",
    "INSERT INTO runs (run_id) VALUES ('x')",
    "UPDATE runs SET status = 'failed'",
    "DELETE FROM fills",
    "DROP TABLE fills",
    "DROP VIEW comparison",
    "ALTER TABLE runs RENAME TO gone",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE MACRO m(a) AS a",
    "CREATE SCHEMA s",
    "TRUNCATE fills",
    "BEGIN TRANSACTION",
    "USE other",
    # more than one statement
    "SELECT 1; DELETE FROM fills",
    "SELECT 1; SELECT 2",
    # table functions and scans that read files or list directories
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('data.csv')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM parquet_scan('x.parquet')",
    "SELECT * FROM parquet_metadata('x.parquet')",
    "SELECT * FROM read_json('x.json')",
    "SELECT * FROM read_json_auto('x.json')",
    "SELECT * FROM read_ndjson_objects('x.json')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM 'data.csv'",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_text('other.duckdb')",
    "SELECT * FROM query('ATTACH ''other.duckdb'' AS o')",
    "SELECT * FROM duckdb_extensions()",
]


@pytest.mark.parametrize("statement", ESCAPES)
def test_no_statement_writes_attaches_loads_or_reads_files(here: Path, statement: str) -> None:
    before = snapshot(here)
    result = invoke("sql", statement.format(root=here), "--warehouse", "w.duckdb")
    assert result.exit_code == 1, (statement, result.output)
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert snapshot(here) == before
    with duckdb.connect(str(here / OTHER), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM precious").fetchall() == [(100,)]


def test_the_messages_say_why(here: Path) -> None:
    written = invoke("sql", "COPY runs TO 'copied.csv'", "--warehouse", "w.duckdb")
    assert "sqlorch sql runs one read-only query" in written.stderr and "COPY" in written.stderr
    two = invoke("sql", "SELECT 1; SELECT 2", "--warehouse", "w.duckdb")
    assert "one query at a time" in two.stderr and "2 statements" in two.stderr
    files = invoke("sql", "SELECT * FROM read_csv('/etc/passwd')", "--warehouse", "w.duckdb")
    assert "reads the warehouse and nothing else" in files.stderr
    empty = invoke("sql", "-- only a comment", "--warehouse", "w.duckdb")
    assert empty.exit_code == 1 and "no statement" in empty.stderr


READS = [
    ("SELECT count(*) AS n FROM runs", "1"),
    ("FROM comparison SELECT count(*) AS n", "4"),
    ("SELECT count(*) AS n FROM events", "522"),
    ("WITH a AS (SELECT 7 AS n) SELECT * FROM a", "7"),
    ("SUMMARIZE runs", "run_id"),
    ("DESCRIBE fills", "strategy_id"),
    ("SHOW TABLES", "fills"),
    ("EXPLAIN SELECT * FROM fills", "physical_plan"),
    ("PIVOT (SELECT strategy_id, count(*) AS n FROM fills GROUP BY ALL) ON strategy_id USING sum(n)", "momentum"),
    ("SELECT count(*) AS n FROM duckdb_views() WHERE NOT internal", "2"),
    ("SELECT 1 AS n;", "1"),
]


@pytest.mark.parametrize(("query", "shown"), READS)
def test_reads_of_the_warehouse_and_its_views_work(here: Path, query: str, shown: str) -> None:
    before = snapshot(here)
    result = invoke("sql", query, "--warehouse", "w.duckdb", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert shown in result.stdout
    assert snapshot(here) == before


@pytest.mark.parametrize("query", ["-- the latest run\nSELECT count(*) AS n FROM runs",
                                   "--no space\nSELECT count(*) AS n FROM runs",
                                   "-- a\n-- b\nSELECT count(*) AS n FROM runs -- c"])
def test_a_query_starting_with_a_comment_is_the_query(here: Path, query: str) -> None:
    for args in (["sql", query, "--warehouse", "w.duckdb"], ["sql", "--warehouse", "w.duckdb", query],
                 ["sql", "--format", "csv", query, "--warehouse", "w.duckdb"],
                 ["sql", "--warehouse", "w.duckdb", "--", query]):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout.splitlines()[-1].strip() == "1"
    # a mistyped option is still an error, not part of the query
    mistyped = invoke("sql", query, "--fromat", "csv", "--warehouse", "w.duckdb")
    assert mistyped.exit_code == 2 and "No such option '--fromat'" in mistyped.stderr


# the configuration of the connection is the guard, whatever passes the statement check: each
# statement here runs on the connection `sqlorch sql` uses, without that check


LOCKED = [
    "COPY runs TO 'copied.csv'",
    "COPY (SELECT 1 AS a) TO 'w.duckdb'",
    "EXPORT DATABASE 'exported'",
    "IMPORT DATABASE 'exported'",
    "ATTACH 'other.duckdb' AS o (READ_WRITE)",
    "ATTACH 'other.duckdb' AS o (READ_ONLY)",
    "ATTACH 'new.duckdb' AS n",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "SET allow_community_extensions = true",
    "SET autoinstall_known_extensions = true",
    "SET temp_directory = 'spill'",
    "PRAGMA profiling_output = 'profile.txt'",
    "CALL enable_logging(storage = 'file', storage_path = 'logs')",
    "CREATE PERSISTENT SECRET p (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "INSERT INTO runs (run_id) VALUES ('x')",
    "DELETE FROM fills",
    "DROP TABLE fills",
    "CREATE TABLE t AS SELECT 1",
    "SELECT * FROM read_csv('data.csv')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM sniff_csv('data.csv')",
    "SELECT * FROM read_parquet('x.parquet')",
]


@pytest.mark.parametrize("statement", LOCKED)
def test_the_connection_itself_refuses(here: Path, statement: str) -> None:
    before = snapshot(here)
    with Warehouse(here / "w.duckdb").sandbox() as con:
        with pytest.raises(duckdb.Error):
            con.execute(statement)
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    assert snapshot(here) == before


def test_the_harmless_statements_the_check_refuses_change_nothing_either(here: Path) -> None:
    before = snapshot(here)
    with Warehouse(here / "w.duckdb").sandbox() as con:
        for statement in ("CHECKPOINT", "FORCE CHECKPOINT", "VACUUM", "CREATE TEMP TABLE t AS SELECT range FROM range(10)"):
            con.execute(statement)
    assert snapshot(here) == before
