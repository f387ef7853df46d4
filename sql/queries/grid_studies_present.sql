-- reads: duckdb_columns()
-- makes: one row if grid_runs has its study column, else none (a file last written by an older
--        sqlorch, opened read-only, has not) (parameters: none)
SELECT 1
FROM duckdb_columns()
WHERE table_name = 'grid_runs' AND column_name = 'study';
