"""A progress bar on stderr that appears only once a task has run longer than `delay`."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import IO


class ProgressBar:
    """Call with (done, total) as work advances, then `close()`.

    Nothing is drawn during the first `delay` seconds, so quick runs stay quiet; after that
    the bar is redrawn in place at most every `interval` seconds.
    """

    def __init__(self, label: str, stream: IO[str] | None = None, delay: float = 1.0,
                 interval: float = 0.1, width: int = 30):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay, self.interval, self.width = delay, interval, width
        self.started = time.monotonic()
        self.shown = False
        self._last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < self.delay or (now - self._last_draw < self.interval and done < total):
            return
        self._last_draw = now
        self.shown = True
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {share:6.1%} {done}/{total} {now - self.started:5.1f}s")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator[ProgressBar | None]:
    """A `ProgressBar` for the work of a `with` block (None with `quiet`), closed however the
    block ends."""
    bar = None if quiet else ProgressBar(label)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()
