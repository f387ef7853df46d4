"""Features for strategies to declare (the public names; computed by `sqlorch.engine.features`):
causal indicators over all symbols, combined with > < >= <= & | ~.

    from sqlorch.features import sma, rsi
    features = (sma(10) > sma(30), rsi(14) < 30)
"""

from sqlorch.engine.features import Feature, change, field, first_bar, has_bar, highest, lowest, rsi, sma

__all__ = ["Feature", "change", "field", "first_bar", "has_bar", "highest", "lowest", "rsi", "sma"]
