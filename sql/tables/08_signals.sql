-- reads: nothing
-- makes: signals, every signal a strategy returned, with the target it was sized to
CREATE TABLE IF NOT EXISTS signals (
    run_id          VARCHAR,
    strategy_id     VARCHAR,
    seq             BIGINT,
    bar_index       INTEGER,
    ts              TIMESTAMP,
    symbol          VARCHAR,
    side            VARCHAR,        -- buy, sell, exit
    weight          DOUBLE,
    reason          VARCHAR,
    target_quantity DECIMAL(18, 6), -- NULL when the symbol had no price yet
    order_id        BIGINT          -- NULL when the target equalled the position
);
