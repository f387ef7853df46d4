-- reads: strategy_equity, runs
-- makes: portfolio_equity, at the close of every bar: the sleeves summed plus unallocated cash
CREATE OR REPLACE VIEW portfolio_equity AS
SELECT e.run_id, e.bar_index, e.ts,
       sum(e.cash) + r.unallocated_capital AS cash,
       sum(e.market_value) AS market_value,
       sum(e.equity) + r.unallocated_capital AS equity,
       r.unallocated_capital
FROM strategy_equity e
JOIN runs r ON r.run_id = e.run_id
GROUP BY e.run_id, e.bar_index, e.ts, r.unallocated_capital;
