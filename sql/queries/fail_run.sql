-- reads: runs
-- makes: a run still running marked failed with its error (parameters: error, run_id)
UPDATE runs SET status = 'failed', error = ?, finished_at = now()::TIMESTAMP
WHERE run_id = ? AND status = 'running';
