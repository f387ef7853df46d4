-- reads: runs
-- makes: a run whose process is gone marked `incomplete`, with why (parameters: error, run_id)
UPDATE runs
SET status = 'incomplete', error = ?
WHERE run_id = ?;
