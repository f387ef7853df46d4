-- reads: runs
-- makes: the run_id of a backtest run if the warehouse holds it, else no row (parameters: run_id)
SELECT run_id
FROM runs
WHERE run_id = ?;
