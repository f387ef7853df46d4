"""The real-data tests skip on a machine without ../shared/data and fail where it is required."""

from __future__ import annotations

import pytest
import shared_data


def test_missing_real_data_skips_or_fails_where_required(monkeypatch) -> None:
    monkeypatch.setattr(shared_data, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-file.csv not in"):
        shared_data.real_data("no-such-file.csv")
    monkeypatch.setattr(shared_data, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="SQLORCH_REQUIRE_DATA=1"):
        shared_data.real_data("no-such-file.csv")
    if shared_data.SHARED_DATA.exists():  # the files the real-data tests read, where they are
        assert shared_data.real_data("nvda-1999-2014.csv", "orcl-1995-2014.csv")[0].name == "nvda-1999-2014.csv"
        assert len(shared_data.all_real_files()) >= 2
