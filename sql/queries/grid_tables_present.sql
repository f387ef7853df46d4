-- reads: duckdb_tables()
-- makes: one row if the warehouse has the grid tables (grid_runs), else none (a file last
--        written by an older sqlorch, opened read-only, has not) (parameters: none)
SELECT 1
FROM duckdb_tables()
WHERE table_name = 'grid_runs';
