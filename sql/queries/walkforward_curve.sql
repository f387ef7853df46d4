-- reads: walkforward_equity, strategy_equity (held through equity)
-- makes: a walk-forward's stitched out-of-sample curve per strategy: strategy_id, fold, ts,
--        equity (DOUBLE) and whether the sleeve held a position, in time order (parameters: run_id)
SELECT w.strategy_id, w.fold, w.ts, w.equity::DOUBLE AS equity, e.held > 0 AS held
FROM walkforward_equity w
JOIN walkforward_folds f ON f.run_id = w.run_id AND f.strategy_id = w.strategy_id AND f.fold = w.fold
JOIN equity e ON e.run_id = f.test_run_id AND e.strategy_id = w.strategy_id AND e.bar_index = w.bar_index
WHERE w.run_id = ?
ORDER BY w.strategy_id, w.ts;
