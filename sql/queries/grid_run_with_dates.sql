-- reads: grid_runs, clocks
-- makes: the grid_runs row of one search, with the first and last bar of its data (first_ts,
--        last_ts; NULL before its bars are stored) (parameters: run_id)
SELECT g.*, c.first_ts, c.last_ts
FROM grid_runs g
LEFT JOIN (SELECT dataset_id, min(ts) AS first_ts, max(ts) AS last_ts FROM clocks GROUP BY dataset_id) c
    USING (dataset_id)
WHERE g.run_id = ?;
