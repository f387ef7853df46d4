"""The exception family: every error a user can cause is a `SqlorchError`.

The CLI prints such errors as one message and exits with status 1; anything else is a
bug and shows its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class SqlorchError(Exception):
    """Base of every error caused by input, configuration or a user's strategy."""


class ProblemsError(SqlorchError):
    """An error that carries every problem found, so all of them are reported at once."""

    title = "problems found"

    def __init__(self, problems: Sequence[str], title: str | None = None):
        self.problems = list(problems)
        if title is not None:
            self.title = title
        shown = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} {self.title}:\n{shown}")


class ConfigError(ProblemsError, ValueError):
    """Configuration is invalid; `problems` names each key, what is wrong and the fix."""

    title = "configuration problem(s)"


class DataError(ProblemsError):
    """Bar data is invalid; `problems` names each file, row, what is wrong and the fix."""

    title = "data problem(s)"


class DataWarning(UserWarning):
    """Bar data that loads but looks wrong (e.g. a symbol without bars for over a year)."""


class StrategyError(SqlorchError):
    """A strategy raised during a run; the run is recorded as failed up to that bar."""

    def __init__(self, strategy_id: str, bar_ts: object, error: BaseException, run_id: str):
        self.strategy_id = strategy_id
        self.bar_ts = bar_ts
        self.error = error
        self.run_id = run_id
        super().__init__(
            f"strategy {strategy_id!r} failed at bar {bar_ts}: "
            f"{type(error).__name__}: {error} (run {run_id} recorded as failed)"
        )


class SleeveLimitError(SqlorchError):
    """A sleeve's equity or cash passed the largest amount a sleeve may hold (SPEC §3: 9e12);
    the run ends as failed with this reason."""

    def __init__(self, strategy_id: str, amount: float):
        self.strategy_id = strategy_id
        super().__init__(f"sleeve {strategy_id!r} reached {amount:,.0f}, past 9e12, the largest amount a sleeve "
                         "may hold; start with less capital")


class WarehouseLockedError(SqlorchError):
    """The warehouse file stayed locked by another process for longer than the timeout."""


class UnknownSymbolError(KeyError):
    """A strategy named a symbol the run does not have. Its message says which, and the run's
    symbols closest to it."""

    def __init__(self, symbol: object, symbols: Sequence[str]):
        hint = did_you_mean(str(symbol), symbols)
        if not hint:
            import difflib

            nearest = difflib.get_close_matches(str(symbol), list(symbols), n=5, cutoff=0.0)
            listed = ", ".join(repr(s) for s in nearest)
            hint = (f"; the run's symbols are {listed}" if len(symbols) <= 5 else
                    f"; the closest of the run's {len(symbols):,} symbols are {listed}")
        super().__init__(f"unknown symbol {symbol!r}{hint}")

    def __str__(self) -> str:  # the message as written (a KeyError's would be quoted)
        return str(self.args[0])


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice to `word`, or '' if none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
