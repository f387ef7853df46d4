-- reads: nothing
-- makes: signals, every signal a strategy returned, with the target it was sized to and its
--        strategy_signal event (the view events derives that event from these columns)
CREATE TABLE IF NOT EXISTS signals (
    run_id            VARCHAR,
    strategy_id       VARCHAR,
    seq               BIGINT,
    bar_index         INTEGER,
    ts                TIMESTAMP,
    symbol            VARCHAR,
    side              VARCHAR,        -- buy, sell, exit
    weight            DOUBLE,
    reason            VARCHAR,
    target_quantity   DECIMAL(18, 6), -- NULL when the symbol had no price yet
    order_id          BIGINT,         -- NULL when the target equalled the position
    event_seq         BIGINT,         -- the seq of its strategy_signal event in the run's audit trail
    logged_at         TIMESTAMP,      -- when that event was logged (wall clock, UTC)
    capital_available DOUBLE,         -- the sleeve's available capital then, as logged
    orders            VARCHAR         -- its order options as JSON ({"stop_loss":0.05,...}); NULL if none
);
