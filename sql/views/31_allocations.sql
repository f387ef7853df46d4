-- reads: equity, run_strategies
-- makes: allocations, each sleeve's capital at the close of every bar:
--        allocated = initial + realized P&L - commissions + transfers (= cash + net cost basis),
--        used = cost basis of open positions (shorts reserve their notional),
--        available = allocated - used
CREATE OR REPLACE VIEW allocations AS
SELECT e.run_id, e.strategy_id, e.bar_index, e.ts, s.weight,
       e.cash + e.net_basis AS allocated_capital,
       e.used_capital,
       e.cash + e.net_basis - e.used_capital AS available_capital
FROM equity e
JOIN run_strategies s ON s.run_id = e.run_id AND s.strategy_id = e.strategy_id;
