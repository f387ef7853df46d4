"""The [data] settings `adjust` and `warmup` (SPEC §10): values, defaults, errors, TOML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlorch import BacktestConfig, ConfigError, OrchestratorConfig
from sqlorch.config.plan import read_plan


def test_defaults_trade_prices_as_they_are_with_automatic_warmup():
    for config in (BacktestConfig(), OrchestratorConfig()):
        assert config.adjust == "none" and config.warmup == "auto"


@pytest.mark.parametrize("value", [0, 1, 250, "auto"])
def test_warmup_values(value):
    assert BacktestConfig(warmup=value).warmup == value


@pytest.mark.parametrize("value", ["adjusted", "none"])
def test_adjust_values(value):
    assert OrchestratorConfig(adjust=value).adjust == value


def test_bad_values_are_reported_together_with_other_problems():
    with pytest.raises(ConfigError) as info:
        OrchestratorConfig(warmup=-1, adjust="adj", lot_size=-1)
    problems = info.value.problems
    assert len(problems) == 3
    assert any(p.startswith("adjust: 'adj' is not one of none, adjusted") for p in problems)
    assert any(p.startswith('warmup: must be "auto" or a whole number of bars >= 0') and "-1" in p for p in problems)
    assert any(p.startswith("lot_size:") for p in problems)


@pytest.mark.parametrize("value", ["automatic", "10", 2.5, True, None, -5])
def test_warmup_must_be_auto_or_a_bar_count(value):
    with pytest.raises(ConfigError, match=r'warmup: must be "auto" or a whole number of bars >= 0'):
        BacktestConfig(warmup=value)


def plan_of(tmp_path: Path, data: str):
    path = tmp_path / "run.toml"
    path.write_text(textwrap.dedent(data) + '\n[[strategies]]\nclass = "buy_and_hold"\nweight = "1"\n')
    return read_plan(path)


def test_toml_data_table_sets_them(tmp_path):
    plan = plan_of(tmp_path, """
        [data]
        paths = ["x.csv"]
        start = "2000-01-01"
        adjust = "adjusted"
        warmup = 120
    """)
    assert plan.config.adjust == "adjusted" and plan.config.warmup == 120


def test_toml_problems_name_the_data_table(tmp_path):
    with pytest.raises(ConfigError) as info:
        plan_of(tmp_path, """
            [data]
            adjust = "yes"
            warmup = "all"

            [backtest]
            slippage_bps = -1
        """)
    problems = info.value.problems
    assert len(problems) == 3
    assert any("[data] adjust: 'yes' is not one of none, adjusted" in p for p in problems)
    assert any('[data] warmup: must be "auto" or a whole number of bars >= 0' in p for p in problems)
    assert any("[backtest] slippage_bps" in p for p in problems)


def test_they_belong_in_data_not_backtest(tmp_path):
    with pytest.raises(ConfigError, match=r"\[backtest\] warmup: unknown key"):
        plan_of(tmp_path, "[backtest]\nwarmup = 3\n")
