-- reads: runs
-- makes: a written run's final status, error, finish time, duration and bars stepped
--        (parameters: status, error, duration_seconds, bars_processed, run_id)
UPDATE runs SET status = ?, error = ?, finished_at = now()::TIMESTAMP, duration_seconds = ?, bars_processed = ?
WHERE run_id = ?;
