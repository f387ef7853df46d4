-- reads: strategy_equity, portfolio_equity, run_strategies, runs
-- makes: equity_curves, every series of a run (each strategy_id, and 'portfolio') with the
--        capital it started from, one row per bar
CREATE OR REPLACE VIEW equity_curves AS
SELECT e.run_id, e.strategy_id AS series, e.bar_index, e.ts, e.equity, s.initial_capital
FROM strategy_equity e
JOIN run_strategies s ON s.run_id = e.run_id AND s.strategy_id = e.strategy_id
UNION ALL
SELECT p.run_id, 'portfolio' AS series, p.bar_index, p.ts, p.equity, r.initial_capital
FROM portfolio_equity p
JOIN runs r ON r.run_id = p.run_id;
