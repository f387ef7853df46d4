-- reads: runs, portfolio_books, fills, trades
-- makes: the run_ids of finished runs written before their books (or trades) were kept as
--        tables: no portfolio_books rows, or fills but no trades (parameters: none)
SELECT run_id
FROM runs
WHERE status IN ('completed', 'failed')
  AND (run_id NOT IN (SELECT run_id FROM portfolio_books)
       OR run_id IN (SELECT run_id FROM fills) AND run_id NOT IN (SELECT run_id FROM trades));
