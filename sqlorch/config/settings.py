"""Run configuration: frozen dataclasses validated at construction.

Field names are the TOML keys of SPEC §2. Values are coerced to their types (a string
"100000" becomes `Decimal("100000")`, "close" becomes `FillMode.CLOSE`); every problem is
collected and raised once as a `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import CapitalPolicy, ConflictMode, FillMode, OverweightPolicy
from sqlorch.engine.settings import EngineSettings
from sqlorch.errors import ConfigError, did_you_mean
from sqlorch.money import MAX_CAPITAL, MAX_COMMISSION_BPS, MAX_COMMISSION_PER_ORDER, MAX_LOT_SIZE, MIN_CAPITAL

DEFAULT_WAREHOUSE = "warehouse/sqlorch.duckdb"
DEFAULT_LOG_DIR = "logs/backtest"


def to_decimal(value: Any) -> Decimal:
    """Money from a Decimal, int, numeric string or float (floats via their repr)."""
    if isinstance(value, bool):
        raise ValueError(f"expected an amount, got {value!r}")
    if _is_numpy_number(value):
        value = value.item()  # numpy scalars as the Python number they hold
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number; write it like \"100000\"") from None
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise ValueError(f"expected an amount, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise ValueError(f"must be a finite amount, got {value!r}")
    return result


def check_weight(value: Any, capital: Decimal | None = None) -> Decimal:
    """A strategy's weight as a Decimal: a finite number > 0 (int, float, numpy scalar, Decimal
    or numeric text) that leaves its sleeve at least the smallest capital (1) of `capital`;
    ValueError saying what is wrong otherwise."""
    weight = to_decimal(value)
    if weight <= 0:
        raise ValueError(f"must be more than 0, got {weight}")
    if capital is not None and capital * weight < MIN_CAPITAL:
        raise ValueError(f"{weight} of the capital {capital} gives the sleeve {(capital * weight).normalize():f}, less than "
                         f"{MIN_CAPITAL} (the smallest capital); raise the weight")
    return weight


def _is_numpy_number(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "item") and not isinstance(value, bool) \
        and type(value).__name__ != "bool_"


def _to_float(value: Any) -> float:
    if _is_numpy_number(value):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        result = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueError(f"must be finite, got {value!r}")
    return result


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _to_enum(enum_type: type) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        choices = [m.value for m in enum_type]
        if isinstance(value, str) and value in choices:
            return enum_type(value)
        hint = did_you_mean(str(value), choices)
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}{hint}")

    return coerce


def _to_conflict_mode(value: Any) -> ConflictMode | str:
    """A ConflictMode, or the name of a resolver registered with `register_resolver`."""
    from sqlorch.engine.conflicts import get_resolver

    if isinstance(value, ConflictMode):
        return value
    if isinstance(value, str) and value in {m.value for m in ConflictMode}:
        return ConflictMode(value)
    get_resolver(value)  # raises ValueError naming the choices
    return value


def _to_allocation(value: Any) -> Any:
    """An allocation policy (SPEC §7): a built-in or registered name (a TOML file's "module:Class" is
    registered under that text by sqlorch.config.plan), or an allocator object (`weights(window)`)."""
    from sqlorch.engine.allocation import check_allocator, get_allocator

    if not isinstance(value, str):
        try:
            check_allocator(value)
        except TypeError as exc:
            raise ValueError(f"{exc}; got {type(value).__name__}") from None
        return value
    get_allocator(value)  # raises ValueError naming the choices
    return value


def _to_every(value: Any) -> str | int:
    """A calendar period ("daily", "weekly", "monthly", "quarterly") or a positive number of bars."""
    from sqlorch.engine.allocation import PERIODS

    if isinstance(value, str) and value in PERIODS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    hint = did_you_mean(value, PERIODS) if isinstance(value, str) else ""
    raise ValueError(f"{value!r} is not one of {', '.join(PERIODS)} or a positive number of bars{hint}")


def _to_timestamp(value: Any) -> dt.date:
    """A date (a whole day: `end` includes all of it) or, if a time is given, a datetime."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date; write it like \"2015-01-31\"")


def _as_datetime(value: dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)


def _optional(coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else coerce(value)


def _to_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a path, got {value!r}")
    return value


def _to_symbol(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a symbol of the data, like \"SPY\", got {value!r}")
    return value


def _to_priorities(value: Any) -> Mapping[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table of strategy_id = rank, like { trend = 1, rsi = 2 }")
    bad = [k for k, v in value.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        raise ValueError(f"ranks must be whole numbers >= 1 (1 = highest); check {', '.join(bad)}")
    return MappingProxyType(dict(value))


def _to_symbols(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError('expected a table of symbol in the data = ticker, like { "nvda-1999-2014" = "NVDA" }')
    bad = [repr(k) for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"tickers must be non-empty text; check {', '.join(bad)}")
    tickers = list(value.values())
    twice = sorted({t for t in tickers if tickers.count(t) > 1})
    if twice:
        raise ValueError(f"each ticker may name one symbol of the data; {', '.join(map(repr, twice))} names several")
    return MappingProxyType(dict(value))


ADJUST_CHOICES = ("none", "adjusted")
"""Which prices a run trades: as traded ("none"), or adjusted by Adj Close / Close ("adjusted")."""


def _to_adjust(value: Any) -> str:
    if isinstance(value, str) and value in ADJUST_CHOICES:
        return value
    raise ValueError(f"{value!r} is not one of {', '.join(ADJUST_CHOICES)}{did_you_mean(str(value), ADJUST_CHOICES)}")


def _to_warmup(value: Any) -> int | str:
    """"auto" or a whole number of bars >= 0."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f'must be "auto" or a whole number of bars >= 0 (0 = no warm-up), got {value!r}')


_COERCE: dict[str, Callable[[Any], Any]] = {
    "initial_capital": to_decimal,
    "commission_bps": _to_float,
    "commission_per_order": to_decimal,
    "slippage_bps": _to_float,
    "fill": _to_enum(FillMode),
    "lot_size": _to_int,
    "allow_short": _to_bool,
    "on_insufficient_capital": _to_enum(CapitalPolicy),
    "start": _optional(_to_timestamp),
    "end": _optional(_to_timestamp),
    "periods_per_year": _optional(_to_int),
    "log_dir": _optional(_to_path),
    "warehouse": _optional(_to_path),
    "lock_timeout": _to_float,
    "conflict_mode": _to_conflict_mode,
    "priorities": _optional(_to_priorities),
    "rebalance_threshold": _optional(_to_float),
    "rebalance_every": _optional(_to_int),
    "on_overweight": _to_enum(OverweightPolicy),
    "allocation": _to_allocation,
    "allocation_lookback": _to_int,
    "allocation_every": _to_every,
    "min_weight": _to_float,
    "max_weight": _to_float,
    "round_prices": _to_bool,
    "symbols": _optional(_to_symbols),
    "benchmark": _optional(_to_symbol),
    "benchmark_path": _optional(_to_path),
    "risk_free_rate": _to_float,
    "adjust": _to_adjust,
    "warmup": _to_warmup,
}


_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "initial_capital": (lambda v: MIN_CAPITAL <= v <= MAX_CAPITAL,
                        f"must be between {MIN_CAPITAL} and {MAX_CAPITAL:,} (1e12)"),
    "commission_bps": (lambda v: 0 <= v <= MAX_COMMISSION_BPS,
                       f"must be between 0 and {MAX_COMMISSION_BPS:g} (10% of the notional)"),
    "commission_per_order": (lambda v: 0 <= v <= MAX_COMMISSION_PER_ORDER,
                             f"must be between 0 and {MAX_COMMISSION_PER_ORDER:,} (1e9)"),
    "slippage_bps": (lambda v: 0 <= v < 10_000, "must be between 0 and 10000"),
    "lot_size": (lambda v: 0 <= v <= MAX_LOT_SIZE,
                 f"must be 0 (fractional) or a positive whole number up to {MAX_LOT_SIZE:,}"),
    "periods_per_year": (lambda v: v > 0, "must be positive"),
    "lock_timeout": (lambda v: v >= 0, "must be 0 or more seconds"),
    "rebalance_threshold": (lambda v: 0 < v < 1, "must be between 0 and 1 (0.10 = 10 points)"),
    "rebalance_every": (lambda v: v > 0, "must be a positive number of bars"),
    "allocation_lookback": (lambda v: v >= 2, "must be at least 2 bars of sleeve returns (a volatility needs two)"),
    "min_weight": (lambda v: 0 <= v <= 1, "must be between 0 and 1 (a share of the capital)"),
    "max_weight": (lambda v: 0 < v <= 1, "must be more than 0 and at most 1 (a share of the capital)"),
    "risk_free_rate": (lambda v: v > -1, "must be more than -1 (an annual rate: 0.02 = 2%)"),
}


def _validate(config: Any) -> list[str]:
    """Coerce every field in place; return one message per invalid field."""
    problems, valid = [], set()
    for field in dataclasses.fields(config):
        try:
            value = _COERCE[field.name](getattr(config, field.name))
        except ValueError as exc:
            problems.append(f"{field.name}: {exc}")
            continue
        object.__setattr__(config, field.name, value)
        valid.add(field.name)
        check = _RANGES.get(field.name)
        if check and value is not None and not check[0](value):
            problems.append(f"{field.name}: {check[1]}, got {value}")
    if {"start", "end"} <= valid and config.start and config.end and \
            _as_datetime(config.start) > _as_datetime(config.end):
        problems.append(f"start ({config.start:%Y-%m-%d}) is after end ({config.end:%Y-%m-%d})")
    if {"benchmark", "benchmark_path"} <= valid and config.benchmark and config.benchmark_path:
        problems.append("benchmark and benchmark_path: give one of them (a symbol of the data, or a file of its "
                        "own), not both")
    if {"min_weight", "max_weight"} <= valid and config.min_weight > config.max_weight:
        problems.append(f"min_weight ({config.min_weight:g}) is more than max_weight ({config.max_weight:g}); "
                        "lower min_weight or raise max_weight")
    return problems


@dataclass(frozen=True)
class BacktestConfig:
    """Settings of one backtest: capital, costs, fills, lots, dates and output locations.

    Money inputs are bounded (SPEC §3): initial capital 1 to 1e12, commission_bps at most 1000,
    commission_per_order at most 1e9, lot_size at most 1e9; `round_prices` lets bars whose
    prices have more than 6 decimals be rounded (by default a rounding that would change a
    price by more than 0.01% is an error naming the row); `symbols` renames symbols of the data
    ({"nvda-1999-2014": "NVDA"}: a file's stem to its ticker); `adjust` which prices are traded
    ("none": as in the data; "adjusted": open, high, low and close times Adj Close / Close, volume
    divided by it). The clock, fills, equity and metrics run from `start` to `end`; `warmup` bars
    before `start` (a number, or "auto": the longest look-back of the strategies' declared features
    or `warmup` attributes) are revealed to features and `ctx.history` but never traded.

    `benchmark` (a symbol of the data, only a reference: not traded unless a strategy trades it)
    or `benchmark_path` (a file of its own, read with `load_bars`, symbol = its stem; not both)
    adds alpha, beta, tracking error and information ratio against it to the metrics, and its
    bought-and-held curve to the report. `risk_free_rate` (annual, > -1, default 0) enters
    Sharpe, Sortino and alpha as (1 + rate)^(1 / periods_per_year) - 1 per bar (SPEC §10).

    `warehouse=None` keeps the warehouse in memory and `log_dir=None` writes no JSONL file
    (both useful in tests and notebooks). Invalid values raise one `ConfigError`.
    """

    initial_capital: Decimal = Decimal("100000")
    commission_bps: float = 0.0
    commission_per_order: Decimal = Decimal("0")
    slippage_bps: float = 0.0
    fill: FillMode = FillMode.NEXT_OPEN
    lot_size: int = 1
    allow_short: bool = False
    on_insufficient_capital: CapitalPolicy = CapitalPolicy.CLIP
    start: dt.date | None = None  # inclusive; a date means the whole day
    end: dt.date | None = None
    periods_per_year: int | None = None
    log_dir: str | None = DEFAULT_LOG_DIR
    warehouse: str | None = DEFAULT_WAREHOUSE
    lock_timeout: float = 60.0
    round_prices: bool = False  # round prices with more than 6 decimals instead of refusing them
    symbols: Mapping[str, str] | None = None  # symbol in the data (a file's stem) -> the ticker to call it
    benchmark: str | None = None  # a symbol of the data to measure against (not traded because of it)
    benchmark_path: str | None = None  # or a file of its own (symbol = its stem)
    risk_free_rate: float = 0.0  # annual; per bar (1 + rate)^(1 / periods_per_year) - 1
    adjust: str = "none"  # "adjusted": prices times Adj Close / Close (splits and dividends)
    warmup: int | str = "auto"  # bars before `start` revealed but not traded; "auto": what the features need

    def __post_init__(self) -> None:
        problems = _validate(self)
        if problems:
            raise ConfigError(problems)

    def engine_settings(self, isolated: bool = False) -> EngineSettings:
        """The engine's view of these settings; `isolated` for sleeves that never meet (a grid)."""
        return EngineSettings(Costs.from_config(self), self.fill, self.allow_short, self.on_insufficient_capital,
                              isolated=isolated)


@dataclass(frozen=True)
class OrchestratorConfig(BacktestConfig):
    """`BacktestConfig` plus the settings of several strategies trading side by side:
    how conflicting orders are resolved (`conflict_mode`: a ConflictMode or a registered
    resolver's name; `priorities` {strategy_id: rank}, 1 highest, for first_wins), drift
    rebalancing (`rebalance_threshold`, absolute share difference, checked every
    `rebalance_every` bars), what to do with weights over 100% (`on_overweight`), and how
    capital moves between sleeves as they perform (SPEC §7): `allocation` (a policy: "fixed",
    the default, "equal", "inverse_volatility", "risk_parity", "min_variance", "momentum", a name
    given to `register_allocator`, "module:Class", or an allocator object), seeing
    `allocation_lookback` bars of sleeve returns, on every `allocation_every` ("daily", "weekly",
    "monthly", "quarterly" or a number of bars), each target kept in [`min_weight`,
    `max_weight`]. In TOML these are the [allocation] table's policy, lookback, every,
    min_weight and max_weight."""

    conflict_mode: ConflictMode | str = ConflictMode.NET_SIGNAL
    priorities: Mapping[str, int] | None = None
    rebalance_threshold: float | None = None
    rebalance_every: int | None = None
    on_overweight: OverweightPolicy = OverweightPolicy.REJECT
    allocation: Any = "fixed"
    allocation_lookback: int = 63
    allocation_every: str | int = "monthly"
    min_weight: float = 0.0
    max_weight: float = 1.0

    def engine_settings(self, isolated: bool = False) -> EngineSettings:
        """The engine's view of these settings, conflicts and rebalancing included (neither when
        `isolated`)."""
        if isolated:
            return super().engine_settings(isolated)
        mode = self.conflict_mode
        return EngineSettings(Costs.from_config(self), self.fill, self.allow_short, self.on_insufficient_capital,
                              str(mode.value if isinstance(mode, ConflictMode) else mode),
                              MappingProxyType(dict(self.priorities or {})), self.rebalance_threshold,
                              self.rebalance_every or 1, allocation=self.allocation,
                              allocation_lookback=self.allocation_lookback, allocation_every=self.allocation_every,
                              min_weight=self.min_weight, max_weight=self.max_weight)


CONFIG_KEYS = tuple(f.name for f in dataclasses.fields(OrchestratorConfig))
