"""Reading a combination search's TOML file (`sqlorch combine CONFIG.toml`): a run configuration
(`sqlorch run`'s [data], [backtest], [allocation], [[strategies]]) whose strategies are the
line-up, plus an optional [combine] table of the search's options: `policies`, `max_size`,
`metric`, `top`, `min_trades`, `study`, `pbo_blocks` and `workers` (`CombinationSearch`'s keywords
of the same names; command-line options win). Every problem in the file is reported at once; the
values themselves are checked by `CombinationSearch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlorch.config.plan import RunPlan, parse_plan, read_document
from sqlorch.errors import ConfigError
from sqlorch.grid.plan import table_options

COMBINE_KEYS = ("policies", "max_size", "metric", "top", "min_trades", "study", "pbo_blocks", "workers")
WHOLE_KEYS = ("max_size", "top", "min_trades", "pbo_blocks", "workers")


@dataclass(frozen=True)
class CombinePlan:
    """A validated combination file: the run plan (bars, settings, the line-up) and the
    [combine] options (None where the file leaves them to the defaults)."""

    run: RunPlan
    options: dict[str, Any]


def read_combine_plan(path: str | Path, overrides: dict[str, Any] | None = None) -> CombinePlan:
    """Read and validate a combination file; `overrides` replace [backtest] keys (CLI options)."""
    path = Path(path)
    document = read_document(path)
    section = document.pop("combine", {})
    problems: list[str] = []
    options = _options(section, problems)
    run = None
    try:
        run = parse_plan(document, path.parent, str(path), overrides or {})
    except ConfigError as exc:
        problems = exc.problems + [f"{path}: {p}" for p in problems]
    else:
        problems = [f"{path}: {p}" for p in problems]
    if problems:
        raise ConfigError(problems)
    assert run is not None
    return CombinePlan(run, options)


def _options(section: Any, problems: list[str]) -> dict[str, Any]:
    options = table_options(section, "combine", COMBINE_KEYS, problems)
    policies = options.get("policies")
    if policies is not None and not (isinstance(policies, str) or
                                     (isinstance(policies, list) and all(isinstance(p, str) for p in policies))):
        problems.append(f"[combine] policies: a list of policy names, like [\"fixed\", \"risk_parity\"], "
                        f"got {policies!r}")
    for key in WHOLE_KEYS:
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"[combine] {key}: must be a whole number, got {value!r}")
    for key in ("metric", "study"):
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"[combine] {key}: must be text, got {value!r}")
    return options
