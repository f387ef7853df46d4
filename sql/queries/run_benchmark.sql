-- reads: benchmarks
-- makes: the symbol of a run's benchmark: one row, or none for a run without one
--        (parameters: run_id)
SELECT any_value(symbol) AS symbol
FROM benchmarks
WHERE run_id = ?
HAVING count(*) > 0;
