-- reads: nothing (filled by load/trades.sql when a run is written; earlier versions had a view
--        trades, which install_schema drops first)
-- makes: trades, one row per round trip of a sleeve in a symbol: direction, open or closed,
--        entry and exit, quantity, average prices, commission, P&L and return, and how it ended
CREATE TABLE IF NOT EXISTS trades (
    run_id      VARCHAR,
    strategy_id VARCHAR,
    symbol      VARCHAR,
    trade_no    BIGINT,          -- 1, 2, ... per sleeve and symbol
    direction   VARCHAR,         -- long, short
    status      VARCHAR,         -- open, closed
    entry_ts    TIMESTAMP,
    exit_ts     TIMESTAMP,       -- NULL while open
    entry_bar   INTEGER,
    exit_bar    INTEGER,
    bars_held   INTEGER,         -- to the last bar while open
    quantity    DECIMAL(38, 6),  -- the largest position of the trade
    entry_price DOUBLE,          -- average, over the fills that increased the position
    exit_price  DOUBLE,          -- average, over the fills that reduced it
    commission  DECIMAL(38, 6),
    pnl         DECIMAL(38, 12), -- after commissions; an open trade at the last mark
    return      DOUBLE,          -- pnl / entry value
    fill_count  BIGINT,
    exit_type   VARCHAR          -- signal, stop_loss, take_profit, trailing_stop, rebalance; open while open
);
