"""The DuckDB warehouse: connections (waiting for the write lock), schema, bulk writes.

The file is created with `storage_compatibility_version` so that the DuckDB CLI a user
installs alongside (`pip install -e ".[cli]"`) opens it. Writers hold the file only
briefly: once to register a run, once to write its results in one transaction. A run
whose process dies stays `running` on disk and is shown (and, at the next write, marked)
as `incomplete`. Queries from outside (`sqlorch sql`) run in `Warehouse.sandbox()`: read-only,
with DuckDB's external access off and its configuration locked. A file that is damaged, in
the way, or open in this process under another configuration is a SqlorchError saying what
to do.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from sqlorch.errors import SqlorchError, WarehouseLockedError
from sqlorch.resources import sql_files, sql_text

DUCKDB_CONFIG = {"storage_compatibility_version": "v1.5.0"}
SANDBOX_CONFIG = {
    "enable_external_access": False,  # no file but the warehouse: COPY, EXPORT, ATTACH, INSTALL, read_csv, glob ...
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,  # no Python objects of the caller's frame as tables
    "temp_directory": "",  # nothing spilled to disk
    "lock_configuration": True,  # no SET or RESET undoes the above (applied last)
}
"""The configuration of a connection that runs queries from outside (`sqlorch sql`): it reads
the warehouse, opened read-only, and nothing else."""
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN,
                             duckdb.StatementType.MULTI})
"""The statements a query from outside may be: SELECT (with FROM, WITH, VALUES, SHOW, DESCRIBE,
SUMMARIZE) and EXPLAIN; MULTI is how DuckDB parses a PIVOT whose columns come from the data."""
TABLES = ("datasets", "bars", "runs", "run_strategies", "signals", "decisions", "fills", "logged_events",
          "conflicts", "conflict_orders", "transfers", "rebalances", "allocation_targets", "grid_runs", "grid_results",
          "benchmarks", "grid_pbo_splits", "walkforward_runs", "walkforward_folds", "combination_curves")
BOOKS = ("trades", "equity", "portfolio_books", "metrics")  # derived per run, in this order, by sql/load
JOINS_AS_WRITTEN = {"equity"}
"""Books whose hash joins build on their right side as written. DuckDB estimates the open
positions unnested bar by bar (3.75 M rows on L) far below the marks they are joined to and
would build its hash table on them: 0.2 s slower and 300 MB more memory."""
SCHEMA_GROUPS = ("tables", "migrations", "macros", "views")  # created in this order
FORMER_VIEWS = ("trades",)  # tables now, views in earlier versions: dropped before the tables are made
RENAMED_TABLES = {"events": "logged_events"}  # earlier name -> name now (`events` is a view now)
_LOCK_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")
_DAMAGE = re.compile(r"corrupt database file|checksum|not a valid duckdb database|could not read enough bytes"
                     r"|database has been invalidated", re.IGNORECASE)
_AGAIN = "restore it from a backup, or pass another --warehouse (a new file starts empty)"


def quote_identifier(name: str) -> str:
    """`name` as a DuckDB identifier in double quotes (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def naming(statement: str, **objects: str) -> str:
    """The text of `sql/statements/<statement>.sql` with the objects it names filled in as
    quoted identifiers (SQL binds values as parameters, never the tables or settings a
    statement names)."""
    return sql_text("statements", statement).format(**{k: quote_identifier(v) for k, v in objects.items()})


def schema_fingerprint() -> str:
    """A hash of every shipped SQL file: the schema version this package expects."""
    digest = hashlib.sha256()
    for group in SCHEMA_GROUPS:
        for path in sql_files(group):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Warehouse:
    """A DuckDB warehouse file, or an in-memory one when `path` is None.

    `on_wait(message)` is called once when another process holds the file and this one
    starts waiting; after `lock_timeout` seconds a `WarehouseLockedError` is raised.
    """

    def __init__(self, path: str | Path | None, lock_timeout: float = 60.0,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path) if path is not None else None
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._holding = False  # inside `held()`
        self._held: duckdb.DuckDBPyConnection | None = None

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path) if self.path else ':memory:'})"

    # -- connections ----------------------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Within this block every `connect` and `transaction` reuses one read-write connection,
        opened on first use and closed (releasing the file) at the end: a few steps in a row
        pay for one open. Other processes wait for the file meanwhile."""
        if self._holding or self.path is None:
            yield
            return
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            self.release()

    def release(self) -> None:
        """Close the connection `held()` keeps, if open (the next use inside `held()` opens
        another): other processes may use the file meanwhile."""
        if self._held is not None:
            self._held.close()
            self._held = None

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the current schema; closed on exit (kept if in memory, or inside
        `held()`). DuckDB errors that show the file damaged, raised in the block, become a
        SqlorchError saying so."""
        if self.path is None:
            if self._memory is None:
                self._memory = duckdb.connect(":memory:")
                install_schema(self._memory)
            yield self._memory
            return
        if self._holding:
            if self._held is None:
                self._held = self._writable()
            with self._damage_explained():
                yield self._held
            return
        if read_only:
            self._require_file()
        con = self._upgraded_for_reading() if read_only else self._writable()
        try:
            with self._damage_explained():
                yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def sandbox(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for queries from outside: the file opened read-only with `SANDBOX_CONFIG`,
        so that no statement reads or writes any other file, attaches, installs or loads
        anything, or changes that configuration. Closed on exit."""
        if self.path is None:
            raise ValueError("a sandbox needs a warehouse file")
        self._require_file()
        con = self._open(read_only=True, config=SANDBOX_CONFIG)
        try:
            with self._damage_explained():
                yield con
        finally:
            con.close()

    def sandboxed_query(self, sql: str) -> pl.DataFrame:
        """Run one read query from outside (`sqlorch sql`) in `sandbox()` and return its result.
        SqlorchError if `sql` is not exactly one statement of `READ_STATEMENTS`, or if it fails
        (saying so when it tried to reach beyond the warehouse)."""
        with self.sandbox() as con:
            statement = read_statement(con, sql)
            try:
                return con.sql(statement).pl()
            except duckdb.PermissionException as exc:
                raise SqlorchError(f"the query failed: {_first_line(exc)}; sqlorch sql reads the warehouse and "
                                   "nothing else (no files, no other databases, no extensions)") from None
            except duckdb.Error as exc:
                if _damaged(exc):
                    raise
                raise SqlorchError(f"the query failed: {exc}") from None

    def _upgraded_for_reading(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to a file whose schema is current: a sqlorch warehouse of an
        earlier version (its fingerprint differs) is first upgraded through a writable
        connection, as any write would (new tables, migrations, views), so that reading it
        (`sqlorch report`, results) finds what this version's queries name. A file that cannot
        be written is read as it is."""
        con = self._open(read_only=True)
        try:
            found = con.execute(sql_text("queries", "schema_fingerprint")).fetchall()
        except duckdb.Error:  # not a sqlorch warehouse (yet): nothing to upgrade
            return con
        if not found or found == [(schema_fingerprint(),)]:
            return con
        con.close()
        try:
            self._writable().close()
        except SqlorchError:
            pass
        return self._open(read_only=True)

    def _require_file(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            raise SqlorchError(f"no warehouse at {self.path}; run `sqlorch run` first or pass --warehouse")

    @contextlib.contextmanager
    def _damage_explained(self) -> Iterator[None]:
        """Within the block, a DuckDB error that shows the file truncated or corrupt becomes a
        SqlorchError saying what to do."""
        try:
            yield
        except duckdb.Error as exc:
            if not _damaged(exc):
                raise
            raise SqlorchError(f"the warehouse {self.path} is damaged (truncated or corrupt): {_first_line(exc)}; "
                               f"{_AGAIN}") from exc

    def _writable(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection with the current schema, dead runs marked; SqlorchError,
        before anything is written, if the file is shorter than its blocks."""
        con = self._open(read_only=False)
        try:
            self._check_length(con)
            with self._damage_explained():
                install_schema(con)
                mark_dead_runs(con)
        except BaseException:
            con.close()
            raise
        return con

    def _check_length(self, con: duckdb.DuckDBPyConnection) -> None:
        """SqlorchError if the file holds fewer bytes than the blocks in use need (a truncated
        copy): DuckDB itself notices only when it reads a missing block. (Free blocks may lie
        past the end of the file.) Checked only when `con` is the database's one connection
        in this process: another one may be checkpointing, using blocks not yet written."""
        assert self.path is not None
        block_size, used, connections = con.execute(sql_text("queries", "database_size")).fetchone()
        size = self.path.stat().st_size
        if connections == 1 and size < block_size * used:
            raise SqlorchError(f"the warehouse {self.path} is truncated: {size} bytes, but the {used} blocks in use "
                               f"take {block_size * used}; {_AGAIN} (nothing was written to it)")

    def _open(self, read_only: bool, config: Mapping[str, Any] = DUCKDB_CONFIG) -> duckdb.DuckDBPyConnection:
        """A connection to the file with `config`, waiting while another process holds its lock;
        SqlorchError saying what to do if the file cannot be opened (or created)."""
        assert self.path is not None
        if self.path.is_dir():
            raise SqlorchError(f"the warehouse {self.path} is a directory; pass --warehouse a file such as "
                               f"{self.path / 'sqlorch.duckdb'}")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SqlorchError(f"cannot create the warehouse {self.path}: {exc.strerror or exc} "
                                   f"({exc.filename or self.path.parent}); pass --warehouse a path in a directory "
                                   "you can write") from None
        deadline = time.monotonic() + self.lock_timeout
        waited = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=dict(config))
            except duckdb.ConnectionException as exc:
                if "different configuration" not in str(exc):
                    raise
                raise SqlorchError(
                    f"the warehouse {self.path} is already open in this process with another configuration "
                    "(say, a notebook's duckdb.connect(path, read_only=True)); DuckDB allows one configuration per "
                    "file in a process: close that connection first (con.close()), then try again") from None
            except duckdb.Error as exc:
                if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
                    raise SqlorchError(f"cannot open the warehouse {self.path}: {_first_line(exc)}; "
                                       + (f"it is not a DuckDB database, or it is damaged; {_AGAIN}" if _damaged(exc)
                                          else "check the path and its permissions, or pass another --warehouse")
                                       ) from exc
                holder = _lock_holder(str(exc))
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"the warehouse {self.path} is still locked by {holder} after "
                        f"{self.lock_timeout:g} s; wait for that run to finish or raise "
                        "--lock-timeout") from None
                if not waited and self.on_wait:
                    self.on_wait(f"waiting for the warehouse {self.path}: it is locked by {holder}")
                waited = True
                time.sleep(0.05 + random.random() * 0.2)

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection inside one transaction: all of it lands, or none of it. (Closing
        the connection checkpoints the file: one checkpoint for all the transactions of a
        `held()` block.)"""
        with self.connect() as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str, params: list | Mapping | None = None) -> pl.DataFrame:
        """Run one read query and return its result as a polars DataFrame."""
        with self.connect(read_only=True) as con:
            return frame(con, sql, params)


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | Mapping | None = None) -> pl.DataFrame:
    """The result of one query as a polars DataFrame."""
    return con.sql(sql, params=params or None).pl()


def read_statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one statement of `sql`, parsed by DuckDB; SqlorchError unless there is exactly one and
    it reads (`READ_STATEMENTS`)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlorchError(f"the query failed: {exc}") from None
    if not statements:
        raise SqlorchError("the query has no statement, only comments or blanks (a -- comment runs to the end "
                           "of its line: start the SELECT on a new line)")
    if len(statements) > 1:
        raise SqlorchError(f"sqlorch sql runs one query at a time; this has {len(statements)} statements")
    statement = statements[0]
    if statement.type not in READ_STATEMENTS:
        raise SqlorchError(f"sqlorch sql runs one read-only query (SELECT, FROM, WITH, SHOW, DESCRIBE, SUMMARIZE, "
                           f"PIVOT or EXPLAIN), not {statement.type.name.replace('_', ' ')}")
    return statement


def _damaged(exc: BaseException) -> bool:
    """Whether a DuckDB error says the database file is truncated or corrupt."""
    return isinstance(exc, duckdb.SerializationException) or bool(_DAMAGE.search(str(exc)))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _lock_holder(message: str) -> str:
    found = _LOCK_HOLDER.search(message)
    return f"process {found.group(2)} ({Path(found.group(1)).name})" if found else "another process"


def install_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and (re)create macros and views, unless already current."""
    fingerprint = schema_fingerprint()
    con.execute(sql_text("tables", "01_sqlorch_meta"))
    current = con.execute(sql_text("queries", "schema_fingerprint")).fetchall()
    if current == [(fingerprint,)]:
        return
    if not con.execute(sql_text("queries", "existing_tables"), [list(TABLES)]).fetchall():
        con.execute(fresh_schema())  # a new database: the tables as they are now, in one statement list
    else:
        _rename_former_objects(con)
        for group in SCHEMA_GROUPS:
            for path in sql_files(group):
                con.execute(path.read_text(encoding="utf-8"))
        for (run_id,) in con.execute(sql_text("queries", "runs_without_books")).fetchall():
            materialize(con, run_id)
    con.execute(sql_text("queries", "delete_schema_fingerprint"))
    con.execute(sql_text("queries", "insert_schema_fingerprint"), [fingerprint])


@functools.cache
def fresh_schema() -> str:
    """The schema of a new database as one script: the tables (whose files hold every column
    the migrations add to older warehouses), the macros and the views."""
    return "\n".join(path.read_text(encoding="utf-8") for group in SCHEMA_GROUPS if group != "migrations"
                     for path in sql_files(group))


def _rename_former_objects(con: duckdb.DuckDBPyConnection) -> None:
    """Make room for the tables of this version: drop the views that became tables, rename the
    tables that changed names (their rows kept)."""
    for (view,) in con.execute(sql_text("queries", "existing_views"), [list(FORMER_VIEWS)]).fetchall():
        con.execute(naming("drop_view", view=view))
    for (table,) in con.execute(sql_text("queries", "existing_tables"), [list(RENAMED_TABLES)]).fetchall():
        con.execute(naming("rename_table", table=table, new_name=RENAMED_TABLES[table]))


def materialize(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Compute a written run's trades and books (tables trades, equity and portfolio_books) and
    metrics (table metrics) from its fills, replacing any earlier rows of that run."""
    for table in BOOKS:
        delete_run_rows(con, table, run_id)
        as_written = table in JOINS_AS_WRITTEN
        with setting(con, "disabled_optimizers", "build_side_probe_side") if as_written else contextlib.nullcontext():
            con.execute(sql_text("load", table), {"run_id": run_id})


def delete_run_rows(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> None:
    """Delete run `run_id`'s rows of `table` (a table of this schema)."""
    con.execute(naming("delete_run_rows", table=table), [run_id])


_SETTING_LOCKS = collections.defaultdict(threading.Lock)


@contextlib.contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> Iterator[None]:
    """DuckDB setting `name` (a name from this code) set to `value` within the block, then to
    its earlier value: settings such as threads hold for every connection to the database.
    Blocks on the same setting in other threads wait, so each restores what it found."""
    with _SETTING_LOCKS[name]:
        before = con.execute(sql_text("queries", "current_setting"), [name]).fetchone()[0]
        con.execute(naming("set_setting", setting=name), [value])
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; the error matters more
                con.execute(naming("set_setting", setting=name), [before])
            raise
        con.execute(naming("set_setting", setting=name), [before])


def mark_dead_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Mark `running` runs of this machine whose process is gone as `incomplete`."""
    rows = con.execute(sql_text("queries", "running_runs_on_host"), [socket.gethostname()]).fetchall()
    for run_id, pid in rows:
        if pid is None or not process_alive(pid):
            con.execute(sql_text("queries", "mark_run_incomplete"),
                        [f"process {pid} ended before the run finished", run_id])


def insert(con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, Any]) -> None:
    """Append rows given as columns (name -> list or array) to `table`, in bulk via Arrow."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    data = pa.table({name: _arrow_array(values) for name, values in columns.items()})
    if data.num_rows == 0:
        return
    con.register("_sqlorch_incoming", data)
    try:
        con.execute(naming("insert_incoming", table=table))
    finally:
        con.unregister("_sqlorch_incoming")


def _arrow_array(values: Any) -> pa.Array:
    """An Arrow column; Decimals travel as plain-notation text, which DuckDB casts exactly into
    the DECIMAL column (ten times faster than Arrow's own Decimal conversion). Columns are
    built by polars: `pa.array` on Python values imports pandas when it is installed (0.4 s)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if isinstance(values, np.ndarray):
        return pl.Series(values).to_arrow()
    if any(isinstance(v, Decimal) for v in values[:1]) or (
            values and values[0] is None and any(isinstance(v, Decimal) for v in values)):
        return pl.Series([None if v is None else format(v, "f") for v in values], dtype=pl.String).to_arrow()
    return plain_column(values)


def plain_column(values: list) -> pa.Array:
    """Python values other than Decimals (lists included) as an Arrow column, types inferred."""
    if values and isinstance(values[0], list) and all(isinstance(v, list) for v in values):
        return _list_array(values)
    return pl.Series(values, strict=False).to_arrow()


def _list_array(values: list[list]) -> pa.Array:
    """Lists as one flat column and its offsets (fifty times faster than inferring each list)."""
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    return list_column(offsets, list(itertools.chain.from_iterable(values)))


def list_column(offsets: np.ndarray, flat: list) -> pa.Array:
    """A column of lists: row k holds `flat[offsets[k]:offsets[k + 1]]`."""
    return pa.LargeListArray.from_arrays(pl.Series(np.asarray(offsets, dtype=np.int64)).to_arrow(),
                                         pl.Series(flat, strict=False).to_arrow())  # (pa.array imports pandas)


def decimal_column(values: list[int | None] | np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """Integers counting units of 10^-scale (None, or False in `valid`, for NULL) as an Arrow
    DECIMAL(38, scale) column, built from their 128-bit two's complement without any Decimal
    object (an int64 array needs no Python object at all)."""
    n = len(values)
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        low, missing = values, (~valid if valid is not None and not valid.all() else None)
        high = low >> 63  # sign extension
    else:
        missing = np.array([v is None for v in values]) if None in values else None
        whole = [0 if v is None else v for v in values] if missing is not None else values
        try:
            low = np.array(whole, dtype=np.int64)
            high = low >> 63
        except OverflowError:  # beyond 64 bits: split each value
            low = np.fromiter((v & 0xFFFF_FFFF_FFFF_FFFF for v in whole), dtype=np.uint64, count=n).view(np.int64)
            high = np.fromiter((v >> 64 for v in whole), dtype=np.int64, count=n)
    data = np.empty((n, 2), dtype=np.int64)
    data[:, 0], data[:, 1] = low, high
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing is not None else None
    return pa.Array.from_buffers(pa.decimal128(38, scale), n, [validity, pa.py_buffer(data)])


def coded_column(indexes: list[int] | np.ndarray, names: Sequence[str]) -> pa.Array:
    """Names given by their indexes into `names`, as a dictionary-encoded Arrow column (DuckDB
    stores it as text): no string per row."""
    return pa.DictionaryArray.from_arrays(pl.Series(np.asarray(indexes, dtype=np.int32)).to_arrow(),
                                          pl.Series(list(names), dtype=pl.String).to_arrow())


def instant_column(micros: list[int]) -> pa.Array:
    """Wall-clock times in microseconds since the epoch as an Arrow TIMESTAMP column."""
    return pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us")).to_arrow()


def timestamp_column(bar_indexes: list[int | None] | np.ndarray, timestamps: np.ndarray,
                     valid: np.ndarray | None = None) -> pa.Array:
    """The clock's timestamps of some bar indexes (None, or False in `valid`, stays NULL)."""
    indexes = pl.Series(bar_indexes, dtype=pl.Int64)
    if valid is not None and not valid.all():
        indexes = indexes.set(pl.Series(~valid), None)  # type: ignore[arg-type]
    return pl.Series(timestamps.astype("datetime64[us]")).gather(indexes).to_arrow()


def register_dataset(con: duckdb.DuckDBPyConnection, bars: pl.DataFrame, dataset_id: str, source: str) -> bool:
    """Store `bars` (with their clock and marks) as dataset `dataset_id` unless already there.

    Returns whether the dataset was new.
    """
    if con.execute(sql_text("queries", "stored_dataset_id"), [dataset_id]).fetchall():
        return False
    params = {"dataset_id": dataset_id}
    con.register("_sqlorch_bars", bars.to_arrow())
    try:
        con.execute(sql_text("load", "bars"), params)
    finally:
        con.unregister("_sqlorch_bars")
    con.execute(sql_text("load", "clocks"), params)
    con.execute(sql_text("load", "marks"), params)
    con.execute(sql_text("load", "datasets"), {**params, "source": source})
    return True
