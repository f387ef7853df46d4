"""The audit trail of a run: JSONL lines on disk and the same records in the warehouse's
`events` view.

Each event is one compact JSON object: `{"event":"<prefix>.<name>","ts":...,"run_id":...,...}`
where `prefix` is `orchestrator` or `backtest` (SPEC §4), text as UTF-8. Signal and conflict
events, by far the most frequent, are not stored as lines: the view builds them from the
signals and conflicts tables, character for character as `EventLog.signals` and
`EventLog.conflict` write them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlorch.errors import SqlorchError


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")


def encode(record: dict[str, Any]) -> str:
    """One compact JSON line (no spaces after ':' or ','), text as UTF-8."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=_json_default)


_EPOCH, _MICROSECOND = dt.datetime(1970, 1, 1), dt.timedelta(microseconds=1)
_BACKSLASHES_U00 = re.compile(r"(\\+)u00([0-9a-f]{2})")


def quote(text: str) -> str:
    """`text` as a JSON string exactly as DuckDB's to_json writes it: UTF-8, control characters
    as \\u00XX with upper-case hex digits."""
    quoted = json.dumps(text, ensure_ascii=False)
    if "u00" not in quoted:
        return quoted

    def upper(found: re.Match) -> str:  # an odd run of backslashes escapes the u; an even one is text
        slashes = found.group(1)
        return f"{slashes}u00{found.group(2).upper() if len(slashes) % 2 else found.group(2)}"

    return _BACKSLASHES_U00.sub(upper, quoted)


class EventLog:
    """Collects a run's events, numbered by `seq` from 0; appends those of Python to `path` (if
    given) as they happen. The engine numbers its own (signals, conflicts, capital limits) in
    the same sequence; once the run is written, `rewrite` puts every event in the file in order.

    `rows` holds (seq, wall time in microseconds since the epoch, event, strategy_id,
    bar_index, json line) of every event but the signal and conflict events (table
    logged_events), which the events view builds from their tables. Call `close()` when the
    run ends.
    """

    def __init__(self, run_id: str, prefix: str, path: Path | None = None):
        self.run_id = run_id
        self.prefix = prefix
        self.path = path
        self.seq = 0  # the next event's
        self.rows: list[tuple] = []
        self._file: IO[str] | None = None
        self._clock = (-1.0, 0, "")
        self._quoted: dict[str, str] = {}
        self._run_id = quote(run_id)
        self._held: list[str] = []  # lines written to the file only once `release_held` is called
        self._made: list[Path] = []  # the directories made for the file, innermost first
        if path is not None:
            self._made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a+", encoding="utf-8")
            except OSError as exc:
                raise SqlorchError(f"cannot write the audit log {path}: {exc.strerror or exc}; pass --log-dir "
                                   "(log_dir) a directory you can write to") from None

    def now(self) -> tuple[int, str]:
        """Wall-clock time (UTC) in microseconds since the epoch, and its ISO text to the
        millisecond; re-read at most once a millisecond."""
        tick = time.monotonic()
        if tick - self._clock[0] > 0.001:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            self._clock = (tick, (now - _EPOCH) // _MICROSECOND, now.isoformat(timespec="milliseconds"))
        return self._clock[1], self._clock[2]

    def _record(self, event: str, now: int, strategy_id: str | None, bar_index: int | None,
                line: str, flush: bool = False, hold: bool = False) -> None:
        self.rows.append((self.seq, now, event, strategy_id, bar_index, line))
        self.seq += 1
        if hold:
            self._held.append(line)
        elif self._file is not None:
            self._file.write(line + "\n")
            if flush:
                self._file.flush()

    def emit(self, name: str, *, bar_index: int | None = None, flush: bool = False, hold: bool = False,
             **fields: Any) -> None:
        """Record event `<prefix>.<name>` with `fields`; `bar_index` ties it to a bar. With
        `hold`, its line reaches the file only at `release_held` (e.g. a completion that must
        not be claimed before the run is written)."""
        now, stamp = self.now()
        event = f"{self.prefix}.{name}"
        line = encode({"event": event, "ts": stamp, "run_id": self.run_id, **fields})
        self._record(event, now, fields.get("strategy_id"), bar_index, line, flush, hold)

    def release_held(self) -> None:
        """Write the held lines to the file (flushed)."""
        if self._file is not None and self._held:
            self._file.write("".join(line + "\n" for line in self._held))
            self._file.flush()
        self._held.clear()

    def discard_held(self) -> None:
        """Forget the held lines: what they claimed did not happen."""
        self._held.clear()

    def add(self, name: str, seq: int, now: int, stamp: str, *, bar_index: int | None = None, **fields: Any) -> None:
        """Record event `<prefix>.<name>` the engine numbered `seq` and stamped `now` (`stamp`
        its text): a row for the warehouse, no line in the file (see `rewrite`)."""
        event = f"{self.prefix}.{name}"
        line = encode({"event": event, "ts": stamp, "run_id": self.run_id, **fields})
        self.rows.append((seq, now, event, fields.get("strategy_id"), bar_index, line))

    def rewrite(self, lines: list[str]) -> None:
        """Replace the file's lines with `lines` (every event of the run, in order, once the
        warehouse holds them all)."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.write("".join(line + "\n" for line in lines))
            self._file.flush()
            self._held.clear()

    def close(self) -> None:
        """Flush and close the JSONL file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        """Close and remove the file, and the directories made for it: nothing was logged."""
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            for directory in self._made:
                try:
                    directory.rmdir()
                except OSError:  # not empty (another run's log), or gone
                    break
