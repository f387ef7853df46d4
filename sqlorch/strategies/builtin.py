"""The built-in strategies: `Rule`s (sqlorch.engine.rule), long-only and equal-weight, decided
entirely in the compiled engine. Each symbol's position targets 1/N of the sleeve's equity (N =
symbols in the run); a buy when a flat symbol's entry condition holds, an exit when a held
symbol's exit condition holds. The engine asks them only on the bars where one of their
conditions turned true, or right after they signalled (they would return nothing elsewhere: the
two conditions exclude each other).

Each takes the order options of a Rule as keyword arguments, `stop_loss`, `take_profit` and
`trail` (fractions of each entry's fill price, SPEC §8), so that a configuration file can set
them and a grid search them like any other parameter; 0 or None means none (a grid can compare
a stop with none). `params` lists the ones given.
"""

from __future__ import annotations

from sqlorch.engine import features as ft
from sqlorch.engine.domain import Orders, Side
from sqlorch.engine.rule import Rule
from sqlorch.errors import ConfigError


def _check(problems: list[tuple[bool, str]], options: dict[str, object] | None = None) -> None:
    """Raise one ConfigError listing the failed checks and any problem of the order `options`."""
    failed = [message for ok, message in problems if not ok]
    try:
        Orders.of(Side.BUY, **_given(options or {}))
    except ValueError as exc:
        failed.append(str(exc))
    if failed:
        raise ConfigError(failed)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _given(options: dict[str, object]) -> dict[str, object]:
    """The order options that ask for an order: neither None nor 0."""
    return {name: value for name, value in options.items()
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and value == 0)}


def _params(strategy: Rule, params: dict[str, object], options: dict[str, object]) -> dict[str, object]:
    """Set `strategy.params` to `params` and the order options that are not None (0 included: what
    was asked); return the options a Rule takes."""
    strategy.params = {**params, **{name: value for name, value in options.items() if value is not None}}
    return _given(options)


class BuyAndHold(Rule):
    """Buy every symbol (1/N of the sleeve each) at its first bar and hold it to the end."""

    def __init__(self, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        options = {"stop_loss": stop_loss, "take_profit": take_profit, "trail": trail}
        _check([], options)
        super().__init__(ft.first_bar(), None, **_params(self, {}, options))


class SMACross(Rule):
    """Long while the `fast`-bar simple moving average of closes is above the `slow` one:
    enter when fast > slow, exit when fast < slow."""

    def __init__(self, fast: int = 10, slow: int = 30, *, stop_loss: float | None = None,
                 take_profit: float | None = None, trail: float | None = None) -> None:
        options = {"stop_loss": stop_loss, "take_profit": take_profit, "trail": trail}
        _check([(_whole(fast), f"sma_cross fast must be a whole number >= 1, got {fast!r}"),
                (_whole(slow), f"sma_cross slow must be a whole number >= 1, got {slow!r}"),
                (not (_whole(fast) and _whole(slow)) or fast < slow,
                 f"sma_cross fast ({fast}) must be less than slow ({slow})")], options)
        self.fast, self.slow = fast, slow
        super().__init__(ft.sma(fast) > ft.sma(slow), ft.sma(fast) < ft.sma(slow),
                         **_params(self, {"fast": fast, "slow": slow}, options))


class Momentum(Rule):
    """Long while the `lookback`-bar return (close_t / close_(t-lookback) - 1) is positive."""

    def __init__(self, lookback: int = 20, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        options = {"stop_loss": stop_loss, "take_profit": take_profit, "trail": trail}
        _check([(_whole(lookback), f"momentum lookback must be a whole number >= 1, got {lookback!r}")], options)
        self.lookback = lookback
        super().__init__(ft.change(lookback) > 0, ft.change(lookback) <= 0,
                         **_params(self, {"lookback": lookback}, options))


class RSIStrategy(Rule):
    """Wilder's RSI over `period` bars (see `sqlorch.engine.features.rsi`): enter below `low`, exit
    above `high`."""

    def __init__(self, period: int = 14, low: float = 30, high: float = 70, *, stop_loss: float | None = None,
                 take_profit: float | None = None, trail: float | None = None) -> None:
        options = {"stop_loss": stop_loss, "take_profit": take_profit, "trail": trail}
        _check([(_whole(period), f"rsi period must be a whole number >= 1, got {period!r}"),
                (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high < 100,
                 f"rsi needs 0 < low < high < 100, got low={low!r}, high={high!r}")], options)
        self.period, self.low, self.high = period, low, high
        super().__init__(ft.rsi(period) < low, ft.rsi(period) > high,
                         **_params(self, {"period": period, "low": low, "high": high}, options))


class DonchianBreakout(Rule):
    """Enter when the close breaks above the highest high of the prior `period` bars; exit
    when it breaks below their lowest low."""

    def __init__(self, period: int = 20, *, stop_loss: float | None = None, take_profit: float | None = None,
                 trail: float | None = None) -> None:
        options = {"stop_loss": stop_loss, "take_profit": take_profit, "trail": trail}
        _check([(_whole(period), f"donchian period must be a whole number >= 1, got {period!r}")], options)
        self.period = period
        super().__init__(ft.field("close") > ft.highest(period, "high", lag=1),
                         ft.field("close") < ft.lowest(period, "low", lag=1),
                         **_params(self, {"period": period}, options))
