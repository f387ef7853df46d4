-- reads: walkforward_folds, strategy_equity
-- makes: a walk-forward's in-sample curves: per strategy and fold, the chosen parameters' equity
--        over the train span that chose them (strategy_id, fold, ts, equity as DOUBLE), from the
--        starting capital (parameters: run_id)
SELECT f.strategy_id, f.fold, e.ts, e.equity::DOUBLE AS equity
FROM walkforward_folds f
JOIN strategy_equity e ON e.run_id = f.train_run_id
WHERE f.run_id = ?
ORDER BY f.strategy_id, f.fold, e.ts;
