-- reads: portfolio_books
-- makes: a run's portfolio equity at its last bar (DECIMAL(38, 6); NULL without books)
--        (parameters: run_id)
SELECT arg_max(equity, bar_index)::DECIMAL(38, 6)
FROM portfolio_books
WHERE run_id = ?;
