-- reads: walkforward_runs
-- makes: a walk-forward that stopped marked failed, finished now, with its error and duration
--        (parameters: error, duration_seconds, run_id)
UPDATE walkforward_runs
SET status = 'failed', error = ?, duration_seconds = ?, finished_at = now()::TIMESTAMP
WHERE run_id = ?;
