-- reads: nothing (filled by load/portfolio_books.sql when a run is written)
-- makes: portfolio_books, the portfolio at the close of every bar: the sleeves' cash, market
--        value and equity summed, plus the capital no sleeve was given
CREATE TABLE IF NOT EXISTS portfolio_books (
    run_id              VARCHAR,
    bar_index           INTEGER,
    ts                  TIMESTAMP,
    cash                DECIMAL(38, 12),    -- including unallocated capital
    market_value        DECIMAL(38, 12),
    equity              DECIMAL(38, 12),
    unallocated_capital DECIMAL(38, 6)
);
