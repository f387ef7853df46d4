-- reads: walkforward_runs
-- makes: how many walk-forwards have the run id given (0 or 1) (parameters: run_id)
SELECT count(*) FROM walkforward_runs WHERE run_id = ?;
