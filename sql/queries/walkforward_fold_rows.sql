-- reads: walkforward_folds
-- makes: a walk-forward's folds, per strategy in time order (every column but run_id)
--        (parameters: run_id)
SELECT * EXCLUDE (run_id)
FROM walkforward_folds
WHERE run_id = ?
ORDER BY strategy_id, fold;
