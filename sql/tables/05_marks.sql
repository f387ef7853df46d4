-- reads: nothing (filled by load/marks.sql from bars and clocks)
-- makes: marks, each symbol's last known close at every clock bar from its first bar on
CREATE TABLE IF NOT EXISTS marks (
    dataset_id VARCHAR,
    symbol     VARCHAR,
    bar_index  INTEGER,
    ts         TIMESTAMP,
    close      DECIMAL(18, 6)
);
