-- reads: nothing
-- makes: bars, the OHLCV bars of every dataset (prices to 6 decimal places)
CREATE TABLE IF NOT EXISTS bars (
    dataset_id VARCHAR,
    symbol     VARCHAR,
    ts         TIMESTAMP,
    open       DECIMAL(18, 6),
    high       DECIMAL(18, 6),
    low        DECIMAL(18, 6),
    close      DECIMAL(18, 6),
    volume     DOUBLE
);
