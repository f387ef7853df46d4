-- reads: runs, run_clock
-- makes: the facts `sqlorch run` prints of a finished run: strategy_count, symbol_count,
--        bars_processed, and the first and last bar it stepped through (parameters: run_id)
SELECT r.strategy_count, r.symbol_count, r.bars_processed, min(c.ts) AS first, max(c.ts) AS last
FROM runs r
JOIN run_clock c USING (run_id)
WHERE run_id = ?
GROUP BY ALL;
