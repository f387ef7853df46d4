-- reads: nothing (filled by load/clocks.sql from bars)
-- makes: clocks, the sorted distinct timestamps of each dataset, numbered from 0
CREATE TABLE IF NOT EXISTS clocks (
    dataset_id VARCHAR,
    bar_index  INTEGER,
    ts         TIMESTAMP
);
