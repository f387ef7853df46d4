-- reads: sqlorch_meta
-- makes: the schema fingerprint the warehouse was last set up with, or no row (parameters: none)
SELECT value
FROM sqlorch_meta
WHERE key = 'schema';
