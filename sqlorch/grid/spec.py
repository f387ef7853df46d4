"""One strategy's parameter grid: the class, a list of values per parameter, a constraint.

`Grid` validates itself at construction and raises one `ConfigError` listing every problem
(unknown parameters with a "did you mean", empty lists, values that are not plain numbers,
strings or booleans, repeated values, a constraint that does not parse). `combinations()` is
the cartesian product in the order the parameters and values were given, minus what the
constraint drops.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.engine.features import declared
from sqlorch.engine.strategy import class_parameters, snake_case, warmup_of
from sqlorch.errors import ConfigError, did_you_mean
from sqlorch.grid.constraint import Expression

RESULT_COLUMNS = ("strategy", "combination", *METRIC_NAMES, "final_equity", "status", "error", "rank")
"""Columns of a grid's result table besides the parameters (which may not use these names)."""


class Params(dict):
    """A combination's parameters: a dict whose keys also read as attributes (`p.fast`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}") from None


def _plain(value: Any) -> Any:
    """A parameter value as a plain Python scalar (numpy scalars unwrapped); TypeError otherwise."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError(f"{value!r} is not a finite number")
    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"{value!r} is not a number, string or boolean")
    return value


@dataclass(frozen=True)
class Grid:
    """The values to try for one strategy class: `params` maps each constructor parameter to a
    list of values (a single value is kept fixed); `constraint` drops combinations, as a
    callable taking the parameters (a dict that also reads as attributes) or an expression
    like "fast < slow"; `name` is the strategy id in results (default: the class name in
    snake_case)."""

    strategy_class: type
    params: Mapping[str, Any]
    constraint: Callable[[Params], Any] | str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        cls = self.strategy_class
        label = self.name if isinstance(self.name, str) and self.name.strip() else (
            snake_case(cls.__name__) if isinstance(cls, type) else repr(cls))
        if not (isinstance(cls, type) and callable(getattr(cls, "on_bar", None))):
            problems.append(f"{cls!r} is not a strategy class (a class with an on_bar(ctx) method)")
            cls = None
        if self.name is not None and not (isinstance(self.name, str) and self.name.strip()):
            problems.append(f"name must be a non-empty string, got {self.name!r}")
        values = self._values(cls, problems)
        object.__setattr__(self, "params", values)
        object.__setattr__(self, "_check", self._constraint(values, problems))
        if problems:
            raise ConfigError([f"grid {label}: {p}" for p in problems])

    def _values(self, cls: type | None, problems: list[str]) -> dict[str, tuple]:
        if not isinstance(self.params, Mapping):
            problems.append('params must be a mapping of parameter name to values, like {"fast": [5, 10]}')
            return {}
        accepted = class_parameters(cls) if cls is not None else None
        out: dict[str, tuple] = {}
        for name, given in self.params.items():
            if not isinstance(name, str):
                problems.append(f"parameter names must be strings, got {name!r}")
                continue
            if accepted is not None and name not in accepted:
                problems.append(f"{cls.__name__} has no parameter {name!r}{did_you_mean(name, accepted)}; "
                                f"it takes {', '.join(accepted) or 'none'}")
                continue
            if name in RESULT_COLUMNS:
                problems.append(f"parameter {name!r} has the name of a result column; rename it")
                continue
            listed = list(given) if isinstance(given, (list, tuple, range, np.ndarray)) else [given]
            if not listed:
                problems.append(f"params.{name}: the list of values is empty; give at least one value")
                continue
            try:
                plain = tuple(_plain(v) for v in listed)
            except TypeError as exc:
                problems.append(f"params.{name}: {exc}")
                continue
            repeated = sorted({repr(v) for v in plain if plain.count(v) > 1})
            if repeated:
                problems.append(f"params.{name}: {', '.join(repeated)} listed more than once")
                continue
            out[name] = plain
        return out

    def _constraint(self, values: dict[str, tuple], problems: list[str]) -> Callable[[Params], Any] | None:
        constraint = self.constraint
        if constraint is None or callable(constraint):
            return constraint
        if isinstance(constraint, str):
            try:
                return Expression(constraint, list(values))
            except ValueError as exc:
                problems.append(f"constraint {exc}")
                return None
        problems.append(f"constraint must be an expression like \"fast < slow\" or a callable, got {constraint!r}")
        return None

    @property
    def strategy_id(self) -> str:
        """The id of this grid's strategy in results: `name`, else the class name in snake_case."""
        return self.name or snake_case(self.strategy_class.__name__)

    @property
    def size(self) -> int:
        """How many combinations the product has, before the constraint."""
        return math.prod(len(v) for v in self.params.values())

    def constraint_text(self) -> str | None:
        """The constraint as written, or a description of a callable one."""
        if self.constraint is None or isinstance(self.constraint, str):
            return self.constraint
        return f"<callable {getattr(self.constraint, '__qualname__', type(self.constraint).__name__)}>"

    def combinations(self) -> tuple[list[Params], int]:
        """(the combinations kept, in grid order; how many the constraint dropped). A callable
        constraint that raises is a ConfigError naming the combination."""
        names = list(self.params)
        kept, dropped = [], 0
        check = self._check  # type: ignore[attr-defined]
        for values in itertools.product(*self.params.values()):
            params = Params(zip(names, values))
            if check is not None:
                try:
                    keep = check(params)
                except Exception as exc:  # a user's callable may raise anything
                    raise ConfigError([f"grid {self.strategy_id}: the constraint raised {type(exc).__name__}: "
                                       f"{exc} for {_shown(params)}"]) from None
                if not keep:
                    dropped += 1
                    continue
            kept.append(params)
        return kept, dropped


def _shown(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no parameters"


def check_instances(grid: Grid, combinations: Sequence[Params]) -> list[str]:
    """Build every combination's strategy once, before any work: the problems found (the
    strategy's own validation, e.g. windows that are not positive), each distinct message once
    with an example, or [] if all build. The instances are dropped."""
    found: dict[str, tuple[Params, int]] = {}
    for params in combinations:
        try:
            strategy = grid.strategy_class(**params)
            declared(strategy)
            warmup_of(strategy)
            continue
        except ConfigError as exc:
            messages = exc.problems
        except Exception as exc:  # a user's constructor may raise anything
            messages = [f"{type(exc).__name__}: {exc}"]
        for message in messages:
            example, count = found.get(message, (params, 0))
            found[message] = (example, count + 1)
    problems = []
    for message, (example, count) in list(found.items())[:5]:
        more = f" and {count - 1} more combination(s)" if count > 1 else ""
        problems.append(f"grid {grid.strategy_id}: {message} (with {_shown(example)}{more})")
    if len(found) > 5:
        problems.append(f"grid {grid.strategy_id}: ... and {len(found) - 5} more problems like these")
    if problems:
        problems.append(f"grid {grid.strategy_id}: fix those values, or drop such combinations with a "
                        "constraint (e.g. constraint=\"fast < slow\")")
    return problems
