-- reads: grid_runs
-- makes: the run_id of a combination search (a grid_runs row of kind 'combination') if the
--        warehouse holds it, else no row (parameters: run_id)
SELECT run_id
FROM grid_runs
WHERE run_id = ? AND kind = 'combination';
