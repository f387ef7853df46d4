-- reads: nothing
-- makes: datasets, one row per distinct set of bars (identified by a content hash)
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id   VARCHAR,
    created_at   TIMESTAMP,
    source       VARCHAR,
    symbol_count INTEGER,
    bar_count    BIGINT,
    first_ts     TIMESTAMP,
    last_ts      TIMESTAMP
);
