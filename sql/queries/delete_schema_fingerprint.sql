-- reads: sqlorch_meta
-- makes: no schema fingerprint in sqlorch_meta (before insert_schema_fingerprint.sql) (parameters: none)
DELETE FROM sqlorch_meta
WHERE key = 'schema';
