-- reads: table {table} (filled in as a quoted identifier)
-- makes: the rows of run ? deleted from it
DELETE FROM {table} WHERE run_id = ?;
