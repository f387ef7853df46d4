-- reads: fills, transfers, position_changes, marks (through held_at_marks), run_strategies, runs,
--        clocks (of run $run_id)
-- makes: the rows of equity for run $run_id. A sleeve's cash, net and used cost basis and
--        number of holdings change only on bars with fills or transfers: they are summed at
--        those bars and spread over the bars until the next change; only the market value of
--        open positions is summed bar by bar, as the view positions finds them (here from the
--        one position_changes both parts read: DuckDB would compute the view twice), each sleeve
--        by its number. Run with joins as written (warehouse.JOINS_AS_WRITTEN): each join
--        builds on its right side.
INSERT INTO equity
WITH run AS (
    SELECT dataset_id, bars_processed FROM runs WHERE run_id = $run_id
), changed AS MATERIALIZED (
    SELECT strategy_id, symbol, bar_index, quantity, cost_basis, next_bar_index
    FROM position_changes
    WHERE run_id = $run_id
), changes AS (
    SELECT strategy_id, bar_index,
           -(notional(quantity, price) + commission) AS cash, 0 AS net, 0 AS used, 0 AS held
    FROM fills
    WHERE run_id = $run_id
    UNION ALL
    SELECT strategy_id, bar_index, amount, 0, 0, 0
    FROM transfers
    WHERE run_id = $run_id
    UNION ALL
    SELECT strategy_id, 0, initial_capital::DECIMAL(38, 12), 0, 0, 0  -- (a union takes the narrower scale)
    FROM run_strategies
    WHERE run_id = $run_id
    UNION ALL
    SELECT strategy_id, bar_index, 0,
           open_basis - coalesce(lag(open_basis) OVER w, 0),
           abs(open_basis) - coalesce(abs(lag(open_basis) OVER w), 0),
           (quantity <> 0)::INTEGER - coalesce((lag(quantity) OVER w <> 0)::INTEGER, 0)
    FROM (SELECT *, CASE WHEN quantity <> 0 THEN cost_basis ELSE 0 END AS open_basis FROM changed)
    WINDOW w AS (PARTITION BY strategy_id, symbol ORDER BY bar_index)
), per_bar AS (
    SELECT strategy_id, bar_index, sum(cash) AS cash, sum(net) AS net, sum(used) AS used, sum(held) AS held
    FROM changes
    GROUP BY strategy_id, bar_index
), books AS (
    SELECT strategy_id, bar_index,
           sum(cash) OVER w AS cash, sum(net) OVER w AS net_basis,
           sum(used) OVER w AS used_capital, sum(held) OVER w AS held,
           coalesce(lead(bar_index) OVER w, (SELECT bars_processed FROM run)) AS until
    FROM per_bar
    WINDOW w AS (PARTITION BY strategy_id ORDER BY bar_index)
), spread AS (
    SELECT strategy_id, unnest(range(bar_index, until))::INTEGER AS bar_index,
           cash, net_basis, used_capital, held
    FROM books
), sleeves AS (
    SELECT strategy_id, position FROM run_strategies WHERE run_id = $run_id
), open AS (  -- each sleeve by its number: the 3.75 M rows of L held at marks carry no names
    SELECT $run_id AS run_id, v.position AS strategy_id, symbol, quantity, cost_basis, bar_index,
           (SELECT dataset_id FROM run) AS dataset_id,
           coalesce(next_bar_index, (SELECT bars_processed FROM run)) AS until
    FROM changed
    JOIN sleeves v USING (strategy_id)
    WHERE quantity <> 0
), market AS (
    SELECT v.strategy_id, m.bar_index, m.market_value
    FROM (SELECT strategy_id AS position, bar_index, sum(market_value) AS market_value
          FROM held_at_marks(open)
          GROUP BY ALL) m
    JOIN sleeves v USING (position)
)
SELECT $run_id, s.strategy_id, s.bar_index, c.ts, s.cash,
       coalesce(m.market_value, 0), s.cash + coalesce(m.market_value, 0),
       s.net_basis, s.used_capital, s.held
FROM spread s
JOIN clocks c ON c.dataset_id = (SELECT dataset_id FROM run) AND c.bar_index = s.bar_index
LEFT JOIN market m ON m.strategy_id = s.strategy_id AND m.bar_index = s.bar_index;
