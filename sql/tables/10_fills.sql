-- reads: nothing
-- makes: fills, every execution, tagged with its strategy (sleeve); quantity signed
CREATE TABLE IF NOT EXISTS fills (
    run_id       VARCHAR,
    fill_id      BIGINT,
    order_id     BIGINT,
    strategy_id  VARCHAR,
    bar_index    INTEGER,
    ts           TIMESTAMP,
    symbol       VARCHAR,
    quantity     DECIMAL(18, 6),
    price        DECIMAL(18, 6),
    commission   DECIMAL(18, 6),
    realized_pnl DECIMAL(38, 12),   -- on the reduced part, before commission (average cost)
    order_type   VARCHAR            -- its order's: market, limit, stop, stop_loss, take_profit, trailing_stop
);
