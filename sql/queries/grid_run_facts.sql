-- reads: grid_runs, clocks
-- makes: the facts `sqlorch grid` prints of a finished grid search: its grid_runs row and the
--        first and last bar of its data (parameters: run_id)
SELECT g.*, min(c.ts) AS first, max(c.ts) AS last
FROM grid_runs g
JOIN clocks c USING (dataset_id)
WHERE g.run_id = ?
GROUP BY ALL;
