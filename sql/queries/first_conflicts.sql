-- reads: conflicts
-- makes: the first ten conflicts of a run: ts, symbol, mode, strategies, standing, outcome
--        (parameters: run_id)
SELECT ts, symbol, mode, strategies, standing, outcome
FROM conflicts
WHERE run_id = ?
ORDER BY bar_index, conflict_id
LIMIT 10;
