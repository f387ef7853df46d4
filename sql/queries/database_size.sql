-- reads: pragma_database_size(), duckdb_connection_count()
-- makes: of the open database file: its block size, the blocks in use, and how many connections
--        this process has to it (parameters: none)
SELECT block_size, used_blocks, (SELECT * FROM duckdb_connection_count())
FROM pragma_database_size()
WHERE database_name = current_database();
