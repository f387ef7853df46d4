"""A worker process of the local executor (`sqlorch.grid.executors.LocalExecutor`), and the messages
it exchanges with its parent.

The parent starts each worker as a fresh interpreter (`WORKER_COMMAND`, nothing of the user's
script runs here: no `__main__` re-import), and talks to it over the worker's stdin and stdout
pipes in frames: a header (kind, index, payload length) then the payload, a cloudpickle. The
worker takes the pipes for itself before any user code runs: its stdin then reads from the null
device and its stdout writes to its stderr, which it shares with the parent, so user prints and
tracebacks show and cannot corrupt a frame. It ignores Ctrl-C (the parent stops it), and exits
when its stdin closes: when the parent closes the pool, or dies (then at once, even in the
middle of a task).

Frames to the worker: SETUP (sys.path as JSON; then the task and the shared data), RUN (an item,
its index), FORGET (drop the task and the shared data). From the worker: READY once started,
then for each RUN one DONE (the result), FAILED (the exception and its traceback) or UNLOADABLE
(the traceback) if the task or the item cannot be unpickled here; their kind is marked STALE
once the worker has imported modules of the user's own (see `OwnCode`).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import struct
import sys
import threading
import traceback
from importlib import import_module
from typing import Any, BinaryIO

SETUP, RUN, FORGET = 1, 2, 3  # parent -> worker
READY, DONE, FAILED, UNLOADABLE = 11, 12, 13, 14  # worker -> parent
STALE = 0x80  # added to a reply's kind: this worker has imported code of the user's own
_HEADER = struct.Struct("!BqQ")  # kind, index, payload length

WORKER_COMMAND = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
                  "from sqlorch.grid.worker import main; main(sys.argv[2:])")
"""What a worker runs (`python -c WORKER_COMMAND PATH MODULE...`): the parent's sys.path first, so
that sqlorch and the user's modules import as they do in the parent, then `main`."""

Frame = tuple[int, int, bytes]


def send(stream: BinaryIO, kind: int, index: int = 0, payload: bytes = b"") -> None:
    """Write one frame and flush it."""
    stream.write(_HEADER.pack(kind, index, len(payload)))
    stream.write(payload)
    stream.flush()


def receive(stream: BinaryIO) -> Frame | None:
    """The next frame, or None at the end of the stream (also in the middle of a frame: the other
    side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    kind, index, size = _HEADER.unpack(header)
    payload = stream.read(size) if size else b""
    if len(payload) < size:
        return None
    return kind, index, payload


def main(preload: list[str]) -> None:
    """Run tasks for the parent until it closes this worker's stdin: import `preload` (while the
    parent gets the work ready), say READY, then answer each frame."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox, outbox = _take_pipes()
    for name in preload:
        import_module(name)
    import_module("cloudpickle")
    own = OwnCode()
    send(outbox, READY, os.getpid())
    frames: queue.SimpleQueue[Frame | None] = queue.SimpleQueue()
    running = threading.Event()
    threading.Thread(target=_listen, args=(inbox, frames, running), daemon=True).start()
    task: Any = None
    shared: Any = None
    unloadable = b""  # why the task could not be loaded, if it could not
    while (frame := frames.get()) is not None:
        kind, index, payload = frame
        if kind == SETUP:
            task = shared = None
            try:
                task, shared = _setup(payload)
                unloadable = b""
            except BaseException:
                unloadable = traceback.format_exc().encode()
        elif kind == RUN:
            running.set()
            reply, answer = (UNLOADABLE, unloadable) if unloadable else _answer(task, shared, payload)
            running.clear()
            try:
                send(outbox, reply | (STALE if own.imported() else 0), index, answer)
            except OSError:  # the parent is gone
                return
        elif kind == FORGET:
            _release(shared)
            task = shared = None


def _listen(inbox: BinaryIO, frames: queue.SimpleQueue, running: threading.Event) -> None:
    """Frames from the parent into `frames`, then None when they end: the parent closed this
    worker's stdin, or died. A task still running then is abandoned: the process exits at once."""
    while (frame := receive(inbox)) is not None:
        frames.put(frame)
    frames.put(None)
    if running.is_set():
        os._exit(1)


def _take_pipes() -> tuple[BinaryIO, BinaryIO]:
    """This process's stdin and stdout, moved to file descriptors of their own for the frames;
    descriptor 0 then reads the null device and 1 writes where 2 (stderr) does."""
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # shown as printed
    return inbox, outbox


def _setup(payload: bytes) -> tuple[Any, Any]:
    """The task and the shared data of a SETUP frame (the parent's sys.path, a line of JSON, then
    their pickle), after installing the shared data (its `install()`, if any)."""
    import cloudpickle

    path, _, rest = payload.partition(b"\n")
    sys.path[:] = json.loads(path)
    task, shared = cloudpickle.loads(rest)
    install = getattr(shared, "install", None)
    if callable(install):
        install()  # e.g. make the strategies' modules importable here
    return task, shared


def _answer(task: Any, shared: Any, payload: bytes) -> tuple[int, bytes]:
    """Run the task on the item of a RUN frame: the kind and payload of the reply, DONE (the
    result), FAILED (see `_failure`) or UNLOADABLE (the traceback)."""
    import cloudpickle

    try:
        item = cloudpickle.loads(payload)
    except BaseException:
        return UNLOADABLE, traceback.format_exc().encode()
    try:
        return DONE, cloudpickle.dumps(task(shared, item))
    except BaseException as exc:  # the parent re-raises it, as concurrent.futures does
        return FAILED, _failure(exc)
    finally:
        sys.stdout.flush()


def _failure(exc: BaseException) -> bytes:
    """A FAILED payload: the exception and its formatted traceback (the exception as None when
    it cannot be pickled)."""
    import cloudpickle

    text = "".join(traceback.format_exception(exc))
    try:
        return cloudpickle.dumps((exc, text))
    except BaseException:
        return cloudpickle.dumps((None, text))


def _release(shared: Any) -> None:
    """Let the shared data free what it keeps in this process (its `release()`, if any)."""
    release = getattr(shared, "release", None)
    if callable(release):
        release()


class OwnCode:
    """Whether this process has imported modules of the user's own since it was made: modules
    with a file outside the standard library, the installed packages and sqlorch. A worker that
    has is not reused, so that a search after the user edited such a module runs the new code."""

    def __init__(self) -> None:
        self._seen = set(sys.modules)
        self._found = False
        self._roots = tuple(_installed_roots())

    def imported(self) -> bool:
        """Whether modules of the user's own were imported (so far)."""
        if not self._found:
            names = sys.modules.keys() - self._seen
            self._seen |= names
            self._found = any(self._own(sys.modules.get(name)) for name in names)
        return self._found

    def _own(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        return isinstance(file, str) and not os.path.realpath(file).startswith(self._roots)


def _installed_roots() -> list[str]:
    """The directories of the standard library, the installed packages and sqlorch, each ending
    with a separator."""
    import site
    import sysconfig

    import sqlorch

    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages()) | {site.getusersitepackages(), os.path.dirname(sqlorch.__file__)}
    return [os.path.join(os.path.realpath(path), "") for path in paths if path]
