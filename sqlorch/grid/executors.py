"""Where a grid's batches run: local worker processes, or tasks on a Ray cluster.

An executor starts `task(shared, item)` for every item at once and returns `Results`, which
yield `(index, result)` as each one finishes (so the caller can do other work while the workers
start). `shared` (the grid's bars and settings) travels to each worker once: in the SETUP frame
of each local worker (`sqlorch.grid.worker`), through Ray's object store (`ray.put` once, the
reference passed to every task) on a cluster. The grid search only sees this interface, so it
does not know which one runs it.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from sqlorch.errors import SqlorchError
from sqlorch.grid.worker import DONE, FAILED, FORGET, READY, RUN, SETUP, STALE, WORKER_COMMAND, Frame, receive, send

Task = Callable[[Any, Any], Any]
EXECUTORS = ("local", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs tasks of a grid search somewhere: `slots()` says how many run at once."""

    name: str

    def slots(self) -> int: ...

    def map(self, task: Task, shared: Any, items: Sequence[Any]) -> Results: ...

    def close(self) -> None: ...


class Results:
    """What an executor is running: iterate for (index, result) as each task finishes; `close()`
    (also on leaving a `with` block) stops what has not run and releases the workers."""

    def __init__(self, finished: Iterator[tuple[int, Any]], stop: Callable[[], None] = lambda: None):
        self._finished = finished
        self._stop: Callable[[], None] | None = stop

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        try:
            yield from self._finished
        finally:
            self.close()

    def close(self) -> None:
        """Stop the tasks still pending and release the workers (once)."""
        stop, self._stop = self._stop, None
        if stop is None:
            return
        try:
            self._finished.close()  # type: ignore[attr-defined]
        finally:
            stop()

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalExecutor:
    """Worker processes on this machine (`workers` of them, default: every core); with one
    worker, or one item, the tasks run in this process.

    Workers are fresh Python processes running `sqlorch.grid.worker` (nothing of the calling script
    runs in them, so scripts need no `if __name__ == "__main__":`); the task, the shared data and
    the items travel as cloudpickles, so classes defined in a script, `python -c`, a notebook or
    a function travel by value, and those of modules by name (workers get this process's
    sys.path). Started workers wait for the next `map` in this process, and exit with it; those
    that imported modules of the user's own end instead (the next map gets their current code)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()

    def slots(self) -> int:
        """How many tasks run at once."""
        return self.workers

    def in_process(self, count: int) -> bool:
        """Whether `count` items run in this process (one worker, or one item) rather than in
        worker processes."""
        return self.workers == 1 or count <= 1

    def map(self, task: Task, shared: Any, items: Sequence[Any]) -> Results:
        """Start task(shared, item) for every item; the results as each finishes. An exception
        a task raises is raised here (the worker's traceback as its cause); a worker that dies
        is a SqlorchError. Raises SqlorchError if the task, the shared data or an item cannot be
        pickled."""
        if self.in_process(len(items)):
            return Results((index, task(shared, item)) for index, item in enumerate(items))
        setup, blobs = _pickled(task, shared, items)
        run = _Run(_POOL.take(min(self.workers, len(items))), setup, blobs)
        return Results(run.finished(), run.stop)

    def close(self) -> None:
        """Nothing to release: the workers of each `map` are released by its `Results` (to wait
        for the next one; `close_workers()` ends them)."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PRELOAD = ("sqlorch.grid.batch",)
"""What each worker imports as it starts, while the parent gets the work ready."""
_LIVENESS = 1.0  # seconds between checks that busy workers are alive, while waiting for a result


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (the cause of the re-raised one)."""

    def __str__(self) -> str:
        return "\n\n" + str(self.args[0])


def _pickled(task: Task, shared: Any, items: Sequence[Any]) -> tuple[bytes, list[bytes]]:
    """The SETUP payload (this process's sys.path, then the task and the shared data) and each
    item's pickle, made once for every worker."""
    import cloudpickle

    what = "the task and its shared data"
    try:
        setup = json.dumps(_worker_path()).encode() + b"\n" + cloudpickle.dumps((task, shared))
        blobs = []
        for number, item in enumerate(items, start=1):
            what = f"item #{number}"
            blobs.append(cloudpickle.dumps(item))
    except Exception as exc:
        raise SqlorchError(f"cannot send {what} to worker processes ({type(exc).__name__}: {exc}): "
                           "it holds something that cannot be pickled; define what it uses in a module, "
                           "or pass workers=1 to run in this process") from None
    return setup, blobs


def _worker_path() -> list[str]:
    """This process's sys.path with relative entries ('' is the current directory) made absolute."""
    return [os.path.abspath(entry) for entry in map(os.fspath, filter(_is_path, sys.path))]


def _is_path(entry: object) -> bool:
    return isinstance(entry, (str, os.PathLike))


class _Worker:
    """One worker process, and the thread that reads its frames into the `sink` of the map
    using it: (worker, frame), then (worker, None) when the worker is gone."""

    def __init__(self) -> None:
        if not sys.executable or getattr(sys, "frozen", False):
            raise SqlorchError("this Python cannot start worker processes (no interpreter to run: "
                               f"sys.executable is {sys.executable!r}); pass workers=1 to run in this process")
        self.process = subprocess.Popen([sys.executable, "-c", WORKER_COMMAND, json.dumps(_worker_path()), *PRELOAD],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.ready = False  # said READY: it started
        self.gone = False  # its frames ended: it exited, or was killed
        self.stale = False  # it imported code of the user's own (which may change): not to be reused
        self._sink: queue.Queue | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name=f"sqlorch-worker-{self.process.pid}", daemon=True).start()

    def attach(self, sink: queue.Queue) -> bool:
        """Send this worker's frames to `sink` from now on; False if it is already gone."""
        with self._lock:
            self._sink = sink
            return not self.gone

    def send(self, kind: int, index: int = 0, payload: bytes = b"") -> None:
        """Send a frame; SqlorchError if the worker is gone."""
        try:
            send(self.process.stdin, kind, index, payload)  # type: ignore[arg-type]
        except OSError:  # BrokenPipeError, or its stdin closed
            raise self.died() from None

    def died(self) -> SqlorchError:
        """The error for this worker having died, with how (once it has exited)."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            how = "its pipe closed"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            how = f"killed by {name}" + (", out of memory?" if name == "SIGKILL" else "")
        else:
            how = f"exit code {code}"
        if not self.ready:
            return SqlorchError(f"a grid worker process died while starting ({how}; its error is on stderr): check "
                                f"that `{sys.executable} -c \"import sqlorch.grid.batch\"` works, or pass workers=1 to run "
                                "in this process")
        return SqlorchError(f"a grid worker process died ({how}); try fewer --workers or a smaller grid")

    def end(self) -> None:
        """Kill the process (it may be running a task) and reap it."""
        self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self, timeout: float = 5) -> None:
        """Let the process exit (its stdin closes), killing it if it does not within `timeout`
        seconds."""
        self._close_pipes()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.end()

    def retire(self) -> None:
        """Let the process exit (its stdin closes) without waiting: its reading thread reaps it."""
        self._close_pipes()

    def _close_pipes(self) -> None:
        try:
            self.process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass

    def _read(self) -> None:
        """The reading thread: frames to the sink until the process's stdout ends."""
        stream = self.process.stdout
        while (frame := receive(stream)) is not None:  # type: ignore[arg-type]
            if frame[0] == READY:
                self.ready = True
            elif self._sink is not None:
                self._sink.put((self, frame))
        with self._lock:
            self.gone = True
            sink = self._sink
        if sink is not None:
            sink.put((self, None))
        stream.close()  # type: ignore[union-attr]
        self.process.wait()  # its stdout ended: it is exiting, or was killed


class _Pool:
    """This process's worker processes waiting for work: `take` them (starting those missing),
    `give_back` those a map has finished with; `close` ends them (also at exit)."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, count: int) -> list[_Worker]:
        """`count` workers: waiting ones first, then new ones (started now, importing while the
        caller goes on)."""
        with self._lock:
            if self._pid != os.getpid():  # a forked copy of this process: those are its parent's
                self._idle, self._pid = [], os.getpid()
            alive = [w for w in self._idle if not w.gone and w.process.poll() is None]
            taken, self._idle = alive[:count], alive[count:]
        try:
            while len(taken) < count:
                taken.append(_Worker())
        except BaseException:
            for worker in taken:
                worker.close()
            raise
        return taken

    def give_back(self, worker: _Worker) -> None:
        """A worker that is not running a task waits for the next map (after dropping the shared
        data of the last one)."""
        try:
            worker.send(FORGET)
        except SqlorchError:
            worker.close()
            return
        with self._lock:
            self._idle.append(worker)

    def close(self, wait: bool = True) -> None:
        """End the waiting workers: close their stdin, and (if `wait`) wait for them to exit."""
        with self._lock:
            idle, self._idle = self._idle, []
            mine = self._pid == os.getpid()
        if not mine:
            return
        for worker in idle:
            worker.retire()
        if wait:
            for worker in idle:
                worker.close()


_POOL = _Pool()
atexit.register(_POOL.close, wait=False)  # they exit on their own, while this process exits


def close_workers() -> None:
    """End the worker processes waiting for work, and wait for them (they also end, by
    themselves, when this process exits)."""
    _POOL.close()


class _Run:
    """One `map` on worker processes: each worker gets the SETUP, then one item at a time."""

    def __init__(self, workers: list[_Worker], setup: bytes, items: list[bytes]):
        self.sink: queue.Queue = queue.Queue()
        self.setup = setup
        self.pending = deque(enumerate(items))
        self.workers = [self._attached(w) for w in workers]
        self.busy: dict[_Worker, int] = {}  # worker -> the index of the item it runs
        self.lost: set[_Worker] = set()  # workers gone, or whose last frame may be cut short

    def finished(self) -> Iterator[tuple[int, Any]]:
        """(index, result) as each item finishes."""
        import cloudpickle

        for worker in self.workers:
            self._send(worker, SETUP, 0, self.setup)
            self._next_item(worker)
        while self.busy:
            worker, frame = self._receive()
            index = self.busy.pop(worker)
            if frame is None:
                self.lost.add(worker)
                raise worker.died()
            kind, _, payload = frame
            worker.stale = worker.stale or bool(kind & STALE)
            kind &= ~STALE
            if kind == DONE:
                self._next_item(worker)
                yield index, cloudpickle.loads(payload)
            elif kind == FAILED:
                raise _reraised(payload)
            else:  # UNLOADABLE
                lines = payload.decode(errors="replace").strip().splitlines()
                raise SqlorchError(f"a worker process cannot load what it was sent ({lines[-1] if lines else '?'}): "
                                   "the modules it needs must import there as they do here (install them, or "
                                   "put them next to the script), or pass workers=1 to run in this process")

    def stop(self) -> None:
        """Release the workers: those running an item are killed, those that imported code of the
        user's own end, the others wait in the pool for the next map."""
        for worker in self.workers:
            if worker in self.busy or worker in self.lost or worker.gone:
                worker.end()
            elif worker.stale:
                worker.retire()
            else:
                _POOL.give_back(worker)
        self.busy.clear()

    def _attached(self, worker: _Worker) -> _Worker:
        """`worker` sending its frames to this run, or a new one if it died waiting in the pool."""
        if worker.attach(self.sink):
            return worker
        worker.end()
        worker = _Worker()
        worker.attach(self.sink)
        return worker

    def _send(self, worker: _Worker, kind: int, index: int, payload: bytes) -> None:
        """Send a frame; until it is all sent (a worker may die, Ctrl-C may come), the worker
        counts as lost."""
        self.lost.add(worker)
        worker.send(kind, index, payload)
        self.lost.discard(worker)

    def _next_item(self, worker: _Worker) -> None:
        """Give `worker` the next item, if any is left."""
        if self.pending:
            index, payload = self.pending.popleft()
            self.busy[worker] = index
            self._send(worker, RUN, index, payload)

    def _receive(self) -> tuple[_Worker, Frame | None]:
        """The next frame of a busy worker; a busy worker found exited counts as gone."""
        while True:
            try:
                return self.sink.get(timeout=_LIVENESS)
            except queue.Empty:
                for worker in self.busy:
                    if worker.process.poll() is not None:
                        return worker, None


def _reraised(payload: bytes) -> BaseException:
    """The exception a task raised in a worker, its traceback there as its cause."""
    import cloudpickle

    exc, text = cloudpickle.loads(payload)
    if exc is None:
        return RuntimeError(f"a task failed in a worker process (its exception cannot be pickled):\n{text}")
    exc.__cause__ = RemoteTraceback(text)
    return exc


class RayExecutor:
    """Tasks on a Ray cluster: the one this process is connected to (`ray.init(...)` called
    before), the one at `address` ("ray://head:10001", "head:6379", "auto"), or else what
    `ray.init()` finds (RAY_ADDRESS, a cluster started here with `ray start`, or a new local
    instance). Every node needs sqlorch and the strategy's module installed."""

    name = "ray"

    def __init__(self, address: str | None = None):
        self.address = address
        self._ray = _import_ray()
        self._started = False

    def _connect(self) -> Any:
        ray = self._ray
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"at {self.address}" if self.address else "(no address given)"
                raise SqlorchError(f"cannot connect to the Ray cluster {where}: {exc}") from None
            self._started = True
        return ray

    def slots(self) -> int:
        """The cluster's CPUs: how many tasks run at once."""
        return max(1, int(self._connect().cluster_resources().get("CPU", 1)))

    def map(self, task: Task, shared: Any, items: Sequence[Any]) -> Results:
        """Start task(shared, item) as a Ray task for every item; the results as each finishes.
        `shared` is put in the object store once and every task gets its reference."""
        ray = self._connect()
        remote = ray.remote(num_cpus=1)(_run_on_ray)
        shared_ref = ray.put(shared)
        refs = {remote.remote(task, shared_ref, item): k for k, item in enumerate(items)}
        pending = list(refs)

        def finished() -> Iterator[tuple[int, Any]]:
            nonlocal pending
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield refs[ref], ray.get(ref)

        def stop() -> None:
            for ref in pending:
                ray.cancel(ref)

        return Results(finished(), stop)

    def close(self) -> None:
        """Disconnect, if this executor connected."""
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_on_ray(task: Task, shared: Any, item: Any) -> Any:
    return task(shared, item)  # Ray hands over the object behind a top-level reference


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SqlorchError('the Ray executor needs Ray, which is not installed: pip install -e ".[ray]" '
                          "(in sqlorch's directory)") from None
    return ray


def make_executor(executor: str | Executor = "local", workers: int | None = None,
                  address: str | None = None) -> Executor:
    """An executor by name ("local" with `workers`, "ray" at `address`), or the one given."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        return LocalExecutor(workers)
    if executor == "ray":
        return RayExecutor(address)
    raise SqlorchError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
