-- reads: sleeve_cash, positions
-- makes: strategy_equity, each sleeve's cash, market value and equity at the close of every bar
CREATE OR REPLACE VIEW strategy_equity AS
WITH valued AS (
    SELECT run_id, strategy_id, bar_index, sum(market_value) AS market_value
    FROM positions
    GROUP BY run_id, strategy_id, bar_index
)
SELECT c.run_id, c.strategy_id, c.bar_index, c.ts, c.cash,
       coalesce(v.market_value, 0) AS market_value,
       c.cash + coalesce(v.market_value, 0) AS equity
FROM sleeve_cash c
LEFT JOIN valued v ON v.run_id = c.run_id AND v.strategy_id = c.strategy_id AND v.bar_index = c.bar_index;
