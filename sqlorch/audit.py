"""The audit trail of a run: JSONL lines on disk and the same records for the `events` table.

Each event is one compact JSON object: `{"event":"<prefix>.<name>","ts":...,"run_id":...,...}`
where `prefix` is `orchestrator` or `backtest` (SPEC §4).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")


def encode(record: dict[str, Any]) -> str:
    """One compact JSON line (no spaces after ':' or ',')."""
    return json.dumps(record, separators=(",", ":"), default=_json_default)


class EventLog:
    """Collects a run's events; appends each to `path` (if given) as it happens.

    `rows` holds (seq, wall time, event, strategy_id, bar_index, json line) for the
    warehouse. Call `close()` when the run ends.
    """

    def __init__(self, run_id: str, prefix: str, path: Path | None = None):
        self.run_id = run_id
        self.prefix = prefix
        self.path = path
        self.rows: list[tuple] = []
        self._file: IO[str] | None = None
        self._clock = (-1.0, dt.datetime.min, "")
        self._quoted: dict[str, str] = {}
        self._signal_head = f'{{"event":"{prefix}.strategy_signal","ts":"'
        self._signal_run = f'","run_id":{json.dumps(run_id)},"strategy_id":'
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def _now(self) -> tuple[dt.datetime, str]:
        """Wall-clock time (UTC), re-read at most once a millisecond."""
        tick = time.monotonic()
        if tick - self._clock[0] > 0.001:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            self._clock = (tick, now, now.isoformat(timespec="milliseconds"))
        return self._clock[1], self._clock[2]

    def _record(self, event: str, now: dt.datetime, strategy_id: str | None, bar_index: int | None,
                line: str, flush: bool = False) -> None:
        self.rows.append((len(self.rows), now, event, strategy_id, bar_index, line))
        if self._file is not None:
            self._file.write(line + "\n")
            if flush:
                self._file.flush()

    def emit(self, name: str, *, bar_index: int | None = None, flush: bool = False, **fields: Any) -> None:
        """Record event `<prefix>.<name>` with `fields`; `bar_index` ties it to a bar."""
        now, stamp = self._now()
        event = f"{self.prefix}.{name}"
        line = encode({"event": event, "ts": stamp, "run_id": self.run_id, **fields})
        self._record(event, now, fields.get("strategy_id"), bar_index, line, flush)

    def signals(self, bar_index: int, strategy_id: str, bar_date: str, capital_available: float,
                signals: list[tuple[str, str]]) -> None:
        """Record `<prefix>.strategy_signal` for each (signal_type, symbol) of one strategy at
        one bar: the lines `emit` would write, built faster (by far the most frequent event)."""
        now, stamp = self._now()
        quoted = self._quoted
        sid = quoted.get(strategy_id) or quoted.setdefault(strategy_id, json.dumps(strategy_id))
        head = f'{self._signal_head}{stamp}{self._signal_run}{sid},"signal_type":"'
        tail = f',"bar_date":"{bar_date}","capital_available":{capital_available!r}}}'
        event, rows, file = f"{self.prefix}.strategy_signal", self.rows, self._file
        for signal_type, symbol in signals:
            sym = quoted.get(symbol) or quoted.setdefault(symbol, json.dumps(symbol))
            line = f'{head}{signal_type}","symbol":{sym}{tail}'
            rows.append((len(rows), now, event, strategy_id, bar_index, line))
            if file is not None:
                file.write(line + "\n")

    def count(self, name: str) -> int:
        """How many `<prefix>.<name>` events were recorded."""
        event = f"{self.prefix}.{name}"
        return sum(1 for row in self.rows if row[2] == event)

    def close(self) -> None:
        """Flush and close the JSONL file."""
        if self._file is not None:
            self._file.close()
            self._file = None
