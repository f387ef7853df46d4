-- reads: grid_runs
-- makes: a grid search that stopped marked failed, finished now, with its error and duration
--        (parameters: error, duration_seconds, run_id)
UPDATE grid_runs
SET status = 'failed', error = ?, duration_seconds = ?, finished_at = now()::TIMESTAMP
WHERE run_id = ?;
