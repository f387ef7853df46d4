-- reads: the DuckDB settings
-- makes: the current value of one DuckDB setting (parameters: name)
SELECT current_setting(?);
