-- reads: _sqlorch_incoming (an Arrow table registered on the connection)
-- makes: its rows appended to table {table} (filled in as a quoted identifier), columns by name
INSERT INTO {table} BY NAME SELECT * FROM _sqlorch_incoming;
