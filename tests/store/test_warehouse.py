"""The DuckDB warehouse (sqlorch/store/warehouse.py): identifiers, schema, locks, dead runs, several
runs in one file, and the DuckDB CLI opening the file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from sqlorch import (
    BacktestConfig,
    BacktestEngine,
    OrchestratorConfig,
    Signal,
    SqlorchError,
    StrategyOrchestrator,
    WarehouseLockedError,
)
from sqlorch.backtest.runner import HANDOVER_SECONDS, quick_gil_handover
from sqlorch.engine.records import Coded, Columns
from sqlorch.resources import sql_files
from sqlorch.store.warehouse import (
    SCHEMA_GROUPS,
    TABLES,
    Warehouse,
    _lock_holder,
    coded_column,
    insert,
    install_schema,
    process_alive,
    quote_identifier,
    schema_fingerprint,
    setting,
)

CLI = Path(sys.executable).parent / "duckdb"


# ------------------------------------------------------------------------------ identifiers and schema


def test_quote_identifier():
    assert quote_identifier("bars") == '"bars"'
    assert quote_identifier('we"ird') == '"we""ird"'
    assert quote_identifier('a "b" c') == '"a ""b"" c"'
    con = duckdb.connect()
    name = 'odd "name"; DROP TABLE x; --'
    con.execute(f"CREATE TABLE {quote_identifier(name)} (v INTEGER)")
    con.execute(f"INSERT INTO {quote_identifier(name)} VALUES (42)")
    assert con.execute(f"SELECT v FROM {quote_identifier(name)}").fetchall() == [(42,)]
    assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [(name,)]


def _objects(con):
    return con.execute("""
        SELECT 'table', table_name FROM duckdb_tables() UNION ALL
        SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal UNION ALL
        SELECT 'macro', function_name FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro%'
        ORDER BY 1, 2""").fetchall()


def test_install_schema_is_idempotent_and_keeps_data():
    con = duckdb.connect()
    install_schema(con)
    first = _objects(con)
    tables = {name for kind, name in first if kind == "table"}
    assert set(TABLES) | {"sqlorch_meta", "clocks", "marks", "trades", "equity", "portfolio_books", "metrics"} == tables
    views = {name for kind, name in first if kind == "view"}
    assert {"comparison", "positions", "strategy_equity", "portfolio_equity"} <= views
    con.execute("INSERT INTO runs (run_id, status) VALUES ('r1', 'completed')")
    install_schema(con)
    assert _objects(con) == first
    assert con.execute("SELECT value FROM sqlorch_meta WHERE key = 'schema'").fetchall() == [(schema_fingerprint(),)]
    # an older schema version: views and macros are recreated, tables and their rows kept
    con.execute("UPDATE sqlorch_meta SET value = 'stale' WHERE key = 'schema'")
    con.execute("DROP VIEW comparison")
    install_schema(con)
    assert _objects(con) == first
    assert con.execute("SELECT value FROM sqlorch_meta WHERE key = 'schema'").fetchall() == [(schema_fingerprint(),)]
    assert con.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]


def test_new_database_schema_equals_the_migrated_one():
    """A new database gets the tables' files in one script, without the migrations: every column
    (name, position, type), view and macro must be what the migrations give an older warehouse."""
    fresh, migrated = duckdb.connect(), duckdb.connect()
    install_schema(fresh)
    for group in SCHEMA_GROUPS:
        for path in sql_files(group):
            migrated.execute(path.read_text(encoding="utf-8"))
    queries = ("SELECT table_name, column_index, column_name, data_type FROM duckdb_columns() ORDER BY ALL",
               "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY ALL",
               "SELECT function_name, macro_definition FROM duckdb_functions() WHERE NOT internal ORDER BY ALL")
    for query in queries:
        assert fresh.execute(query).fetchall() == migrated.execute(query).fetchall()
    assert len(fresh.execute(queries[0]).fetchall()) > 500


def test_in_memory_warehouse_keeps_one_connection():
    warehouse = Warehouse(None)
    with warehouse.connect() as first:
        insert(first, "runs", {"run_id": ["r1"], "status": ["completed"]})
    with warehouse.connect(read_only=True) as second:
        assert second is first
    frame = warehouse.query("SELECT run_id, status FROM runs")
    assert isinstance(frame, pl.DataFrame) and frame.rows() == [("r1", "completed")]
    assert repr(warehouse) == "Warehouse(:memory:)"


def test_insert_checks_table_names_and_skips_empty_input():
    warehouse = Warehouse(None)
    with warehouse.connect() as con:
        with pytest.raises(ValueError, match="unknown table 'runs; DROP'"):
            insert(con, "runs; DROP", {"run_id": ["x"]})
        insert(con, "fills", {"run_id": [], "fill_id": []})
        assert con.execute("SELECT count(*) FROM fills").fetchall() == [(0,)]
        insert(con, "runs", {"run_id": pa.array(["arrow"]), "status": ["completed"]})  # Arrow arrays pass through
        assert con.execute("SELECT run_id, status FROM runs").fetchall() == [("arrow", "completed")]


def test_coded_names_arrive_as_text_and_read_back_as_names():
    names = ["AAPL", "MSFT", "ÄÖ"]
    warehouse = Warehouse(None)
    with warehouse.connect() as con:
        insert(con, "fills", {"run_id": ["r"] * 4, "fill_id": [1, 2, 3, 4],
                              "symbol": coded_column([2, 0, 0, 1], names)})
        assert con.execute("SELECT symbol FROM fills ORDER BY fill_id").fetchall() == [("ÄÖ",), ("AAPL",), ("AAPL",),
                                                                                     ("MSFT",)]
    columns = Columns.of(fill_id=[1, 2], symbol=Coded([1, 0], names))
    assert len(columns) == 2 and columns.rows() == [(1, "MSFT"), (2, "AAPL")]


@pytest.mark.parametrize("standing", [[["a"], [], ["b", "c"]], [[], [], []]])
def test_list_columns_arrive_as_lists(standing):
    warehouse = Warehouse(None)
    with warehouse.connect() as con:
        insert(con, "conflicts", {"run_id": ["r"] * 3, "conflict_id": [1, 2, 3],
                                  "strategies": [["a", "b"], ["a"], ["b", "c", "d"]], "standing": standing})
        got = con.execute("SELECT strategies, standing FROM conflicts ORDER BY conflict_id").fetchall()
    assert got == list(zip([["a", "b"], ["a"], ["b", "c", "d"]], standing))


def test_transaction_rolls_back_on_error(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError):
        with warehouse.transaction() as con:
            insert(con, "runs", {"run_id": ["lost"], "status": ["running"]})
            raise RuntimeError("stop")
    with warehouse.transaction() as con:
        insert(con, "runs", {"run_id": ["kept"], "status": ["completed"]})
    assert warehouse.query("SELECT run_id FROM runs").rows() == [("kept",)]


# ------------------------------------------------------------------------------ opening files


def test_read_only_connect_to_a_missing_file(tmp_path):
    missing = tmp_path / "nothing" / "here.duckdb"
    with pytest.raises(SqlorchError, match="no warehouse at .*here.duckdb"):
        with Warehouse(missing).connect(read_only=True):
            pass
    assert not missing.exists() and not missing.parent.exists()


def test_a_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database, just text\n" * 10)
    with pytest.raises(SqlorchError, match="cannot open the warehouse .*bad.duckdb") as info:
        with Warehouse(bad, lock_timeout=0.2).connect():
            pass
    assert not isinstance(info.value, WarehouseLockedError)


HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_lock_waits_for_the_holder_then_times_out_or_succeeds(tmp_path):
    path = tmp_path / "locked.duckdb"
    with Warehouse(path).connect():
        pass  # create it with the schema
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        held_at = time.monotonic()
        # a short timeout gives up with a clear error naming the holder
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as info:
            with Warehouse(path, lock_timeout=0.3).connect():
                pass
        assert 0.3 <= time.monotonic() - started < 1.2
        message = str(info.value)
        assert f"still locked by process {holder.pid} (" in message
        assert "after 0.3 s" in message and "--lock-timeout" in message and str(path) in message
        # a long timeout waits, tells on_wait once who holds the file, then gets in
        messages = []
        with Warehouse(path, lock_timeout=20, on_wait=messages.append).connect() as con:
            assert time.monotonic() - held_at >= 1.0  # the holder keeps the file for 1.5 s
            assert con.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]
        assert holder.wait(timeout=10) == 0
        assert len(messages) == 1
        assert messages[0].startswith(f"waiting for the warehouse {path}: it is locked by process {holder.pid} (")
    finally:
        holder.kill()
        holder.wait()


def test_lock_holder_parsing():
    assert _lock_holder('Conflicting lock is held in /usr/bin/python3.11 (PID 4242). See also') \
        == "process 4242 (python3.11)"
    assert _lock_holder("some other wording") == "another process"


# ------------------------------------------------------------------------------ dead runs


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_running_rows_of_dead_processes_become_incomplete(tmp_path):
    path = tmp_path / "w.duckdb"
    dead, here = _dead_pid(), socket.gethostname()
    assert process_alive(os.getpid()) and not process_alive(dead)
    with Warehouse(path).transaction() as con:
        insert(con, "runs", {
            "run_id": ["dead", "alive", "elsewhere", "done", "nopid"],
            "status": ["running", "running", "running", "completed", "running"],
            "pid": [dead, os.getpid(), dead, dead, None],
            "hostname": [here, here, "another-host.invalid", here, here],
        })
    # the transaction's own connect already ran mark_dead_runs before the rows existed
    assert Warehouse(path).query("SELECT count(*) FROM runs WHERE status = 'running'").item() == 4
    with Warehouse(path).connect():  # any write connection marks them
        pass
    rows = dict(Warehouse(path).query("SELECT run_id, status FROM runs").rows())
    assert rows == {"dead": "incomplete", "alive": "running", "elsewhere": "running", "done": "completed",
                    "nopid": "incomplete"}
    error = Warehouse(path).query("SELECT error FROM runs WHERE run_id = 'dead'").item()
    assert error == f"process {dead} ended before the run finished"


# ------------------------------------------------------------------------------ several runs, the CLI


class Buyer:
    def __init__(self, name, symbol):
        self.name, self.symbol = name, symbol

    def on_bar(self, ctx):
        return [Signal.buy(self.symbol, 0.5)] if ctx.t == 0 else None


def test_runs_coexist_views_filter_by_run_id_and_the_cli_opens_the_file(tmp_path, make_bars):
    path = tmp_path / "shared.duckdb"
    bars_one = make_bars({"A": [(d, 10 + d) for d in range(4)]})
    bars_two = make_bars({"A": [(d, 20 + d) for d in range(4)], "B": [(d, 30) for d in range(4)]})
    config = dict(initial_capital=D(1000), warehouse=str(path), log_dir=None)
    one = BacktestEngine(Buyer("alpha", "A"), BacktestConfig(**config)).run(bars_one)
    two = StrategyOrchestrator([(Buyer("beta", "A"), D("0.5")), (Buyer("gamma", "B"), D("0.5"))],
                               OrchestratorConfig(**config)).run(bars_two)
    # the same data again reuses the stored dataset (regression: with duckdb 2.0 a `.fetchone()`
    # leaving rows unread kept an unfinished result on the connection, so the next
    # `con.register` raised ResourceInUseException and a second run on the same bars failed)
    again = BacktestEngine(Buyer("alpha", "A"), BacktestConfig(**config)).run(bars_one)
    assert len({one.run_id, two.run_id, again.run_id}) == 3
    assert again.final_equity == one.final_equity == D(1100)  # 50 A at 11, marked at 13: 450 + 650
    warehouse = Warehouse(path)
    runs = warehouse.query("SELECT run_id, kind, status FROM runs ORDER BY started_at").rows()
    assert runs == [(one.run_id, "backtest", "completed"), (two.run_id, "orchestrator", "completed"),
                    (again.run_id, "backtest", "completed")]
    for run_id, ids in [(one.run_id, ["alpha", "portfolio"]), (two.run_id, ["beta", "gamma", "portfolio"]),
                        (again.run_id, ["alpha", "portfolio"])]:
        got = warehouse.query("SELECT strategy_id FROM comparison WHERE run_id = ? ORDER BY position NULLS LAST",
                              [run_id])["strategy_id"].to_list()
        assert got == ids
    fills = warehouse.query("SELECT run_id, strategy_id, quantity, price FROM fills ORDER BY run_id, fill_id").rows()
    # alpha: floor(500 / 10) = 50 at 11; beta: floor(250 / 20) = 12 at 21; gamma: floor(250 / 30) = 8 at 30
    assert sorted(fills) == sorted([(one.run_id, "alpha", D(50), D(11)), (two.run_id, "beta", D(12), D(21)),
                                    (two.run_id, "gamma", D(8), D(30)), (again.run_id, "alpha", D(50), D(11))])
    assert warehouse.query("SELECT count(*) FROM datasets").item() == 2  # stored once each
    # positions are marked with their own dataset's closes (A is in both)
    marks = warehouse.query("SELECT run_id, strategy_id, bar_index, mark FROM positions WHERE symbol = 'A'").rows()
    assert sorted(marks) == sorted([(run, sid, d, D(base + d)) for run, sid, base in [
        (one.run_id, "alpha", 10), (two.run_id, "beta", 20), (again.run_id, "alpha", 10)] for d in (1, 2, 3)])
    # the DuckDB CLI (which lags the Python package) opens the file and reads the views
    assert CLI.exists()
    done = subprocess.run([str(CLI), str(path), "-c",
                           f"SELECT strategy_id FROM comparison WHERE run_id = '{two.run_id}'"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "beta" in done.stdout and "gamma" in done.stdout and "portfolio" in done.stdout
    done = subprocess.run([str(CLI), str(path), "-c", "SELECT * FROM comparison"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("alpha", "beta", "gamma"))
    done = subprocess.run([str(CLI), str(path), "-csv", "-noheader", "-c",  # signal events are built with to_json
                           f"SELECT payload FROM events WHERE run_id = '{two.run_id}' AND event LIKE '%signal'"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '""strategy_id"":""gamma"",""signal_type"":""buy"",""symbol"":""B""' in done.stdout


def test_runs_written_before_the_books_table_are_backfilled_on_upgrade(tmp_path):
    """A warehouse whose runs predate the equity/metrics tables gets them computed when a newer
    sqlorch first opens it for writing, equal to what a fresh run writes."""
    from decimal import Decimal

    import duckdb

    from sqlorch import OrchestratorConfig, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.store.warehouse import BOOKS, Warehouse
    from sqlorch.strategies import BuyAndHold, Momentum

    path = tmp_path / "old.duckdb"
    StrategyOrchestrator([(BuyAndHold(), Decimal("0.5")), (Momentum(lookback=5), Decimal("0.5"))],
                         OrchestratorConfig(warehouse=str(path), log_dir=None)).run(synthetic_bars(3, 1))
    with duckdb.connect(str(path)) as con:
        before = [con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in BOOKS]
        con.execute("DROP TABLE trades")  # a view before it was kept as a table
        con.execute("CREATE VIEW trades AS SELECT 1 AS earlier")
        con.execute("DELETE FROM equity")
        con.execute("DROP TABLE portfolio_books")
        con.execute("DELETE FROM metrics")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    with Warehouse(path).connect():
        pass
    with duckdb.connect(str(path), read_only=True) as con:
        after = [con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in BOOKS]
    assert all(before) and after == before


def test_held_reuses_one_connection_then_releases_the_file(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.held():
        with warehouse.transaction() as first:
            first.execute("INSERT INTO sqlorch_meta VALUES ('probe', 'kept')")
        with warehouse.connect(read_only=True) as second, warehouse.held():
            assert second is first
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as other:  # released
        assert other.execute("SELECT value FROM sqlorch_meta WHERE key = 'probe'").fetchall() == [("kept",)]


def test_release_closes_the_held_connection_until_the_next_use(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.held():
        with warehouse.connect() as first:
            pass
        warehouse.release()
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True):  # the file is free
            pass
        with warehouse.connect() as second:
            assert second is not first


class _ReadsTheWarehouse:
    """On its first bar, waits (up to 10 s) until the run's warehouse opens read-only."""

    name = "reader"

    def __init__(self, path: Path):
        self.path, self.opened = path, False

    def on_bar(self, ctx):
        deadline = time.monotonic() + 10
        while not self.opened and time.monotonic() < deadline:
            try:
                with duckdb.connect(str(self.path), read_only=True) as con:
                    self.opened = con.execute("SELECT status FROM runs").fetchall() == [("running",)]
            except duckdb.Error:
                time.sleep(0.05)
        return []


def test_the_file_is_free_while_the_strategies_step(tmp_path, make_bars):
    path = tmp_path / "w.duckdb"
    reader = _ReadsTheWarehouse(path)
    BacktestEngine(reader, BacktestConfig(warehouse=str(path), log_dir=None)).run(make_bars({"A": [(d, 10 + d) for d in range(4)]}))
    assert reader.opened  # the run was registered and the file released while it stepped


class _SeesTheSwitchInterval:
    def __init__(self):
        self.seen = set()

    def on_bar(self, ctx):
        self.seen.add(sys.getswitchinterval())
        return []


def test_the_settings_a_run_changes_while_the_bars_are_stored_are_restored(make_bars):
    interval = sys.getswitchinterval()
    sees = _SeesTheSwitchInterval()
    result = BacktestEngine(sees, BacktestConfig(warehouse=None, log_dir=None)).run(
        make_bars({"A": [(d, 10 + d) for d in range(4)]}))
    assert list(sees.seen) == [pytest.approx(min(interval, HANDOVER_SECONDS))] and sys.getswitchinterval() == interval
    settings = "SELECT current_setting('threads'), current_setting('disabled_optimizers')"
    with duckdb.connect() as fresh:
        defaults = fresh.execute(settings).fetchone()
    with result.warehouse.connect() as con:  # the run's own in-memory database
        assert con.execute(settings).fetchone() == defaults


def test_overlapping_blocks_on_one_setting_each_restore_what_they_found():
    with duckdb.connect() as con:
        original = con.execute("SELECT current_setting('threads')").fetchone()
        inside, release = threading.Event(), threading.Event()

        def hold():
            with setting(con.cursor(), "threads", 1):
                inside.set()
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        inside.wait(5)
        threading.Timer(0.2, release.set).start()
        with setting(con.cursor(), "threads", 1):  # waits for the holder: finds the original value
            holder.join()  # (without waiting: finds 1, and restores it after the holder restored)
        assert con.execute("SELECT current_setting('threads')").fetchone() == original


def test_the_records_are_inserted_with_the_quick_handover(monkeypatch, make_bars):
    from sqlorch.backtest import runner

    seen = {}

    def recording(con, table, columns):
        seen[table] = sys.getswitchinterval()
        insert(con, table, columns)

    monkeypatch.setattr(runner, "insert", recording)
    interval = sys.getswitchinterval()
    BacktestEngine(_SeesTheSwitchInterval(), BacktestConfig(warehouse=None, log_dir=None)).run(
        make_bars({"A": [(d, 10 + d) for d in range(4)]}))
    assert seen["signals"] == seen["fills"] == pytest.approx(min(interval, HANDOVER_SECONDS))
    assert sys.getswitchinterval() == interval


def test_overlapping_runs_restore_the_switch_interval_when_the_last_ends():
    before = sys.getswitchinterval()
    first, second = quick_gil_handover(), quick_gil_handover()
    first.__enter__()
    second.__enter__()  # another thread's run starts while the first steps
    first.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(min(before, HANDOVER_SECONDS))
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before


def test_a_setting_is_restored_even_when_the_block_fails():
    with duckdb.connect() as con:
        with pytest.raises(ZeroDivisionError), setting(con, "threads", 1):
            assert con.execute("SELECT current_setting('threads')").fetchone() == (1,)
            1 / 0
        assert con.execute("SELECT current_setting('threads')").fetchone() != (1,) or os.cpu_count() == 1


def test_a_failed_block_in_an_aborted_transaction_keeps_its_own_error():
    with duckdb.connect() as con:
        con.begin()
        with pytest.raises(duckdb.CatalogException, match="no_such_table"), setting(con, "threads", 1):
            con.execute("SELECT * FROM no_such_table")  # aborts the transaction: the setting cannot be restored
        con.rollback()


# ------------------------------------------------------------------------------ files it cannot use


def test_a_file_open_in_this_process_with_another_configuration(tmp_path, make_bars):
    path = tmp_path / "w.duckdb"
    with Warehouse(path).connect():
        pass
    bars = make_bars({"A": [(d, 10 + d) for d in range(4)]})
    notebook = duckdb.connect(str(path), read_only=True)
    try:
        with pytest.raises(SqlorchError, match="already open in this process with another configuration.*close that "
                                               "connection first"):
            StrategyOrchestrator([(_Idle(), D("1"))], OrchestratorConfig(warehouse=str(path), log_dir=None)).run(bars)
        with pytest.raises(SqlorchError, match="already open in this process"):
            Warehouse(path).query("SELECT 1")
    finally:
        notebook.close()
    assert Warehouse(path).query("SELECT count(*) AS n FROM runs WHERE status = 'completed'").item() == 0


class _Idle:
    name = "idle"

    def on_bar(self, ctx):
        return None


def test_a_directory_or_a_file_in_the_way(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SqlorchError, match="is a directory; pass --warehouse a file such as"):
        with Warehouse(tmp_path).connect():
            pass
    with pytest.raises(SqlorchError, match="cannot create the warehouse .*afile/w.duckdb: .*--warehouse"):
        with Warehouse(tmp_path / "afile" / "w.duckdb").connect():
            pass


def _truncated(path: Path) -> Path:
    """A warehouse cut to half its length whose metadata still opens (each checkpoint below
    writes it afresh, into blocks freed before the end of the file)."""
    with Warehouse(path).connect():
        pass
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.5.0"}) as con:
        con.execute("CREATE TABLE filler (i BIGINT, h VARCHAR)")
        for _ in range(6):
            con.execute("INSERT INTO filler SELECT range, md5(range::VARCHAR) FROM range(50000)")
            con.execute("CHECKPOINT")
        con.execute("CREATE TABLE small AS SELECT 1 AS a")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_file_is_explained_when_read_and_refused_before_a_write(tmp_path):
    path = _truncated(tmp_path / "w.duckdb")
    before = path.read_bytes()
    assert Warehouse(path).query("SELECT a FROM small").item() == 1  # what is whole can be read
    with pytest.raises(SqlorchError, match="is damaged \\(truncated or corrupt\\): .*restore it from a backup"):
        Warehouse(path).query("SELECT sum(length(h)) FROM filler")
    with pytest.raises(SqlorchError, match="is truncated: .* bytes, but the .* blocks in use take .*nothing was written"):
        with Warehouse(path).connect():
            pass
    assert path.read_bytes() == before and not path.with_name("w.duckdb.wal").exists()
    with Warehouse(tmp_path / "good.duckdb").connect():
        pass
    with pytest.raises(duckdb.CatalogException):  # other errors pass unchanged
        Warehouse(tmp_path / "good.duckdb").query("SELECT * FROM no_such_table")


def test_a_failed_registration_fails_the_run_and_leaves_no_running_row(tmp_path, make_bars, monkeypatch):
    from sqlorch.backtest import runner

    def broken(*args):
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(runner, "register_dataset", broken)
    path = tmp_path / "w.duckdb"
    with pytest.raises((duckdb.IOException, SqlorchError), match="disk full"):  # (the runner may explain it)
        BacktestEngine(_ReadsTheWarehouse(path), BacktestConfig(warehouse=str(path), log_dir=None)).run(make_bars({"A": [(d, 10 + d) for d in range(4)]}))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchall() == [(0,)]


def test_a_failed_insert_while_writing_records_keeps_none_of_them(tmp_path, make_bars, script, monkeypatch):
    """Records are inserted on a writer thread, one table while the next is prepared: an insert
    that fails there fails the run, which is marked failed with none of its records kept."""
    from sqlorch.backtest import runner

    original = runner.insert

    def insert(con, table, columns):
        if table == "fills":
            raise duckdb.IOException("disk full")
        original(con, table, columns)

    monkeypatch.setattr(runner, "insert", insert)
    path = tmp_path / "w.duckdb"
    with pytest.raises((duckdb.IOException, SqlorchError), match="disk full"):  # (the runner may explain it)
        BacktestEngine(script({0: [Signal.buy("A", 1.0)]}), BacktestConfig(warehouse=str(path), log_dir=None)).run(
            make_bars({"A": [(d, 10 + d) for d in range(4)]}))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT status, error FROM runs").fetchall() == [("failed", "IOException: disk full")]
        assert con.execute("SELECT (SELECT count(*) FROM signals) + (SELECT count(*) FROM decisions) "
                           "+ (SELECT count(*) FROM logged_events)").fetchall() == [(0,)]


def test_a_run_does_not_import_pandas(tmp_path):
    pytest.importorskip("pandas")  # installed with the benchmark extra; importing it costs 0.3 s
    script = f"""
import sys
from decimal import Decimal
from sqlorch import OrchestratorConfig, StrategyOrchestrator
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.strategies import BuyAndHold, Momentum, SMACross
line = [(BuyAndHold(), Decimal("0.3")), (Momentum(), Decimal("0.3")), (SMACross(), Decimal("0.3"))]
result = StrategyOrchestrator(line, OrchestratorConfig(warehouse={str(tmp_path / 'w.duckdb')!r}, log_dir=None)).run(
    synthetic_bars(3, 1))
assert result.warehouse.query("SELECT count(*) AS n FROM conflicts")["n"][0] > 0, "no list column written"
print("pandas" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_events_table_of_earlier_versions_is_kept_and_read_through_the_events_view(tmp_path):
    """Before signal and conflict events were rebuilt from their tables, every event was a row
    of a table `events`. Upgrading renames it to logged_events: the view events shows an older
    run's trail as it was (signal and conflict events once) and a newer run's alike."""
    from decimal import Decimal

    from sqlorch import OrchestratorConfig, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.strategies import Momentum

    path = tmp_path / "old.duckdb"

    def run() -> str:
        return StrategyOrchestrator([(Momentum(lookback=6), Decimal("0.5")), (Momentum(lookback=5), Decimal("0.5"))],
                                    OrchestratorConfig(warehouse=str(path), log_dir=None)).run(synthetic_bars(3, 1)).run_id

    def trail(con, run_id):
        return con.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq", [run_id]).fetchall()

    older = run()
    with duckdb.connect(str(path)) as con:
        before = trail(con, older)
        con.execute("CREATE TABLE stored AS SELECT * FROM events")  # the layout of earlier versions
        con.execute("DROP VIEW events")
        con.execute("DROP TABLE logged_events")
        con.execute("ALTER TABLE stored RENAME TO events")
        for column in ("event_seq", "logged_at", "capital_available"):
            con.execute(f"ALTER TABLE signals DROP COLUMN {column}")
        for column in ("event_seq", "logged_at"):
            con.execute(f"ALTER TABLE conflicts DROP COLUMN {column}")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    newer = run()
    with duckdb.connect(str(path), read_only=True) as con:
        assert sum(row[3].endswith("strategy_signal") for row in before) > 10
        assert sum(row[3].endswith("conflict_detected") for row in before) > 0
        assert trail(con, older) == before
        for table in ("signals", "conflicts"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE run_id = ? AND event_seq IS NOT NULL",
                               [older]).fetchall() == [(0,)]
        events = [row[3].split(".")[1] for row in trail(con, newer)]
        assert events == [row[3].split(".")[1] for row in before]
        assert [row[1] for row in trail(con, newer)] == list(range(len(events)))


def test_marks_are_the_panels_last_closes_with_gaps_late_starts_and_gapless_symbols(make_bars):
    """marks (SQL) carries each symbol's close over the clock bars it has none, from its first
    bar on, as the stepper's Panel does (numpy): symbols with and without gaps, starting late."""
    from sqlorch.bars.panel import MARK, Panel
    from sqlorch.store.warehouse import register_dataset

    bars = make_bars({"FULL": [(d, 10 + d) for d in range(8)],
                      "GAPS": [(d, 20 + d) for d in (0, 1, 4, 5, 7)],
                      "LATE": [(d, 30 + d) for d in range(3, 8)],
                      "LATEGAP": [(d, 40 + d) for d in (2, 6)]})
    panel = Panel.from_bars(bars)
    con = duckdb.connect()
    install_schema(con)
    register_dataset(con, bars, "d", "test")
    rows = con.execute("SELECT symbol, bar_index, close::DOUBLE FROM marks ORDER BY ALL").fetchall()
    expected = sorted((symbol, t, panel.data[t, MARK, j]) for j, symbol in enumerate(panel.symbols)
                      for t in range(len(panel)) if panel.data[t, MARK, j] > 0)
    assert rows == expected
    assert {symbol: first for symbol, first in con.execute(
        "SELECT symbol, min(bar_index) FROM marks GROUP BY symbol").fetchall()} == {
        "FULL": 0, "GAPS": 0, "LATE": 3, "LATEGAP": 2}


def test_dataset_id_hashes_symbols_clock_and_prices_as_one_contiguous_block():
    """The content hash that lets equal bars share one stored dataset is the same as when it
    hashed a full contiguous copy of the prices (it now hashes them in blocks of bars), so
    warehouses written earlier recognise their datasets."""
    import hashlib

    import numpy as np

    from sqlorch.backtest.runner import dataset_id
    from sqlorch.bars.panel import Panel
    from sqlorch.bars.synthetic import synthetic_bars

    for symbols, years in ((3, 1), (4, 2)):  # 252 bars (one block), 504 (two, the last partial)
        panel = Panel.from_bars(synthetic_bars(symbols, years, seed=1))
        digest = hashlib.blake2b(digest_size=12)
        digest.update("\0".join(panel.symbols).encode())
        digest.update(panel.timestamps.astype("datetime64[us]").tobytes())
        digest.update(np.ascontiguousarray(panel.data[:, :5]).tobytes())
        assert dataset_id(panel) == digest.hexdigest()
    assert dataset_id(panel) != dataset_id(Panel.from_bars(synthetic_bars(4, 2, seed=2)))


def test_a_warehouse_from_before_benchmarks_gains_their_table_and_columns(tmp_path):
    """Migration 006: runs.risk_free_rate and the benchmark metrics of metrics and grid_results
    are added to a warehouse created without them (its runs' values NULL), and a run with a
    benchmark can then be written to it."""
    from decimal import Decimal

    import duckdb

    from sqlorch import OrchestratorConfig, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.strategies import BuyAndHold

    path, bars = tmp_path / "old.duckdb", synthetic_bars(2, 1)
    config = OrchestratorConfig(warehouse=str(path), log_dir=None)
    StrategyOrchestrator([(BuyAndHold(), Decimal("1"))], config).run(bars)
    added = ("alpha", "beta", "tracking_error", "information_ratio")
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE benchmarks")
        con.execute("ALTER TABLE runs DROP COLUMN risk_free_rate")
        for table in ("metrics", "grid_results"):
            for column in added:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    later = StrategyOrchestrator([(BuyAndHold(), Decimal("1"))],
                                 OrchestratorConfig(warehouse=str(path), log_dir=None, benchmark="ALFA",
                                                    risk_free_rate=0.01)).run(bars)
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT r.run_id = ?, r.risk_free_rate, m.alpha IS NOT NULL, m.beta IS NOT NULL "
                           "FROM runs r JOIN metrics m USING (run_id) ORDER BY ALL", [later.run_id]).fetchall()
        grid_columns = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() "
                                                  "WHERE table_name = 'grid_results'").fetchall()}
    assert rows == [(False, None, False, False)] * 2 + [(True, 0.01, True, True)] * 2
    assert set(added) <= grid_columns


def test_reading_a_warehouse_of_an_earlier_version_upgrades_it_first(tmp_path):
    """`sqlorch report` (a read-only open) of a warehouse last written by an earlier version
    finds this version's tables: the schema is brought up to date first, as a write would."""
    from decimal import Decimal

    import duckdb
    from click.testing import CliRunner

    from sqlorch import OrchestratorConfig, StrategyOrchestrator
    from sqlorch.bars.synthetic import synthetic_bars
    from sqlorch.cli import cli
    from sqlorch.strategies import BuyAndHold

    path = tmp_path / "old.duckdb"
    StrategyOrchestrator([(BuyAndHold(), Decimal("1"))],
                         OrchestratorConfig(warehouse=str(path), log_dir=None)).run(synthetic_bars(2, 1))
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE benchmarks")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    result = CliRunner().invoke(cli, ["report", "--warehouse", str(path), "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    with Warehouse(path).connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM benchmarks").fetchall() == [(0,)]
