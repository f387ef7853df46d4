-- reads: sleeve_cash, positions, run_strategies
-- makes: allocations, each sleeve's capital at the close of every bar:
--        allocated = initial + realized P&L - commissions (= cash + net cost basis),
--        used = cost basis of open positions (shorts reserve their notional),
--        available = allocated - used
CREATE OR REPLACE VIEW allocations AS
WITH held AS (
    SELECT run_id, strategy_id, bar_index,
           sum(cost_basis) AS net_basis, sum(abs(cost_basis)) AS used
    FROM positions
    GROUP BY run_id, strategy_id, bar_index
)
SELECT c.run_id, c.strategy_id, c.bar_index, c.ts, s.weight,
       c.cash + coalesce(h.net_basis, 0) AS allocated_capital,
       coalesce(h.used, 0) AS used_capital,
       c.cash + coalesce(h.net_basis, 0) - coalesce(h.used, 0) AS available_capital
FROM sleeve_cash c
JOIN run_strategies s ON s.run_id = c.run_id AND s.strategy_id = c.strategy_id
LEFT JOIN held h ON h.run_id = c.run_id AND h.strategy_id = c.strategy_id AND h.bar_index = c.bar_index;
