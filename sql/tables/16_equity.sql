-- reads: nothing (filled by load/equity.sql when a run is written)
-- makes: equity, each sleeve's books at the close of every bar: cash, positions at their marks,
--        equity, the cost basis of open positions (net, and in use) and how many it holds
CREATE TABLE IF NOT EXISTS equity (
    run_id       VARCHAR,
    strategy_id  VARCHAR,
    bar_index    INTEGER,
    ts           TIMESTAMP,
    cash         DECIMAL(38, 12),
    market_value DECIMAL(38, 12),
    equity       DECIMAL(38, 12),
    net_basis    DECIMAL(38, 12),    -- signed: shorts count negative
    used_capital DECIMAL(38, 12),    -- longs and shorts alike
    held         INTEGER             -- symbols with an open position
);
