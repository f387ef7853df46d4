-- reads: walkforward_runs, walkforward_folds
-- makes: one walk-forward run with the first test bar and last test bar of its folds (first_ts,
--        last_ts) (parameters: run_id)
SELECT r.*, min(f.test_start) AS first_ts, max(f.test_end) AS last_ts
FROM walkforward_runs r
LEFT JOIN walkforward_folds f USING (run_id)
WHERE r.run_id = ?
GROUP BY ALL;
