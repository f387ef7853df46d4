-- reads: run_strategies, equity
-- makes: per sleeve of a run, in list order: strategy_id, weight, initial_capital, and at the
--        last bar its equity, allocated, used and available capital (DECIMAL(38, 6))
--        (parameters: run_id)
SELECT s.strategy_id, s.weight, s.initial_capital,
       arg_max(e.equity, e.bar_index)::DECIMAL(38, 6),
       arg_max(e.cash + e.net_basis, e.bar_index)::DECIMAL(38, 6),
       arg_max(e.used_capital, e.bar_index)::DECIMAL(38, 6),
       arg_max(e.cash + e.net_basis - e.used_capital, e.bar_index)::DECIMAL(38, 6)
FROM run_strategies s
JOIN equity e USING (run_id, strategy_id)
WHERE run_id = ?
GROUP BY s.strategy_id, s.weight, s.initial_capital, s.position
ORDER BY s.position;
