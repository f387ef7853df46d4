-- reads: nothing
-- makes: decisions, the fate of every order: accepted, clipped, rejected, expired, cancelled
CREATE TABLE IF NOT EXISTS decisions (
    run_id             VARCHAR,
    order_id           BIGINT,
    strategy_id        VARCHAR,
    symbol             VARCHAR,
    decided_bar        INTEGER,
    decided_ts         TIMESTAMP,
    resolved_bar       INTEGER,
    resolved_ts        TIMESTAMP,
    requested_quantity DECIMAL(18, 6),
    filled_quantity    DECIMAL(18, 6),
    kind               VARCHAR,
    reason             VARCHAR,
    rebalance_id       BIGINT          -- the rebalance that placed the order; NULL for strategies
);
