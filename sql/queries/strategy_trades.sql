-- reads: trades
-- makes: one strategy's round trips in a run, by entry bar and symbol, without run_id
--        (parameters: run_id, strategy_id)
SELECT * EXCLUDE (run_id)
FROM trades
WHERE run_id = ? AND strategy_id = ?
ORDER BY entry_bar, symbol;
