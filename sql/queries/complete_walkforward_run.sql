-- reads: walkforward_runs
-- makes: a running walk-forward completed, finished now, with its fold count and duration
--        (parameters: fold_count, duration_seconds, run_id)
UPDATE walkforward_runs
SET status = 'completed', fold_count = ?, duration_seconds = ?, finished_at = now()::TIMESTAMP
WHERE run_id = ?;
