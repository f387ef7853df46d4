-- reads: nothing
-- makes: table {table} renamed to {new_name}, its rows kept (a table an older version named
--        differently); both filled in as quoted identifiers
ALTER TABLE {table} RENAME TO {new_name};
