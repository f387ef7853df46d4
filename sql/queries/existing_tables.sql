-- reads: duckdb_tables()
-- makes: which of the given names are tables of the warehouse (parameters: names, a list)
SELECT table_name
FROM duckdb_tables()
WHERE list_contains(?, table_name);
