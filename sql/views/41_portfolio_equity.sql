-- reads: portfolio_books
-- makes: portfolio_equity, at the close of every bar: the sleeves summed plus unallocated cash
CREATE OR REPLACE VIEW portfolio_equity AS
SELECT run_id, bar_index, ts, cash, market_value, equity, unallocated_capital
FROM portfolio_books;
