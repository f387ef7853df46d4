-- reads: runs, run_clock
-- makes: the runs row of one run, with the first and last bar of its clock (first_ts, last_ts;
--        NULL before its bars are stored) (parameters: run_id)
SELECT r.*, c.first_ts, c.last_ts
FROM runs r
LEFT JOIN (SELECT run_id, min(ts) AS first_ts, max(ts) AS last_ts FROM run_clock GROUP BY run_id) c
    USING (run_id)
WHERE r.run_id = ?;
