-- reads: equity, runs (of run $run_id)
-- makes: the rows of portfolio_books for run $run_id
INSERT INTO portfolio_books
SELECT $run_id, e.bar_index, any_value(e.ts),
       sum(e.cash) + any_value(r.unallocated_capital),
       sum(e.market_value),
       sum(e.equity) + any_value(r.unallocated_capital),
       any_value(r.unallocated_capital)
FROM equity e
JOIN runs r ON r.run_id = e.run_id
WHERE e.run_id = $run_id
GROUP BY e.bar_index;
