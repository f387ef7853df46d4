-- reads: daily_returns, run_strategies
-- makes: each strategy's daily returns in run $1, strategies in list order and each day by day:
--        strategy_id, position, day, ret (one row with NULLs for a strategy without returns)
SELECT s.strategy_id, s.position, d.day, d.ret
FROM run_strategies s
LEFT JOIN daily_returns d ON d.run_id = s.run_id AND d.series = s.strategy_id
WHERE s.run_id = $1
ORDER BY s.position, d.day;
