"""Where a grid's batches run: local worker processes, or tasks on a Ray cluster.

An executor starts `task(shared, item)` for every item at once and returns `Results`, which
yield `(index, result)` as each one finishes (so the caller can do other work while the workers
start). `shared` (the grid's bars and settings) travels to each worker once: through the
process pool's initializer locally, through Ray's object store (`ray.put` once, the reference
passed to every task) on a cluster. The grid search only sees this interface, so it does not
know which one runs it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, runtime_checkable

from sqlorch.errors import SqlorchError

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
    worker, or one item, the tasks run in this process."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()

    def slots(self) -> int:
        """How many tasks run at once."""
        return self.workers

    def map(self, task: Task, shared: Any, items: Sequence[Any]) -> Results:
        """Start task(shared, item) for every item; the results as each finishes."""
        if self.workers == 1 or len(items) <= 1:
            return Results((index, task(shared, item)) for index, item in enumerate(items))
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=_context(),
                                   initializer=_install, initargs=(shared,))
        futures: dict[Future, int] = {pool.submit(_run, task, item): k for k, item in enumerate(items)}
        return Results(_as_finished(futures), lambda: pool.shutdown(wait=True, cancel_futures=True))

    def close(self) -> None:
        """Nothing to release: each `map` has its own pool, released by its `Results`."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_finished(futures: dict[Future, int]) -> Iterator[tuple[int, Any]]:
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield futures[future], future.result()
    except BrokenProcessPool as exc:
        raise SqlorchError("a grid worker process died (out of memory?); try fewer --workers "
                           "or a smaller grid") from exc


_shared: Any = None  # what every task of a pool shares, installed once per worker process


def _context() -> multiprocessing.context.BaseContext:
    """How worker processes start. Not `fork`: the parent holds DuckDB and polars thread pools,
    which a fork would copy mid-flight. `forkserver` (where there is one) forks each worker from
    a clean server that imported sqlorch once, so workers start in milliseconds; else `spawn`."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # pragma: no cover (Windows)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sqlorch.sweep"])  # only takes effect before the server starts
    return context


def _install(shared: Any) -> None:
    global _shared
    _shared = shared
    install = getattr(shared, "install", None)
    if callable(install):
        install()  # e.g. make the strategies' modules importable here


def _run(task: Task, item: Any) -> Any:
    return task(_shared, item)


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
        raise SqlorchError('the Ray executor needs Ray, which is not installed: pip install "sqlorch[ray]"') from None
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
