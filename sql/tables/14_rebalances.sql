-- reads: nothing
-- makes: rebalances, one row per sleeve per rebalance: its share of the sleeves' equity before,
--        its target, and what was planned to bring it back (cash moved now, positions sold or
--        bought at the next open)
CREATE TABLE IF NOT EXISTS rebalances (
    run_id         VARCHAR,
    rebalance_id   BIGINT,
    bar_index      INTEGER,
    ts             TIMESTAMP,
    strategy_id    VARCHAR,
    equity_before  DECIMAL(38, 12),
    share_before   DOUBLE,
    target_share   DOUBLE,
    target_equity  DECIMAL(38, 12),
    cash_moved     DECIMAL(38, 12),       -- > 0 received, < 0 given at the bar's close
    position_trade DECIMAL(38, 12)        -- value of positions to buy (> 0) or sell (< 0) next open
);
