-- reads: fills, transfers, run_clock, run_strategies
-- makes: sleeve_cash, each sleeve's cash at the close of every bar: its starting capital, less
--        what its fills cost (price x quantity + commission), plus rebalancing transfers
CREATE OR REPLACE VIEW sleeve_cash AS
WITH flows AS (
    SELECT run_id, strategy_id, bar_index, quantity::DECIMAL(38, 6) * price + commission AS amount
    FROM fills
    UNION ALL
    SELECT run_id, strategy_id, bar_index, -amount
    FROM transfers
), spent AS (
    SELECT run_id, strategy_id, bar_index, sum(amount) AS amount
    FROM flows
    GROUP BY run_id, strategy_id, bar_index
)
SELECT c.run_id, s.strategy_id, c.bar_index, c.ts,
       s.initial_capital - coalesce(sum(f.amount) OVER (
           PARTITION BY c.run_id, s.strategy_id ORDER BY c.bar_index ROWS UNBOUNDED PRECEDING), 0) AS cash
FROM run_clock c
JOIN run_strategies s ON s.run_id = c.run_id
LEFT JOIN spent f ON f.run_id = c.run_id AND f.strategy_id = s.strategy_id AND f.bar_index = c.bar_index;
