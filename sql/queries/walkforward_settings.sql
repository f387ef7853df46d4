-- reads: walkforward_runs
-- makes: what a walk-forward's result is read back with: its metric, grids (JSON), first
--        capital and bars a year (parameters: run_id)
SELECT metric, grids, initial_capital, periods_per_year
FROM walkforward_runs
WHERE run_id = ?;
