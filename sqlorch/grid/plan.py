"""Reading a grid search's TOML file (`sqlorch grid CONFIG.toml`) into a validated `GridPlan`.

The file is a run configuration (`sqlorch run`'s [data], [backtest], [[strategies]]) in which
a strategy's params may be lists of values, or ranges `{ from = 5, to = 50, step = 5 }` (both
ends included): the grid is their cartesian product. Each [[strategies]] entry may add a
`constraint` ("fast < slow"); `weight` is ignored (every combination trades all the capital).
An optional [grid] section sets `metric`, `top`, `workers`, `executor`, `address`, `study`,
`min_trades` and `pbo_blocks` (command-line options win). Every problem in the file is reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.config.plan import SECTIONS, Synthetic, parse_settings, read_document, strategy_class, strategy_entries
from sqlorch.config.settings import OrchestratorConfig
from sqlorch.engine.strategy import snake_case
from sqlorch.errors import ConfigError, did_you_mean
from sqlorch.grid.executors import EXECUTORS
from sqlorch.grid.overfitting import PBO_BLOCKS, check_trial_options
from sqlorch.grid.spec import Grid

GRID_KEYS = ("metric", "top", "workers", "executor", "address", "study", "min_trades", "pbo_blocks")
STRATEGY_KEYS = ("name", "class", "params", "constraint", "weight")
RANGE_KEYS = ("from", "to", "step")
MOST_VALUES = 100_000  # values one range may expand to


@dataclass(frozen=True)
class GridPlan:
    """A validated grid file: where the bars come from, the settings, one `Grid` per strategy,
    and the [grid] options (None where the file leaves them to the defaults)."""

    paths: tuple[str, ...]
    synthetic: Synthetic | None
    config: OrchestratorConfig
    grids: tuple[Grid, ...]
    source: str
    metric: str | None = None
    top: int | None = None
    workers: int | None = None
    executor: str | None = None
    address: str | None = None
    study: str | None = None
    min_trades: int | None = None
    pbo_blocks: int | None = None


def read_grid_plan(path: str | Path, overrides: dict[str, Any] | None = None) -> GridPlan:
    """Read and validate a grid file; `overrides` replace [backtest] keys (CLI options)."""
    path = Path(path)
    return parse_grid_plan(read_document(path), path.parent, str(path), overrides or {})


def parse_grid_plan(document: dict[str, Any], base: Path, source: str, overrides: dict[str, Any]) -> GridPlan:
    """Validate a parsed grid document; relative data paths are resolved against `base`."""
    problems: list[str] = []
    paths, synthetic, config = parse_settings(document, base, overrides, problems, (*SECTIONS, "grid"))
    options = _options(document.get("grid", {}), problems)
    entries = strategy_entries(document, problems, "add a [[strategies]] table with class and params, "
                               "like params = { fast = [5, 10], slow = [30, 50] }")
    grids = []
    for number, entry in enumerate(entries, start=1):
        grid = _grid(entry, number, base, problems)
        if grid is not None:
            grids.append(grid)
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    assert config is not None
    return GridPlan(paths, synthetic, config, tuple(grids), source, **options)


def table_options(section: Any, table: str, keys: Sequence[str], problems: list[str]) -> dict[str, Any]:
    """The known `keys` of the TOML table `[table]` (`section`); each unknown key, or a section
    that is not a table, is a problem."""
    if not isinstance(section, dict):
        problems.append(f"[{table}] must be a table, like [{table}] on its own line")
        return {}
    for key in section:
        if key not in keys:
            problems.append(f"[{table}] {key}: unknown key{did_you_mean(key, keys)}")
    return {k: v for k, v in section.items() if k in keys}


def _options(section: Any, problems: list[str]) -> dict[str, Any]:
    options = table_options(section, "grid", GRID_KEYS, problems)
    metric = options.get("metric")
    if metric is not None and metric not in METRIC_NAMES:
        problems.append(f"[grid] metric: {metric!r} is not a metric{did_you_mean(str(metric), METRIC_NAMES)}; "
                        f"metrics are {', '.join(METRIC_NAMES)}")
    for key in ("top", "workers"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(f"[grid] {key}: must be a whole number >= 1, got {value!r}")
    executor = options.get("executor")
    if executor is not None and executor not in EXECUTORS:
        problems.append(f"[grid] executor: {executor!r} is not one of {', '.join(EXECUTORS)}"
                        f"{did_you_mean(str(executor), EXECUTORS)}")
    address = options.get("address")
    if address is not None and not (isinstance(address, str) and address):
        problems.append(f"[grid] address: must be a Ray address like \"ray://head:10001\", got {address!r}")
    problems += check_trial_options(options.get("study"), options.get("min_trades", 0),
                                    options.get("pbo_blocks", PBO_BLOCKS), "[grid] ")
    return options


def _grid(entry: dict[str, Any], number: int, base: Path, problems: list[str]) -> Grid | None:
    where = f"[[strategies]] #{number}"
    found = len(problems)
    for key in entry:
        if key not in STRATEGY_KEYS:
            problems.append(f"{where} {key}: unknown key{did_you_mean(key, STRATEGY_KEYS)}")
    reference, params, constraint = entry.get("class"), entry.get("params", {}), entry.get("constraint")
    cls = strategy_class(reference, base, where, problems)
    if not isinstance(params, dict):
        problems.append(f"{where} params: must be a table, like {{ fast = [5, 10], slow = [30, 50] }}")
        params = {}
    values = {}
    for key, value in params.items():
        if isinstance(value, dict):
            value = _range(value, f"{where} params.{key}", problems)
        values[key] = value
    if constraint is not None and not isinstance(constraint, str):
        problems.append(f"{where} constraint: write it as a string, like constraint = \"fast < slow\"")
        constraint = None
    if len(problems) > found or cls is None:
        return None
    name = entry.get("name")
    try:
        return Grid(cls, values, constraint, name)
    except ConfigError as exc:
        label = name if isinstance(name, str) and name.strip() else snake_case(cls.__name__)
        prefix = f"grid {label}: "
        problems += [f"{where} " + (p[len(prefix):] if p.startswith(prefix) else p) for p in exc.problems]
        return None


def _range(spec: dict[str, Any], where: str, problems: list[str]) -> list[Any]:
    """{ from = a, to = b, step = s }: a, a + s, ... up to b included (step 1 by default)."""
    for key in spec:
        if key not in RANGE_KEYS:
            problems.append(f"{where}.{key}: unknown key{did_you_mean(key, RANGE_KEYS)}; a range is "
                            "{ from = 5, to = 50, step = 5 }")
    start, stop, step = spec.get("from"), spec.get("to"), spec.get("step", 1)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop, step))
    if not numbers:
        problems.append(f"{where}: a range needs numbers from and to (and step), "
                        "like { from = 5, to = 50, step = 5 }")
        return []
    if step <= 0 or stop < start:
        problems.append(f"{where}: a range needs step > 0 and from <= to, "
                        f"got from = {start}, to = {stop}, step = {step}")
        return []
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MOST_VALUES:
        problems.append(f"{where}: the range has {count} values, more than {MOST_VALUES}; use a larger step")
        return []
    whole = all(isinstance(v, int) for v in (start, stop, step))
    return [start + k * step if whole else round(start + k * step, 12) for k in range(count)]
