"""The built-in strategies: `Rule`s (sqlorch.engine.rule), long-only and equal-weight, decided
entirely in the compiled engine. Each symbol's position targets 1/N of the sleeve's equity (N =
symbols in the run); a buy when a flat symbol's entry condition holds, an exit when a held
symbol's exit condition holds. The engine asks them only on the bars where one of their
conditions turned true, or right after they signalled (they would return nothing elsewhere: the
two conditions exclude each other).

Each takes the order options of a `Rule` as keywords (SPEC §8): `stop_loss`, `take_profit` and
`trail`, fractions of each entry's fill price (e.g. `SMACross(10, 30, stop_loss=0.05)`, or
`params = { fast = 10, slow = 30, stop_loss = 0.05 }` in TOML); given ones join `params`, so a
grid searches them like any other parameter, 0 meaning none (`stop_loss = [0, 0.02, 0.05]` tries
no stop too).
"""

from __future__ import annotations

from sqlorch.engine import features as ft
from sqlorch.engine.rule import Rule
from sqlorch.errors import ConfigError


def _check(problems: list[tuple[bool, str]]) -> None:
    failed = [message for ok, message in problems if not ok]
    if failed:
        raise ConfigError(failed)


def _given(stop_loss: float | None, take_profit: float | None, trail: float | None) -> dict[str, float]:
    """The order options given (not None), by name: the strategy's parameters. 0 is given too,
    and means none (so that a grid can try a stop against no stop: `stop_loss = [0, 0.05]`)."""
    return {name: value for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit), ("trail", trail))
            if value is not None}


def _orders(given: dict[str, float]) -> dict[str, float]:
    """The order options of the Rule: those given other than 0."""
    return {name: value for name, value in given.items() if not (type(value) in (int, float) and value == 0)}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class BuyAndHold(Rule):
    """Buy every symbol (1/N of the sleeve each) at its first bar and hold it to the end."""

    def __init__(self, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        given = _given(stop_loss, take_profit, trail)
        self.params = {**given}
        super().__init__(ft.first_bar(), None, **_orders(given))


class SMACross(Rule):
    """Long while the `fast`-bar simple moving average of closes is above the `slow` one:
    enter when fast > slow, exit when fast < slow."""

    def __init__(self, fast: int = 10, slow: int = 30, *, stop_loss: float | None = None,
                 take_profit: float | None = None, trail: float | None = None) -> None:
        _check([(_whole(fast), f"sma_cross fast must be a whole number >= 1, got {fast!r}"),
                (_whole(slow), f"sma_cross slow must be a whole number >= 1, got {slow!r}"),
                (not (_whole(fast) and _whole(slow)) or fast < slow,
                 f"sma_cross fast ({fast}) must be less than slow ({slow})")])
        self.fast, self.slow = fast, slow
        given = _given(stop_loss, take_profit, trail)
        self.params = {"fast": fast, "slow": slow, **given}
        super().__init__(ft.sma(fast) > ft.sma(slow), ft.sma(fast) < ft.sma(slow), **_orders(given))


class Momentum(Rule):
    """Long while the `lookback`-bar return (close_t / close_(t-lookback) - 1) is positive."""

    def __init__(self, lookback: int = 20, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        _check([(_whole(lookback), f"momentum lookback must be a whole number >= 1, got {lookback!r}")])
        self.lookback = lookback
        given = _given(stop_loss, take_profit, trail)
        self.params = {"lookback": lookback, **given}
        super().__init__(ft.change(lookback) > 0, ft.change(lookback) <= 0, **_orders(given))


class RSIStrategy(Rule):
    """Wilder's RSI over `period` bars (see `sqlorch.engine.features.rsi`): enter below `low`, exit
    above `high`."""

    def __init__(self, period: int = 14, low: float = 30, high: float = 70, *, stop_loss: float | None = None,
                 take_profit: float | None = None, trail: float | None = None) -> None:
        _check([(_whole(period), f"rsi period must be a whole number >= 1, got {period!r}"),
                (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high < 100,
                 f"rsi needs 0 < low < high < 100, got low={low!r}, high={high!r}")])
        self.period, self.low, self.high = period, low, high
        given = _given(stop_loss, take_profit, trail)
        self.params = {"period": period, "low": low, "high": high, **given}
        super().__init__(ft.rsi(period) < low, ft.rsi(period) > high, **_orders(given))


class DonchianBreakout(Rule):
    """Enter when the close breaks above the highest high of the prior `period` bars; exit
    when it breaks below their lowest low."""

    def __init__(self, period: int = 20, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        _check([(_whole(period), f"donchian period must be a whole number >= 1, got {period!r}")])
        self.period = period
        given = _given(stop_loss, take_profit, trail)
        self.params = {"period": period, **given}
        super().__init__(ft.field("close") > ft.highest(period, "high", lag=1),
                         ft.field("close") < ft.lowest(period, "low", lag=1), **_orders(given))
