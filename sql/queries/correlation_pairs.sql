-- reads: strategy_correlations
-- makes: every ordered pair of a run's strategies (diagonal included) in list order:
--        strategy_a, strategy_b, position_a, position_b, days, correlation, flag
--        (parameters: run_id)
SELECT strategy_a, strategy_b, position_a, position_b, days, correlation, flag
FROM strategy_correlations
WHERE run_id = ?
ORDER BY position_a, position_b;
