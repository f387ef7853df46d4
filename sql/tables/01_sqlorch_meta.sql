-- reads: nothing
-- makes: sqlorch_meta, key/value facts about the warehouse (schema fingerprint, version)
CREATE TABLE IF NOT EXISTS sqlorch_meta (
    key   VARCHAR,
    value VARCHAR
);
