"""Property tests with an allocation policy (SPEC §7), under every policy (hypothesis).

Random markets, scripted strategies, weights and costs come from test_properties; the checks
are those of test_properties_rebalance, recomputed from the raw tables (fills, transfers,
bars), not from the views being tested:
1. equity identity: portfolio equity = sleeve equities + unallocated cash, exactly, at every
   bar; each sleeve's cash and equity as its fills and transfers make them;
2. no negative cash in a long-only sleeve without a per-order fee;
3. whole lots in every fill and every rebalancing order;
4. transfers only move cash (each rebalance's add up to zero), and a sleeve that received
   cash never bought a symbol it did not hold;
and of the allocations: each date's targets sum to the budget and meet the bounds, and the
rebalance made on that bar aims at them (its target shares are target / budget).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st
from test_properties import configs, examples, is_whole_lots, markets, run_orchestrated, scripts, weight_lists
from test_properties_rebalance import CHECK_SQL, assert_books_add_up

from sqlorch import register_allocator


class Seesaw:
    """A policy of one's own: everything to one sleeve, then to the next, bar after bar."""

    def weights(self, window):
        n = len(window.ids)
        return [window.budget if i == window.bar % n else 0.0 for i in range(n)]


register_allocator("seesaw", Seesaw())
POLICIES = ["equal", "inverse_volatility", "risk_parity", "min_variance", "momentum", "seesaw"]


@st.composite
def allocation_cases(draw):
    market = draw(markets(max_bars=30))
    n = draw(st.integers(2, 4))
    weights = draw(weight_lists(n))
    scripts_ = [draw(scripts(len(market.clock), market.symbols)) for _ in range(n)]
    cfg = draw(configs())
    cfg["allocation"] = draw(st.sampled_from(POLICIES))
    cfg["allocation_lookback"] = draw(st.integers(2, 5))
    cfg["allocation_every"] = draw(st.sampled_from([1, 2, 3, "weekly", "daily"]))
    budget = float(min(sum(weights), Decimal(1)))
    if draw(st.booleans()):
        cfg["min_weight"] = draw(st.sampled_from([0.0, 0.5, 0.9])) * budget / n
        cfg["max_weight"] = budget / n + draw(st.sampled_from([0.1, 0.5, 1.0])) * (budget - budget / n)
    if draw(st.booleans()):
        cfg["rebalance_threshold"] = draw(st.sampled_from([0.01, 0.1]))
    return market, scripts_, weights, cfg


@examples(30)
@given(case=allocation_cases())
def test_invariants_under_every_policy(tmp_path_factory, case) -> None:
    market, scripts_, weights, cfg = case
    path = str(tmp_path_factory.mktemp("allocation") / "w.duckdb")
    result, _ = run_orchestrated(market, scripts_, weights, cfg, path)
    run = result.run_id
    with duckdb.connect(path, read_only=True) as con:
        dataset = con.execute("SELECT dataset_id FROM runs WHERE run_id = ?", [run]).fetchall()[0][0]
        rows = con.execute(CHECK_SQL, {"run": run, "ds": dataset}).fetchall()
        transfers = con.execute("SELECT rebalance_id, sum(amount) FROM transfers WHERE run_id = ? GROUP BY ALL",
                                [run]).fetchall()
        quantities = con.execute("SELECT quantity FROM fills WHERE run_id = ? UNION ALL "
                                 "SELECT requested_quantity FROM decisions WHERE run_id = ? "
                                 "AND rebalance_id IS NOT NULL", [run, run]).fetchall()
        bought_new = con.execute("""
            SELECT d.strategy_id, d.symbol FROM decisions d
            WHERE d.run_id = $run AND d.rebalance_id IS NOT NULL AND d.requested_quantity > 0
              AND NOT EXISTS (SELECT 1 FROM fills f WHERE f.run_id = $run AND f.strategy_id = d.strategy_id
                              AND f.symbol = d.symbol AND f.bar_index <= d.decided_bar)""", {"run": run}).fetchall()
        targets = con.execute("SELECT bar, strategy_id, target FROM allocation_targets WHERE run_id = ? "
                              "ORDER BY bar, strategy_id", [run]).fetchall()
        aimed = dict(((bar, sid), share) for bar, sid, share in con.execute(
            "SELECT bar_index, strategy_id, target_share FROM rebalances WHERE run_id = ?", [run]).fetchall())
        budget = float(con.execute("SELECT sum(weight) FROM run_strategies WHERE run_id = ?", [run]).fetchall()[0][0])
    assert_books_add_up(rows, cfg, len(market.clock))
    assert all(total == 0 for _, total in transfers)
    assert all(is_whole_lots(q, cfg["lot_size"]) for (q,) in quantities)
    assert bought_new == []
    lower, upper = cfg.get("min_weight", 0.0), cfg.get("max_weight", 1.0)
    dates: dict[int, float] = {}
    for bar, sid, target in targets:
        assert lower - 1e-12 <= target <= upper + 1e-12, (bar, sid, target)
        dates[bar] = dates.get(bar, 0.0) + target
        assert np.isclose(aimed[(bar, sid)], target / budget, rtol=1e-9, atol=1e-15), (bar, sid)  # weights' rounding
    assert all(np.isclose(total, budget, rtol=1e-9) for total in dates.values())
    event(f"allocation dates: {'some' if dates else 'none'}; capital moved: {'yes' if any(transfers) else 'no'}")
    lookback = cfg["allocation_lookback"]
    assert all(bar >= lookback for bar in dates)
