-- reads: grid_sensitivity
-- makes: a grid search's rows of the grid_sensitivity view, by strategy, parameter (in its
--        position), value and metric, without run_id (parameters: run_id)
SELECT * EXCLUDE (run_id)
FROM grid_sensitivity
WHERE run_id = ?
ORDER BY strategy_id, position, number NULLS LAST, value, metric;
