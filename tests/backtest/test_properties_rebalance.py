"""Property tests with drift rebalancing on, under every conflict mode (hypothesis).

The bars, scripted strategies, weights and configurations come from test_properties. Every
number is checked against a recomputation from the raw tables (fills, transfers, bars),
not against the views being tested:
1. equity identity: portfolio equity = sum of sleeve equities + unallocated cash, exactly,
   at every bar; each sleeve's cash = its capital - sum(notional + commission) over its
   fills (notional = quantity x price rounded to a micro unit, SPEC §3) + its transfers;
   each sleeve's equity = cash + positions at the last close;
2. no negative cash in a long-only sleeve without a per-order fee;
3. whole lots in every fill and every rebalancing order;
4. transfers only move cash: each rebalance's transfers add up to zero, and a sleeve that
   received cash never bought a symbol it did not hold when the rebalance was decided.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
from hypothesis import given
from hypothesis import strategies as st
from test_properties import configs, examples, is_whole_lots, markets, run_orchestrated, scripts, weight_lists


@st.composite
def rebalancing_cases(draw):
    market = draw(markets())
    n = draw(st.integers(2, 4))
    weights = draw(weight_lists(n))
    scripts_ = [draw(scripts(len(market.clock), market.symbols)) for _ in range(n)]
    cfg = draw(configs())
    cfg["rebalance_threshold"] = draw(st.sampled_from([0.01, 0.05, 0.1, 0.3]))
    cfg["rebalance_every"] = draw(st.sampled_from([None, 1, 3]))
    return market, scripts_, weights, cfg


CHECK_SQL = """
WITH clock AS (
    SELECT bar_index, ts FROM run_clock WHERE run_id = $run
), sl AS (
    SELECT strategy_id, initial_capital FROM run_strategies WHERE run_id = $run
), flows AS (
    SELECT strategy_id, bar_index, -(round_even(quantity::DECIMAL(38, 6) * price, 6) + commission) AS amount
    FROM fills WHERE run_id = $run
    UNION ALL
    SELECT strategy_id, bar_index, amount FROM transfers WHERE run_id = $run
), cash AS (
    SELECT sl.strategy_id, c.bar_index, sl.initial_capital + coalesce(sum(f.amount), 0) AS cash
    FROM sl CROSS JOIN clock c
    LEFT JOIN flows f ON f.strategy_id = sl.strategy_id AND f.bar_index <= c.bar_index
    GROUP BY sl.strategy_id, sl.initial_capital, c.bar_index
), held AS (
    SELECT f.strategy_id, c.bar_index, c.ts, f.symbol, sum(f.quantity) AS qty
    FROM clock c JOIN fills f ON f.run_id = $run AND f.bar_index <= c.bar_index
    GROUP BY f.strategy_id, c.bar_index, c.ts, f.symbol
), valued AS (
    SELECT h.strategy_id, h.bar_index, sum(h.qty::DECIMAL(38, 6) * b.close) AS market_value
    FROM held h
    ASOF JOIN (SELECT symbol, ts, close FROM bars WHERE dataset_id = $ds) b
      ON b.symbol = h.symbol AND b.ts <= h.ts
    GROUP BY h.strategy_id, h.bar_index
), sleeve AS (
    SELECT c.strategy_id, c.bar_index, c.cash, c.cash + coalesce(v.market_value, 0) AS equity
    FROM cash c LEFT JOIN valued v USING (strategy_id, bar_index)
)
SELECT s.strategy_id, s.bar_index, s.cash, s.equity, e.cash AS view_cash, e.equity AS view_equity,
       p.equity AS portfolio, (SELECT unallocated_capital FROM runs WHERE run_id = $run) AS unallocated
FROM sleeve s
JOIN strategy_equity e ON e.run_id = $run AND e.strategy_id = s.strategy_id AND e.bar_index = s.bar_index
JOIN portfolio_equity p ON p.run_id = $run AND p.bar_index = s.bar_index
ORDER BY s.bar_index, s.strategy_id
"""


def assert_books_add_up(rows: list[tuple], cfg: dict, bars: int) -> None:
    """The rows of CHECK_SQL: every sleeve's cash and equity as the views give them, no negative
    cash (long only, without a per-order fee), and at every one of the `bars` bars the
    portfolio's equity exactly its sleeves' plus the unallocated cash."""
    by_bar: dict[int, list] = {}
    for strategy_id, bar, cash, equity, view_cash, view_equity, portfolio, unallocated in rows:
        assert (cash, equity) == (view_cash, view_equity), (strategy_id, bar)
        if not cfg["allow_short"] and not cfg["commission_per_order"]:
            assert cash >= 0, (strategy_id, bar, cash)
        by_bar.setdefault(bar, [portfolio, unallocated, Decimal(0)])[2] += equity
    for bar, (portfolio, unallocated, sleeves) in by_bar.items():
        assert portfolio == sleeves + unallocated, bar
    assert len(by_bar) == bars


@examples(25)
@given(case=rebalancing_cases())
def test_invariants_with_rebalancing(tmp_path_factory, case) -> None:
    market, scripts_, weights, cfg = case
    path = str(tmp_path_factory.mktemp("rebalance") / "w.duckdb")
    result, _ = run_orchestrated(market, scripts_, weights, cfg, path)
    with duckdb.connect(path, read_only=True) as con:
        dataset = con.execute("SELECT dataset_id FROM runs WHERE run_id = ?", [result.run_id]).fetchall()[0][0]
        rows = con.execute(CHECK_SQL, {"run": result.run_id, "ds": dataset}).fetchall()
        transfers = con.execute("SELECT rebalance_id, sum(amount) FROM transfers WHERE run_id = ? GROUP BY ALL",
                                [result.run_id]).fetchall()
        quantities = con.execute("SELECT quantity FROM fills WHERE run_id = ? UNION ALL "
                                 "SELECT requested_quantity FROM decisions WHERE run_id = ? "
                                 "AND rebalance_id IS NOT NULL", [result.run_id, result.run_id]).fetchall()
        bought_new = con.execute("""
            SELECT d.strategy_id, d.symbol FROM decisions d
            WHERE d.run_id = $run AND d.rebalance_id IS NOT NULL AND d.requested_quantity > 0
              AND NOT EXISTS (SELECT 1 FROM fills f WHERE f.run_id = $run AND f.strategy_id = d.strategy_id
                              AND f.symbol = d.symbol AND f.bar_index <= d.decided_bar)""",
                                 {"run": result.run_id}).fetchall()
    assert_books_add_up(rows, cfg, len(market.clock))
    assert all(total == 0 for _, total in transfers)
    assert all(is_whole_lots(q, cfg["lot_size"]) for (q,) in quantities)
    assert bought_new == []

