-- reads: metrics
-- makes: a run's rows of metrics: one per strategy and one for 'portfolio' (parameters: run_id)
SELECT *
FROM metrics
WHERE run_id = ?;
