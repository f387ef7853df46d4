"""Reading TOML configuration files: paths, sections, strategies and their messages."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from sqlorch import ConfigError
from sqlorch.config.plan import Synthetic, read_plan, resolve_class
from sqlorch.strategies import SMACross


def plan_of(tmp_path: Path, text: str, **overrides):
    path = tmp_path / "run.toml"
    path.write_text(textwrap.dedent(text))
    return read_plan(path, overrides)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        plan_of(tmp_path, text)
    return info.value.problems


MINIMAL = """
    [[strategies]]
    class = "buy_and_hold"
    weight = "1"
"""


def test_defaults(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, MINIMAL)
    assert plan.paths == (str(tmp_path / "data/*.csv"),) and plan.synthetic is None
    assert plan.config.initial_capital == Decimal("100000") and plan.config.warehouse == "warehouse/sqlorch.duckdb"
    (spec,) = plan.strategies
    assert type(spec.strategy).__name__ == "BuyAndHold" and spec.weight == Decimal("1")
    assert plan.source == str(tmp_path / "run.toml")


def test_paths_relative_to_the_file_absolute_kept_and_a_single_string(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, """
        [data]
        paths = ["bars/*.csv", "/abs/x.parquet"]
        start = "2020-01-01"
        end = "2020-06-30"
    """ + MINIMAL)
    assert plan.paths == (str(tmp_path / "bars/*.csv"), "/abs/x.parquet")
    assert str(plan.config.start) == "2020-01-01" and str(plan.config.end) == "2020-06-30"
    assert plan_of(tmp_path, '[data]\npaths = "one.csv"\n' + MINIMAL).paths == (str(tmp_path / "one.csv"),)


def test_overrides_replace_backtest_keys(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, '[backtest]\nwarehouse = "a.duckdb"\n' + MINIMAL, warehouse="b.duckdb", lock_timeout=3)
    assert plan.config.warehouse == "b.duckdb" and plan.config.lock_timeout == 3.0


def test_synthetic_data(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "[data]\nsynthetic = { symbols = 3, seed = 9 }\n" + MINIMAL)
    assert plan.synthetic == Synthetic(symbols=3, years=2, seed=9) and plan.paths == ()


@pytest.mark.parametrize("data, expected", [
    ('synthetic = { symbols = 0 }', "[data] synthetic.symbols: must be a positive whole number, got 0"),
    ('synthetic = { symbol = 3 }', "[data] synthetic.symbol: unknown key (did you mean 'symbols'?)"),
    ('synthetic = 3', "[data] synthetic: write it like { symbols = 10, years = 2, seed = 42 }"),
    ('synthetic = { symbols = 2 }\npaths = ["x.csv"]', "[data]: give either paths or synthetic, not both"),
    ("paths = []", '[data] paths: must be a list of files or globs, like ["data/*.csv"]'),
    ("paths = [1]", '[data] paths: must be a list of files or globs'),
])
def test_bad_data_sections(tmp_path: Path, data: str, expected: str) -> None:
    found = problems_of(tmp_path, f"[data]\n{data}\n" + MINIMAL)
    assert any(expected in p for p in found), found


def test_structure_problems(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """
        data = 3
        backtst = 1
        strategies = 5
    """)
    assert any("[data] must be a table" in p for p in found)
    assert any("backtst: unknown key (did you mean 'backtest'?)" in p for p in found)
    assert any("write each strategy as its own [[strategies]] table" in p for p in found)
    assert any("no strategies" in p for p in found)
    assert all(p.startswith(str(tmp_path / "run.toml") + ": ") for p in found)


def test_strategy_entry_problems(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """
        [[strategies]]
        class = "rsi"
        weigth = "0.5"
        name = ""
        params = 3

        [[strategies]]
        weight = "0.5"

        [[strategies]]
        class = "sma_cross"
        weight = "0.2"
        params = { fast = 50, slow = 10 }
    """)
    assert any("#1 weigth: unknown key (did you mean 'weight'?)" in p for p in found)
    assert any("#1 weight: missing" in p for p in found)
    assert any("#1 name: must be a non-empty string" in p for p in found)
    assert any("#1 params: must be a table" in p for p in found)
    assert any("#2 class: missing" in p for p in found)
    assert any("#3 params: sma_cross fast (50) must be less than slow (10)" in p for p in found)


def test_backtest_key_problems_name_their_section(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """
        [data]
        start = "2021-01-01"
        end = "2020-01-01"
        [backtest]
        lot_size = -1
    """ + MINIMAL)
    assert any("[backtest] lot_size: must be 0 (fractional)" in p for p in found)
    assert any("[data] start (2021-01-01) is after end (2020-01-01)" in p for p in found)


def test_user_classes_from_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        class Plain:
            def __init__(self, size=1):
                self.size = size
            def on_bar(self, ctx):
                return None

        class Flexible:
            def __init__(self, **options):
                self.options = options
            def on_bar(self, ctx):
                return None

        class Fussy:
            def __init__(self, level=1):
                raise RuntimeError("level too high")
            def on_bar(self, ctx):
                return None

        class Frozen:
            __slots__ = ()
            def on_bar(self, ctx):
                return None
    """))
    plan = plan_of(tmp_path, """
        [[strategies]]
        name = "p"
        class = "mine:Plain"
        weight = "0.2"
        params = { size = 3 }

        [[strategies]]
        class = "mine:Flexible"
        weight = "0.2"
        params = { anything = "goes" }
    """)
    plain, flexible = (s.strategy for s in plan.strategies)
    assert (plain.name, plain.size) == ("p", 3) and flexible.options == {"anything": "goes"}

    found = problems_of(tmp_path, """
        [[strategies]]
        class = "mine:Plian"
        weight = "0.2"

        [[strategies]]
        class = "mine:Plain"
        weight = "0.2"
        params = { sise = 3 }

        [[strategies]]
        class = "mine:Fussy"
        weight = "0.2"

        [[strategies]]
        class = "missing_module:X"
        weight = "0.2"

        [[strategies]]
        class = "mine:Frozen"
        name = "cold"
        weight = "0.2"
    """)
    assert any("module 'mine' has no class 'Plian' (did you mean 'Plain'?)" in p for p in found)
    assert any("params.sise: mine:Plain has no parameter 'sise' (did you mean 'size'?); it takes size" in p
               for p in found)
    assert any("mine:Fussy({}) raised RuntimeError: level too high" in p for p in found)
    assert any("cannot import module 'missing_module'" in p for p in found)
    assert any("name: mine:Frozen does not allow setting its name" in p for p in found)


def test_resolve_class() -> None:
    assert resolve_class("sma_cross", Path(".")) is SMACross
    assert resolve_class("sqlorch.strategies:SMACross", Path(".")) is SMACross
    with pytest.raises(ValueError, match="built-ins are buy_and_hold, sma_cross"):
        resolve_class("nonsense", Path("."))


def test_a_resolver_class_from_the_config_directory(tmp_path: Path, monkeypatch) -> None:
    import sqlorch.engine.conflicts

    monkeypatch.setattr(sqlorch.engine.conflicts, "_REGISTRY", dict(sqlorch.engine.conflicts._REGISTRY))  # leave no resolver behind
    (tmp_path / "myresolver.py").write_text(textwrap.dedent("""
        class Quiet:
            nets = False
            def resolve(self, orders):
                return []
    """))
    plan = plan_of(tmp_path, '[backtest]\nconflict_mode = "myresolver:Quiet"\n' + MINIMAL)
    assert plan.config.conflict_mode == "myresolver:Quiet"
    from sqlorch.engine.conflicts import get_resolver

    assert type(get_resolver("myresolver:Quiet")).__name__ == "Quiet"
    found = problems_of(tmp_path, '[backtest]\nconflict_mode = "myresolver:Loud"\n' + MINIMAL)
    assert any("[backtest] conflict_mode: module 'myresolver' has no class 'Loud'" in p for p in found)


# --- issue 20: nothing of a user's class is called before its shape is checked, and every problem
# (weights included) is reported at once with the file and entry


def test_a_class_that_is_not_a_strategy_is_never_called(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    found = problems_of(tmp_path, f"""
        [[strategies]]
        class = "subprocess:Popen"
        weight = "0.5"
        params = {{ args = "touch {marker}", shell = true }}
    """)
    assert any("#1 class: subprocess:Popen is not a strategy: it has no on_bar(ctx) method" in p for p in found)
    assert not marker.exists()
    found = problems_of(tmp_path, """
        [backtest]
        conflict_mode = "subprocess:Popen"
    """ + MINIMAL)
    assert any("conflict_mode: subprocess:Popen is not a resolver: it has no resolve(orders) method" in p
               for p in found)


@pytest.mark.parametrize(("source", "line", "error"), [
    ("x = 1\nraise RuntimeError('no data here')\n", 2, "RuntimeError: no data here"),
    ("class Broken(:\n    pass\n", 1, "SyntaxError"),
    ("import a_module_that_does_not_exist_20\n", 1, "No module named 'a_module_that_does_not_exist_20'"),
])
def test_a_module_that_fails_to_import_is_a_config_problem_naming_file_and_line(tmp_path: Path, source: str,
                                                                                line: int, error: str) -> None:
    name = f"failing_{abs(hash(source)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(source)
    found = problems_of(tmp_path, f'[[strategies]]\nclass = "{name}:X"\nweight = "1"\n')
    assert len(found) == 1
    assert f"module '{name}' failed to import at {tmp_path / name}.py, line {line}" in found[0]
    assert error in found[0]


def test_weight_problems_come_with_the_file_entry_and_the_other_problems(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """
        [backtest]
        commission_bps = 20000

        [[strategies]]
        class = "buy_and_hold"
        weight = 0

        [[strategies]]
        class = "rsi"
        weight = -0.2

        [[strategies]]
        class = "momentum"
        weight = "abc"

        [[strategies]]
        class = "sma_cross"
        weight = "nan"

        [[strategies]]
        class = "donchian"
        weight = 1e-13
    """)
    source = str(tmp_path / "run.toml")
    assert found == [
        f"{source}: [backtest] commission_bps: must be between 0 and 1000 (10% of the notional), got 20000.0",
        f"{source}: [[strategies]] #1 weight: must be more than 0, got 0",
        f"{source}: [[strategies]] #2 weight: must be more than 0, got -0.2",
        f"{source}: [[strategies]] #3 weight: 'abc' is not a number; write it like \"100000\"",
        f"{source}: [[strategies]] #4 weight: must be a finite amount, got 'nan'",
        f"{source}: [[strategies]] #5 weight: 1E-13 of the capital 100000 gives the sleeve 0.00000001, less than 1 "
        "(the smallest capital); raise the weight",
    ]


def test_weights_over_one_and_repeated_names_are_reported_with_the_file(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """
        [[strategies]]
        name = "x"
        class = "buy_and_hold"
        weight = "0.6"

        [[strategies]]
        name = "x"
        class = "rsi"
        weight = "0.6"
    """)
    assert found == [
        f"{tmp_path / 'run.toml'}: [[strategies]] #1, #2 name: 'x' is given to 2 strategies; names must be unique: "
        "rename all but one",
        f"{tmp_path / 'run.toml'}: [[strategies]] weight: the weights add up to 1.2, more than 1; lower them or set "
        "on_overweight = \"normalize\" in [backtest]",
    ]


def test_synthetic_data_is_bounded_and_round_prices_is_a_data_key(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "[data]\nsynthetic = { years = 100000 }\n" + MINIMAL)
    assert found == [f"{tmp_path / 'run.toml'}: [data] synthetic: 10 symbols x 100000 years is 252,000,000 bars, "
                     "more than the 10,000,000 sqlorch generates; ask for fewer symbols or years"]
    assert plan_of(tmp_path, "[data]\nround_prices = true\n" + MINIMAL).config.round_prices is True
    found = problems_of(tmp_path, "[backtest]\nround_prices = true\n" + MINIMAL)
    assert any("[backtest] round_prices: unknown key" in p for p in found)


def test_benchmark_keys_are_data_keys_and_risk_free_rate_a_backtest_key(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, '[data]\nbenchmark = "SPY"\n[backtest]\nrisk_free_rate = 0.03\n' + MINIMAL)
    assert (plan.config.benchmark, plan.config.risk_free_rate) == ("SPY", 0.03)
    plan = plan_of(tmp_path, '[data]\nbenchmark_path = "bench/spy.csv"\n' + MINIMAL)
    assert plan.config.benchmark_path == str(tmp_path / "bench/spy.csv")  # next to the file, like paths
    assert plan_of(tmp_path, '[data]\nbenchmark_path = "/abs/spy.csv"\n' + MINIMAL).config.benchmark_path == \
        "/abs/spy.csv"
    found = problems_of(tmp_path, '[data]\nbenchmark = "SPY"\nbenchmark_path = "spy.csv"\n' + MINIMAL)
    assert found == [f"{tmp_path / 'run.toml'}: [data] benchmark and benchmark_path: give one of them (a symbol of the "
                     "data, or a file of its own), not both"]
    found = problems_of(tmp_path, '[backtest]\nbenchmark = "SPY"\nrisk_free_rate = -2\n' + MINIMAL)
    assert any("[backtest] benchmark: unknown key" in p for p in found)
    assert any("[backtest] risk_free_rate: must be more than -1" in p for p in found)
