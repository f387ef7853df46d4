-- reads: nothing
-- makes: decisions, the fate of every order: accepted, clipped, rejected, expired, cancelled, or
--        triggered (a protective order that fired and filled)
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
    rebalance_id       BIGINT,         -- the rebalance that placed the order; NULL for strategies
    order_type         VARCHAR,        -- market, limit, stop, stop_loss, take_profit, trailing_stop
    trigger_price      DECIMAL(18, 6)  -- a triggered protective order's stop or take-profit price; else NULL
);
