"""Combination search (SPEC §9, issue 24 item 4): every subset of a line-up under each allocation
policy is what the orchestrated run of that subset gives (its metrics through the warehouse SQL);
subsets assembled from single runs equal the same subsets re-run; members whose orders would
interact are re-run; and every subset and policy is a trial of the study."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from sqlorch import CombinationSearch, OrchestratorConfig, Signal, StrategyOrchestrator
from sqlorch.backtest.results import METRIC_NAMES
from sqlorch.bars.synthetic import synthetic_bars
from sqlorch.errors import ConfigError
from sqlorch.grid.combine import scaled_weights
from sqlorch.money import isclose
from sqlorch.store.warehouse import Warehouse
from sqlorch.strategies import BuyAndHold, Momentum, RSIStrategy, SMACross


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return synthetic_bars(symbols=3, years=1, seed=3)


def config(**settings) -> OrchestratorConfig:
    return OrchestratorConfig(warehouse=None, log_dir=None, allocation_lookback=20, **settings)


IDS = ("sma_cross", "momentum", "rsi_strategy")


def line_up() -> list:
    return [(SMACross(fast=5, slow=20), Decimal("0.5")), (Momentum(lookback=10), Decimal("0.3")),
            (RSIStrategy(), Decimal("0.2"))]


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or isclose(a, b)


def orchestrated(row: dict, strategies: dict, cfg: OrchestratorConfig, bars, warehouse: Warehouse):
    """The orchestrated run (SQL path) of a result row's subset under its policy, and its closed trades."""
    pairs = [(strategies[sid], Decimal(w)) for sid, w in zip(row["strategies"], row["weights"])]
    result = StrategyOrchestrator(pairs, dataclasses.replace(cfg, allocation=row["policy"])).run(
        bars, warehouse=warehouse)
    closed = warehouse.query("SELECT count(*) AS n FROM trades WHERE run_id = ? AND status = 'closed'",
                             [result.run_id])["n"][0]
    return result, closed


def check_against_runs(table: pl.DataFrame, make, cfg: OrchestratorConfig, bars) -> int:
    """Every completed row of `table` equals its orchestrated run (`make()`: fresh strategies by
    id); returns how many were checked."""
    warehouse = Warehouse(None)
    checked = 0
    for row in table.filter(pl.col("status") == "completed").iter_rows(named=True):
        strategies = make()
        result, closed = orchestrated(row, strategies, cfg, bars, warehouse)
        metrics = result.aggregate_metrics
        for name in METRIC_NAMES:
            assert same(getattr(metrics, name), row[name]), (row["strategies"], row["policy"], name,
                                                             getattr(metrics, name), row[name])
        assert result.final_equity == row["final_equity"], (row["strategies"], row["policy"])
        assert closed == row["closed_trade_count"]
        checked += 1
    return checked


def test_every_subset_equals_its_orchestrated_run(bars):
    """Under fixed, equal and risk_parity: all 7 subsets of 3 strategies, each equal (every metric,
    final equity, closed trades) to StrategyOrchestrator(subset, config).run(bars) in the warehouse."""
    cfg = config()
    result = CombinationSearch(line_up(), cfg, policies=["fixed", "equal", "risk_parity"], workers=1).run(bars)
    table = result.table
    assert table.height == 21 and (table["status"] == "completed").all()
    assert table.filter(pl.col("policy") == "fixed")["assembled"].all()  # zero costs: nothing interacts
    assert not table.filter((pl.col("policy") != "fixed") & (pl.col("size") > 1))["assembled"].any()
    assert check_against_runs(table, lambda: dict(zip(IDS, (s for s, _ in line_up()))), cfg, bars) == 21
    fixed = table.filter((pl.col("policy") == "fixed") & (pl.col("size") == 2)).row(0, named=True)
    assert fixed["strategies"] == ["sma_cross", "momentum"] and fixed["weights"] == ["0.625", "0.375"]


def test_assembled_and_re_run_subsets_agree(bars):
    """The same search assembled (where it may) and re-run throughout gives the same table."""
    cfg = config()
    fast = CombinationSearch(line_up(), cfg, policies=["fixed", "equal"], workers=1).run(bars).table
    slow = CombinationSearch(line_up(), cfg, policies=["fixed", "equal"], workers=1, assemble=False).run(bars).table
    assert fast["assembled"].sum() == 10 and not slow["assembled"].any()  # fixed's 7, equal's 3 single ones
    for name in (*METRIC_NAMES, "closed_trade_count", "return_count", "mean_return", "stdev_return", "skewness",
                 "kurtosis", "probabilistic_sharpe_ratio", "rank"):
        for a, b in zip(fast[name].to_list(), slow[name].to_list()):
            assert same(a, b), name
    assert fast["final_equity"].to_list() == slow["final_equity"].to_list()


def twins() -> list:
    """Two strategies with orders on the same symbols at the same bar (both buy everything at once)."""
    return [BuyAndHold(), Momentum(lookback=10), BuyAndHold()]


@pytest.mark.parametrize("settings, assembled", [
    ({}, True),  # net_signal without costs: netting changes no fill, so the pair is assembled
    ({"commission_bps": 10.0}, False),  # the net order's commission is split pro rata: re-run
    ({"conflict_mode": "first_wins"}, False),  # the second order is cancelled: re-run
])
def test_interacting_members_are_re_run(bars, settings, assembled):
    """Two BuyAndHolds order the same symbols at the same bar: with costs or another conflict mode
    their subset is re-run, without costs under net_signal it is assembled; either way it equals
    the orchestrated run."""
    cfg = config(**settings)
    table = CombinationSearch(twins(), cfg, policies=["fixed"], workers=1).run(bars).table
    pair = table.filter(pl.col("strategies") == pl.lit(["buy_and_hold", "buy_and_hold_2"]))
    assert pair["assembled"].to_list() == [assembled]
    assert table.filter(pl.col("size") == 1)["assembled"].all()
    assert check_against_runs(table, lambda: dict(zip(["buy_and_hold", "momentum", "buy_and_hold_2"], twins())),
                              cfg, bars) == 7


def test_priorities_apply_to_the_subsets_holding_their_strategies(bars):
    """first_wins with priorities naming one strategy: a subset without it runs (its orchestrated
    run could not name it), one with it equals the orchestrated run with those priorities."""
    cfg = config(conflict_mode="first_wins", priorities={"buy_and_hold_2": 1})
    table = CombinationSearch(twins(), cfg, policies=["fixed", "equal"], workers=1).run(bars).table
    assert (table["status"] == "completed").all()
    both = table.filter(pl.col("strategies").list.contains("buy_and_hold_2")
                        & pl.col("strategies").list.contains("buy_and_hold"))
    assert both.height == 4 and not both["assembled"].any()  # the twins' orders meet: re-run
    assert check_against_runs(both, lambda: dict(zip(["buy_and_hold", "momentum", "buy_and_hold_2"], twins())),
                              cfg, bars) == 4


def test_bounds_that_cannot_hold_skip_the_subset(bars):
    """max_weight 0.4: a subset of one or two strategies cannot hold it under a moving policy (it is
    skipped and no trial), under fixed it runs; three strategies can."""
    result = CombinationSearch(line_up(), config(max_weight=0.4), policies=["fixed", "equal"], workers=1).run(bars)
    table = result.table
    skipped = table.filter(pl.col("status") == "skipped")
    assert skipped["policy"].unique().to_list() == ["equal"] and skipped["size"].max() == 2
    assert skipped.height == 6 and "max_weight 0.4" in skipped["error"][0]
    assert skipped["rank"].null_count() == 6
    assert result.trials == 8  # 7 fixed + the 3-strategy equal subset


def test_trials_add_up_in_a_study(bars, tmp_path):
    """Every completed subset and policy is a trial of the study, and searches of one study add up;
    the search is a grid_runs row of kind combination with a grid_results row per trial."""
    cfg = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None, allocation_lookback=20)
    first = CombinationSearch(line_up(), cfg, policies=["fixed"], study="mix", workers=1).run(bars)
    second = CombinationSearch(line_up(), cfg, policies=["equal"], max_size=2, study="mix", workers=1).run(bars)
    assert (first.trials, second.trials) == (7, 13)
    assert 0 <= second.deflated_sharpe_ratio <= 1 and 0 <= second.pbo <= 1
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        kinds = con.execute("SELECT kind, combination_count, completed_count, study FROM grid_runs "
                            "ORDER BY started_at").fetchall()
        assert kinds == [("combination", 7, 7, "mix"), ("combination", 6, 6, "mix")]
        params = con.execute("SELECT params FROM grid_results WHERE run_id = ? ORDER BY combination",
                             [second.run_id]).fetchall()
        assert json.loads(params[3][0]) == {"strategies": ["sma_cross", "momentum"], "policy": "equal",
                                            "weights": ["0.625", "0.375"], "assembled": False}
        curves = con.execute("SELECT strategy_id, count(*) FROM combination_curves WHERE run_id = ? GROUP BY ALL "
                             "ORDER BY min(position)", [first.run_id]).fetchall()
        assert curves == [("sma_cross", 252), ("momentum", 252), ("rsi_strategy", 252)]
        best = con.execute("SELECT params ->> 'policy', rank FROM grid_results WHERE run_id = ? AND rank = 1",
                           [first.run_id]).fetchall()
        assert best == [("fixed", 1)]


def test_a_warehouse_from_before_combinations_gains_the_kind_column(bars, tmp_path):
    """Migration 010: grid_runs without `kind` gains it, its searches being grid searches."""
    from sqlorch import GridSearch

    cfg = OrchestratorConfig(warehouse=str(tmp_path / "w.duckdb"), log_dir=None)
    GridSearch(SMACross, {"fast": [5, 10], "slow": [30]}, cfg, workers=1).run(bars)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("ALTER TABLE grid_runs DROP COLUMN kind")
        con.execute("UPDATE sqlorch_meta SET value = 'older' WHERE key = 'schema'")
    CombinationSearch(line_up(), cfg, policies=["fixed"], max_size=1, workers=1).run(bars)
    GridSearch(SMACross, {"fast": [5, 10], "slow": [30]}, cfg, workers=1).run(bars)  # a grid search says nothing
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT kind FROM grid_runs ORDER BY started_at").fetchall() == [
            ("grid",), ("combination",), ("grid",)]


class Fails:
    """A Python strategy that buys the first symbol, then raises on its 50th call."""

    name = "fails"

    def __init__(self):
        self.calls = 0

    def on_bar(self, ctx):
        self.calls += 1
        if self.calls == 50:
            raise RuntimeError("boom")
        return [Signal.buy(ctx.symbols[0], weight=0.5)] if self.calls == 1 else []


def test_a_failing_member_fails_its_subsets_only(bars):
    result = CombinationSearch([Momentum(lookback=10), Fails()], config(), policies=["fixed", "equal"],
                               workers=1).run(bars)
    table = result.table
    failed = table.filter(pl.col("status") == "failed")
    assert failed["strategies"].to_list() == [["fails"], ["momentum", "fails"], ["fails"], ["momentum", "fails"]]
    assert all("boom" in e for e in failed["error"])
    assert table.filter(pl.col("status") == "completed")["strategies"].to_list() == [["momentum"], ["momentum"]]


def test_everything_wrong_is_said_at_once():
    with pytest.raises(ConfigError) as caught:
        CombinationSearch([(SMACross(), Decimal("0.5")), Momentum()], config(), policies=["equl", "fixed", "fixed"],
                          max_size=0, metric="sharp_ratio", workers=0)
    text = str(caught.value)
    for expected in ("'equl' is not an allocation policy", "did you mean 'equal'", "'fixed' is listed twice",
                     "max_size: must be a whole number >= 1", "'sharp_ratio' is not a metric",
                     "workers: must be a whole number >= 1", "give every strategy a weight, or none"):
        assert expected in text
    with pytest.raises(ConfigError, match="line_up: give a list"):
        CombinationSearch([], config())


def test_weights_scale_to_one_and_never_pass_it():
    assert scaled_weights([None, None, None]) == (Decimal("0.333333333333333333"),) * 3
    assert scaled_weights([Decimal("0.4"), Decimal("0.2")]) == (Decimal("0.666666666666666666"),
                                                                  Decimal("0.333333333333333333"))
    assert sum(scaled_weights([Decimal("0.3")] * 7)) <= 1


def test_the_result_shows_and_lists_its_best(bars):
    result = CombinationSearch(line_up(), config(), policies=["fixed"], workers=1).run(bars)
    top = result.top(3)
    assert top["rank"].to_list() == [1, 2, 3]
    assert result.best == {"strategies": top["strategies"][0].to_list(), "policy": "fixed"}
    assert result.best_trial == top["combination"][0]
    assert "CombinationResult" in repr(result) and "ranked by sharpe_ratio" in repr(result)
    assert "<svg" in result._repr_html_()


def test_worker_processes_give_the_same_table(bars):
    """Enough re-runs (120 subsets of 7 strategies under equal) to go to two worker processes: the
    same table as in this process."""
    def seven() -> list:
        return [SMACross(fast=5, slow=20), SMACross(fast=10, slow=40), Momentum(lookback=10), Momentum(lookback=30),
                RSIStrategy(), RSIStrategy(period=7), BuyAndHold()]

    here = CombinationSearch(seven(), config(), policies=["equal"], workers=1).run(bars).table
    there = CombinationSearch(seven(), config(), policies=["equal"], workers=2).run(bars).table
    assert here.height == 127 and int((~here["assembled"]).sum()) == 120
    assert here.drop("error").equals(there.drop("error"))
