"""The strategy protocol, and how strategies get their ids."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlorch.engine.domain import Signal
from sqlorch.engine.features import declared, lookback
from sqlorch.errors import ConfigError

if TYPE_CHECKING:
    from sqlorch.engine.context import BarContext

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
    """Unique ids for `strategies` (SPEC §2): an explicit `name` (set on the instance) as given,
    else the class's `name` attribute or its class name in snake_case, with `_2`, `_3`, ...
    skipping every id already taken. Raises ConfigError for objects without `on_bar`, reserved
    names, and explicit names given twice."""
    problems, bases, explicit = [], [], []
    for position, strategy in enumerate(strategies, start=1):
        if not callable(getattr(strategy, "on_bar", None)):
            problems.append(f"strategy #{position} ({type(strategy).__name__}) has no on_bar(ctx) "
                            "method; implement the IStrategy protocol")
        name, given = _name_of(strategy)
        if name in RESERVED_IDS:
            problems.append(f"strategy #{position}: the name {name!r} is reserved for the whole "
                            "portfolio; give the strategy another name")
        bases.append(name)
        explicit.append(given)
    try:
        ids = unique_ids(bases, explicit)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return ids


def own_id(strategy: object) -> str:
    """The id a strategy has when it runs alone: its name, else its class name in snake_case."""
    return _name_of(strategy)[0]


def _name_of(strategy: object) -> tuple[str, bool]:
    """A strategy's name and whether it was given explicitly (set on the instance, not
    inherited from its class); without one, its class name in snake_case."""
    name = getattr(strategy, "name", None)
    if not isinstance(name, str) or not name.strip():
        return snake_case(type(strategy).__name__), False
    own = getattr(strategy, "__dict__", None)
    given = "name" in own if own is not None else name != getattr(type(strategy), "name", None)
    return name, given


def unique_ids(names: Sequence[str], explicit: Sequence[bool]) -> list[str]:
    """Ids for `names` in order: an explicit name stays as it is (ConfigError if two explicit
    names are equal); any other name is kept if free, else gets the first free suffix `_2`,
    `_3`, ... (names taken by explicit ones anywhere in the list are never free)."""
    given = [n for n, e in zip(names, explicit) if e]
    twice = sorted({n for n in given if given.count(n) > 1})
    if twice:
        raise ConfigError([f"strategy name {n!r} is given to {given.count(n)} strategies; names must be "
                           "unique: rename all but one" for n in twice])
    taken, ids = set(given), []
    for name, is_explicit in zip(names, explicit):
        chosen, suffix = name, 1
        while not is_explicit and chosen in taken:
            suffix += 1
            chosen = f"{name}_{suffix}"
        taken.add(chosen)
        ids.append(chosen)
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



def warmup_of(strategy: object) -> int:
    """The bars before the first traded bar a strategy needs revealed: its `warmup` attribute (a
    whole number >= 0) if it has one, else the longest look-back of its declared features
    (`sqlorch.engine.features.lookback`); ValueError for a `warmup` that is not such a number."""
    given = getattr(strategy, "warmup", None)
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 0:
            raise ValueError(f"warmup must be a whole number of bars >= 0, got {given!r}")
        return given
    features, wake = declared(strategy)
    return max((lookback(f) for f in features + wake), default=0)


def warmup_bars(setting: int | str, strategies: Iterable[object]) -> int:
    """The warm-up of a run: `setting` bars, or with "auto" the most any of `strategies` needs
    (see `warmup_of`)."""
    if setting != "auto":
        return int(setting)
    return max((warmup_of(s) for s in strategies), default=0)


def call_on_bar(strategy: object, ctx: object, t: int) -> Any:
    """What the strategy returns at bar t (`on_start` runs first at bar 0, the first traded bar), a single Signal
    as a one-element tuple. Whatever the strategy raises propagates."""
    if t == 0 and callable(getattr(strategy, "on_start", None)):
        strategy.on_start(ctx)
    signals = strategy.on_bar(ctx)
    return (signals,) if isinstance(signals, Signal) else signals
