"""`BarContext`: everything a strategy may know at the close of bar t, and nothing later."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sqlorch.bars.panel import CLOSE, FIELDS, MARK
from sqlorch.engine.features import Feature
from sqlorch.engine.market import MarketView
from sqlorch.errors import UnknownSymbolError, did_you_mean
from sqlorch.money import from_micro

if TYPE_CHECKING:
    from sqlorch.engine.sleeve import SleeveView


class Bar(NamedTuple):
    """One symbol's bar."""

    open: float
    high: float
    low: float
    close: float
    volume: float


class BarContext:
    """A strategy's view at the close of the current bar.

    Scalar access: `ts`, `symbols`, `bar(symbol)`, `history(symbol, field, n)`,
    `position(symbol)`, `cash`, `equity` (this strategy's sleeve). Vectorized access over all
    symbols (arrays ordered like `symbols`): `values(field)`, `window(field, n)`, `has_bar`,
    `positions`, `marks`, and declared features: `now(feature)`, `changed(feature)`. Every
    array returned is a copy holding only bars up to now.
    """

    __slots__ = ("strategy_id", "_view", "_sleeve", "_first")

    def __init__(self, strategy_id: str, view: MarketView, sleeve: SleeveView, first: int = 0):
        self.strategy_id = strategy_id
        self._view = view
        self._sleeve = sleeve
        self._first = first  # the view's bars before this one are warm-up

    def at(self, t: int) -> None:
        """Move to bar t (the stepper does, before calling the strategy)."""
        self._view.t = t

    @property
    def t(self) -> int:
        """Index of the current bar on the run's clock (0 = the first traded bar; warm-up bars come
        before it and are revealed, never stepped), as `bar_index` in the warehouse."""
        return self._view.t - self._first

    @property
    def ts(self) -> dt.datetime:
        """Timestamp of the current bar."""
        return self._view.timestamps[self._view.t]

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol of the run, sorted; the order of all vectorized arrays."""
        return self._view.symbols

    def index(self, symbol: str) -> int:
        """Position of `symbol` in `symbols`; UnknownSymbolError (a KeyError) naming the closest
        known symbols if unknown."""
        try:
            return self._view.index[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol, self._view.symbols) from None

    def bar(self, symbol: str) -> Bar | None:
        """The symbol's bar at the current time, or None if it has none now."""
        j = self.index(symbol)
        values = [self._view.value(f, j) for f in range(len(FIELDS))]
        return None if np.isnan(values[CLOSE]) else Bar(*values)

    def history(self, symbol: str, field: str = "close", n: int | None = None) -> np.ndarray:
        """The last `n` values (all if None) of `field` over the symbol's own bars, up to now."""
        if n is not None and n < 1:
            raise ValueError(f"history n must be at least 1, got {n}")
        return self._view.column(_field(field), self.index(symbol), n)

    def values(self, field: str = "close") -> np.ndarray:
        """`field` at the current bar for every symbol (NaN where a symbol has no bar now)."""
        return self._view.row(_field(field))

    def window(self, field: str = "close", n: int = 1) -> np.ndarray:
        """The last `n` clock bars of `field`, shape (min(n, t+1), len(symbols)); NaN = no bar."""
        if n < 1:
            raise ValueError(f"window n must be at least 1, got {n}")
        return self._view.window(_field(field), n)

    @property
    def has_bar(self) -> np.ndarray:
        """Boolean array: which symbols have a bar at the current time."""
        return ~np.isnan(self._view.row(CLOSE))

    @property
    def marks(self) -> np.ndarray:
        """Each symbol's last known close (0 before its first bar)."""
        return self._view.row(MARK)

    @property
    def positions(self) -> np.ndarray:
        """This strategy's signed quantities, one per symbol."""
        return self._sleeve.quantities

    def position(self, symbol: str) -> float:
        """This strategy's signed quantity in `symbol`."""
        return float(self._sleeve.positions[self.index(symbol)]) / 1_000_000

    def now(self, feature: Feature) -> np.ndarray:
        """A declared feature's values at the current bar, one per symbol (booleans for
        conditions). Declare features in the strategy's `features` (or `wake_on`)."""
        try:
            return self._view.feature(feature)
        except (KeyError, TypeError, AttributeError):
            self._feature_column(feature)  # explains an undeclared feature
            raise

    def changed(self, feature: Feature) -> bool:
        """Whether a declared feature's values changed at the current bar (for any symbol)."""
        return self._view.changed(self._feature_column(feature))

    def _feature_column(self, feature: Feature) -> int:
        try:
            return self._view.features[feature]
        except (KeyError, TypeError):
            raise KeyError(f"feature {feature!r} is not declared; list it in the strategy's "
                           "`features` attribute so it is computed before the run") from None

    @property
    def cash(self) -> Decimal:
        """This strategy's sleeve cash."""
        return from_micro(self._sleeve.cash)

    @property
    def equity(self) -> Decimal:
        """This strategy's sleeve equity at the close of the current bar."""
        return self._sleeve.equity_decimal(self._view.row(MARK))


def _field(name: str) -> int:
    try:
        return FIELDS.index(name)
    except ValueError:
        hint = did_you_mean(str(name), FIELDS)
        raise KeyError(f"unknown field {name!r}; fields are {', '.join(FIELDS)}{hint}") from None
