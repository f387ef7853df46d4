-- reads: walkforward_folds, strategy_equity
-- makes: walkforward_equity, the stitched out-of-sample equity of each strategy of a walk-forward:
--        its test runs' equity one after another (run_id, strategy_id, fold, bar_index within
--        the fold's test run, ts, equity as DECIMAL(38, 6)), each fold starting from the previous
--        fold's final equity
CREATE OR REPLACE VIEW walkforward_equity AS
SELECT f.run_id, f.strategy_id, f.fold, e.bar_index, e.ts, e.equity::DECIMAL(38, 6) AS equity
FROM walkforward_folds f
JOIN strategy_equity e ON e.run_id = f.test_run_id AND e.strategy_id = f.strategy_id;
