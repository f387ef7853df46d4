"""The real daily bars of ../shared/data beside the repository (Yahoo CSV), for the tests that
read them. The suite passes on a machine without them: those tests skip, saying so, unless
SQLORCH_REQUIRE_DATA=1 (set by .ci/run, where ../shared is always beside the clone) makes a
missing file a failure, so that CI cannot pass without running them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REQUIRED = os.environ.get("SQLORCH_REQUIRE_DATA") == "1"


def unavailable(reason: str) -> None:
    """Skip the calling test for `reason`, or fail it where the data is required."""
    if REQUIRED:
        pytest.fail(f"{reason} (SQLORCH_REQUIRE_DATA=1: required here)")
    pytest.skip(reason)


def real_data(*names: str) -> list[Path]:
    """The paths of these files of ../shared/data; `unavailable` if any is missing."""
    paths = [SHARED_DATA / name for name in names]
    missing = [path.name for path in paths if not path.exists()]
    if missing:
        unavailable(f"{', '.join(missing)} not in {SHARED_DATA}: the real Yahoo files are not on this machine")
    return paths


def all_real_files() -> list[Path]:
    """Every CSV of ../shared/data (none on a machine without it)."""
    return sorted(SHARED_DATA.glob("*.csv"))
