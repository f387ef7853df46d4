-- reads: runs
-- makes: the run_id of the newest completed or failed run, or no row (parameters: none)
SELECT run_id
FROM runs
WHERE status IN ('completed', 'failed')
ORDER BY started_at DESC, run_id DESC
LIMIT 1;
