"""Built-in strategies, by class and by their TOML names."""

from sqlorch.strategies.builtin import BuyAndHold, DonchianBreakout, Momentum, RSIStrategy, SMACross

BUILTINS = {
    "buy_and_hold": BuyAndHold,
    "sma_cross": SMACross,
    "momentum": Momentum,
    "rsi": RSIStrategy,
    "donchian": DonchianBreakout,
}
"""TOML name -> strategy class."""

__all__ = ["BUILTINS", "BuyAndHold", "DonchianBreakout", "Momentum", "RSIStrategy", "SMACross"]
