-- reads: nothing
-- makes: DuckDB setting {setting} (filled in as a quoted identifier) set to the value ?
SET {setting} = ?;
