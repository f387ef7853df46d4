-- reads: runs, grid_runs
-- makes: the run_id of the newest completed or failed run or completed grid search, or no row
--        (parameters: none)
SELECT run_id
FROM (SELECT run_id, started_at FROM runs WHERE status IN ('completed', 'failed')
      UNION ALL
      SELECT run_id, started_at FROM grid_runs WHERE status = 'completed')
ORDER BY started_at DESC, run_id DESC
LIMIT 1;
