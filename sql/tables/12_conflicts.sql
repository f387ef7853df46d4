-- reads: nothing
-- makes: conflicts, one row per symbol and bar where several strategies had orders, with how
--        the configured resolver (conflict_mode) settled it, and its conflict_detected event
--        (the view events derives that event from these columns)
CREATE TABLE IF NOT EXISTS conflicts (
    run_id                VARCHAR,
    conflict_id           BIGINT,
    bar_index             INTEGER,        -- the bar the orders met (their fill bar)
    ts                    TIMESTAMP,
    symbol                VARCHAR,
    mode                  VARCHAR,        -- the resolver's name: net_signal, first_wins, ...
    strategies            VARCHAR[],      -- strategies with an order, in strategy-list order
    standing              VARCHAR[],      -- those whose order stood (the others were cancelled)
    orders                VARCHAR,        -- JSON list of {strategy_id, order_id, quantity}
    outcome               VARCHAR,        -- what happened, in words
    net_quantity          DECIMAL(38, 6), -- what went to the market when netted (signed)
    crossed_quantity      DECIMAL(38, 6), -- matched internally between the strategies (one side)
    commission            DECIMAL(38, 6), -- paid by the standing orders
    commission_standalone DECIMAL(38, 6), -- what they would have paid as separate orders
    commission_saved      DECIMAL(38, 6),
    event_seq             BIGINT,         -- the seq of its conflict_detected event in the run's audit trail
    logged_at             TIMESTAMP       -- when that event was logged (wall clock, UTC)
);
