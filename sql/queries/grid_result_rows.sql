-- reads: grid_results
-- makes: a grid search's rows of grid_results, by strategy and combination, without run_id
--        (parameters: run_id)
SELECT * EXCLUDE (run_id)
FROM grid_results
WHERE run_id = ?
ORDER BY strategy_id, combination;
