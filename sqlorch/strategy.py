"""The strategy protocol, and how strategies get their ids."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlorch.domain import Signal
from sqlorch.errors import ConfigError

if TYPE_CHECKING:
    from sqlorch.context import BarContext

RESERVED_IDS = ("portfolio",)


@runtime_checkable
class IStrategy(Protocol):
    """A trading strategy: called at the close of every bar, returns the signals of that bar.

    `name` (optional) becomes the strategy_id; `on_start(ctx)` (optional) runs once at the
    first bar, before `on_bar`. The same class runs unchanged in `BacktestEngine` and
    `StrategyOrchestrator`.
    """

    def on_bar(self, ctx: BarContext) -> Iterable[Signal] | None: ...


def snake_case(name: str) -> str:
    """`RSIStrategy` -> `rsi_strategy`, `SMACross` -> `sma_cross`."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def strategy_ids(strategies: Sequence[object]) -> list[str]:
    """Ids for `strategies`: their `name`, else their class name in snake_case; repeats get
    `_2`, `_3`. Raises ConfigError for objects without `on_bar` or with a reserved name."""
    problems, ids, seen = [], [], {}
    for position, strategy in enumerate(strategies, start=1):
        if not callable(getattr(strategy, "on_bar", None)):
            problems.append(f"strategy #{position} ({type(strategy).__name__}) has no on_bar(ctx) "
                            "method; implement the IStrategy protocol")
            continue
        name = getattr(strategy, "name", None)
        if not isinstance(name, str) or not name.strip():
            name = snake_case(type(strategy).__name__)
        if name in RESERVED_IDS:
            problems.append(f"strategy #{position}: the name {name!r} is reserved for the whole "
                            "portfolio; give the strategy another name")
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    if problems:
        raise ConfigError(problems)
    return ids


def class_parameters(cls: type) -> list[str] | None:
    """The keyword parameters of a strategy class's constructor, or None if it takes **kwargs."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    return [n for n, p in signature.parameters.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]



def call_on_bar(strategy: object, ctx: object, t: int) -> Any:
    """What the strategy returns at bar t (`on_start` runs first at bar 0), a single Signal
    as a one-element tuple. Whatever the strategy raises propagates."""
    if t == 0 and callable(getattr(strategy, "on_start", None)):
        strategy.on_start(ctx)
    signals = strategy.on_bar(ctx)
    return (signals,) if isinstance(signals, Signal) else signals
