-- reads: nothing
-- makes: the schema fingerprint the warehouse is now set up with, in sqlorch_meta (after
--        delete_schema_fingerprint.sql) (parameters: fingerprint)
INSERT INTO sqlorch_meta
VALUES ('schema', ?);
