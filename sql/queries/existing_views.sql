-- reads: duckdb_views()
-- makes: which of the given names are views of the warehouse (parameters: names, a list)
SELECT view_name
FROM duckdb_views()
WHERE NOT internal AND list_contains(?, view_name);
