-- reads: nothing
-- makes: allocation_targets, one row per sleeve per allocation date (SPEC §7): the policy, the
--        sleeve's share of the sleeves' equity at the close of the allocation bar before capital
--        moved, its target weight (the targets of one date sum to the budget, the sum of the
--        configured weights) and what the policy weighed (per-bar volatility, or the total return
--        over the lookback for momentum; NULL if nothing)
CREATE TABLE IF NOT EXISTS allocation_targets (
    run_id       VARCHAR,
    bar          INTEGER,               -- the clock's bar index
    ts           TIMESTAMP,
    strategy_id  VARCHAR,
    policy       VARCHAR,
    share_before DOUBLE,
    target       DOUBLE,
    statistic    DOUBLE
);
