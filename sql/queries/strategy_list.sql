-- reads: run_strategies
-- makes: the strategies of a run in list order: strategy_id, position, class_name, params,
--        weight (DOUBLE), initial_capital (parameters: run_id)
SELECT strategy_id, position, class_name, params, weight::DOUBLE AS weight, initial_capital
FROM run_strategies
WHERE run_id = ?
ORDER BY position;
