-- reads: comparison
-- makes: a run's rows of the comparison view, strategies in list order then the portfolio,
--        without run_id and position (parameters: run_id)
SELECT * EXCLUDE (run_id, position)
FROM comparison
WHERE run_id = ?
ORDER BY position NULLS LAST;
