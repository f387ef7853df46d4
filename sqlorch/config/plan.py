"""Reading a run's TOML configuration file (SPEC §2) into a validated `RunPlan`.

Every problem in the file (syntax, unknown keys, bad values, unknown strategy classes or
parameters, weights) is collected and raised as one `ConfigError` naming each key.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
import traceback
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlorch.config.settings import CONFIG_KEYS, OrchestratorConfig, check_weight, to_decimal
from sqlorch.engine.allocation import allocator_names, bounds_problem, register_allocator
from sqlorch.engine.conflicts import register_resolver, resolver_names
from sqlorch.engine.domain import OverweightPolicy
from sqlorch.engine.strategy import class_parameters
from sqlorch.errors import ConfigError, did_you_mean
from sqlorch.strategies import BUILTINS

# settings of the run read from [data]
DATA_SETTINGS = ("start", "end", "round_prices", "symbols", "adjust", "warmup", "benchmark", "benchmark_path")
DATA_KEYS = ("paths", *DATA_SETTINGS, "synthetic")
SYNTHETIC_KEYS = ("symbols", "years", "seed")
MAX_SYNTHETIC_BARS = 10_000_000  # symbols x years x 252: about 2 GB in memory
STRATEGY_KEYS = ("name", "class", "weight", "params")
ALLOCATION_FIELDS = {"policy": "allocation", "lookback": "allocation_lookback", "every": "allocation_every",
                     "min_weight": "min_weight", "max_weight": "max_weight"}
"""The [allocation] table's keys and the config fields they set (SPEC §7)."""
ALLOCATION_KEYS = tuple(ALLOCATION_FIELDS)
BACKTEST_KEYS = tuple(k for k in CONFIG_KEYS if k not in DATA_SETTINGS and k not in ALLOCATION_FIELDS.values())
SECTIONS = ("data", "backtest", "strategies", "allocation")
DEFAULT_PATHS = ("data/*.csv",)


@dataclass(frozen=True)
class Synthetic:
    """Generated sample data instead of files: `symbols` x `years` of daily bars."""

    symbols: int = 10
    years: int = 2
    seed: int = 42


@dataclass(frozen=True)
class StrategySpec:
    """One `[[strategies]]` entry, already instantiated and weighted."""

    strategy: object
    weight: Decimal


@dataclass(frozen=True)
class RunPlan:
    """A validated configuration file: where the bars come from, the settings, the strategies."""

    paths: tuple[str, ...]  # resolved against the file's directory
    synthetic: Synthetic | None
    config: OrchestratorConfig
    strategies: tuple[StrategySpec, ...]
    source: str  # the file the plan came from


def read_plan(path: str | Path, overrides: dict[str, Any] | None = None) -> RunPlan:
    """Read and validate a configuration file; `overrides` replace [backtest] keys (CLI options)."""
    path = Path(path)
    return parse_plan(read_document(path), path.parent, str(path), overrides or {})


def read_document(path: Path) -> dict[str, Any]:
    """A configuration file parsed as TOML; ConfigError if it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file ({exc.strerror})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def parse_plan(document: dict[str, Any], base: Path, source: str, overrides: dict[str, Any]) -> RunPlan:
    """Validate a parsed TOML document; relative data paths are resolved against `base`."""
    problems: list[str] = []
    paths, synthetic, config = parse_settings(document, base, overrides, problems)
    entries = strategy_entries(document, problems, "add at least one [[strategies]] table with class and weight")
    strategies = []
    capital = config.initial_capital if config is not None else _capital(document, overrides)
    for number, entry in enumerate(entries, start=1):
        spec = _strategy(entry, number, base, problems, capital)
        if spec is not None:
            strategies.append(spec)
    _check_names(entries, problems)
    total = sum((spec.weight for spec in strategies), Decimal(0))
    if config is not None and len(strategies) == len(entries) and total > 1 and \
            config.on_overweight != OverweightPolicy.NORMALIZE:
        problems.append(f"[[strategies]] weight: the weights add up to {total}, more than 1; lower them or set "
                        "on_overweight = \"normalize\" in [backtest]")
    if config is not None and strategies and len(strategies) == len(entries) and config.allocation != "fixed":
        bounds = bounds_problem(len(strategies), float(min(total, Decimal(1))), config.min_weight, config.max_weight)
        if bounds:
            problems.append(f"[allocation] min_weight, max_weight: {bounds}")
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    assert config is not None
    return RunPlan(paths, synthetic, config, tuple(strategies), source)


def parse_settings(document: dict[str, Any], base: Path, overrides: dict[str, Any], problems: list[str],
                   sections: tuple[str, ...] = SECTIONS) -> tuple[tuple[str, ...], Synthetic | None,
                                                                  OrchestratorConfig | None]:
    """The [data] and [backtest] sections of a document: data paths (resolved against `base`) or
    synthetic data, and the settings (None if invalid); problems are appended to `problems`,
    unknown top-level sections (other than `sections`) too."""
    _unknown(document, sections, "", problems)
    data = _table(document, "data", problems)
    backtest = _table(document, "backtest", problems)
    _unknown(data, DATA_KEYS, "[data] ", problems)
    _unknown(backtest, BACKTEST_KEYS, "[backtest] ", problems)
    allocation = _table(document, "allocation", problems) if "allocation" in sections else {}
    _unknown(allocation, ALLOCATION_KEYS, "[allocation] ", problems)

    paths, synthetic = _data_source(data, base, problems)
    _register_resolver_class(backtest.get("conflict_mode"), base, problems)
    settings = {k: v for k, v in backtest.items() if k in BACKTEST_KEYS}
    settings.update({k: data[k] for k in DATA_SETTINGS if k in data})
    _register_allocator_class(allocation.get("policy"), base, problems)
    settings.update({ALLOCATION_FIELDS[k]: v for k, v in allocation.items() if k in ALLOCATION_FIELDS})
    if isinstance(settings.get("benchmark_path"), str) and settings["benchmark_path"] and \
            not Path(settings["benchmark_path"]).is_absolute():  # like the data paths: next to the file
        settings["benchmark_path"] = str(base / settings["benchmark_path"])
    settings.update(overrides)
    config = None
    try:
        config = OrchestratorConfig(**settings)
    except ConfigError as exc:
        problems += [_placed(p) for p in exc.problems]
    return paths, synthetic, config


def _capital(document: dict[str, Any], overrides: dict[str, Any]) -> Decimal | None:
    """The initial capital a document asks for, when its settings as a whole are invalid (so that
    weights can still be checked against it); None if it is itself invalid."""
    backtest = document.get("backtest")
    value = {**(backtest if isinstance(backtest, dict) else {}), **overrides}.get(
        "initial_capital", OrchestratorConfig.initial_capital)
    try:
        return to_decimal(value)
    except ValueError:
        return None


def _placed(problem: str) -> str:
    """A settings problem as the file says it: its section, and the [allocation] key it names."""
    key = problem.split(":", 1)[0].split(" ", 1)[0]
    if key in _ALLOCATION_KEY_OF:
        return f"[allocation] {_ALLOCATION_KEY_OF[key]}{problem[len(key):]}"
    return _section_of(problem) + problem


def _section_of(problem: str) -> str:
    key = problem.split(":", 1)[0].split(" ", 1)[0]
    if key in DATA_SETTINGS:
        return "[data] "
    return "[backtest] " if key in BACKTEST_KEYS else ""


_ALLOCATION_KEY_OF = {field: key for key, field in ALLOCATION_FIELDS.items()}


def _unknown(table: dict[str, Any], known: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in table:
        if key not in known:
            problems.append(f"{where}{key}: unknown key{did_you_mean(key, known)}")


def _table(document: dict[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, dict):
        problems.append(f"[{name}] must be a table, like [{name}] on its own line")
        return {}
    return value


def _data_source(data: dict[str, Any], base: Path, problems: list[str]) -> tuple[tuple[str, ...], Synthetic | None]:
    if "synthetic" in data:
        if "paths" in data:
            problems.append("[data]: give either paths or synthetic, not both")
        spec = data["synthetic"]
        if not isinstance(spec, dict):
            problems.append("[data] synthetic: write it like { symbols = 10, years = 2, seed = 42 }")
            return (), None
        _unknown(spec, SYNTHETIC_KEYS, "[data] synthetic.", problems)
        bad = [k for k in SYNTHETIC_KEYS if k in spec and
               (not isinstance(spec[k], int) or isinstance(spec[k], bool) or spec[k] < (0 if k == "seed" else 1))]
        for key in bad:
            problems.append(f"[data] synthetic.{key}: must be a positive whole number, got {spec[key]!r}")
        if bad:
            return (), None
        synthetic = Synthetic(**{k: v for k, v in spec.items() if k in SYNTHETIC_KEYS})
        bars = synthetic.symbols * synthetic.years * 252
        if bars > MAX_SYNTHETIC_BARS:
            problems.append(f"[data] synthetic: {synthetic.symbols} symbols x {synthetic.years} years is "
                            f"{bars:,} bars, more than the {MAX_SYNTHETIC_BARS:,} sqlorch generates; "
                            "ask for fewer symbols or years")
            return (), None
        return (), synthetic
    paths = data.get("paths", list(DEFAULT_PATHS))
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        problems.append('[data] paths: must be a list of files or globs, like ["data/*.csv"]')
        return (), None
    return tuple(p if Path(p).is_absolute() else str(base / p) for p in paths), None


def strategy_class(reference: Any, base: Path, where: str, problems: list[str]) -> type | None:
    """The class a strategy entry's `class` names (None, with the problem noted, if it cannot)."""
    if not isinstance(reference, str):
        problems.append(f'{where} class: missing; give a built-in name like "sma_cross" or "module:Class"')
        return None
    try:
        return resolve_class(reference, base)
    except ValueError as exc:
        problems.append(f"{where} class: {exc}")
        return None


def _register_resolver_class(mode: Any, base: Path, problems: list[str]) -> None:
    """`conflict_mode = "module:Class"` imports a user's resolver and registers it under that name."""
    if not isinstance(mode, str) or ":" not in mode or mode in resolver_names():
        return
    try:
        cls = resolve_class(mode, base, shape=("resolve", "a resolver: it has no resolve(orders) method"))
        register_resolver(mode, cls())
    except (ValueError, TypeError) as exc:
        problems.append(f"[backtest] conflict_mode: {exc}")
    except Exception as exc:  # a user's constructor may raise anything
        problems.append(f"[backtest] conflict_mode: {mode}() raised {type(exc).__name__}: {exc}")


def _register_allocator_class(policy: Any, base: Path, problems: list[str]) -> None:
    """`policy = "module:Class"` imports a user's allocator, checks its shape, and registers an
    instance under that name."""
    if not isinstance(policy, str) or ":" not in policy or policy in allocator_names():
        return
    try:
        cls = resolve_class(policy, base, shape=ALLOCATOR_SHAPE)
        register_allocator(policy, cls())
    except (ValueError, TypeError) as exc:
        problems.append(f"[allocation] policy: {exc}")
    except Exception as exc:  # a user's constructor may raise anything
        problems.append(f"[allocation] policy: {policy}() raised {type(exc).__name__}: {exc}")


STRATEGY_SHAPE = ("on_bar", "a strategy: it has no on_bar(ctx) method")
ALLOCATOR_SHAPE = ("weights", "an allocator: it has no weights(window) method")


def resolve_class(reference: str, base: Path, shape: tuple[str, str] = STRATEGY_SHAPE) -> type:
    """A class from a built-in strategy name or "package.module:Class" (importable from `base`),
    checked to have the method `shape` names before anything calls it (ValueError otherwise).
    Importing the module runs it (a configuration names code to load by design); a module that
    fails to import is a ValueError naming its file and line."""
    if reference in BUILTINS:
        return BUILTINS[reference]
    if ":" not in reference:
        raise ValueError(f"{reference!r} is not a built-in strategy{did_you_mean(reference, list(BUILTINS))}; "
                         f"built-ins are {', '.join(BUILTINS)}, or give \"package.module:Class\"")
    module_name, _, class_name = reference.partition(":")
    sys.path.insert(0, str(base))
    importlib.invalidate_caches()  # a directory's listing is cached by its path: "." may be another directory now
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ValueError(f"cannot import module {module_name!r} ({exc}); put it next to the configuration "
                             "file or install it") from None
        raise ValueError(f"module {module_name!r} failed to import at {_where(exc)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the module raises (or its syntax) is the user's to fix
        raise ValueError(f"module {module_name!r} failed to import at {_where(exc)}: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(base))
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        names = [n for n, v in vars(module).items() if isinstance(v, type)]
        raise ValueError(f"module {module_name!r} has no class {class_name!r}{did_you_mean(class_name, names)}")
    method, what = shape
    if not callable(getattr(found, method, None)):
        raise ValueError(f"{reference} is not {what}")
    return found


def _where(exc: BaseException) -> str:
    """`file, line N` where an import failed: the line of a syntax error, else the deepest frame."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if "importlib" not in f.filename] or frames
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else "import"


def _strategy(entry: dict[str, Any], number: int, base: Path, problems: list[str],
              capital: Decimal | None) -> StrategySpec | None:
    where = f"[[strategies]] #{number}"
    found = len(problems)
    _unknown(entry, STRATEGY_KEYS, f"{where} ", problems)
    reference, params = entry.get("class"), entry.get("params", {})
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"{where} name: must be a non-empty string")
    if not isinstance(params, dict):
        problems.append(f"{where} params: must be a table, like {{ fast = 10, slow = 50 }}")
        params = {}
    weight = None
    if "weight" not in entry:
        problems.append(f'{where} weight: missing; give the share of capital, like weight = "0.4"')
    else:
        try:
            weight = check_weight(entry["weight"], capital)
        except ValueError as exc:
            problems.append(f"{where} weight: {exc}")
    cls = strategy_class(reference, base, where, problems)
    if cls is not None:
        accepted = class_parameters(cls)
        for key in params:
            if accepted is not None and key not in accepted:
                problems.append(f"{where} params.{key}: {reference} has no parameter {key!r}"
                                f"{did_you_mean(key, accepted)}; it takes {', '.join(accepted) or 'none'}")
    for key, value in params.items():
        if isinstance(value, (list, dict)):
            problems.append(f"{where} params.{key}: a list or range of values is a grid; run it with "
                            "`sqlorch grid`, or give one value here")
    if len(problems) > found or cls is None or weight is None:
        return None
    try:
        strategy = cls(**params)
    except ConfigError as exc:
        problems += [f"{where} params: {p}" for p in exc.problems]
        return None
    except Exception as exc:  # a user's constructor may raise anything
        problems.append(f"{where}: {reference}({params}) raised {type(exc).__name__}: {exc}")
        return None
    if name is not None:
        try:
            strategy.name = name
        except AttributeError:
            problems.append(f"{where} name: {reference} does not allow setting its name")
            return None
    return StrategySpec(strategy, weight)


def _check_names(entries: list[dict[str, Any]], problems: list[str]) -> None:
    """A problem for every strategy name given to more than one entry (ids must be unique)."""
    names = [e.get("name") for e in entries]
    for name in sorted({n for n in names if isinstance(n, str) and n.strip() and names.count(n) > 1}):
        numbers = ", ".join(f"#{k}" for k, n in enumerate(names, start=1) if n == name)
        problems.append(f"[[strategies]] {numbers} name: {name!r} is given to {names.count(name)} strategies; "
                        "names must be unique: rename all but one")


def strategy_entries(document: dict[str, Any], problems: list[str], hint: str) -> list[dict[str, Any]]:
    """The document's [[strategies]] tables; a problem (ending in `hint` when there are none)
    for each way they are missing or malformed."""
    entries = document.get("strategies", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append("[[strategies]]: write each strategy as its own [[strategies]] table")
        entries = []
    if not entries:
        problems.append(f"[[strategies]]: no strategies; {hint}")
    return entries
