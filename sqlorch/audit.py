"""The audit trail of a run: JSONL lines on disk and the same records for the `events` table.

Each event is one compact JSON object: `{"event":"<prefix>.<name>","ts":...,"run_id":...,...}`
where `prefix` is `orchestrator` or `backtest` (SPEC §4).
"""

from __future__ import annotations

import datetime as dt
import json
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
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def emit(self, name: str, *, bar_index: int | None = None, flush: bool = False, **fields: Any) -> None:
        """Record event `<prefix>.<name>` with `fields`; `bar_index` ties it to a bar."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        event = f"{self.prefix}.{name}"
        line = encode({"event": event, "ts": now.isoformat(timespec="milliseconds"),
                       "run_id": self.run_id, **fields})
        self.rows.append((len(self.rows), now, event, fields.get("strategy_id"), bar_index, line))
        if self._file is not None:
            self._file.write(line + "\n")
            if flush:
                self._file.flush()

    def count(self, name: str) -> int:
        """How many `<prefix>.<name>` events were recorded."""
        event = f"{self.prefix}.{name}"
        return sum(1 for row in self.rows if row[2] == event)

    def close(self) -> None:
        """Flush and close the JSONL file."""
        if self._file is not None:
            self._file.close()
            self._file = None
