-- reads: nothing
-- makes: transfers, cash moved between sleeves by rebalancing (amount > 0 received, < 0 given)
CREATE TABLE IF NOT EXISTS transfers (
    run_id       VARCHAR,
    rebalance_id BIGINT,
    bar_index    INTEGER,
    ts           TIMESTAMP,
    strategy_id  VARCHAR,
    amount       DECIMAL(38, 12)
);
