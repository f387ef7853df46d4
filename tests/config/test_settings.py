"""Configuration (sqlorch/config/settings.py) and the sleeve line-up (sqlorch/backtest/runner.py plan_sleeves)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import warnings
from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlorch import BacktestConfig, ConfigError, ConflictMode, OrchestratorConfig, StrategyOrchestrator
from sqlorch.backtest.runner import plan_sleeves
from sqlorch.config.settings import CONFIG_KEYS, to_decimal
from sqlorch.engine.domain import CapitalPolicy, FillMode, OverweightPolicy
from sqlorch.engine.strategy import unique_ids
from sqlorch.strategies import RSIStrategy, SMACross

NOWHERE = {"warehouse": None, "log_dir": None}


def problems_of(cls=BacktestConfig, **kwargs):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    return info.value.problems


# ------------------------------------------------------------------------------ defaults and coercion


def test_defaults_follow_the_spec():
    c = OrchestratorConfig()
    assert c.initial_capital == D(100000) and isinstance(c.initial_capital, D)
    assert (c.commission_bps, c.commission_per_order, c.slippage_bps) == (0.0, D(0), 0.0)
    assert c.fill is FillMode.NEXT_OPEN and c.lot_size == 1 and c.allow_short is False
    assert c.on_insufficient_capital is CapitalPolicy.CLIP
    assert c.on_overweight is OverweightPolicy.REJECT and c.conflict_mode is ConflictMode.NET_SIGNAL
    assert (c.start, c.end, c.rebalance_threshold, c.rebalance_every, c.priorities) == (None,) * 5
    assert c.log_dir == "logs/backtest" and c.warehouse == "warehouse/sqlorch.duckdb"


def test_orchestrator_config_has_every_backtest_field_plus_its_own():
    backtest = {f.name for f in dataclasses.fields(BacktestConfig)}
    orchestrator = {f.name for f in dataclasses.fields(OrchestratorConfig)}
    assert orchestrator - backtest == {"conflict_mode", "priorities", "rebalance_threshold", "rebalance_every",
                                       "on_overweight", "allocation", "allocation_lookback", "allocation_every",
                                       "min_weight", "max_weight"}
    assert set(CONFIG_KEYS) == orchestrator
    for key in ("initial_capital", "commission_bps", "commission_per_order", "slippage_bps", "fill", "lot_size",
                "allow_short", "on_insufficient_capital", "start", "end", "log_dir", "warehouse"):
        assert key in backtest


def test_values_are_coerced_to_their_types():
    c = OrchestratorConfig(initial_capital=" 250000.50 ", commission_bps="1.5", commission_per_order=1,
                           slippage_bps=D("2"), fill="close", on_insufficient_capital="reject",
                           start="2015-01-02", end=dt.date(2016, 12, 31), conflict_mode="net_signal",
                           on_overweight="normalize", lock_timeout=3, **NOWHERE)
    assert c.initial_capital == D("250000.50") and isinstance(c.initial_capital, D)
    assert c.commission_bps == 1.5 and isinstance(c.commission_bps, float)
    assert c.commission_per_order == D(1) and isinstance(c.commission_per_order, D)
    assert c.slippage_bps == 2.0 and isinstance(c.slippage_bps, float)
    assert c.fill is FillMode.CLOSE
    assert c.on_insufficient_capital is CapitalPolicy.REJECT
    assert c.start == dt.date(2015, 1, 2) and c.end == dt.date(2016, 12, 31)
    assert c.conflict_mode is ConflictMode.NET_SIGNAL and c.on_overweight is OverweightPolicy.NORMALIZE
    assert c.lock_timeout == 3.0 and isinstance(c.lock_timeout, float)
    assert BacktestConfig(start="2015-01-02 09:30:00").start == dt.datetime(2015, 1, 2, 9, 30)
    assert BacktestConfig(initial_capital=1000.1).initial_capital == D("1000.1")  # via repr, not binary


def test_to_decimal():
    assert to_decimal(D("1.5")) == D("1.5")
    assert to_decimal(7) == D(7)
    assert to_decimal("1e3") == D(1000)
    assert to_decimal(0.3) == D("0.3")
    assert to_decimal(np.float32(0.25)) == D("0.25") and to_decimal(np.int64(3)) == D(3)  # numpy scalars
    for bad, message in [(True, "expected an amount, got True"), ("abc", "'abc' is not a number"),
                         (float("nan"), "must be a finite amount"), ("inf", "must be a finite amount"),
                         ([1], "expected an amount, got list [1]"), (None, "expected an amount, got NoneType")]:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            to_decimal(bad)


def test_config_is_frozen():
    c = BacktestConfig(**NOWHERE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lot_size = 5
    with pytest.raises(TypeError):
        BacktestConfig(lot=5)  # unknown key


# ------------------------------------------------------------------------------ validation messages


@pytest.mark.parametrize(("cls", "key", "value", "message"), [
    (BacktestConfig, "initial_capital", "abc", "initial_capital: 'abc' is not a number; write it like \"100000\""),
    (BacktestConfig, "initial_capital", 0, "initial_capital: must be between 1 and 1,000,000,000,000 (1e12), got 0"),
    (BacktestConfig, "initial_capital", "-5", "initial_capital: must be between 1 and 1,000,000,000,000 (1e12), "
                                              "got -5"),
    (BacktestConfig, "initial_capital", "0.5", "initial_capital: must be between 1 and 1,000,000,000,000 (1e12), "
                                               "got 0.5"),
    (BacktestConfig, "initial_capital", "1e13", "initial_capital: must be between 1 and 1,000,000,000,000 (1e12), "
                                                "got 1E+13"),
    (BacktestConfig, "initial_capital", True, "initial_capital: expected an amount, got True"),
    (BacktestConfig, "initial_capital", "NaN", "initial_capital: must be a finite amount, got 'NaN'"),
    (BacktestConfig, "commission_bps", -1, "commission_bps: must be between 0 and 1000 (10% of the notional), "
                                           "got -1.0"),
    (BacktestConfig, "commission_bps", 20000, "commission_bps: must be between 0 and 1000 (10% of the notional), "
                                              "got 20000.0"),
    (BacktestConfig, "commission_bps", "x", "commission_bps: 'x' is not a number"),
    (BacktestConfig, "commission_bps", None, "commission_bps: expected a number, got None"),
    (BacktestConfig, "commission_bps", float("inf"), "commission_bps: must be finite, got inf"),
    (BacktestConfig, "commission_per_order", "-1", "commission_per_order: must be between 0 and 1,000,000,000 "
                                                   "(1e9), got -1"),
    (BacktestConfig, "commission_per_order", "2e9", "commission_per_order: must be between 0 and 1,000,000,000 "
                                                    "(1e9), got 2E+9"),
    (BacktestConfig, "lot_size", 10**10, "lot_size: must be 0 (fractional) or a positive whole number up to "
                                         "1,000,000,000, got 10000000000"),
    (BacktestConfig, "round_prices", "yes", "round_prices: expected true or false, got 'yes'"),
    (BacktestConfig, "slippage_bps", 10000, "slippage_bps: must be between 0 and 10000, got 10000.0"),
    (BacktestConfig, "slippage_bps", -0.5, "slippage_bps: must be between 0 and 10000, got -0.5"),
    (BacktestConfig, "fill", "nextopen", "fill: 'nextopen' is not one of next_open, close (did you mean 'next_open'?)"),
    (BacktestConfig, "fill", "Close", "fill: 'Close' is not one of next_open, close (did you mean 'close'?)"),
    (BacktestConfig, "fill", 3, "fill: 3 is not one of next_open, close"),
    (BacktestConfig, "lot_size", 1.5, "lot_size: expected a whole number, got 1.5"),
    (BacktestConfig, "lot_size", True, "lot_size: expected a whole number, got True"),
    (BacktestConfig, "lot_size", -1, "lot_size: must be 0 (fractional) or a positive whole number up to 1,000,000,000, "
                                     "got -1"),
    (BacktestConfig, "allow_short", "yes", "allow_short: expected true or false, got 'yes'"),
    (BacktestConfig, "on_insufficient_capital", "clipp",
     "on_insufficient_capital: 'clipp' is not one of clip, reject (did you mean 'clip'?)"),
    (BacktestConfig, "start", "2015-13-01", "start: '2015-13-01' is not a date; write it like \"2015-01-31\""),
    (BacktestConfig, "end", 20150101, "end: 20150101 is not a date"),
    (BacktestConfig, "periods_per_year", 0, "periods_per_year: must be positive, got 0"),
    (BacktestConfig, "periods_per_year", 252.0, "periods_per_year: expected a whole number, got 252.0"),
    (BacktestConfig, "log_dir", "", "log_dir: expected a path, got ''"),
    (BacktestConfig, "warehouse", 5, "warehouse: expected a path, got 5"),
    (BacktestConfig, "lock_timeout", -1, "lock_timeout: must be 0 or more seconds, got -1.0"),
    (OrchestratorConfig, "conflict_mode", "first_win",
     "conflict_mode: 'first_win' is not one of net_signal, first_wins, cancel_both, weighted "
     "(did you mean 'first_wins'?)"),
    (OrchestratorConfig, "on_overweight", "normalise",
     "on_overweight: 'normalise' is not one of reject, normalize (did you mean 'normalize'?)"),
    (OrchestratorConfig, "priorities", "trend", "priorities: expected a table of strategy_id = rank"),
    (OrchestratorConfig, "priorities", {"a": 0, "b": True, "c": 2},
     "priorities: ranks must be whole numbers >= 1 (1 = highest); check a, b"),
    (OrchestratorConfig, "rebalance_threshold", 1.5,
     "rebalance_threshold: must be between 0 and 1 (0.10 = 10 points), got 1.5"),
    (OrchestratorConfig, "rebalance_every", 0, "rebalance_every: must be a positive number of bars, got 0"),
    (BacktestConfig, "risk_free_rate", -1,
     "risk_free_rate: must be more than -1 (an annual rate: 0.02 = 2%), got -1.0"),
    (BacktestConfig, "risk_free_rate", "2%", "risk_free_rate: '2%' is not a number"),
    (BacktestConfig, "risk_free_rate", math.inf, "risk_free_rate: must be finite"),
    (BacktestConfig, "benchmark", "", "benchmark: expected a symbol of the data, like \"SPY\", got ''"),
    (BacktestConfig, "benchmark", 5, "benchmark: expected a symbol of the data"),
    (BacktestConfig, "benchmark_path", "", "benchmark_path: expected a path, got ''"),
])
def test_each_validation_message(cls, key, value, message):
    problems = problems_of(cls, **{key: value})
    assert any(p.startswith(message) for p in problems), problems


def test_benchmark_and_risk_free_rate():
    c = BacktestConfig(benchmark="SPY", risk_free_rate="0.02")
    assert (c.benchmark, c.benchmark_path, c.risk_free_rate) == ("SPY", None, 0.02)
    assert BacktestConfig().risk_free_rate == 0.0 and BacktestConfig().benchmark is None
    assert problems_of(benchmark="SPY", benchmark_path="spy.csv") == [
        "benchmark and benchmark_path: give one of them (a symbol of the data, or a file of its own), not both"]


def test_start_after_end():
    assert problems_of(start="2016-01-01", end="2015-01-01") == ["start (2016-01-01) is after end (2015-01-01)"]
    BacktestConfig(start="2015-01-01", end="2015-01-01", **NOWHERE)  # the same day is fine


@pytest.mark.parametrize("mode", ["net_signal", "first_wins", "cancel_both", "weighted", ConflictMode.WEIGHTED])
def test_every_conflict_mode_is_accepted(mode):
    assert OrchestratorConfig(conflict_mode=mode, **NOWHERE).conflict_mode == ConflictMode(mode)


def test_unknown_conflict_mode_lists_the_choices():
    (problem,) = problems_of(OrchestratorConfig, conflict_mode="first_win")
    assert problem == ("conflict_mode: 'first_win' is not one of net_signal, first_wins, cancel_both, weighted "
                       "(did you mean 'first_wins'?); register your own with sqlorch.engine.conflicts.register_resolver")


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("priorities", {"trend": 0}, "priorities: ranks must be whole numbers >= 1 (1 = highest); check trend"),
    ("priorities", [1, 2], "priorities: expected a table of strategy_id = rank, like { trend = 1, rsi = 2 }"),
    ("rebalance_threshold", 0, "rebalance_threshold: must be between 0 and 1 (0.10 = 10 points), got 0.0"),
    ("rebalance_threshold", "x", "rebalance_threshold: 'x' is not a number"),
    ("rebalance_every", 0, "rebalance_every: must be a positive number of bars, got 0"),
])
def test_rebalancing_and_priority_values_are_checked(key, value, expected):
    (problem,) = problems_of(OrchestratorConfig, **{key: value})
    assert problem == expected


def test_rebalancing_and_priorities_are_kept():
    config = OrchestratorConfig(priorities={"trend": 1}, rebalance_threshold=0.1, rebalance_every=5, **NOWHERE)
    assert dict(config.priorities) == {"trend": 1}
    assert (config.rebalance_threshold, config.rebalance_every) == (0.1, 5)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        OrchestratorConfig(initial_capital="-5", commission_bps=-1, slippage_bps=20000, fill="nope",
                           lot_size=1.5, allow_short="yes", on_insufficient_capital="clipp",
                           start="2015-13-01", periods_per_year=0, log_dir="", lock_timeout=-1,
                           conflict_mode="weighed", rebalance_every=0)
    error = info.value
    assert isinstance(error, ValueError)
    keys = [p.split(":")[0].split(" ")[0] for p in error.problems]
    assert keys == ["initial_capital", "commission_bps", "slippage_bps", "fill", "lot_size", "allow_short",
                    "on_insufficient_capital", "start", "periods_per_year", "log_dir", "lock_timeout",
                    "conflict_mode", "rebalance_every"]
    message = str(error)
    assert message.startswith("13 configuration problem(s):\n  - initial_capital: ")
    assert message.count("\n  - ") == 13


# ------------------------------------------------------------------------------ plan_sleeves


class Named:
    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def on_bar(self, ctx):
        return None


class MyFancyStrategy(Named):
    pass


def test_weights_over_one_are_rejected():
    with pytest.raises(ValueError) as info:
        StrategyOrchestrator([(Named("a"), D("0.7")), (Named("b"), D("0.5"))], OrchestratorConfig(**NOWHERE))
    assert isinstance(info.value, ConfigError)
    assert info.value.problems == ["weights add up to 1.2, more than 1; lower them or set "
                                   "on_overweight = \"normalize\""]


def test_weights_up_to_one_and_unallocated_cash():
    plan = plan_sleeves([(Named("a"), D("0.5")), (Named("b"), "0.3")], OrchestratorConfig(**NOWHERE))
    assert plan.ids == ["a", "b"]
    assert plan.weights == [D("0.5"), D("0.3")]
    assert plan.capitals == [D(50000), D(30000)]
    assert plan.unallocated == D(20000)
    full = plan_sleeves([(Named(n), D("0.25")) for n in "abcd"], OrchestratorConfig(**NOWHERE))  # exactly 1: fine
    assert full.unallocated == 0


def test_normalize_scales_weights_proportionally_and_warns():
    config = OrchestratorConfig(on_overweight="normalize", **NOWHERE)
    with pytest.warns(UserWarning, match="scaled down proportionally"):
        plan = plan_sleeves([(Named("a"), D("0.9")), (Named("b"), D("0.6"))], config)
    assert plan.weights == [D("0.6"), D("0.4")]
    assert plan.capitals == [D(60000), D(40000)]
    assert plan.unallocated == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan_sleeves([(Named("a"), D("0.5"))], config)  # not overweight: no warning


def test_normalized_capitals_never_exceed_the_initial_capital():
    """SPEC §3: sleeve i starts with initial_capital x w_i and 1 - sum(w) stays unallocated, so the
    sleeves together never hold more than the initial capital. Seven equal weights normalized to
    1/7 give each sleeve money(100000 / 7) = money(14285.7142857...) = 14285.714286 (rounded up),
    together 100000.000002 > 100000: unallocated is -0.000002 (money from nowhere)."""
    config = OrchestratorConfig(on_overweight="normalize", **NOWHERE)
    with pytest.warns(UserWarning):
        plan = plan_sleeves([(Named(f"s{i}"), 1) for i in range(7)], config)
    assert sum(plan.capitals) <= config.initial_capital
    assert plan.unallocated >= 0


def test_zero_negative_and_bad_weights_reported_together():
    with pytest.raises(ConfigError) as info:
        plan_sleeves([(Named("a"), 0), (Named("b"), D("-0.1")), (Named("c"), "abc"), (Named("d"), True)],
                     OrchestratorConfig(**NOWHERE))
    assert info.value.problems == [
        "weight of a: must be more than 0, got 0",
        "weight of b: must be more than 0, got -0.1",
        "weight of c: 'abc' is not a number; write it like \"100000\"",
        "weight of d: expected an amount, got True",
    ]


def test_strategy_ids_default_names_and_duplicates():
    plan = plan_sleeves([(Named(), D("0.1")), (Named(), D("0.1")), (MyFancyStrategy(), D("0.1")),
                         (Named("trend"), D("0.1")), (Named("named_3"), D("0.1")), (Named(""), D("0.1")),
                         (SMACross(), D("0.1")), (RSIStrategy(), D("0.1"))], OrchestratorConfig(**NOWHERE))
    # the third unnamed Named skips named_3, which an explicit name took
    assert plan.ids == ["named", "named_2", "my_fancy_strategy", "trend", "named_3", "named_4", "sma_cross",
                        "rsi_strategy"]


def test_generated_ids_skip_every_id_taken():
    # names x, x, x_2: two class-named strategies and one named x_2 explicitly
    class X(Named):
        pass

    plan = plan_sleeves([(X(), D("0.3")), (X(), D("0.3")), (Named("x_2"), D("0.3"))], OrchestratorConfig(**NOWHERE))
    assert plan.ids == ["x", "x_3", "x_2"]
    plan = plan_sleeves([(Named("x"), D("0.3")), (X(), D("0.3"))], OrchestratorConfig(**NOWHERE))
    assert plan.ids == ["x", "x_2"]


def test_two_equal_explicit_names_are_a_config_error():
    with pytest.raises(ConfigError) as info:
        plan_sleeves([(Named("x"), D("0.3")), (Named("x"), D("0.3")), (Named("x_2"), D("0.3"))],
                     OrchestratorConfig(**NOWHERE))
    assert info.value.problems == ["strategy name 'x' is given to 2 strategies; names must be unique: "
                                   "rename all but one"]


@given(st.lists(st.tuples(st.sampled_from(["a", "a_2", "a_3", "b", "named", "named_2"]), st.booleans()),
                max_size=12))
def test_strategy_ids_are_unique_for_any_names(entries):
    names = [name for name, _ in entries]
    explicit = [given for _, given in entries]
    given = [n for n, e in entries if e]
    if len(set(given)) < len(given):
        with pytest.raises(ConfigError, match="names must be unique"):
            unique_ids(names, explicit)
        return
    ids = unique_ids(names, explicit)
    assert len(set(ids)) == len(ids)
    assert all(i == n for i, (n, e) in zip(ids, entries) if e)  # explicit names are kept
    assert all(i == n or i.startswith(n + "_") for i, n in zip(ids, names))


def test_reserved_name_missing_on_bar_and_no_strategies():
    with pytest.raises(ConfigError) as info:
        plan_sleeves([(Named("portfolio"), D("0.5")), (object(), D("0.2"))], OrchestratorConfig(**NOWHERE))
    first, second = info.value.problems
    assert first.startswith("strategy #1: the name 'portfolio' is reserved")
    assert second.startswith("strategy #2 (object) has no on_bar(ctx) method")
    with pytest.raises(ConfigError, match="no strategies"):
        plan_sleeves([], OrchestratorConfig(**NOWHERE))
