-- reads: sleeve_cash, positions (of run $run_id)
-- makes: the rows of equity for run $run_id
INSERT INTO equity
SELECT c.run_id, c.strategy_id, c.bar_index, c.ts, c.cash,
       coalesce(p.market_value, 0), c.cash + coalesce(p.market_value, 0),
       coalesce(p.net_basis, 0), coalesce(p.used_capital, 0), coalesce(p.held, 0)
FROM sleeve_cash c
LEFT JOIN (
    SELECT strategy_id, bar_index, sum(market_value) AS market_value, sum(cost_basis) AS net_basis,
           sum(abs(cost_basis)) AS used_capital, count(*) AS held
    FROM positions
    WHERE run_id = $run_id
    GROUP BY strategy_id, bar_index
) p ON p.strategy_id = c.strategy_id AND p.bar_index = c.bar_index
WHERE c.run_id = $run_id;
