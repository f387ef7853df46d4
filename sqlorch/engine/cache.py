"""Keeps numba's on-disk cache of the compiled engine honest.

numba reuses a function's cached machine code as long as the function's own source file is
unchanged; it does not notice changes to the modules compiled into it (kernel.py's money
arithmetic and record layout). `forget_stale` records a digest of those sources beside the
cache and drops the cache when they changed, so the next call compiles afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from numba.core.registry import CPUDispatcher


def forget_stale(namespace: dict, sources: Iterable[str]) -> None:
    """Drop the cached code of every compiled function in `namespace` (a module's globals)
    if any file of `sources` changed since it was cached."""
    name = namespace["__name__"]
    dispatchers = [v for v in namespace.values() if isinstance(v, CPUDispatcher) and v.__module__ == name]
    if not dispatchers:  # NUMBA_DISABLE_JIT: nothing compiled, nothing cached
        return
    digest = hashlib.sha256(b"".join(Path(source).read_bytes() for source in sources)).hexdigest()
    stamp = Path(dispatchers[0]._cache.cache_path) / f"{name.rpartition('.')[2]}.sources"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    for dispatcher in dispatchers:
        dispatcher._cache.flush()
    try:
        stamp.write_text(digest)
    except OSError:  # a cache it cannot write to is one it cannot have filled either
        pass
